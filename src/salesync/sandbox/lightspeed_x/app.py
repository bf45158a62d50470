"""The HTTP face of a simulated X-Series retailer: the token endpoint, API 2.0 collections
paged by version, webhook subscriptions, and the ``/_sandbox`` controls.

Every API answer carries ``X-RateLimit-Limit`` and ``X-RateLimit-Remaining``; a request
past the limit is answered 429 with ``Retry-After`` as an HTTP date
(https://x-series-api.lightspeedhq.com/docs/rate_limiting). The ``Date`` header comes from
the retailer's clock, so a client can tell how long that is on a simulated clock too.
"""

from __future__ import annotations

import email.utils
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, RedirectResponse, Response

from salesync.sandbox.controls import consent_routes, delivery_routes, fault_routes
from salesync.sandbox.delivery import deliver
from salesync.sandbox.faults import BEFORE, Fault, FaultKind
from salesync.sandbox.lightspeed_x.records import Versioned
from salesync.sandbox.lightspeed_x.retailer import Collection, LightspeedRetailer
from salesync.sandbox.oauth import OAuthError

Json = dict[str, Any]
DEFAULT_PAGE = 1000
MAX_PAGE = 10_000
COLLECTIONS = (
    "outlets",
    "registers",
    "taxes",
    "products",
    "customers",
    "sales",
    "register_closures",
)


class RefusalError(Exception):
    """An answer other than 200, in X-Series' error shape."""

    def __init__(self, status: int, error: str, details: str = "", **headers: str) -> None:
        super().__init__(f"{status} {error}")
        self.status = status
        self.body: Json = {"error": error, **({"details": details} if details else {})}
        self.headers = headers


def create_app(retailer: LightspeedRetailer | None = None) -> FastAPI:
    """A FastAPI app serving ``retailer`` (a fresh one when None) the way X-Series does."""
    retailer = retailer or LightspeedRetailer()
    app = FastAPI(title="Lightspeed X-Series sandbox", docs_url=None, redoc_url=None)
    app.openapi_url = None
    app.state.retailer = retailer
    app.include_router(fault_routes(retailer.faults))
    app.include_router(delivery_routes(retailer.notifier.deliveries, topic_field="type"))
    app.include_router(consent_routes(retailer.authority))
    _token_route(app, retailer)
    _api_routes(app, retailer)
    return app


def _date(retailer: LightspeedRetailer) -> str:
    return email.utils.format_datetime(retailer.now(), usegmt=True)


def _answer(
    retailer: LightspeedRetailer, status: int, body: Json, headers: dict[str, str]
) -> Response:
    return JSONResponse(body, status_code=status, headers={"Date": _date(retailer), **headers})


def _before(retailer: LightspeedRetailer, fault: Fault) -> Response:
    if fault.kind is FaultKind.RATE_LIMITED:
        until = retailer.now().timestamp() + fault.retry_after
        retry = email.utils.formatdate(until, usegmt=True)
        body = {"error": "Too Many Requests", "message": "Rate limiting enforced"}
        return _answer(retailer, 429, body, {"Retry-After": retry})
    if fault.kind is FaultKind.UNAUTHORIZED:
        return _answer(retailer, 401, {"error": "Unauthorized", "details": "token expired"}, {})
    return _answer(retailer, fault.status, {"error": "Internal Server Error"}, {})


def _token_route(app: FastAPI, retailer: LightspeedRetailer) -> None:
    @app.get("/connect")
    def connect(
        client_id: str, redirect_uri: str, response_type: str = "code", state: str = ""
    ) -> Response:
        """The retailer signs in and allows the add-on (or, when told to, declines): back
        to the app with a code and the store's domain prefix, whose token endpoint the
        code is redeemed at (https://x-series-api.lightspeedhq.com/docs/authorization)."""
        if response_type != "code":
            query = {"error": "unsupported_response_type", "state": state}
        elif not retailer.authority.consents():
            query = {"error": "access_denied", "state": state}
        else:
            try:
                code = retailer.authority.issue_code(client_id, redirect_uri, retailer.id)
            except OAuthError as exc:
                body = {"error": exc.error, "error_description": exc.description}
                return _answer(retailer, exc.status, body, {})
            query = {"code": code, "domain_prefix": retailer.domain_prefix, "state": state}
        return RedirectResponse(f"{redirect_uri}?{urlencode(query)}", status_code=302)

    @app.post("/api/1.0/token")
    async def token(request: Request) -> Response:
        """The token endpoint: authorization_code and refresh_token grants, form encoded,
        client credentials in the body."""
        raw = await request.body()
        form = {k: v[-1] for k, v in parse_qs(raw.decode(errors="replace")).items()}

        def work() -> Response:
            fault = retailer.faults.take("token")
            if fault is not None and fault.kind in BEFORE:
                return _before(retailer, fault)
            try:
                client_id = form.get("client_id", "")
                retailer.authority.authenticate_client(client_id, form.get("client_secret", ""))
                grant = form.get("grant_type")
                if grant == "refresh_token":
                    issued = retailer.authority.refresh(client_id, form.get("refresh_token", ""))
                elif grant == "authorization_code":
                    issued = retailer.authority.exchange_code(
                        client_id, form.get("code", ""), form.get("redirect_uri", "")
                    )
                else:
                    raise OAuthError("unsupported_grant_type", f"grant_type {grant!r}")
            except OAuthError as exc:
                refusal = {"error": exc.error, "error_description": exc.description}
                return _answer(retailer, exc.status, refusal, {})
            body: Json = {
                "access_token": issued.access_token,
                "token_type": "Bearer",
                "expires": int(retailer.now().timestamp()) + issued.expires_in,
                "expires_in": issued.expires_in,
                "refresh_token": issued.refresh_token,
                "domain_prefix": retailer.domain_prefix,
                "scope": "",
            }
            return deliver(fault, _answer(retailer, 200, body, {}))

        return await run_in_threadpool(work)


