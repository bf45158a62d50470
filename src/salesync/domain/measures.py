"""What a document amounts to, in a merchant's words: sales, discounts, tax by rate,
refunds, tenders, fees, payouts. Reconciliation compares these between the source and
the books, whatever accounts a mapping chose.

The measures come from the same legs that post (``sale_lines`` and friends), placed on
accounts named after the measure, so they can never drift from what is posted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from salesync.domain.documents import Payment, Payout, Refund, RefundLine, Sale, SaleLine, TaxLine
from salesync.domain.journal import JournalLine
from salesync.domain.money import Money
from salesync.domain.postings import payout_lines, refund_lines, sale_lines

CREDITS = frozenset(
    {"sales", "shipping", "service charges", "tips", "gift cards", "settled", "rounding"}
)
"""Measures whose legs are credits: shown positive when the merchant earned or owes them."""


@dataclass(frozen=True, slots=True)
class _MeasurePlacement:
    """Places every leg on an account named after what it measures."""

    discounts: str = "discounts"
    returns: str = "refunds"
    shipping: str = "shipping"
    service_charges: str = "service charges"
    tips: str = "tips"
    gift_cards: str = "gift cards"
    bank: str = "payouts"
    fees: str = "fees"
    payout_adjustments: str = "payout adjustments"
    rounding: str = "rounding"

    def income_for(self, line: SaleLine | RefundLine) -> str:
        return "sales"

    def tax_for(self, tax: TaxLine) -> str:
        return f"tax: {tax.name}"

    def tender_for(self, payment: Payment) -> str:
        return f"tender: {payment.tender}"

    def payout_clearing(self, payout: Payout) -> str:
        return "settled"

    def settlement_account(self, currency: str) -> str:
        return "settled"


_MEASURES = _MeasurePlacement()


def _sign(measure: str) -> int:
    return -1 if measure in CREDITS or measure.startswith("tax: ") else 1


def measures(document: Sale | Refund | Payout) -> dict[str, Money]:
    """Each measure of one document, in its currency; zero measures are left out.

    Sales, tax, shipping, tips and gift cards sold are positive on a sale and negative on a
    refund; tenders are what was paid (negative when paid back); a payout gives its
    deposit ("payouts"), fees and what it settled.
    """
    if isinstance(document, Sale):
        legs = sale_lines(document, _MEASURES)
    elif isinstance(document, Refund):
        legs = refund_lines(document, _MEASURES)
    else:
        legs = payout_lines(document, _MEASURES)
    return add_up(legs)


def add_up(legs: Iterable[JournalLine]) -> dict[str, Money]:
    sums: dict[str, Money] = {}
    for leg in legs:
        amount = leg.amount if _sign(leg.account) > 0 else -leg.amount
        sums[leg.account] = sums[leg.account] + amount if leg.account in sums else amount
    return {name: value for name, value in sorted(sums.items()) if value}


def combine(into: dict[str, Decimal], more: dict[str, Money], factor: int = 1) -> None:
    """Add ``more`` (times ``factor``) into running decimal sums."""
    for name, value in more.items():
        into[name] = into.get(name, Decimal(0)) + value.amount * factor
