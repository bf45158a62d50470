"""The built-in ledger's reports: trial balance, account ledger, income statement."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session, sessionmaker

from salesync.connectors.ledger.books import LedgerBooks, net_income
from salesync.domain.documents import Payout, Sale
from salesync.domain.money import Money
from salesync.domain.postings import journal_for
from salesync.domain.simulate import demo_merchant, simulate
from salesync.store.repositories import Locations, Tenants

MERCHANT = demo_merchant(orders_per_day=12)
LOCATIONS = {loc.id: loc for loc in MERCHANT.locations}
DOCS = list(simulate(MERCHANT, date(2026, 3, 7), 3, seed=3))


@pytest.fixture
def books(factory: sessionmaker[Session]) -> Iterator[LedgerBooks]:
    with factory() as session:
        with session.begin():
            Tenants(session).add(MERCHANT.tenant)
            for loc in MERCHANT.locations:
                Locations(session, "demo").add(loc)
            books = LedgerBooks(session, "demo")
            books.post_documents(DOCS, LOCATIONS)
        yield books


def test_trial_balance_balances_per_currency(books: LedgerBooks) -> None:
    """Debits equal credits in each currency, and every account appears once per currency."""
    rows = books.trial_balance()
    for currency in ("USD", "GBP"):
        mine = [r for r in rows if r.balance.currency == currency]
        debit = sum(r.debit.to_minor() for r in mine)
        credit = sum(r.credit.to_minor() for r in mine)
        assert debit == credit > 0
    keys = [(r.account, r.balance.currency) for r in rows]
    assert len(keys) == len(set(keys))


def test_trial_balance_as_of_a_day_leaves_out_later_entries(books: LedgerBooks) -> None:
    """A trial balance on the first day holds only that day's takings."""
    first_day = books.trial_balance(as_of=date(2026, 3, 7))
    everything = books.trial_balance()
    bank = {r.account: r.balance for r in everything if r.balance.currency == "USD"}
    early = {r.account: r.balance for r in first_day if r.balance.currency == "USD"}
    assert early["Assets:Cash-Drawer"] < bank["Assets:Cash-Drawer"]


def test_account_ledger_runs_a_balance(books: LedgerBooks) -> None:
    """The running balance of the bank account ends at its trial balance figure."""
    lines = books.account_ledger("Assets:Bank", "USD")
    deposits = [d for d in DOCS if isinstance(d, Payout) and d.currency == "USD"]
    assert len(lines) == len(deposits) > 0
    assert lines[-1].running == sum((d.net for d in deposits), Money.zero("USD"))
    tb = {r.account: r.balance for r in books.trial_balance() if r.balance.currency == "USD"}
    assert lines[-1].running == tb["Assets:Bank"]


def test_income_statement_by_day_and_location(books: LedgerBooks) -> None:
    """Sales income per day and store equals the pre-tax goods in that day's sales."""
    rows = books.income_statement(date(2026, 3, 7), date(2026, 3, 9), location_id="brooklyn")
    assert {r.location_id for r in rows} == {"brooklyn"}
    day = date(2026, 3, 8)
    sales = [
        d
        for d in DOCS
        if isinstance(d, Sale)
        and d.location_id == "brooklyn"
        and d.occurred_at.astimezone(LOCATIONS["brooklyn"].zone).date() == day
    ]
    expected = sum(
        (ln.gross for s in sales for ln in s.lines if ln.kind.value == "product"),
        Money.zero("USD"),
    )
    income = sum(
        (r.amount for r in rows if r.day == day and r.account.startswith("Income:Sales:")),
        Money.zero("USD"),
    )
    assert income == expected
    net = net_income(rows)
    assert net[(day, "brooklyn", "USD")].amount > Decimal(0)


def test_posting_the_same_documents_again_posts_nothing(books: LedgerBooks) -> None:
    """Re-posting every document reports them all as already in the books."""
    again = books.post_documents(DOCS, LOCATIONS)
    assert again.created == 0
    assert again.already_posted == len(DOCS)
    assert journal_for(DOCS[0], LOCATIONS[DOCS[0].location_id]) == books.journal.get(
        journal_for(DOCS[0], LOCATIONS[DOCS[0].location_id]).key
    )
