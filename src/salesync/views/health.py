"""How each of a merchant's connections is doing, in one word and one sentence.

One ``ConnectionHealth`` per connection of the tenant, plus the built-in ledger when the
tenant's postings go there (the ledger is the books of a tenant with no destination
connection, and postings name it ``ledger``). Everything is counted with a handful of
grouped queries, whatever the number of records or postings. Credentials are never read.
"""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from salesync.connectors.ledger.destination import NAME as LEDGER
from salesync.connectors.tokens import RECONNECT, default_reconnect_url
from salesync.domain.tickets import TicketState
from salesync.engine.destinations import DESTINATION
from salesync.engine.outbox import PostingState
from salesync.store.tables import ConnectionRow, InboxRecordRow, PostingRow, TicketRow, owned_by

SOURCE = "source"
ACTIVE_TICKETS = tuple(s.value for s in TicketState if s.active)
PAUSED_STATUSES = frozenset({"disabled", "paused"})


class Health(enum.StrEnum):
    HEALTHY = "healthy"
    """Working, nothing waiting on it."""
    DEGRADED = "degraded"
    """Working, but some postings retry or wait, or a problem is open."""
    FAILING = "failing"
    """Postings failed and wait for a fix."""
    NEEDS_RECONNECT = "needs_reconnect"
    """The provider refused its authorization: only the merchant can sign in again."""
    PAUSED = "paused"
    """Turned off; nothing moves through it."""
    IDLE = "idle"
    """Nothing has come through it yet."""


@dataclass(frozen=True)
class ConnectionHealth:
    """One connection (or the built-in ledger, whose ``connection_id`` is None)."""

    connection_id: str | None
    name: str
    provider: str
    role: str
    status: str
    last_received_at: datetime | None
    last_posted_at: datetime | None
    failing: int
    retrying: int
    held: int
    open_tickets: tuple[int, ...]
    health: Health
    sentence: str
    reconnect_path: str | None


def _ago(then: datetime, now: datetime) -> str:
    """``then`` as a plain distance from ``now``: "3 minutes ago", "2 days ago"."""
    seconds = max(0, int((now - then).total_seconds()))
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@dataclass(frozen=True)
class _Facts:
    name: str
    role: str
    status: str
    received: datetime | None
    posted: datetime | None
    states: Counter[str]
    tickets: tuple[int, ...]


def _judge(facts: _Facts, now: datetime) -> tuple[Health, str]:
    """The health word and the sentence that explains it."""
    name = facts.name
    failed = facts.states[PostingState.FAILED.value]
    retrying = facts.states[PostingState.RETRYING.value]
    held = facts.states[PostingState.HELD.value]
    if facts.status == RECONNECT:
        waiting = f" {_plural(held, 'posting')} wait for it;" if held else ""
        return Health.NEEDS_RECONNECT, (
            f"{name} refused salesync's sign-in, so nothing moves through it.{waiting} "
            "Reconnect it to carry on; nothing is lost meanwhile."
        )
    if facts.status in PAUSED_STATUSES:
        return Health.PAUSED, f"{name} is turned off; nothing moves through it until it is on."
    if failed:
        return Health.FAILING, (
            f"{_plural(failed, 'posting')} to {name} failed and wait for a fix; "
            "our developers have a ticket and replay them once it is fixed."
        )
    troubles = []
    if retrying:
        troubles.append(f"{_plural(retrying, 'posting')} will be tried again shortly")
    if held:
        troubles.append(f"{_plural(held, 'posting')} wait for a person")
    if facts.tickets:
        troubles.append(f"{_plural(len(facts.tickets), 'problem')} open")
    if troubles:
        return Health.DEGRADED, f"{name} works, but " + " and ".join(troubles) + "."
    last = facts.received if facts.role == SOURCE else facts.posted
    if last is None:
        what = "received" if facts.role == SOURCE else "posted"
        return Health.IDLE, f"Nothing has been {what} through {name} yet."
    verb = "Last record received" if facts.role == SOURCE else "Last posting written"
    return Health.HEALTHY, f"{name} is working. {verb} {_ago(last, now)}."


