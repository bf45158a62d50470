"""Clocks, injected wherever time matters, so tests and the demo can move time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def system_clock() -> datetime:
    """The real time, in UTC."""
    return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to; calling it returns the current instant."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("a clock needs an aware start time")
        self._now = start.astimezone(UTC)

    def __call__(self) -> datetime:
        return self._now

    def set(self, instant: datetime) -> None:
        if instant < self._now:
            raise ValueError(f"time only moves forward ({instant} is before {self._now})")
        self._now = instant.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        self.set(self._now + delta)
