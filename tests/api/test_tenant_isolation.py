"""Tenants never see each other: every route under a tenant, called with every kind of
credential that belongs elsewhere, refuses, and no answer carries another tenant's data.

The routes are read from the app itself, so a new tenant route is called here the day it
is added; ``KNOWN`` makes adding one a decision this file has to see, and names the action
the route must check, so each role is let through exactly where the permission grid says.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hooksource import MERCHANT, sales
from people import accounts_app, add_user, csrf_of, key_of, sign_in
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.accounts.roles import PERMISSIONS, Action, Reach, Role
from salesync.accounts.users import Users
from salesync.api.tokens import ApiTokens
from salesync.clock import ManualClock
from salesync.connectors.registry import SourceRegistry
from salesync.domain.documents import DocumentKind, Tenant, document_id
from salesync.domain.errors import ValidationError
from salesync.engine.incidents import Failure, IncidentLog
from salesync.engine.mappings import Mappings
from salesync.rules import mapping_to_dict, retail_default
from salesync.store.documents import Documents
from salesync.store.repositories import Connections, Locations, Tenants
from salesync.store.tables import TicketRow
from salesync.store.vault import Vault
from salesync.support.catalog import load_catalog
from salesync.support.invoices import bill_extra_time
from salesync.support.requests import SupportRequests
from salesync.support.subscriptions import Subscriptions

HOME, OTHER, NOWHERE = "demo", "beta", "omega"
MARKS = {HOME: "DEMO-ONLY-7f3a", OTHER: "BETA-ONLY-91c2"}
"""Words in each tenant's data: seeing one in an answer about the other is a leak."""
DAY = "2026-10-27"
"""The business day of each tenant's sale."""

