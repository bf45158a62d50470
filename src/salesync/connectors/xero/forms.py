"""Which Xero form carries a posting, built from its balanced entry (pure, no I/O).

A per-order sale becomes an ACCREC invoice paid by one payment per tender; a per-order
refund an ACCRECCREDIT credit note refunded per tender. Everything else (payouts, daily
summaries, per-payout entries, adjustments) and anything an invoice cannot carry exactly
(a tender paid back as change, a total below zero, documents missing) is a manual journal.

Under the ``bank_transaction`` sales form (the default), a sale or refund settled at the
till by one tender into an asset account is instead one RECEIVE ("receive money") or
SPEND ("spend money") bank transaction in that account, with the invoice's lines: one
object, one write. Xero records money received that relates to no invoice that way
(https://help.xero.com/au/BankAccounts_Details_ReceiveMoney), and a sale paid in full at
the till has no invoice to wait for. Split tenders and tenders into liabilities (gift
cards, store credit) stay invoices and credit notes with their payments. Once the chart
says which accounts are banks, a journal whose entry moves money in exactly one bank
account becomes a bank transaction in it (``bank_form``), and one moving money into (or
out of) several, a day's takings by cash and card, an invoice (or credit note) paid into
(or refunded from) each (``takings_form``): Xero takes neither a manual journal on a bank
account nor a bank transaction in two.

The amounts always come from the entry, never recomputed from the documents, so every
Xero account ends with exactly what the entry put there: the entry's tender legs become
payments, every other leg a line of the invoice in its account. Tax is such a line too,
to the tax liability account, under a tax rate of zero: Xero would recompute tax line by
line from its own rates and drift by cents from what the till charged. ``LineAmountTypes``
still states the sale's tax mode. The documents only add detail: a leg that is exactly a
category's products is split into one line per product (quantity, price, item code).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from salesync.connectors.destination import Posting, reference
from salesync.domain.documents import LineKind, Payout, Refund, Sale, TaxLine, TaxMode
from salesync.domain.journal import AccountType, JournalLine, account_component, account_type
from salesync.domain.money import Money, total
from salesync.domain.planning import PostingMode

SalesForm = Literal["invoice", "manual_journal", "bank_transaction"]
NUMBER_LENGTH = 21
"""Invoice and credit note numbers: short enough to read, 95 bits of the key's digest."""
REFERENCE_MAX = 255
"""Xero keeps up to 255 characters in an invoice's Reference and InvoiceNumber."""
ITEM_CODE_MAX = 30
ITEM_NAME_MAX = 50
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Item:
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class Line:
    """A line in salesync's account: on a document, its amount is in the document's own
    direction (an invoice line credits it); on a journal, debits are positive."""

    account: str
    amount: Decimal
    description: str
    quantity: Decimal | None = None
    unit_amount: Decimal | None = None
    item: Item | None = None


@dataclass(frozen=True, slots=True)
class Tender:
    """One payment (or refund) of a document, into the tender's account."""

    account: str
    amount: Decimal
    label: str


@dataclass(frozen=True, slots=True)
class Contact:
    name: str
    number: str | None = None
    email: str | None = None
    """Given to a contact salesync creates for a buyer (the ``create`` customer policy)."""


@dataclass(frozen=True, slots=True)
class DocumentForm:
    """An ACCREC invoice or ACCRECCREDIT credit note with its payments."""

    key: str
    kind: Literal["invoice", "credit_note"]
    number: str
    day: date
    currency: str
    amount_types: str
    contact: Contact
    lines: tuple[Line, ...]
    tenders: tuple[Tender, ...]
    location_id: str
    subject: str
    documents: tuple[str, ...]

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))

    def payment_reference(self, index: int) -> str:
        """What identifies each payment on re-reading: the document number and position."""
        tender = self.tenders[index]
        return f"{self.number} {index + 1}/{len(self.tenders)} {tender.label}"[:REFERENCE_MAX]


