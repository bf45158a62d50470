"""Forms to the JSON Xero's Accounting API takes, and Xero's answers back to references.

Field names follow https://developer.xero.com/documentation/api/accounting/invoices,
.../creditnotes, .../payments, .../manualjournals and .../banktransactions. A document's
number carries the posting's short reference and its ``Reference`` the full key; a manual
journal, which has neither, carries both in its narration; a bank transaction, which has
only a ``Reference``, carries both there, the short one first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from salesync.connectors.xero.forms import (
    REFERENCE_MAX,
    BankForm,
    DocumentForm,
    JournalForm,
    Line,
)


@dataclass(frozen=True, slots=True)
class Kind:
    """How Xero names one kind of document."""

    collection: str
    id_field: str
    number_field: str
    type: str
    prefix: str
    """Of the reference salesync keeps (``Invoice:<id>``) and of a payment's target."""


KINDS = {
    "invoice": Kind("Invoices", "InvoiceID", "InvoiceNumber", "ACCREC", "Invoice"),
    "credit_note": Kind(
        "CreditNotes", "CreditNoteID", "CreditNoteNumber", "ACCRECCREDIT", "CreditNote"
    ),
}
BANK_TRANSACTION = "BankTransaction"
"""The prefix of a bank transaction's reference (``BankTransaction:<id>``)."""
SETTLED = frozenset({"PAID", "VOIDED", "DELETED"})
"""Statuses in which a document needs nothing more from salesync."""


def amount(value: Decimal) -> float:
    """A JSON number for an amount (Xero's API takes and gives doubles)."""
    return float(value)


def _tracked(entry: dict[str, Any], tracking: list[dict[str, str]]) -> dict[str, Any]:
    return {**entry, "Tracking": tracking} if tracking else entry


def _line_item(
    line: Line, codes: Mapping[str, str], tax_type: str, items: set[str]
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "Description": line.description[:4000],
        "AccountCode": codes[line.account],
        "TaxType": tax_type,
        "LineAmount": amount(line.amount),
    }
    if line.quantity is not None and line.unit_amount is not None:
        entry |= {"Quantity": amount(line.quantity), "UnitAmount": amount(line.unit_amount)}
    else:
        entry |= {"Quantity": 1.0, "UnitAmount": amount(line.amount)}
    if line.item is not None and line.item.code in items:
        entry["ItemCode"] = line.item.code
    return entry


def document_json(
    form: DocumentForm,
    *,
    codes: Mapping[str, str],
    tax_type: str,
    tracking: list[dict[str, str]],
    contact_id: str,
    items: set[str],
) -> dict[str, Any]:
    """The ACCREC invoice or ACCRECCREDIT credit note for ``form``, authorised."""
    kind = KINDS[form.kind]
    body: dict[str, Any] = {
        "Type": kind.type,
        "Contact": {"ContactID": contact_id},
        "Date": form.day.isoformat(),
        "Status": "AUTHORISED",
        kind.number_field: form.number,
        "Reference": form.key[:REFERENCE_MAX],
        "CurrencyCode": form.currency,
        "LineAmountTypes": form.amount_types,
        "LineItems": [
            _tracked(_line_item(line, codes, tax_type, items), tracking) for line in form.lines
        ],
    }
    if form.kind == "invoice":
        body["DueDate"] = form.day.isoformat()
    return body


def bank_transaction_json(
    form: BankForm,
    *,
    codes: Mapping[str, str],
    tax_type: str,
    tracking: list[dict[str, str]],
    contact_id: str,
    items: set[str],
) -> dict[str, Any]:
    """The RECEIVE or SPEND bank transaction for ``form``, authorised. No CurrencyCode:
    Xero keeps a spend or receive money transaction in its bank account's currency."""
    return {
        "Type": form.type,
        "Contact": {"ContactID": contact_id},
        "BankAccount": {"Code": codes[form.bank]},
        "Date": form.day.isoformat(),
        "Status": "AUTHORISED",
        "Reference": form.reference,
        "LineAmountTypes": form.amount_types,
        "LineItems": [
            _tracked(_line_item(line, codes, tax_type, items), tracking) for line in form.lines
        ],
    }


def payment_json(
    form: DocumentForm, index: int, document_id: str, codes: Mapping[str, str]
) -> dict[str, Any]:
    """The payment (for a credit note: the refund) of one tender."""
    tender = form.tenders[index]
    kind = KINDS[form.kind]
    return {
        kind.prefix: {kind.id_field: document_id},
        "Account": {"Code": codes[tender.account]},
        "Date": form.day.isoformat(),
        "Amount": amount(tender.amount),
        "Reference": form.payment_reference(index),
    }


def journal_json(
    form: JournalForm, *, codes: Mapping[str, str], tracking: list[dict[str, str]]
) -> dict[str, Any]:
    """The posted manual journal for ``form``: debits positive, credits negative."""
    return {
        "Narration": form.narration,
        "Date": form.day.isoformat(),
        "Status": "POSTED",
        "LineAmountTypes": "NoTax",
        "JournalLines": [
            _tracked(
                {
                    "LineAmount": amount(line.amount),
                    "AccountCode": codes[line.account],
                    "Description": line.description[:4000],
                },
                tracking,
            )
            for line in form.lines
        ],
    }


@dataclass(frozen=True, slots=True)
class Existing:
    """A posting's document as Xero holds it."""

    prefix: str
    id: str
    complete: bool
    """False for an invoice or credit note still waiting for some of its payments."""

    @property
    def ref(self) -> str:
        return f"{self.prefix}:{self.id}"


def existing_document(document: Mapping[str, Any], kind: str) -> Existing:
    """A found invoice or credit note: complete once nothing is left to pay or refund."""
    names = KINDS[kind]
    left = document.get("AmountDue" if kind == "invoice" else "RemainingCredit", 0)
    complete = document.get("Status") in SETTLED or Decimal(str(left or 0)) == 0
    return Existing(names.prefix, str(document[names.id_field]), complete)


def errors_of(element: Mapping[str, Any]) -> list[str]:
    """The ValidationErrors messages of one answered element (none when it was saved)."""
    found = element.get("ValidationErrors") or []
    messages = [str(e.get("Message", "")) for e in found if isinstance(e, dict)]
    if not messages and element.get("HasErrors"):
        messages = ["Xero marked the element as failed without saying why"]
    return messages
