"""Posting modes: which documents go into which journal entry, under which key.

A location posts in one of three modes (research §1.1):

- **per-order**: one entry per sale, refund or payout (``plan_per_order``);
- **daily summary**: one entry per location x currency x business day for all of that
  day's sales and refunds (``plan_daily_summary``, ``DailySummaryBuilder``). Payouts are
  never part of a summary: each posts on its own through ``plan_per_order`` (deposit,
  fees, clearing emptied), as in per-order mode;
- **per-payout**: one entry per payout whose bank line is the deposit (``plan_per_payout``).

Every mode adds up the same per-document legs (``sale_lines``, ``refund_lines``,
``payout_lines``), so each account ends with the same balance whichever mode a location
uses; the modes differ only in how many entries carry those amounts.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from salesync.domain.documents import (
    DocumentKind,
    Location,
    Payout,
    PayoutTransaction,
    Refund,
    Sale,
    business_day,
)
from salesync.domain.journal import JournalEntry, JournalLine
from salesync.domain.money import Money, minor_unit, total
from salesync.domain.postings import (
    DEFAULT_PLAN,
    Placement,
    journal_for,
    payout_lines,
    refund_lines,
    sale_lines,
)

SETTLED = "settled"
"""Memo of the clearing line a payout entry empties."""


class PlanningError(ValueError):
    """Documents that cannot go into the posting asked for; the message says which and why."""


class PostingMode(enum.StrEnum):
    PER_ORDER = "per_order"
    DAILY_SUMMARY = "daily_summary"
    PER_PAYOUT = "per_payout"


@dataclass(frozen=True, slots=True)
class PlannedPosting:
    """One entry to write under a deterministic key, and the ids of the documents it covers."""

    key: str
    mode: PostingMode
    entry: JournalEntry
    documents: tuple[str, ...]


def _name(document: Sale | Refund | Payout) -> str:
    return f"{document.kind.value} {document.external_id}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _check_location(document: Sale | Refund | Payout, location: Location) -> None:
    if document.location_id != location.id or document.tenant_id != location.tenant_id:
        raise PlanningError(
            f"{_name(document)} belongs to location {document.location_id!r} of tenant "
            f"{document.tenant_id!r}, not to {location.name} ({location.id!r} of "
            f"{location.tenant_id!r})"
        )


def _legs(document: Sale | Refund, placement: Placement) -> list[JournalLine]:
    if isinstance(document, Sale):
        return sale_lines(document, placement)
    return refund_lines(document, placement)


def _summary_memo(memo: str) -> str:
    # The legs' memos name a role or a tender ("card", "gift card sold"), never a document;
    # spelling variants of one tender ("Visa", " visa") still share a summary line.
    return " ".join(memo.split()).casefold()


class _Totals:
    """Running sums per (account, memo): memory grows with the accounts, not the documents."""

    __slots__ = ("_amounts",)

    def __init__(self) -> None:
        self._amounts: dict[tuple[str, str], Decimal] = {}

    def add(self, lines: Iterable[JournalLine]) -> None:
        amounts = self._amounts
        for line in lines:
            key = (line.account, _summary_memo(line.memo))
            amounts[key] = amounts.get(key, Decimal(0)) + line.amount.amount

    def lines(self, currency: str) -> tuple[JournalLine, ...]:
        """The sums in (account, memo) order, so the entry does not depend on input order.

        Zero sums are dropped unless every sum is zero (a sale refunded in full the same
        day, returns mapped to the sales account): those lines stay at zero so the entry
        still exists and accounts for its documents.
        """
        ordered = sorted(self._amounts.items())
        kept = [item for item in ordered if item[1]] or ordered
        return tuple(JournalLine(a, Money(v, currency), memo) for (a, memo), v in kept)


def order_key(document: Sale | Refund | Payout) -> str:
    """The key of ``document``'s own entry in per-order mode."""
    return f"order:{document.source}:{document.kind.value}:{document.external_id}"


