"""The simulated QuickBooks Online HTTP API: Intuit's OAuth endpoints and Accounting v3."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, RedirectResponse, Response

from salesync.clock import system_clock
from salesync.sandbox.delivery import deliver
from salesync.sandbox.faults import BEFORE, FaultKind, FaultPlan
from salesync.sandbox.oauth import OAuthError, TokenAuthority, TokenSet, parse_basic_auth
from salesync.sandbox.qbo import errors, query
from salesync.sandbox.qbo.admin import add_admin_routes
from salesync.sandbox.qbo.batch import fault_name, run_batch
from salesync.sandbox.qbo.company import QboCompany
from salesync.sandbox.qbo.entities import ENTITIES, WRITABLE, read, save
from salesync.sandbox.qbo.service import INTUIT_TOKENS, ApiCall, QboSandbox

DEFAULT_CLIENT_ID = "sandbox-client-id"
DEFAULT_CLIENT_SECRET = "sandbox-client-secret"  # noqa: S105 - a fixture credential, not a secret


def create_app(
    company: QboCompany | None = None,
    *,
    clock: Callable[[], datetime] | None = None,
    faults: FaultPlan | None = None,
    client_id: str = DEFAULT_CLIENT_ID,
    client_secret: str = DEFAULT_CLIENT_SECRET,
) -> FastAPI:
    """A QuickBooks Online company served over HTTP, with admin endpoints under /_sandbox.

    ``clock`` is used only when no ``company`` is given (a company brings its own clock).
    """
    company = company or QboCompany(clock=clock or system_clock)
    authority = TokenAuthority(INTUIT_TOKENS, company.now)
    authority.register_client(client_id, client_secret)
    sandbox = QboSandbox(company, faults or FaultPlan(), authority)
    app = FastAPI(title="QuickBooks Online sandbox", docs_url=None, redoc_url=None)
    app.state.sandbox = sandbox
    _add_oauth_routes(app, sandbox)
    _add_api_routes(app, sandbox)
    add_admin_routes(app, sandbox)
    return app


def _token_json(tokens: TokenSet) -> dict[str, Any]:
    return {
        "token_type": "bearer",
        "access_token": tokens.access_token,
        "expires_in": tokens.expires_in,
        "refresh_token": tokens.refresh_token,
        "x_refresh_token_expires_in": tokens.refresh_expires_in,
    }


def _oauth_error(error: OAuthError) -> JSONResponse:
    body = {"error": error.error}
    if error.description:
        body["error_description"] = error.description
    return JSONResponse(body, status_code=error.status)


def _add_oauth_routes(app: FastAPI, sandbox: QboSandbox) -> None:
    authority = sandbox.authority

    @app.get("/connect/oauth2")
    def authorize(
        client_id: str, redirect_uri: str, response_type: str = "code", state: str = ""
    ) -> Response:
        """The consent screen, answered yes (a code and realmId come back) unless the
        user was set to decline (``error=access_denied``, RFC 6749 §4.1.2.1)."""
        if response_type != "code":
            return _oauth_error(OAuthError("unsupported_response_type"))
        if not authority.consents():
            query_string = urlencode({"error": "access_denied", "state": state})
            return RedirectResponse(f"{redirect_uri}?{query_string}", status_code=302)
        try:
            code = authority.issue_code(client_id, redirect_uri, sandbox.company.realm_id)
        except OAuthError as error:
            return _oauth_error(error)
        query_string = urlencode(
            {"code": code, "state": state, "realmId": sandbox.company.realm_id}
        )
        return RedirectResponse(f"{redirect_uri}?{query_string}", status_code=302)

    @app.post("/oauth2/v1/tokens/bearer")
    async def token(request: Request) -> Response:
        """Intuit's token endpoint: authorization_code and refresh_token grants, Basic auth."""
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        credentials = parse_basic_auth(request.headers.get("authorization"))
        return await run_in_threadpool(_token, sandbox, credentials, form)

    @app.post("/oauth2/v1/tokens/revoke")
    async def revoke(request: Request) -> Response:
        """Revoke a refresh or access token, and with it the whole connection."""
        credentials = parse_basic_auth(request.headers.get("authorization"))
        try:
            if credentials is None:
                raise OAuthError("invalid_client", status=401)
            authority.authenticate_client(*credentials)
            body = json.loads(await request.body() or b"{}")
        except OAuthError as error:
            return _oauth_error(error)
        except json.JSONDecodeError:
            return _oauth_error(OAuthError("invalid_request", "body must be JSON"))
        authority.revoke(str(body.get("token", "")))
        return Response(status_code=200)


