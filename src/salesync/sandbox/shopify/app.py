"""The HTTP face of the simulated shop: OAuth, the Admin API, and ``/_sandbox`` controls."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable
from datetime import UTC
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from salesync.sandbox.controls import delivery_routes, fault_routes
from salesync.sandbox.ratelimit import LeakyBucket
from salesync.sandbox.shopify.admin import admin_router
from salesync.sandbox.shopify.credentials import AccessToken, CredentialError
from salesync.sandbox.shopify.execution import PreparedQuery, ShopifyGraphQL
from salesync.sandbox.shopify.outcome import (
    REST_THROTTLED,
    UNRECOGNIZED_LOGIN,
    after_fault,
    before_fault,
    is_before,
    json_body,
    shopify_error,
    take_fault,
)
from salesync.sandbox.shopify.payloads import shop_json
from salesync.sandbox.shopify.store import API_VERSIONS, ShopifyStore

_VERSION = re.compile(r"^(\d{4}-(01|04|07|10)|unstable)$")


def resolve_version(requested: str) -> str | None:
    """The version Shopify serves for ``requested``; None for a malformed one.

    A version that is no longer supported falls forward to the oldest supported one
    (https://shopify.dev/docs/api/usage/versioning).
    """
    if not _VERSION.match(requested):
        return None
    if requested == "unstable" or requested in API_VERSIONS:
        return requested
    return API_VERSIONS[0] if requested < API_VERSIONS[0] else API_VERSIONS[-1]


def oauth_query_hmac(params: dict[str, str], secret: str) -> str:
    """The ``hmac`` Shopify adds to an OAuth redirect: hex HMAC-SHA256 over the other
    parameters sorted by name and joined as a query string
    (https://shopify.dev/apps/auth/oauth/making-requests)."""
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


async def _form_or_json(request: Request) -> dict[str, str]:
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            return {}
        return {k: str(v) for k, v in body.items()} if isinstance(body, dict) else {}
    return dict(parse_qsl(raw.decode(errors="replace")))


def create_app(store: ShopifyStore | None = None) -> FastAPI:
    """A FastAPI app serving ``store`` (a fresh shop when None) the way Shopify does."""
    shop = store or ShopifyStore()
    graphql = ShopifyGraphQL(shop)
    app = FastAPI(title="Shopify sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store = shop
    for controls in (
        admin_router(shop),
        fault_routes(shop.faults),
        delivery_routes(shop.deliveries),
    ):
        app.include_router(controls)

    def authorize(request: Request) -> AccessToken | None:
        return shop.credentials.authorize(request.headers.get("X-Shopify-Access-Token"))

    def with_faults(operations: list[str], work: Callable[[], Response]) -> Response:
        fault = take_fault(shop.faults, *operations)
        if fault is not None and is_before(fault):
            return before_fault(fault)
        response = work()
        return response if fault is None else after_fault(fault, response)

    @app.get("/admin/oauth/authorize")
    def oauth_authorize(client_id: str, redirect_uri: str, state: str = "") -> Response:
        try:
            code = shop.credentials.issue_code(client_id)
        except CredentialError as error:
            return json_body({"error": error.error, "error_description": error.description}, 400)
        params = {
            "code": code,
            "shop": shop.domain,
            "state": state,
            "timestamp": str(int(shop.now().astimezone(UTC).timestamp())),
        }
        secret = shop.credentials.apps[client_id].client_secret
        params["hmac"] = oauth_query_hmac(params, secret)
        return RedirectResponse(f"{redirect_uri}?{urlencode(params)}", status_code=302)

    @app.post("/admin/oauth/access_token")
    async def oauth_token(request: Request) -> Response:
        fields = await _form_or_json(request)

        def exchange() -> Response:
            try:
                if fields.get("grant_type") == "refresh_token":
                    grant = shop.credentials.refresh(
                        fields.get("client_id", ""),
                        fields.get("client_secret", ""),
                        fields.get("refresh_token", ""),
                    )
                else:
                    grant = shop.credentials.exchange_code(
                        fields.get("client_id", ""),
                        fields.get("client_secret", ""),
                        fields.get("code", ""),
                        expiring=fields.get("expiring") in ("1", "true", "True"),
                    )
            except CredentialError as error:
                return json_body(
                    {"error": error.error, "error_description": error.description}, error.status
                )
            return json_body(grant.as_json())

        return await run_in_threadpool(with_faults, ["oauth.access_token"], exchange)

    @app.post("/admin/api/{version}/graphql.json")
    async def graphql_endpoint(version: str, request: Request) -> Response:
        served = resolve_version(version)
        if served is None:
            return shopify_error(404, "Not Found")
        headers = {"X-Shopify-API-Version": served}
        token = authorize(request)
        if token is None:
            return shopify_error(401, UNRECOGNIZED_LOGIN)
        try:
            body: Any = json.loads(await request.body() or b"null")
        except ValueError:
            return shopify_error(400, "Bad Request: the body is not valid JSON")
        prepared = graphql.prepare(body)
        if not isinstance(prepared, PreparedQuery):
            status = 400 if isinstance(prepared.get("errors"), dict) else 200
            return json_body(prepared, status, headers)
        names = [f"graphql.{name}" for name in prepared.root_fields] + ["graphql"]
        return await run_in_threadpool(
            with_faults,
            names,
            lambda: json_body(graphql.run(prepared, token, served), headers=headers),
        )

    @app.get("/admin/api/{version}/shop.json")
    def rest_shop(version: str, request: Request) -> Response:
        served = resolve_version(version)
        if served is None:
            return shopify_error(404, "Not Found")
        token = authorize(request)
        if token is None:
            return shopify_error(401, UNRECOGNIZED_LOGIN)
        bucket = shop.rest_buckets.get(token.client_id)
        if not bucket.try_pour(1):
            wait = max(bucket.seconds_until_room(1), 1 / bucket.rate)
            return shopify_error(
                429, REST_THROTTLED, {"Retry-After": f"{wait:.1f}", **_call_limit(bucket)}
            )
        headers = {"X-Shopify-API-Version": served, **_call_limit(bucket)}
        return with_faults(["shop"], lambda: json_body({"shop": shop_json(shop)}, 200, headers))

    return app


def _call_limit(bucket: LeakyBucket) -> dict[str, str]:
    # The REST bucket's fill level, e.g. "32/40" (https://shopify.dev/docs/api/admin-rest/usage/rate-limits).
    return {"X-Shopify-Shop-Api-Call-Limit": f"{round(bucket.level)}/{int(bucket.capacity)}"}