def daily_key(location_id: str, currency: str, day: date) -> str:
    """The key of a location's summary of one currency and business day."""
    return f"daily:{location_id}:{currency}:{day.isoformat()}"


def plan_per_order(
    document: Sale | Refund | Payout, location: Location, placement: Placement = DEFAULT_PLAN
) -> PlannedPosting:
    """One entry for one sale, refund or payout, keyed ``order:{source}:{kind}:{external_id}``.

    The kind is in the key because a source may number its refunds and its orders from
    separate counters: a sale and a refund sharing an external id must not share a key.
    """
    _check_location(document, location)
    key = order_key(document)
    entry = journal_for(document, location, placement, key=key)
    return PlannedPosting(key, PostingMode.PER_ORDER, entry, entry.documents)


class DailySummaryBuilder:
    """Sums one location's sales and refunds of one business day and currency, one at a time.

    Only a running total per account and memo is kept, plus the covered document ids the
    posting must name, so a day of millions of orders needs memory for the chart of
    accounts, not for the orders. Each document's legs are rounded before they are added,
    so the summary equals the sum of the per-order entries of the same documents exactly.
    """

    __slots__ = (
        "_ids",
        "_refunds",
        "_sales",
        "_totals",
        "_zone",
        "currency",
        "day",
        "location",
        "placement",
    )

    def __init__(
        self,
        location: Location,
        day: date,
        currency: str,
        placement: Placement = DEFAULT_PLAN,
    ) -> None:
        minor_unit(currency)
        self.location = location
        self.day = day
        self.currency = currency
        self.placement = placement
        self._zone = location.zone
        self._totals = _Totals()
        self._ids: set[str] = set()
        self._sales = 0
        self._refunds = 0

    @property
    def key(self) -> str:
        return daily_key(self.location.id, self.currency, self.day)

    def add(self, document: Sale | Refund, placement: Placement | None = None) -> None:
        """Add one document's legs, placed by ``placement`` (the builder's by default);
        refuse a payout, or a document of another location, day or currency, or one
        already added."""
        if not isinstance(document, Sale | Refund):
            raise PlanningError(
                f"{_name(document)} is not a sale or refund: payouts post on their own, "
                "never inside a daily summary"
            )
        _check_location(document, self.location)
        day = business_day(document.occurred_at, self._zone)
        if day != self.day:
            raise PlanningError(
                f"{_name(document)} falls on {day} in {self.location.timezone}, "
                f"not on {self.day}, the day this summary covers"
            )
        if document.currency != self.currency:
            raise PlanningError(
                f"{_name(document)} is in {document.currency}; the {self.day} summary of "
                f"{self.location.name} it was added to holds {self.currency} only"
            )
        if document.id in self._ids:
            raise PlanningError(f"{_name(document)} was added twice; a summary counts it once")
        self._totals.add(_legs(document, placement or self.placement))
        self._ids.add(document.id)
        if isinstance(document, Sale):
            self._sales += 1
        else:
            self._refunds += 1

    def build(self) -> PlannedPosting:
        """The summary entry of everything added so far, dated on the business day."""
        if not self._ids:
            raise PlanningError(
                f"no {self.currency} sales or refunds were added for {self.location.name} "
                f"on {self.day}; there is nothing to summarize"
            )
        documents = tuple(sorted(self._ids))
        currency = "" if self.currency == self.location.currency else f" in {self.currency}"
        narration = (
            f"Daily summary {self.location.name} {self.day.isoformat()}{currency} "
            f"({_count(self._sales, 'sale')}, {_count(self._refunds, 'refund')})"
        )
        entry = JournalEntry(
            key=self.key,
            tenant_id=self.location.tenant_id,
            location_id=self.location.id,
            date=self.day,
            narration=narration,
            lines=self._totals.lines(self.currency),
            documents=documents,
        )
        return PlannedPosting(self.key, PostingMode.DAILY_SUMMARY, entry, documents)


