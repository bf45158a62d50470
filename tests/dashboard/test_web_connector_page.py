"""The connections page offers a QuickBooks Desktop connection's .qwc file, which the
signed-in owner downloads with the same session."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from salesync.accounts.passwords import Cost
from salesync.connectors.qbd.companies import QbdCompanies
from salesync.store.tables import ConnectionRow

OWNER = "owner@harbor.example"


def test_the_owner_downloads_the_qwc_file_from_the_connections_page(
    db: sessionmaker[Session], signed_in: Callable[[str], TestClient]
) -> None:
    """The link sits beside the Desktop books and answers the file, as an attachment."""
    with db() as session, session.begin():
        session.add(
            ConnectionRow(
                id="c-qbd",
                tenant_id="demo",
                provider="qbd",
                role="destination",
                name="QuickBooks Desktop",
                credentials=b"",
            )
        )
        session.flush()
        QbdCompanies(session, Cost(n=2**10)).register(
            "demo", "c-qbd", "harbor-books", "a long Web Connector passphrase"
        )
    browser = signed_in(OWNER)
    page = browser.get("/app/demo/connections")
    link = "/api/v1/tenants/demo/connections/c-qbd/web-connector.qwc"
    assert f'href="{link}"' in page.text
    browser.base_url = browser.base_url.copy_with(scheme="https")
    download = browser.get(link)
    assert download.status_code == 200, download.text
    assert "attachment" in download.headers["content-disposition"]
    assert "<UserName>harbor-books</UserName>" in download.text
