"""Developer-hour entitlements: grants, no rollover, logging time and buying extra time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from salesync.store.tables import InvoiceRow, TicketRow
from salesync.support.hours import DeveloperHours, HoursError
from salesync.support.plans import Catalog
from salesync.support.subscriptions import Subscriptions

from .conftest import OTHER, START, TENANT

UPGRADE = datetime(2027, 7, 1, 4, 0, tzinfo=UTC)
"""Midnight of 1 July 2027 in New York: four months before the renewal."""
RENEWAL = datetime(2027, 11, 1, 4, 0, tzinfo=UTC)
"""Midnight of 1 November 2027 in New York, the first renewal of a START subscription."""
LATER = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


class Billing:
    """Issues a real extra-time invoice per key and remembers what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, datetime, str, str]] = []
        self.invoices: list[int] = []

    def __call__(
        self, session: Session, tenant_id: str, blocks: int, at: datetime, actor: str, key: str
    ) -> int:
        self.calls.append((tenant_id, blocks, at, actor, key))
        invoice = InvoiceRow(
            tenant_id=tenant_id,
            number=f"X-{len(self.calls)}",
            kind="extra_time",
            key=key,
            plan="platinum",
            period_start=at,
            period_end=at,
            currency="USD",
            total_minor=blocks * 25000,
            issued_at=at,
        )
        session.add(invoice)
        session.flush()
        self.invoices.append(invoice.id)
        return invoice.id


def _ticket(session: Session, tenant: str = TENANT, regression: str | None = None) -> int:
    ticket = TicketRow(
        tenant_id=tenant,
        fingerprint=f"{tenant}-{regression}-{START.timestamp()}",
        fingerprint_version=1,
        title="QuickBooks rejected a sales receipt",
        state="open",
        kind="bug",
        user_message="A sale could not be posted.",
        first_seen=START,
        last_seen=START,
        first_failed_at=START,
        opened_at=START,
        regression=regression,
    )
    session.add(ticket)
    session.flush()
    return ticket.id


def _on(session: Session, catalog: Catalog, plan: str, tenant: str = TENANT) -> None:
    Subscriptions(session, catalog).subscribe(tenant, plan, START, actor="sales")


def test_an_upgrade_four_months_before_renewal_grants_five_hours(
    db: sessionmaker[Session], tiered: Catalog
) -> None:
    """Moving from Silver to Platinum on 1 July, renewal 1 November, grants 5 hours."""
    with db() as session, session.begin():
        _on(session, tiered, "silver")
        change = Subscriptions(session, tiered).change(TENANT, "platinum", UPGRADE, "sales")
        hours = DeveloperHours(session, tiered)
        [grant] = hours.on_plan_change(change)
        assert (grant.entry, grant.minutes, grant.at) == ("grant", 300, UPGRADE)
        assert hours.balance(TENANT, UPGRADE).hours == 5


def test_renewal_grants_ten_and_the_unused_rest_lapses(
    db: sessionmaker[Session], tiered: Catalog
) -> None:
    """At renewal the unused 4 of the 5 hours lapse and the new year has exactly 10."""
    with db() as session, session.begin():
        _on(session, tiered, "silver")
        change = Subscriptions(session, tiered).change(TENANT, "platinum", UPGRADE, "sales")
        hours = DeveloperHours(session, tiered)
        hours.on_plan_change(change)
        hours.log(TENANT, _ticket(session), 60, "dev", UPGRADE)
        written = hours.renew(TENANT, RENEWAL)
        assert [(e.entry, e.minutes, e.at) for e in written] == [
            ("lapse", -240, RENEWAL),
            ("grant", 600, RENEWAL),
        ]
        assert hours.balance(TENANT, UPGRADE).remaining == 0
        assert hours.balance(TENANT, UPGRADE).lapsed == 240
        new_year = hours.balance(TENANT, RENEWAL)
        assert (new_year.granted, new_year.remaining) == (600, 600)
        assert [e.entry for e in hours.entries(TENANT)] == ["grant", "use", "lapse", "grant"]


