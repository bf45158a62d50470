"""Tenants never see each other: every route under a tenant, called with every kind of
credential that belongs elsewhere, refuses, and no answer carries another tenant's data.

The routes are read from the app itself, so a new tenant route is called here the day it
is added; ``KNOWN`` makes adding one a decision this file has to see.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from people import accounts_app, add_user, key_of, sign_in
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.accounts.roles import Role
from salesync.accounts.users import Users
from salesync.api.tokens import ApiTokens
from salesync.clock import ManualClock
from salesync.connectors.registry import SourceRegistry
from salesync.domain.documents import Tenant
from salesync.domain.errors import ValidationError
from salesync.engine.incidents import Failure, IncidentLog
from salesync.store.repositories import Tenants
from salesync.store.tables import TicketRow
from salesync.store.vault import Vault

HOME, OTHER, NOWHERE = "demo", "beta", "omega"
MARKS = {HOME: "DEMO-ONLY-7f3a", OTHER: "BETA-ONLY-91c2"}
"""Words in each tenant's ticket: seeing one in an answer about the other is a leak."""

KNOWN = {
    ("POST", "/api/v1/tenants/{tenant_id}/sales"),
    ("POST", "/api/v1/tenants/{tenant_id}/refunds"),
    ("GET", "/api/v1/tenants/{tenant_id}/tickets"),
    ("GET", "/api/v1/tenants/{tenant_id}/tickets/{ticket_id}"),
    ("GET", "/api/v1/tenants/{tenant_id}/measures"),
    ("GET", "/api/v1/tenants/{tenant_id}/notices"),
}
"""Every tenant route this file has been reviewed against."""
PARAMS = {"tenant_id", "ticket_id"}
"""The path parameters this file knows how to fill."""


@dataclass(frozen=True, slots=True)
class World:
    app: FastAPI
    tickets: dict[str, int]
    tenant_token: str
    keys: dict[str, str]


def _ticket(session: Session, clock: ManualClock, tenant_id: str) -> int:
    IncidentLog(clock).record(
        session,
        tenant_id,
        Failure(
            error=ValidationError(
                f"order record quarantined {MARKS[tenant_id]}",
                user_message=f"Order {MARKS[tenant_id]} does not add up.",
                code="unbalanced",
                provider="hook",
                operation="intake:order",
            ),
            stage="engine",
            subject=f"record:{MARKS[tenant_id]}",
            failed_at=clock(),
            replay={"record": 1},
        ),
    )
    session.flush()
    return session.scalars(select(TicketRow.id).where(TicketRow.tenant_id == tenant_id)).one()


@pytest.fixture
def world(
    db: sessionmaker[Session], clock: ManualClock, vault: Vault, registry: SourceRegistry
) -> World:
    """Two tenants with a ticket each, and a credential of every kind."""
    with db() as session, session.begin():
        Tenants(session).add(Tenant(OTHER, "Beta"))
        tickets = {tenant: _ticket(session, clock, tenant) for tenant in (HOME, OTHER)}
        tenant_token = ApiTokens(session, HOME, clock).issue("tests")[1]
        revoked, old = ApiTokens(session, HOME, clock).issue("old")
        ApiTokens(session, HOME, clock).revoke(revoked.id)
    people = {
        "owner": (Role.OWNER, HOME),
        "bookkeeper": (Role.BOOKKEEPER, HOME),
        "other_owner": (Role.OWNER, OTHER),
        "tier1": (Role.TIER1, None),
        "developer": (Role.DEVELOPER, None),
        "admin": (Role.ADMIN, None),
        "disabled": (Role.ADMIN, None),
    }
    keys = {
        name: key_of(db, clock, add_user(db, clock, f"{name}@example.com", role, tenant))
        for name, (role, tenant) in people.items()
    }
    keys["revoked_tenant_token"] = old
    with db() as session, session.begin():
        Users(session, clock).disable("disabled@example.com")
    return World(accounts_app(db, clock, vault, registry), tickets, tenant_token, keys)


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(world.app, raise_server_exceptions=False) as running:
        yield running


def tenant_routes(app: FastAPI) -> set[tuple[str, str]]:
    return {
        (method, route.path)
        for route in app.routes
        if isinstance(route, APIRoute) and "{tenant_id}" in route.path
        for method in route.methods
    }


