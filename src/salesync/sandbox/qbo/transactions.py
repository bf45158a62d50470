"""QBO transactions: validation and server-side totals for sales forms, payments,
journal entries and deposits."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from salesync.sandbox.qbo import errors
from salesync.sandbox.qbo.company import QboCompany
from salesync.sandbox.qbo.references import (
    amount,
    as_json_number,
    check_length,
    require_ref,
    resolve_ref,
)

UNDEPOSITED_FUNDS = "4"
SALES_FORMS = frozenset({"SalesReceipt", "RefundReceipt", "Invoice"})
DOC_NUMBER_GROUPS: dict[str, frozenset[str]] = {
    # Sales forms share one number sequence in QBO; journal entries have their own.
    **dict.fromkeys(SALES_FORMS, SALES_FORMS),
    "JournalEntry": frozenset({"JournalEntry"}),
}
TXN_LABELS = {
    "SalesReceipt": "Sales Receipt",
    "RefundReceipt": "Refund Receipt",
    "Invoice": "Invoice",
    "JournalEntry": "Journal Entry",
}
DOC_NUMBER_MAX = 21
"""https://www.chargebee.com/docs/billing/2.0/kb/accounting/qbo-error-code2050"""


def build_transaction(
    company: QboCompany, entity: str, obj: dict[str, Any], own_id: str | None, allow_dup: bool
) -> dict[str, Any]:
    """Validate a transaction and fill in what the server computes; raises QboError."""
    obj.setdefault("TxnDate", company.now().date().isoformat())
    obj.setdefault("CurrencyRef", {"value": "USD", "name": "United States Dollar"})
    check_length(obj, "DocNumber", DOC_NUMBER_MAX)
    check_length(obj, "PrivateNote", 4000)
    if obj.get("DocNumber") and company.settings.duplicate_doc_number_check and not allow_dup:
        _check_duplicate_doc_number(company, entity, str(obj["DocNumber"]), own_id)
    for field in ("ClassRef", "DepartmentRef"):
        resolve_ref(company, obj, field)
    _BUILDERS[entity](company, obj, own_id)
    return obj


def _check_duplicate_doc_number(
    company: QboCompany, entity: str, doc_number: str, own_id: str | None
) -> None:
    for other_entity in sorted(DOC_NUMBER_GROUPS.get(entity, frozenset())):
        other = company.first(
            other_entity, lambda o: o.get("DocNumber") == doc_number and o["Id"] != own_id
        )
        if other is not None:
            raise errors.QboError(
                "6140",
                "Duplicate Document Number Error",
                "Duplicate Document Number Error : You must specify a different number. "
                f"This number has already been used. DocNumber={doc_number} is assigned "
                f"to TxnType={TXN_LABELS[other_entity]} with TxnId={other['Id']}",
                element="DocNumber",
            )


def _lines(obj: dict[str, Any]) -> list[dict[str, Any]]:
    lines = obj.get("Line")
    if not isinstance(lines, list) or not lines:
        raise errors.required("Line")
    if not all(isinstance(line, dict) for line in lines):
        raise errors.required("Line.DetailType")
    return lines


def _detail(line: dict[str, Any], allowed: tuple[str, ...]) -> tuple[str, dict[str, Any]]:
    detail_type = line.get("DetailType")
    if detail_type is None:
        raise errors.required("Line.DetailType")
    if detail_type not in allowed:
        raise errors.QboError(
            "2170",
            "Invalid Enumeration",
            f"Invalid Enumeration : {detail_type}",
            element="Line.DetailType",
        )
    detail = line.get(detail_type, {})
    if not isinstance(detail, dict):
        raise errors.required(f"Line.{detail_type}")
    line[detail_type] = detail
    return detail_type, detail