TENANT = "/api/v1/tenants/{tenant_id}"
KNOWN: dict[tuple[str, str], Action] = {
    ("POST", TENANT + "/sales"): Action.ENTER_SALES,
    ("POST", TENANT + "/refunds"): Action.ENTER_SALES,
    ("GET", TENANT + "/tickets"): Action.VIEW_TICKETS,
    ("GET", TENANT + "/tickets/{ticket_id}"): Action.VIEW_TICKETS,
    ("GET", TENANT + "/measures"): Action.VIEW_TICKETS,
    ("GET", TENANT + "/notices"): Action.VIEW_TICKETS,
    ("GET", TENANT): Action.VIEW_TENANT,
    ("GET", TENANT + "/locations"): Action.VIEW_TENANT,
    ("GET", TENANT + "/locations/{location_id}"): Action.VIEW_TENANT,
    ("PUT", TENANT + "/locations/{location_id}/posting-mode"): Action.EDIT_MAPPINGS,
    ("GET", TENANT + "/connections"): Action.VIEW_TENANT,
    ("GET", TENANT + "/connections/{connection_id}"): Action.VIEW_TENANT,
    ("POST", TENANT + "/sync-now"): Action.EDIT_MAPPINGS,
    ("POST", TENANT + "/connections/authorizations"): Action.MANAGE_CONNECTIONS,
    ("GET", TENANT + "/sources"): Action.VIEW_TENANT,
    ("PUT", TENANT + "/connections/{connection_id}/web-connector"): Action.MANAGE_CONNECTIONS,
    ("GET", TENANT + "/connections/{connection_id}/web-connector"): Action.VIEW_TENANT,
    ("GET", TENANT + "/connections/{connection_id}/web-connector.qwc"): (Action.MANAGE_CONNECTIONS),
    ("GET", TENANT + "/policies"): Action.VIEW_TENANT,
    ("PUT", TENANT + "/policies/{source}/{kind}"): Action.EDIT_MAPPINGS,
    ("GET", TENANT + "/mappings"): Action.VIEW_TENANT,
    ("GET", TENANT + "/mappings/{version}"): Action.VIEW_TENANT,
    ("POST", TENANT + "/mappings"): Action.EDIT_MAPPINGS,
    ("POST", TENANT + "/mappings/rules"): Action.EDIT_MAPPINGS,
    ("GET", TENANT + "/runs"): Action.VIEW_TENANT,
    ("POST", TENANT + "/tickets/{ticket_id}/replay"): Action.REPLAY,
    ("POST", TENANT + "/tickets/{ticket_id}/retry"): Action.REPLAY,
    ("POST", TENANT + "/tickets/{ticket_id}/comment"): Action.ACT_ON_TICKETS,
    ("POST", TENANT + "/tickets/{ticket_id}/assign"): Action.ACT_ON_TICKETS,
    ("POST", TENANT + "/tickets/{ticket_id}/resolve"): Action.ACT_ON_TICKETS,
    ("POST", TENANT + "/tickets/{ticket_id}/close"): Action.ACT_ON_TICKETS,
    ("GET", TENANT + "/documents"): Action.VIEW_TENANT,
    ("GET", TENANT + "/documents/{document_id}"): Action.VIEW_TENANT,
    ("GET", TENANT + "/sales"): Action.VIEW_TENANT,
    ("GET", TENANT + "/reports/sales"): Action.VIEW_TENANT,
    ("GET", TENANT + "/reconciliation"): Action.VIEW_TENANT,
    ("GET", TENANT + "/reconciliation/{location_id}/{day}"): Action.VIEW_TENANT,
    ("POST", TENANT + "/tickets/{ticket_id}/wait"): Action.ACT_ON_TICKETS,
    ("POST", TENANT + "/tickets/{ticket_id}/replied"): Action.ACT_ON_TICKETS,
    ("GET", TENANT + "/plans"): Action.VIEW_BILLING,
    ("GET", TENANT + "/subscription"): Action.VIEW_BILLING,
    ("PUT", TENANT + "/subscription"): Action.BILLING,
    ("GET", TENANT + "/invoices"): Action.VIEW_BILLING,
    ("GET", TENANT + "/invoices/{invoice_id}"): Action.VIEW_BILLING,
    ("GET", TENANT + "/hours"): Action.VIEW_BILLING,
    ("POST", TENANT + "/hours/purchases"): Action.BILLING,
    ("POST", TENANT + "/tickets/{ticket_id}/time"): Action.LOG_TIME,
    ("GET", TENANT + "/requests"): Action.VIEW_TICKETS,
    ("POST", TENANT + "/requests"): Action.REQUEST_SUPPORT,
    ("GET", TENANT + "/requests/{request_id}"): Action.VIEW_TICKETS,
    ("GET", TENANT + "/crm/sales"): Action.VIEW_TENANT,
    ("GET", TENANT + "/crm/reports/sales"): Action.VIEW_TENANT,
    ("GET", TENANT + "/crm/clients"): Action.VIEW_TENANT,
    ("GET", TENANT + "/crm/triggers"): Action.VIEW_TENANT,
    ("GET", TENANT + "/crm/firings"): Action.VIEW_TENANT,
    ("POST", TENANT + "/crm/triggers"): Action.EDIT_MAPPINGS,
    ("PATCH", TENANT + "/crm/clients/{client_id}"): Action.ENTER_SALES,
    ("PUT", TENANT + "/crm/repairs/{reference}"): Action.ENTER_SALES,
}
"""Every tenant route this file has been reviewed against, and the action it needs."""
PARAMS = {
    "tenant_id",
    "ticket_id",
    "location_id",
    "connection_id",
    "version",
    "source",
    "kind",
    "document_id",
    "day",
    "invoice_id",
    "request_id",
    "client_id",
    "reference",
}
"""The path parameters this file knows how to fill."""
ROLES = {
    "tenant_token": Role.OWNER,
    "owner": Role.OWNER,
    "bookkeeper": Role.BOOKKEEPER,
    "tier1": Role.TIER1,
    "developer": Role.DEVELOPER,
    "admin": Role.ADMIN,
}
"""The role each credential acts with: a tenant's API token acts as its owner."""


