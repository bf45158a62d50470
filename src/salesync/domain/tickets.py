"""A ticket's lifecycle and its clocks: pure rules, no storage."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta


class TicketState(enum.StrEnum):
    OPEN = "open"
    """Nobody owns it yet."""
    ASSIGNED = "assigned"
    """Someone owns it and has not started."""
    FIXING = "fixing"
    """The owner acknowledged it and is working on it."""
    RESOLVED = "resolved"
    """Fixed, the affected documents replayed and reconciled, the merchant told."""
    CLOSED = "closed"
    """Nothing more will happen (won't fix, duplicate, or resolved and quiet)."""

    @property
    def active(self) -> bool:
        return self in (TicketState.OPEN, TicketState.ASSIGNED, TicketState.FIXING)


MOVES: dict[TicketState, frozenset[TicketState]] = {
    TicketState.OPEN: frozenset({TicketState.ASSIGNED, TicketState.RESOLVED, TicketState.CLOSED}),
    TicketState.ASSIGNED: frozenset(
        {TicketState.ASSIGNED, TicketState.FIXING, TicketState.RESOLVED, TicketState.CLOSED}
    ),
    TicketState.FIXING: frozenset({TicketState.ASSIGNED, TicketState.RESOLVED, TicketState.CLOSED}),
    TicketState.RESOLVED: frozenset({TicketState.OPEN, TicketState.ASSIGNED, TicketState.CLOSED}),
    TicketState.CLOSED: frozenset({TicketState.OPEN, TicketState.ASSIGNED}),
}
"""Which state a ticket may move to from each; resolved and closed tickets move back
only when the failure comes back (a regression) or someone reopens them."""


class TicketMoveError(ValueError):
    """A move the lifecycle does not allow; the message says what is allowed."""


def check_move(current: TicketState, target: TicketState) -> None:
    if target not in MOVES[current]:
        allowed = ", ".join(sorted(s.value for s in MOVES[current]))
        raise TicketMoveError(
            f"a {current.value} ticket cannot become {target.value}; it can become: {allowed}"
        )


@dataclass(frozen=True, slots=True)
class Sla:
    """How soon a plan promises a first response and a resolution."""

    respond: timedelta
    resolve: timedelta


SLAS: dict[str, Sla] = {
    "standard": Sla(respond=timedelta(hours=8), resolve=timedelta(days=3)),
    "priority": Sla(respond=timedelta(hours=1), resolve=timedelta(hours=24)),
    "enterprise": Sla(respond=timedelta(minutes=15), resolve=timedelta(hours=4)),
}
DEFAULT_PLAN = "standard"


def sla_for(plan: str) -> Sla:
    return SLAS.get(plan, SLAS[DEFAULT_PLAN])


def clocks(plan: str, opened_at: datetime) -> tuple[datetime, datetime]:
    """When the first response and the resolution are due for a ticket opened then."""
    sla = sla_for(plan)
    return opened_at + sla.respond, opened_at + sla.resolve


MERCHANT_CODES = frozenset(
    {
        "invalid_grant",
        "token_revoked",
        "reconnect",
        "unmapped",
        "subscription_ended",
    }
)


OPERATOR_CODES = frozenset({"webhook_signature_invalid", "webhook_replayed"})
"""Auth failures that are not the merchant's to fix: deliveries refused for their
signature or age are a stale secret on salesync's side or someone probing the endpoint;
an operator looks before anyone asks the merchant for anything."""


def merchant_can_fix(kind: str, code: str | None) -> bool:
    """Whether only the merchant can fix this (reconnect their books, add a mapping)."""
    if (code or "") in OPERATOR_CODES:
        return False
    return kind in ("auth", "mapping") or (code or "") in MERCHANT_CODES
