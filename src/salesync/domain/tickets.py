"""A ticket's lifecycle and its clocks: pure rules, no storage."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol


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


class SlaClocks(Protocol):
    """How a plan's SLA clocks run: when a ticket's first response and resolution are due,
    and how far a pause (waiting on the merchant) pushes them."""

    @property
    def default_plan(self) -> str:
        """The plan of a tenant without a subscription."""
        ...

    def clocks(self, plan: str, opened_at: datetime) -> tuple[datetime, datetime]:
        """``(respond_by, resolve_by)`` for a ticket opened at ``opened_at`` on ``plan``."""
        ...

    def paused(self, plan: str, paused_from: datetime, paused_until: datetime) -> timedelta:
        """How much of ``plan``'s clock time passed between the two moments."""
        ...

    def extend(
        self, ticket_clock: datetime, paused_from: datetime, paused_until: datetime, plan: str
    ) -> datetime:
        """``ticket_clock`` pushed later by the clock time that passed while paused."""
        ...


@dataclass(frozen=True, slots=True)
class FixedSla:
    """The same targets for every plan, counted around the clock: the clocks salesync
    keeps when no plan catalog is given."""

    respond: timedelta = timedelta(hours=8)
    resolve: timedelta = timedelta(days=3)
    default_plan: str = "standard"

    def clocks(self, plan: str, opened_at: datetime) -> tuple[datetime, datetime]:
        return opened_at + self.respond, opened_at + self.resolve

    def paused(self, plan: str, paused_from: datetime, paused_until: datetime) -> timedelta:
        return max(paused_until - paused_from, timedelta(0))

    def extend(
        self, ticket_clock: datetime, paused_from: datetime, paused_until: datetime, plan: str
    ) -> datetime:
        return ticket_clock + self.paused(plan, paused_from, paused_until)


MERCHANT_CODES = frozenset(
    {
        "invalid_grant",
        "token_revoked",
        "reconnect",
        "unmapped",
        "subscription_ended",
        "webhook_stopped",
        "web_connector_silent",
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