def _sales_form(company: QboCompany, obj: dict[str, Any], own_id: str | None) -> None:
    subtotal = discount = Decimal(0)
    numbered: list[dict[str, Any]] = []
    allowed = ("SalesItemLineDetail", "DiscountLineDetail", "SubTotalLineDetail", "DescriptionOnly")
    for line in _lines(obj):
        detail_type, detail = _detail(line, allowed)
        if detail_type == "SubTotalLineDetail":
            continue  # the server writes its own subtotal line
        line_amount = amount(
            line.get("Amount"), "Line.Amount", required=detail_type != "DescriptionOnly"
        )
        if detail_type == "SalesItemLineDetail":
            resolve_ref(company, detail, "ItemRef", required=True)
            for field in ("TaxCodeRef", "ClassRef"):
                resolve_ref(company, detail, field)
            if detail.get("Qty") is not None and detail.get("UnitPrice") is not None:
                qty = amount(detail["Qty"], "Line.SalesItemLineDetail.Qty")
                price = amount(detail["UnitPrice"], "Line.SalesItemLineDetail.UnitPrice")
                if (qty * price).quantize(Decimal("0.01")) != line_amount.quantize(Decimal("0.01")):
                    raise errors.QboError(
                        "6070",
                        "Amount calculation incorrect in the request",
                        f"Amount is not equal to UnitPrice * Qty. Supplied value:{line_amount}",
                        element="Line.Amount",
                    )
            subtotal += line_amount
        elif detail_type == "DiscountLineDetail":
            resolve_ref(company, detail, "DiscountAccountRef")
            discount += line_amount
        line["Amount"] = as_json_number(line_amount)
        numbered.append(line)
    for index, line in enumerate(numbered, start=1):
        line["Id"], line["LineNum"] = str(index), index
    numbered.append(
        {
            "Amount": as_json_number(subtotal),
            "DetailType": "SubTotalLineDetail",
            "SubTotalLineDetail": {},
        }
    )
    obj["Line"] = numbered
    tax_detail = obj.get("TxnTaxDetail") or {}
    tax = amount(tax_detail.get("TotalTax"), "TxnTaxDetail.TotalTax", required=False)
    obj["TxnTaxDetail"] = {**tax_detail, "TotalTax": as_json_number(tax)}
    total = subtotal - discount + tax
    if total < 0:
        raise errors.business_rule("The transaction total can't be negative.", "TotalAmt")
    obj["TotalAmt"] = as_json_number(total)
    obj.pop("Balance", None)


def _sales_receipt(company: QboCompany, obj: dict[str, Any], own_id: str | None) -> None:
    resolve_ref(company, obj, "CustomerRef")
    resolve_ref(company, obj, "PaymentMethodRef")
    obj.setdefault("DepositToAccountRef", {"value": UNDEPOSITED_FUNDS})
    resolve_ref(company, obj, "DepositToAccountRef")
    _sales_form(company, obj, own_id)
    obj["Balance"] = 0


def _refund_receipt(company: QboCompany, obj: dict[str, Any], own_id: str | None) -> None:
    resolve_ref(company, obj, "CustomerRef")
    resolve_ref(company, obj, "PaymentMethodRef")
    resolve_ref(company, obj, "DepositToAccountRef", required=True)
    _sales_form(company, obj, own_id)
    obj["Balance"] = 0


def _invoice(company: QboCompany, obj: dict[str, Any], own_id: str | None) -> None:
    resolve_ref(company, obj, "CustomerRef", required=True)
    _sales_form(company, obj, own_id)
    obj.setdefault("DueDate", obj["TxnDate"])
    paid = sum(
        (_applied_to(payment, own_id) for payment in company.all("Payment") if own_id is not None),
        Decimal(0),
    )
    obj["Balance"] = as_json_number(Decimal(str(obj["TotalAmt"])) - paid)


def _applied_to(payment: dict[str, Any], invoice_id: str | None) -> Decimal:
    applied = Decimal(0)
    for line in payment.get("Line", []):
        for linked in line.get("LinkedTxn", []):
            if linked.get("TxnType") == "Invoice" and linked.get("TxnId") == invoice_id:
                applied += Decimal(str(line["Amount"]))
    return applied


def _payment(company: QboCompany, obj: dict[str, Any], own_id: str | None) -> None:
    customer = require_ref(company, obj, "CustomerRef")
    resolve_ref(company, obj, "PaymentMethodRef")
    obj.setdefault("DepositToAccountRef", {"value": UNDEPOSITED_FUNDS})
    resolve_ref(company, obj, "DepositToAccountRef")
    total = amount(obj.get("TotalAmt"), "TotalAmt")
    applied = Decimal(0)
    for line in obj.get("Line") or []:
        line_amount = amount(line.get("Amount"), "Line.Amount")
        for linked in line.get("LinkedTxn") or []:
            invoice = company.get("Invoice", str(linked.get("TxnId")))
            if linked.get("TxnType") != "Invoice" or invoice is None:
                raise errors.invalid_reference("Line.LinkedTxn", str(linked.get("TxnId")))
            if invoice["CustomerRef"]["value"] != customer["value"]:
                raise errors.business_rule(
                    "The payment's customer does not match the invoice's customer.", "LinkedTxn"
                )
            open_balance = Decimal(str(invoice["TotalAmt"])) - sum(
                (
                    _applied_to(p, invoice["Id"])
                    for p in company.all("Payment")
                    if p["Id"] != own_id
                ),
                Decimal(0),
            )
            if line_amount > open_balance:
                raise errors.business_rule(
                    f"The payment amount exceeds the open balance of invoice {invoice['Id']}.",
                    "Line.Amount",
                )
        applied += line_amount
        line["Amount"] = as_json_number(line_amount)
    if applied > total:
        raise errors.business_rule("The amount applied exceeds the payment total.", "TotalAmt")
    obj["TotalAmt"] = as_json_number(total)
    obj["UnappliedAmt"] = as_json_number(total - applied)


