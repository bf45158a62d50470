"""The Web Connector of a QuickBooks Desktop connection through the REST API: password
set up, its standing, the .qwc file to download, and the SOAP endpoint the file names."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from callers import OTHER, Callers, opened
from lxml import etree
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.connectors.qbd.soap import ENVELOPE
from salesync.connectors.qbd.wsdl import NAMESPACE
from salesync.connectors.registry import SourceRegistry
from salesync.store.repositories import Connections
from salesync.store.vault import Vault

PASSWORD = "a long Web Connector passphrase"  # noqa: S105 - the test's own credential


@pytest.fixture
def api(
    db: sessionmaker[Session], clock: ManualClock, vault: Vault, registry: SourceRegistry
) -> Iterator[Callers]:
    with opened(db, clock, vault, registry) as found:
        yield found


@pytest.fixture
def books(db: sessionmaker[Session], vault: Vault, api: Callers) -> dict[str, str]:
    """Demo's QuickBooks Desktop books, demo's Online books and beta's Desktop books."""
    with db() as session, session.begin():
        desktop = Connections(session, "demo", vault).add(
            "qbd", "destination", "Desktop books", {}, {"run_every_minutes": "30"}
        )
        online = Connections(session, "demo", vault).add(
            "qbo", "destination", "Online books", {}, {"realm_id": "1"}
        )
        beta = Connections(session, OTHER, vault).add("qbd", "destination", "Beta books", {}, {})
    return {"desktop": desktop, "online": online, "beta": beta}


def path(connection_id: str, tenant: str = "demo") -> str:
    return f"/api/v1/tenants/{tenant}/connections/{connection_id}/web-connector"


def set_up(api: Callers, connection_id: str, who: str = "owner") -> int:
    body = {"username": "harbor-books", "password": PASSWORD}
    return api.send(who, "PUT", path(connection_id), body).status_code


def test_the_owner_sets_up_the_password_and_sees_the_standing(
    api: Callers, books: dict[str, str]
) -> None:
    """The answer names the user and the .qwc identifiers, never the password."""
    response = api.send(
        "owner", "PUT", path(books["desktop"]), {"username": "harbor-books", "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    assert PASSWORD not in response.text
    shown = api.get("owner", path(books["desktop"])).json()
    assert shown["username"] == "harbor-books"
    assert shown["file_id"].startswith("{")
    assert shown["last_checkin_at"] is None


def test_who_may_not_manage_connections_cannot_set_it_up(
    api: Callers, books: dict[str, str]
) -> None:
    """A bookkeeper may not set the Web Connector's password."""
    assert set_up(api, books["desktop"], "bookkeeper") == 403


def test_only_the_tenants_own_desktop_books_have_a_web_connector(
    api: Callers, books: dict[str, str]
) -> None:
    """Online books, another tenant's books and a connection not yet set up: 404."""
    assert set_up(api, books["online"]) == 404
    assert set_up(api, books["beta"]) == 404
    missing = api.get("owner", path(books["desktop"]))
    assert missing.status_code == 404
    assert missing.json()["error"] == "web_connector_not_set_up"


def test_a_weak_password_and_a_taken_user_name_are_refused(
    api: Callers, books: dict[str, str], db: sessionmaker[Session], vault: Vault
) -> None:
    """The password policy applies; a user name finds one company file only."""
    weak = api.send("owner", "PUT", path(books["desktop"]), {"username": "u", "password": "x"})
    assert weak.status_code == 422
    assert weak.json()["error"] == "weak_password"
    assert set_up(api, books["desktop"]) == 200
    with db() as session, session.begin():
        other = Connections(session, "demo", vault).add("qbd", "destination", "Second", {}, {})
    assert set_up(api, other) == 409


def test_the_qwc_file_names_this_servers_endpoint_over_https(
    api: Callers, books: dict[str, str]
) -> None:
    """Downloaded as an attachment: AppURL /qbwc on the host called, the user, the GUIDs
    and the connection's schedule; no password."""
    assert set_up(api, books["desktop"]) == 200
    url = "https://books.example.com" + path(books["desktop"]) + ".qwc"
    response = api.client.get(url, headers=api.headers("owner"))
    assert response.status_code == 200, response.text
    assert "attachment" in response.headers["content-disposition"]
    qwc = etree.fromstring(response.content)
    assert qwc.findtext("AppURL") == "https://books.example.com/qbwc"
    assert qwc.findtext("AppSupport") == "https://books.example.com/help"
    assert qwc.findtext("UserName") == "harbor-books"
    assert qwc.findtext("Scheduler/RunEveryNMinutes") == "30"
    assert qwc.findtext("QBType") == "QBFS"
    assert PASSWORD not in response.text


def test_a_qwc_file_over_plain_http_is_refused_with_the_fix(
    api: Callers, books: dict[str, str]
) -> None:
    """The Web Connector reaches only HTTPS (or localhost): the answer says so."""
    assert set_up(api, books["desktop"]) == 200
    response = api.get("owner", path(books["desktop"]) + ".qwc")
    assert response.status_code == 409
    assert "HTTPS" in response.json()["message"]


def test_the_app_answers_the_web_connector_at_qbwc(api: Callers, books: dict[str, str]) -> None:
    """The endpoint the .qwc names signs the Web Connector in; nothing queued: "none"."""
    assert set_up(api, books["desktop"]) == 200
    envelope = (
        f'<soap:Envelope xmlns:soap="{ENVELOPE}"><soap:Body>'
        f'<authenticate xmlns="{NAMESPACE}"><strUserName>harbor-books</strUserName>'
        f"<strPassword>{PASSWORD}</strPassword></authenticate></soap:Body></soap:Envelope>"
    )
    response = api.client.post("/qbwc", content=envelope, headers={"content-type": "text/xml"})
    assert response.status_code == 200, response.text
    strings = etree.fromstring(response.content).findall(f".//{{{NAMESPACE}}}string")
    assert [s.text for s in strings][1] == "none"
    assert api.client.get("/qbwc?wsdl").status_code == 200
