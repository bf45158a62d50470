"""SLA clocks in the support team's business hours: due times, pauses while waiting on the
merchant, and the breach alerts of the support loop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.config import load_settings
from salesync.domain.errors import MappingError
from salesync.domain.tickets import FixedSla
from salesync.engine.incidents import Failure, IncidentLog
from salesync.engine.wiring import incident_log, ticket_desk
from salesync.monitor.desk import DeskError, TicketDesk
from salesync.monitor.loop import Monitor
from salesync.monitor.routing.schedule import parse_hours
from salesync.store.tables import TicketEventRow, TicketRow
from salesync.support.plans import Catalog
from salesync.support.sla import SlaPolicy, add_business, business_between
from salesync.support.subscriptions import Subscriptions

from .conftest import TENANT

NEW_YORK = ZoneInfo("America/New_York")
OFFICE = parse_hours("mon-fri 09:00-17:00")


def ny(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A wall time in New York as an aware UTC moment."""
    return datetime(year, month, day, hour, minute, tzinfo=NEW_YORK).astimezone(UTC)


def test_two_hours_from_friday_afternoon_land_on_monday_morning() -> None:
    """Two working hours from Friday 16:00 (09:00-17:00 on weekdays) end Monday 10:00."""
    friday = ny(2026, 11, 20, 16)
    assert add_business(friday, timedelta(hours=2), OFFICE, NEW_YORK) == ny(2026, 11, 23, 10)
    assert business_between(friday, ny(2026, 11, 23, 10), OFFICE, NEW_YORK) == timedelta(hours=2)


def test_a_due_time_on_the_end_of_the_day_is_that_evening() -> None:
    """Work that fills the rest of the day is due at closing time, not the next morning."""
    assert add_business(ny(2026, 11, 20, 15), timedelta(hours=2), OFFICE, NEW_YORK) == ny(
        2026, 11, 20, 17
    )


def test_working_days_keep_their_wall_hours_when_the_clocks_go_forward() -> None:
    """Across 14 March 2027 in New York, Friday 16:00 EST + 2h is Monday 10:00 EDT, and a
    00:00-12:00 Sunday holds only 11 real hours."""
    friday = ny(2027, 3, 12, 16)
    monday = add_business(friday, timedelta(hours=2), OFFICE, NEW_YORK)
    assert monday == datetime(2027, 3, 15, 14, tzinfo=UTC)
    assert monday.astimezone(NEW_YORK).hour == 10
    mornings = parse_hours("00:00-12:00")
    sunday = ny(2027, 3, 14, 0)
    assert business_between(sunday, ny(2027, 3, 14, 12), mornings, NEW_YORK) == timedelta(hours=11)
    assert add_business(sunday, timedelta(hours=11), mornings, NEW_YORK) == ny(2027, 3, 14, 12)


def test_working_days_keep_their_wall_hours_when_the_clocks_go_back() -> None:
    """Across 1 November 2026 in New York, Friday 16:00 EDT + 2h is Monday 10:00 EST, and a
    00:00-12:00 Sunday holds 13 real hours."""
    monday = add_business(ny(2026, 10, 30, 16), timedelta(hours=2), OFFICE, NEW_YORK)
    assert monday == datetime(2026, 11, 2, 15, tzinfo=UTC)
    mornings = parse_hours("00:00-12:00")
    sunday = ny(2026, 11, 1, 0)
    assert business_between(sunday, ny(2026, 11, 1, 12), mornings, NEW_YORK) == timedelta(hours=13)


def test_a_plan_without_hours_counts_every_hour() -> None:
    """With no business hours (24/7) a target is plain elapsed time, weekends and clock
    changes included."""
    saturday = ny(2026, 10, 31, 12)
    assert add_business(saturday, timedelta(days=1), None, NEW_YORK) == saturday + timedelta(
        hours=24
    )
    assert business_between(saturday, saturday + timedelta(hours=30), None, NEW_YORK) == (
        timedelta(hours=30)
    )


