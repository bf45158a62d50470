"""The HTTP face of the simulated Clover: v2 OAuth, the v3 REST API, ``/_sandbox`` controls."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, RedirectResponse, Response

from salesync.sandbox.clover.activity import CloverActivity
from salesync.sandbox.clover.gateway import CloverGateway, NotFoundError, refusal
from salesync.sandbox.clover.platform import CloverMerchant, CloverPlatform
from salesync.sandbox.clover.query import listing, parse_query, shown
from salesync.sandbox.controls import delivery_routes, fault_routes
from salesync.sandbox.oauth import OAuthError, TokenSet

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Collection:
    """A list Clover serves under a merchant: what it filters on and what it expands."""

    name: str
    path: str
    filters: frozenset[str]
    expandable: frozenset[str] = frozenset()


COLLECTIONS = (
    _Collection(
        name="orders",
        path="orders",
        filters=frozenset({"modifiedTime", "createdTime", "clientCreatedTime", "state", "id"}),
        expandable=frozenset({"lineItems", "payments", "refunds", "discounts", "customers"}),
    ),
    _Collection(
        name="customers",
        path="customers",
        filters=frozenset({"modifiedTime", "customerSince", "id"}),
        expandable=frozenset({"emailAddresses", "phoneNumbers"}),
    ),
    _Collection(
        name="items",
        path="items",
        filters=frozenset({"modifiedTime", "id", "sku"}),
        expandable=frozenset({"categories", "taxRates"}),
    ),
    _Collection(name="refunds", path="refunds", filters=frozenset({"createdTime", "id"})),
    _Collection(name="categories", path="categories", filters=frozenset({"id"})),
    _Collection(name="tax_rates", path="tax_rates", filters=frozenset({"id"})),
    _Collection(name="tenders", path="tenders", filters=frozenset({"id"})),
    _Collection(name="devices", path="devices", filters=frozenset({"id"})),
)


class WebhookUrl(BaseModel):
    """The URL the developer saves on the app's Webhooks page."""

    url: str


class NewMerchant(BaseModel):
    """A merchant (one location) to add, with its inventory, tenders and customers."""

    name: str
    timezone: str = "America/New_York"
    currency: str = "USD"
    seed: int = 7


class Verification(BaseModel):
    """The verification code the developer enters."""

    code: str


def _tokens(tokens: TokenSet, now: datetime) -> Json:
    """Clover's token answer: the pair and when each expires, in epoch seconds."""
    at = int(now.timestamp())
    return {
        "access_token": tokens.access_token,
        "access_token_expiration": at + tokens.expires_in,
        "refresh_token": tokens.refresh_token,
        "refresh_token_expiration": at + tokens.refresh_expires_in,
    }


