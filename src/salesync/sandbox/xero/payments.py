"""Payments against invoices into a bank account, refunds of credit notes, and credit
notes allocated to invoices.

Messages for the common refusals are Xero's own, as connector vendors list them
(https://www.chargebee.com/docs/1.0/integrations/articles-and-faq/xero-sync-error-invoice-number-must-be-unique.html
and related articles): only an AUTHORISED invoice takes a payment, and never more than is
outstanding. An invoice whose AmountDue reaches zero becomes PAID. A payment naming a
``CreditNote`` instead of an ``Invoice`` refunds that much of the credit note's remaining
credit (https://developer.xero.com/documentation/api/accounting/payments, "Refunds").
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from salesync.sandbox.xero.errors import ElementInvalid
from salesync.sandbox.xero.organisation import XeroOrganisation
from salesync.sandbox.xero.references import account_by_code, account_by_id
from salesync.sandbox.xero.values import cents, day_json, day_string, decimal_of, number, parse_day


def find_invoice(org: XeroOrganisation, ref: Any) -> dict[str, Any] | None:
    """The invoice a reference names by InvoiceID or InvoiceNumber."""
    if not isinstance(ref, dict):
        return None
    if ref.get("InvoiceID"):
        return org.get("Invoices", str(ref["InvoiceID"]))
    for invoice in org.all("Invoices"):
        if ref.get("InvoiceNumber") and invoice["InvoiceNumber"] == ref["InvoiceNumber"]:
            return invoice
    return None


def build_payment(
    org: XeroOrganisation, element: dict[str, Any], existing: dict[str, Any] | None
) -> dict[str, Any]:
    """Apply a payment to its invoice; on an existing payment only Status DELETED is taken."""
    if existing is not None:
        return _delete_payment(org, element, existing)
    if element.get("CreditNote") and not element.get("Invoice"):
        return _refund_credit(org, element)
    problems: list[str] = []
    invoice = find_invoice(org, element.get("Invoice"))
    account = _payment_account(org, element.get("Account"), problems)
    amount = decimal_of(element.get("Amount"))
    day = parse_day(element.get("Date")) if element.get("Date") else org.today()
    if invoice is None:
        problems.append("Invoice could not be found")
    elif invoice["Status"] != "AUTHORISED":
        problems.append("Payments can only be made against Authorised documents.")
    if amount is None or amount <= 0:
        problems.append("Payment amount must be greater than zero")
    elif invoice is not None and cents(amount) > _decimal(invoice["AmountDue"]):
        problems.append("Payment amount exceeds the amount outstanding on this document.")
    if day is None:
        problems.append("Date is not a valid date")
    if problems or invoice is None or account is None or amount is None or day is None:
        raise ElementInvalid(problems)
    amount = cents(amount)
    payment_id = str(uuid.uuid4())
    payment: dict[str, Any] = {
        "PaymentID": payment_id,
        "Date": day_json(day),
        "DateString": day_string(day),
        "Amount": number(amount),
        "Reference": str(element.get("Reference") or ""),
        "Status": "AUTHORISED",
        "PaymentType": "ACCRECPAYMENT" if invoice["Type"] == "ACCREC" else "ACCPAYPAYMENT",
        "IsReconciled": bool(element.get("IsReconciled", False)),
        "Account": {"AccountID": account["AccountID"], "Code": account["Code"]},
        "Invoice": {
            "InvoiceID": invoice["InvoiceID"],
            "InvoiceNumber": invoice["InvoiceNumber"],
            "Type": invoice["Type"],
            "Contact": invoice["Contact"],
        },
        "UpdatedDateUTC": org.stamp(),
    }
    invoice["Payments"].append(
        {"PaymentID": payment_id, "Date": payment["Date"], "Amount": payment["Amount"]}
    )
    _settle(org, invoice, paid=amount)
    org.put("Payments", payment_id, payment)
    return payment


def find_credit_note(org: XeroOrganisation, ref: Any) -> dict[str, Any] | None:
    """The credit note a reference names by CreditNoteID or CreditNoteNumber."""
    if not isinstance(ref, dict):
        return None
    if ref.get("CreditNoteID"):
        return org.get("CreditNotes", str(ref["CreditNoteID"]))
    for credit in org.all("CreditNotes"):
        if ref.get("CreditNoteNumber") and credit["CreditNoteNumber"] == ref["CreditNoteNumber"]:
            return credit
    return None


def _refund_credit(org: XeroOrganisation, element: dict[str, Any]) -> dict[str, Any]:
    """Pay out part of an AUTHORISED credit note's remaining credit from an account."""
    problems: list[str] = []
    credit = find_credit_note(org, element.get("CreditNote"))
    account = _payment_account(org, element.get("Account"), problems)
    amount = decimal_of(element.get("Amount"))
    day = parse_day(element.get("Date")) if element.get("Date") else org.today()
    if credit is None:
        problems.append("Credit note could not be found")
    elif credit["Status"] != "AUTHORISED":
        problems.append("Payments can only be made against Authorised documents.")
    if amount is None or amount <= 0:
        problems.append("Payment amount must be greater than zero")
    elif credit is not None and cents(amount) > _decimal(credit["RemainingCredit"]):
        problems.append("Payment amount exceeds the amount outstanding on this document.")
    if day is None:
        problems.append("Date is not a valid date")
    if problems or credit is None or account is None or amount is None or day is None:
        raise ElementInvalid(problems)
    amount = cents(amount)
    payment: dict[str, Any] = {
        "PaymentID": str(uuid.uuid4()),
        "Date": day_json(day),
        "DateString": day_string(day),
        "Amount": number(amount),
        "Reference": str(element.get("Reference") or ""),
        "Status": "AUTHORISED",
        "PaymentType": "ARCREDITPAYMENT" if credit["Type"] == "ACCRECCREDIT" else "APCREDITPAYMENT",
        "IsReconciled": bool(element.get("IsReconciled", False)),
        "Account": {"AccountID": account["AccountID"], "Code": account["Code"]},
        "CreditNote": {
            "CreditNoteID": credit["CreditNoteID"],
            "CreditNoteNumber": credit["CreditNoteNumber"],
            "Type": credit["Type"],
            "Contact": credit["Contact"],
        },
        "UpdatedDateUTC": org.stamp(),
    }
    credit.setdefault("Payments", []).append(
        {"PaymentID": payment["PaymentID"], "Date": payment["Date"], "Amount": payment["Amount"]}
    )
    _settle_credit(org, credit, -amount)
    org.put("Payments", payment["PaymentID"], payment)
    return payment


