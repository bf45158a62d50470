"""Routing tickets to their owners: ownership rules, on-call rotations across time zones
and daylight-saving changes, overrides, round-robin turns (kept in the database and safe
under concurrent assigners), acknowledgement and escalation."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.domain.errors import AuthError, BugError, MappingError, SyncError, ValidationError
from salesync.domain.tickets import TicketMoveError
from salesync.monitor.routing import (
    DEFAULT_SUPPORT,
    Assigner,
    AssignmentError,
    AssignReport,
    EscalationReport,
    Override,
    RulesError,
    SupportConfig,
    SupportConfigError,
    load_support,
    on_call,
    parse_duration,
    parse_hours,
    parse_rule,
    parse_rules,
    parse_support,
    shift_at,
    who_is_on_call,
)
from salesync.store.tables import AssignmentCursorRow, TicketEventRow, TicketRow

from .conftest import OpenTicket

SUPPORT_TOML = """
[support]
rules = [
  "provider:qbo kind:mapping -> tier1",
  "provider:shopify kind:bug -> dev-shopify",
  "operation:post:* entity:Invoice -> books",
  "kind:auth -> tier1",
  "* -> tier1",
]

[support.teams.tier1]
mode = "round_robin"
ack_within = "15m"
escalate_to = "dev-shopify"
members = [
  { name = "ana", timezone = "UTC" },
  { name = "bo", timezone = "UTC" },
  { name = "cy", timezone = "UTC" },
]

[support.teams.books]
mode = "round_robin"
members = [{ name = "fay", timezone = "UTC" }, { name = "gus", timezone = "UTC" }]

[support.teams.dev-shopify]
mode = "oncall"
ack_within = "30m"
escalate_to = "lead:dana"
members = [
  { name = "eli", timezone = "America/New_York" },
  { name = "dana", timezone = "Europe/Berlin" },
]
rotation = { start = 2026-11-23T09:00:00-05:00, shift = "1w", timezone = "America/New_York" }
"""

CONFIG = parse_support(SUPPORT_TOML)


def _team(mode: str = "oncall", **extra: object) -> dict[str, object]:
    return {
        "mode": mode,
        "members": [{"name": "ana", "timezone": "UTC"}, {"name": "bo", "timezone": "UTC"}],
        **extra,
    }


def _unmapped(code: str = "unmapped_sku") -> MappingError:
    return MappingError(
        f"no item is mapped ({code})", code=code, provider="qbo", operation="post:SalesReceipt"
    )


def _shopify_bug() -> BugError:
    return BugError("KeyError: 'line_items'", provider="shopify", operation="fetch:Order")


def _events(db: sessionmaker[Session], ticket_id: int) -> list[TicketEventRow]:
    with db() as session:
        return list(
            session.scalars(
                select(TicketEventRow)
                .where(TicketEventRow.ticket_id == ticket_id)
                .order_by(TicketEventRow.id)
            )
        )


def _ticket(db: sessionmaker[Session], ticket_id: int) -> TicketRow:
    with db() as session:
        ticket = session.get(TicketRow, ticket_id)
        assert ticket is not None
        return ticket


def _facts(**values: str) -> dict[str, str | None]:
    return {"tenant": "acme", **values}


# Rules


def test_the_rule_examples_parse_and_print_back():
    """Each rule of the documented form parses into its matchers and prints as written."""
    examples = {
        "provider:qbo kind:mapping -> tier1": ((("provider", "qbo"), ("kind", "mapping")), "tier1"),
        "provider:shopify kind:bug -> dev-shopify": (
            (("provider", "shopify"), ("kind", "bug")),
            "dev-shopify",
        ),
        "kind:auth -> tier1": ((("kind", "auth"),), "tier1"),
        "operation:post:* -> books": ((("operation", "post:*"),), "books"),
        "* -> tier1": ((), "tier1"),
    }
    for text, (matchers, team) in examples.items():
        rule = parse_rule(text)
        assert (rule.matchers, rule.team) == (matchers, team)
        assert str(rule) == text


@pytest.mark.parametrize(
    ("text", "fix"),
    [
        ("kind:auth tier1", "no '->'"),
        ("kind:auth -> tier1 -> tier2", "has 2 '->'"),
        ("kind:auth ->", "names no team after '->'"),
        ("kind:auth -> Tier One", "exactly one team name"),
        ("-> tier1", "write '* -> team'"),
        ("* kind:auth -> tier1", "cannot be combined"),
        ("kindauth -> tier1", "write field:pattern"),
        ("kindd:auth -> tier1", "did you mean 'kind'?"),
        ("kind:mapp -> tier1", "did you mean 'mapping'?"),
        ("kind: -> tier1", "has no pattern"),
        ("kind:auth kind:bug -> tier1", "write two rules instead"),
    ],
)
def test_a_bad_rule_says_what_to_write(text: str, fix: str):
    """A malformed rule is refused with a message that quotes it and says how to fix it."""
    with pytest.raises(RulesError) as caught:
        parse_rules(["* -> tier1", text])
    assert caught.value.problems[0][0] == 1
    assert str(caught.value).startswith(f"rules[1]: {text!r}: ")
    assert fix in str(caught.value)


def test_every_bad_rule_is_reported_with_its_position():
    """Parsing a list reports all bad rules at once, each with its position."""
    with pytest.raises(RulesError) as caught:
        parse_rules(["kind:auth -> tier1", "kind:nope -> tier1", "* -> tier1", "x -> y"])
    assert [position for position, _ in caught.value.problems] == [1, 3]


def test_first_matching_rule_wins():
    """Tickets go to the team of the first rule whose matchers all match."""
    cases = [
        (_facts(provider="qbo", kind="mapping", code="unmapped_sku"), "tier1"),
        (_facts(provider="shopify", kind="bug", operation="fetch:Order"), "dev-shopify"),
        (
            _facts(provider="xero", kind="validation", operation="post:Invoice", entity="Invoice"),
            "books",
        ),
        (
            _facts(provider="xero", kind="validation", operation="get:Invoice", entity="Invoice"),
            "tier1",
        ),
        (_facts(provider="shopify", kind="auth"), "tier1"),
        (_facts(provider="square", kind="bug"), "tier1"),
    ]
    for facts, team in cases:
        rule = CONFIG.route(facts)
        assert rule is not None
        assert rule.team == team, facts


def test_tenant_and_code_patterns_are_globs():
    """Any field takes a glob: one merchant's unmapped-anything codes can go to its own team."""
    rule = parse_rule("tenant:acme code:unmapped_* -> vip")
    assert rule.matches(_facts(code="unmapped_tax"))
    assert not rule.matches(_facts(code="tax_unmapped"))
    assert not rule.matches({**_facts(code="unmapped_tax"), "tenant": "globex"})