def _json(raw: bytes) -> Json:
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def create_app(platform: CloverPlatform | None = None) -> FastAPI:
    """A FastAPI app serving ``platform`` (a fresh, empty one when None) as Clover does."""
    platform = platform or CloverPlatform()
    app = FastAPI(title="Clover sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.platform = platform
    _add_oauth_routes(app, platform)
    _add_api_routes(app, platform)
    app.include_router(fault_routes(platform.faults))
    app.include_router(delivery_routes(platform.deliveries))

    @app.post("/_sandbox/webhook")
    def set_webhook(body: WebhookUrl) -> dict[str, str]:
        """The developer saves the webhook URL; a verification code is POSTed to it."""
        platform.set_webhook_url(body.url)
        return {"url": body.url}

    @app.post("/_sandbox/merchants")
    def add_merchant(body: NewMerchant) -> dict[str, str]:
        """A merchant set up to trade; its id names it in the v3 paths."""
        merchant = platform.add_merchant(body.name, body.timezone, body.currency)
        CloverActivity(platform, merchant, body.seed).setup()
        return {"id": merchant.id, "name": merchant.name}

    @app.post("/_sandbox/merchants/{merchant_id}/install", response_model=None)
    def install(merchant_id: str) -> Response | Json:
        """The merchant installs the app: an expiring token pair for it."""
        if merchant_id not in platform.merchants:
            return refusal(404, f"404 Not Found: merchant {merchant_id}")
        return _tokens(platform.install(merchant_id), platform.clock())

    @app.post("/_sandbox/webhook/verify", response_model=None)
    def verify_webhook(body: Verification) -> Response | dict[str, str]:
        """The developer enters the code; the answer holds the X-Clover-Auth code."""
        auth = platform.verify(body.code)
        if auth is None:
            return refusal(400, "Verification code does not match")
        return {"authCode": auth}

    return app


def _add_oauth_routes(app: FastAPI, platform: CloverPlatform) -> None:
    tokens = platform.tokens

    @app.get("/oauth/v2/authorize")
    def authorize(client_id: str, redirect_uri: str, merchant_id: str, state: str = "") -> Response:
        """The merchant approves the app: back to it with a code and the merchant id."""
        try:
            code = tokens.issue_code(client_id, redirect_uri, merchant_id)
        except OAuthError as exc:
            return refusal(exc.status, exc.error)
        query = urlencode({"code": code, "merchant_id": merchant_id, "state": state})
        return RedirectResponse(f"{redirect_uri}?{query}", status_code=302)

    @app.post("/oauth/v2/token")
    async def token(request: Request) -> Response:
        """The authorization code for an expiring token pair (high-trust apps send the
        app secret)."""
        body = _json(await request.body())
        try:
            tokens.authenticate_client(str(body.get("client_id")), str(body.get("client_secret")))
            pair = tokens.exchange_code(
                str(body.get("client_id")), str(body.get("code")), str(body.get("redirect_uri", ""))
            )
        except OAuthError as exc:
            return refusal(exc.status, exc.description or exc.error)
        return JSONResponse(_tokens(pair, platform.clock()))

    @app.post("/oauth/v2/refresh")
    async def refresh(request: Request) -> Response:
        """A refresh token (single use) for a new pair; the old refresh token is spent."""
        body = _json(await request.body())
        try:
            pair = tokens.refresh(str(body.get("client_id")), str(body.get("refresh_token")))
        except OAuthError as exc:
            return refusal(401 if exc.error == "invalid_grant" else exc.status, exc.error)
        fault = platform.faults.take("oauth.refresh")
        if fault is not None:
            return refusal(fault.status, "Service Unavailable")
        return JSONResponse(_tokens(pair, platform.clock()))


def _merchant(platform: CloverPlatform, merchant_id: str) -> CloverMerchant:
    merchant = platform.merchants.get(merchant_id)
    if merchant is None:
        raise NotFoundError(f"merchant {merchant_id}")
    return merchant


def _add_api_routes(app: FastAPI, platform: CloverPlatform) -> None:
    gateway = CloverGateway(platform)
    base = "/v3/merchants/{merchant_id}"

    @app.get(base)
    async def merchant(request: Request, merchant_id: str) -> Response:
        def work() -> Json:
            found = _merchant(platform, merchant_id)
            return {
                "id": found.id,
                "name": found.name,
                "currency": found.currency,
                "properties": {"defaultCurrency": found.currency, "timezone": found.timezone},
            }

        return await run_in_threadpool(
            gateway.handle, "merchant.get", merchant_id, request.headers.get("authorization"), work
        )

    for collection in COLLECTIONS:
        _add_collection(app, gateway, platform, base, collection)
    for field, path in (("lineItems", "line_items"), ("payments", "payments")):
        _add_nested(app, gateway, platform, base, field=field, path=path)


def _add_nested(
    app: FastAPI,
    gateway: CloverGateway,
    platform: CloverPlatform,
    base: str,
    *,
    field: str,
    path: str,
) -> None:
    """``/orders/{orderId}/<path>``: an order's line items or payments, paged in full
    (an expanded order holds only the first 100)."""

    async def listed(request: Request, merchant_id: str, order_id: str) -> Response:
        params = request.query_params

        def work() -> Json:
            query = parse_query((), None, None, params.get("offset"), params.get("limit"))
            order = _merchant(platform, merchant_id).orders.get(order_id)
            if order is None:
                raise NotFoundError(f"orders {order_id}")
            elements = order.get(field, {}).get("elements", [])
            page = elements[query.offset : query.offset + query.limit]
            return {"elements": [copy.deepcopy(e) for e in page]}

        return await run_in_threadpool(
            gateway.handle,
            f"orders.{path}",
            merchant_id,
            request.headers.get("authorization"),
            work,
        )

    app.add_api_route(f"{base}/orders/{{order_id}}/{path}", listed, methods=["GET"])


def _add_collection(
    app: FastAPI, gateway: CloverGateway, platform: CloverPlatform, base: str, c: _Collection
) -> None:
    async def listed(request: Request, merchant_id: str) -> Response:
        params = request.query_params

        def work() -> Json:
            query = parse_query(
                params.getlist("filter"),
                params.get("expand"),
                params.get("orderBy"),
                params.get("offset"),
                params.get("limit"),
            )
            objects = _merchant(platform, merchant_id).collection(c.name).values()
            page = listing(objects, query, c.filters)
            return {"elements": [_href(request, shown(o, c.expandable, query)) for o in page]}

        return await run_in_threadpool(
            gateway.handle,
            f"{c.name}.list",
            merchant_id,
            request.headers.get("authorization"),
            work,
        )

    async def single(
        request: Request, merchant_id: str, object_id: str, expand: str | None = None
    ) -> Response:
        def work() -> Json:
            query = parse_query((), expand, None, None, None)
            found = _merchant(platform, merchant_id).collection(c.name).get(object_id)
            if found is None:
                raise NotFoundError(f"{c.name} {object_id}")
            return _href(request, shown(found, c.expandable, query))

        return await run_in_threadpool(
            gateway.handle, f"{c.name}.get", merchant_id, request.headers.get("authorization"), work
        )

    app.add_api_route(f"{base}/{c.path}", listed, methods=["GET"])
    app.add_api_route(f"{base}/{c.path}/{{object_id}}", single, methods=["GET"])


def _href(request: Request, obj: Json) -> Json:
    path = request.url.path.rstrip("/")
    if not path.endswith(str(obj.get("id"))):
        path = f"{path}/{obj.get('id')}"
    return {"href": f"{request.base_url}{path.lstrip('/')}", **obj}
