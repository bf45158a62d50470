"""Where each document is and why, in plain words; and lists of documents by state.

A document's state comes from its place in the queue and the postings that carry it,
in this order: held for a mapping; a posting failed; a posting waits for a person (a
reconnect, an approval); one is retried; one is on its way; all are posted; still
waiting for its sync window; or not synced at all (kinds that never post). ``documents``
filters by the same rule in SQL, so a page costs a few bounded queries whatever its size.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, exists, not_, or_, select
from sqlalchemy.orm import Session

from salesync.connectors.ledger.destination import NAME as LEDGER
from salesync.domain.money import Money
from salesync.domain.redaction import Redactor
from salesync.domain.validation import Problem
from salesync.engine.inbox import RecordState
from salesync.engine.outbox import PostingState
from salesync.store.tables import (
    ConnectionRow,
    DocumentRow,
    InboxRecordRow,
    LocationRow,
    PostingDocumentRow,
    PostingRow,
    QueuedDocumentRow,
    TicketDocumentRow,
    owned_by,
)
from salesync.views.held import Suggestion, problem_of, suggestions

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_REDACTOR = Redactor.of()
_UNEXPECTED = "something unexpected went wrong on our side; our developers are on it"


class DocumentState(enum.StrEnum):
    HELD = "held"
    """Waits for a person: a mapping, a reconnect, an approval."""
    FAILED = "failed"
    """A posting failed for good; replayed once the cause is fixed."""
    RETRYING = "retrying"
    """A posting failed for now and is tried again by itself."""
    SENDING = "sending"
    """Planned, on its way to the books."""
    POSTED = "posted"
    """In the books."""
    WAITING = "waiting"
    """Waiting for its sync window (or for someone to sync it, under a manual policy)."""
    NOT_SYNCED = "not_synced"
    """Kept, with nothing to post (customers and products are not posted to the books)."""


@dataclass(frozen=True)
class PostingInfo:
    """A posting that carries the document, as the merchant reads it."""

    id: int
    destination: str
    """The books' name as the merchant knows them."""
    kind: str
    mode: str
    state: str
    remote_ref: str | None
    posted_at: datetime | None
    attempts: int
    next_attempt_at: datetime
    error: str | None


@dataclass(frozen=True)
class DocumentSummary:
    document_id: str
    kind: str
    source: str
    external_id: str
    location_id: str
    occurred_at: datetime
    business_day: date
    total: Money
    revision: int
    state: DocumentState


@dataclass(frozen=True)
class Explanation:
    """Where a document is and why: ``headline`` in one sentence, ``reasons`` the rest."""

    document: DocumentSummary
    headline: str
    reasons: list[str]
    problems: list[Problem]
    suggestions: list[Suggestion]
    postings: list[PostingInfo]
    ticket_ids: list[int]


_ATTENTION = (
    PostingState.FAILED,
    PostingState.HELD,
    PostingState.RETRYING,
    PostingState.PENDING,
    PostingState.SENDING,
    PostingState.POSTED,
)


def _has(tenant_id: str, *states: PostingState) -> ColumnElement[bool]:
    """Whether a posting in one of ``states`` carries the document of the outer query."""
    return exists(
        select(PostingDocumentRow.id)
        .join(PostingRow, PostingRow.id == PostingDocumentRow.posting_id)
        .where(
            PostingDocumentRow.document_id == DocumentRow.id,
            PostingDocumentRow.tenant_id == tenant_id,
            PostingRow.state.in_([s.value for s in states]),
        )
    )