def _journal_entry(company: QboCompany, obj: dict[str, Any], own_id: str | None) -> None:
    debits = credits = Decimal(0)
    for index, line in enumerate(_lines(obj), start=1):
        _, detail = _detail(line, ("JournalEntryLineDetail", "DescriptionOnly"))
        if line["DetailType"] == "DescriptionOnly":
            continue
        line_amount = amount(line.get("Amount"), "Line.Amount")
        posting = detail.get("PostingType")
        if posting not in ("Debit", "Credit"):
            raise errors.required("Line.JournalEntryLineDetail.PostingType")
        account = require_ref(company, detail, "AccountRef")
        for field in ("ClassRef", "DepartmentRef"):
            resolve_ref(company, detail, field)
        entity = detail.get("Entity") or {}
        if entity.get("EntityRef"):
            resolve_ref(company, {"CustomerRef": entity["EntityRef"]}, "CustomerRef")
        target = company.get("Account", account["value"]) or {}
        if target.get("AccountType") == "Accounts Receivable" and not entity.get("EntityRef"):
            raise errors.business_rule(
                "When you use Accounts Receivable, you must choose a customer in the Name field.",
                "Line.JournalEntryLineDetail.Entity",
            )
        if posting == "Debit":
            debits += line_amount
        else:
            credits += line_amount
        line["Amount"] = as_json_number(line_amount)
        line["Id"] = str(index)
    if debits != credits:
        raise errors.business_rule(
            "Transaction must balance: you must make debits and credits equal "
            f"(debits {debits}, credits {credits}).",
            "Line",
        )
    obj["TotalAmt"] = as_json_number(debits)


def _deposit(company: QboCompany, obj: dict[str, Any], own_id: str | None) -> None:
    resolve_ref(company, obj, "DepositToAccountRef", required=True)
    already = {
        (linked.get("TxnType"), linked.get("TxnId"))
        for deposit in company.all("Deposit")
        if deposit["Id"] != own_id
        for line in deposit.get("Line", [])
        for linked in line.get("LinkedTxn", [])
    }
    total = Decimal(0)
    for index, line in enumerate(_lines(obj), start=1):
        line_amount = amount(line.get("Amount"), "Line.Amount")
        linked_txns = line.get("LinkedTxn") or []
        if linked_txns:
            for linked in linked_txns:
                key = (linked.get("TxnType"), str(linked.get("TxnId")))
                source = company.get(str(key[0]), key[1]) if key[0] in _DEPOSITABLE else None
                if source is None:
                    raise errors.invalid_reference("Line.LinkedTxn", key[1])
                if source.get("DepositToAccountRef", {}).get("value") != UNDEPOSITED_FUNDS:
                    raise errors.business_rule(
                        f"{key[0]} {key[1]} is not in Undeposited Funds.", "Line.LinkedTxn"
                    )
                if key in already:
                    raise errors.business_rule(
                        f"{key[0]} {key[1]} has already been deposited.", "Line.LinkedTxn"
                    )
                already.add(key)
        else:
            detail = line.get("DepositLineDetail")
            if not isinstance(detail, dict):
                raise errors.required("Line.DepositLineDetail")
            resolve_ref(company, detail, "AccountRef", required=True)
            for field in ("PaymentMethodRef", "ClassRef"):
                resolve_ref(company, detail, field)
            line.setdefault("DetailType", "DepositLineDetail")
        line["Amount"] = as_json_number(line_amount)
        line["Id"] = str(index)
        total += line_amount
    obj["TotalAmt"] = as_json_number(total)


_DEPOSITABLE = frozenset({"Payment", "SalesReceipt", "RefundReceipt"})

_BUILDERS: dict[str, Callable[[QboCompany, dict[str, Any], str | None], None]] = {
    "SalesReceipt": _sales_receipt,
    "RefundReceipt": _refund_receipt,
    "Invoice": _invoice,
    "Payment": _payment,
    "JournalEntry": _journal_entry,
    "Deposit": _deposit,
}
TRANSACTIONS = frozenset(_BUILDERS)
