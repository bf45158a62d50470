"""The API against its own OpenAPI document: every operation, fed requests generated from
that document (valid and invalid), answers without a server error, with a status code and
a body the document declares, and every JSON refusal in the API's error shape."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hooksource import MERCHANT, sales
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from people import add_user, key_of
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
)
from sqlalchemy.orm import Session, sessionmaker

from salesync.accounts.roles import Role
from salesync.api import create_app
from salesync.api.reconnect import OAuthApp, Reconnect
from salesync.clock import ManualClock
from salesync.connectors.registry import SourceRegistry
from salesync.connectors.tokens import OAuthRefresher, TokenManager
from salesync.domain.errors import MappingError
from salesync.engine.incidents import Failure, IncidentLog
from salesync.engine.mappings import Mappings
from salesync.engine.runs import recorded
from salesync.rules import retail_default
from salesync.store.documents import Documents
from salesync.store.repositories import Connections
from salesync.store.vault import Vault

OPERATIONS = (
    ("POST", "/webhooks/clover"),
    ("POST", "/webhooks/{connection_id}"),
    ("POST", "/api/v1/tenants/{tenant_id}/sales"),
    ("POST", "/api/v1/tenants/{tenant_id}/refunds"),
    ("GET", "/metrics"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/api/v1/tenants/{tenant_id}/tickets"),
    ("GET", "/api/v1/tenants/{tenant_id}/tickets/{ticket_id}"),
    ("GET", "/api/v1/tenants/{tenant_id}/measures"),
    ("GET", "/api/v1/tenants/{tenant_id}/notices"),
    ("GET", "/connections/{connection_id}/reconnect"),
    ("GET", "/oauth/callback"),
    ("GET", "/api/v1/me"),
    ("GET", "/api/v1/tenants"),
    ("GET", "/api/v1/tenants/{tenant_id}"),
    ("GET", "/api/v1/tenants/{tenant_id}/locations"),
    ("GET", "/api/v1/tenants/{tenant_id}/locations/{location_id}"),
    ("PUT", "/api/v1/tenants/{tenant_id}/locations/{location_id}/posting-mode"),
    ("GET", "/api/v1/tenants/{tenant_id}/connections"),
    ("GET", "/api/v1/tenants/{tenant_id}/connections/{connection_id}"),
    ("POST", "/api/v1/tenants/{tenant_id}/sync-now"),
    ("POST", "/api/v1/tenants/{tenant_id}/connections/authorizations"),
    ("GET", "/api/v1/tenants/{tenant_id}/sources"),
    ("PUT", "/api/v1/tenants/{tenant_id}/connections/{connection_id}/web-connector"),
    ("GET", "/api/v1/tenants/{tenant_id}/connections/{connection_id}/web-connector"),
    ("GET", "/api/v1/tenants/{tenant_id}/connections/{connection_id}/web-connector.qwc"),
    ("GET", "/api/v1/tenants/{tenant_id}/policies"),
    ("PUT", "/api/v1/tenants/{tenant_id}/policies/{source}/{kind}"),
    ("GET", "/api/v1/tenants/{tenant_id}/mappings"),
    ("GET", "/api/v1/tenants/{tenant_id}/mappings/{version}"),
    ("POST", "/api/v1/tenants/{tenant_id}/mappings"),
    ("POST", "/api/v1/tenants/{tenant_id}/mappings/rules"),
    ("GET", "/api/v1/tenants/{tenant_id}/runs"),
    ("POST", "/api/v1/tenants/{tenant_id}/tickets/{ticket_id}/replay"),
    ("POST", "/api/v1/tenants/{tenant_id}/tickets/{ticket_id}/retry"),
    ("POST", "/api/v1/tenants/{tenant_id}/tickets/{ticket_id}/comment"),
    ("POST", "/api/v1/tenants/{tenant_id}/tickets/{ticket_id}/assign"),
    ("POST", "/api/v1/tenants/{tenant_id}/tickets/{ticket_id}/resolve"),
    ("POST", "/api/v1/tenants/{tenant_id}/tickets/{ticket_id}/close"),
    ("GET", "/api/v1/tenants/{tenant_id}/documents"),
    ("GET", "/api/v1/tenants/{tenant_id}/documents/{document_id}"),
    ("GET", "/api/v1/tenants/{tenant_id}/sales"),
    ("GET", "/api/v1/tenants/{tenant_id}/reports/sales"),
    ("GET", "/api/v1/tenants/{tenant_id}/crm/sales"),
    ("GET", "/api/v1/tenants/{tenant_id}/crm/reports/sales"),
    ("GET", "/api/v1/tenants/{tenant_id}/crm/clients"),
    ("GET", "/api/v1/tenants/{tenant_id}/crm/triggers"),
    ("POST", "/api/v1/tenants/{tenant_id}/crm/triggers"),
    ("GET", "/api/v1/tenants/{tenant_id}/crm/firings"),
    ("PUT", "/api/v1/tenants/{tenant_id}/crm/repairs/{reference}"),
    ("PATCH", "/api/v1/tenants/{tenant_id}/crm/clients/{client_id}"),
    ("GET", "/api/v1/tenants/{tenant_id}/reconciliation"),
    ("GET", "/api/v1/tenants/{tenant_id}/reconciliation/{location_id}/{day}"),
    ("POST", "/api/v1/tenants/{tenant_id}/tickets/{ticket_id}/wait"),
    ("POST", "/api/v1/tenants/{tenant_id}/tickets/{ticket_id}/replied"),
    ("GET", "/api/v1/tenants/{tenant_id}/plans"),
    ("GET", "/api/v1/tenants/{tenant_id}/subscription"),
    ("PUT", "/api/v1/tenants/{tenant_id}/subscription"),
    ("GET", "/api/v1/tenants/{tenant_id}/invoices"),
    ("GET", "/api/v1/tenants/{tenant_id}/invoices/{invoice_id}"),
    ("GET", "/api/v1/tenants/{tenant_id}/hours"),
    ("POST", "/api/v1/tenants/{tenant_id}/hours/purchases"),
    ("POST", "/api/v1/tenants/{tenant_id}/tickets/{ticket_id}/time"),
    ("GET", "/api/v1/tenants/{tenant_id}/requests"),
    ("POST", "/api/v1/tenants/{tenant_id}/requests"),
    ("GET", "/api/v1/tenants/{tenant_id}/requests/{request_id}"),
    ("GET", "/api/v1/help"),
    ("GET", "/api/v1/help/{slug}"),
)
EXAMPLES = 25
"""Cases per operation: enough to reach every branch the parameters open, while the whole
file runs in well under a minute."""
BOOKS = "http://books.invalid"


@dataclass(frozen=True)
class Api:
    """The app's OpenAPI document loaded for generation, and what generated cases need to
    get past authentication and reach real data (an admin's key opens every route)."""

    schema: Any
    secret: str
    source_connection: str
    books_connection: str
    ticket: int
    document: str


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """A SQLite database only: generation explores the API, not the database engines."""
    return f"sqlite:///{tmp_path / 'salesync.db'}"


@pytest.fixture
def api(
    db: sessionmaker[Session],
    clock: ManualClock,
    vault: Vault,
    registry: SourceRegistry,
    connection_id: str,
) -> Api:
    """The full app (reconnect included, its provider answering 503) with the demo
    merchant, a webhook source, a QuickBooks connection, a published mapping, a ticket
    with its incident, a sale, a run, and an admin's API key."""
    books = httpx.MockTransport(lambda _: httpx.Response(503))
    qbo = OAuthApp(f"{BOOKS}/token", "client", "secret")
    tokens = TokenManager(
        db, vault, clock, lambda _: OAuthRefresher(qbo.token_url, qbo.client_id, "secret")
    )
    reconnect = Reconnect(
        db,
        clock,
        vault,
        tokens,
        # Both providers have an app, so connecting new books answers 201 (never 503).
        clients=lambda name: qbo if name in {"qbo", "xero"} else None,
        public_url="http://testserver",
        transport=books,
    )
    with db() as session, session.begin():
        books_connection = Connections(session, "demo", vault).add(
            "qbo", "destination", "Books", {"access_token": "a"}, {"realm_id": "9130"}
        )
        unmapped = MappingError(
            "no item is mapped for SKU 'SKU-1'",
            user_message="The product SKU-1 has no item in your books.",
            code="unmapped_1",
            provider="qbo",
            operation="post:SalesReceipt",
        )
        incident = IncidentLog(clock).record(
            session,
            "demo",
            Failure(
                error=unmapped,
                stage="engine",
                subject="posting:1",
                failed_at=clock() - timedelta(seconds=4),
                location_id=MERCHANT.locations[0].id,
            ),
        )
        Mappings(session, "demo").publish(retail_default(), clock(), by="tests")
        sale = sales(1)[0]
        Documents(session, "demo").add(sale, MERCHANT.locations[0], now=clock())
    with recorded(db, clock, "sweep", "demo", origin="tests") as run:
        run["records"] = 2
    assert incident.ticket_id is not None
    app = create_app(db, clock, vault, registry=registry, reconnect=reconnect)
    admin = key_of(db, clock, add_user(db, clock, "admin@example.com", Role.ADMIN))
    return Api(
        schemathesis.openapi.from_asgi("/openapi.json", app),
        admin,
        connection_id,
        books_connection,
        incident.ticket_id,
        sale.id,
    )


def declared_status(ctx: Any, response: Any, case: Any) -> None:
    """The status code is one the operation lists by number or range, not only through
    its ``default`` answer, which stands for unexpected failures."""
    listed = [code for code in case.operation.responses.status_codes if code != "default"]
    status = str(response.status_code)
    assert any(code in {status, status[0] + "XX"} for code in listed), (
        f"{response.status_code} is not declared; declared: {', '.join(listed)}"
    )


def api_error_shape(ctx: Any, response: Any, case: Any) -> None:
    """A JSON refusal says what went wrong as ``{"error": code, "message": words}``."""
    if response.status_code < 400 or "json" not in response.headers.get("content-type", [""])[0]:
        return
    body = response.json()
    assert isinstance(body, dict), body
    assert isinstance(body.get("error"), str), body
    assert isinstance(body.get("message"), str), body


CHECKS = [
    not_a_server_error,
    declared_status,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    api_error_shape,
]


def cases(api: Api, method: str, path: str) -> st.SearchStrategy[Any]:
    """Valid and invalid cases, half of them aimed at the demo tenant and the connections
    that exist, so they get past the lookups into the code behind them."""
    operation = api.schema[path][method]
    known: dict[str, str] = {}
    if "{tenant_id}" in path:
        known["tenant_id"] = "demo"
    if "{ticket_id}" in path:
        known["ticket_id"] = str(api.ticket)
    if path.startswith("/webhooks/"):
        known["connection_id"] = api.source_connection
    elif "{connection_id}" in path:
        known["connection_id"] = api.books_connection
    if "{location_id}" in path:
        known["location_id"] = MERCHANT.locations[0].id
    if "{version}" in path:
        known["version"] = "1"
    if "{source}" in path:
        known["source"] = "*"
    if "{kind}" in path:
        known["kind"] = "sale"
    if "{document_id}" in path:
        known["document_id"] = api.document
    if "{day}" in path:
        known["day"] = "2026-10-27"
    strategies = [operation.as_strategy(mode) for mode in GenerationMode]
    if known:
        strategies += [
            operation.as_strategy(mode, path_parameters=known) for mode in GenerationMode
        ]
    return st.one_of(strategies)


def test_every_operation_is_explored(api: Api) -> None:
    """The operations explored below are all the OpenAPI document declares."""
    declared = {
        (result.ok().method.upper(), result.ok().path) for result in api.schema.get_all_operations()
    }
    assert declared == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_generated_requests_get_declared_answers(api: Api, method: str, path: str) -> None:
    """Generated requests, valid and invalid, with an admin's live API key, get no 5xx,
    only declared statuses and bodies, and every JSON refusal in the error shape."""

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case=cases(api, method, path))
    def answers(case: Any) -> None:
        case.call_and_validate(headers={"Authorization": f"Bearer {api.secret}"}, checks=CHECKS)

    answers()


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/tenants/demo/tickets?cursor=99999999999999999999",
        "/api/v1/tenants/demo/notices?ticket=99999999999999999999",
        "/api/v1/tenants/demo/notices?cursor=99999999999999999999",
        "/api/v1/tenants/demo/tickets/99999999999999999999",
    ],
)
def test_ids_past_what_the_database_stores_are_refused(
    client: TestClient, token: Callable[[str], str], path: str
) -> None:
    """A cursor or id too large for a database integer is a 400 or 404, not a 500."""
    response = client.get(path, headers={"Authorization": f"Bearer {token('demo')}"})
    assert response.status_code in {400, 404}, response.text
    assert set(response.json()) >= {"error", "message"}