def test_a_matcher_never_matches_a_missing_field():
    """``provider:*`` does not match a ticket that has no provider."""
    rule = parse_rule("provider:* -> tier1")
    assert not rule.matches(_facts(kind="bug"))
    assert rule.matches(_facts(kind="bug", provider="xero"))


# Configuration


def test_the_documented_toml_loads():
    """The TOML example loads with durations, zones, hours and rotation read into values."""
    tier1, dev = CONFIG.teams["tier1"], CONFIG.teams["dev-shopify"]
    assert tier1.ack_within == timedelta(minutes=15)
    assert dev.rotation is not None
    assert dev.rotation.shift == timedelta(weeks=1)
    assert str(dev.escalate_to) == "lead:dana"
    assert CONFIG.teams["books"].ack_within == timedelta(minutes=15)
    assert load_support(CONFIG.model_dump()) == CONFIG


def test_config_errors_name_each_bad_entry():
    """Bad entries are all reported, each by its place in the table and with the fix."""
    table = {
        "rules": ["kindd:auth -> tier1", "* -> tier1"],
        "teams": {
            "tier1": _team(
                "round_robin",
                ack_within="15 minutes",
                members=[
                    {"name": "ana", "timezone": "Mars/Olympus"},
                    {"name": "bo", "timezone": "UTC", "hours": "mon-fry 09:00-17:00"},
                ],
            ),
            "dev": _team(colour="red"),
        },
    }
    with pytest.raises(SupportConfigError) as caught:
        load_support(table)
    problems = caught.value.problems
    assert any(p.startswith("teams.tier1.members[0].timezone: 'Mars/Olympus'") for p in problems)
    assert any(p.startswith("teams.tier1.members[1].hours:") and "'mon-fry'" in p for p in problems)
    assert any(
        p.startswith("teams.tier1.ack_within: '15 minutes' is not a duration") for p in problems
    )
    assert "teams.dev.colour: is not a setting here" in problems
    assert any(p.startswith("rules[0]: 'kindd:auth -> tier1'") for p in problems)