def _api_routes(app: FastAPI, retailer: LightspeedRetailer) -> None:
    def call(request: Request, operation: str, work: Callable[[str], tuple[int, Json]]) -> Response:
        fault = retailer.faults.take(operation)
        if fault is not None and fault.kind in BEFORE:
            return _before(retailer, fault)
        try:
            client_id = _authorized(retailer, request.headers.get("authorization"))
            decision = retailer.take_request(client_id)
            limits = {
                "X-RateLimit-Limit": str(retailer.limit),
                "X-RateLimit-Remaining": str(decision.remaining),
            }
            if not decision.allowed:
                until = (retailer.now() + decision.retry_after).timestamp()
                raise RefusalError(
                    429,
                    "Too Many Requests",
                    "Rate limiting enforced",
                    **limits,
                    **{"Retry-After": email.utils.formatdate(until, usegmt=True)},
                )
            status, body = work(client_id)
        except RefusalError as refusal:
            return _answer(retailer, refusal.status, refusal.body, refusal.headers)
        return deliver(fault, _answer(retailer, status, body, limits))

    @app.get("/api/2.0/retailer")
    def retailer_get(request: Request) -> Response:
        return call(request, "retailer.get", lambda _: (200, {"data": _retailer_json(retailer)}))

    @app.get("/api/2.0/webhooks")
    def webhooks_list(request: Request) -> Response:
        subscriptions = retailer.notifier.subscriptions.values()
        body = {"data": [s.json(retailer.id) for s in subscriptions]}
        return call(request, "webhooks.list", lambda _: (200, body))

    @app.post("/api/2.0/webhooks")
    async def webhooks_create(request: Request) -> Response:
        raw = await request.body()

        def work(client_id: str) -> tuple[int, Json]:
            try:
                body = json.loads(raw)
                url, topic = str(body["url"]), str(body["type"])
                active = bool(body.get("active", True))
            except (ValueError, KeyError, TypeError):
                raise RefusalError(
                    400, "Bad Request", "url, type and active are required"
                ) from None
            try:
                made = retailer.notifier.subscribe(client_id, url, topic, active)
            except ValueError as exc:
                raise RefusalError(400, "Bad Request", str(exc)) from None
            except KeyError as exc:
                raise RefusalError(409, str(exc.args[0])) from None
            return 201, {"data": made.json(retailer.id)}

        return await run_in_threadpool(call, request, "webhooks.create", work)

    @app.get("/api/2.0/{collection}")
    def listed(request: Request, collection: str) -> Response:
        rows = _collection(retailer, collection)
        params = request.query_params
        return call(request, f"{collection}.list", lambda _: (200, _page(rows, params)))

    @app.get("/api/2.0/{collection}/{row_id}")
    def fetched(request: Request, collection: str, row_id: str) -> Response:
        rows = _collection(retailer, collection)

        def work(_: str) -> tuple[int, Json]:
            row = rows.get(row_id)
            if row is None:
                raise RefusalError(404, "Not Found", f"no {collection} with id {row_id}")
            return 200, {"data": row.json()}

        return call(request, f"{collection}.get", work)


def _authorized(retailer: LightspeedRetailer, header: str | None) -> str:
    if not header or not header.lower().startswith("bearer "):
        raise RefusalError(401, "Unauthorized", "no bearer token")
    check = retailer.authority.check_access(header[7:].strip())
    if check.status == "expired":
        raise RefusalError(401, "Unauthorized", "token expired")
    if check.status != "ok":
        raise RefusalError(401, "Unauthorized", "invalid token")
    return check.client_id


def _collection(retailer: LightspeedRetailer, name: str) -> Collection[Versioned]:
    if name not in COLLECTIONS:
        return _Missing(name)
    found: Collection[Versioned] = getattr(retailer, name)
    return found


class _Missing(Collection[Versioned]):
    """An unknown collection: every read of it is a 404."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name


def _page(rows: Collection[Versioned], params: Any) -> Json:
    """The rows changed after ``after`` (and before ``before``), oldest version first."""
    if isinstance(rows, _Missing):
        raise RefusalError(404, "Not Found", f"no collection {rows.name}")
    try:
        after = int(params.get("after") or 0)
        before = int(params["before"]) if params.get("before") else None
        size = int(params.get("page_size") or DEFAULT_PAGE)
    except ValueError:
        raise RefusalError(400, "Bad Request", "after, before and page_size are integers") from None
    if not 1 <= size <= MAX_PAGE:
        raise RefusalError(400, "Bad Request", f"page_size must be between 1 and {MAX_PAGE}")
    chosen = sorted(
        (r for r in rows.values() if r.version > after and (before is None or r.version < before)),
        key=lambda r: r.version,
    )[:size]
    data = [r.json() for r in chosen]
    versions = [r.version for r in chosen]
    return {
        "data": data,
        "version": {"min": min(versions), "max": max(versions)} if versions else None,
    }


def _retailer_json(retailer: LightspeedRetailer) -> Json:
    return {
        "id": retailer.id,
        "name": retailer.domain_prefix.title(),
        "domain_prefix": retailer.domain_prefix,
        "currency": {"code": retailer.currency, "symbol": "$"},
        "country": "NZ",
        "time_zone": "Pacific/Auckland",
    }
