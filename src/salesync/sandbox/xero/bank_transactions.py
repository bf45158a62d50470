"""Bank transactions: "receive money" (RECEIVE) and "spend money" (SPEND) in a bank account.

Field rules follow https://developer.xero.com/documentation/api/accounting/banktransactions:
``Type``, ``Contact``, ``LineItems`` and ``BankAccount`` are required; the bank account
must be an account of type BANK (named by ``AccountID`` or ``Code``); line items are
priced as on invoices (``LineAmountTypes`` defaults to Exclusive; the server computes
``SubTotal``, ``TotalTax`` and ``Total``); ``Reference`` is kept for SPEND and RECEIVE;
the transaction is in its bank account's currency (setting ``CurrencyCode`` is only
supported on overpayments); ``Status`` is AUTHORISED unless set to DELETED. A contact
named by Name alone is found or created, as on invoices.

The sandbox serves RECEIVE and SPEND only: prepayments, overpayments and transfers (the
``-PREPAYMENT``, ``-OVERPAYMENT`` and ``-TRANSFER`` types) are refused. Where Xero's exact
wording of a refusal is not documented, the messages here say the same thing in plain
words; the connector sorts them by pattern, not by exact text.
"""

from __future__ import annotations

import uuid
from typing import Any

from salesync.sandbox.xero.documents import line_items
from salesync.sandbox.xero.errors import ElementInvalid
from salesync.sandbox.xero.organisation import XeroOrganisation
from salesync.sandbox.xero.references import account_by_code, account_by_id, resolve_contact
from salesync.sandbox.xero.values import day_json, day_string, number, parse_day

TYPES = frozenset({"RECEIVE", "SPEND"})
OTHER_TYPES = frozenset(
    {
        "RECEIVE-OVERPAYMENT",
        "RECEIVE-PREPAYMENT",
        "RECEIVE-TRANSFER",
        "SPEND-OVERPAYMENT",
        "SPEND-PREPAYMENT",
        "SPEND-TRANSFER",
    }
)
STATUSES = frozenset({"AUTHORISED", "DELETED"})
LINE_AMOUNT_TYPES = frozenset({"Exclusive", "Inclusive", "NoTax"})
REFERENCE_MAX = 255


def build_bank_transaction(
    org: XeroOrganisation, element: dict[str, Any], existing: dict[str, Any] | None
) -> dict[str, Any]:
    """Create or update a RECEIVE or SPEND bank transaction and save it."""
    if existing is not None:
        if existing["Status"] == "DELETED":
            raise ElementInvalid(["A deleted bank transaction cannot be edited"])
        if existing.get("IsReconciled") and element.get("Status") != "DELETED":
            raise ElementInvalid(["A reconciled bank transaction cannot be edited"])
        element = {**existing, **element}
    problems: list[str] = []
    kind = str(element.get("Type") or "")
    if kind in OTHER_TYPES:
        problems.append(f"Bank transactions of type {kind} are not supported by this sandbox")
    elif kind not in TYPES:
        problems.append("Bank Transaction Type must be RECEIVE or SPEND")
    contact, new_contact = resolve_contact(org, element.get("Contact"), problems)
    bank = _bank_account(org, element.get("BankAccount"), problems)
    currency = _currency(org, bank, element.get("CurrencyCode"), problems)
    status = str(element.get("Status") or "AUTHORISED")
    if status not in STATUSES:
        problems.append(f"Invalid status '{status}'")
    amount_types = str(element.get("LineAmountTypes") or "Exclusive")
    if amount_types not in LINE_AMOUNT_TYPES:
        problems.append(f"LineAmountTypes '{amount_types}' is not valid")
    day = parse_day(element.get("Date")) if element.get("Date") else org.today()
    if day is None:
        problems.append("Date is not a valid date")
    reference = str(element.get("Reference") or "")
    if len(reference) > REFERENCE_MAX:
        problems.append("Reference must not be more than 255 characters long.")
    lines, sub_total, total_tax = line_items(
        org, element.get("LineItems"), amount_types, True, problems
    )
    _refuse_bank_lines(org, lines, problems)
    total = sub_total + total_tax
    if lines and total < 0:
        problems.append("The total of a bank transaction must not be negative")
    if problems or day is None or bank is None or contact is None:
        raise ElementInvalid(problems)
    if new_contact:
        contact["ContactID"] = str(uuid.uuid4())
        contact["UpdatedDateUTC"] = org.stamp()
        org.put("Contacts", contact["ContactID"], contact)
    transaction_id = existing["BankTransactionID"] if existing else str(uuid.uuid4())
    transaction = {
        "BankTransactionID": transaction_id,
        "Type": kind,
        "Contact": {"ContactID": contact["ContactID"], "Name": contact["Name"]},
        "BankAccount": {
            "AccountID": bank["AccountID"],
            "Code": bank["Code"],
            "Name": bank["Name"],
        },
        "Date": day_json(day),
        "DateString": day_string(day),
        "Reference": reference,
        "Status": status,
        "IsReconciled": bool(element.get("IsReconciled", False)),
        "LineAmountTypes": amount_types,
        "LineItems": lines,
        "SubTotal": number(sub_total),
        "TotalTax": number(total_tax),
        "Total": number(total),
        "CurrencyCode": currency,
        "CurrencyRate": 1.0,
        "Url": str(element.get("Url") or ""),
        "HasAttachments": False,
        "UpdatedDateUTC": org.stamp(),
    }
    org.put("BankTransactions", transaction_id, transaction)
    return transaction


def _currency(
    org: XeroOrganisation, bank: dict[str, Any] | None, wanted: Any, problems: list[str]
) -> str:
    """The bank account's currency, which a spend or receive money transaction is in."""
    currency = str(bank["CurrencyCode"]) if bank else org.base_currency
    if wanted and str(wanted) != currency:
        problems.append(
            f"The currency '{wanted}' is not the bank account's currency ({currency}); "
            "setting the currency is only supported on overpayments"
        )
    return currency


def _bank_account(org: XeroOrganisation, ref: Any, problems: list[str]) -> dict[str, Any] | None:
    """The active BANK account a transaction names by AccountID or Code."""
    account = None
    if isinstance(ref, dict) and ref.get("AccountID"):
        account = account_by_id(org, str(ref["AccountID"]))
    elif isinstance(ref, dict) and ref.get("Code"):
        account = account_by_code(org, str(ref["Code"]))
    else:
        problems.append("A BankAccount must be specified for a bank transaction")
        return None
    if account is None or account["Status"] != "ACTIVE":
        problems.append("The bank account for the bank transaction could not be found")
        return None
    if account["Type"] != "BANK":
        problems.append(
            f"Account '{account['Code']}' is not a bank account; a bank transaction can only "
            "be made in an account of type BANK"
        )
        return None
    return account


def _refuse_bank_lines(
    org: XeroOrganisation, lines: list[dict[str, Any]], problems: list[str]
) -> None:
    """Money between two bank accounts is a bank transfer, never a line of a transaction."""
    for line in lines:
        account = account_by_code(org, str(line.get("AccountCode") or ""))
        if account is not None and account["Type"] == "BANK":
            problems.append(
                f"Account code '{account['Code']}' is a bank account and cannot be used on a "
                "line item; move money between bank accounts with a bank transfer"
            )
