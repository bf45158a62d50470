"""Simulator: deterministic by seed, and everything it makes validates and posts."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import pytest

from salesync.domain.documents import Payout, Refund, Sale, business_day
from salesync.domain.money import total
from salesync.domain.postings import journal_for
from salesync.domain.simulate import DemoMerchant, demo_merchant, simulate, tokyo_store
from salesync.domain.validation import validate_payout, validate_refund, validate_sale

MARCH = date(2026, 3, 1)
# Seed 8 once made a Tokyo order discount larger than the order; any seed must pass.
SEED = 8

Document = Sale | Refund | Payout


def three_stores() -> DemoMerchant:
    """New York (USD, tax on top), London (GBP, VAT inside) and Tokyo (JPY, tax inside)."""
    merchant = demo_merchant()
    return DemoMerchant(merchant.tenant, (*merchant.stores, tokyo_store()))


@pytest.fixture(scope="module")
def merchant() -> DemoMerchant:
    return three_stores()


@pytest.fixture(scope="module")
def month(merchant: DemoMerchant) -> list[Document]:
    """A month of March for the three stores, DST changes in New York and London included."""
    return list(simulate(merchant, MARCH, 31, seed=SEED))


def test_same_seed_yields_identical_documents() -> None:
    """Two runs with one seed produce equal documents in equal order."""
    first = list(simulate(three_stores(), MARCH, 3, seed=42))
    second = list(simulate(three_stores(), MARCH, 3, seed=42))
    assert first
    assert first == second


def test_different_seed_yields_different_documents() -> None:
    """Another seed produces another history."""
    first = list(simulate(three_stores(), MARCH, 3, seed=42))
    second = list(simulate(three_stores(), MARCH, 3, seed=43))
    assert first != second


def test_month_has_every_kind_of_document_in_every_store(
    merchant: DemoMerchant, month: list[Document]
) -> None:
    """Each store sells, refunds and is paid out during the month, in its own currency."""
    for location in merchant.locations:
        mine = [d for d in month if d.location_id == location.id]
        assert {type(d) for d in mine} == {Sale, Refund, Payout}
        assert {d.currency for d in mine} == {location.currency}


def test_month_of_documents_has_no_validation_problems(month: list[Document]) -> None:
    """Every sale, refund (against its sale and earlier refunds) and payout is valid."""
    sales: dict[str, Sale] = {}
    refunded: defaultdict[str, list[Refund]] = defaultdict(list)
    problems = []
    for doc in month:
        if isinstance(doc, Sale):
            sales[doc.id] = doc
            found = validate_sale(doc)
        elif isinstance(doc, Refund):
            found = validate_refund(doc, sales[doc.sale_id], refunded[doc.sale_id])
            refunded[doc.sale_id].append(doc)
        else:
            found = validate_payout(doc)
        problems += [(doc.external_id, str(p)) for p in found]
    assert problems == []


def test_month_of_documents_posts_balanced_entries(
    merchant: DemoMerchant, month: list[Document]
) -> None:
    """Every document's journal entry balances and is dated on its local business day."""
    locations = {loc.id: loc for loc in merchant.locations}
    for doc in month:
        location = locations[doc.location_id]
        entry = journal_for(doc, location)
        assert total((ln.amount for ln in entry.lines), entry.currency).amount == 0
        assert entry.date == business_day(doc.occurred_at, location.zone)


def test_refunds_reference_earlier_sales(month: list[Document]) -> None:
    """A refund always names a sale already seen in the stream, at the same store, before it."""
    seen: dict[str, Sale] = {}
    for doc in month:
        if isinstance(doc, Sale):
            seen[doc.id] = doc
        elif isinstance(doc, Refund):
            sale = seen[doc.sale_id]
            assert sale.location_id == doc.location_id
            assert sale.occurred_at < doc.occurred_at


def test_payouts_deposit_gross_less_fees(month: list[Document]) -> None:
    """Each payout's net is its gross less its fees, and its transactions add up to both."""
    payouts = [d for d in month if isinstance(d, Payout)]
    assert payouts
    for payout in payouts:
        assert payout.net == payout.gross - payout.fees
        assert total((t.gross for t in payout.transactions), payout.currency) == payout.gross
        assert total((t.fee for t in payout.transactions), payout.currency) == payout.fees
