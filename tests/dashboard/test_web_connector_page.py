"""The Web Connector page of a QuickBooks Desktop connection: the owner sets its password
and downloads the .qwc file with the same session; who may not manage connections only
reads how it stands."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from salesync.accounts.passwords import verify_password
from salesync.store.tables import ConnectionRow, QbdCompanyFileRow

OWNER, BOOKKEEPER = "owner@harbor.example", "books@harbor.example"
PAGE = "/app/demo/connections/c-qbd/web-connector"
QWC = "/api/v1/tenants/demo/connections/c-qbd/web-connector.qwc"
PASSWORD = "a long Web Connector passphrase"  # noqa: S105 - the test's own credential

SignedIn = Callable[[str], TestClient]
Csrf = Callable[[TestClient, str], str]


@pytest.fixture
def desktop(db: sessionmaker[Session]) -> str:
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
    return "c-qbd"


def test_the_owner_sets_the_password_and_downloads_the_file(
    db: sessionmaker[Session], signed_in: SignedIn, csrf: Csrf, desktop: str
) -> None:
    """From the connections page to the Web Connector page, the password saved (hashed),
    then the .qwc file downloaded as an attachment."""
    browser = signed_in(OWNER)
    assert f'href="{PAGE}"' in browser.get("/app/demo/connections").text
    token = csrf(browser, PAGE)
    sent = browser.post(
        PAGE, data={"username": "harbor-books", "password": PASSWORD, "csrf_token": token}
    )
    assert sent.status_code == 303, sent.text
    shown = browser.get(PAGE)
    assert "harbor-books" in shown.text
    assert f'href="{QWC}"' in shown.text
    with db() as session:
        row = session.get(QbdCompanyFileRow, desktop)
        assert row is not None
        assert verify_password(PASSWORD, row.password_hash)
    browser.base_url = browser.base_url.copy_with(scheme="https")
    download = browser.get(QWC)
    assert download.status_code == 200, download.text
    assert "attachment" in download.headers["content-disposition"]
    assert "<UserName>harbor-books</UserName>" in download.text


def test_a_weak_password_is_shown_back_with_the_reason(
    signed_in: SignedIn, csrf: Csrf, desktop: str
) -> None:
    """The page comes back with what to fix, and nothing is saved."""
    browser = signed_in(OWNER)
    token = csrf(browser, PAGE)
    sent = browser.post(PAGE, data={"username": "u", "password": "short", "csrf_token": token})
    assert sent.status_code == 422
    assert 'role="alert"' in sent.text
    assert "Download the Web Connector file" not in sent.text


def test_a_bookkeeper_reads_the_page_but_has_no_form(signed_in: SignedIn, desktop: str) -> None:
    """Without the right to manage connections: no password form, and a post is refused."""
    browser = signed_in(BOOKKEEPER)
    page = browser.get(PAGE)
    assert page.status_code == 200
    assert 'name="password"' not in page.text
    refused = browser.post(PAGE, data={"username": "x", "password": PASSWORD})
    assert refused.status_code == 403
