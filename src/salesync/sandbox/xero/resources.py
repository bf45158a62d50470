"""The Accounting API endpoints the sandbox serves and how each one is written and found."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from salesync.sandbox.xero.bank_transactions import build_bank_transaction
from salesync.sandbox.xero.documents import (
    CREDIT_NOTE,
    INVOICE,
    build_credit_note,
    build_invoice,
    find_by_number,
)
from salesync.sandbox.xero.journals import build_manual_journal
from salesync.sandbox.xero.lists import (
    build_account,
    build_contact,
    build_item,
    match_contact,
    match_item,
)
from salesync.sandbox.xero.organisation import XeroOrganisation
from salesync.sandbox.xero.payments import build_payment

Builder = Callable[[XeroOrganisation, dict[str, Any], dict[str, Any] | None], dict[str, Any]]
Matcher = Callable[[XeroOrganisation, dict[str, Any]], dict[str, Any] | None]


@dataclass(frozen=True, slots=True)
class Resource:
    """One collection: its id field, how an element is saved and how POST finds a match."""

    collection: str
    id_field: str
    singular: str
    build: Builder | None = None
    """None for collections the API only reads."""
    match: Matcher | None = None
    """How a POST element without an id finds the object it updates, if it can."""
    keys: tuple[str, ...] = ()
    """Fields besides the id that ``GET /{collection}/{key}`` accepts."""


def _match_invoice(org: XeroOrganisation, element: dict[str, Any]) -> dict[str, Any] | None:
    return find_by_number(org, INVOICE, element.get("Type"), element.get("InvoiceNumber"))


def _match_credit_note(org: XeroOrganisation, element: dict[str, Any]) -> dict[str, Any] | None:
    return find_by_number(org, CREDIT_NOTE, element.get("Type"), element.get("CreditNoteNumber"))


RESOURCES: dict[str, Resource] = {
    r.collection.lower(): r
    for r in (
        Resource(
            "Invoices", "InvoiceID", "Invoice", build_invoice, _match_invoice, ("InvoiceNumber",)
        ),
        Resource(
            "CreditNotes",
            "CreditNoteID",
            "Credit note",
            build_credit_note,
            _match_credit_note,
            ("CreditNoteNumber",),
        ),
        Resource("Payments", "PaymentID", "Payment", build_payment),
        Resource("ManualJournals", "ManualJournalID", "Manual journal", build_manual_journal),
        Resource(
            "BankTransactions", "BankTransactionID", "Bank transaction", build_bank_transaction
        ),
        Resource(
            "Contacts", "ContactID", "Contact", build_contact, match_contact, ("ContactNumber",)
        ),
        Resource("Items", "ItemID", "Item", build_item, match_item, ("Code",)),
        Resource("Accounts", "AccountID", "Account", build_account),
        Resource("TaxRates", "TaxType", "Tax rate"),
        Resource("TrackingCategories", "TrackingCategoryID", "Tracking category"),
    )
}
"""By lower-case URL segment; Xero's paths are not case sensitive."""