@dataclass(frozen=True, slots=True)
class JournalForm:
    key: str
    number: str
    day: date
    currency: str
    narration: str
    lines: tuple[Line, ...]
    location_id: str
    subject: str
    documents: tuple[str, ...]
    contact: Contact
    """Who a bank transaction carrying it names, should it move money in a bank account."""


@dataclass(frozen=True, slots=True)
class BankForm:
    """A RECEIVE ("receive money") or SPEND ("spend money") bank transaction in ``bank``.

    Its lines are in the transaction's direction, as a document's: a RECEIVE line credits
    its account, a SPEND line debits it; the bank account takes their total.
    """

    key: str
    type: Literal["RECEIVE", "SPEND"]
    number: str
    day: date
    currency: str
    amount_types: str
    contact: Contact
    bank: str
    lines: tuple[Line, ...]
    location_id: str
    subject: str
    documents: tuple[str, ...]

    @property
    def reference(self) -> str:
        """Its number, which it is found by, then the posting's key."""
        return f"{self.number} {self.key}"[:REFERENCE_MAX]


Form = DocumentForm | JournalForm | BankForm


def number_for(key: str) -> str:
    """The InvoiceNumber, CreditNoteNumber or narration tag a posting is found by."""
    return reference(key, NUMBER_LENGTH)


def plan(
    posting: Posting, *, sales_form: SalesForm, cash_contact: str, each_customer: bool = False
) -> Form:
    """The form that carries ``posting``; its sale names a contact of its own only when
    ``each_customer``."""
    documents = posting.documents
    if (
        sales_form != "manual_journal"
        and posting.mode is PostingMode.PER_ORDER
        and posting.kind == "posting"
        and len(documents) == 1
        and isinstance(documents[0], Sale | Refund)
        and documents[0].currency == posting.entry.currency
    ):
        found = _document_form(posting, documents[0], cash_contact, each_customer)
        if found is not None:
            if sales_form == "bank_transaction" and _one_asset_tender(found):
                return _received(found)
            return found
    return _journal_form(posting, cash_contact)


def _one_asset_tender(form: DocumentForm) -> bool:
    """Paid by one tender into an asset account (a clearing account, the cash drawer),
    which can be a bank account; a liability (gift card) cannot."""
    return len(form.tenders) == 1 and account_type(form.tenders[0].account) is AccountType.ASSETS


def _received(form: DocumentForm) -> BankForm:
    """The bank transaction of a sale (money received) or refund (money spent)."""
    return BankForm(
        key=form.key,
        type="RECEIVE" if form.kind == "invoice" else "SPEND",
        number=form.number,
        day=form.day,
        currency=form.currency,
        amount_types=form.amount_types,
        contact=form.contact,
        bank=form.tenders[0].account,
        lines=form.lines,
        location_id=form.location_id,
        subject=form.subject,
        documents=form.documents,
    )


def bank_form(form: JournalForm, bank: str) -> BankForm:
    """``form`` as one bank transaction in ``bank``, its only bank account: money in is
    RECEIVE, every other leg a line crediting its account; money out is SPEND."""
    moved = sum((ln.amount for ln in form.lines if ln.account == bank), Decimal(0))
    sign = -1 if moved >= 0 else 1
    return BankForm(
        key=form.key,
        type="RECEIVE" if moved >= 0 else "SPEND",
        number=form.number,
        day=form.day,
        currency=form.currency,
        amount_types="NoTax",
        contact=form.contact,
        bank=bank,
        lines=tuple(
            Line(ln.account, sign * ln.amount, ln.description)
            for ln in form.lines
            if ln.account != bank
        ),
        location_id=form.location_id,
        subject=form.subject,
        documents=form.documents,
    )


