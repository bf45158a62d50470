"""Who supports what: teams, their members and rotations, escalation, and ownership rules.

Read from a TOML table (``[support]`` in a file, or the table itself)::

    [support]
    rules = [
      "provider:qbo kind:mapping -> tier1",
      "provider:shopify kind:bug -> dev-shopify",
      "kind:auth -> tier1",
      "* -> tier1",
    ]

    [support.teams.tier1]
    mode = "round_robin"
    ack_within = "15m"
    escalate_to = "dev-shopify"
    members = [
      { name = "ana", timezone = "America/New_York", hours = "mon-fri 09:00-17:00" },
      { name = "bo", timezone = "Europe/London", hours = "mon-fri 09:00-17:00" },
    ]

    [support.teams.dev-shopify]
    mode = "oncall"
    tier = 2                               # developers: Tier 2 plans and regressions
    ack_within = "30m"
    escalate_to = "lead:cy"
    members = [
      { name = "cy", timezone = "Europe/Berlin" },
      { name = "dee", timezone = "America/Chicago" },
    ]
    rotation = { start = 2026-01-05T09:00:00+01:00, shift = "1w", timezone = "Europe/Berlin" }

Durations are written like ``90s``, ``15m``, ``12h``, ``1d``, ``1w`` or ``1h30m``. Working
hours are ``[days] HH:MM-HH:MM`` in the member's time zone (``09:00-17:00`` every day,
``mon-fri 09:00-17:00``, ``sat,sun 10:00-14:00``, ``22:00-06:00`` overnight).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import cached_property
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    field_validator,
    model_validator,
)

from salesync.monitor.routing.rules import TEAM_NAME, Facts, Rule, RuleError, parse_rule, route
from salesync.monitor.routing.schedule import Duration, Hours, TimeZoneName, render_duration


class SupportConfigError(ValueError):
    """A support configuration that cannot be used; ``problems`` names each bad entry."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"- {p}" for p in problems)
        super().__init__(f"support configuration: {len(problems)} problem(s)\n{lines}")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Member(_Model):
    name: str = Field(min_length=1, max_length=120)
    timezone: TimeZoneName
    hours: Hours | None = None
    """Round-robin teams skip a member outside these hours while someone else is in."""

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def in_hours(self, at: datetime) -> bool:
        return self.hours is None or self.hours.covers(at, self.zone)


class Rotation(_Model):
    """An on-call rotation: members take ``shift``-long turns in the listed order, the
    first one from ``start`` (counting backwards before it).

    With a ``timezone``, handoffs happen at the ``handoff`` wall-clock time there
    (``start``'s local time if not given), so a 09:00 handoff stays at 09:00 across
    daylight-saving changes and the shift must be whole days; the first shift begins at
    the handoff on ``start``'s local date. Without one, shifts are exact lengths of
    elapsed time."""

    start: AwareDatetime
    shift: Duration
    handoff: time | None = None
    timezone: TimeZoneName | None = None

    @model_validator(mode="after")
    def _check(self) -> Rotation:
        if self.handoff is not None and self.timezone is None:
            raise ValueError("a handoff time needs the timezone it is read in")
        if self.handoff is not None and self.handoff.tzinfo is not None:
            raise ValueError("handoff is a wall-clock time; give its zone as timezone")
        if self.timezone is not None and self.shift % timedelta(days=1):
            raise ValueError(
                f"a shift of {render_duration(self.shift)} does not fit daily handoffs; "
                "use whole days ('1d', '1w') or drop timezone for exact lengths"
            )
        return self


@dataclass(frozen=True, slots=True)
class EscalationTarget:
    """Where an unacknowledged ticket goes: another team, or one person (a lead)."""

    team: str | None = None
    lead: str | None = None

    def __str__(self) -> str:
        return f"lead:{self.lead}" if self.lead else str(self.team)


def parse_target(value: object) -> EscalationTarget:
    if isinstance(value, EscalationTarget):
        return value
    if isinstance(value, str) and value.startswith("lead:") and value[5:].strip():
        return EscalationTarget(lead=value[5:].strip())
    if isinstance(value, str) and TEAM_NAME.match(value):
        return EscalationTarget(team=value)
    raise ValueError(f"{value!r} is neither a team name nor 'lead:<member>'")


Target = Annotated[EscalationTarget, PlainValidator(parse_target), PlainSerializer(str)]


