"""What the assigner did: assignments, escalations, acknowledgements, and what it could not do."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

How = Literal["round_robin", "oncall", "override", "lead", "direct"]
"""How a member was chosen: the team's turn, the rotation, an override covering it, an
escalation to a lead, or by name."""


@dataclass(frozen=True, slots=True)
class Assignment:
    """A ticket given to ``member`` of ``team``."""

    ticket_id: int
    tenant_id: str
    team: str
    member: str
    how: How
    rule: str | None = None
    """The ownership rule that chose the team, when one did."""


@dataclass(frozen=True, slots=True)
class AssignReport:
    assigned: tuple[Assignment, ...] = ()
    unrouted: tuple[int, ...] = ()
    """Tickets no rule matched: they stay open."""


@dataclass(frozen=True, slots=True)
class Escalation:
    ticket_id: int
    tenant_id: str
    from_team: str | None
    from_member: str | None
    to: Assignment
    level: int
    """How many times the ticket has now been escalated."""


@dataclass(frozen=True, slots=True)
class Unescalated:
    """A ticket overdue for acknowledgement with nowhere further to go."""

    ticket_id: int
    tenant_id: str
    team: str | None
    member: str | None
    waiting: timedelta
    reason: str


@dataclass(frozen=True, slots=True)
class EscalationReport:
    escalated: tuple[Escalation, ...] = ()
    stuck: tuple[Unescalated, ...] = ()


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    ticket_id: int
    tenant_id: str
    member: str
    assignee: str | None
    after: timedelta
    """From assignment (or reopening) to acknowledgement."""
