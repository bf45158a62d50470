"""Posting modes: per-order, daily-summary and per-payout entries balance, agree account by
account, and tie to the bank deposit.

Properties run on simulated trading days: Brooklyn (USD, tax on top, tips, web shipping),
Shoreditch (GBP, VAT inside, deliveries) and sometimes Shibuya (JPY, no minor unit).
Hand-worked examples are written as ledger text so a reader can check every line.
"""

from __future__ import annotations

import dataclasses
import random
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cached_property
from textwrap import dedent

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salesync.domain.adjustments import plan_adjustment
from salesync.domain.documents import (
    Discount,
    DocumentKind,
    Location,
    Payment,
    Payout,
    PayoutTransaction,
    Refund,
    Sale,
    SaleLine,
    business_day,
    document_id,
)
from salesync.domain.journal import JournalEntry
from salesync.domain.money import Money
from salesync.domain.planning import (
    SETTLED,
    DailySummaryBuilder,
    PlannedPosting,
    PlanningError,
    PostingMode,
    plan_daily_summary,
    plan_per_order,
    plan_per_payout,
    settled_whole_by,
)
from salesync.domain.postings import DEFAULT_PLAN
from salesync.domain.simulate import DemoMerchant, demo_merchant, simulate, tokyo_store

from .builders import (
    BROOKLYN,
    SOLD_AT,
    SOURCE,
    TENANT,
    clean_payout,
    clean_sale,
    ny_tax,
    refund_of_mug,
    usd,
)

CLEARING = DEFAULT_PLAN.payout_clearing(clean_payout())
OCTOBER = date(2026, 10, 1)

Trade = Sale | Refund


# --- simulated days ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Scenario:
    """A few simulated days, small enough that Hypothesis reports it in one line."""

    orders_per_day: int
    days: int
    seed: int
    with_tokyo: bool

    @cached_property
    def merchant(self) -> DemoMerchant:
        base = demo_merchant(orders_per_day=self.orders_per_day)
        tokyo = dataclasses.replace(tokyo_store(), orders_per_day=self.orders_per_day)
        return DemoMerchant(base.tenant, (*base.stores, tokyo) if self.with_tokyo else base.stores)

    @cached_property
    def documents(self) -> list[Sale | Refund | Payout]:
        return list(simulate(self.merchant, OCTOBER, self.days, seed=self.seed))

    @cached_property
    def locations(self) -> dict[str, Location]:
        return {loc.id: loc for loc in self.merchant.locations}

    @property
    def trades(self) -> list[Trade]:
        return [d for d in self.documents if isinstance(d, Sale | Refund)]

    @property
    def payouts(self) -> list[Payout]:
        return [d for d in self.documents if isinstance(d, Payout)]

    def days_of(self, trades: Iterable[Trade]) -> dict[tuple[str, date], list[Trade]]:
        """``trades`` grouped by location and business day."""
        grouped: dict[tuple[str, date], list[Trade]] = defaultdict(list)
        for d in trades:
            zone = self.locations[d.location_id].zone
            grouped[d.location_id, business_day(d.occurred_at, zone)].append(d)
        return grouped

    @cached_property
    def by_external_id(self) -> dict[tuple[str, str], Trade]:
        return {(d.location_id, d.external_id): d for d in self.trades}

    def covered(self, payout: Payout) -> list[Trade]:
        """The sales and refunds ``payout`` settles, once each."""
        found = {
            t.document_external_id: self.by_external_id[payout.location_id, t.document_external_id]
            for t in payout.transactions
        }
        return list(found.values())

    def summaries(self, trades: Iterable[Trade]) -> list[PlannedPosting]:
        return [
            planned
            for (loc, day), group in sorted(self.days_of(trades).items())
            for planned in plan_daily_summary(group, self.locations[loc], day)
        ]

    def per_payout(self, payout: Payout) -> PlannedPosting:
        return plan_per_payout(payout, self.covered(payout), self.locations[payout.location_id])

    def left_to_summaries(self) -> list[Trade]:
        """In per-payout mode, the documents some payout settles but not whole."""
        return [
            d for p in self.payouts for d in self.covered(p) if not settled_whole_by(d, CLEARING)
        ]


