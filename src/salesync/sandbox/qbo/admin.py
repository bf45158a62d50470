"""Control endpoints under /_sandbox: faults, company settings, time, tokens, inspection.

They are not part of Intuit's API; tests and the demo drive the sandbox with them.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

from salesync.sandbox.controls import consent_routes, fault_routes
from salesync.sandbox.oauth import OAuthError
from salesync.sandbox.qbo.entities import ENTITIES

if TYPE_CHECKING:
    from salesync.sandbox.qbo.service import QboSandbox


class SettingsPatch(BaseModel):
    """Company preferences to change; absent fields stay as they are."""

    duplicate_doc_number_check: bool | None = None
    subscription_active: bool | None = None
    requestid_ttl_seconds: float | None = None


class AdvanceRequest(BaseModel):
    seconds: float = Field(ge=0)


class TokenRequest(BaseModel):
    client_id: str


def add_admin_routes(app: FastAPI, sandbox: QboSandbox) -> None:
    company = sandbox.company

    @app.get("/_sandbox/state")
    def state() -> dict[str, Any]:
        """Realm, time, settings and how many objects of each entity exist."""
        with company.lock:
            return {
                "realm_id": company.realm_id,
                "name": company.name,
                "now": company.now().isoformat(),
                "settings": _settings_json(sandbox),
                "counts": {name: len(objs) for name, objs in company.entities.items()},
            }

    app.include_router(fault_routes(sandbox.faults))
    app.include_router(consent_routes(sandbox.authority))

    @app.get("/_sandbox/entities/{entity}")
    def list_entities(entity: str) -> list[dict[str, Any]]:
        """Every stored object of one entity (e.g. SalesReceipt), oldest first."""
        return company.all(ENTITIES.get(entity.lower(), entity))

    @app.patch("/_sandbox/settings")
    def patch_settings(patch: SettingsPatch) -> dict[str, Any]:
        with company.lock:
            if patch.duplicate_doc_number_check is not None:
                company.settings.duplicate_doc_number_check = patch.duplicate_doc_number_check
            if patch.subscription_active is not None:
                company.settings.subscription_active = patch.subscription_active
            if patch.requestid_ttl_seconds is not None:
                company.settings.requestid_ttl = timedelta(seconds=patch.requestid_ttl_seconds)
        return _settings_json(sandbox)

    @app.post("/_sandbox/clock/advance")
    def advance(request: AdvanceRequest) -> dict[str, str]:
        """Move the company's time forward (tokens expire, rate windows slide)."""
        company.advance(timedelta(seconds=request.seconds))
        return {"now": company.now().isoformat()}

    @app.get("/_sandbox/requests")
    def requests() -> list[dict[str, Any]]:
        """Every API call seen, with its operation, requestid, minor version and status."""
        with company.lock:
            return [{**asdict(r), "at": r.at.isoformat()} for r in company.requests]

    @app.post("/_sandbox/tokens")
    def tokens(request: TokenRequest) -> dict[str, Any]:
        """A token pair for the company without the consent redirect."""
        try:
            issued = sandbox.authority.issue_tokens(request.client_id, company.realm_id)
        except OAuthError as error:
            raise HTTPException(status_code=error.status, detail=error.error) from None
        return {
            "access_token": issued.access_token,
            "refresh_token": issued.refresh_token,
            "expires_in": issued.expires_in,
            "x_refresh_token_expires_in": issued.refresh_expires_in,
            "realmId": company.realm_id,
        }

    @app.post("/_sandbox/disconnect")
    def disconnect() -> dict[str, int]:
        """The user disconnects the app in QuickBooks: every grant to the company is revoked."""
        return {"revoked": sandbox.authority.revoke_subject(company.realm_id)}


def _settings_json(sandbox: QboSandbox) -> dict[str, Any]:
    settings = sandbox.company.settings
    ttl = settings.requestid_ttl
    return {
        "duplicate_doc_number_check": settings.duplicate_doc_number_check,
        "subscription_active": settings.subscription_active,
        "requestid_ttl_seconds": ttl.total_seconds() if ttl is not None else None,
    }
