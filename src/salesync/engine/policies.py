"""Sync policies: when each kind of document moves, and the window times that follow.

Sales wait for scheduled windows (06:00 and 18:00 in each location's own time zone by
default); customers, products and manual sales entries move in real time; a manual
policy waits for someone to press sync. Window times are wall-clock times in the
location's zone: across a DST change a window keeps its local time, a window that falls
in the spring-forward gap opens at the first instant after it, and one in the repeated
autumn hour opens at its first occurrence.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


class SyncMode(enum.StrEnum):
    REALTIME = "realtime"
    SCHEDULED = "scheduled"
    MANUAL = "manual"


DEFAULT_WINDOWS = (time(6), time(18))
MANUAL_SOURCE = "manual"
"""Sales keyed in by hand: the merchant expects to see them at once, not in a batch."""


@dataclass(frozen=True, slots=True)
class SyncPolicy:
    mode: SyncMode
    windows: tuple[time, ...] = DEFAULT_WINDOWS

    def __post_init__(self) -> None:
        if self.mode is SyncMode.SCHEDULED and not self.windows:
            raise ValueError("a scheduled policy needs at least one window time, e.g. 06:00")

    @classmethod
    def parse_windows(cls, mode: str, windows: Sequence[str]) -> SyncPolicy:
        """Build a policy from text such as ``("06:00", "18:00")``, naming any bad time."""
        parsed = []
        for text in windows:
            try:
                parsed.append(time.fromisoformat(text))
            except ValueError:
                raise ValueError(f"window {text!r} is not a time of day such as 06:00") from None
        try:
            sync_mode = SyncMode(mode)
        except ValueError:
            modes = ", ".join(m.value for m in SyncMode)
            raise ValueError(f"sync mode {mode!r} is not one of {modes}") from None
        return cls(sync_mode, tuple(sorted(parsed)))

    def due_at(self, received_at: datetime, zone: ZoneInfo) -> datetime | None:
        """When a document received at ``received_at`` may move; None for manual."""
        if self.mode is SyncMode.REALTIME:
            return received_at
        if self.mode is SyncMode.MANUAL:
            return None
        return next_window(received_at, zone, self.windows)


REALTIME = SyncPolicy(SyncMode.REALTIME, ())
SCHEDULED = SyncPolicy(SyncMode.SCHEDULED)

DEFAULT_POLICIES: dict[str, SyncPolicy] = {
    "sale": SCHEDULED,
    "refund": SCHEDULED,
    "payout": SCHEDULED,
    "customer": REALTIME,
    "product": REALTIME,
}


def default_policy(kind: str, source: str) -> SyncPolicy:
    if source == MANUAL_SOURCE:
        return REALTIME
    return DEFAULT_POLICIES.get(kind, SCHEDULED)


def window_instant(day: datetime, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of local time ``at`` on ``day``'s local date (gap-safe)."""
    local = datetime.combine(day.date(), at, tzinfo=zone)
    # A wall time inside a spring-forward gap converts to the instant just after the gap;
    # an ambiguous autumn time takes fold=0, its first occurrence.
    return local.astimezone(UTC)


def next_window(after: datetime, zone: ZoneInfo, windows: Sequence[time]) -> datetime:
    """The first window instant at or after ``after``."""
    if after.tzinfo is None:
        raise ValueError("next_window needs an aware datetime")
    local = after.astimezone(zone)
    for days in range(3):
        day = local + timedelta(days=days)
        for at in sorted(windows):
            instant = window_instant(day, at, zone)
            if instant >= after:
                return instant
    raise ValueError("no window within three days; check the policy's window times")


def day_close(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant from which the local date in ``zone`` is after ``day`` for good.

    Usually the next local midnight. A midnight inside a spring-forward gap is the end of
    the gap; a midnight that comes twice is the second one when the clocks went back into
    ``day`` in between, else the first."""
    midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    candidates = (midnight.astimezone(UTC), midnight.replace(fold=1).astimezone(UTC))
    later = max(candidates)
    if (later - timedelta(microseconds=1)).astimezone(zone).date() <= day:
        return later
    return min(candidates)


def summary_time(day: date, zone: ZoneInfo, policies: Iterable[SyncPolicy]) -> datetime:
    """When a daily summary of ``day`` goes: at the first window after the day closes, of
    the latest of ``policies`` (those of the sales and refunds it sums). A sale made after
    the day's last window is due by then, so it is in the day's one summary rather than
    in a supplement of its own. The close itself when every policy is real time or
    manual."""
    close = day_close(day, zone)
    times = [policy.due_at(close, zone) for policy in policies]
    return max((t for t in times if t is not None), default=close)
