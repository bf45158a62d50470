"""Support measures: time to detect, ticket, assign and resolve per provider and kind,
tickets by state, healed transient failures and SLA breaches, read from the database
over a window, and served to Prometheus by a collector on its own registry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.domain.documents import Tenant
from salesync.domain.errors import BugError, MappingError, SyncError, TransientError
from salesync.engine.incidents import Failure, IncidentLog
from salesync.monitor.desk import TicketDesk
from salesync.monitor.measures import (
    Durations,
    Measures,
    MeasuresCollector,
    Span,
    measure,
    nearest_rank,
)
from salesync.store.repositories import Tenants
from salesync.store.tables import IncidentRow

from .conftest import LOCATION, TENANT

DEV = "dev@example.com"


def unmapped(n: int) -> MappingError:
    return MappingError(
        f"no item is mapped for SKU 'SKU-{n}'",
        user_message=f"The product SKU-{n} has no item in your books.",
        code=f"unmapped_{n}",
        provider="qbo",
        operation="post:SalesReceipt",
    )


def fail(
    db: sessionmaker[Session],
    clock: ManualClock,
    error: SyncError,
    *,
    ago: timedelta = timedelta(0),
    subject: str = "posting:1",
    tenant: str = TENANT,
    transient: bool = False,
) -> IncidentRow:
    """Record a failure that happened ``ago`` before now, as the engine does."""
    with db() as session, session.begin():
        incident = IncidentLog(clock).record(
            session,
            tenant,
            Failure(
                error=error,
                stage="engine",
                subject=subject,
                failed_at=clock() - ago,
                location_id=LOCATION,
                transient=transient,
            ),
        )
        session.expunge(incident)
        return incident


def measured(db: sessionmaker[Session], clock: ManualClock, **options: Any) -> Measures:
    with db() as session:
        return measure(session, clock(), **options)


def ticket_of(incident: IncidentRow) -> int:
    assert incident.ticket_id is not None
    return incident.ticket_id


def metric_samples(
    registry: CollectorRegistry,
) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample the registry exposes, parsed back from the text format."""
    text = generate_latest(registry).decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_nearest_rank_picks_a_duration_that_happened():
    """Quantiles are nearest-rank: p90 of ten durations is the ninth, not an interpolation;
    p55 of a hundred is the 55th, not the 56th that floating point rounding of 0.55 * 100
    would pick."""
    ten = [float(n) for n in range(1, 11)]
    assert nearest_rank(ten, "0.5") == 5.0
    assert nearest_rank(ten, "0.9") == 9.0
    assert nearest_rank(ten, "0.99") == 10.0
    assert nearest_rank(ten, 1) == 10.0
    hundred = [float(n) for n in range(1, 101)]
    assert nearest_rank(hundred, "0.99") == 99.0
    assert nearest_rank(hundred, "0.55") == 55.0
    assert nearest_rank([7.0], "0.5") == 7.0
    with pytest.raises(ValueError, match="undefined"):
        nearest_rank([], "0.5")
    with pytest.raises(ValueError, match="quantile"):
        nearest_rank(ten, "0")
    assert Durations.of([]) is None


def test_time_to_ticket_assign_and_resolve_per_provider_and_kind(
    db: sessionmaker[Session], clock: ManualClock
):
    """Four tickets whose first failures came 10, 20, 30 and 40 seconds before they
    opened give p50 20s, p90/p99/max 40s; assignment and resolution are timed from the
    opening, and a failure with no provider is labelled salesync."""
    desk = TicketDesk(db, clock)
    tickets = []
    for n, ago in enumerate((40, 10, 30, 20), start=1):
        tickets.append(ticket_of(fail(db, clock, unmapped(n), ago=timedelta(seconds=ago))))
        clock.advance(timedelta(minutes=1))
    fail(db, clock, BugError("scheduler crashed"), ago=timedelta(seconds=5), subject="run:plan")
    clock.advance(timedelta(minutes=10))
    desk.assign(tickets[3], DEV, actor="lead")
    clock.advance(timedelta(hours=2))
    desk.resolve(tickets[3], DEV, "The SKU is mapped now and the sale is in your books.")

    found = measured(db, clock)

    to_ticket = found.timing(Span.TICKET, "qbo", "mapping")
    assert to_ticket is not None
    assert to_ticket.count == 4
    assert to_ticket.quantiles == {"0.5": 20.0, "0.9": 40.0, "0.99": 40.0}
    assert to_ticket.max == 40.0
    assert to_ticket.total == 100.0
    detect = found.timing(Span.DETECT, "qbo", "mapping")
    assert detect is not None
    assert detect.quantiles["0.5"] == 20.0
    system = found.timing(Span.TICKET, "salesync", "bug")
    assert system is not None
    assert system.max == 5.0
    # The fourth ticket opened a minute before the bug, then ten minutes passed.
    assign = found.timing(Span.ASSIGN, "qbo", "mapping")
    assert assign is not None
    assert (assign.count, assign.max) == (1, 660.0)
    resolve = found.timing(Span.RESOLVE, "qbo", "mapping")
    assert resolve is not None
    assert resolve.max == timedelta(hours=2, minutes=11).total_seconds()
    assert found.tickets == {"open": 4, "assigned": 0, "fixing": 0, "resolved": 1, "closed": 0}
    assert found.timing(Span.ASSIGN, "salesync", "bug") is None


