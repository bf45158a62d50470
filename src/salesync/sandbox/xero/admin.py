"""Control endpoints under /_sandbox: faults, limits, time, tokens, connection, inspection.

They are not part of Xero's API; tests and the demo drive the sandbox with them.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

from salesync.sandbox.controls import consent_routes, fault_routes
from salesync.sandbox.oauth import OAuthError
from salesync.sandbox.xero.identity import token_json
from salesync.sandbox.xero.resources import RESOURCES

if TYPE_CHECKING:
    from salesync.sandbox.xero.service import XeroSandbox


class LimitsPatch(BaseModel):
    """Limits to change; absent fields stay as they are.

    A Starter-tier app gets 1,000 calls a day instead of 5,000; lowering the app-wide
    minute limit stands in for the app's traffic to other organisations.
    """

    day_limit: int | None = Field(default=None, ge=1)
    app_minute_limit: int | None = Field(default=None, ge=1)


class AdvanceRequest(BaseModel):
    seconds: float = Field(ge=0)


class TokenRequest(BaseModel):
    client_id: str


def add_admin_routes(app: FastAPI, sandbox: XeroSandbox) -> None:
    """Serve the /_sandbox control endpoints."""
    org = sandbox.organisation

    @app.get("/_sandbox/state")
    def state() -> dict[str, Any]:
        """Tenant, time, connection, limits and how many objects of each collection exist."""
        with org.lock:
            return {
                "tenant_id": org.tenant_id,
                "name": org.name,
                "now": org.now().isoformat(),
                "connected": org.connected,
                "limits": _limits_json(sandbox),
                "counts": {name: len(objs) for name, objs in org.collections.items()},
            }

    app.include_router(fault_routes(sandbox.faults))
    app.include_router(consent_routes(sandbox.authority))

    @app.get("/_sandbox/entities/{collection}")
    def list_entities(collection: str) -> list[dict[str, Any]]:
        """Every stored object of one collection (e.g. Invoices), oldest first."""
        resource = RESOURCES.get(collection.lower())
        return org.all(resource.collection if resource else collection)

    @app.patch("/_sandbox/limits")
    def patch_limits(patch: LimitsPatch) -> dict[str, int]:
        if patch.day_limit is not None:
            sandbox.day.limit = patch.day_limit
        if patch.app_minute_limit is not None:
            sandbox.app_minute.limit = patch.app_minute_limit
        return _limits_json(sandbox)

    @app.post("/_sandbox/clock/advance")
    def advance(request: AdvanceRequest) -> dict[str, str]:
        """Move the organisation's time forward (tokens expire, windows reset, keys age)."""
        org.advance(timedelta(seconds=request.seconds))
        return {"now": org.now().isoformat()}

    @app.get("/_sandbox/requests")
    def requests() -> list[dict[str, Any]]:
        """Every API call seen, with its operation, tenant, idempotency key and status."""
        with org.lock:
            return [{**asdict(r), "at": r.at.isoformat()} for r in org.requests]

    @app.post("/_sandbox/tokens")
    def tokens(request: TokenRequest) -> dict[str, Any]:
        """A token pair for the organisation without the consent redirect; connects it."""
        try:
            issued = sandbox.authority.issue_tokens(request.client_id, org.tenant_id)
        except OAuthError as error:
            raise HTTPException(status_code=error.status, detail=error.error) from None
        org.connect()
        return {**token_json(issued), "tenant_id": org.tenant_id}

    @app.post("/_sandbox/disconnect")
    def disconnect() -> dict[str, bool]:
        """The user disconnects the app in Xero: calls for the tenant get 403 from now on."""
        org.disconnect()
        return {"connected": False}


def _limits_json(sandbox: XeroSandbox) -> dict[str, int]:
    return {
        "minute_limit": sandbox.minute.limit,
        "day_limit": sandbox.day.limit,
        "app_minute_limit": sandbox.app_minute.limit,
        "concurrent_limit": sandbox.gate.limit,
    }