def test_unknown_teams_and_leads_are_rejected_at_load():
    """Rules and escalations may only name configured teams and members."""
    table = {
        "rules": ["kind:bug -> dev", "* -> tier9"],
        "teams": {
            "tier1": _team("round_robin", escalate_to="tier2"),
            "dev": _team(
                escalate_to="lead:zed",
                rotation={"start": "2026-01-05T09:00:00Z", "shift": "1w"},
            ),
        },
    }
    with pytest.raises(SupportConfigError) as caught:
        load_support(table)
    assert caught.value.problems == [
        "rules[1]: '* -> tier9': no team 'tier9'; teams: dev, tier1",
        "teams.tier1.escalate_to: no team 'tier2'; teams: dev, tier1",
        "teams.dev.escalate_to: 'zed' is not a member of any team",
    ]


@pytest.mark.parametrize(
    ("teams", "problem"),
    [
        (
            {
                "a": _team("round_robin", escalate_to="b"),
                "b": _team("round_robin", escalate_to="a"),
            },
            "teams.a.escalate_to: escalation goes round in a circle (a -> b -> a)",
        ),
        ({"a": _team("round_robin", escalate_to="a")}, "a team cannot escalate to itself"),
        ({"a": _team()}, "teams.a: an oncall team needs a rotation"),
        (
            {"a": _team("round_robin", rotation={"start": "2026-01-05T09:00:00Z", "shift": "1d"})},
            "rotation is for oncall teams",
        ),
        (
            {
                "a": _team(
                    rotation={"start": "2026-01-05T09:00:00Z", "shift": "12h", "timezone": "UTC"}
                )
            },
            "does not fit daily handoffs",
        ),
        (
            {"a": _team(rotation={"start": "2026-01-05T09:00:00", "shift": "1w"})},
            "teams.a.rotation.start:",
        ),
        (
            {
                "a": _team(
                    rotation={"start": "2026-01-05T09:00:00Z", "shift": "1w", "handoff": "09:00"}
                )
            },
            "a handoff time needs the timezone",
        ),
        (
            {"a": _team("round_robin", members=[{"name": "x", "timezone": "UTC"}] * 2)},
            "members listed twice: x",
        ),
        ({"a": _team("round_robin", members=[])}, "a team needs at least one member"),
        ({"A b": _team("round_robin")}, "teams.A b.name: 'A b' is not a team name"),
    ],
)
def test_a_team_that_cannot_work_is_refused(teams: dict[str, object], problem: str):
    """Cycles, missing rotations, naive start times and similar mistakes fail at load."""
    with pytest.raises(SupportConfigError) as caught:
        load_support({"rules": ["* -> a"], "teams": teams})
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def test_durations_and_hours_read_their_written_forms():
    """Durations combine units; hours take days, ranges and overnight spans."""
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("2w") == timedelta(days=14)
    for bad in ("", "0m", "15", "m", "1.5h"):
        with pytest.raises(ValueError, match=r"duration|longer than zero"):
            parse_duration(bad)
    zone = ZoneInfo("Europe/London")
    night = parse_hours("fri 22:00-06:00")
    assert night.covers(datetime(2026, 11, 27, 23, 0, tzinfo=zone), zone)
    assert night.covers(datetime(2026, 11, 28, 5, 59, tzinfo=zone), zone)
    assert not night.covers(datetime(2026, 11, 28, 6, 0, tzinfo=zone), zone)
    assert not night.covers(datetime(2026, 11, 28, 23, 0, tzinfo=zone), zone)
    weekend = parse_hours("sat-sun 10:00-24:00")
    assert weekend.days == frozenset({5, 6})
    assert weekend.covers(datetime(2026, 11, 29, 23, 59, tzinfo=zone), zone)
    assert parse_hours("fri-mon 09:00-17:00").days == frozenset({4, 5, 6, 0})