def test_the_window_leaves_out_what_ended_before_it(db: sessionmaker[Session], clock: ManualClock):
    """A ticket opened 40 days ago is outside a 30-day window (still counted by state);
    a 60-day window takes it in."""
    fail(db, clock, unmapped(1), ago=timedelta(seconds=50))
    clock.advance(timedelta(days=40))
    fail(db, clock, unmapped(2), ago=timedelta(seconds=5))
    with db() as session:
        recent = measure(session, clock())
        longer = measure(session, clock(), window=timedelta(days=60))
    short = recent.timing(Span.TICKET, "qbo", "mapping")
    assert short is not None
    assert (short.count, short.max) == (1, 5.0)
    assert recent.tickets["open"] == 2
    long = longer.timing(Span.TICKET, "qbo", "mapping")
    assert long is not None
    assert (long.count, long.max) == (2, 50.0)
    with pytest.raises(ValueError, match="longer than zero"):
        measured(db, clock, window=timedelta(0))


def test_an_owner_kept_from_before_a_reopening_is_not_a_time_to_assign(
    db: sessionmaker[Session], clock: ManualClock
):
    """A resolved ticket that reopens keeps its owner; the old assignment precedes the new
    opening and is not counted as a (negative) time to assign."""
    desk = TicketDesk(db, clock)
    ticket = ticket_of(fail(db, clock, unmapped(1)))
    clock.advance(timedelta(minutes=3))
    desk.assign(ticket, DEV, actor="lead")
    desk.resolve(ticket, DEV, "The SKU is mapped now and the sale is in your books.")
    assert measured(db, clock).timing(Span.ASSIGN, "qbo", "mapping") is not None
    clock.advance(timedelta(hours=1))
    again = fail(db, clock, unmapped(1), ago=timedelta(seconds=7))
    assert again.ticket_id == ticket
    found = measured(db, clock)
    assert found.timing(Span.ASSIGN, "qbo", "mapping") is None
    assert found.timing(Span.RESOLVE, "qbo", "mapping") is None
    reopened = found.timing(Span.TICKET, "qbo", "mapping")
    assert reopened is not None
    assert (reopened.count, reopened.max) == (1, 7.0)
    assert found.tickets["assigned"] == 1


def test_healed_transient_failures_are_counted_without_a_ticket(
    db: sessionmaker[Session], clock: ManualClock
):
    """A transient failure whose unit later succeeded counts as healed; one still failing
    does not; neither opens a ticket."""
    timeout = TransientError("read timed out", provider="qbo", operation="post:SalesReceipt")
    fail(db, clock, timeout, subject="posting:7", transient=True)
    fail(db, clock, timeout, subject="posting:8", transient=True)
    with db() as session, session.begin():
        assert IncidentLog(clock).healed(session, TENANT, ["posting:7"]) == 1
    found = measured(db, clock)
    assert found.healed == {("qbo", "transient"): 1}
    assert sum(found.tickets.values()) == 0


def test_sla_breaches_count_missed_deadlines(db: sessionmaker[Session], clock: ManualClock):
    """On the standard plan (respond within 8 hours, resolve within 3 days) a ticket
    nobody acknowledged breaches the respond clock; one started in time does not; a
    resolution after the deadline breaches the resolve clock."""
    desk = TicketDesk(db, clock)
    fail(db, clock, unmapped(1))
    started = ticket_of(fail(db, clock, unmapped(2)))
    clock.advance(timedelta(hours=1))
    desk.start(started, DEV)
    assert measured(db, clock).breaches == {"respond": 0, "resolve": 0}
    clock.advance(timedelta(hours=8))
    assert measured(db, clock).breaches == {"respond": 1, "resolve": 0}
    clock.advance(timedelta(days=3))
    desk.resolve(started, DEV, "The SKU is mapped now and the sale is in your books.")
    found = measured(db, clock)
    assert found.breaches == {"respond": 1, "resolve": 2}
    assert found.tickets["open"] == 1


