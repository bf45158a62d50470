"""Manual journals: a narration and lines whose amounts (debits positive, credits negative)
net to zero, posted only to accounts a journal may use.

https://developer.xero.com/documentation/api/accounting/manualjournals: ``LineAmountTypes``
defaults to NoTax, status is DRAFT or POSTED, and bank and system accounts (receivables,
payables, GST, retained earnings) cannot be journalled.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from salesync.sandbox.xero.errors import ElementInvalid
from salesync.sandbox.xero.organisation import XeroOrganisation
from salesync.sandbox.xero.references import resolve_account, resolve_tax_rate, resolve_tracking
from salesync.sandbox.xero.values import cents, day_json, day_string, decimal_of, number, parse_day

STATUSES = frozenset({"DRAFT", "POSTED", "DELETED", "VOIDED"})
MIN_LINES = 2


def build_manual_journal(
    org: XeroOrganisation, element: dict[str, Any], existing: dict[str, Any] | None
) -> dict[str, Any]:
    """Create or update a manual journal and save it."""
    problems: list[str] = []
    if existing is not None:
        if existing["Status"] in {"DELETED", "VOIDED"}:
            raise ElementInvalid(["This manual journal cannot be edited in its current status"])
        element = {**existing, **element}
    narration = str(element.get("Narration") or "").strip()
    if not narration:
        problems.append("Narration must not be empty")
    status = str(element.get("Status") or "DRAFT")
    if status not in STATUSES:
        problems.append(f"Invalid status '{status}'")
    day = parse_day(element.get("Date")) if element.get("Date") else org.today()
    if day is None:
        problems.append("Date is not a valid date")
    lines = _lines(org, element.get("JournalLines"), problems)
    if problems or day is None:
        raise ElementInvalid(problems)
    journal_id = existing["ManualJournalID"] if existing else str(uuid.uuid4())
    journal = {
        "ManualJournalID": journal_id,
        "Narration": narration,
        "Date": day_json(day),
        "DateString": day_string(day),
        "Status": status,
        "LineAmountTypes": str(element.get("LineAmountTypes") or "NoTax"),
        "JournalLines": lines,
        "ShowOnCashBasisReports": bool(element.get("ShowOnCashBasisReports", True)),
        "Url": str(element.get("Url") or ""),
        "UpdatedDateUTC": org.stamp(),
    }
    org.put("ManualJournals", journal_id, journal)
    return journal


def _lines(org: XeroOrganisation, raw: Any, problems: list[str]) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or len(raw) < MIN_LINES:
        problems.append("A manual journal needs at least two journal lines")
        return []
    lines = []
    debits = credits = Decimal(0)
    for entry in raw:
        line = dict(entry) if isinstance(entry, dict) else {}
        amount = decimal_of(line.get("LineAmount"))
        if amount is None:
            problems.append("Each journal line needs a LineAmount")
            amount = Decimal(0)
        amount = cents(amount)
        if amount > 0:
            debits += amount
        else:
            credits -= amount
        account = resolve_account(org, line.get("AccountCode"), problems)
        if account is not None and (account["Type"] == "BANK" or account.get("SystemAccount")):
            problems.append(
                f"Account code '{account['Code']}' is a bank or system account and cannot be "
                "used in a manual journal"
            )
        if line.get("TaxType"):
            resolve_tax_rate(org, line["TaxType"], problems)
        line["Tracking"] = resolve_tracking(org, line.get("Tracking"), problems)
        line["LineAmount"] = number(amount)
        lines.append(line)
    if debits != credits:
        problems.append(f"The total debits ({debits}) must equal total credits ({credits})")
    return lines