@pytest.mark.parametrize(
    ("day", "granted"),
    [(datetime(2027, 5, 1, 4, tzinfo=UTC), 600), (datetime(2027, 5, 2, 4, tzinfo=UTC), 300)],
)
def test_six_months_left_to_renewal_still_grants_the_full_hours(
    db: sessionmaker[Session], tiered: Catalog, day: datetime, granted: int
) -> None:
    """An upgrade exactly 6 months before renewal grants 10 hours, a day later 5."""
    with db() as session, session.begin():
        _on(session, tiered, "gold")
        change = Subscriptions(session, tiered).change(TENANT, "platinum", day, "sales")
        hours = DeveloperHours(session, tiered)
        hours.on_plan_change(change)
        assert hours.balance(TENANT, day).granted == granted


def test_platinum_from_the_start_grants_ten_hours(
    db: sessionmaker[Session], tiered: Catalog
) -> None:
    """A subscription that starts on Platinum gets 10 hours dated at its start."""
    with db() as session, session.begin():
        _on(session, tiered, "platinum")
        hours = DeveloperHours(session, tiered)
        [grant] = hours.renew(TENANT, LATER)
        assert (grant.entry, grant.minutes, grant.at) == ("grant", 600, START)
        assert hours.balance(TENANT, LATER).hours == 10


def test_time_is_logged_in_15_minute_steps(db: sessionmaker[Session], tiered: Catalog) -> None:
    """20 minutes is refused with the steps to use; 45 minutes is taken from the balance."""
    with db() as session, session.begin():
        _on(session, tiered, "platinum")
        hours = DeveloperHours(session, tiered)
        ticket = _ticket(session)
        with pytest.raises(HoursError, match=r"15-minute steps: 15, 30, 45, \.\.\."):
            hours.log(TENANT, ticket, 20, "dev", LATER)
        entry = hours.log(TENANT, ticket, 45, "dev", LATER, note="read the receipt payload")
        assert (entry.entry, entry.minutes, entry.ticket_id) == ("use", -45, ticket)
        assert hours.balance(TENANT, LATER).remaining == 555


def test_logging_beyond_the_balance_is_refused(db: sessionmaker[Session], tiered: Catalog) -> None:
    """With 10 hours left, 10 hours 15 minutes is refused and nothing is recorded."""
    with db() as session, session.begin():
        _on(session, tiered, "platinum")
        hours = DeveloperHours(session, tiered)
        with pytest.raises(HoursError, match=r"only 10 hours are left.*bought \(buy\)"):
            hours.log(TENANT, _ticket(session), 615, "dev", LATER)
        assert hours.balance(TENANT, LATER).used == 0


def test_buying_while_hours_remain_is_refused(db: sessionmaker[Session], tiered: Catalog) -> None:
    """Extra time cannot be bought while any of the granted hours are left."""
    with db() as session, session.begin():
        _on(session, tiered, "platinum")
        billing = Billing()
        hours = DeveloperHours(session, tiered, billing)
        hours.log(TENANT, _ticket(session), 525, "dev", LATER)
        with pytest.raises(HoursError, match="1 hour 15 minutes are still available"):
            hours.buy(TENANT, 2, "owner", LATER)
        assert billing.calls == []


def test_buying_after_the_hours_are_used_bills_once_per_request(
    db: sessionmaker[Session], tiered: Catalog
) -> None:
    """Two 30-minute blocks are billed through the callable; a retried key buys nothing."""
    with db() as session, session.begin():
        _on(session, tiered, "platinum")
        billing = Billing()
        hours = DeveloperHours(session, tiered, billing)
        hours.log(TENANT, _ticket(session), 600, "dev", LATER)
        bought = hours.buy(TENANT, 2, "owner", LATER, request_key="order-7")
        again = hours.buy(TENANT, 2, "owner", LATER, request_key="order-7")
        assert billing.calls == [(TENANT, 2, LATER, "owner", "hours:order-7")]
        assert again == bought
        assert (bought.entry, bought.minutes) == ("purchase", 60)
        assert [bought.invoice_id] == billing.invoices
        assert hours.balance(TENANT, LATER).remaining == 60