scenarios = st.builds(
    Scenario,
    orders_per_day=st.integers(1, 12),
    days=st.integers(1, 3),
    seed=st.integers(0, 2**32 - 1),
    with_tokyo=st.booleans(),
)
simulated = settings(max_examples=20, deadline=None)


def balances(entries: Iterable[JournalEntry]) -> dict[tuple[str, str], Decimal]:
    """What ``entries`` post to each account, per currency, leaving out accounts netting to zero."""
    sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for entry in entries:
        for line in entry.lines:
            sums[line.account, line.amount.currency] += line.amount.amount
    return {key: amount for key, amount in sums.items() if amount}


def ledger(entry: JournalEntry) -> str:
    """The entry as aligned text: one leg per line, amount then memo."""
    return "".join(
        f"{line.account:<38}{line.amount!s:>14}  {line.memo}".rstrip() + "\n"
        for line in entry.lines
    )


def text(block: str) -> str:
    return dedent(block).lstrip("\n")


# --- properties on simulated days ------------------------------------------------------------


@simulated
@given(scenarios)
def test_every_planned_posting_balances(scenario: Scenario) -> None:
    """Every per-order, daily-summary and per-payout posting balances in rounded amounts."""
    plans = [plan_per_order(d, scenario.locations[d.location_id]) for d in scenario.documents]
    plans += scenario.summaries(scenario.trades)
    plans += [scenario.per_payout(p) for p in scenario.payouts]
    for planned in plans:
        entry = planned.entry
        assert sum(line.amount.amount for line in entry.lines) == 0
        assert all(line.amount.is_rounded() for line in entry.lines)
        assert entry.key == planned.key
        assert entry.documents == planned.documents == tuple(sorted(planned.documents))


@simulated
@given(scenarios)
def test_daily_summary_equals_the_sum_of_per_order_postings(scenario: Scenario) -> None:
    """A day's summary posts to every account exactly what its per-order entries post."""
    for (loc, day), trades in scenario.days_of(scenario.trades).items():
        location = scenario.locations[loc]
        summaries = plan_daily_summary(trades, location, day)
        per_order = [plan_per_order(d, location) for d in trades]
        assert balances(p.entry for p in summaries) == balances(p.entry for p in per_order)
        assert {i for p in summaries for i in p.documents} == {d.id for d in trades}
        assert {p.key for p in summaries} == {f"daily:{loc}:{location.currency}:{day}"}


@simulated
@given(scenarios)
def test_per_payout_entry_ties_to_the_deposit(scenario: Scenario) -> None:
    """A per-payout entry's bank line is the deposit and its fees line the payout's fees."""
    for payout in scenario.payouts:
        entry = scenario.per_payout(payout).entry
        deposit = [ln.amount for ln in entry.lines if ln.account == DEFAULT_PLAN.bank]
        fees = [ln.amount for ln in entry.lines if ln.account == DEFAULT_PLAN.fees]
        assert deposit == [payout.net]
        assert fees == ([payout.fees] if payout.fees else [])
        assert entry.date == business_day(
            payout.occurred_at, scenario.locations[payout.location_id].zone
        )


@simulated
@given(scenarios)
def test_clearing_nets_to_zero_across_payouts_and_the_summaries_they_settle(
    scenario: Scenario,
) -> None:
    """Card takings summarized daily (split tenders) and cleared by payouts leave nothing."""
    entries = [scenario.per_payout(p).entry for p in scenario.payouts]
    entries += [p.entry for p in scenario.summaries(scenario.left_to_summaries())]
    assert not {key for key in balances(entries) if key[0] == CLEARING}


@simulated
@given(scenarios)
def test_per_payout_mode_posts_what_per_order_mode_posts(scenario: Scenario) -> None:
    """Per-payout entries plus the summaries they leave post what per-order mode posts."""
    per_payout = [scenario.per_payout(p).entry for p in scenario.payouts]
    per_payout += [p.entry for p in scenario.summaries(scenario.left_to_summaries())]
    documents = [*scenario.payouts, *(d for p in scenario.payouts for d in scenario.covered(p))]
    per_order = [plan_per_order(d, scenario.locations[d.location_id]).entry for d in documents]
    assert balances(per_payout) == balances(per_order)


