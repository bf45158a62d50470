"""Postings as QuickBooks transactions: which form carries each, and its payload.

Whatever the form, every QuickBooks account moves by exactly what the posting's entry
puts on it. A sales form debits the tender's account through "Deposit to" and credits
every other account through a product selling into it (a debit there is a negative
line, the sale's discount a discount line); a refund receipt does the reverse. Sales tax
is such a product line too, on the salesync tax account, with the form's own tax set to
zero: the source already computed the tax, and an explicit amount is what QuickBooks'
automated sales tax honours rather than recomputing it
(https://developer.intuit.com/hub/blog/2017/12/11/using-quickbooks-online-api-automated-sales-tax).
A deposit debits the bank and credits each other line's account (a fee is a negative
line); a journal entry copies the entry line by line.

The form of each posting:

- a per-order sale, one tender into a bank or asset account: **SalesReceipt**; with the
  connection's ``sales_form`` "invoice", an **Invoice** and one **Payment** per tender,
  whatever the number of tenders;
- a per-order refund, one tender: **RefundReceipt**;
- a per-order payout deposited into a bank or asset account: **Deposit**;
- anything a form cannot carry exactly (daily summaries, per-payout postings,
  adjustments, split tenders on receipts, tenders into liabilities, or ``sales_form``
  "journal_entry"): **JournalEntry**.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from salesync.connectors.destination import Posting, reference
from salesync.connectors.qbo.refs import Ref
from salesync.connectors.qbo.settings import QboSettings
from salesync.domain.documents import Payout, Refund, Sale
from salesync.domain.journal import AccountType, JournalLine, account_type
from salesync.domain.planning import PostingMode

Json = dict[str, Any]
Form = Literal["SalesReceipt", "RefundReceipt", "Invoice", "JournalEntry", "Deposit"]
FORMS: tuple[Form, ...] = ("SalesReceipt", "RefundReceipt", "Invoice", "JournalEntry", "Deposit")
SALES_FORMS = frozenset({"SalesReceipt", "RefundReceipt", "Invoice"})
DOC_NUMBER_MAX = 21
"""DocNumber holds 21 characters (error 2050 beyond)."""
NOTE_MAX = 4000
DEPOSIT_MEMO = "deposit"
"""Memo of a payout entry's bank line (``payout_lines``)."""
_NOTED_KEY = re.compile(r"^salesync key: (.+)$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Shape:
    """How one posting goes into QuickBooks: its form and the part each entry line plays."""

    form: Form
    tenders: tuple[JournalLine, ...] = ()
    """The lines money lands in (or leaves from): "Deposit to", or one payment each."""
    lines: tuple[JournalLine, ...] = ()
    """Every other line: product lines on sales forms, deposit lines on a deposit."""
    discount: JournalLine | None = None
    customer: str | None = None

    @property
    def item_accounts(self) -> frozenset[str]:
        """The accounts that need a product selling into them."""
        if self.form not in SALES_FORMS:
            return frozenset()
        return frozenset(line.account for line in self.lines)


@dataclass(frozen=True, slots=True)
class Refs:
    """The QuickBooks objects one posting's payload points at."""

    accounts: Mapping[str, Ref]
    items: Mapping[str, Ref]
    customer: Ref | None = None
    department: Ref | None = None
    tracking_class: Ref | None = None

    def all(self) -> list[Ref]:
        extra = (self.customer, self.department, self.tracking_class)
        return [*self.accounts.values(), *self.items.values(), *(r for r in extra if r)]


def customer_name(sale: Sale) -> str:
    """The display name of a sale's customer: the source's id for them, labelled by source.

    Postings carry the sale, not the customer record, so the id is what is known; colons
    are not allowed in QuickBooks names."""
    name = f"{sale.source[:1].upper()}{sale.source[1:]} customer {sale.customer_id}"
    return name.replace(":", "-")[:500]


def shape(posting: Posting, settings: QboSettings, accounts: Mapping[str, Ref]) -> Shape:
    """The form for ``posting``, given the QuickBooks account of each of its lines."""
    journal = Shape("JournalEntry", lines=posting.entry.lines)
    if (
        posting.kind != "posting"
        or posting.mode is not PostingMode.PER_ORDER
        or settings.sales_form == "journal_entry"
        or len(posting.documents) != 1
    ):
        return journal
    document = posting.documents[0]
    if isinstance(document, Payout):
        return _deposit(posting, accounts) or journal
    tenders_of = {p.tender for p in document.payments}
    tenders = tuple(ln for ln in posting.entry.lines if ln.memo in tenders_of)
    rest = tuple(ln for ln in posting.entry.lines if ln.memo not in tenders_of)
    sign = 1 if isinstance(document, Sale) else -1
    if (
        not tenders
        or any(ln.amount.amount * sign <= 0 for ln in tenders)
        or not all(accounts[ln.account].depositable for ln in tenders)
    ):
        return journal
    if isinstance(document, Refund):
        if len(tenders) != 1:
            return journal
        return Shape("RefundReceipt", tenders, rest)
    discount = next(
        (
            ln
            for ln in rest
            if ln.amount.amount > 0 and account_type(ln.account) is AccountType.INCOME
        ),
        None,
    )
    lines = tuple(ln for ln in rest if ln is not discount)
    # A sale carrying a customer intent is recorded on the customer the mapping decides
    # (``buyers``); the connection's ``customers`` setting speaks only for the others.
    named = (
        customer_name(document)
        if document.customer_id
        and settings.customers == "each"
        and document.id not in posting.customers
        else None
    )
    if settings.sales_form == "invoice":
        return Shape("Invoice", tenders, lines, discount, named or settings.walk_in_customer)
    if len(tenders) != 1:
        return journal
    return Shape("SalesReceipt", tenders, lines, discount, named)


def _deposit(posting: Posting, accounts: Mapping[str, Ref]) -> Shape | None:
    banks = [ln for ln in posting.entry.lines if ln.memo == DEPOSIT_MEMO]
    if len(banks) != 1 or banks[0].amount.amount <= 0 or not accounts[banks[0].account].depositable:
        return None
    rest = tuple(ln for ln in posting.entry.lines if ln is not banks[0])
    return Shape("Deposit", (banks[0],), rest)


def note(posting: Posting, suffix: str = "") -> str:
    """PrivateNote: the narration, and the full key on a line of its own (find reads it)."""
    tail = f"\nsalesync key: {posting.key}{suffix}"
    return posting.entry.narration[: NOTE_MAX - len(tail)] + tail


def noted_key(private_note: object) -> str | None:
    """The key a transaction's PrivateNote carries, if salesync wrote it."""
    found = _NOTED_KEY.findall(str(private_note or ""))
    return str(found[-1]).strip() if found else None


def doc_number(key: str) -> str:
    return reference(key, DOC_NUMBER_MAX)


def money(amount: Decimal) -> float:
    """A JSON number for an amount in minor units (two decimals survive a float exactly)."""
    return float(amount)


def transaction(posting: Posting, form: Shape, refs: Refs) -> Json:
    """The create payload of ``posting`` in its form."""
    entry = posting.entry
    head: Json = {
        "DocNumber": doc_number(posting.key),
        "TxnDate": entry.date.isoformat(),
        "PrivateNote": note(posting),
        "CurrencyRef": {"value": entry.currency},
    }
    if form.form == "JournalEntry":
        return {**head, "Line": [_journal_line(ln, refs) for ln in entry.lines]}
    if refs.department is not None:
        head["DepartmentRef"] = refs.department.json()
    if form.form == "Deposit":
        return {
            **head,
            "DepositToAccountRef": refs.accounts[form.tenders[0].account].json(),
            "Line": [_deposit_line(ln, refs) for ln in form.lines],
        }
    # A sale credits its lines (a debit is a negative line); a refund debits them.
    sign = -1 if form.form == "RefundReceipt" else 1
    lines = [_item_line(ln, -sign * ln.amount.amount, refs) for ln in form.lines]
    if form.discount is not None:
        lines.append(
            {
                "Amount": money(form.discount.amount.amount),
                "DetailType": "DiscountLineDetail",
                "DiscountLineDetail": {
                    "PercentBased": False,
                    "DiscountAccountRef": refs.accounts[form.discount.account].json(),
                },
            }
        )
    body: Json = {**head, "Line": lines, "TxnTaxDetail": {"TotalTax": 0}}
    if refs.customer is not None:
        body["CustomerRef"] = refs.customer.json()
    if form.form != "Invoice":
        body["DepositToAccountRef"] = refs.accounts[form.tenders[0].account].json()
    return body


def payments(posting: Posting, form: Shape, refs: Refs, invoice_id: str) -> list[tuple[str, Json]]:
    """One Payment per tender of an invoiced sale, each with its own key."""
    if refs.customer is None:
        raise ValueError(f"{posting.key}: an invoice is paid by its customer")
    out: list[tuple[str, Json]] = []
    for n, tender in enumerate(form.tenders, start=1):
        suffix = f"#payment-{n}"
        amount = money(tender.amount.amount)
        out.append(
            (
                posting.key + suffix,
                {
                    "CustomerRef": refs.customer.json(),
                    "TotalAmt": amount,
                    "TxnDate": posting.entry.date.isoformat(),
                    "PaymentRefNum": reference(posting.key + suffix, DOC_NUMBER_MAX),
                    "PrivateNote": note(posting, suffix),
                    "CurrencyRef": {"value": posting.entry.currency},
                    "DepositToAccountRef": refs.accounts[tender.account].json(),
                    "Line": [
                        {
                            "Amount": amount,
                            "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}],
                        }
                    ],
                },
            )
        )
    return out


def _tagged(detail: Json, refs: Refs) -> Json:
    if refs.tracking_class is not None:
        detail["ClassRef"] = refs.tracking_class.json()
    return detail


def _journal_line(line: JournalLine, refs: Refs) -> Json:
    detail: Json = {
        "PostingType": "Credit" if line.amount.amount < 0 else "Debit",
        "AccountRef": refs.accounts[line.account].json(),
    }
    if refs.department is not None:
        detail["DepartmentRef"] = refs.department.json()
    return {
        "Amount": money(abs(line.amount.amount)),
        "Description": line.memo or line.account,
        "DetailType": "JournalEntryLineDetail",
        "JournalEntryLineDetail": _tagged(detail, refs),
    }


def _deposit_line(line: JournalLine, refs: Refs) -> Json:
    return {
        "Amount": money(-line.amount.amount),
        "Description": line.memo or line.account,
        "DetailType": "DepositLineDetail",
        "DepositLineDetail": _tagged({"AccountRef": refs.accounts[line.account].json()}, refs),
    }


def _item_line(line: JournalLine, amount: Decimal, refs: Refs) -> Json:
    return {
        "Amount": money(amount),
        "Description": line.memo or line.account,
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": _tagged({"ItemRef": refs.items[line.account].json()}, refs),
    }
