"""A QuickBooks Desktop connection's settings, checked when its books are opened."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator

from salesync.connectors.destination import json_text
from salesync.domain.errors import ValidationError
from salesync.domain.validation import Problem

ACCOUNT_NAME_LIMIT = 31
"""QuickBooks Desktop holds 31 characters in each part of an account's full name."""


class QbdSettings(BaseModel):
    """How a connection posts into its company file."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    accounts: dict[str, str] = Field(default_factory=dict)
    """salesync account -> the company file's account full name (``Income:Sales``);
    an account not listed posts to the account of the same full name."""
    sales_form: Literal["journal_entry", "sales_receipt"] = "journal_entry"
    """``sales_receipt``: a per-order sale paid with one tender becomes a sales receipt
    (its amounts carried by items, one per account) and a payout into the bank a
    deposit; anything else, and everything under ``journal_entry``, a journal entry."""
    items: dict[str, str] = Field(default_factory=dict)
    """salesync account -> the item that carries its amounts on sales receipts; an account
    not listed gets an item of its own, created on the way."""
    run_every_minutes: int = Field(default=15, ge=1, le=1440)
    """How often the Web Connector runs (the .qwc file's scheduler)."""

    @field_validator("accounts", "items", mode="before")
    @classmethod
    def _json_text(cls, value: object) -> object:
        return json_text(value)

    @field_validator("accounts")
    @classmethod
    def _fits(cls, value: dict[str, str]) -> dict[str, str]:
        for target in value.values():
            too_long = [p for p in target.split(":") if not p or len(p) > ACCOUNT_NAME_LIMIT]
            if too_long:
                raise ValueError(
                    f"{target!r}: each part of a QuickBooks account name holds 1 to "
                    f"{ACCOUNT_NAME_LIMIT} characters"
                )
        return value

    def account(self, name: str) -> str:
        return self.accounts.get(name, name)


def read_settings(settings: Mapping[str, Any]) -> QbdSettings:
    """The connection's settings, or a ``ValidationError`` listing every bad one."""
    try:
        return QbdSettings.model_validate(dict(settings))
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
        f"the QuickBooks Desktop connection's settings are invalid: {listed}",
        user_message="The QuickBooks Desktop connection's settings need fixing before "
        f"salesync can post: {listed}.",
        code="bad_settings",
        provider="qbd",
        operation="connect",
        problems=problems,
    )