def test_a_tenant_sees_only_its_own_measures(db: sessionmaker[Session], clock: ManualClock):
    """Measures for one tenant leave out every other tenant's incidents and tickets."""
    with db() as session, session.begin():
        Tenants(session).add(Tenant(id="other", name="Other Co"))
    fail(db, clock, unmapped(1), ago=timedelta(seconds=3))
    fail(db, clock, unmapped(1), ago=timedelta(seconds=90), tenant="other")
    with db() as session:
        mine = measure(session, clock(), tenant_id=TENANT)
        theirs = measure(session, clock(), tenant_id="other")
        everyone = measure(session, clock())
    assert mine.tenant_id == TENANT
    mine_ticket = mine.timing(Span.TICKET, "qbo", "mapping")
    theirs_ticket = theirs.timing(Span.TICKET, "qbo", "mapping")
    all_ticket = everyone.timing(Span.TICKET, "qbo", "mapping")
    assert mine_ticket is not None
    assert theirs_ticket is not None
    assert all_ticket is not None
    assert (mine_ticket.count, mine_ticket.max) == (1, 3.0)
    assert (theirs_ticket.count, theirs_ticket.max) == (1, 90.0)
    assert all_ticket.count == 2
    assert mine.tickets["open"] == 1
    assert everyone.tickets["open"] == 2


def test_measures_read_as_json_data(db: sessionmaker[Session], clock: ManualClock):
    """The JSON form names the quantiles p50, p90, p99 and gives every state and clock."""
    fail(db, clock, unmapped(1), ago=timedelta(seconds=12))
    data = measured(db, clock, tenant_id=TENANT).as_dict()
    assert data["window_seconds"] == timedelta(days=30).total_seconds()
    assert data["times_seconds"]["ticket"] == [
        {
            "provider": "qbo",
            "kind": "mapping",
            "count": 1,
            "p50": 12.0,
            "p90": 12.0,
            "p99": 12.0,
            "max": 12.0,
        }
    ]
    assert data["times_seconds"]["assign"] == []
    assert data["tickets"]["open"] == 1
    assert data["sla_breaches"] == {"respond": 0, "resolve": 0}
    assert data["healed"] == []


def test_the_collector_serves_the_database_to_prometheus(
    db: sessionmaker[Session], clock: ManualClock
):
    """Each scrape reads the database: summaries with quantiles (1 is the longest), counts
    and sums per provider and kind; tickets by state; the healed counter; SLA breaches.
    Two registries each with a collector do not clash."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MeasuresCollector(db, clock))
    empty = metric_samples(registry)
    assert empty[("salesync_tickets", frozenset({("state", "open")}))] == 0
    assert not any(name.startswith("salesync_support_time_to_ticket") for name, _ in empty)

    fail(db, clock, unmapped(1), ago=timedelta(seconds=30))
    fail(db, clock, unmapped(2), ago=timedelta(seconds=10))
    timeout = TransientError("read timed out", provider="qbo")
    fail(db, clock, timeout, subject="posting:9", transient=True)
    with db() as session, session.begin():
        IncidentLog(clock).healed(session, TENANT, ["posting:9"])

    other = CollectorRegistry(auto_describe=False)
    other.register(MeasuresCollector(db, clock, window=timedelta(days=7)))
    samples = metric_samples(registry)
    labels = {("provider", "qbo"), ("kind", "mapping")}

    def at(name: str, **extra: str) -> float:
        return samples[(name, frozenset(labels | set(extra.items())))]

    base = "salesync_support_time_to_ticket_seconds"
    assert at(base, quantile="0.5") == 10.0
    assert at(base, quantile="0.99") == 30.0
    assert at(base, quantile="1") == 30.0
    assert at(f"{base}_count") == 2
    assert at(f"{base}_sum") == 40.0
    assert at("salesync_support_time_to_detect_seconds_count") == 2
    assert samples[("salesync_tickets", frozenset({("state", "open")}))] == 2
    healed_key = (
        "salesync_incidents_healed_total",
        frozenset({("provider", "qbo"), ("kind", "transient")}),
    )
    assert samples[healed_key] == 1
    assert samples[("salesync_support_sla_breaches", frozenset({("clock", "respond")}))] == 0
    assert samples[("salesync_support_window_seconds", frozenset())] == 30 * 86400
    weekly = metric_samples(other)
    assert weekly[("salesync_support_window_seconds", frozenset())] == 7 * 86400
