"""Invoices and credit notes: line items, tax and totals computed by the server, statuses.

Field rules follow https://developer.xero.com/documentation/api/accounting/invoices and
.../creditnotes: ACCREC invoice numbers are unique (ACCPAY ones are not), a missing number
is assigned from the organisation's sequence, ``LineAmountTypes`` defaults to Exclusive,
and a document with a payment or credit allocated can no longer be edited.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from salesync.sandbox.xero.errors import ElementInvalid
from salesync.sandbox.xero.organisation import XeroOrganisation
from salesync.sandbox.xero.references import (
    resolve_account,
    resolve_contact,
    resolve_item,
    resolve_tax_rate,
    resolve_tracking,
)
from salesync.sandbox.xero.values import cents, day_json, day_string, decimal_of, number, parse_day

LINE_AMOUNT_TYPES = frozenset({"Exclusive", "Inclusive", "NoTax"})
EDITABLE = frozenset({"DRAFT", "SUBMITTED", "AUTHORISED"})
MAX_NUMBER_LENGTH = 255


@dataclass(frozen=True, slots=True)
class DocumentKind:
    """What differs between invoices and credit notes."""

    collection: str
    id_field: str
    number_field: str
    types: frozenset[str]
    unique_type: str
    """The type whose numbers must be unique in the organisation."""
    prefix: str


INVOICE = DocumentKind(
    "Invoices", "InvoiceID", "InvoiceNumber", frozenset({"ACCREC", "ACCPAY"}), "ACCREC", "INV"
)
CREDIT_NOTE = DocumentKind(
    "CreditNotes",
    "CreditNoteID",
    "CreditNoteNumber",
    frozenset({"ACCRECCREDIT", "ACCPAYCREDIT"}),
    "ACCRECCREDIT",
    "CN",
)


def build_invoice(
    org: XeroOrganisation, element: dict[str, Any], existing: dict[str, Any] | None
) -> dict[str, Any]:
    """Create or update an invoice (ACCREC or ACCPAY) and save it."""
    return _build(org, INVOICE, element, existing)


def build_credit_note(
    org: XeroOrganisation, element: dict[str, Any], existing: dict[str, Any] | None
) -> dict[str, Any]:
    """Create or update a credit note (ACCRECCREDIT or ACCPAYCREDIT) and save it."""
    return _build(org, CREDIT_NOTE, element, existing)


def find_by_number(
    org: XeroOrganisation, kind: DocumentKind, doc_type: Any, doc_number: Any
) -> dict[str, Any] | None:
    """The document of the unique type carrying ``doc_number``, which POST updates."""
    if doc_type != kind.unique_type or not doc_number:
        return None
    for doc in org.all(kind.collection):
        if doc.get("Type") == doc_type and doc.get(kind.number_field) == doc_number:
            return doc
    return None


@dataclass(frozen=True, slots=True)
class _Header:
    """The validated fields of a document besides its lines and number."""

    doc_type: str
    contact: dict[str, Any] | None
    new_contact: bool
    status: str
    amount_types: str
    currency: str
    day: date | None
    due: date | None


def _build(
    org: XeroOrganisation,
    kind: DocumentKind,
    element: dict[str, Any],
    existing: dict[str, Any] | None,
) -> dict[str, Any]:
    """Validate ``element`` (merged over ``existing`` on update); save and return it."""
    problems: list[str] = []
    if existing is not None:
        _check_editable(existing, element, problems)
        if problems:
            raise ElementInvalid(problems)
        element = {**existing, **element}
    head = _header(org, kind, element, problems)
    lines, sub_total, total_tax = line_items(
        org, element.get("LineItems"), head.amount_types, head.status != "DRAFT", problems
    )
    doc_number = _number(org, kind, element, existing, problems)
    if problems or head.day is None:
        raise ElementInvalid(problems)
    contact = head.contact
    if contact is not None and head.new_contact:
        contact["ContactID"] = str(uuid.uuid4())
        contact["UpdatedDateUTC"] = org.stamp()
        org.put("Contacts", contact["ContactID"], contact)
    doc_id = existing[kind.id_field] if existing else str(uuid.uuid4())
    doc: dict[str, Any] = {
        "Type": head.doc_type,
        kind.id_field: doc_id,
        kind.number_field: doc_number or org.next_number(kind.prefix),
        "Reference": str(element.get("Reference") or ""),
        "Contact": {"ContactID": contact["ContactID"], "Name": contact["Name"]} if contact else {},
        "Date": day_json(head.day),
        "DateString": day_string(head.day),
        "Status": head.status,
        "LineAmountTypes": head.amount_types,
        "LineItems": lines,
        "SubTotal": number(sub_total),
        "TotalTax": number(total_tax),
        "Total": number(sub_total + total_tax),
        "CurrencyCode": head.currency,
        "UpdatedDateUTC": org.stamp(),
    }
    if head.due is not None:
        doc["DueDate"], doc["DueDateString"] = day_json(head.due), day_string(head.due)
    doc.update(_balances(kind, existing, sub_total + total_tax))
    doc["HasErrors"] = False
    org.put(kind.collection, doc_id, doc)
    return doc


def _header(
    org: XeroOrganisation, kind: DocumentKind, element: dict[str, Any], problems: list[str]
) -> _Header:
    doc_type = str(element.get("Type") or "")
    if doc_type not in kind.types:
        singular = "Invoice" if kind is INVOICE else "Credit Note"
        problems.append(f"{singular} Type must be specified")
    contact, new_contact = resolve_contact(org, element.get("Contact"), problems)
    status = str(element.get("Status") or "DRAFT")
    if status not in EDITABLE | {"DELETED", "VOIDED"}:
        problems.append(f"Invalid status '{status}'")
    amount_types = str(element.get("LineAmountTypes") or "Exclusive")
    if amount_types not in LINE_AMOUNT_TYPES:
        problems.append(f"LineAmountTypes '{amount_types}' is not valid")
    currency = str(element.get("CurrencyCode") or org.base_currency)
    if currency != org.base_currency:
        problems.append(f"The currency '{currency}' is not enabled for this organisation")
    day = parse_day(element.get("Date")) if element.get("Date") else org.today()
    if day is None:
        problems.append("Date is not a valid date")
    due = parse_day(element.get("DueDate")) if element.get("DueDate") else None
    if element.get("DueDate") and due is None:
        problems.append("DueDate is not a valid date")
    return _Header(doc_type, contact, new_contact, status, amount_types, currency, day, due)


def _balances(
    kind: DocumentKind, existing: dict[str, Any] | None, total: Decimal
) -> dict[str, Any]:
    """What is paid, credited or allocated against the document, carried over an update."""
    settled = _settled(existing)
    earlier = existing or {}
    if kind is INVOICE:
        return {
            "AmountPaid": number(settled["paid"]),
            "AmountCredited": number(settled["credited"]),
            "AmountDue": number(total - settled["paid"] - settled["credited"]),
            "Payments": earlier.get("Payments", []),
            "CreditNotes": earlier.get("CreditNotes", []),
        }
    return {
        "RemainingCredit": number(total - settled["allocated"]),
        "Allocations": earlier.get("Allocations", []),
    }


def _check_editable(existing: dict[str, Any], element: dict[str, Any], problems: list[str]) -> None:
    settled = _settled(existing)
    if any(settled.values()):
        problems.append(
            "This document cannot be edited as it has a payment or credit note allocated to it."
        )
    elif existing["Status"] not in EDITABLE:
        problems.append("Invoice not of valid status for modification")
    target = element.get("Status")
    if target == "DELETED" and existing["Status"] == "AUTHORISED":
        problems.append("An authorised document cannot be deleted; void it instead")
    if target == "VOIDED" and existing["Status"] != "AUTHORISED":
        problems.append("Only an authorised document can be voided")


def _settled(existing: dict[str, Any] | None) -> dict[str, Decimal]:
    if existing is None:
        return {"paid": Decimal(0), "credited": Decimal(0), "allocated": Decimal(0)}
    return {
        key: decimal_of(existing.get(field, 0)) or Decimal(0)
        for key, field in (
            ("paid", "AmountPaid"),
            ("credited", "AmountCredited"),
            ("allocated", "AllocatedAmount"),
        )
    }


def _number(
    org: XeroOrganisation,
    kind: DocumentKind,
    element: dict[str, Any],
    existing: dict[str, Any] | None,
    problems: list[str],
) -> str:
    doc_number = str(element.get(kind.number_field) or "").strip()
    if len(doc_number) > MAX_NUMBER_LENGTH:
        problems.append(f"{kind.number_field} must not be more than 255 characters long.")
    same = find_by_number(org, kind, element.get("Type"), doc_number)
    own_id = existing[kind.id_field] if existing else None
    if same is not None and same[kind.id_field] != own_id:
        problems.append(
            "Invoice # must be unique." if kind is INVOICE else "Credit Note # must be unique."
        )
    return doc_number


def line_items(
    org: XeroOrganisation,
    raw: Any,
    amount_types: str,
    need_accounts: bool,
    problems: list[str],
) -> tuple[list[dict[str, Any]], Decimal, Decimal]:
    """Lines with LineAmount and TaxAmount computed; returns them, SubTotal and TotalTax."""
    if not isinstance(raw, list) or not raw:
        problems.append("One or more line items must be specified")
        return [], Decimal(0), Decimal(0)
    lines = []
    gross = Decimal(0)
    total_tax = Decimal(0)
    for entry in raw:
        line = dict(entry) if isinstance(entry, dict) else {}
        if line.get("ItemCode"):
            item = resolve_item(org, line["ItemCode"], problems)
            sales = item["SalesDetails"] if item else {}
            line.setdefault("Description", item["Name"] if item else "")
            line.setdefault("AccountCode", sales.get("AccountCode"))
            line.setdefault("TaxType", sales.get("TaxType"))
        line_amount = _line_amount(line, problems)
        rate = Decimal(0)
        if line.get("AccountCode"):
            account = resolve_account(org, line["AccountCode"], problems)
            if account is not None:
                line.setdefault("TaxType", account["TaxType"])
        elif need_accounts:
            problems.append("Account code must be specified for each line item")
        if line.get("TaxType") and amount_types != "NoTax":
            rate = resolve_tax_rate(org, line["TaxType"], problems)
        if amount_types == "Inclusive":
            tax = cents(line_amount * rate / (100 + rate))
        else:
            tax = cents(line_amount * rate / 100)
        line["Tracking"] = resolve_tracking(org, line.get("Tracking"), problems)
        line["LineAmount"] = number(line_amount)
        line["TaxAmount"] = number(tax)
        line.setdefault("LineItemID", str(uuid.uuid4()))
        lines.append(line)
        gross += line_amount
        total_tax += tax
    sub_total = gross - total_tax if amount_types == "Inclusive" else gross
    return lines, sub_total, total_tax


def _line_amount(line: dict[str, Any], problems: list[str]) -> Decimal:
    quantity = decimal_of(line.get("Quantity", 1))
    unit = decimal_of(line.get("UnitAmount")) if "UnitAmount" in line else None
    given = decimal_of(line.get("LineAmount")) if "LineAmount" in line else None
    if quantity is None or quantity < 0:
        problems.append(f"The quantity value '{line.get('Quantity')}' is invalid.")
        return Decimal(0)
    if unit is None and given is None:
        problems.append("A line item needs a UnitAmount or a LineAmount")
        return Decimal(0)
    line["Quantity"] = number(quantity)
    if unit is None:
        line["UnitAmount"] = number(given / quantity) if given is not None and quantity else 0.0
        return cents(given or Decimal(0))
    expected = cents(quantity * unit)
    line["UnitAmount"] = number(unit)
    if given is not None and cents(given) != expected:
        problems.append(
            f"The line total {cents(given)} does not match the expected line total {expected}"
        )
    return expected
