"""A Xero connection's settings, checked when its books are opened."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import pydantic

from salesync.connectors.destination import json_text
from salesync.connectors.xero import errors
from salesync.domain.errors import MappingError

DEFAULT_BASE_URL = "https://api.xero.com"


class XeroSettings(pydantic.BaseModel):
    """What salesync needs to know about one connected Xero organisation."""

    model_config = pydantic.ConfigDict(frozen=True, extra="ignore")

    tenant_id: str = pydantic.Field(min_length=1)
    """The organisation's tenant id (``GET /connections``), sent as ``xero-tenant-id``."""
    base_url: str = DEFAULT_BASE_URL
    account_policy: Literal["create", "require"] = "create"
    """``create``: missing accounts are created; ``require``: each must be mapped."""
    accounts: dict[str, str] = {}
    """salesync account name -> Xero account code."""
    tracking_category: str = "Location"
    tracking: dict[str, str] = {}
    """Location id -> option of ``tracking_category``; no tracking when empty."""
    sales_form: Literal["invoice", "manual_journal", "bank_transaction"] = "bank_transaction"
    """How per-order sales and refunds are written; everything else is a manual journal.

    ``bank_transaction`` (the default): a sale or refund settled at the till by one tender
    into an asset account is one "receive money" or "spend money" transaction in that
    account, when it is a bank account in Xero in the sale's currency (``create`` makes
    salesync's own clearing and cash drawer accounts banks); sales with several tenders,
    or a tender into a liability (gift card) or any other account, stay invoices (refunds
    credit notes) with their payments. As Xero refuses manual journals on bank accounts, an
    entry that moves money in one bank account (a payout) is a bank transaction too, and
    one moving money into several (a day's cash and card takings) an invoice paid into
    each.

    ``invoice``: every per-order sale an invoice with one payment per tender, every
    refund a credit note refunded per tender. ``manual_journal``: everything a journal."""
    cash_contact: str = pydantic.Field(default="Cash Sales", min_length=1, max_length=255)
    """The contact of sales with no customer, and of every sale under ``single``."""
    customers: Literal["single", "each"] = "single"
    """``single``: every sale and refund names ``cash_contact``; ``each``: a sale whose
    source names its customer names a contact of its own, created when missing. ``single``
    keeps the contact list, and the calls spent on it, from growing with every buyer,
    and keeps buyers' details out of the books.

    Kept for connections that set it: a sale posted under a mapping names the contact the
    mapping's customer policy decides, whatever this says; it speaks only for sales
    planned with the built-in chart."""
    no_tax_type: str | None = None
    """The zero tax rate of lines (found in the organisation when not given)."""

    @pydantic.field_validator("accounts", "tracking", mode="before")
    @classmethod
    def _json_text(cls, value: object) -> object:
        """Maps given on the command line arrive as JSON text."""
        return json_text(value)

    @classmethod
    def of(cls, settings: Mapping[str, Any], connection_id: str) -> XeroSettings:
        """The settings, or a ``MappingError`` listing every problem in them."""
        try:
            return cls.model_validate(dict(settings))
        except pydantic.ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}"
                for e in exc.errors()
            )
            raise MappingError(
                f"Xero connection {connection_id} has invalid settings: {problems}",
                user_message=f"The Xero connection's settings need fixing before salesync "
                f"can post: {problems}.",
                code="settings_invalid",
                connection=connection_id,
                provider=errors.PROVIDER,
                operation="connect",
            ) from None
