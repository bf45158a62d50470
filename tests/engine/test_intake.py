"""Intake: validated documents are stored and posted once; bad ones are refused whole."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session, sessionmaker

from salesync.connectors.ledger.books import LedgerBooks
from salesync.domain.documents import Payment, Refund, Sale, Tenant
from salesync.domain.errors import ValidationError
from salesync.domain.money import Money
from salesync.domain.simulate import demo_merchant, simulate
from salesync.engine.intake import Intake
from salesync.store.repositories import Documents, Journal, Locations, Tenants

MERCHANT = demo_merchant(orders_per_day=10)
DOCS = list(simulate(MERCHANT, date(2026, 10, 30), 4, seed=11))


@pytest.fixture
def session(factory: sessionmaker[Session]) -> Iterator[Session]:
    with factory() as s:
        with s.begin():
            Tenants(s).add(MERCHANT.tenant)
            for loc in MERCHANT.locations:
                Locations(s, "demo").add(loc)
        yield s


def intake(session: Session) -> Intake:
    return Intake(
        session,
        "demo",
        MERCHANT.locations,
        clock=lambda: datetime(2026, 11, 23, tzinfo=UTC),
    )


def test_clean_documents_are_stored_and_posted_once(session: Session) -> None:
    """A batch posts one entry per document; taking it again posts nothing new."""
    with session.begin():
        first = intake(session).take(DOCS)
    assert first.rejected == []
    assert first.stored == first.posted == len(DOCS)
    with session.begin():
        again = intake(session).take(DOCS)
    assert again.stored == again.posted == 0
    assert again.duplicates == again.already_posted == len(DOCS)
    assert Journal(session, "demo").count() == len(DOCS)


def test_an_unbalanced_sale_is_refused_with_every_problem_and_nothing_written(
    session: Session,
) -> None:
    """Short tenders, a stray currency and an unknown location are all named; no row lands."""
    sale = next(d for d in DOCS if isinstance(d, Sale))
    bad = replace(
        sale,
        location_id="nowhere",
        payments=(Payment("card", sale.grand_total - Money(Decimal(1), sale.currency)),),
        tip=Money(Decimal(2), "EUR"),
    )
    with session.begin(), pytest.raises(ValidationError) as raised:
        intake(session).accept(bad)
    codes = {p.code for p in raised.value.problems}
    assert {"unknown_location", "currency_mismatch"} <= codes
    assert "EUR" in raised.value.user_message
    assert Documents(session, "demo").count() == 0
    assert Journal(session, "demo").count() == 0


def test_a_short_payment_is_named_in_plain_words(session: Session) -> None:
    """Tenders that do not cover the total are refused, saying both amounts."""
    sale = next(d for d in DOCS if isinstance(d, Sale))
    short = sale.grand_total - Money(Decimal(1), sale.currency)
    bad = replace(sale, payments=(Payment("card", short),))
    with session.begin():
        report = intake(session).take([bad])
    [rejected] = report.rejected
    assert [p.code for p in rejected.problems] == ["tenders_do_not_cover_total"]
    assert str(short) in rejected.explain()
    assert Journal(session, "demo").count() == 0


def test_a_refund_before_its_sale_is_refused(session: Session) -> None:
    """A refund of a sale salesync has not received is not posted on its own."""
    refund = next(d for d in DOCS if isinstance(d, Refund))
    with session.begin():
        report = intake(session).take([refund])
    assert [p.code for p in report.rejected[0].problems] == ["unknown_sale"]


def test_refunding_more_than_was_sold_is_refused(session: Session) -> None:
    """A second refund of the same line, on top of the first, exceeds the sale."""
    refund = next(d for d in DOCS if isinstance(d, Refund))
    sale = next(d for d in DOCS if d.id == refund.sale_id)
    again = replace(refund, id=refund.id + "-2", external_id=refund.external_id + "-2")
    with session.begin():
        report = intake(session).take([sale, refund, again])
    assert report.posted == 2
    codes = {p.code for p in report.rejected[0].problems}
    assert "quantity_exceeds_sale" in codes


def test_documents_of_another_tenant_are_refused(session: Session) -> None:
    """Intake for one tenant never writes a document that names another."""
    with session.begin():
        Tenants(session).add(Tenant("other", "Other"))
    sale = next(d for d in DOCS if isinstance(d, Sale))
    with session.begin():
        report = Intake(session, "other", []).take([sale])
    codes = {p.code for p in report.rejected[0].problems}
    assert {"wrong_tenant", "unknown_location"} <= codes


def test_books_balance_after_intake(session: Session) -> None:
    """Every currency's debits equal its credits in the trial balance."""
    with session.begin():
        intake(session).take(DOCS)
    rows = LedgerBooks(session, "demo").trial_balance()
    for currency in ("USD", "GBP"):
        assert sum(r.balance.to_minor() for r in rows if r.balance.currency == currency) == 0