def _token(
    sandbox: QboSandbox, credentials: tuple[str, str] | None, form: dict[str, str]
) -> Response:
    fault = sandbox.faults.take("token")
    if fault is not None and fault.kind in BEFORE:
        if fault.kind is FaultKind.RATE_LIMITED:
            headers = {"Retry-After": str(int(fault.retry_after))}
            return JSONResponse({"error": "rate_limited"}, status_code=429, headers=headers)
        return JSONResponse({"error": "server_error"}, status_code=fault.status)
    try:
        if credentials is None:
            raise OAuthError("invalid_client", status=401)
        sandbox.authority.authenticate_client(*credentials)
        grant = form.get("grant_type")
        if grant == "authorization_code":
            tokens = sandbox.authority.exchange_code(
                credentials[0], form.get("code", ""), form.get("redirect_uri", "")
            )
        elif grant == "refresh_token":
            tokens = sandbox.authority.refresh(credentials[0], form.get("refresh_token", ""))
        else:
            raise OAuthError("unsupported_grant_type")
    except OAuthError as error:
        return _oauth_error(error)
    return deliver(fault, JSONResponse(_token_json(tokens)))


def _add_api_routes(app: FastAPI, sandbox: QboSandbox) -> None:
    company = sandbox.company

    def api_call(
        request: Request, realm_id: str, operation: str, armed_as: str | None = None
    ) -> ApiCall:
        params = request.query_params
        return ApiCall(
            method=request.method,
            realm_id=realm_id,
            operation=operation,
            authorization=request.headers.get("authorization"),
            requestid=params.get("requestid"),
            minorversion=params.get("minorversion"),
            armed_as=armed_as,
        )

    @app.get("/v3/company/{realm_id}/query")
    @app.post("/v3/company/{realm_id}/query")
    async def run_query(request: Request, realm_id: str) -> Response:
        """The query endpoint: the statement in ``query`` or as the text body."""
        statement = request.query_params.get("query") or (await request.body()).decode()
        call = api_call(request, realm_id, "query")

        def work() -> tuple[int, dict[str, Any]]:
            found = query.run(company, statement)
            return 200, {"QueryResponse": found, "time": errors.qbo_time(company.now())}

        return await run_in_threadpool(sandbox.handle, call, work)

    @app.post("/v3/company/{realm_id}/batch")
    async def batch(request: Request, realm_id: str) -> Response:
        """Up to 30 operations in one request, each answered or faulted by its bId; faults
        armed as "batch:Customer" when every item is a Customer operation."""
        raw = await request.body()
        call = api_call(request, realm_id, "batch", fault_name(raw))
        return await run_in_threadpool(
            sandbox.handle, call, lambda: run_batch(company, raw, call.requestid)
        )

    @app.get("/v3/company/{realm_id}/companyinfo/{company_id}")
    async def company_info(request: Request, realm_id: str, company_id: str) -> Response:
        """The company's name and settings, as connectors check on connect."""
        call = api_call(request, realm_id, "read:CompanyInfo")

        def work() -> tuple[int, dict[str, Any]]:
            if company_id != company.realm_id:
                raise errors.not_found("CompanyInfo", company_id)
            info = {
                "Id": company.realm_id,
                "CompanyName": company.name,
                "Country": "US",
                "SyncToken": "0",
            }
            return 200, {"CompanyInfo": info, "time": errors.qbo_time(company.now())}

        return await run_in_threadpool(sandbox.handle, call, work)

    @app.get("/v3/company/{realm_id}/{resource}/{entity_id}")
    async def read_entity(
        request: Request, realm_id: str, resource: str, entity_id: str
    ) -> Response:
        """Read one object by Id."""
        entity = ENTITIES.get(resource.lower(), resource)
        call = api_call(request, realm_id, f"read:{entity}")

        def work() -> tuple[int, dict[str, Any]]:
            if entity not in ENTITIES.values():
                raise _unsupported(request.url.path)
            found = read(company, entity, entity_id)
            return 200, {entity: found, "time": errors.qbo_time(company.now())}

        return await run_in_threadpool(sandbox.handle, call, work)

    @app.post("/v3/company/{realm_id}/{resource}")
    async def write_entity(request: Request, realm_id: str, resource: str) -> Response:
        """Create an object, or update it (full or sparse) when the body carries an Id."""
        entity = ENTITIES.get(resource.lower(), resource)
        raw = await request.body()
        try:
            payload = json.loads(raw or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError):
            payload = None
        verb = "update" if isinstance(payload, dict) and payload.get("Id") else "create"
        call = api_call(request, realm_id, f"{verb}:{entity}")
        allow_dup = "allowduplicatedocnum" in request.query_params.get("include", "").lower()

        def work() -> tuple[int, dict[str, Any]]:
            if entity not in WRITABLE:
                raise _unsupported(request.url.path)
            if not isinstance(payload, dict):
                raise errors.QboError(
                    "2010",
                    "Request has invalid or unsupported property",
                    "The request body is not a JSON object",
                )
            saved = save(company, entity, payload, allow_dup=allow_dup)
            return 200, {entity: saved, "time": errors.qbo_time(company.now())}

        return await run_in_threadpool(sandbox.handle, call, work)


def _unsupported(path: str) -> errors.QboError:
    return errors.QboError(
        "500",
        "Unsupported Operation",
        f"Operation {path} is not supported.",
    )