def takings_form(form: JournalForm, banks: Sequence[str]) -> DocumentForm | None:
    """``form`` as an invoice paid into each of ``banks`` when it moves money into every
    one of them, or a credit note refunded from each when out of every one; every other
    leg is a line in its account. None when the money goes both ways."""
    moved: dict[str, Decimal] = {}
    labels: dict[str, list[str]] = {}
    for line in form.lines:
        if line.account in banks:
            moved[line.account] = moved.get(line.account, Decimal(0)) + line.amount
            labels.setdefault(line.account, []).append(line.description)
    if all(amount > 0 for amount in moved.values()):
        direction = 1
    elif all(amount < 0 for amount in moved.values()):
        direction = -1
    else:
        return None
    lines = tuple(
        Line(ln.account, -direction * ln.amount, ln.description)
        for ln in form.lines
        if ln.account not in moved and ln.amount
    )
    if not moved or not lines:
        return None
    return DocumentForm(
        key=form.key,
        kind="invoice" if direction == 1 else "credit_note",
        number=form.number,
        day=form.day,
        currency=form.currency,
        amount_types="NoTax",
        contact=form.contact,
        lines=lines,
        tenders=tuple(
            Tender(bank, direction * moved[bank], "+".join(dict.fromkeys(labels[bank])))
            for bank in banks
            if bank in moved
        ),
        location_id=form.location_id,
        subject=form.subject,
        documents=form.documents,
    )


def _subject(posting: Posting) -> str:
    return f"{posting.entry.narration} ({posting.key})"


def _journal_form(posting: Posting, cash: str) -> JournalForm:
    entry = posting.entry
    number = number_for(posting.key)
    lines = tuple(
        Line(line.account, line.amount.amount, line.memo or describe(line.account))
        for line in entry.lines
    )
    return JournalForm(
        key=posting.key,
        number=number,
        day=entry.date,
        currency=entry.currency,
        narration=f"{entry.narration} [salesync {number}: {posting.key}]",
        lines=lines,
        location_id=entry.location_id,
        subject=_subject(posting),
        documents=posting.document_ids,
        contact=_journal_contact(posting, cash),
    )


def _journal_contact(posting: Posting, cash: str) -> Contact:
    """A payout's processor ("Shopify payouts"); for anything else the cash contact."""
    documents = posting.documents
    if len(documents) == 1 and isinstance(documents[0], Payout):
        return Contact(f"{documents[0].source.replace('_', ' ').title()} payouts")
    return Contact(cash)


def _document_form(
    posting: Posting, document: Sale | Refund, cash: str, each_customer: bool
) -> DocumentForm | None:
    """The invoice or credit note for one sale or refund; None when its entry's tender
    legs are not exactly its payments (then only a journal carries it exactly)."""
    entry = posting.entry
    direction = 1 if isinstance(document, Sale) else -1
    tender_names = {p.tender for p in document.payments}
    tenders: list[Tender] = []
    others: list[JournalLine] = []
    for line in entry.lines:
        if line.memo in tender_names and line.amount.amount * direction > 0:
            tenders.append(Tender(line.account, line.amount.amount * direction, line.memo))
        else:
            others.append(line)
    paid = sum((t.amount for t in tenders), Decimal(0))
    if paid != document.paid.amount or not others:
        return None
    lines = _itemized(
        [Line(ln.account, -ln.amount.amount * direction, _memo(ln)) for ln in others],
        _groups(document),
        fixed={i for i, ln in enumerate(others) if ln.memo},
    )
    # A sale carrying a customer intent names the contact the mapping decides (``buyers``);
    # until then, and for every other sale, the connection's ``customers`` setting speaks.
    if isinstance(document, Sale) and each_customer and document.id not in posting.customers:
        contact = (
            Contact(f"Customer {document.customer_id}", document.customer_id[:50])
            if document.customer_id
            else Contact(cash)
        )
    else:
        contact = Contact(cash)
    return DocumentForm(
        key=posting.key,
        kind="invoice" if isinstance(document, Sale) else "credit_note",
        number=number_for(posting.key),
        day=entry.date,
        currency=entry.currency,
        amount_types="Inclusive" if document.tax_mode is TaxMode.INCLUSIVE else "Exclusive",
        contact=contact,
        lines=tuple(lines),
        tenders=tuple(tenders),
        location_id=entry.location_id,
        subject=_subject(posting),
        documents=posting.document_ids,
    )


def describe(account: str) -> str:
    """A readable name for a salesync account: its last part, words spaced."""
    return account.rsplit(":", 1)[-1].replace("-", " ")