@simulated
@given(scenarios, st.randoms(use_true_random=False))
def test_replanning_the_same_documents_yields_the_same_postings(
    scenario: Scenario, rng: random.Random
) -> None:
    """Planning again, documents in any order, gives the same keys and the same entries."""
    for (loc, day), trades in scenario.days_of(scenario.trades).items():
        location = scenario.locations[loc]
        shuffled = rng.sample(trades, len(trades))
        assert plan_daily_summary(shuffled, location, day) == plan_daily_summary(
            trades, location, day
        )
    for payout in scenario.payouts:
        covered = scenario.covered(payout)
        location = scenario.locations[payout.location_id]
        again = plan_per_payout(payout, rng.sample(covered, len(covered)), location)
        assert again == scenario.per_payout(payout)
        assert again.key == f"payout:{payout.source}:{payout.external_id}"
    for document in scenario.documents:
        location = scenario.locations[document.location_id]
        assert plan_per_order(document, location) == plan_per_order(document, location)


# --- hand-worked examples --------------------------------------------------------------------


def cap_sale_in_cash() -> Sale:
    """A 22.00 cap, 10 % off (2.20) = 19.80, tax 19.80 x 0.08875 = 1.757 -> 1.76: 21.56 cash."""
    cap = SaleLine(
        "CAP-003",
        "Canvas cap",
        "Accessories",
        Decimal(1),
        usd("22.00"),
        discounts=(Discount("10% off", usd("2.20")),),
        taxes=ny_tax("1.76"),
    )
    return clean_sale(
        id=document_id(TENANT, SOURCE, DocumentKind.SALE, "S-1002"),
        external_id="S-1002",
        occurred_at=SOLD_AT + timedelta(hours=1),
        lines=(cap,),
        payments=(Payment("cash", usd("21.56")),),
        declared_total=usd("21.56"),
    )


def test_daily_summary_of_a_small_day_reads_line_by_line() -> None:
    """Two sales and a refund sum, account by account, into one entry for the day."""
    # S-1001 card 78.39: tee 56.00 (tax 4.97) and mug 16.00 (tax 1.42).
    # S-1002 cash 21.56: cap 22.00 less 2.20 off, tax 1.76.
    # R-1 card -17.42: the mug 16.00 and its 1.42 tax given back.
    # Card 78.39 - 17.42 = 60.97; tax 4.97 + 1.42 + 1.76 - 1.42 = 6.73.
    refund = refund_of_mug(occurred_at=SOLD_AT + timedelta(hours=2))
    day = [clean_sale(), cap_sale_in_cash(), refund]
    [planned] = plan_daily_summary(day, BROOKLYN, date(2026, 3, 10))
    assert planned.key == "daily:brooklyn:USD:2026-03-10"
    assert planned.mode is PostingMode.DAILY_SUMMARY
    assert planned.entry.narration == "Daily summary Brooklyn 2026-03-10 (2 sales, 1 refund)"
    assert planned.documents == tuple(sorted(d.id for d in day))
    assert ledger(planned.entry) == text(
        """
        Assets:Cash-Drawer                         21.56 USD  cash
        Assets:Clearing:Card                       60.97 USD  card
        Income:Discounts                            2.20 USD
        Income:Returns                             16.00 USD
        Income:Sales:Accessories                  -22.00 USD
        Income:Sales:Apparel                      -56.00 USD
        Income:Sales:Homeware                     -16.00 USD
        Liabilities:Sales-Tax:NY-Sales-Tax         -6.73 USD
        """
    )