def test_default_support_sends_bugs_to_the_developer_and_the_rest_to_tier1():
    """Without configuration, bugs and exhausted retries go to dev, everything else to tier1."""
    routes = {
        k: DEFAULT_SUPPORT.route(_facts(kind=k)) for k in ("bug", "transient", "auth", "mapping")
    }
    assert {k: r.team for k, r in routes.items() if r} == {
        "bug": "dev",
        "transient": "dev",
        "auth": "tier1",
        "mapping": "tier1",
    }
    tier1 = DEFAULT_SUPPORT.teams["tier1"].escalate_to
    assert tier1 is not None
    assert tier1.team == "dev"


# On call


def _weekly(timezone: str, start: str, handoff: str | None = None) -> SupportConfig:
    rotation: dict[str, object] = {"start": start, "shift": "1w", "timezone": timezone}
    if handoff:
        rotation["handoff"] = handoff
    members = [{"name": n, "timezone": timezone} for n in ("ana", "bo", "cy")]
    return load_support(
        {
            "rules": ["* -> dev"],
            "teams": {"dev": {"mode": "oncall", "members": members, "rotation": rotation}},
        }
    )


@pytest.mark.parametrize(
    ("timezone", "start", "switch_week_handoff", "utc_hour", "hours_before"),
    [
        # US: clocks go forward on Sunday 8 March 2026 and back on Sunday 1 November 2026.
        ("America/New_York", "2026-03-02T09:00:00-05:00", "2026-03-09", 13, 167),
        ("America/New_York", "2026-10-26T09:00:00-04:00", "2026-11-02", 14, 169),
        # EU: forward on Sunday 29 March 2026, back on Sunday 25 October 2026.
        ("Europe/Berlin", "2026-03-23T09:00:00+01:00", "2026-03-30", 7, 167),
        ("Europe/Berlin", "2026-10-19T09:00:00+02:00", "2026-10-26", 8, 169),
    ],
)
def test_handoff_keeps_its_local_time_across_daylight_saving(
    timezone: str, start: str, switch_week_handoff: str, utc_hour: int, hours_before: int
):
    """A weekly 09:00 handoff happens at 09:00 local after the clocks change, not 168 h later."""
    team = _weekly(timezone, start).teams["dev"]
    handoff = datetime.fromisoformat(switch_week_handoff).replace(hour=utc_hour, tzinfo=UTC)
    assert handoff.astimezone(ZoneInfo(timezone)).hour == 9
    assert who_is_on_call(team, handoff - timedelta(minutes=1), []) == "ana"
    assert who_is_on_call(team, handoff, []) == "bo"
    shift = shift_at(team, handoff)
    assert shift.starts_at == handoff
    assert shift.ends_at.astimezone(ZoneInfo(timezone)).hour == 9
    assert shift.ends_at - shift.starts_at == timedelta(weeks=1)
    before = shift_at(team, handoff - timedelta(minutes=1))
    assert (before.member, before.ends_at) == ("ana", handoff)
    assert before.ends_at - before.starts_at == timedelta(hours=hours_before)


def test_an_explicit_handoff_time_and_backwards_turns():
    """A handoff given apart from the start is used, and turns also run before the start."""
    team = _weekly("Europe/London", "2026-11-02T00:00:00Z", handoff="10:30").teams["dev"]
    london = ZoneInfo("Europe/London")
    assert who_is_on_call(team, datetime(2026, 11, 2, 10, 29, tzinfo=london)) == "cy"
    assert who_is_on_call(team, datetime(2026, 11, 2, 10, 30, tzinfo=london)) == "ana"
    assert who_is_on_call(team, datetime(2026, 11, 16, 10, 30, tzinfo=london)) == "cy"
    assert who_is_on_call(team, datetime(2026, 10, 26, 10, 30, tzinfo=london)) == "cy"


def test_exact_length_shifts_without_a_time_zone():
    """Without a zone, a 12-hour rotation hands off every 12 elapsed hours."""
    team = load_support(
        {
            "rules": ["* -> dev"],
            "teams": {
                "dev": _team(rotation={"start": "2026-03-07T20:00:00-05:00", "shift": "12h"})
            },
        }
    ).teams["dev"]
    start = datetime(2026, 3, 8, 1, 0, tzinfo=UTC)
    turns = [who_is_on_call(team, start + timedelta(hours=12 * n)) for n in range(4)]
    assert turns == ["ana", "bo", "ana", "bo"]