def _state_filter(tenant_id: str, state: DocumentState) -> ColumnElement[bool]:
    """``state`` as a condition on the outer query's document (joined to its queue row)."""
    held = QueuedDocumentRow.held.is_(True)
    free = QueuedDocumentRow.held.is_not(True)
    failed, posting_held = _has(tenant_id, PostingState.FAILED), _has(tenant_id, PostingState.HELD)
    retrying = _has(tenant_id, PostingState.RETRYING)
    sending = _has(tenant_id, PostingState.PENDING, PostingState.SENDING)
    any_posting = _has(tenant_id, *_ATTENTION)
    if state is DocumentState.HELD:
        return or_(held, and_(not_(failed), posting_held))
    if state is DocumentState.FAILED:
        return and_(free, failed)
    if state is DocumentState.RETRYING:
        return and_(free, not_(failed), not_(posting_held), retrying)
    if state is DocumentState.SENDING:
        return and_(free, not_(failed), not_(posting_held), not_(retrying), sending)
    if state is DocumentState.POSTED:
        others = (failed, posting_held, retrying, sending)
        return and_(free, *(not_(c) for c in others), _has(tenant_id, PostingState.POSTED))
    if state is DocumentState.WAITING:
        return and_(free, not_(any_posting), QueuedDocumentRow.planned.is_(False))
    return and_(
        not_(any_posting),
        or_(QueuedDocumentRow.document_id.is_(None), QueuedDocumentRow.planned.is_(True)),
        free,
    )


def _state_of(queued: QueuedDocumentRow | None, states: set[str]) -> DocumentState:
    """The document's state by the rule in the module's docstring."""
    if queued is not None and queued.held:
        return DocumentState.HELD
    order = (
        (PostingState.FAILED, DocumentState.FAILED),
        (PostingState.HELD, DocumentState.HELD),
        (PostingState.RETRYING, DocumentState.RETRYING),
        (PostingState.PENDING, DocumentState.SENDING),
        (PostingState.SENDING, DocumentState.SENDING),
        (PostingState.POSTED, DocumentState.POSTED),
    )
    for posting_state, state in order:
        if posting_state.value in states:
            return state
    if queued is not None and not queued.planned:
        return DocumentState.WAITING
    return DocumentState.NOT_SYNCED


def _summary(row: DocumentRow, state: DocumentState) -> DocumentSummary:
    return DocumentSummary(
        document_id=row.id,
        kind=row.kind,
        source=row.source,
        external_id=row.external_id,
        location_id=row.location_id,
        occurred_at=row.occurred_at,
        business_day=row.business_day,
        total=Money.from_minor(row.total_minor, row.currency),
        revision=row.revision,
        state=state,
    )


