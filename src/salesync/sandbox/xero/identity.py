"""Xero's identity service and connections: consent, tokens, revocation, tenants.

Follows https://developer.xero.com/documentation/guides/oauth2/auth-flow/: the consent
redirect carries ``code`` and ``state``; ``POST /connect/token`` takes HTTP Basic client
credentials with the authorization_code or refresh_token grant; ``GET /connections`` lists
the tenants the token may call, each needing its ``xero-tenant-id`` header. Disconnecting
a tenant leaves the token set working for refreshes, but calls for that tenant get 403.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, RedirectResponse, Response

from salesync.sandbox.delivery import deliver
from salesync.sandbox.faults import BEFORE, FaultKind
from salesync.sandbox.oauth import OAuthError, TokenSet, parse_basic_auth
from salesync.sandbox.xero.errors import ApiError
from salesync.sandbox.xero.service import XeroSandbox

SCOPE = "offline_access accounting.transactions accounting.contacts accounting.settings"
"""What the sandbox grants, whatever was asked for."""


def token_json(tokens: TokenSet) -> dict[str, Any]:
    """A token endpoint answer as Xero shapes it."""
    return {
        "access_token": tokens.access_token,
        "expires_in": tokens.expires_in,
        "token_type": "Bearer",
        "refresh_token": tokens.refresh_token,
        "scope": SCOPE,
    }


def connection_json(sandbox: XeroSandbox) -> dict[str, Any]:
    """The organisation as an entry of ``GET /connections``."""
    org = sandbox.organisation
    connected_at = org.connected_at or org.now()
    return {
        "id": org.connection_id,
        "authEventId": org.connection_id,
        "tenantId": org.tenant_id,
        "tenantType": "ORGANISATION",
        "tenantName": org.name,
        "createdDateUtc": connected_at.isoformat(timespec="seconds"),
        "updatedDateUtc": connected_at.isoformat(timespec="seconds"),
    }


def _oauth_error(error: OAuthError) -> JSONResponse:
    return JSONResponse({"error": error.error}, status_code=error.status)


def add_identity_routes(app: FastAPI, sandbox: XeroSandbox) -> None:
    """Serve consent, the token and revocation endpoints, and connections."""
    authority = sandbox.authority
    org = sandbox.organisation

    @app.get("/identity/connect/authorize")
    def authorize(
        client_id: str, redirect_uri: str, response_type: str = "code", state: str = ""
    ) -> Response:
        """The consent screen, answered yes (the tenant connects, a code comes back)
        unless the user was set to decline (``error=access_denied``)."""
        if response_type != "code":
            return _oauth_error(OAuthError("unsupported_response_type"))
        if not authority.consents():
            query = urlencode({"error": "access_denied", "state": state})
            return RedirectResponse(f"{redirect_uri}?{query}", status_code=302)
        try:
            code = authority.issue_code(client_id, redirect_uri, org.tenant_id)
        except OAuthError as error:
            return _oauth_error(error)
        org.connect()
        query = urlencode({"code": code, "scope": SCOPE, "state": state})
        return RedirectResponse(f"{redirect_uri}?{query}", status_code=302)

    @app.post("/connect/token")
    async def token(request: Request) -> Response:
        """The token endpoint: authorization_code and refresh_token grants, Basic auth."""
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        credentials = parse_basic_auth(request.headers.get("authorization"))
        return await run_in_threadpool(_token, sandbox, credentials, form)

    @app.post("/connect/revocation")
    async def revoke(request: Request) -> Response:
        """Revoke a refresh token: the whole token set stops working."""
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        credentials = parse_basic_auth(request.headers.get("authorization"))
        try:
            if credentials is None:
                raise OAuthError("invalid_client", status=401)
            authority.authenticate_client(*credentials)
        except OAuthError as error:
            return _oauth_error(error)
        authority.revoke(form.get("token", ""))
        return Response(status_code=200)

    @app.get("/connections")
    def connections(request: Request) -> Response:
        """The tenants this access token may call."""
        try:
            _, subject = sandbox.bearer_subject(request.headers.get("authorization"))
        except ApiError as error:
            return sandbox.render(error.reply)
        listed = [connection_json(sandbox)] if org.connected and subject == org.tenant_id else []
        return JSONResponse(listed)

    @app.delete("/connections/{connection_id}")
    def disconnect(request: Request, connection_id: str) -> Response:
        """Remove the app's connection to a tenant."""
        try:
            sandbox.bearer_subject(request.headers.get("authorization"))
        except ApiError as error:
            return sandbox.render(error.reply)
        if not org.connected or connection_id != org.connection_id:
            return Response(status_code=404)
        org.disconnect()
        return Response(status_code=204)


def _token(
    sandbox: XeroSandbox, credentials: tuple[str, str] | None, form: dict[str, str]
) -> Response:
    fault = sandbox.faults.take("token")
    if fault is not None and fault.kind in BEFORE:
        if fault.kind is FaultKind.RATE_LIMITED:
            headers = {"Retry-After": str(int(fault.retry_after))}
            return JSONResponse({"error": "rate_limit_exceeded"}, status_code=429, headers=headers)
        if fault.kind is FaultKind.UNAUTHORIZED:
            return _oauth_error(OAuthError("invalid_grant"))
        return JSONResponse({"error": "server_error"}, status_code=fault.status)
    authority = sandbox.authority
    try:
        if credentials is None:
            raise OAuthError("invalid_client", status=401)
        authority.authenticate_client(*credentials)
        grant = form.get("grant_type")
        if grant == "authorization_code":
            tokens = authority.exchange_code(
                credentials[0], form.get("code", ""), form.get("redirect_uri", "")
            )
        elif grant == "refresh_token":
            tokens = authority.refresh(credentials[0], form.get("refresh_token", ""))
        else:
            raise OAuthError("unsupported_grant_type")
    except OAuthError as error:
        return _oauth_error(error)
    return deliver(fault, JSONResponse(token_json(tokens)))
