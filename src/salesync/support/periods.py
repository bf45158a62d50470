"""Billing periods and subscription years: whole local days in the support team's time
zone, anchored on the day a subscription started.

A subscription started on 31 January has monthly periods starting 31 January, 28 (or 29)
February, 31 March: each start is counted from the anchor, never from the previous start,
so a short month does not shift the rest of the year.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class Period:
    """``start`` inclusive to ``end`` exclusive, both local midnights as UTC instants."""

    start: datetime
    end: datetime
    first_day: date
    last_day: date
    """The last local day inside the period."""

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def contains(self, at: datetime) -> bool:
        return self.start <= at < self.end


def shift_months(day: date, months: int) -> date:
    """``day`` moved by ``months``, clamped to the last day of a shorter month."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def local_day(at: datetime, zone: ZoneInfo) -> date:
    return at.astimezone(zone).date()


def midnight(day: date, zone: ZoneInfo) -> datetime:
    """The instant local ``day`` begins, in UTC."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def period_at(anchor: date, months: int, at: datetime, zone: ZoneInfo) -> Period:
    """The period of ``months`` months, counted from ``anchor``, that contains ``at``."""
    today = local_day(at, zone)
    elapsed = (today.year - anchor.year) * 12 + today.month - anchor.month
    steps = elapsed // months
    while shift_months(anchor, steps * months) > today:
        steps -= 1
    while shift_months(anchor, (steps + 1) * months) <= today:
        steps += 1
    return period_number(anchor, months, steps, zone)


def period_number(anchor: date, months: int, number: int, zone: ZoneInfo) -> Period:
    """The ``number``-th period (0 is the first) of ``months`` months from ``anchor``."""
    first = shift_months(anchor, number * months)
    following = shift_months(anchor, (number + 1) * months)
    return Period(
        start=midnight(first, zone),
        end=midnight(following, zone),
        first_day=first,
        last_day=following - timedelta(days=1),
    )


def days_active(
    period: Period,
    intervals: list[tuple[datetime, datetime | None]],
    zone: ZoneInfo,
) -> int:
    """The local days of ``period`` on which any of ``intervals`` was active: a location
    active for any part of a day is billed for that day."""
    days: set[date] = set()
    for since, until in intervals:
        if until is not None and until <= since:
            continue
        first = max(local_day(since, zone), period.first_day)
        last_instant = until - timedelta(microseconds=1) if until is not None else period.end
        last = min(local_day(last_instant, zone), period.last_day)
        day = first
        while day <= last:
            days.add(day)
            day += timedelta(days=1)
    return len(days)