def connection_health(session: Session, tenant_id: str, now: datetime) -> list[ConnectionHealth]:
    """Every connection of the tenant, sources first then books, each with its health."""
    connections = list(
        session.execute(
            select(
                ConnectionRow.id,
                ConnectionRow.name,
                ConnectionRow.provider,
                ConnectionRow.role,
                ConnectionRow.status,
            )
            .where(ConnectionRow.tenant_id == tenant_id)
            .order_by(ConnectionRow.role.desc(), ConnectionRow.name)
        )
    )
    # The newest of each, one index lookup apiece: never a pass over the history.
    received = {
        c.id: session.scalar(
            select(func.max(InboxRecordRow.received_at)).where(
                InboxRecordRow.connection_id == c.id, InboxRecordRow.tenant_id == tenant_id
            )
        )
        for c in connections
        if c.role == SOURCE
    }
    posted = {
        c.id: _newest_posting(session, tenant_id, c.id)
        for c in connections
        if c.role == DESTINATION
    }
    to_ledger = select(PostingRow.id).where(
        PostingRow.destination == LEDGER, PostingRow.tenant_id == tenant_id
    )
    if session.scalar(select(to_ledger.exists())):
        posted[LEDGER] = _newest_posting(session, tenant_id, LEDGER)
    states: dict[str, Counter[str]] = {}
    for destination, state, count in session.execute(
        select(PostingRow.destination, PostingRow.state, func.count())
        .where(
            # By state: the few postings in trouble, not the tenant's every posting.
            owned_by(PostingRow.tenant_id, tenant_id),
            PostingRow.state.in_(
                [PostingState.FAILED.value, PostingState.RETRYING.value, PostingState.HELD.value]
            ),
        )
        .group_by(PostingRow.destination, PostingRow.state)
    ):
        states.setdefault(destination, Counter())[state] = count
    tickets: dict[str, list[int]] = {}
    for ticket_id, connection_id, provider in session.execute(
        select(TicketRow.id, TicketRow.connection_id, TicketRow.provider)
        .where(TicketRow.tenant_id == tenant_id, TicketRow.state.in_(ACTIVE_TICKETS))
        .order_by(TicketRow.id)
    ):
        key = connection_id or (LEDGER if provider == LEDGER else None)
        if key is not None:
            tickets.setdefault(key, []).append(ticket_id)

    found: list[ConnectionHealth] = []
    for connection_id, name, provider, role, status in connections:
        facts = _Facts(
            name,
            role,
            status,
            received.get(connection_id),
            posted.get(connection_id),
            states.get(connection_id, Counter()),
            tuple(tickets.get(connection_id, ())),
        )
        found.append(_health(tenant_id, facts, connection_id, provider, now))
    live_books = [
        c for c in connections if c.role == DESTINATION and c.status not in PAUSED_STATUSES
    ]
    if LEDGER in posted or not live_books:
        ledger = _Facts(
            "Built-in ledger",
            DESTINATION,
            "active",
            None,
            posted.get(LEDGER),
            states.get(LEDGER, Counter()),
            tuple(tickets.get(LEDGER, ())),
        )
        found.append(_health(tenant_id, ledger, None, LEDGER, now))
    return found


def _newest_posting(session: Session, tenant_id: str, destination: str) -> datetime | None:
    return session.scalar(
        select(func.max(PostingRow.posted_at)).where(
            PostingRow.destination == destination, PostingRow.tenant_id == tenant_id
        )
    )


def _health(
    tenant_id: str, facts: _Facts, connection_id: str | None, provider: str, now: datetime
) -> ConnectionHealth:
    health, sentence = _judge(facts, now)
    reconnect = (
        default_reconnect_url(tenant_id, connection_id)
        if health is Health.NEEDS_RECONNECT and connection_id
        else None
    )
    return ConnectionHealth(
        connection_id=connection_id,
        name=facts.name,
        provider=provider,
        role=facts.role,
        status=facts.status,
        last_received_at=facts.received,
        last_posted_at=facts.posted,
        failing=facts.states[PostingState.FAILED.value],
        retrying=facts.states[PostingState.RETRYING.value],
        held=facts.states[PostingState.HELD.value],
        open_tickets=facts.tickets,
        health=health,
        sentence=sentence,
        reconnect_path=reconnect,
    )
