"""Clover's one webhook URL per app: the sandbox posts every merchant's updates to
``/webhooks/clover``, and each merchant's land in the inbox of its connection, in
whichever tenant, kept raw and deduplicated; other merchants' are answered 200."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from clover_harness import LOCATIONS, START, CloverWorld, clover_world
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.api import create_app
from salesync.clock import ManualClock
from salesync.domain.documents import Location, Tenant
from salesync.sandbox.server import free_port, serving
from salesync.store.database import make_engine, migrate, session_factory
from salesync.store.repositories import Connections, Locations, Tenants
from salesync.store.tables import InboxRecordRow
from salesync.store.vault import Vault, new_key

TENANTS = ("t-uptown", "t-harbor")
"""Each merchant belongs to another salesync tenant: the route finds them in any."""


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'salesync.db'}")
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()


def connect(db: sessionmaker[Session], vault: Vault, world: CloverWorld) -> list[str]:
    """One connection per merchant, each in its own tenant; their ids in merchant order."""
    made = []
    for index, tenant in enumerate(TENANTS):
        location = LOCATIONS[index]
        connection = world.connection(index)
        with db() as session, session.begin():
            Tenants(session).add(Tenant(tenant, location.name))
            Locations(session, tenant).add(
                Location(location.id, tenant, location.name, location.timezone, location.currency)
            )
            made.append(
                Connections(session, tenant, vault).add(
                    "clover",
                    "source",
                    location.name,
                    dict(connection.credentials),
                    {**connection.settings, "locations": {}, "default_location": location.id},
                )
            )
    return made


def kept(db: sessionmaker[Session], connection_id: str) -> list[InboxRecordRow]:
    """The connection's records, not counting repeats (kept as duplicates of these)."""
    with db() as session:
        return list(
            session.scalars(
                select(InboxRecordRow).where(
                    InboxRecordRow.connection_id == connection_id,
                    InboxRecordRow.duplicate_of.is_(None),
                )
            )
        )


def message(world: CloverWorld, merchants: dict[str, list[dict[str, Any]]]) -> bytes:
    return json.dumps({"appId": world.platform.app.id, "merchants": merchants}).encode()


def test_the_sandbox_posting_to_the_app_url_fills_each_merchants_inbox(
    db: sessionmaker[Session], tmp_path: Path
) -> None:
    """A day of trading at two merchants of two tenants, notified by the sandbox to the
    app's one URL over HTTP: every order each merchant created or changed is in its own
    connection's inbox and in no other, as the notification Clover sent."""
    vault = Vault([new_key()])
    with clover_world(seed=13) as world:
        uptown, harbor = connect(db, vault, world)
        port = free_port()
        world.platform.use_webhook_client(httpx.Client(timeout=10))
        world.platform.set_webhook_url(f"http://127.0.0.1:{port}/webhooks/clover")
        code = world.platform.app.verification_code
        assert code is not None
        auth = world.platform.verify(code)
        app = create_app(db, world.clock, vault, clover_auth_code=auth)
        with serving(app, port=port):
            world.trade(days=1, sales_per_day=4)
        for connection_id, merchant in zip((uptown, harbor), world.merchant_ids, strict=True):
            rows = kept(db, connection_id)
            notes = [json.loads(r.payload) for r in rows]
            assert {r.record_type for r in rows} == {"notification"}
            assert {n["merchant_id"] for n in notes} == {merchant}
            ordered = {n["objectId"] for n in notes if n["objectId"].startswith("O:")}
            assert ordered == {f"O:{o}" for o in world.platform.merchants[merchant].orders}
        assert {r.tenant_id for r in kept(db, uptown)} == {TENANTS[0]}


@pytest.fixture
def quiet(db: sessionmaker[Session]) -> Iterator[tuple[CloverWorld, TestClient, list[str]]]:
    """The two merchants connected, the API in process with the app's auth code."""
    vault = Vault([new_key()])
    with clover_world(seed=3) as world:
        connections = connect(db, vault, world)
        app = create_app(db, world.clock, vault, clover_auth_code=world.auth_code)
        with TestClient(app) as client:
            yield world, client, connections


def test_a_retried_message_is_a_duplicate_and_unknown_merchants_are_answered_200(
    db: sessionmaker[Session], quiet: tuple[CloverWorld, TestClient, list[str]]
) -> None:
    """The same message twice stores its updates once; a merchant no connection reads is
    named in the answer, which is still a 200 so Clover does not retry it."""
    world, client, (uptown, _) = quiet
    merchant = world.merchant_ids[0]
    body = message(
        world,
        {
            merchant: [{"objectId": "O:ABC", "type": "UPDATE", "ts": 1772430000000}],
            "NOBODY": [{"objectId": "O:XYZ", "type": "CREATE", "ts": 1772430000000}],
        },
    )
    headers = {"X-Clover-Auth": world.auth_code, "Content-Type": "application/json"}
    first = client.post("/webhooks/clover", content=body, headers=headers)
    again = client.post("/webhooks/clover", content=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json() | {"unknown_merchants": []} == {
        "status": "accepted",
        "records": 1,
        "duplicates": 0,
        "unknown_merchants": [],
    }
    assert first.json()["unknown_merchants"] == ["NOBODY"]
    assert again.json()["status"] == "duplicate"
    assert len(kept(db, uptown)) == 1


def test_the_per_connection_url_and_the_app_url_dedupe_together(
    db: sessionmaker[Session], quiet: tuple[CloverWorld, TestClient, list[str]]
) -> None:
    """An update that came to the connection's own URL first is a duplicate on the
    app's: both keep it under the same key."""
    world, client, (uptown, _) = quiet
    body = message(
        world, {world.merchant_ids[0]: [{"objectId": "C:K1", "type": "CREATE", "ts": 5}]}
    )
    headers = {"X-Clover-Auth": world.auth_code}
    own = client.post(f"/webhooks/{uptown}", content=body, headers=headers)
    shared = client.post("/webhooks/clover", content=body, headers=headers)
    assert own.status_code == shared.status_code == 200
    assert shared.json()["status"] == "duplicate"
    assert len(kept(db, uptown)) == 1


def test_a_wrong_code_is_refused_and_nothing_kept(
    db: sessionmaker[Session], quiet: tuple[CloverWorld, TestClient, list[str]]
) -> None:
    """A message without the app's auth code is a 401 and stores nothing."""
    world, client, (uptown, harbor) = quiet
    body = message(world, {world.merchant_ids[0]: [{"objectId": "O:1", "type": "CREATE", "ts": 1}]})
    forged = client.post("/webhooks/clover", content=body, headers={"X-Clover-Auth": "guess"})
    bare = client.post("/webhooks/clover", content=body)
    assert forged.status_code == bare.status_code == 401
    assert kept(db, uptown) == kept(db, harbor) == []


def test_the_verification_post_is_answered_and_an_unset_code_says_what_to_set(
    db: sessionmaker[Session],
) -> None:
    """Clover's verification POST gets a 200 (its code goes to the log); without the
    app's auth code configured, messages are a 404 naming the setting."""
    vault = Vault([new_key()])
    with TestClient(create_app(db, ManualClock(START), vault)) as client:
        verify = client.post("/webhooks/clover", json={"verificationCode": "abc"})
        unset = client.post(
            "/webhooks/clover", json={"appId": "A", "merchants": {}}, headers={"X-Clover-Auth": "x"}
        )
    assert verify.status_code == 200
    assert unset.status_code == 404
    assert "SALESYNC_CLOVER_WEBHOOK_AUTH_CODE" in unset.json()["message"]