def test_per_payout_carries_card_sales_whole_and_clears_split_tender_ones() -> None:
    """A card-only sale posts whole in its payout; a cash-and-card sale stays in the day's
    summary, and the payout clears exactly its card part."""
    # S-1001 card 78.39 (fee 2.57). S-1003: hoodie 64.00 + tax 5.68 = 69.68, of which
    # 40.00 cash and 29.68 card (fee 1.16). Deposit 78.39 + 29.68 - 3.73 = 104.34.
    hoodie = SaleLine(
        "HOOD-002", "Fleece hoodie", "Apparel", Decimal(1), usd("64.00"), taxes=ny_tax("5.68")
    )
    split = clean_sale(
        id=document_id(TENANT, SOURCE, DocumentKind.SALE, "S-1003"),
        external_id="S-1003",
        lines=(hoodie,),
        payments=(Payment("cash", usd("40.00")), Payment("card", usd("29.68"))),
        declared_total=usd("69.68"),
    )
    payout = clean_payout(
        gross=usd("108.07"),
        fees=usd("3.73"),
        net=usd("104.34"),
        transactions=(
            PayoutTransaction("S-1001", "charge", usd("78.39"), usd("2.57")),
            PayoutTransaction("S-1003", "charge", usd("29.68"), usd("1.16")),
        ),
    )
    planned = plan_per_payout(payout, [clean_sale(), split], BROOKLYN)
    assert planned.key == "payout:processor:PO-1"
    assert planned.entry.date == date(2026, 3, 11)
    assert planned.entry.narration == (
        "Payout PO-1 (1 sale, 0 refunds; 1 split-tender document summarized daily)"
    )
    assert planned.documents == tuple(sorted([payout.id, clean_sale().id]))
    assert ledger(planned.entry) == text(
        """
        Assets:Bank                               104.34 USD  deposit
        Assets:Clearing:Card                      -29.68 USD  settled
        Expenses:Payment-Fees                       3.73 USD  processing fees
        Income:Sales:Apparel                      -56.00 USD
        Income:Sales:Homeware                     -16.00 USD
        Liabilities:Sales-Tax:NY-Sales-Tax         -6.39 USD
        """
    )
    assert not settled_whole_by(split, CLEARING)
    [summary] = plan_daily_summary([split], BROOKLYN, date(2026, 3, 10))
    assert ledger(summary.entry) == text(
        """
        Assets:Cash-Drawer                         40.00 USD  cash
        Assets:Clearing:Card                       29.68 USD  card
        Income:Sales:Apparel                      -64.00 USD
        Liabilities:Sales-Tax:NY-Sales-Tax         -5.68 USD
        """
    )
    assert (CLEARING, "USD") not in balances([planned.entry, summary.entry])


def test_a_day_that_cancels_out_keeps_its_lines_at_zero() -> None:
    """A sale refunded in full the same day, returns booked to sales, still gets an entry."""
    mug = SaleLine("MUG-005", "Mug", "Homeware", Decimal(1), usd("16.00"), taxes=ny_tax("1.42"))
    sale = clean_sale(lines=(mug,), payments=(Payment("card", usd("17.42")),), declared_total=None)
    refund = refund_of_mug(occurred_at=SOLD_AT + timedelta(hours=1))
    returns_to_sales = dataclasses.replace(DEFAULT_PLAN, returns="Income:Sales:Homeware")
    [planned] = plan_daily_summary([sale, refund], BROOKLYN, date(2026, 3, 10), returns_to_sales)
    assert ledger(planned.entry) == text(
        """
        Assets:Clearing:Card                        0.00 USD  card
        Income:Sales:Homeware                       0.00 USD
        Liabilities:Sales-Tax:NY-Sales-Tax          0.00 USD
        """
    )
    assert planned.documents == tuple(sorted([sale.id, refund.id]))


def test_each_currency_of_a_day_gets_its_own_summary() -> None:
    """A Canadian-dollar sale at a US store is summarized apart, its currency named."""
    cad = clean_sale(
        id=document_id(TENANT, SOURCE, DocumentKind.SALE, "S-CAD"),
        external_id="S-CAD",
        currency="CAD",
        lines=(SaleLine("CAP-003", "Cap", "Accessories", Decimal(1), Money(Decimal(30), "CAD")),),
        payments=(Payment("cash", Money(Decimal(30), "CAD")),),
        declared_total=None,
    )
    plans = plan_daily_summary([cad, clean_sale()], BROOKLYN, date(2026, 3, 10))
    assert [p.key for p in plans] == [
        "daily:brooklyn:CAD:2026-03-10",
        "daily:brooklyn:USD:2026-03-10",
    ]
    assert (
        plans[0].entry.narration == "Daily summary Brooklyn 2026-03-10 in CAD (1 sale, 0 refunds)"
    )
    assert plans[0].documents == (cad.id,)


