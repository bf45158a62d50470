"""Time as people write it in the support configuration: durations (``15m``, ``1w``),
IANA time zones, and working hours (``mon-fri 09:00-17:00``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import PlainSerializer, PlainValidator

_DURATION = re.compile(r"(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def parse_duration(value: object) -> timedelta:
    """``"15m"``, ``"12h"``, ``"1w"``, ``"1h30m"`` (or a timedelta) as a positive timedelta."""
    if isinstance(value, timedelta):
        delta = value
    elif isinstance(value, str) and value.strip() and (found := _DURATION.fullmatch(value.strip())):
        weeks, days, hours, minutes, seconds = (int(g or 0) for g in found.groups())
        delta = timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    else:
        raise ValueError(f"{value!r} is not a duration; write e.g. '90s', '15m', '12h', '1w'")
    if delta <= timedelta(0):
        raise ValueError(f"{value!r} must be longer than zero")
    return delta


def render_duration(delta: timedelta) -> str:
    """A duration in the form ``parse_duration`` reads: ``15m``, ``1w``, ``1h30m``."""
    seconds = int(delta.total_seconds())
    parts = []
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


Duration = Annotated[timedelta, PlainValidator(parse_duration), PlainSerializer(render_duration)]


def check_zone(value: object) -> str:
    """``value`` if it names an IANA time zone, else a ValueError saying what to write."""
    if not isinstance(value, str) or not value:
        raise ValueError("a time zone is an IANA name such as 'Europe/Berlin'")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{value!r} is not an IANA time zone; write e.g. 'Europe/Berlin', "
            "'America/New_York' or 'UTC'"
        ) from None
    return value


TimeZoneName = Annotated[str, PlainValidator(check_zone)]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"(?:(?P<days>[a-z,\-]+)\s+)?(?P<start>\d\d:\d\d)-(?P<end>\d\d:\d\d)")


@dataclass(frozen=True, slots=True)
class WorkingHours:
    """When a member takes tickets, in their own time zone; ``end`` before ``start`` is
    a shift past midnight, belonging to the day it starts on."""

    days: frozenset[int]
    start: int
    """Minutes after local midnight."""
    end: int
    text: str

    def covers(self, at: datetime, zone: ZoneInfo) -> bool:
        local = at.astimezone(zone)
        minute = local.hour * 60 + local.minute
        today, yesterday = local.weekday(), (local.weekday() - 1) % 7
        if self.start < self.end:
            return today in self.days and self.start <= minute < self.end
        return (today in self.days and minute >= self.start) or (
            yesterday in self.days and minute < self.end
        )

    def __str__(self) -> str:
        return self.text


def parse_hours(value: object) -> WorkingHours:
    """``"09:00-17:00"``, ``"mon-fri 09:00-17:00"``, ``"sat,sun 10:00-14:00"``."""
    if isinstance(value, WorkingHours):
        return value
    form = "write e.g. '09:00-17:00' or 'mon-fri 09:00-17:00'"
    text = " ".join(str(value).lower().split()) if isinstance(value, str) else ""
    found = _HOURS.fullmatch(text)
    if not found:
        raise ValueError(f"{value!r} is not working hours; {form}")
    start, end = _minute(found["start"]), _minute(found["end"])
    if start is None or end is None or start in (end, 24 * 60):
        raise ValueError(f"{value!r} has a bad or empty time range; {form}")
    days: set[int] = set()
    for part in (found["days"] or "mon-sun").split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"{value!r}: {part!r} is not a day or range of {', '.join(DAYS)}")
        a, b = DAYS.index(first), DAYS.index(last or first)
        days.update(d % 7 for d in range(a, b + 1 if b >= a else b + 8))
    return WorkingHours(days=frozenset(days), start=start, end=end % (24 * 60), text=text)


def _minute(text: str) -> int | None:
    hours, minutes = int(text[:2]), int(text[3:])
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        return None
    return hours * 60 + minutes


Hours = Annotated[WorkingHours, PlainValidator(parse_hours), PlainSerializer(str)]
