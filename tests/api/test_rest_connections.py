"""The connections routes: a tenant's connections with status and health, never their
credentials, and the reconnect link when the merchant must sign in to the provider again;
and "sync now", which posts what waits for a sync window at once."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from callers import OTHER, Callers, opened
from hooksource import sales
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.connectors.registry import SourceRegistry
from salesync.connectors.tokens import RECONNECT
from salesync.engine.runner import Engine
from salesync.store import codec
from salesync.store.repositories import Connections, Journal
from salesync.store.tables import ConnectionRow
from salesync.store.vault import Vault

CONNECTIONS = "/api/v1/tenants/demo/connections"
SYNC_NOW = "/api/v1/tenants/demo/sync-now"
SECRET = "tok-SECRET-5e1b"  # noqa: S105 - a credential that must never be shown


@pytest.fixture
def api(
    db: sessionmaker[Session],
    clock: ManualClock,
    vault: Vault,
    registry: SourceRegistry,
) -> Iterator[Callers]:
    with opened(db, clock, vault, registry) as found:
        yield found


@pytest.fixture
def ids(db: sessionmaker[Session], vault: Vault, api: Callers) -> dict[str, str]:
    """Demo's shop (a source) and books (paused for reconnection), and beta's books."""
    with db() as session, session.begin():
        shop = Connections(session, "demo", vault).add(
            "hook", "source", "Shop", {"secret": SECRET}, {}
        )
        books = Connections(session, "demo", vault).add(
            "qbo", "destination", "Books", {"access_token": SECRET}, {"realm_id": "1"}
        )
        row = session.get(ConnectionRow, books)
        assert row is not None
        row.status = RECONNECT
        beta = Connections(session, OTHER, vault).add(
            "qbo", "destination", "Beta books", {"access_token": SECRET}, {}
        )
    return {"shop": shop, "books": books, "beta": beta}


def test_connections_show_status_health_and_the_reconnect_link(
    api: Callers, ids: dict[str, str]
) -> None:
    """The books paused for reconnection carry the reconnect path and need_reconnect
    health; the shop, nothing received yet, is idle with no link; no credential shows."""
    response = api.get("owner", CONNECTIONS)
    assert response.status_code == 200, response.text
    assert SECRET not in response.text
    shown = {c["id"]: c for c in response.json()["connections"]}
    assert set(shown) == {ids["shop"], ids["books"]}
    books, shop = shown[ids["books"]], shown[ids["shop"]]
    assert books["status"] == "reconnect"
    assert books["reconnect_url"] == f"/connections/{ids['books']}/reconnect"
    assert books["health"]["health"] == "needs_reconnect"
    assert shop["reconnect_url"] is None
    assert shop["health"]["health"] == "idle"
    assert (shop["provider"], shop["role"], shop["name"]) == ("hook", "source", "Shop")


def test_connections_filter_by_role_and_come_a_page_at_a_time(
    api: Callers, ids: dict[str, str]
) -> None:
    """``role`` keeps sources or books; ``limit=1`` pages through both by id."""
    sources = api.get("bookkeeper", CONNECTIONS, role="source").json()["connections"]
    assert [c["id"] for c in sources] == [ids["shop"]]
    first = api.get("bookkeeper", CONNECTIONS, limit="1").json()
    second = api.get("bookkeeper", CONNECTIONS, limit="1", cursor=first["next_cursor"]).json()
    assert [c["id"] for c in first["connections"] + second["connections"]] == sorted(
        [ids["shop"], ids["books"]]
    )
    assert second["next_cursor"] is None


def test_a_bad_role_filter_is_refused(api: Callers, ids: dict[str, str]) -> None:
    """A role that is neither source nor destination is a 400 listing both."""
    response = api.get("owner", CONNECTIONS, role="printer")
    assert response.status_code == 400
    assert "source, destination" in response.json()["message"]


def test_a_connection_is_read_by_id_within_its_tenant(api: Callers, ids: dict[str, str]) -> None:
    """Demo's connection by id; beta's id under demo is not found, even for an admin."""
    assert api.get("developer", f"{CONNECTIONS}/{ids['shop']}").json()["name"] == "Shop"
    missing = api.get("admin", f"{CONNECTIONS}/{ids['beta']}")
    assert missing.status_code == 404
    assert missing.json()["error"] == "unknown_connection"


@pytest.mark.parametrize(
    ("who", "status"),
    [("token", 200), ("owner", 200), ("bookkeeper", 200), ("tier1", 200), ("other_owner", 403)],
)
def test_who_may_see_connections(api: Callers, ids: dict[str, str], who: str, status: int) -> None:
    """Whoever may view the tenant sees its connections; another tenant's owner does not."""
    assert api.get(who, CONNECTIONS).status_code == status


def test_sync_now_posts_what_waits_for_a_window_and_says_so(
    api: Callers, db: sessionmaker[Session], clock: ManualClock
) -> None:
    """Sales received inside their sync window post on ``POST .../sync-now``, whose answer
    counts them; pressed again it posts nothing twice."""
    found = sales(1)
    engine = Engine(db, clock)
    for sale in found:
        engine.receive("demo", sale.source, sale.kind.value, json.dumps(codec.encode(sale)))
    engine.run_until_idle("demo")
    with db() as session:
        assert Journal(session, "demo").count() == 0
    first = api.send("bookkeeper", "POST", SYNC_NOW)
    assert first.status_code == 200, first.text
    report = first.json()
    assert report["released"] == len(found)
    assert report["posted"] >= 1
    assert (report["failed"], report["held"], report["waiting"]) == (0, 0, 0)
    with db() as session:
        posted = Journal(session, "demo").count()
    assert posted == report["posted"]
    again = api.send("owner", "POST", SYNC_NOW).json()
    assert (again["released"], again["posted"]) == (0, 0)


@pytest.mark.parametrize(
    ("who", "status"),
    [("developer", 403), ("other_owner", 403), ("tier1", 200), ("token", 200)],
)
def test_who_may_press_sync_now(api: Callers, who: str, status: int) -> None:
    """Sync now needs the right to edit mappings: a developer or another tenant's owner is
    refused, support and the tenant's token are let through."""
    assert api.send(who, "POST", SYNC_NOW).status_code == status