def test_per_order_keys_tell_sales_refunds_and_payouts_apart() -> None:
    """Per-order keys name source, kind and external id, so equal numbers never collide."""
    refund = refund_of_mug(external_id="S-1001")
    keys = [plan_per_order(d, BROOKLYN).key for d in (clean_sale(), refund, clean_payout())]
    assert keys == [
        "order:pos:sale:S-1001",
        "order:pos:refund:S-1001",
        "order:processor:payout:PO-1",
    ]
    planned = plan_per_order(clean_payout(), BROOKLYN)
    assert planned.mode is PostingMode.PER_ORDER
    assert [ln.memo for ln in planned.entry.lines] == ["deposit", "processing fees", SETTLED]


# --- refusals --------------------------------------------------------------------------------

SHOREDITCH = Location("shoreditch", TENANT, "Shoreditch", "Europe/London", "GBP")


def test_summary_refuses_a_document_of_another_location() -> None:
    """A Brooklyn sale cannot go into Shoreditch's summary."""
    with pytest.raises(PlanningError, match=r"sale S-1001 belongs to location 'brooklyn'"):
        plan_daily_summary([clean_sale()], SHOREDITCH, date(2026, 3, 10))


def test_summary_refuses_a_document_of_another_business_day() -> None:
    """A sale at 02:00 UTC on the 11th is the 10th in New York, not the 11th."""
    late = clean_sale(occurred_at=datetime(2026, 3, 11, 2, 0, tzinfo=UTC))
    with pytest.raises(PlanningError, match=r"falls on 2026-03-10 in America/New_York"):
        plan_daily_summary([late], BROOKLYN, date(2026, 3, 11))


def test_builder_refuses_a_currency_it_does_not_hold() -> None:
    """A builder for euros refuses a dollar sale, naming both currencies."""
    builder = DailySummaryBuilder(BROOKLYN, date(2026, 3, 10), "EUR")
    with pytest.raises(PlanningError, match=r"is in USD; .* holds EUR only"):
        builder.add(clean_sale())


def test_summary_refuses_a_payout() -> None:
    """Payouts post on their own, never inside a daily summary."""
    with pytest.raises(PlanningError, match=r"payouts post on their own"):
        plan_daily_summary([clean_payout()], BROOKLYN, date(2026, 3, 11))  # type: ignore[list-item]


def test_builder_refuses_the_same_document_twice() -> None:
    """Adding a document again would count its amounts twice, so it is refused."""
    builder = DailySummaryBuilder(BROOKLYN, date(2026, 3, 10), "USD")
    builder.add(clean_sale())
    with pytest.raises(PlanningError, match=r"added twice"):
        builder.add(clean_sale())


def test_an_empty_day_has_nothing_to_summarize() -> None:
    """No documents give no summaries; an empty builder refuses to build one."""
    assert plan_daily_summary([], BROOKLYN, date(2026, 3, 10)) == []
    with pytest.raises(PlanningError, match=r"nothing to summarize"):
        DailySummaryBuilder(BROOKLYN, date(2026, 3, 10), "USD").build()


def only_s1001(**changes: Money) -> Payout:
    """A payout of the clean sale alone: 78.39 less 2.57 fees is 75.82."""
    tx = PayoutTransaction("S-1001", "charge", usd("78.39"), usd("2.57"))
    fields = {"gross": usd("78.39"), "fees": usd("2.57"), "net": usd("75.82"), **changes}
    return clean_payout(transactions=(tx,), **fields)


@pytest.mark.parametrize(
    ("payout", "covered", "message"),
    [
        pytest.param(
            clean_payout(),
            [clean_sale()],
            r"settles sale S-1002, but those documents were not given",
            id="missing",
        ),
        pytest.param(
            only_s1001(),
            [clean_sale(), cap_sale_in_cash()],
            r"sale S-1002 is not among the transactions",
            id="unsettled",
        ),
        pytest.param(
            only_s1001(),
            [clean_sale(payments=(Payment("card", usd("78.40")),), declared_total=usd("78.40"))],
            r"settles 78.39 USD for sale S-1001, but its tenders through "
            r"Assets:Clearing:Card add up to 78.40 USD",
            id="edited-after-payout",
        ),
        pytest.param(
            only_s1001(net=usd("75.00")),
            [clean_sale()],
            r"is 75.82 USD, not the deposit 75.00 USD",
            id="deposit-off",
        ),
    ],
)
def test_per_payout_refuses_a_payout_that_does_not_match_its_documents(
    payout: Payout, covered: list[Trade], message: str
) -> None:
    """A payout whose documents are missing, extra, or disagree with it is held, not guessed."""
    with pytest.raises(PlanningError, match=message):
        plan_per_payout(payout, covered, BROOKLYN)


