"""API fixtures: the demo merchant, a webhook source signed with HMAC, and the app."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from hooksource import MERCHANT, NOW, SHOP_KEY, Hooks, HookSource
from sqlalchemy.orm import Session, sessionmaker

from salesync.api import create_app
from salesync.api.tokens import ApiTokens
from salesync.clock import ManualClock
from salesync.connectors.registry import SourceRegistry
from salesync.store.repositories import Connections, Locations, Tenants
from salesync.store.vault import Vault, new_key


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def vault() -> Vault:
    return Vault([new_key()])


@pytest.fixture
def registry() -> SourceRegistry:
    found = SourceRegistry(points=[])
    found.add(HookSource())
    return found


@pytest.fixture
def db(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    """The database with the demo merchant and its two locations."""
    with factory() as session, session.begin():
        Tenants(session).add(MERCHANT.tenant)
        for location in MERCHANT.locations:
            Locations(session, MERCHANT.tenant.id).add(location)
    return factory


@pytest.fixture
def connection_id(db: sessionmaker[Session], vault: Vault) -> str:
    with db() as session, session.begin():
        return Connections(session, "demo", vault).add(
            HookSource.name, "source", "Test shop", {"secret": SHOP_KEY}, {}
        )


@pytest.fixture
def client(
    db: sessionmaker[Session], clock: ManualClock, vault: Vault, registry: SourceRegistry
) -> Iterator[TestClient]:
    app = create_app(db, clock, vault, registry=registry, max_body_bytes=64 * 1024)
    with TestClient(app, raise_server_exceptions=False) as running:
        yield running


@pytest.fixture
def hooks(client: TestClient, connection_id: str, clock: ManualClock) -> Hooks:
    return Hooks(client, connection_id, clock)


@pytest.fixture
def token(db: sessionmaker[Session], clock: ManualClock) -> Callable[[str], str]:
    """Issues an API token for a tenant and returns its secret."""

    def issue(tenant_id: str = "demo") -> str:
        with db() as session, session.begin():
            return ApiTokens(session, tenant_id, clock).issue("tests")[1]

    return issue