def _posting_states(session: Session, tenant_id: str, ids: list[str]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for start in range(0, len(ids), 500):
        query = (
            select(PostingDocumentRow.document_id, PostingRow.state)
            .join(PostingRow, PostingRow.id == PostingDocumentRow.posting_id)
            .where(
                owned_by(PostingDocumentRow.tenant_id, tenant_id),
                PostingDocumentRow.document_id.in_(ids[start : start + 500]),
            )
        )
        for document_id, state in session.execute(query):
            found[document_id].add(state)
    return found


def documents(
    session: Session,
    tenant_id: str,
    *,
    kind: str | None = None,
    state: str | None = None,
    location: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = DEFAULT_LIMIT,
    before: str | None = None,
) -> list[DocumentSummary]:
    """The tenant's documents, newest first, filtered by kind, state (a ``DocumentState``
    value), location and when they happened (``since`` inclusive, ``until`` exclusive).

    ``before`` is the id of the last document of the previous page; the page goes on
    after it. An unknown ``state`` or ``before`` is refused with a ``ValueError``.
    """
    query = (
        select(DocumentRow, QueuedDocumentRow)
        .outerjoin(
            QueuedDocumentRow,
            and_(
                QueuedDocumentRow.document_id == DocumentRow.id,
                QueuedDocumentRow.tenant_id == DocumentRow.tenant_id,
            ),
        )
        .where(DocumentRow.tenant_id == tenant_id)
    )
    if kind is not None:
        query = query.where(DocumentRow.kind == kind)
    if location is not None:
        query = query.where(DocumentRow.location_id == location)
    if since is not None:
        query = query.where(DocumentRow.occurred_at >= since)
    if until is not None:
        query = query.where(DocumentRow.occurred_at < until)
    if state is not None:
        try:
            wanted = DocumentState(state)
        except ValueError:
            known = ", ".join(s.value for s in DocumentState)
            raise ValueError(f"state {state!r} is not one of {known}") from None
        query = query.where(_state_filter(tenant_id, wanted))
    if before is not None:
        last = session.execute(
            select(DocumentRow.occurred_at, DocumentRow.id).where(
                DocumentRow.tenant_id == tenant_id, DocumentRow.id == before
            )
        ).first()
        if last is None:
            raise ValueError(f"no document {before!r} to page on from")
        query = query.where(
            or_(
                DocumentRow.occurred_at < last.occurred_at,
                and_(DocumentRow.occurred_at == last.occurred_at, DocumentRow.id < last.id),
            )
        )
    limit = max(1, min(limit, MAX_LIMIT))
    rows = session.execute(
        query.order_by(DocumentRow.occurred_at.desc(), DocumentRow.id.desc()).limit(limit)
    ).all()
    states = _posting_states(session, tenant_id, [document.id for document, _ in rows])
    return [
        _summary(document, _state_of(queued, states.get(document.id, set())))
        for document, queued in rows
    ]


def _when(instant: datetime, zone: ZoneInfo) -> str:
    at = instant.astimezone(zone)
    return f"{at:%a %d %b %Y %H:%M} {at.tzname()}"


def _error_text(error: dict[str, Any] | None) -> str | None:
    if not error:
        return None
    if error.get("kind") == "bug" or not error.get("user_message"):
        return _UNEXPECTED
    return _REDACTOR.text(str(error["user_message"]))


def _books_names(session: Session, tenant_id: str, names: set[str]) -> dict[str, str]:
    """Each destination name (a connection id, or ``ledger``) as the merchant knows it."""
    known = {LEDGER: "the built-in ledger"}
    ids = sorted(names - {LEDGER})
    if ids:
        for cid, name in session.execute(
            select(ConnectionRow.id, ConnectionRow.name).where(
                ConnectionRow.tenant_id == tenant_id, ConnectionRow.id.in_(ids)
            )
        ):
            known[cid] = name
    return {n: known.get(n, n) for n in names}


def _postings(session: Session, tenant_id: str, document_id: str) -> list[PostingInfo]:
    rows = list(
        session.scalars(
            select(PostingRow)
            .join(PostingDocumentRow, PostingDocumentRow.posting_id == PostingRow.id)
            .where(
                PostingDocumentRow.tenant_id == tenant_id,
                PostingDocumentRow.document_id == document_id,
                PostingRow.tenant_id == tenant_id,
            )
            .order_by(PostingRow.id)
        )
    )
    names = _books_names(session, tenant_id, {r.destination for r in rows})
    return [
        PostingInfo(
            id=r.id,
            destination=names[r.destination],
            kind=r.kind,
            mode=r.mode,
            state=r.state,
            remote_ref=r.remote_ref,
            posted_at=r.posted_at,
            attempts=r.attempts,
            next_attempt_at=r.next_attempt_at,
            error=_error_text(r.last_error) if r.state != PostingState.POSTED.value else None,
        )
        for r in rows
    ]


_MODES = {"per_order": "on its own", "daily_summary": "in its day's summary"}


def _posting_sentence(p: PostingInfo, zone: ZoneInfo) -> str:
    what = "The change" if p.kind == "adjustment" else "It"
    how = _MODES.get(p.mode, "with its payout" if p.mode == "per_payout" else "")
    if p.state == PostingState.POSTED.value:
        ref = f" as {p.remote_ref}" if p.remote_ref else ""
        at = f" on {_when(p.posted_at, zone)}" if p.posted_at else ""
        return f"{what} was posted to {p.destination} {how}{ref}{at}.".replace("  ", " ")
    if p.state == PostingState.FAILED.value:
        return f"Posting to {p.destination} failed: {p.error or _UNEXPECTED}."
    if p.state == PostingState.HELD.value:
        return f"Posting to {p.destination} waits for you: {p.error or 'a person must act'}."
    if p.state == PostingState.RETRYING.value:
        reason = f" ({p.error})" if p.error else ""
        return (
            f"Posting to {p.destination} did not go through{reason}; salesync tries again "
            f"on {_when(p.next_attempt_at, zone)}."
        )
    return f"{what} is on its way to {p.destination} {how}.".replace("  ", " ")


def _headline(
    state: DocumentState, queued: QueuedDocumentRow | None, zone: ZoneInfo, now: datetime | None
) -> str:
    if state is DocumentState.HELD and queued is not None and queued.held:
        return "Held: salesync does not know where some of its amounts go in your books."
    if state is DocumentState.WAITING and queued is not None:
        if queued.due_at is None:
            return "Waiting for someone to sync it: its kind is synced by hand."
        if now is not None and queued.due_at <= now:
            return "Due now: it goes out with the next sync."
        return f"Waiting for its sync window on {_when(queued.due_at, zone)}."
    return {
        DocumentState.HELD: "Held: its posting waits for a person.",
        DocumentState.FAILED: "Failed: it could not be posted and waits for a fix.",
        DocumentState.RETRYING: "Retrying: the books did not take it yet; salesync tries again.",
        DocumentState.SENDING: "On its way to your books.",
        DocumentState.POSTED: "Posted to your books.",
        DocumentState.NOT_SYNCED: "Kept in salesync; this kind is not posted to your books.",
        DocumentState.WAITING: "Waiting to be planned.",
    }[state]


def explain(
    session: Session, tenant_id: str, document_id: str, now: datetime | None = None
) -> Explanation | None:
    """Where the tenant's document ``document_id`` is and why; None when the tenant has no
    such document. ``now`` tells a window still ahead from one that has come."""
    found = session.execute(
        select(DocumentRow, QueuedDocumentRow, LocationRow.timezone)
        .outerjoin(
            QueuedDocumentRow,
            and_(
                QueuedDocumentRow.document_id == DocumentRow.id,
                QueuedDocumentRow.tenant_id == DocumentRow.tenant_id,
            ),
        )
        .outerjoin(
            LocationRow,
            and_(
                LocationRow.tenant_id == DocumentRow.tenant_id,
                LocationRow.id == DocumentRow.location_id,
            ),
        )
        .where(DocumentRow.tenant_id == tenant_id, DocumentRow.id == document_id)
    ).first()
    if found is None:
        return None
    row, queued, timezone = found
    zone = ZoneInfo(timezone or "UTC")
    postings = _postings(session, tenant_id, document_id)
    state = _state_of(queued, {p.state for p in postings})
    reasons: list[str] = []
    problems = [problem_of(p) for p in (queued.problems if queued is not None else [])]
    offered: list[Suggestion] = []
    if queued is not None and queued.held:
        reasons += [p.message for p in problems]
        offered = suggestions(session, tenant_id, [document_id])
        if offered:
            reasons.append("Pick an account for the missing value and it posts with the next sync.")
    elif problems:
        reasons += [p.message for p in problems]
    reasons += [_posting_sentence(p, zone) for p in postings]
    if row.revision > 1:
        adjusted = any(p.kind == "adjustment" for p in postings)
        change = (
            "the change went to the books as an adjustment"
            if adjusted
            else "the latest version is what salesync posts"
        )
        reasons.append(f"It was changed in {row.source} after it first arrived; {change}.")
    failed_at = row.body.get("failed_at") if row.kind == "payout" else None
    if failed_at:
        reasons.append(
            f"The bank returned this payout ({_when(datetime.fromisoformat(failed_at), zone)}):"
            f" its deposit went back to {row.source}, so salesync takes it back out of your "
            "bank account in the books until a later payout pays it out again."
        )
    set_aside = session.scalars(
        select(InboxRecordRow)
        .where(
            InboxRecordRow.tenant_id == tenant_id,
            InboxRecordRow.document_id == document_id,
            InboxRecordRow.state == RecordState.QUARANTINED.value,
        )
        .order_by(InboxRecordRow.id.desc())
        .limit(1)
    ).first()
    if set_aside is not None:
        why = "; ".join(_REDACTOR.text(p.get("message", "")) for p in set_aside.problems or [])
        reasons.append(
            f"A newer version from {set_aside.source} was set aside (record {set_aside.id})"
            + (f": {why}" if why else "")
            + ". Correct it in the source to bring it in."
        )
    tickets = list(
        session.scalars(
            select(TicketDocumentRow.ticket_id)
            .where(
                TicketDocumentRow.tenant_id == tenant_id,
                TicketDocumentRow.document_id == document_id,
            )
            .order_by(TicketDocumentRow.ticket_id)
        )
    )
    return Explanation(
        document=_summary(row, state),
        headline=_headline(state, queued, zone, now),
        reasons=reasons,
        problems=problems,
        suggestions=offered,
        postings=postings,
        ticket_ids=tickets,
    )