def _memo(line: JournalLine) -> str:
    return line.memo or describe(line.account)


@dataclass(frozen=True, slots=True)
class _Group:
    """Products whose legs together may be exactly one leg of the entry."""

    category: str
    lines: tuple[Line, ...]
    whole: bool = False
    """All the document's products, across categories."""

    @property
    def amount(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))


def _ex_tax(amount: Money, taxes: Iterable[TaxLine], mode: TaxMode) -> Decimal:
    if mode is TaxMode.INCLUSIVE:
        amount = amount - total((t.amount for t in taxes), amount.currency)
    return amount.rounded().amount


def _item(sku: str, name: str) -> Item | None:
    code = sku.strip()
    if not code or len(code) > ITEM_CODE_MAX:
        return None
    return Item(code, (name.strip() or code)[:ITEM_NAME_MAX])


def _groups(document: Sale | Refund) -> list[_Group]:
    """Each category's product lines, then all product lines together."""
    mode = document.tax_mode
    product: list[tuple[str, Line]] = []
    if isinstance(document, Sale):
        for sale_line in document.lines:
            if sale_line.kind is not LineKind.PRODUCT:
                continue
            amount = _ex_tax(sale_line.gross, sale_line.taxes, mode)
            unit = sale_line.unit_price.amount
            # Xero keeps unit prices to two decimals unless asked otherwise.
            exact = sale_line.quantity * unit == amount and unit == unit.quantize(CENT)
            product.append(
                (
                    sale_line.category,
                    Line(
                        "",
                        amount,
                        sale_line.name if exact else f"{sale_line.name} x {sale_line.quantity}",
                        sale_line.quantity if exact else None,
                        sale_line.unit_price.amount if exact else None,
                        _item(sale_line.sku, sale_line.name),
                    ),
                )
            )
    else:
        for refund_line in document.lines:
            if refund_line.kind is not LineKind.PRODUCT:
                continue
            amount = _ex_tax(refund_line.amount, refund_line.taxes, mode)
            quantity = refund_line.quantity
            each = (amount / quantity).quantize(CENT) if quantity > 0 else None
            exact = each is not None and each * quantity == amount
            product.append(
                (
                    refund_line.category,
                    Line(
                        "",
                        amount,
                        f"Return of {refund_line.sku}" + ("" if exact else f" x {quantity}"),
                        quantity if exact else None,
                        each if exact else None,
                        _item(refund_line.sku, ""),
                    ),
                )
            )
    categories: dict[str, list[Line]] = {}
    for category, line in product:
        categories.setdefault(category, []).append(line)
    groups = [_Group(c, tuple(lines)) for c, lines in categories.items()]
    if len(groups) > 1:
        groups.append(_Group("", tuple(line for _, line in product), whole=True))
    return groups


def _itemized(lines: Sequence[Line], groups: Sequence[_Group], fixed: set[int]) -> list[Line]:
    """``lines`` with each leg that is exactly a group's products split into them.

    Only legs without a memo are products' (tenders, gift cards sold and rounding carry
    one: they are ``fixed``). The last group, all products together, is tried only when
    no category matched (every category mapped to one account). Should two legs carry
    the same amount, the one whose account names the category wins; either way each
    account keeps exactly its leg's amount.
    """
    result = list(lines)
    used = set(fixed)
    matched = False
    for group in groups:
        if not group.lines or (matched and group.whole):
            continue
        candidates = [
            i
            for i, line in enumerate(result)
            if i not in used and line.amount == group.amount and line.amount > 0
        ]
        if not candidates:
            continue
        component = account_component(group.category) if group.category else ""
        candidates.sort(key=lambda i: not result[i].account.endswith(":" + component))
        chosen = candidates[0]
        account = result[chosen].account
        split = [
            Line(account, p.amount, p.description, p.quantity, p.unit_amount, p.item)
            for p in group.lines
        ]
        result[chosen : chosen + 1] = split
        used = {i if i < chosen else i + len(split) - 1 for i in used}
        used |= set(range(chosen, chosen + len(split)))
        matched = True
    return result
