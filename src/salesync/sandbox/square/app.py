"""The HTTP face of the simulated seller: OAuth, the v2 API, and ``/_sandbox`` controls."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, RedirectResponse, Response

from salesync.sandbox.delivery import deliver
from salesync.sandbox.faults import BEFORE
from salesync.sandbox.square import errors
from salesync.sandbox.square.admin import add_admin_routes
from salesync.sandbox.square.bodies import Json, parse_json
from salesync.sandbox.square.credentials import Bearer
from salesync.sandbox.square.errors import SquareError
from salesync.sandbox.square.gateway import ApiCall, SquareGateway
from salesync.sandbox.square.intake import OrderIntake
from salesync.sandbox.square.routes import add_api_routes
from salesync.sandbox.square.sales import SquareTill
from salesync.sandbox.square.seller import SquareSeller


def create_app(seller: SquareSeller | None = None) -> FastAPI:
    """A FastAPI app serving ``seller`` (a fresh, empty one when None) the way Square does."""
    seller = seller or SquareSeller()
    app = FastAPI(title="Square sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.seller = seller
    _add_oauth_routes(app, seller)
    add_api_routes(app, seller, OrderIntake(seller, SquareTill(seller)))
    _add_retired_routes(app, seller)
    add_admin_routes(app, seller)
    return app


def _with_faults(seller: SquareSeller, operation: str, work: Callable[[], Json]) -> Response:
    fault = seller.faults.take(operation)
    if fault is not None and fault.kind in BEFORE:
        return errors.before_fault(fault)
    try:
        body = work()
    except SquareError as error:
        return error.response()
    return deliver(fault, JSONResponse(body))


def _add_oauth_routes(app: FastAPI, seller: SquareSeller) -> None:
    credentials = seller.credentials

    @app.get("/oauth2/authorize")
    def authorize(
        client_id: str,
        redirect_uri: str,
        state: str = "",
        scope: str = "",
        code_challenge: str | None = None,
    ) -> Response:
        """The permissions page, already answered Allow: back to the app with a code."""
        try:
            code = credentials.authorize(client_id, redirect_uri, code_challenge)
        except SquareError as error:
            return error.response()
        query = urlencode({"code": code, "response_type": "code", "state": state})
        return RedirectResponse(f"{redirect_uri}?{query}", status_code=302)

    @app.post("/oauth2/token")
    async def obtain_token(request: Request) -> Response:
        """ObtainToken: the authorization_code and refresh_token grants."""
        raw = await request.body()
        return await run_in_threadpool(
            _with_faults, seller, "oauth.token", lambda: credentials.obtain_token(parse_json(raw))
        )

    @app.post("/oauth2/revoke")
    async def revoke_token(request: Request) -> Response:
        """RevokeToken: the app's access to this seller ends."""
        raw = await request.body()
        authorization = request.headers.get("authorization")

        def work() -> Json:
            body = parse_json(raw)
            client_id = str(body.get("client_id") or "")
            if not client_id:
                raise errors.missing("client_id")
            token = body.get("access_token")
            credentials.revoke(client_id, authorization, str(token) if token else None)
            return {"success": True}

        return await run_in_threadpool(_with_faults, seller, "oauth.revoke", work)


def _add_retired_routes(app: FastAPI, seller: SquareSeller) -> None:
    gateway = SquareGateway(seller)

    @app.api_route("/v2/locations/{location_id}/transactions", methods=["GET", "POST"])
    async def transactions(request: Request, location_id: str) -> Response:
        """The retired Transactions API: gone whatever Square-Version is asked for.

        Retired functionality cannot be used with any version and answers ``GONE``
        (https://developer.squareup.com/docs/migrate-from-v1).
        """

        def work(_: Bearer) -> tuple[int, dict[str, Any]]:
            raise SquareError(
                410,
                "INVALID_REQUEST_ERROR",
                "GONE",
                "The request could not be completed since access to the target resource is "
                "no longer available.",
            )

        call = ApiCall(
            "transactions",
            request.headers.get("authorization"),
            request.headers.get("square-version"),
        )
        return await run_in_threadpool(gateway.handle, call, work)
