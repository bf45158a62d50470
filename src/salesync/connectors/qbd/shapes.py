"""Which qbXML carries each posting, and the work units that write it.

Whatever the form, every account moves by exactly what the posting's entry puts on it:

- ``sales_form`` "sales_receipt", a per-order sale with one tender into an asset account:
  a **SalesReceipt** depositing to the tender's account, every other line an item line
  (an item per account, selling into it; a debit such as a discount is a negative line);
- the same setting, a per-order payout with one line into the bank: a **Deposit** to the
  bank, every other line an amount from its account (a fee is a negative line);
- anything else: a **JournalEntry**, line by line.

Each carries the key's short reference in RefNumber (a deposit has none) and the full key
in a memo, which is what a lookup after a dropped session recognises. Items a receipt
needs and the connection does not map are added first, in the same FIFO queue; one that
already exists (3100) is as good as added.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from salesync.connectors.destination import Posting, reference
from salesync.connectors.qbd import forms, qbxml
from salesync.connectors.qbd.forms import DepositLine, ItemLine
from salesync.connectors.qbd.qbxml import EntryLine
from salesync.connectors.qbd.settings import QbdSettings
from salesync.domain.documents import Payout, Sale
from salesync.domain.journal import JournalLine
from salesync.domain.planning import PostingMode

REFERENCE_LIMIT = 11
"""RefNumber holds 11 characters on journal entries and sales receipts."""
ITEM_NAME_LIMIT = 31


@dataclass(frozen=True, slots=True)
class Unit:
    """One add for the queue: its key, reference, request and the lookup that finds it."""

    key: str
    reference: str
    request: str
    lookup: str


def units_for(posting: Posting, settings: QbdSettings) -> tuple[list[Unit], Unit]:
    """The items to add first, then the posting's own unit."""
    ref = reference(posting.key, REFERENCE_LIMIT)
    memo = f"{posting.entry.narration} [{posting.key}]"
    lines = [ln for ln in posting.entry.lines if ln.amount.amount != 0]
    tender = _single_debit(lines)
    if settings.sales_form == "sales_receipt" and posting.mode is PostingMode.PER_ORDER:
        document = posting.documents[0] if len(posting.documents) == 1 else None
        if isinstance(document, Sale) and tender and tender.account.startswith("Assets:"):
            return _receipt(posting, settings, ref=ref, memo=memo, tender=tender, lines=lines)
        if isinstance(document, Payout) and tender and tender.account.startswith("Assets:Bank"):
            return [], _deposit(posting, settings, ref=ref, memo=memo, bank=tender, lines=lines)
    return [], _journal(posting, settings, ref, memo, lines)


def item_name(account: str) -> str:
    """The item that carries ``account``'s amounts: its path with dots (a colon would make
    a sub-item), shortened with a digest when it exceeds QuickBooks' 31 characters."""
    name = account.replace(":", ".")
    if len(name) <= ITEM_NAME_LIMIT:
        return name
    return name[:24] + "~" + hashlib.sha256(account.encode()).hexdigest()[:6]


def _receipt(
    posting: Posting,
    settings: QbdSettings,
    *,
    ref: str,
    memo: str,
    tender: JournalLine,
    lines: list[JournalLine],
) -> tuple[list[Unit], Unit]:
    items: list[Unit] = []
    sold: list[ItemLine] = []
    for line in lines:
        if line is tender:
            continue
        item = settings.items.get(line.account)
        if item is None:
            item = item_name(line.account)
            account = settings.account(line.account)
            items.append(
                Unit(
                    f"item:{item}",
                    item,
                    qbxml.message_set([forms.item_other_charge_add(ref, item, account)]),
                    qbxml.message_set([forms.item_query(ref, names=[item])]),
                )
            )
        sold.append(ItemLine(item, -line.amount.amount, line.memo))
    request = forms.sales_receipt_add(
        ref,
        customer=None,
        day=posting.entry.date,
        reference=ref,
        memo=memo,
        deposit_to=settings.account(tender.account),
        lines=sold,
    )
    lookup = forms.sales_receipt_query(ref, [ref])
    main = Unit(posting.key, ref, qbxml.message_set([request]), qbxml.message_set([lookup]))
    return items, main


def _deposit(
    posting: Posting,
    settings: QbdSettings,
    *,
    ref: str,
    memo: str,
    bank: JournalLine,
    lines: list[JournalLine],
) -> Unit:
    moved = [
        DepositLine(account=settings.account(ln.account), amount=-ln.amount.amount, memo=ln.memo)
        for ln in lines
        if ln is not bank
    ]
    request = forms.deposit_add(
        ref,
        day=posting.entry.date,
        deposit_to=settings.account(bank.account),
        memo=memo,
        lines=moved,
    )
    lookup = forms.deposit_query(ref, posting.entry.date)
    return Unit(posting.key, ref, qbxml.message_set([request]), qbxml.message_set([lookup]))


def _journal(
    posting: Posting, settings: QbdSettings, ref: str, memo: str, lines: list[JournalLine]
) -> Unit:
    built = []
    for index, line in enumerate(lines):
        value = line.amount.amount
        note = memo if index == 0 else line.memo
        account = settings.account(line.account)
        if value > 0:
            built.append(EntryLine("debit", account, value, note))
        else:
            built.append(EntryLine("credit", account, -value, note))
    request = qbxml.journal_entry_add(ref, posting.entry.date, ref, built)
    lookup = qbxml.journal_entry_query(ref, [ref])
    return Unit(posting.key, ref, qbxml.message_set([request]), qbxml.message_set([lookup]))


def _single_debit(lines: list[JournalLine]) -> JournalLine | None:
    """The one line into an asset account that receives the money, if there is one."""
    debits = [ln for ln in lines if ln.amount.amount > 0 and ln.account.startswith("Assets:")]
    return debits[0] if len(debits) == 1 else None