def test_a_night_shift_belongs_to_the_day_it_starts_on() -> None:
    """With ``mon-fri 22:00-06:00`` Friday 05:00 is Thursday's shift: two hours from then
    end at 23:00 on Friday night, and Saturday night is off."""
    nights = parse_hours("mon-fri 22:00-06:00")
    assert add_business(ny(2026, 11, 20, 5), timedelta(hours=2), nights, NEW_YORK) == ny(
        2026, 11, 20, 23
    )
    saturday_night = ny(2026, 11, 21, 23)
    assert add_business(saturday_night, timedelta(hours=1), nights, NEW_YORK) == ny(
        2026, 11, 23, 23
    )


def test_a_time_without_a_zone_is_refused() -> None:
    """A naive datetime cannot be placed in business hours and says so."""
    with pytest.raises(ValueError, match="no time zone"):
        add_business(datetime(2026, 11, 20, 16), timedelta(hours=1), OFFICE, NEW_YORK)  # noqa: DTZ001


@given(
    start=st.datetimes(
        min_value=datetime(2026, 1, 1),  # noqa: DTZ001
        max_value=datetime(2028, 12, 31),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    minutes=st.integers(min_value=0, max_value=60 * 24 * 20),
    hours=st.sampled_from(["mon-fri 09:00-17:00", "mon-fri 08:00-20:00", "sat,sun 22:00-02:00"]),
)
def test_the_working_time_to_a_due_time_is_the_target(
    start: datetime, minutes: int, hours: str
) -> None:
    """For any start and target, the working time from the start to its due time is the
    target."""
    working = parse_hours(hours)
    target = timedelta(minutes=minutes)
    due = add_business(start, target, working, NEW_YORK)
    assert due >= start
    assert business_between(start, due, working, NEW_YORK) == target


def test_platinum_opened_on_friday_evening_answers_on_monday_morning(tiered: Catalog) -> None:
    """Platinum (1h, mon-fri 08:00-20:00 New York): a ticket opened Friday at 21:00 is due
    Monday 09:00 and resolved by Monday 16:00; opened at 19:00 its last hour is Friday's."""
    policy = SlaPolicy(tiered)
    assert policy.clocks("platinum", ny(2026, 11, 20, 21)) == (
        ny(2026, 11, 23, 9),
        ny(2026, 11, 23, 16),
    )
    respond_by, resolve_by = policy.clocks("platinum", ny(2026, 11, 20, 19))
    assert (respond_by, resolve_by) == (ny(2026, 11, 20, 20), ny(2026, 11, 23, 15))
    assert policy.clocks("platinum", ny(2026, 11, 20, 19, 30))[0] == ny(2026, 11, 23, 8, 30)


def test_proactive_standard_counts_two_hours_of_the_office_day(proactive: Catalog) -> None:
    """Proactive Standard (2h respond, 16h resolve, mon-fri 09:00-17:00): opened Friday at
    16:00 it is due Monday 10:00 and resolved by Tuesday 16:00."""
    assert SlaPolicy(proactive).clocks("standard", ny(2026, 11, 20, 16)) == (
        ny(2026, 11, 23, 10),
        ny(2026, 11, 24, 16),
    )


def test_a_plan_the_catalog_no_longer_has_runs_on_the_default_plan(tiered: Catalog) -> None:
    """A ticket opened under an earlier catalog (plan ``standard``) keeps clocks: Silver's."""
    policy = SlaPolicy(tiered)
    opened = ny(2026, 11, 23, 9)
    assert policy.clocks("standard", opened) == policy.clocks("silver", opened)


def test_without_a_catalog_every_plan_gets_eight_hours_and_three_days() -> None:
    """The fixed default promises a response in 8 hours and a resolution in 3 days."""
    opened = datetime(2026, 11, 21, 12, tzinfo=UTC)
    assert FixedSla().clocks("anything", opened) == (
        opened + timedelta(hours=8),
        opened + timedelta(days=3),
    )


def _open(db: sessionmaker[Session], log: IncidentLog, clock: ManualClock) -> TicketRow:
    """Record a failure as the engine does; the ticket it opened, detached."""
    error = MappingError(
        "no account for SKU X-1", user_message="SKU X-1 has no account.", provider="ledger"
    )
    with db() as session, session.begin():
        incident = log.record(
            session,
            TENANT,
            Failure(error=error, stage="engine", subject="posting:1", failed_at=clock()),
        )
        ticket = session.get(TicketRow, incident.ticket_id)
        assert ticket is not None
        session.expunge(ticket)
        return ticket


def _ticket(db: sessionmaker[Session], ticket_id: int) -> TicketRow:
    with db() as session:
        ticket = session.get(TicketRow, ticket_id)
        assert ticket is not None
        session.expunge(ticket)
        return ticket


def _events(db: sessionmaker[Session], ticket_id: int, event: str) -> list[TicketEventRow]:
    with db() as session:
        rows = list(
            session.scalars(
                select(TicketEventRow)
                .where(TicketEventRow.ticket_id == ticket_id, TicketEventRow.event == event)
                .order_by(TicketEventRow.id)
            )
        )
        session.expunge_all()
        return rows


def test_incidents_on_a_platinum_tenant_get_platinum_clocks(
    db: sessionmaker[Session], tiered: Catalog, clock: ManualClock
) -> None:
    """A tenant subscribed to Platinum gets its tickets due within Platinum's hour of
    08:00-20:00 New York time; another tenant is on the default Silver plan."""
    with db() as session, session.begin():
        Subscriptions(session, tiered).subscribe(TENANT, "platinum", clock(), actor="ops")
    clock.set(ny(2026, 11, 20, 21))
    ticket = _open(db, IncidentLog(clock, sla=SlaPolicy(tiered)), clock)
    assert ticket.plan == "platinum"
    assert (ticket.respond_by, ticket.resolve_by) == (ny(2026, 11, 23, 9), ny(2026, 11, 23, 16))
    with db() as session:
        assert Subscriptions(session, tiered).get("globex").plan.code == "silver"


def test_a_tenant_without_a_subscription_is_on_the_default_plan(
    db: sessionmaker[Session], tiered: Catalog, clock: ManualClock
) -> None:
    """With no subscription the ticket records the catalog's default plan and its clocks."""
    clock.set(ny(2026, 11, 23, 9))
    ticket = _open(db, IncidentLog(clock, sla=SlaPolicy(tiered)), clock)
    assert ticket.plan == "silver"
    assert (ticket.respond_by, ticket.resolve_by) == (ny(2026, 11, 23, 17), ny(2026, 11, 27, 17))


def test_waiting_two_business_hours_pushes_both_clocks_by_two_hours(
    db: sessionmaker[Session], proactive: Catalog, clock: ManualClock
) -> None:
    """Waiting from Monday 16:00 to Tuesday 10:00 is two office hours: both clocks move two
    hours later, and the respond clock running out meanwhile raises no alert."""
    policy = SlaPolicy(proactive)
    log = IncidentLog(clock, sla=policy)
    desk = TicketDesk(db, clock, sla=policy)
    monitor = Monitor(db, clock, incidents=log)
    clock.set(ny(2026, 11, 23, 15, 30))
    ticket = _open(db, log, clock)
    assert (ticket.respond_by, ticket.resolve_by) == (
        ny(2026, 11, 24, 9, 30),
        ny(2026, 11, 25, 15, 30),
    )

    clock.set(ny(2026, 11, 23, 16))
    desk.wait_on_merchant(ticket.id, "ana", "Which account should SKU X-1 post to?")
    clock.set(ny(2026, 11, 24, 10))
    assert monitor.tick().breached == 0
    assert desk.merchant_replied(ticket.id, "merchant", "Use 4000 Sales.") == timedelta(hours=2)

    after = _ticket(db, ticket.id)
    assert after.waiting_since is None
    assert (after.respond_by, after.resolve_by) == (
        ny(2026, 11, 24, 11, 30),
        ny(2026, 11, 26, 9, 30),
    )
    assert monitor.tick().breached == 0
    (resumed,) = _events(db, ticket.id, "resumed")
    assert "paused for 2h" in resumed.text
    assert resumed.data["paused_seconds"] == 7200
    assert _events(db, ticket.id, "sla_breached") == []


def test_a_wait_is_for_an_active_ticket_not_yet_waiting(
    db: sessionmaker[Session], clock: ManualClock
) -> None:
    """A second wait is refused until the merchant replies; a reply to a ticket that is not
    waiting changes nothing; a closed ticket does not wait."""
    log = IncidentLog(clock)
    desk = TicketDesk(db, clock)
    ticket = _open(db, log, clock)
    desk.wait_on_merchant(ticket.id, "ana", "Please reconnect QuickBooks.")
    with pytest.raises(DeskError, match="record their reply first"):
        desk.wait_on_merchant(ticket.id, "ana", "Anything else?")
    clock.advance(timedelta(hours=1))
    assert desk.merchant_replied(ticket.id, "merchant") == timedelta(hours=1)
    assert desk.merchant_replied(ticket.id, "merchant") is None
    desk.close(ticket.id, "ana", "duplicate")
    with pytest.raises(DeskError, match="only an active ticket"):
        desk.wait_on_merchant(ticket.id, "ana", "Please reconnect QuickBooks.")


def test_the_sweep_alerts_once_per_clock(
    db: sessionmaker[Session], proactive: Catalog, clock: ManualClock
) -> None:
    """A respond clock that runs out is reported once, then the resolve clock once, each
    as an ``sla_breached`` event saying which clock, by how much, on which plan."""
    policy = SlaPolicy(proactive)
    log = IncidentLog(clock, sla=policy)
    monitor = Monitor(db, clock, incidents=log)
    clock.set(ny(2026, 11, 23, 9))
    ticket = _open(db, log, clock)

    clock.set(ny(2026, 11, 23, 11, 30))
    assert monitor.tick().breached == 1
    assert monitor.tick().breached == 0
    (respond,) = _events(db, ticket.id, "sla_breached")
    assert respond.data["clock"] == "respond"
    assert respond.text.startswith("The first response is overdue by 30m on the standard plan")
    assert _ticket(db, ticket.id).respond_breached_at == ny(2026, 11, 23, 11, 30)

    clock.set(ny(2026, 11, 24, 17, 1))
    assert monitor.tick().breached == 1
    assert monitor.tick().breached == 0
    clocks = [e.data["clock"] for e in _events(db, ticket.id, "sla_breached")]
    assert clocks == ["respond", "resolve"]


def test_a_first_response_stops_the_respond_clock(
    db: sessionmaker[Session], proactive: Catalog, clock: ManualClock
) -> None:
    """An acknowledged ticket past its respond_by raises no respond alert."""
    policy = SlaPolicy(proactive)
    log = IncidentLog(clock, sla=policy)
    clock.set(ny(2026, 11, 23, 9))
    ticket = _open(db, log, clock)
    TicketDesk(db, clock, sla=policy).start(ticket.id, "ana")
    clock.set(ny(2026, 11, 23, 12))
    assert Monitor(db, clock, incidents=log).tick().breached == 0


def test_the_configured_catalog_sets_the_clocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db: sessionmaker[Session], clock: ManualClock
) -> None:
    """The incident log and the desk built from settings count the configured catalog's
    business hours."""
    monkeypatch.setenv("SALESYNC_CONFIG", str(tmp_path / "salesync.toml"))
    cfg = load_settings(catalog="tiered", data_dir=tmp_path)
    clock.set(ny(2026, 11, 20, 16))
    ticket = _open(db, incident_log(cfg, clock), clock)
    assert ticket.respond_by == ny(2026, 11, 23, 16)
    desk = ticket_desk(cfg, db, clock)
    desk.wait_on_merchant(ticket.id, "ana", "Which account?")
    clock.set(ny(2026, 11, 23, 10))
    assert desk.merchant_replied(ticket.id, "merchant") == timedelta(hours=2)
    assert _ticket(db, ticket.id).respond_by == ny(2026, 11, 24, 10)