def test_extra_time_is_refused_off_platinum(db: sessionmaker[Session], tiered: Catalog) -> None:
    """Buying extra time on Gold is refused with the plan that offers it."""
    with db() as session, session.begin():
        _on(session, tiered, "gold")
        billing = Billing()
        with pytest.raises(HoursError, match=r"cannot be bought on the Gold plan.*Platinum"):
            DeveloperHours(session, tiered, billing).buy(TENANT, 1, "owner", LATER)
        assert billing.calls == []


def test_the_proactive_plan_includes_developer_time(
    db: sessionmaker[Session], proactive: Catalog
) -> None:
    """On Standard any amount of time is recorded as included and never refused."""
    with db() as session, session.begin():
        hours = DeveloperHours(session, proactive)
        ticket = _ticket(session)
        entries = [hours.log(TENANT, ticket, 480, "dev", LATER) for _ in range(3)]
        assert {(e.entry, e.minutes) for e in entries} == {("included", 480)}
        balance = hours.balance(TENANT, LATER)
        assert (balance.metered, balance.remaining, balance.included) == (False, 0, 1440)


def test_a_regression_on_silver_is_included_other_time_is_refused(
    db: sessionmaker[Session], tiered: Catalog
) -> None:
    """Time on a ticket our release caused is included on Silver; other time is not part
    of Silver and the refusal names Platinum."""
    with db() as session, session.begin():
        hours = DeveloperHours(session, tiered)
        entry = hours.log(TENANT, _ticket(session, regression="2026.11.2"), 90, "dev", LATER)
        assert (entry.entry, entry.minutes) == ("included", 90)
        assert "2026.11.2" in entry.note
        with pytest.raises(HoursError, match=r"not part of the Silver plan.*Platinum"):
            hours.log(TENANT, _ticket(session), 30, "dev", LATER)


def test_another_tenants_ticket_is_refused(db: sessionmaker[Session], tiered: Catalog) -> None:
    """Time cannot be logged for a tenant on a ticket of another tenant."""
    with db() as session, session.begin():
        _on(session, tiered, "platinum")
        hours = DeveloperHours(session, tiered)
        with pytest.raises(HoursError, match="not one of acme's tickets"):
            hours.log(TENANT, _ticket(session, tenant=OTHER), 30, "dev", LATER)
        assert hours.entries(TENANT) == []


def test_renewing_everyone_twice_grants_once(db: sessionmaker[Session], tiered: Catalog) -> None:
    """renew_all on every scheduler tick writes each grant and lapse only once."""
    with db() as session, session.begin():
        _on(session, tiered, "platinum")
        _on(session, tiered, "silver", tenant=OTHER)
        hours = DeveloperHours(session, tiered)
        assert hours.renew_all(LATER) == 1
        assert hours.renew_all(LATER) == 0
        assert hours.renew_all(RENEWAL) == 2
        assert hours.renew_all(RENEWAL) == 0
        assert [e.entry for e in hours.entries(TENANT)] == ["grant", "lapse", "grant"]
        assert hours.entries(OTHER) == []


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_a_second_developer_waits_for_the_first_to_log(
    db: sessionmaker[Session], tiered: Catalog
) -> None:
    """While one log is uncommitted another waits on the subscription lock, then sees
    what is left instead of spending the same hours twice."""
    with db() as session, session.begin():
        _on(session, tiered, "platinum")
        ticket = _ticket(session)

    def log_within_50ms(session: Session, minutes: int) -> None:
        session.execute(text("SET LOCAL lock_timeout = '50ms'"))
        DeveloperHours(session, tiered).log(TENANT, ticket, minutes, "bob", LATER)

    with db() as first, first.begin():
        DeveloperHours(first, tiered).log(TENANT, ticket, 540, "ann", LATER)
        with db() as second, pytest.raises(OperationalError, match="lock"), second.begin():
            log_within_50ms(second, 120)
    with db() as second, pytest.raises(HoursError, match="only 1 hour is left"), second.begin():
        log_within_50ms(second, 120)