@dataclass(frozen=True, slots=True)
class World:
    app: FastAPI
    tickets: dict[str, int]
    locations: dict[str, str]
    connections: dict[str, str]
    documents: dict[str, str]
    tenant_token: str
    keys: dict[str, str]
    requests: dict[str, int]
    invoices: dict[str, int]


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
    """Two tenants with a ticket, a location, a connection, a mapping and a sale each (all
    marked with the tenant's words), and a credential of every kind."""
    home = MERCHANT.locations[0]
    places = {
        HOME: home,
        OTHER: replace(home, id="beta-store", tenant_id=OTHER, name=f"Store {MARKS[OTHER]}"),
    }
    locations = {tenant: place.id for tenant, place in places.items()}
    sale = sales(1)[0]
    documents = {}
    with db() as session, session.begin():
        Tenants(session).add(Tenant(OTHER, "Beta"))
        Locations(session, OTHER).add(places[OTHER])
        for tenant, place in places.items():
            external = f"S-{MARKS[tenant]}"
            documents[tenant] = document_id(tenant, sale.source, DocumentKind.SALE, external)
            marked = replace(
                sale,
                id=documents[tenant],
                tenant_id=tenant,
                location_id=place.id,
                external_id=external,
            )
            Documents(session, tenant).add(marked, place, now=clock())
        tickets = {tenant: _ticket(session, clock, tenant) for tenant in (HOME, OTHER)}
        catalog = load_catalog("tiered")
        requests, invoices = {}, {}
        for tenant in (HOME, OTHER):
            Subscriptions(session, catalog).subscribe(tenant, "platinum", clock(), actor="tests")
            asked = SupportRequests(session, catalog, public_url="http://x.test").open(
                tenant,
                channel="api",
                sender="owner@example.com",
                subject=f"Please reinstall the web connector {MARKS[tenant]}",
                body="",
                at=clock(),
            )
            requests[tenant] = asked.id
            invoices[tenant] = bill_extra_time(
                session, catalog, tenant, 1, clock(), MARKS[tenant], f"k-{tenant}"
            ).id
        connections = {
            tenant: Connections(session, tenant, vault).add(
                "qbo", "destination", f"Books {MARKS[tenant]}", {"access_token": "a"}, {}
            )
            for tenant in (HOME, OTHER)
        }
        for tenant in (HOME, OTHER):
            mapping = mapping_to_dict(retail_default())
            mapping["accounts"]["bank"] = f"Assets:Bank-{MARKS[tenant]}"
            Mappings(session, tenant).publish_data(mapping, clock(), by="tests")
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
    app = accounts_app(db, clock, vault, registry)
    return World(
        app, tickets, locations, connections, documents, tenant_token, keys, requests, invoices
    )


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(world.app, raise_server_exceptions=False) as running:
        yield running