def test_the_latest_starting_override_wins_while_it_lasts():
    """Overrides cover the rotation; when they overlap, the one that started last applies."""
    team = _weekly("UTC", "2026-11-23T09:00:00Z").teams["dev"]
    day = datetime(2026, 11, 24, tzinfo=UTC)
    week = Override("dev", "bo", day, day + timedelta(days=3), "ana is sick")
    evening = Override("dev", "cy", day + timedelta(hours=18), day + timedelta(hours=23))
    other_team = Override("tier1", "zed", day, day + timedelta(days=9))
    overrides = [evening, week, other_team]
    assert who_is_on_call(team, day - timedelta(minutes=1), overrides) == "ana"
    assert who_is_on_call(team, day, overrides) == "bo"
    assert who_is_on_call(team, day + timedelta(hours=19), overrides) == "cy"
    assert who_is_on_call(team, day + timedelta(hours=23), overrides) == "bo"
    assert who_is_on_call(team, day + timedelta(days=3), overrides) == "ana"
    covered = on_call(team, day, overrides)
    assert covered.override == week
    assert covered.shift.member == "ana"


# Assigning


def test_open_tickets_get_a_team_by_rule_and_an_owner(
    db: sessionmaker[Session], clock: ManualClock, open_ticket: OpenTicket
):
    """Each open ticket is assigned once, to the team of its rule, with a timeline entry."""
    mapping = open_ticket(_unmapped())
    bug = open_ticket(_shopify_bug())
    invoice = open_ticket(
        ValidationError("bad total", provider="xero", operation="post:Invoice", code="total")
    )
    auth = open_ticket(AuthError("invalid_grant", provider="shopify", code="invalid_grant"))
    assigner = Assigner(db, CONFIG, clock)
    report = assigner.assign_open()
    got = {a.ticket_id: (a.team, a.member, a.how, a.rule) for a in report.assigned}
    assert got == {
        mapping.id: ("tier1", "ana", "round_robin", "provider:qbo kind:mapping -> tier1"),
        bug.id: ("dev-shopify", "eli", "oncall", "provider:shopify kind:bug -> dev-shopify"),
        invoice.id: ("books", "fay", "round_robin", "operation:post:* entity:Invoice -> books"),
        auth.id: ("tier1", "bo", "round_robin", "kind:auth -> tier1"),
    }
    row = _ticket(db, bug.id)
    assert (row.state, row.team, row.assignee, row.assigned_at) == (
        "assigned",
        "dev-shopify",
        "eli",
        clock(),
    )
    event = _events(db, bug.id)[-1]
    assert event.event == "assigned"
    assert event.data == {
        "team": "dev-shopify",
        "assignee": "eli",
        "how": "oncall",
        "rule": "provider:shopify kind:bug -> dev-shopify",
    }
    assert assigner.assign_open() == AssignReport()


def test_round_robin_turns_continue_across_assigners(
    db: sessionmaker[Session], clock: ManualClock, open_ticket: OpenTicket
):
    """Members take turns in order, and the turn is kept in the database between assigners."""
    for n in range(4):
        open_ticket(_unmapped(f"code-{n}"))
        clock.advance(timedelta(seconds=1))
    first = Assigner(db, CONFIG, clock).assign_open()
    assert [a.member for a in first.assigned] == ["ana", "bo", "cy", "ana"]
    for n in range(4, 6):
        open_ticket(_unmapped(f"code-{n}"))
    second = Assigner(db, CONFIG, clock).assign_open(limit=1)
    third = Assigner(db, CONFIG, clock).assign_open()
    assert [a.member for a in [*second.assigned, *third.assigned]] == ["bo", "cy"]
    with db() as session:
        cursor = session.get(AssignmentCursorRow, "tier1")
        assert cursor is not None
        assert cursor.last_member == "cy"