def call(
    client: TestClient,
    world: World,
    method: str,
    path: str,
    tenant_id: str,
    headers: dict[str, str] | None = None,
) -> tuple[int, str]:
    """Call a tenant route for ``tenant_id``; a ticket id in the path is always the
    *other* tenant's, so a route that forgot its scope would show it."""
    other = HOME if tenant_id == OTHER else OTHER
    url = path.format(tenant_id=tenant_id, ticket_id=world.tickets[other])
    sent = client.request(method, url, headers=headers or {}, json={})
    return sent.status_code, sent.text


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_every_tenant_route_is_known_here(world: World) -> None:
    """A tenant route added to the app fails this test until it is reviewed here (add it
    to KNOWN; the tests below already call it)."""
    found = tenant_routes(world.app)
    assert found == KNOWN, f"new: {found - KNOWN}, gone: {KNOWN - found}"
    for _, path in found:
        assert set(re.findall(r"{(\w+)}", path)) <= PARAMS, path


def test_without_credentials_every_tenant_route_is_401(client: TestClient, world: World) -> None:
    """No header, a malformed one, a revoked tenant token or a disabled user's key: 401."""
    for method, path in sorted(tenant_routes(world.app)):
        for headers in (
            None,
            {"Authorization": "Basic b3duZXI6cHc="},
            bearer("ssk_never-issued"),
            bearer(world.keys["revoked_tenant_token"]),
            bearer(world.keys["disabled"]),
        ):
            status, text = call(client, world, method, path, HOME, headers)
            assert status == 401, (method, path, headers, text)
            assert MARKS[HOME] not in text


@pytest.mark.parametrize("credential", ["tenant_token", "owner", "bookkeeper"])
def test_a_tenants_credentials_open_no_other_tenant(
    client: TestClient, world: World, credential: str
) -> None:
    """Demo's tenant token, owner and bookkeeper get 403 for beta, 404 for a tenant that
    does not exist, and never a word of either's data."""
    secret = world.tenant_token if credential == "tenant_token" else world.keys[credential]
    for method, path in sorted(tenant_routes(world.app)):
        for tenant, refused in ((OTHER, 403), (NOWHERE, 404)):
            status, text = call(client, world, method, path, tenant, bearer(secret))
            assert status == refused, (credential, method, path, tenant, text)
            assert MARKS[OTHER] not in text
            assert MARKS[HOME] not in text


def test_a_signed_in_merchant_opens_no_other_tenant(client: TestClient, world: World) -> None:
    """Demo's owner, signed in with the dashboard cookie, is refused every beta route."""
    assert sign_in(client, "owner@example.com") == 303
    for method, path in sorted(tenant_routes(world.app)):
        status, text = call(client, world, method, path, OTHER)
        assert status in {401, 403}, (method, path, text)
        assert MARKS[OTHER] not in text


@pytest.mark.parametrize("credential", ["tenant_token", "owner", "bookkeeper"])
def test_a_tenants_own_credentials_open_its_own_routes(
    client: TestClient, world: World, credential: str
) -> None:
    """The same credentials are let through on demo's own routes, and see only demo."""
    secret = world.tenant_token if credential == "tenant_token" else world.keys[credential]
    for method, path in sorted(tenant_routes(world.app)):
        status, text = call(client, world, method, path, HOME, bearer(secret))
        assert status not in {401, 403}, (credential, method, path, text)
        assert MARKS[OTHER] not in text
    status, text = call(
        client, world, "GET", "/api/v1/tenants/{tenant_id}/tickets", HOME, bearer(secret)
    )
    assert status == 200
    assert MARKS[HOME] in text


@pytest.mark.parametrize("credential", ["tier1", "developer", "admin"])
def test_staff_reach_any_tenant_but_only_that_tenants_data(
    client: TestClient, world: World, credential: str
) -> None:
    """Staff keys pass on every tenant's routes, see that tenant's data and no other's
    (a ticket id of another tenant is not found), and get 404 for a tenant that does not
    exist."""
    secret = world.keys[credential]
    for tenant in (HOME, OTHER):
        other = HOME if tenant == OTHER else OTHER
        for method, path in sorted(tenant_routes(world.app)):
            status, text = call(client, world, method, path, tenant, bearer(secret))
            assert status not in {401, 403}, (credential, method, path, text)
            assert MARKS[other] not in text, (credential, method, path)
            status, _ = call(client, world, method, path, NOWHERE, bearer(secret))
            assert status == 404, (credential, method, path)
        status, text = call(
            client, world, "GET", "/api/v1/tenants/{tenant_id}/tickets", tenant, bearer(secret)
        )
        assert status == 200
        assert MARKS[tenant] in text