@pytest.mark.parametrize(
    ("body", "code", "path"),
    [
        (b'{"external_id": "T-\\ud800", "note": {"\\udfff": 1}}', "lone_surrogate", "external_id"),
        (b'{"external_id": "T-1", "total": ' + b"9" * 5000 + b"}", "unreadable_json", ""),
        (b"[" * 30000 + b"]" * 30000, "unreadable_json", ""),
        (b'{"external_id": "T-\\u0000"}', "nul_character", "external_id"),
        (b'{"external_id": "T-2", "note": {"a\\u0000": 1}}', "nul_character", "note.a\\u0000"),
    ],
    ids=[
        "half a surrogate pair",
        "a number of 5000 digits",
        "nesting 30000 deep",
        "a NUL in a value",
        "a NUL in a key",
    ],
)
def test_json_no_database_can_keep_is_refused(
    client: TestClient, token: Callable[[str], str], body: bytes, code: str, path: str
) -> None:
    """A manual entry whose JSON parses to what cannot be stored or read (half a UTF-16
    surrogate pair, a NUL character, a number past Python's digit limit, nesting past its
    stack) is kept
    and refused 422 with the problem, not failed with a 500."""
    response = client.post(
        "/api/v1/tenants/demo/sales",
        content=body,
        headers={
            "Authorization": f"Bearer {token('demo')}",
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_entry"
    assert (code, path) in {(p["code"], p["path"]) for p in response.json()["problems"]}