def test_round_robin_skips_members_outside_their_hours(
    db: sessionmaker[Session], clock: ManualClock, open_ticket: OpenTicket
):
    """Out-of-hours members lose their turn while anyone is in hours, else turns go on."""
    config = load_support(
        {
            "rules": ["* -> desk"],
            "teams": {
                "desk": {
                    "mode": "round_robin",
                    "members": [
                        {
                            "name": "ny",
                            "timezone": "America/New_York",
                            "hours": "mon-fri 09:00-17:00",
                        },
                        {
                            "name": "ldn",
                            "timezone": "Europe/London",
                            "hours": "mon-fri 09:00-17:00",
                        },
                        {
                            "name": "syd",
                            "timezone": "Australia/Sydney",
                            "hours": "mon-fri 09:00-17:00",
                        },
                    ],
                }
            },
        }
    )
    assigner = Assigner(db, config, clock)

    def assign_one(n: int) -> str:
        open_ticket(_unmapped(f"code-{n}"))
        (done,) = assigner.assign_open().assigned
        return done.member

    # Monday 14:00 UTC: 09:00 in New York, 14:00 in London, 01:00 on Tuesday in Sydney.
    assert [assign_one(n) for n in range(3)] == ["ny", "ldn", "ny"]
    # 23:00 UTC: 18:00 in New York, 23:00 in London, 10:00 in Sydney.
    clock.set(datetime(2026, 11, 23, 23, 0, tzinfo=UTC))
    assert [assign_one(n) for n in range(3, 5)] == ["syd", "syd"]
    # Saturday: nobody works, so everyone takes their turn.
    clock.set(datetime(2026, 11, 28, 12, 0, tzinfo=UTC))
    assert [assign_one(n) for n in range(5, 8)] == ["ny", "ldn", "syd"]


def test_overrides_decide_who_gets_on_call_tickets(
    db: sessionmaker[Session], clock: ManualClock, open_ticket: OpenTicket
):
    """An override stored with add_override takes the on-call team's new tickets."""
    assigner = Assigner(db, CONFIG, clock)
    now = clock()
    override = assigner.add_override(
        "dev-shopify", "dana", now - timedelta(hours=1), now + timedelta(hours=2), "eli at dentist"
    )
    assert override.id is not None
    assert assigner.on_call("dev-shopify").member == "dana"
    assert assigner.on_call("dev-shopify", now + timedelta(hours=2)).member == "eli"
    ticket = open_ticket(_shopify_bug())
    (done,) = assigner.assign_open().assigned
    assert (done.ticket_id, done.member, done.how) == (ticket.id, "dana", "override")
    assert [o.reason for o in assigner.overrides("dev-shopify")] == ["eli at dentist"]


def test_a_bad_override_is_refused_with_every_reason(db: sessionmaker[Session], clock: ManualClock):
    """Overrides need a known on-call team, one of its members, and an end after the start."""
    assigner = Assigner(db, CONFIG, clock)
    now = clock()
    with pytest.raises(AssignmentError) as caught:
        assigner.add_override("dev-shopify", "ana", now, now - timedelta(hours=1))
    assert caught.value.problems == [
        "'ana' is not in dev-shopify; its members: eli, dana",
        f"ends ({(now - timedelta(hours=1)).isoformat()}) must be after starts ({now.isoformat()})",
    ]
    with pytest.raises(AssignmentError, match="overrides are for oncall teams"):
        assigner.add_override("tier1", "ana", now, now + timedelta(hours=1))
    with pytest.raises(AssignmentError, match="no team 'ops'"):
        assigner.add_override("ops", "ana", now, now + timedelta(hours=1))
    with pytest.raises(AssignmentError, match="starts needs a time zone"):
        assigner.add_override("dev-shopify", "eli", datetime(2026, 11, 23), now)  # noqa: DTZ001
    assert assigner.overrides("dev-shopify") == []


def test_a_ticket_no_rule_matches_stays_open(
    db: sessionmaker[Session], clock: ManualClock, open_ticket: OpenTicket
):
    """Without a catch-all rule, an unmatched ticket is reported and left open."""
    config = load_support({"rules": ["kind:bug -> dev"], "teams": {"dev": _team("round_robin")}})
    ticket = open_ticket(_unmapped())
    report = Assigner(db, config, clock).assign_open()
    assert report == AssignReport(unrouted=(ticket.id,))
    assert _ticket(db, ticket.id).state == "open"


# Acknowledging and escalating