def plan_daily_summary(
    documents: Iterable[Sale | Refund],
    location: Location,
    day: date,
    placement: Placement = DEFAULT_PLAN,
) -> list[PlannedPosting]:
    """One summary per currency present, in currency order, keyed
    ``daily:{location_id}:{currency}:{day}``.

    Each sums the documents' legs by account and memo: sales by category, discounts,
    shipping, service charges, tips, gift cards sold and redeemed, tax by tax account,
    returns, each tender to its account (memo: the tender) and rounding. A document of
    another location or day, or a payout, is refused with a ``PlanningError``. In
    per-payout mode, pass only the documents ``settled_whole_by`` leaves to the summary.
    """
    builders: dict[str, DailySummaryBuilder] = {}
    for document in documents:
        builder = builders.get(document.currency)
        if builder is None:
            builder = DailySummaryBuilder(location, day, document.currency, placement)
            builders[document.currency] = builder
        builder.add(document)
    return [builders[currency].build() for currency in sorted(builders)]


def settled_whole_by(
    document: Sale | Refund, clearing_account: str, placement: Placement = DEFAULT_PLAN
) -> bool:
    """Whether every tender of ``document`` lands in ``clearing_account``.

    Such a document travels whole in the payout that empties that account. Any other
    (cash, gift card, store credit, alone or beside a card) waits for no payout: it posts
    in its business day's summary.
    """
    tenders = [p for p in document.payments if p.amount]
    return bool(tenders) and all(placement.tender_for(p) == clearing_account for p in tenders)


def _check_payout(payout: Payout) -> None:
    expected = payout.expected_net
    if expected != payout.net:
        raise PlanningError(
            f"payout {payout.external_id}: gross {payout.gross} - fees {payout.fees} + "
            f"adjustments {payout.adjustment_total} + returned {payout.returned_total} is "
            f"{expected}, not the deposit {payout.net}"
        )
    settled = total((t.gross for t in payout.transactions), payout.currency)
    if payout.transactions and settled != payout.gross:
        raise PlanningError(
            f"payout {payout.external_id}: its transactions settle {settled}, "
            f"not its gross {payout.gross}"
        )


Settled = tuple[DocumentKind, str]
"""What a payout transaction settles: the kind and external id of a document. Both, since
a source may number its refunds and its orders from separate counters."""


def settled_by(transaction: PayoutTransaction) -> Settled:
    """The document a payout transaction settles: a refund's, or else a sale's."""
    kind = DocumentKind.REFUND if transaction.kind == "refund" else DocumentKind.SALE
    return kind, transaction.document_external_id


def _covered_by_external_id(
    payout: Payout,
    covered: Sequence[Sale | Refund],
    location: Location,
    absent: Collection[Settled] = frozenset(),
) -> dict[Settled, Sale | Refund]:
    """The covered documents by kind and external id, refusing any the payout does not
    settle and naming any it settles that are missing (but for ``absent``)."""
    settles = {settled_by(t) for t in payout.transactions}
    found: dict[Settled, Sale | Refund] = {}
    for document in covered:
        _check_location(document, location)
        if document.currency != payout.currency:
            raise PlanningError(
                f"{_name(document)} is in {document.currency}; payout {payout.external_id} "
                f"is in {payout.currency}"
            )
        key = (document.kind, document.external_id)
        if key not in settles:
            raise PlanningError(
                f"{_name(document)} is not among the transactions payout "
                f"{payout.external_id} settles"
            )
        if key in found:
            raise PlanningError(f"{_name(document)} was given twice for one payout")
        found[key] = document
    missing = sorted(settles - found.keys() - set(absent))
    if missing:
        named = ", ".join(f"{kind.value} {external_id}" for kind, external_id in missing)
        raise PlanningError(
            f"payout {payout.external_id} settles {named}, but those documents were not "
            "given; plan it once they have arrived"
        )
    return found