class TeamConfig(_Model):
    name: str
    mode: Literal["oncall", "round_robin"]
    members: tuple[Member, ...]
    rotation: Rotation | None = None
    ack_within: Duration = timedelta(minutes=15)
    escalate_to: Target | None = None
    tier: Literal[1, 2] = 1
    """The support tier the team is: 1 (support agents) or 2 (developers). Only customers
    whose plan reaches Tier 2, or whose failure is a regression, are routed to a Tier 2 team."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not TEAM_NAME.match(value):
            raise ValueError(
                f"{value!r} is not a team name (lower case letters, digits, '_', '.', '-')"
            )
        return value

    @model_validator(mode="after")
    def _check(self) -> TeamConfig:
        if not self.members:
            raise ValueError("a team needs at least one member")
        names = [m.name for m in self.members]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"members listed twice: {', '.join(twice)}")
        if self.mode == "oncall" and self.rotation is None:
            raise ValueError("an oncall team needs a rotation (start and shift)")
        if self.mode == "round_robin" and self.rotation is not None:
            raise ValueError("rotation is for oncall teams; round_robin members take turns")
        if self.mode == "oncall" and any(m.hours for m in self.members):
            raise ValueError("working hours are for round_robin teams; oncall follows the rotation")
        return self

    def member(self, name: str) -> Member | None:
        return next((m for m in self.members if m.name == name), None)


def _rule(value: object) -> Rule:
    if isinstance(value, Rule):
        return value
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a rule; write e.g. 'kind:auth -> tier1'")
    try:
        return parse_rule(value)
    except RuleError as error:
        raise ValueError(str(error)) from None


RuleText = Annotated[Rule, PlainValidator(_rule), PlainSerializer(str)]


class SupportConfig(_Model):
    teams: dict[str, TeamConfig] = Field(min_length=1)
    rules: tuple[RuleText, ...] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _name_teams(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and isinstance(data.get("teams"), Mapping):
            teams = {
                key: {"name": key, **team} if isinstance(team, Mapping) else team
                for key, team in data["teams"].items()
            }
            return {**data, "teams": teams}
        return data

    @model_validator(mode="after")
    def _check(self) -> SupportConfig:
        problems = list(self._problems())
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _problems(self) -> Iterator[str]:
        known = ", ".join(sorted(self.teams))
        for key, team in self.teams.items():
            if key != team.name:
                yield f"teams.{key}: is named {team.name!r}; a team's name is its key"
        for position, rule in enumerate(self.rules):
            if rule.team not in self.teams:
                yield f"rules[{position}]: {str(rule)!r}: no team {rule.team!r}; teams: {known}"
        people = self.people
        for name, team in self.teams.items():
            target = team.escalate_to
            if target is None:
                continue
            where = f"teams.{name}.escalate_to"
            if target.team is not None and target.team not in self.teams:
                yield f"{where}: no team {target.team!r}; teams: {known}"
            elif target.team == name:
                yield f"{where}: a team cannot escalate to itself"
            elif target.lead is not None and target.lead not in people:
                yield f"{where}: {target.lead!r} is not a member of any team"
            elif (loop := self._loop(name)) is not None:
                yield f"{where}: escalation goes round in a circle ({' -> '.join(loop)})"
        if any(t.tier == 2 for t in self.teams.values()) and not any(
            not r.matchers and self.teams[r.team].tier == 1
            for r in self.rules
            if r.team in self.teams
        ):
            yield (
                "rules: a Tier 2 team needs a catch-all rule to a Tier 1 team ('* -> tier1'), "
                "where tickets go whose plan does not reach Tier 2"
            )
        for person in sorted(people & set(self.teams)):
            yield f"{person!r} is both a team and a member; rename one so reassigning is clear"

    def _loop(self, start: str) -> list[str] | None:
        """The escalation path from ``start`` back to itself, if there is one."""
        path = [start]
        while True:
            target = self.teams[path[-1]].escalate_to
            following = target.team if target else None
            if following is None or following not in self.teams or following in path[1:]:
                return None
            path.append(following)
            if following == start:
                return path

    @cached_property
    def people(self) -> frozenset[str]:
        """Everyone in any team."""
        return frozenset(m.name for team in self.teams.values() for m in team.members)

    def route(self, facts: Facts) -> Rule | None:
        """The rule that decides the team for a ticket with ``facts`` (first match)."""
        return route(self.rules, facts)


def load_support(table: Mapping[str, Any]) -> SupportConfig:
    """Validate a support table (as read from TOML), or raise ``SupportConfigError``
    naming every bad entry and what it should be."""
    try:
        return SupportConfig.model_validate(table)
    except ValidationError as exc:
        raise SupportConfigError(describe_problems(exc)) from None


def parse_support(text: str) -> SupportConfig:
    """Read a TOML document's ``[support]`` table (or the document itself if it has none)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SupportConfigError([f"not valid TOML: {exc}"]) from None
    support = document.get("support", document)
    if not isinstance(support, Mapping):
        raise SupportConfigError(["support: must be a table"])
    return load_support(support)


def describe_problems(exc: ValidationError) -> list[str]:
    """Each problem of a settings table as ``where: what to fix``, one line each."""
    problems: list[str] = []
    for error in exc.errors():
        where = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]
        ).lstrip(".")
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "is not a setting here"
        elif error["type"] == "missing":
            message = "is required"
        for line in message.splitlines():
            problems.append(f"{where}: {line}" if where else line)
    return problems


DEFAULT_SUPPORT = SupportConfig.model_validate(
    {
        "teams": {
            "tier1": {
                "mode": "round_robin",
                "ack_within": "15m",
                "escalate_to": "dev",
                "members": [{"name": "support", "timezone": "UTC"}],
            },
            "dev": {
                "mode": "oncall",
                "tier": 2,
                "ack_within": "30m",
                "members": [{"name": "developer", "timezone": "UTC"}],
                "rotation": {
                    "start": datetime.fromisoformat("2026-01-05T09:00:00+00:00"),
                    "shift": "1w",
                    "timezone": "UTC",
                },
            },
        },
        "rules": ["kind:bug -> dev", "kind:transient -> dev", "* -> tier1"],
    }
)
"""Used when nothing is configured: Tier 1 takes what merchants and agents can fix (auth,
mapping, validation, conflicts) and escalates to the developer on call, who takes bugs
and transient failures that ran out of retries."""