def test_an_unacknowledged_ticket_escalates_after_ack_within(
    db: sessionmaker[Session], clock: ManualClock, open_ticket: OpenTicket
):
    """A ticket not acknowledged within the team's ack_within moves to its escalation team."""
    ticket = open_ticket(_unmapped())
    assigner = Assigner(db, CONFIG, clock)
    assigner.assign_open()
    clock.advance(timedelta(minutes=14, seconds=59))
    assert assigner.escalate_due().escalated == ()
    clock.advance(timedelta(seconds=1))
    (moved,) = assigner.escalate_due().escalated
    assert (moved.from_team, moved.from_member, moved.to.team, moved.to.member, moved.level) == (
        "tier1",
        "ana",
        "dev-shopify",
        "eli",
        1,
    )
    row = _ticket(db, ticket.id)
    assert (row.state, row.team, row.assignee, row.escalations) == (
        "assigned",
        "dev-shopify",
        "eli",
        1,
    )
    assert row.assigned_at == clock()
    event = _events(db, ticket.id)[-1]
    assert event.event == "escalated"
    assert event.text == "Not acknowledged within 15m: moved from ana (tier1) to eli (dev-shopify)."


def test_escalation_chains_to_the_lead_then_reports_none_left(
    db: sessionmaker[Session], clock: ManualClock, open_ticket: OpenTicket
):
    """tier1 -> on call -> lead; then the ticket stays, reported, on its timeline once."""
    ticket = open_ticket(_unmapped())
    assigner = Assigner(db, CONFIG, clock)
    assigner.assign_open()
    clock.advance(timedelta(minutes=15))
    assert assigner.escalate_due().escalated[0].to.member == "eli"
    clock.advance(timedelta(minutes=29))
    assert assigner.escalate_due() == EscalationReport()
    clock.advance(timedelta(minutes=1))
    (to_lead,) = assigner.escalate_due().escalated
    assert (to_lead.to.team, to_lead.to.member, to_lead.to.how, to_lead.level) == (
        "dev-shopify",
        "dana",
        "lead",
        2,
    )
    clock.advance(timedelta(minutes=30))
    report = assigner.escalate_due()
    assert report.escalated == ()
    (stuck,) = report.stuck
    assert (stuck.ticket_id, stuck.member, stuck.waiting) == (
        ticket.id,
        "dana",
        timedelta(minutes=30),
    )
    assert "already with dev-shopify's lead, dana" in stuck.reason
    clock.advance(timedelta(minutes=5))
    assert len(assigner.escalate_due().stuck) == 1
    row = _ticket(db, ticket.id)
    assert (row.assignee, row.escalations, row.state) == ("dana", 2, "assigned")
    events = [e.event for e in _events(db, ticket.id)]
    assert events == ["opened", "assigned", "escalated", "escalated", "escalation_exhausted"]


def test_a_team_without_escalation_keeps_its_overdue_tickets(
    db: sessionmaker[Session], clock: ManualClock, open_ticket: OpenTicket
):
    """A team with no escalate_to reports its overdue tickets and leaves them where they are."""
    open_ticket(_unmapped())
    config = load_support({"rules": ["* -> desk"], "teams": {"desk": _team("round_robin")}})
    assigner = Assigner(db, config, clock)
    assigner.assign_open()
    clock.advance(timedelta(hours=1))
    (stuck,) = assigner.escalate_due().stuck
    assert stuck.reason == "desk has no escalate_to"
    assert stuck.member == "ana"


def test_acknowledging_moves_to_fixing_and_stops_escalation(
    db: sessionmaker[Session], clock: ManualClock, open_ticket: OpenTicket
):
    """Acknowledging moves assigned -> fixing, records who did it, and ends the ack clock."""
    mine, theirs = open_ticket(_unmapped("a")), open_ticket(_unmapped("b"))
    assigner = Assigner(db, CONFIG, clock)
    assigner.assign_open()
    clock.advance(timedelta(minutes=10))
    ack = assigner.acknowledge(mine.id, "ana")
    assert (ack.member, ack.assignee, ack.after) == ("ana", "ana", timedelta(minutes=10))
    other = assigner.acknowledge(theirs.id, "cy")
    assert other.assignee == "bo"
    row = _ticket(db, theirs.id)
    assert (row.state, row.assignee, row.acknowledged_at) == ("fixing", "bo", clock())
    event = _events(db, theirs.id)[-1]
    assert (event.event, event.actor, event.data["not_assignee"]) == ("acknowledged", "cy", True)
    assert "assigned to bo" in event.text
    clock.advance(timedelta(hours=2))
    assert assigner.escalate_due() == EscalationReport()
    with pytest.raises(TicketMoveError, match="a fixing ticket cannot become fixing"):
        assigner.acknowledge(mine.id, "ana")
    with pytest.raises(KeyError, match="no ticket 999"):
        assigner.acknowledge(999, "ana")


