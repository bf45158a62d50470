"""A QuickBooks Online connection's settings, checked once when its books are opened.

Settings arrive from the connection row: typed by the API, or as ``KEY=VALUE`` strings
from the CLI, so the maps (``accounts``, ``departments``) are also accepted as JSON text.
Every problem is reported at once, each naming the setting to fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator

from salesync.connectors.destination import json_text
from salesync.domain.errors import ValidationError
from salesync.domain.validation import Problem

PRODUCTION_URL = "https://quickbooks.api.intuit.com"
MINOR_VERSION = 75
"""Intuit ignores minor versions below 75 since 1 August 2025 and answers them as 75
(https://developer.intuit.com/app/developer/qbo/docs/learn/explore-the-quickbooks-online-api/minor-versions);
pinning it means a later version's changes never arrive unannounced."""

AccountPolicy = Literal["create", "require"]
SalesForm = Literal["sales_receipt", "invoice", "journal_entry"]
CustomerPolicy = Literal["single", "each"]


class QboSettings(BaseModel):
    """What a connection says about its QuickBooks company and how to post into it."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    realm_id: str = Field(min_length=1)
    """The company id Intuit's consent screen hands back as ``realmId``."""
    base_url: str = PRODUCTION_URL
    minorversion: int = Field(default=MINOR_VERSION, ge=MINOR_VERSION)
    account_policy: AccountPolicy = "create"
    """``create``: an account or product salesync needs and the company lacks is created
    under a name derived from the salesync account; ``require``: it is a mapping error."""
    accounts: dict[str, str] = Field(default_factory=dict)
    """salesync account name -> QuickBooks account Id or name."""
    sales_form: SalesForm = "sales_receipt"
    departments: dict[str, str] = Field(default_factory=dict)
    """salesync location id -> QuickBooks location (Department) Id or name."""
    class_name: str | None = Field(default=None, alias="class")
    """A QuickBooks class every line is tagged with, by Id or name."""
    walk_in_customer: str = "Walk-in Customer"
    """The customer an invoice names when the sale has none (an invoice needs one)."""
    customers: CustomerPolicy = "single"
    """``single``: no sale names a customer of its own (a sales receipt names none, an
    invoice ``walk_in_customer``); ``each``: a sale whose source names its customer posts
    under a QuickBooks customer of its own, created when missing. ``single`` keeps the
    customer list, and the calls spent on it, from growing with every buyer, and keeps
    buyers' details out of the books; clienteling is where customers are followed.

    Kept for connections that set it: a sale posted under a mapping is recorded on the
    customer the mapping's customer policy decides, whatever this says; it speaks only
    for sales planned with the built-in chart."""

    @field_validator("accounts", "departments", mode="before")
    @classmethod
    def _json_text(cls, value: object) -> object:
        return json_text(value)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL, such as https://quickbooks.api.intuit.com")
        return value.rstrip("/")


def read_settings(settings: Mapping[str, Any], credentials: Mapping[str, Any]) -> QboSettings:
    """The connection's settings, or a ``ValidationError`` listing every bad one.

    The realm may also sit among the credentials, where the OAuth callback stored it.
    """
    raw = dict(settings)
    if not raw.get("realm_id"):
        realm = credentials.get("realm_id") or credentials.get("realmId")
        if realm:
            raw["realm_id"] = realm
    try:
        return QboSettings.model_validate(raw)
    except pydantic.ValidationError as exc:
        problems = tuple(
            Problem(
                "bad_setting",
                str(error["msg"]),
                ".".join(str(part) for part in error["loc"]) or "settings",
            )
            for error in exc.errors()
        )
    listed = "; ".join(str(p) for p in problems)
    raise ValidationError(
        f"the QuickBooks Online connection's settings are invalid: {listed}",
        user_message="The QuickBooks connection's settings need fixing before salesync can "
        f"post: {listed}.",
        code="bad_settings",
        provider="qbo",
        operation="connect",
        problems=problems,
    )