def test_an_edit_moved_to_another_day_with_nothing_to_book_covers_it_by_its_reversal() -> None:
    """The reversal alone stands for an edit that leaves no amount on its new day, so the
    edited revision is in the books and a later edit adjusts from it, not from the first
    version a second time."""
    merchant = demo_merchant(orders_per_day=4)
    sale = next(d for d in simulate(merchant, date(2026, 3, 2), 1) if isinstance(d, Sale))
    location = next(loc for loc in merchant.locations if loc.id == sale.location_id)
    free = dataclasses.replace(
        sale,
        occurred_at=sale.occurred_at + timedelta(days=1),
        lines=(
            dataclasses.replace(
                sale.lines[0], unit_price=Money.zero(sale.currency), discounts=(), taxes=()
            ),
        ),
        payments=(),
        order_discounts=(),
        shipping=None,
        shipping_taxes=(),
        service_charges=(),
        tip=None,
        declared_total=None,
    )
    planned = plan_adjustment(
        sale, free, 2, location, posted_placement=DEFAULT_PLAN, placement=DEFAULT_PLAN
    )
    assert planned.booking is None
    assert planned.reversal is not None
    assert planned.reversal.documents == (sale.id,)
    moved = dataclasses.replace(sale, occurred_at=sale.occurred_at + timedelta(days=1))
    both = plan_adjustment(
        sale, moved, 2, location, posted_placement=DEFAULT_PLAN, placement=DEFAULT_PLAN
    )
    assert both.reversal is not None
    assert both.booking is not None
    assert (both.reversal.documents, both.booking.documents) == ((), (sale.id,))


@pytest.mark.parametrize(
    ("failed_after", "dated_after"), [(timedelta(hours=2), 0), (timedelta(days=3), 3)]
)
def test_a_payout_that_fails_after_posting_takes_its_deposit_back_out_of_the_bank(
    failed_after: timedelta, dated_after: int
) -> None:
    """The adjustment of a posted payout the bank then returned moves its 96.80 from the
    bank back to the clearing account on the day it came back, and touches nothing else."""
    posted = clean_payout()
    planned = plan_adjustment(
        posted,
        dataclasses.replace(posted, failed_at=posted.occurred_at + failed_after),
        2,
        BROOKLYN,
        posted_placement=DEFAULT_PLAN,
        placement=DEFAULT_PLAN,
    )
    assert planned.reversal is None
    assert planned.booking is not None
    entry = planned.booking.entry
    paid_on = business_day(posted.occurred_at, BROOKLYN.zone)
    assert entry.date == paid_on + timedelta(days=dated_after)
    assert {(ln.account, ln.amount) for ln in entry.lines} == {
        ("Assets:Bank", usd("-96.80")),
        ("Assets:Clearing:Card", usd("96.80")),
    }


def test_a_payout_said_failed_and_then_not_is_adjusted_no_earlier_than_it_failed() -> None:
    """The source corrects itself: the deposit goes back into the bank on the day it was
    taken out at the earliest, never into the day it was paid out."""
    failed = clean_payout(failed_at=clean_payout().occurred_at + timedelta(days=3))
    planned = plan_adjustment(
        failed,
        dataclasses.replace(failed, failed_at=None),
        3,
        BROOKLYN,
        posted_placement=DEFAULT_PLAN,
        placement=DEFAULT_PLAN,
    )
    assert planned.booking is not None
    entry = planned.booking.entry
    assert entry.date == business_day(failed.occurred_at, BROOKLYN.zone) + timedelta(days=3)
    assert {(ln.account, ln.amount) for ln in entry.lines} == {
        ("Assets:Bank", usd("96.80")),
        ("Assets:Clearing:Card", usd("-96.80")),
    }
