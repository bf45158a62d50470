"""Who is on call: a team's rotation at an instant, unless an override covers it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from salesync.monitor.routing.config import Rotation, TeamConfig


@dataclass(frozen=True, slots=True)
class Override:
    """``member`` covers ``team``'s on-call from ``starts_at`` until (not including)
    ``ends_at``."""

    team: str
    member: str
    starts_at: datetime
    ends_at: datetime
    reason: str = ""
    id: int | None = None

    def covers(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at


@dataclass(frozen=True, slots=True)
class Shift:
    """One turn of a rotation, its bounds in UTC."""

    member: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class OnCall:
    """Who is on call at an instant, and why: the rotation's shift, or an override."""

    member: str
    shift: Shift
    override: Override | None = None


def shift_at(team: TeamConfig, at: datetime) -> Shift:
    """The rotation's shift that contains ``at``."""
    rotation = _rotation(team)
    if rotation.timezone is None:
        index = (at - rotation.start) // rotation.shift
        starts = rotation.start + index * rotation.shift
        ends = starts + rotation.shift
    else:
        index, starts, ends = _local_shift(rotation, rotation.timezone, at)
    member = team.members[index % len(team.members)].name
    return Shift(member=member, starts_at=starts.astimezone(UTC), ends_at=ends.astimezone(UTC))


def _local_shift(rotation: Rotation, timezone: str, at: datetime) -> tuple[int, datetime, datetime]:
    # Shifts are counted in local calendar days between handoffs at a wall-clock time, so
    # a shift spanning a daylight-saving change is an hour shorter or longer, and the
    # handoff keeps its local time.
    zone = ZoneInfo(timezone)
    handoff = rotation.handoff or rotation.start.astimezone(zone).time()
    days = rotation.shift.days

    def handoff_on(day: date) -> datetime:
        return datetime.combine(day, handoff, tzinfo=zone).astimezone(UTC)

    first = rotation.start.astimezone(zone).date()
    day = at.astimezone(zone).date()
    if at.astimezone(UTC) < handoff_on(day):
        day -= timedelta(days=1)
    index = (day - first).days // days
    starts = first + timedelta(days=index * days)
    return index, handoff_on(starts), handoff_on(starts + timedelta(days=days))


def _rotation(team: TeamConfig) -> Rotation:
    if team.rotation is None:
        raise ValueError(f"team {team.name!r} is {team.mode}; only oncall teams have a rotation")
    return team.rotation


def on_call(team: TeamConfig, at: datetime, overrides: Iterable[Override] = ()) -> OnCall:
    """Who is on call for ``team`` at ``at``: the latest-starting override covering that
    instant (on a tie, the one given last), else the rotation's member."""
    shift = shift_at(team, at)
    chosen: Override | None = None
    for override in overrides:
        if override.team != team.name or not override.covers(at):
            continue
        if chosen is None or override.starts_at >= chosen.starts_at:
            chosen = override
    if chosen is not None:
        return OnCall(member=chosen.member, shift=shift, override=chosen)
    return OnCall(member=shift.member, shift=shift)


def who_is_on_call(team: TeamConfig, at: datetime, overrides: Iterable[Override] = ()) -> str:
    """The member on call for ``team`` at ``at`` (see ``on_call``)."""
    return on_call(team, at, overrides).member
