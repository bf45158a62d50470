"""The error log a merchant reads: each root cause (a ticket) in plain words, with the fix.

Every entry says what happened (the ticket's user message and its knowledge-base link),
how often, and what the merchant should do about it: reconnect for an authorization,
add a mapping on the held page, correct a record in its source, or nothing at all when
salesync retries by itself or the developers are on it. Text that came from incidents
goes through the redactor once more before it is shown, as the support API does.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from salesync.connectors.tokens import default_reconnect_url
from salesync.domain.errors import ErrorKind
from salesync.domain.redaction import Redactor
from salesync.domain.tickets import OPERATOR_CODES, TicketState
from salesync.store.tables import ConnectionRow, TicketRow
from salesync.support.knowledge import KnowledgeBase

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class LogState(enum.StrEnum):
    """Which tickets the log lists."""

    ACTIVE = "active"
    """Open, assigned or being fixed."""
    RESOLVED = "resolved"
    """Resolved or closed."""
    ALL = "all"


_STATES = {
    LogState.ACTIVE: [s.value for s in TicketState if s.active],
    LogState.RESOLVED: [TicketState.RESOLVED.value, TicketState.CLOSED.value],
    LogState.ALL: [s.value for s in TicketState],
}


@dataclass(frozen=True)
class Fix:
    """What the merchant should do, and where, when there is a place to do it."""

    text: str
    path: str | None = None
    label: str | None = None
    merchant: bool = False
    """Whether the merchant has something to do (else salesync or its people do)."""


@dataclass(frozen=True)
class ErrorEntry:
    """One root cause in the merchant's error log."""

    ticket_id: int
    headline: str
    kind: str
    code: str | None
    state: str
    message: str
    help_url: str
    """The error's own help page, else the knowledge-base article for its code or kind."""
    occurrences: int
    first_seen: datetime
    last_seen: datetime
    location_id: str | None
    connection_name: str | None
    merchant_action: bool
    fix: Fix
    resolution: str | None


BUG_MESSAGE = (
    "Something unexpected went wrong on our side while syncing. Our developers have "
    "everything they need to fix it."
)


def headline(row: TicketRow, connection_name: str | None) -> str:
    """A short plain title for the ticket (its own title is written for developers)."""
    where = connection_name or row.provider or "A connection"
    return {
        ErrorKind.AUTH.value: f"{where} needs you to sign in again",
        ErrorKind.MAPPING.value: "Records wait for a mapping",
        ErrorKind.VALIDATION.value: "A record could not be taken in",
        ErrorKind.CONFLICT.value: "A record changed after it was posted",
        ErrorKind.TRANSIENT.value: f"{where} did not answer in time",
    }.get(row.kind, "Something went wrong on our side")


def fix_for(row: TicketRow, tenant_id: str, connection_name: str | None) -> Fix:
    """What the merchant should do about the ticket's failure."""
    state = TicketState(row.state)
    if not state.active:
        return Fix("Nothing: this is fixed." + (f" {row.resolution}" if row.resolution else ""))
    kind = row.kind
    where = connection_name or row.provider or "the source"
    if kind == ErrorKind.AUTH.value and (row.code or "") not in OPERATOR_CODES:
        if row.connection_id:
            return Fix(
                f"Reconnect {where}: sign in to it again so salesync may carry on. Nothing is "
                "lost meanwhile; what waited is sent once it is reconnected.",
                default_reconnect_url(tenant_id, row.connection_id),
                f"Reconnect {where}",
                merchant=True,
            )
        return Fix(
            f"Sign in to {where} again from its connection settings; salesync carries on "
            "once it is reconnected.",
            merchant=True,
        )
    if kind == ErrorKind.MAPPING.value:
        return Fix(
            "Tell salesync where these amounts go: pick an account for the missing value on "
            "the held records page. The held records post with the next sync.",
            f"/app/{tenant_id}/held",
            "Fix the mapping",
            merchant=True,
        )
    if kind == ErrorKind.VALIDATION.value:
        return Fix(
            f"Correct the record in {where}; salesync takes in the corrected version, and "
            "the records set aside are replayed once it is fixed.",
            f"/app/{tenant_id}/held",
            "See the records set aside",
            merchant=True,
        )
    if kind == ErrorKind.CONFLICT.value:
        return Fix(
            "A record changed after it was posted and does not add up any more; check it in "
            f"{where} and in your books. Support will help you decide.",
            merchant=True,
        )
    if kind == ErrorKind.TRANSIENT.value:
        return Fix("Nothing: the service did not answer in time, and salesync keeps retrying.")
    return Fix(
        "Nothing: our developers are on it, and the affected records are replayed once it is fixed."
    )


def error_log(
    session: Session,
    tenant_id: str,
    *,
    state: str = LogState.ACTIVE.value,
    limit: int = DEFAULT_LIMIT,
    before: int | None = None,
    redactor: Redactor | None = None,
) -> list[ErrorEntry]:
    """The tenant's tickets in ``state`` (active, resolved or all), newest first, before
    ticket id ``before`` when given; each with a headline, its message and its fix.

    An unexpected error's message is the developers' own words, so the merchant reads a
    plain note instead; the developers see the details on the ticket."""
    try:
        which = LogState(state)
    except ValueError:
        known = ", ".join(s.value for s in LogState)
        raise ValueError(f"state {state!r} is not one of {known}") from None
    redact = redactor or Redactor.of()
    articles = KnowledgeBase.built_in()
    query = select(TicketRow).where(
        TicketRow.tenant_id == tenant_id, TicketRow.state.in_(_STATES[which])
    )
    if before is not None:
        query = query.where(TicketRow.id < before)
    limit = max(1, min(limit, MAX_LIMIT))
    rows = list(session.scalars(query.order_by(TicketRow.id.desc()).limit(limit)))
    wanted = {r.connection_id for r in rows if r.connection_id}
    names: dict[str, str] = {}
    if wanted:
        names = dict(
            session.execute(
                select(ConnectionRow.id, ConnectionRow.name).where(
                    ConnectionRow.tenant_id == tenant_id, ConnectionRow.id.in_(sorted(wanted))
                )
            ).all()
        )
    entries = []
    for row in rows:
        name = names.get(row.connection_id) if row.connection_id else None
        entries.append(
            ErrorEntry(
                ticket_id=row.id,
                headline=headline(row, name),
                kind=row.kind,
                code=row.code,
                state=row.state,
                message=BUG_MESSAGE
                if row.kind == ErrorKind.BUG.value
                else redact.text(row.user_message),
                help_url=row.help_url or articles.for_error(row.kind, row.code).path,
                occurrences=row.occurrences,
                first_seen=row.first_seen,
                last_seen=row.last_seen,
                location_id=row.location_id,
                connection_name=name,
                merchant_action=row.merchant_action,
                fix=fix_for(row, tenant_id, name),
                resolution=redact.text(row.resolution) if row.resolution else None,
            )
        )
    return entries
