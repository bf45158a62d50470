"""SLA clocks counted in the support team's business hours.

A plan's targets (``PlanSla``) are durations of working time: "respond within 2h" on
``mon-fri 09:00-17:00`` means two hours the team is at work, so a ticket opened on a
Friday at 16:00 is due on Monday at 10:00. Hours are laid out per local day in the
catalog's time zone (``Catalog.timezone``), so a working day stays 09:00-17:00 on the wall
clock when the clocks change, and the time counted is the real time elapsed inside it.

Working hours whose end is before their start (``mon-fri 22:00-06:00``, or ``09:00-24:00``
which ends at midnight) are a shift past midnight belonging to the day it starts on, as
for the routing rota (``WorkingHours``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from salesync.monitor.routing.schedule import WorkingHours
from salesync.support.plans import Catalog, Plan

_DAY = timedelta(days=1)


def add_business(
    start: datetime, duration: timedelta, hours: WorkingHours | None, zone: ZoneInfo
) -> datetime:
    """The moment ``duration`` of working time after ``start`` (plain addition without
    ``hours``: every hour counts). A due time landing on the end of a working day is
    that end, not the next morning."""
    _aware(start)
    if duration < timedelta(0):
        raise ValueError(f"a duration of working time cannot be negative ({duration})")
    if hours is None:
        return start + duration
    if duration == timedelta(0):
        return start
    remaining = duration
    for shift_start, shift_end in _shifts(start, hours, zone):
        begins = max(shift_start, start)
        available = shift_end - begins
        if remaining <= available:
            return (begins + remaining).astimezone(start.tzinfo)
        remaining -= available
    raise AssertionError("unreachable: working hours repeat every week")  # pragma: no cover


def business_between(
    a: datetime, b: datetime, hours: WorkingHours | None, zone: ZoneInfo
) -> timedelta:
    """The working time between ``a`` and ``b`` (zero when ``b`` is not after ``a``)."""
    _aware(a)
    _aware(b)
    if b <= a:
        return timedelta(0)
    if hours is None:
        return b - a
    total = timedelta(0)
    for begins, ends in _shifts(a, hours, zone):
        if begins >= b:
            break
        total += min(ends, b) - max(begins, a)
    return total


def _shifts(
    after: datetime, hours: WorkingHours, zone: ZoneInfo
) -> Iterator[tuple[datetime, datetime]]:
    """The working intervals (in UTC) that end after ``after``, in order, without end."""
    if not hours.days:
        raise ValueError(f"working hours {hours} name no day")
    start = time(hours.start // 60, hours.start % 60)
    end = time(hours.end // 60, hours.end % 60)
    overnight = hours.end <= hours.start
    # A shift past midnight that began yesterday may still be running at ``after``.
    day = after.astimezone(zone).date() - _DAY
    while True:
        if day.weekday() in hours.days:
            begins = _at(day, start, zone)
            ends = _at(day + _DAY if overnight else day, end, zone)
            if ends > after and ends > begins:
                yield begins, ends
        day += _DAY


def _at(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """``wall`` on ``day`` in ``zone`` as a UTC moment; a wall time skipped when the clocks
    go forward is read with the offset before the change (02:30 becomes 03:30)."""
    return datetime.combine(day, wall, tzinfo=zone).astimezone(UTC)


def _aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no time zone; SLA clocks need aware times")


class SlaPolicy:
    """The catalog's SLA clocks: each plan's targets in its business hours, counted in the
    support team's time zone. It is the ``SlaClocks`` the incident log and the ticket desk
    are given; a plan code the catalog no longer has (a ticket opened under an earlier
    catalog) runs on the default plan's clocks."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.zone = ZoneInfo(catalog.timezone)

    @property
    def default_plan(self) -> str:
        return self.catalog.default_plan

    def plan(self, code: str | None) -> Plan:
        return self.catalog.plans.get(code or "") or self.catalog.plan(None)

    def clocks(self, plan: str, opened_at: datetime) -> tuple[datetime, datetime]:
        """When the first response and the resolution are due for a ticket opened then."""
        sla = self.plan(plan).sla
        return (
            add_business(opened_at, sla.respond, sla.hours, self.zone),
            add_business(opened_at, sla.resolve, sla.hours, self.zone),
        )

    def paused(self, plan: str, paused_from: datetime, paused_until: datetime) -> timedelta:
        """The plan's clock time that ran between the two moments (its business time)."""
        return business_between(paused_from, paused_until, self.plan(plan).sla.hours, self.zone)

    def extend(
        self, ticket_clock: datetime, paused_from: datetime, paused_until: datetime, plan: str
    ) -> datetime:
        """``ticket_clock`` pushed later by the business time that passed while paused."""
        hours = self.plan(plan).sla.hours
        spent = business_between(paused_from, paused_until, hours, self.zone)
        return add_business(ticket_clock, spent, hours, self.zone)