def tenant_routes(app: FastAPI) -> set[tuple[str, str]]:
    """The JSON API's routes under a tenant (the dashboard's pages, which answer in HTML
    and send a browser to sign in, are tried in tests/dashboard)."""
    return {
        (method, route.path)
        for route in app.routes
        if isinstance(route, APIRoute)
        and route.path.startswith("/api/")
        and "{tenant_id}" in route.path
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
    """Call a tenant route for ``tenant_id``; a ticket, location or connection in the path
    is always the *other* tenant's, so a route that forgot its scope would show it."""
    other = HOME if tenant_id == OTHER else OTHER
    url = path.format(
        tenant_id=tenant_id,
        ticket_id=world.tickets[other],
        location_id=world.locations[other],
        connection_id=world.connections[other],
        version=1,
        source="*",
        kind="sale",
        document_id=world.documents[other],
        day=DAY,
        invoice_id=world.invoices[other],
        request_id=world.requests[other],
        client_id="1",
        reference="R-1",
    )
    if path.endswith(("/reports/sales", "/reconciliation")):
        url += f"?from={DAY}&to={DAY}"
    sent = client.request(method, url, headers=headers or {}, json={})
    return sent.status_code, sent.text


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_every_tenant_route_is_known_here(world: World) -> None:
    """A tenant route added to the app fails this test until it is reviewed here (add it
    to KNOWN; the tests below already call it)."""
    found = tenant_routes(world.app)
    assert found == set(KNOWN), f"new: {found - set(KNOWN)}, gone: {set(KNOWN) - found}"
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


def allowed(credential: str, method: str, path: str, tenant_id: str) -> bool:
    """Whether the permission grid lets ``credential`` use the route in ``tenant_id``."""
    reach = PERMISSIONS[KNOWN[method, path]][ROLES[credential]]
    return reach is Reach.ANY or (reach is Reach.OWN and tenant_id == HOME)


def assert_judged(credential: str, method: str, path: str, status: int, text: str) -> None:
    """Let through where the grid allows the route's action, else refused as not allowed."""
    if allowed(credential, method, path, HOME):
        assert status not in {401, 403}, (credential, method, path, text)
    else:
        assert status == 403, (credential, method, path, text)
        assert '"not_allowed"' in text, (credential, method, path, text)


@pytest.mark.parametrize("credential", ["tenant_token", "owner", "bookkeeper"])
def test_a_tenants_own_credentials_open_its_own_routes(
    client: TestClient, world: World, credential: str
) -> None:
    """The same credentials are let through on demo's own routes where their role may take
    the route's action (refused as not allowed elsewhere), and see only demo."""
    secret = world.tenant_token if credential == "tenant_token" else world.keys[credential]
    for method, path in sorted(tenant_routes(world.app)):
        status, text = call(client, world, method, path, HOME, bearer(secret))
        assert_judged(credential, method, path, status, text)
        assert MARKS[OTHER] not in text
    status, text = call(
        client, world, "GET", "/api/v1/tenants/{tenant_id}/tickets", HOME, bearer(secret)
    )
    assert status == 200
    assert MARKS[HOME] in text


def test_a_signed_in_owner_changes_only_with_the_csrf_token(
    client: TestClient, world: World
) -> None:
    """With the dashboard cookie, demo's owner reads its routes, and every change the owner
    may make is refused without the page's CSRF token and let through with it."""
    assert sign_in(client, "owner@example.com") == 303
    token = csrf_of(client.get("/account").text)
    for method, path in sorted(tenant_routes(world.app)):
        status, text = call(client, world, method, path, HOME)
        if method == "GET":
            assert_judged("owner", method, path, status, text)
            continue
        assert status == 403, (method, path, text)
        if allowed("owner", method, path, HOME):
            assert '"csrf"' in text, (method, path, text)
            status, text = call(client, world, method, path, HOME, {"X-CSRF-Token": token})
            assert status not in {401, 403}, (method, path, text)
        assert MARKS[OTHER] not in text


@pytest.mark.parametrize("credential", ["tier1", "developer", "admin"])
def test_staff_reach_any_tenant_but_only_that_tenants_data(
    client: TestClient, world: World, credential: str
) -> None:
    """Staff keys pass on every tenant's routes whose action their role may take (and are
    refused as not allowed on the others), see that tenant's data and no other's (an id of
    another tenant is not found), and get 404 for a tenant that does not exist."""
    secret = world.keys[credential]
    for tenant in (HOME, OTHER):
        other = HOME if tenant == OTHER else OTHER
        for method, path in sorted(tenant_routes(world.app)):
            status, text = call(client, world, method, path, tenant, bearer(secret))
            assert_judged(credential, method, path, status, text)
            assert MARKS[other] not in text, (credential, method, path)
            status, _ = call(client, world, method, path, NOWHERE, bearer(secret))
            assert status == 404, (credential, method, path)
        status, text = call(
            client, world, "GET", "/api/v1/tenants/{tenant_id}/tickets", tenant, bearer(secret)
        )
        assert status == 200
        assert MARKS[tenant] in text
