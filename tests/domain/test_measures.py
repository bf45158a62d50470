"""Measures: a document in a merchant's words, consistent with what posts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from salesync.domain.documents import Payout, Refund, Sale
from salesync.domain.measures import CREDITS, measures
from salesync.domain.simulate import demo_merchant, simulate

DOCS = list(simulate(demo_merchant(orders_per_day=20), date(2026, 10, 1), 10, seed=8))


def test_what_was_paid_equals_what_was_earned_owed_and_given_away() -> None:
    """For every sale and refund, tenders equal credits minus discounts and refunds."""
    checked = 0
    for doc in DOCS:
        if not isinstance(doc, Sale | Refund):
            continue
        found = measures(doc)
        tenders = sum((v.amount for k, v in found.items() if k.startswith("tender: ")), Decimal(0))
        credits = sum(
            (v.amount for k, v in found.items() if k in CREDITS or k.startswith("tax: ")),
            Decimal(0),
        )
        debits = sum(
            (v.amount for k, v in found.items() if k in {"discounts", "refunds"}), Decimal(0)
        )
        assert tenders == credits - debits, (doc.external_id, found)
        checked += 1
    assert checked > 100


def test_sales_are_positive_and_refunds_are_refunds() -> None:
    """A sale shows positive sales and tenders; a refund shows refunds and tenders paid back."""
    sale = next(d for d in DOCS if isinstance(d, Sale) and d.lines[0].category != "Gift cards")
    refund = next(d for d in DOCS if isinstance(d, Refund))
    assert measures(sale)["sales"].amount > 0
    assert all(v.amount > 0 for k, v in measures(sale).items() if k.startswith("tender: "))
    assert measures(refund)["refunds"].amount > 0
    assert all(v.amount < 0 for k, v in measures(refund).items() if k.startswith("tender: "))


def test_a_payout_gives_its_deposit_fees_and_what_it_settled() -> None:
    """Payout measures are the deposit, the fees and the gross settled, as the processor says."""
    payout = next(d for d in DOCS if isinstance(d, Payout))
    found = measures(payout)
    assert found["payouts"] == payout.net
    assert found["fees"] == payout.fees
    assert found["settled"] == payout.gross