def _settle_credit(org: XeroOrganisation, credit: dict[str, Any], change: Decimal) -> None:
    remaining = _decimal(credit["RemainingCredit"]) + change
    credit["RemainingCredit"] = number(remaining)
    credit["Status"] = "PAID" if remaining == 0 else "AUTHORISED"
    credit["UpdatedDateUTC"] = org.stamp()
    org.put("CreditNotes", credit["CreditNoteID"], credit)


def _delete_payment(
    org: XeroOrganisation, element: dict[str, Any], existing: dict[str, Any]
) -> dict[str, Any]:
    if element.get("Status") != "DELETED" or existing["Status"] == "DELETED":
        raise ElementInvalid(["A payment can only be changed by setting its Status to DELETED"])
    if existing.get("CreditNote"):
        credit = org.get("CreditNotes", existing["CreditNote"]["CreditNoteID"])
        if credit is not None:
            credit["Payments"] = [
                p for p in credit.get("Payments", []) if p["PaymentID"] != existing["PaymentID"]
            ]
            _settle_credit(org, credit, _decimal(existing["Amount"]))
        existing["Status"] = "DELETED"
        existing["UpdatedDateUTC"] = org.stamp()
        org.put("Payments", existing["PaymentID"], existing)
        return existing
    invoice = org.get("Invoices", existing["Invoice"]["InvoiceID"])
    if invoice is not None:
        invoice["Payments"] = [
            p for p in invoice["Payments"] if p["PaymentID"] != existing["PaymentID"]
        ]
        _settle(org, invoice, paid=-_decimal(existing["Amount"]))
    existing["Status"] = "DELETED"
    existing["UpdatedDateUTC"] = org.stamp()
    org.put("Payments", existing["PaymentID"], existing)
    return existing


