"""The simulated Xero HTTP API: identity, connections and the Accounting API 2.0."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from salesync.clock import system_clock
from salesync.sandbox.faults import FaultPlan
from salesync.sandbox.oauth import TokenAuthority
from salesync.sandbox.xero import batch, errors, query
from salesync.sandbox.xero.admin import add_admin_routes
from salesync.sandbox.xero.errors import Reply
from salesync.sandbox.xero.identity import add_identity_routes
from salesync.sandbox.xero.organisation import XeroOrganisation
from salesync.sandbox.xero.payments import allocate_credit
from salesync.sandbox.xero.resources import RESOURCES, Resource
from salesync.sandbox.xero.service import XERO_TOKENS, ApiCall, XeroSandbox

DEFAULT_CLIENT_ID = "xero-sandbox-client-id"
DEFAULT_CLIENT_SECRET = "xero-sandbox-client-secret"  # noqa: S105 - a fixture credential
API = "/api.xro/2.0"


def create_app(
    organisation: XeroOrganisation | None = None,
    *,
    clock: Callable[[], datetime] | None = None,
    faults: FaultPlan | None = None,
    client_id: str = DEFAULT_CLIENT_ID,
    client_secret: str = DEFAULT_CLIENT_SECRET,
) -> FastAPI:
    """A Xero organisation served over HTTP, with admin endpoints under /_sandbox.

    ``clock`` is used only when no ``organisation`` is given (one brings its own clock).
    """
    organisation = organisation or XeroOrganisation(clock=clock or system_clock)
    authority = TokenAuthority(XERO_TOKENS, organisation.now)
    authority.register_client(client_id, client_secret)
    sandbox = XeroSandbox(organisation, faults or FaultPlan(), authority)
    app = FastAPI(title="Xero sandbox", docs_url=None, redoc_url=None)
    app.state.sandbox = sandbox
    add_identity_routes(app, sandbox)
    _add_api_routes(app, sandbox)
    add_admin_routes(app, sandbox)
    return app


def _summarize(request: Request) -> bool:
    for name, value in request.query_params.items():
        if name.lower() == "summarizeerrors":
            return value.strip().lower() != "false"
    return True


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise errors.invalid_request("The request body is not valid JSON") from None


def _resource(name: str) -> Resource:
    found = RESOURCES.get(name.lower())
    if found is None:
        raise errors.not_found()
    return found


def _add_api_routes(app: FastAPI, sandbox: XeroSandbox) -> None:
    org = sandbox.organisation

    async def call_of(request: Request, operation: str) -> ApiCall:
        headers = request.headers
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return ApiCall(
            method=request.method,
            target=target,
            operation=operation,
            authorization=headers.get("authorization"),
            tenant_id=headers.get("xero-tenant-id"),
            idempotency_key=headers.get("idempotency-key"),
            body=await request.body(),
        )

    def operation(method: str, name: str) -> str:
        resource = RESOURCES.get(name.lower())
        return f"{method.lower()}:{resource.collection if resource else name}"

    @app.get(f"{API}/Organisation")
    async def organisation(request: Request) -> Response:
        """The organisation's name, country and base currency, as connectors check on connect."""

        def work() -> Reply:
            details = {
                "OrganisationID": org.tenant_id,
                "Name": org.name,
                "ShortCode": org.short_code,
                "BaseCurrency": org.base_currency,
                "CountryCode": org.country_code,
                "OrganisationStatus": "ACTIVE",
            }
            return Reply(200, batch.envelope(org, "Organisations", [details]))

        call = await call_of(request, "get:Organisation")
        return await run_in_threadpool(sandbox.handle, call, work)

    @app.get(API + "/{collection}")
    async def read_many(request: Request, collection: str) -> Response:
        """A collection, filtered by ``where`` and the list parameters, ordered and paged."""
        params = dict(request.query_params)
        call = await call_of(request, operation("GET", collection))
        return await run_in_threadpool(
            sandbox.handle, call, lambda: query.read_many(org, _resource(collection), params)
        )

    @app.get(API + "/{collection}/{key}")
    async def read_one(request: Request, collection: str, key: str) -> Response:
        """One object by id (or by number or code where Xero allows it)."""
        call = await call_of(request, operation("GET", collection))
        return await run_in_threadpool(
            sandbox.handle, call, lambda: query.read_one(org, _resource(collection), key)
        )

    @app.put(API + "/{collection}")
    @app.post(API + "/{collection}")
    async def write_many(request: Request, collection: str) -> Response:
        """PUT creates, POST creates or updates; one element or a list in one body."""
        call = await call_of(request, operation(request.method, collection))
        summarize = _summarize(request)

        def work() -> Reply:
            return batch.save(
                org, _resource(collection), call.method, _json(call.body), summarize=summarize
            )

        return await run_in_threadpool(sandbox.handle, call, work)

    @app.post(API + "/{collection}/{key}")
    async def write_one(request: Request, collection: str, key: str) -> Response:
        """POST to one object: update it."""
        call = await call_of(request, operation("POST", collection))
        summarize = _summarize(request)

        def work() -> Reply:
            resource = _resource(collection)
            if org.get(resource.collection, key) is None:
                raise errors.not_found()
            return batch.save(
                org, resource, "POST", _json(call.body), summarize=summarize, path_id=key
            )

        return await run_in_threadpool(sandbox.handle, call, work)

    @app.put(API + "/CreditNotes/{credit_note_id}/Allocations")
    async def allocate(request: Request, credit_note_id: str) -> Response:
        """Allocate an authorised credit note to one or more invoices."""
        call = await call_of(request, "put:Allocations")
        summarize = _summarize(request)

        def work() -> Reply:
            if org.get("CreditNotes", credit_note_id) is None:
                raise errors.not_found()
            elements = batch.elements_of(_json(call.body), "Allocations")
            return batch.run(
                org,
                "Allocations",
                elements,
                lambda element: allocate_credit(org, credit_note_id, element),
                summarize=summarize,
            )

        return await run_in_threadpool(sandbox.handle, call, work)