def _as_settled(lines: Iterable[JournalLine], clearing: str) -> Iterable[JournalLine]:
    """Clearing legs under one memo, so a document's card debit and the payout's credit
    meet on one line and cancel."""
    for line in lines:
        yield JournalLine(line.account, line.amount, SETTLED) if line.account == clearing else line


def plan_per_payout(
    payout: Payout,
    covered: Sequence[Sale | Refund],
    location: Location,
    placement: Placement = DEFAULT_PLAN,
    *,
    posted_elsewhere: Collection[str] = frozenset(),
    absent: Collection[Settled] = frozenset(),
) -> PlannedPosting:
    """One entry that ties to the deposit, keyed ``payout:{source}:{external_id}``.

    ``covered`` are the documents of the payout's transactions (one each, matched by
    external id). A document whose every tender lands in the payout's clearing account
    (see ``settled_whole_by``) is carried whole: its revenue, discount, shipping, tip, tax
    and gift card legs go in, while its clearing legs cancel against the processor's gross,
    leaving bank = net, fees and adjustments in their place.

    A document with any other tender (cash beside a card, a gift card redemption) cannot
    travel whole in a payout. It posts in its day's summary, card part debited to the
    clearing account, and this entry credits that account with exactly the part the payout
    settles (memo "settled"). The clearing account thus nets to zero across the payout and
    those summaries. A payout with no transactions credits clearing with its whole gross.

    What the payout settles for each document must equal that document's tenders through
    the clearing account, or the payout is refused: an order edited after the payout, or a
    document split across payouts, is held for a person rather than guessed at.
    ``documents`` names the payout and the documents carried whole, not the summarized ones.

    ``posted_elsewhere`` names documents already in the books through another posting (the
    location posted per order or daily before it switched to per-payout, or a document
    waited too long for its payout): like split-tender documents, they are not carried
    again; the payout only empties the clearing account they debited.

    ``absent`` names documents the payout settles that never arrived (sold before the
    connection was made, or lost at the source) once the payout has waited long enough
    for them: the deposit still posts, and the clearing account keeps their part as a
    credit until they arrive and post in their day's summary.
    """
    _check_location(payout, location)
    _check_payout(payout)
    found = _covered_by_external_id(payout, covered, location, absent)
    clearing = placement.payout_clearing(payout)
    settles: dict[Settled, Money] = {}
    for t in payout.transactions:
        which = settled_by(t)
        settles[which] = settles.get(which, Money.zero(payout.currency)) + t.gross

    totals = _Totals()
    whole: list[Sale | Refund] = []
    for which, document in found.items():
        legs = _legs(document, placement)
        through = total((ln.amount for ln in legs if ln.account == clearing), document.currency)
        if through != settles[which]:
            raise PlanningError(
                f"payout {payout.external_id} settles {settles[which]} for "
                f"{_name(document)}, but its tenders through {clearing} add up to {through}; "
                "was it edited after the payout?"
            )
        if document.id not in posted_elsewhere and settled_whole_by(document, clearing, placement):
            totals.add(_as_settled(legs, clearing))
            whole.append(document)
    totals.add(_as_settled(payout_lines(payout, placement), clearing))

    key = f"payout:{payout.source}:{payout.external_id}"
    documents = tuple(sorted([payout.id, *(d.id for d in whole)]))
    sales = sum(isinstance(d, Sale) for d in whole)
    summarized = len(found) - len(whole)
    counted = f"{_count(sales, 'sale')}, {_count(len(whole) - sales, 'refund')}"
    if summarized:
        counted += f"; {_count(summarized, 'split-tender document')} summarized daily"
    narration = f"Payout {payout.external_id} ({counted})"
    entry = JournalEntry(
        key=key,
        tenant_id=payout.tenant_id,
        location_id=payout.location_id,
        date=business_day(payout.occurred_at, location.zone),
        narration=narration,
        lines=totals.lines(payout.currency),
        documents=documents,
    )
    return PlannedPosting(key, PostingMode.PER_PAYOUT, entry, documents)