def _payment_account(org: XeroOrganisation, ref: Any, problems: list[str]) -> dict[str, Any] | None:
    account = None
    if isinstance(ref, dict) and ref.get("AccountID"):
        account = account_by_id(org, str(ref["AccountID"]))
    elif isinstance(ref, dict) and ref.get("Code"):
        account = account_by_code(org, str(ref["Code"]))
    if account is None or account["Status"] != "ACTIVE":
        problems.append("Account could not be found")
        return None
    if account["Type"] != "BANK" and not account.get("EnablePaymentsToAccount"):
        problems.append("Payments can only be made to a bank account or one enabled for payments")
    return account


def allocate_credit(
    org: XeroOrganisation, credit_note_id: str, element: dict[str, Any]
) -> dict[str, Any]:
    """Allocate part of an AUTHORISED credit note to an invoice of the same contact."""
    credit = org.get("CreditNotes", credit_note_id)
    if credit is None:
        raise ElementInvalid(["Credit note could not be found"])
    problems: list[str] = []
    invoice = find_invoice(org, element.get("Invoice"))
    amount = decimal_of(element.get("Amount"))
    day = parse_day(element.get("Date")) if element.get("Date") else org.today()
    if credit["Status"] != "AUTHORISED":
        problems.append("Only an authorised credit note can be allocated")
    if invoice is None:
        problems.append("Invoice could not be found")
    elif invoice["Status"] != "AUTHORISED":
        problems.append("Credit notes can only be allocated to Authorised documents.")
    elif invoice["Contact"].get("ContactID") != credit["Contact"].get("ContactID"):
        problems.append("The invoice and the credit note must be for the same contact")
    if amount is None or amount <= 0:
        problems.append("Allocation amount must be greater than zero")
    else:
        if cents(amount) > _decimal(credit["RemainingCredit"]):
            problems.append("The amount allocated exceeds the remaining credit on the credit note")
        if invoice is not None and cents(amount) > _decimal(invoice["AmountDue"]):
            problems.append("Allocation amount exceeds the amount outstanding on this document.")
    if day is None:
        problems.append("Date is not a valid date")
    if problems or invoice is None or amount is None or day is None:
        raise ElementInvalid(problems)
    amount = cents(amount)
    allocation = {
        "AllocationID": str(uuid.uuid4()),
        "Amount": number(amount),
        "Date": day_json(day),
        "Invoice": {"InvoiceID": invoice["InvoiceID"], "InvoiceNumber": invoice["InvoiceNumber"]},
    }
    credit["Allocations"].append(allocation)
    allocated = _decimal(credit.get("AllocatedAmount", 0)) + amount
    credit["AllocatedAmount"] = number(allocated)
    credit["RemainingCredit"] = number(_decimal(credit["RemainingCredit"]) - amount)
    if credit["RemainingCredit"] == 0:
        credit["Status"] = "PAID"
    credit["UpdatedDateUTC"] = org.stamp()
    org.put("CreditNotes", credit_note_id, credit)
    invoice["CreditNotes"].append(
        {"CreditNoteID": credit_note_id, "CreditNoteNumber": credit["CreditNoteNumber"]}
    )
    _settle(org, invoice, credited=amount)
    return allocation


def _settle(
    org: XeroOrganisation,
    invoice: dict[str, Any],
    *,
    paid: Decimal = Decimal(0),
    credited: Decimal = Decimal(0),
) -> None:
    total_paid = _decimal(invoice["AmountPaid"]) + paid
    total_credited = _decimal(invoice["AmountCredited"]) + credited
    due = _decimal(invoice["Total"]) - total_paid - total_credited
    invoice["AmountPaid"] = number(total_paid)
    invoice["AmountCredited"] = number(total_credited)
    invoice["AmountDue"] = number(due)
    invoice["Status"] = "PAID" if due == 0 else "AUTHORISED"
    if due == 0:
        invoice["FullyPaidOnDate"] = day_json(org.today())
    else:
        invoice.pop("FullyPaidOnDate", None)
    invoice["UpdatedDateUTC"] = org.stamp()
    org.put("Invoices", invoice["InvoiceID"], invoice)


def _decimal(value: Any) -> Decimal:
    return decimal_of(value) or Decimal(0)