def test_a_regression_keeps_its_assignee_and_gets_a_fresh_ack_clock(
    db: sessionmaker[Session], clock: ManualClock, open_ticket: OpenTicket
):
    """A regression returns to its assignee, whose ack clock restarts when it reopens."""
    ticket = open_ticket(_unmapped())
    assigner = Assigner(db, CONFIG, clock)
    assigner.assign_open()
    assigner.acknowledge(ticket.id, "ana")
    with db() as session, session.begin():
        row = session.get(TicketRow, ticket.id)
        assert row is not None
        row.state = "resolved"
    clock.advance(timedelta(days=2))
    again = open_ticket(_unmapped())
    assert (again.id, again.state, again.assignee) == (ticket.id, "assigned", "ana")
    assert assigner.assign_open() == AssignReport()
    clock.advance(timedelta(minutes=14))
    assert assigner.escalate_due().escalated == ()
    clock.advance(timedelta(minutes=1))
    assert [e.to.member for e in assigner.escalate_due().escalated] == ["eli"]


def test_reassign_to_a_member_or_a_team(
    db: sessionmaker[Session], clock: ManualClock, open_ticket: OpenTicket
):
    """Reassigning to a member keeps their team; to a team picks its member its way."""
    ticket = open_ticket(_unmapped())
    assigner = Assigner(db, CONFIG, clock)
    assigner.assign_open()
    assigner.acknowledge(ticket.id, "ana")
    to_cy = assigner.reassign(ticket.id, "cy", actor="ana")
    assert (to_cy.team, to_cy.member, to_cy.how) == ("tier1", "cy", "direct")
    row = _ticket(db, ticket.id)
    assert (row.state, row.acknowledged_at) == ("assigned", None)
    to_dev = assigner.reassign(ticket.id, "dev-shopify", actor="cy")
    assert (to_dev.team, to_dev.member, to_dev.how) == ("dev-shopify", "eli", "oncall")
    to_dana = assigner.reassign(ticket.id, "dana", actor="eli")
    assert to_dana.team == "dev-shopify"
    to_rr = assigner.reassign(ticket.id, "tier1", actor="dana")
    assert to_rr.member == "bo"
    event = _events(db, ticket.id)[-1]
    assert (event.event, event.actor, event.data["from_assignee"]) == ("reassigned", "dana", "dana")
    with pytest.raises(AssignmentError, match="neither a team nor a member"):
        assigner.reassign(ticket.id, "zed", actor="dana")
    with db() as session, session.begin():
        closed = session.get(TicketRow, ticket.id)
        assert closed is not None
        closed.state = "closed"
    with pytest.raises(AssignmentError, match="is closed; reopen it first"):
        assigner.reassign(ticket.id, "ana", actor="dana")


# Concurrency


def test_concurrent_assigners_assign_each_ticket_once_in_turn(
    db: sessionmaker[Session], clock: ManualClock, open_ticket: OpenTicket
):
    """Concurrent assigners assign each ticket once, and round-robin turns stay in order."""
    errors: list[SyncError] = []
    for n in range(12):
        errors.append(_unmapped(f"code-{n}"))
        errors.append(
            ValidationError(f"bad {n}", provider="xero", operation="post:Invoice", code=f"v{n}")
        )
    tickets = [open_ticket(error).id for error in errors]
    barrier = threading.Barrier(3)
    results: list[AssignReport] = []
    failures: list[BaseException] = []

    def run() -> None:
        assigner = Assigner(db, CONFIG, clock)
        barrier.wait()
        try:
            while (report := assigner.assign_open(limit=3)).assigned:
                results.append(report)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assigned = [a.ticket_id for report in results for a in report.assigned]
    assert sorted(assigned) == sorted(tickets)
    with db() as session:
        events = list(
            session.scalars(
                select(TicketEventRow)
                .where(TicketEventRow.event == "assigned")
                .order_by(TicketEventRow.id)
            )
        )
    assert Counter(e.ticket_id for e in events) == Counter(tickets)
    in_turn = {
        team: [e.data["assignee"] for e in events if e.data["team"] == team]
        for team in ("tier1", "books")
    }
    assert in_turn == {"tier1": ["ana", "bo", "cy"] * 4, "books": ["fay", "gus"] * 6}
