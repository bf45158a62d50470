"""Gives each new ticket an owner, and moves it on when nobody acknowledges it.

Every change is one transaction that locks what it reads: the tickets it takes (``FOR
UPDATE SKIP LOCKED`` on PostgreSQL, so a second assigner passes over them) and the
round-robin cursors of the teams involved, always in name order so two assigners cannot
deadlock. On SQLite the transaction takes the database's write lock when it begins (see
``store.database``), which serialises assigners. Either way a ticket is assigned once and
a team's turns are taken in order, however many assigners run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Protocol

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import system_clock
from salesync.domain.tickets import TicketState, check_move
from salesync.engine.incidents import add_event
from salesync.monitor.routing.config import (
    DEFAULT_SUPPORT,
    EscalationTarget,
    SupportConfig,
    TeamConfig,
)
from salesync.monitor.routing.oncall import OnCall, Override, on_call
from salesync.monitor.routing.outcomes import (
    Acknowledgement,
    Assignment,
    AssignReport,
    Escalation,
    EscalationReport,
    How,
    Unescalated,
)
from salesync.monitor.routing.rules import Rule, route
from salesync.monitor.routing.schedule import render_duration
from salesync.monitor.routing.turns import Turns, load_overrides, override_of
from salesync.store.tables import OnCallOverrideRow, TicketEventRow, TicketRow

log = structlog.get_logger("salesync.assign")

EXHAUSTED = "escalation_exhausted"
REFUSED = "tier2_refused"


class TierAnswer(Protocol):
    @property
    def allowed(self) -> bool: ...

    @property
    def regression(self) -> object | None: ...

    def answer(self) -> str: ...


class TierGate(Protocol):
    """Decides whether a ticket may reach a Tier 2 team (``salesync.support.escalation``)."""

    def decide(self, session: Session, ticket: TicketRow, now: datetime) -> TierAnswer: ...


class AssignmentError(ValueError):
    """A request the support configuration does not allow; ``problems`` says each reason."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class Assigner:
    """Assigns, escalates, acknowledges and reassigns tickets under a ``SupportConfig``."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        config: SupportConfig = DEFAULT_SUPPORT,
        clock: Callable[[], datetime] = system_clock,
        tiers: TierGate | None = None,
    ) -> None:
        self.factory = factory
        self.config = config
        self.clock = clock
        self.tiers = tiers

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        # The savepoint makes SQLite begin with BEGIN IMMEDIATE (store.database): the
        # cursor read and its update must not interleave with another assigner's.
        with self.factory() as session, session.begin(), session.begin_nested():
            yield session

    def assign_open(self, limit: int = 100) -> AssignReport:
        """Give up to ``limit`` open, unowned tickets (oldest first) a team by the rules and
        a member by the team's mode. A ticket that already names a configured team keeps it."""
        now = self.clock()
        assigned: list[Assignment] = []
        unrouted: list[int] = []
        with self._writing() as session:
            tickets = session.scalars(
                select(TicketRow)
                .where(TicketRow.state == TicketState.OPEN.value, TicketRow.assignee.is_(None))
                .order_by(TicketRow.opened_at, TicketRow.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            routed: list[tuple[TicketRow, TeamConfig, str | None]] = []
            for ticket in tickets:
                if ticket.team in self.config.teams:
                    found = self._cleared(session, ticket, self.config.teams[ticket.team], now)
                    if found is not None:
                        routed.append((ticket, found, None))
                    else:
                        unrouted.append(ticket.id)
                    continue
                matched = self.config.route(_facts(ticket))
                team = None
                if matched is not None:
                    team = self._cleared(session, ticket, self.config.teams[matched.team], now)
                if matched is None or team is None:
                    unrouted.append(ticket.id)
                    continue
                chosen = matched if team.name == matched.team else self._tier_one_rule(ticket)
                routed.append((ticket, team, str(chosen) if chosen else None))
            picker = Turns(session, now)
            picker.lock(team for _, team, _ in routed)
            for ticket, team, rule in routed:
                member, how = picker.pick(team)
                check_move(TicketState(ticket.state), TicketState.ASSIGNED)
                _give(ticket, team.name, member, now)
                done = Assignment(ticket.id, ticket.tenant_id, team.name, member, how, rule)
                by = f" by the rule '{rule}'" if rule else ""
                add_event(
                    session,
                    ticket,
                    "assigned",
                    now,
                    text=f"Assigned to {member} ({team.name}, {how.replace('_', ' ')}){by}.",
                    data={"team": team.name, "assignee": member, "how": how, "rule": rule},
                )
                assigned.append(done)
        for item in assigned:
            log.info("assigned", ticket=item.ticket_id, team=item.team, member=item.member)
        if unrouted:
            log.warning("unrouted", tickets=unrouted)
        return AssignReport(assigned=tuple(assigned), unrouted=tuple(unrouted))

    def escalate_due(self, limit: int = 500) -> EscalationReport:
        """Move each assigned ticket nobody acknowledged within its team's ``ack_within``
        (counted from assignment, or from reopening if later) to the team's escalation
        target. Tickets with no target left stay where they are and are reported."""
        now = self.clock()
        soonest = min(team.ack_within for team in self.config.teams.values())
        escalated: list[Escalation] = []
        stuck: list[Unescalated] = []
        with self._writing() as session:
            tickets = session.scalars(
                select(TicketRow)
                .where(
                    TicketRow.state == TicketState.ASSIGNED.value,
                    TicketRow.acknowledged_at.is_(None),
                    TicketRow.assigned_at <= now - soonest,
                    TicketRow.opened_at <= now - soonest,
                )
                .order_by(TicketRow.assigned_at, TicketRow.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            due: list[tuple[TicketRow, TeamConfig, TeamConfig | None, str | None]] = []
            for ticket in tickets:
                since = _since(ticket)
                team = self.config.teams.get(ticket.team or "")
                if team is not None and now - since < team.ack_within:
                    continue
                found = _escalation(team, ticket)
                to_team = None
                if not isinstance(found, str):
                    target = found[1]
                    to_team = self.config.teams[target.team] if target.team else None
                    found = self._refusal(session, ticket, to_team, now) or found
                if isinstance(found, str):
                    stuck.append(
                        Unescalated(
                            ticket.id,
                            ticket.tenant_id,
                            ticket.team,
                            ticket.assignee,
                            now - since,
                            found,
                        )
                    )
                    if _note_stuck(session, ticket, since, now, found):
                        log.warning("escalation_exhausted", ticket=ticket.id, reason=found)
                    continue
                team, target = found
                due.append((ticket, team, to_team, target.lead))
            picker = Turns(session, now)
            picker.lock(to_team for _, _, to_team, _ in due if to_team is not None)
            for ticket, team, to_team, lead in due:
                how: How
                if to_team is not None:
                    member, how = picker.pick(to_team)
                    name = to_team.name
                else:
                    member, how, name = str(lead), "lead", team.name
                before_team, before_member = ticket.team, ticket.assignee
                check_move(TicketState(ticket.state), TicketState.ASSIGNED)
                _give(ticket, name, member, now)
                ticket.escalations += 1
                to = Assignment(ticket.id, ticket.tenant_id, name, member, how)
                add_event(
                    session,
                    ticket,
                    "escalated",
                    now,
                    text=f"Not acknowledged within {render_duration(team.ack_within)}: moved from "
                    f"{before_member} ({before_team}) to {member} ({name}).",
                    data={
                        "from_team": before_team,
                        "from_assignee": before_member,
                        "team": name,
                        "assignee": member,
                        "how": how,
                        "level": ticket.escalations,
                    },
                )
                escalated.append(
                    Escalation(
                        ticket.id,
                        ticket.tenant_id,
                        before_team,
                        before_member,
                        to,
                        ticket.escalations,
                    )
                )
        for item in escalated:
            log.info("escalated", ticket=item.ticket_id, team=item.to.team, member=item.to.member)
        return EscalationReport(escalated=tuple(escalated), stuck=tuple(stuck))

    def acknowledge(self, ticket_id: int, member: str) -> Acknowledgement:
        """``member`` starts work on the ticket: it moves from assigned to fixing. Anyone
        may acknowledge; the ticket keeps its assignee and the timeline says who did it."""
        now = self.clock()
        with self._writing() as session:
            ticket = _locked(session, ticket_id)
            check_move(TicketState(ticket.state), TicketState.FIXING)
            ticket.state = TicketState.FIXING.value
            ticket.acknowledged_at = now
            after = now - _since(ticket)
            other = ticket.assignee != member
            text = f"{member} acknowledged it and is working on it"
            text += f" (assigned to {ticket.assignee})." if other else "."
            add_event(
                session,
                ticket,
                "acknowledged",
                now,
                actor=member,
                text=text,
                data={"assignee": ticket.assignee, "team": ticket.team, "not_assignee": other},
            )
            return Acknowledgement(ticket.id, ticket.tenant_id, member, ticket.assignee, after)

    def reassign(self, ticket_id: int, to: str, actor: str) -> Assignment:
        """Give an active ticket to ``to``: a team (its member is chosen the team's way) or
        a member (staying in the ticket's team if they belong to it). The new owner has to
        acknowledge it again."""
        now = self.clock()
        with self._writing() as session:
            ticket = _locked(session, ticket_id)
            state = TicketState(ticket.state)
            if not state.active:
                raise AssignmentError([f"ticket {ticket_id} is {state.value}; reopen it first"])
            if to in self.config.teams:
                team = self.config.teams[to]
                picker = Turns(session, now)
                picker.lock([team])
                member, how = picker.pick(team)
            elif to in self.config.people:
                member, how = to, "direct"
                team = self._home(to, ticket.team)
            else:
                raise AssignmentError(
                    [
                        f"{to!r} is neither a team nor a member; teams: "
                        f"{', '.join(sorted(self.config.teams))}"
                    ]
                )
            refusal = self._refusal(session, ticket, team, now)
            if refusal is not None:
                raise AssignmentError([refusal])
            check_move(state, TicketState.ASSIGNED)
            before_team, before_member = ticket.team, ticket.assignee
            _give(ticket, team.name, member, now)
            add_event(
                session,
                ticket,
                "reassigned",
                now,
                actor=actor,
                text=f"{actor} moved it from {before_member} ({before_team}) "
                f"to {member} ({team.name}).",
                data={
                    "from_team": before_team,
                    "from_assignee": before_member,
                    "team": team.name,
                    "assignee": member,
                    "how": how,
                },
            )
            return Assignment(ticket.id, ticket.tenant_id, team.name, member, how)

    def _decide(
        self, session: Session, ticket: TicketRow, team: TeamConfig | None, now: datetime
    ) -> TierAnswer | None:
        """Whether the ticket may go to ``team``; None when nothing needs deciding (a
        Tier 1 team, no gate, or a ticket cleared for Tier 2 already). A ticket cleared
        for Tier 2 keeps it; a regression is put on its timeline."""
        if team is None or team.tier == 1 or self.tiers is None or ticket.tier == 2:
            return None
        decision = self.tiers.decide(session, ticket, now)
        if decision.allowed:
            ticket.tier = 2
            ticket.regression = getattr(decision.regression, "version", None)
            if ticket.regression is not None:
                add_event(
                    session,
                    ticket,
                    "regression",
                    now,
                    text=decision.answer(),
                    data={"release": ticket.regression},
                )
        return decision

    def _cleared(
        self, session: Session, ticket: TicketRow, team: TeamConfig, now: datetime
    ) -> TeamConfig | None:
        """``team`` if the ticket may go there, else the Tier 1 team the rules give (the
        refusal and its upgrade path go on the timeline); None when no team is left."""
        decision = self._decide(session, ticket, team, now)
        if decision is None or decision.allowed:
            return team
        add_event(session, ticket, REFUSED, now, text=decision.answer(), data={"team": team.name})
        rule = self._tier_one_rule(ticket)
        return self.config.teams[rule.team] if rule is not None else None

    def _tier_one_rule(self, ticket: TicketRow) -> Rule | None:
        """The first rule matching the ticket that leads to a Tier 1 team."""
        tier_one = [r for r in self.config.rules if self.config.teams[r.team].tier == 1]
        return route(tier_one, _facts(ticket))

    def _refusal(
        self, session: Session, ticket: TicketRow, team: TeamConfig | None, now: datetime
    ) -> str | None:
        """Why the ticket may not move to ``team``, if it may not."""
        decision = self._decide(session, ticket, team, now)
        return None if decision is None or decision.allowed else decision.answer()

    def _home(self, member: str, current: str | None) -> TeamConfig:
        teams = self.config.teams
        if current in teams and teams[current].member(member) is not None:
            return teams[current]
        return next(t for t in teams.values() if t.member(member) is not None)

    def add_override(
        self, team: str, member: str, starts: datetime, ends: datetime, reason: str = ""
    ) -> Override:
        """Let ``member`` cover ``team``'s on-call from ``starts`` until ``ends``."""
        problems: list[str] = []
        found = self.config.teams.get(team)
        if found is None:
            problems.append(f"no team {team!r}; teams: {', '.join(sorted(self.config.teams))}")
        elif found.mode != "oncall":
            problems.append(f"{team} takes turns ({found.mode}); overrides are for oncall teams")
        elif found.member(member) is None:
            names = ", ".join(m.name for m in found.members)
            problems.append(f"{member!r} is not in {team}; its members: {names}")
        naive = [n for n, v in (("starts", starts), ("ends", ends)) if v.utcoffset() is None]
        problems.extend(f"{name} needs a time zone" for name in naive)
        if not naive and ends <= starts:
            problems.append(
                f"ends ({ends.isoformat()}) must be after starts ({starts.isoformat()})"
            )
        if problems:
            raise AssignmentError(problems)
        with self._writing() as session:
            row = OnCallOverrideRow(
                team=team, member=member, starts_at=starts, ends_at=ends, reason=reason
            )
            session.add(row)
            session.flush()
            return override_of(row)

    def overrides(self, team: str, at: datetime | None = None) -> list[Override]:
        """``team``'s overrides (those covering ``at`` if given), in the order they start."""
        with self.factory() as session:
            return load_overrides(session, team, at)

    def on_call(self, team: str, at: datetime | None = None) -> OnCall:
        """Who is on call for ``team`` now (or at ``at``), overrides included."""
        found = self.config.teams.get(team)
        if found is None:
            raise KeyError(f"no team {team!r}")
        instant = at or self.clock()
        with self.factory() as session:
            return on_call(found, instant, load_overrides(session, team, instant))


def _facts(ticket: TicketRow) -> dict[str, str | None]:
    return {
        "provider": ticket.provider,
        "kind": ticket.kind,
        "code": ticket.code,
        "operation": ticket.operation,
        "entity": ticket.entity,
        "tenant": ticket.tenant_id,
    }


def _give(ticket: TicketRow, team: str, member: str, now: datetime) -> None:
    ticket.team = team
    ticket.assignee = member
    ticket.assigned_at = now
    ticket.acknowledged_at = None
    ticket.state = TicketState.ASSIGNED.value


def _since(ticket: TicketRow) -> datetime:
    """When the owner's acknowledgement clock started: assignment, or a later reopening
    (a regression keeps its assignee, who gets a fresh ``ack_within``)."""
    assigned = ticket.assigned_at or ticket.opened_at
    return max(assigned, ticket.opened_at)


def _escalation(
    team: TeamConfig | None, ticket: TicketRow
) -> tuple[TeamConfig, EscalationTarget] | str:
    """Where an overdue ticket goes next, or why it cannot go anywhere."""
    if team is None:
        return f"its team {ticket.team!r} is not in the support configuration"
    target = team.escalate_to
    if target is None:
        return f"{team.name} has no escalate_to"
    if target.lead is not None and target.lead == ticket.assignee:
        return f"it is already with {team.name}'s lead, {target.lead}"
    return team, target


def _note_stuck(
    session: Session, ticket: TicketRow, since: datetime, now: datetime, why: str
) -> bool:
    """Put a stuck ticket on its timeline once per assignment, not at every check; say
    whether this call did."""
    noted = session.scalar(
        select(TicketEventRow.id)
        .where(
            TicketEventRow.ticket_id == ticket.id,
            TicketEventRow.event == EXHAUSTED,
            TicketEventRow.at >= since,
        )
        .limit(1)
    )
    if noted is not None:
        return False
    add_event(
        session,
        ticket,
        EXHAUSTED,
        now,
        text=f"Still not acknowledged by {ticket.assignee} and not escalated: {why}.",
        data={"team": ticket.team, "assignee": ticket.assignee, "reason": why},
    )
    return True


def _locked(session: Session, ticket_id: int) -> TicketRow:
    ticket = session.get(TicketRow, ticket_id, with_for_update=True)
    if ticket is None:
        raise KeyError(f"no ticket {ticket_id}")
    return ticket
