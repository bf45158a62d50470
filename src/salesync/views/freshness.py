"""Where each sale and refund stands on its way to the books, and how far each
location's books have caught up.

Sales move to the books in scheduled windows, so the books lag the tills on purpose. The
sales log and the sales report therefore carry a freshness statement ("Sales up to 17:58
on Mon 2 Nov are synced; 14 sales wait for the 06:00 window on Tue 3 Nov") so nobody
mistakes batching for loss. Every query is scoped to one tenant.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from salesync.domain.documents import DocumentKind, Location
from salesync.engine.outbox import PostingState
from salesync.store.repositories import Locations
from salesync.store.tables import (
    DocumentRow,
    PostingDocumentRow,
    PostingRow,
    QueuedDocumentRow,
    owned_by,
)

State = Literal["waiting", "held", "sending", "posted", "failed"]
"""Where a document stands on its way to the books. A record that never became a document
(quarantined) is not in the log; the error log shows it."""

LOGGED_KINDS = (DocumentKind.SALE.value, DocumentKind.REFUND.value)


def when(instant: datetime, location: Location) -> str:
    """An instant as the location's people read it: ``17:58 on Mon 2 Nov``."""
    local = instant.astimezone(location.zone)
    return f"{local:%H:%M} on {local:%a} {local.day} {local:%b}"


@dataclass(frozen=True, slots=True)
class LocationFreshness:
    """How current one location's books are."""

    location: Location
    synced_through: datetime | None
    """When the newest sale or refund already in the books happened."""
    last_synced_at: datetime | None
    """When the latest posting of a sale or refund was written."""
    waiting_sales: int
    waiting_refunds: int
    """Sales and refunds waiting for a scheduled window."""
    next_window: datetime | None
    manual: int
    """Sales and refunds whose policy is manual: no window moves them, a person does."""
    held: int
    """Sales and refunds held for a mapping: they wait for a fix, not for a window."""

    @property
    def waiting(self) -> int:
        return self.waiting_sales + self.waiting_refunds + self.manual

    @property
    def text(self) -> str:
        loc = self.location
        if self.synced_through is None:
            parts = [f"{loc.name}: no sales synced yet"]
        else:
            parts = [f"{loc.name}: sales up to {when(self.synced_through, loc)} are synced"]
        scheduled = self.waiting_sales + self.waiting_refunds
        if scheduled and self.next_window is not None:
            local = self.next_window.astimezone(loc.zone)
            window = f"{local:%H:%M} window on {local:%a} {local.day} {local:%b}"
            things = _things(self.waiting_sales, self.waiting_refunds)
            parts.append(f"{things} {_verb(scheduled)} for the {window}")
        if self.manual:
            parts.append(f"{_things(self.manual, 0)} {_verb(self.manual)} for someone to sync")
        if self.held:
            parts.append(f"{_things(self.held, 0)} held until a mapping is fixed")
        if not (self.waiting or self.held):
            parts.append("nothing is waiting")
        return "; ".join(parts) + "."


def _things(sales: int, refunds: int) -> str:
    named = [
        f"{n} {word}{'' if n == 1 else 's'}"
        for n, word in ((sales, "sale"), (refunds, "refund"))
        if n
    ]
    return " and ".join(named)


def _verb(n: int) -> str:
    return "waits" if n == 1 else "wait"


@dataclass(frozen=True, slots=True)
class Freshness:
    """How current the sales log is, per location."""

    locations: tuple[LocationFreshness, ...]

    @property
    def waiting(self) -> int:
        return sum(f.waiting for f in self.locations)

    @property
    def held(self) -> int:
        return sum(f.held for f in self.locations)

    @property
    def synced_through(self) -> datetime | None:
        instants = [f.synced_through for f in self.locations if f.synced_through]
        return max(instants) if instants else None

    @property
    def next_window(self) -> datetime | None:
        instants = [f.next_window for f in self.locations if f.next_window]
        return min(instants) if instants else None

    @property
    def text(self) -> str:
        if not self.locations:
            return "No locations yet."
        return " ".join(f.text for f in self.locations)


def freshness(session: Session, tenant_id: str, location: str | None = None) -> Freshness:
    """How far the books have caught up, for every location of the tenant (or one).
    A few lookups per location and one grouped query over what waits, whatever the number
    of documents already in the books."""
    locations = [loc for loc in Locations(session, tenant_id).all() if location in (None, loc.id)]
    through = {loc.id: _synced(session, tenant_id, loc.id) for loc in locations}
    queued = (
        select(
            QueuedDocumentRow.location_id,
            QueuedDocumentRow.kind,
            QueuedDocumentRow.held,
            func.count(),
            func.count(QueuedDocumentRow.due_at),
            func.min(QueuedDocumentRow.due_at),
        )
        .where(
            QueuedDocumentRow.tenant_id == tenant_id,
            QueuedDocumentRow.planned.is_(False),
            QueuedDocumentRow.kind.in_(LOGGED_KINDS),
        )
        .group_by(QueuedDocumentRow.location_id, QueuedDocumentRow.kind, QueuedDocumentRow.held)
    )
    counts: dict[tuple[str, str], int] = defaultdict(int)
    due: dict[str, datetime] = {}
    for loc_id, kind, is_held, count, windowed, first_due in session.execute(queued):
        if is_held:
            counts[(loc_id, "held")] += count
            continue
        counts[(loc_id, kind)] += windowed
        counts[(loc_id, "manual")] += count - windowed
        if first_due is not None:
            due[loc_id] = min(first_due, due.get(loc_id, first_due))
    return Freshness(
        tuple(
            LocationFreshness(
                location=loc,
                synced_through=through[loc.id][0],
                last_synced_at=through[loc.id][1],
                waiting_sales=counts[(loc.id, DocumentKind.SALE.value)],
                waiting_refunds=counts[(loc.id, DocumentKind.REFUND.value)],
                next_window=due.get(loc.id),
                manual=counts[(loc.id, "manual")],
                held=counts[(loc.id, "held")],
            )
            for loc in locations
        )
    )


def _synced(
    session: Session, tenant_id: str, location_id: str
) -> tuple[datetime | None, datetime | None]:
    """The newest sale or refund of the location in the books, and when the location last
    posted anything: each read from the newest end of an index, not over the history."""
    in_books = (
        select(PostingDocumentRow.id)
        .join(PostingRow, PostingRow.id == PostingDocumentRow.posting_id)
        .where(
            PostingDocumentRow.document_id == DocumentRow.id,
            owned_by(PostingDocumentRow.tenant_id, tenant_id),
            PostingRow.state == PostingState.POSTED.value,
        )
    )
    # Within one location the business day rises with the time, so its day index read
    # backwards is newest first (only the last day's documents are sorted).
    newest = session.scalar(
        select(DocumentRow.occurred_at)
        .where(
            DocumentRow.tenant_id == tenant_id,
            DocumentRow.location_id == location_id,
            DocumentRow.kind.in_(LOGGED_KINDS),
            in_books.exists(),
        )
        .order_by(DocumentRow.business_day.desc(), DocumentRow.occurred_at.desc())
        .limit(1)
    )
    last = session.scalar(
        select(PostingRow.posted_at)
        .where(
            PostingRow.tenant_id == tenant_id,
            PostingRow.location_id == location_id,
            PostingRow.posted_at.is_not(None),
            PostingRow.state == PostingState.POSTED.value,
        )
        .order_by(PostingRow.posted_at.desc())
        .limit(1)
    )
    return newest, last


@dataclass(slots=True)
class _Standing:
    """What the outbox and the queue say about one document."""

    postings: list[PostingRow] = field(default_factory=list)
    queued: QueuedDocumentRow | None = None


def standing(
    session: Session, tenant_id: str, ids: list[str]
) -> dict[str, tuple[State, str, PostingRow | None]]:
    """For each document: its state, that state in a sentence, and the latest posting that
    wrote it to the books (for when and where). Two queries, whatever the count."""
    found: dict[str, _Standing] = defaultdict(_Standing)
    if ids:
        covering = (
            select(PostingDocumentRow.document_id, PostingRow)
            .join(PostingRow, PostingRow.id == PostingDocumentRow.posting_id)
            .where(
                owned_by(PostingDocumentRow.tenant_id, tenant_id),
                owned_by(PostingRow.tenant_id, tenant_id),
                PostingDocumentRow.document_id.in_(ids),
            )
            .order_by(PostingRow.id)
        )
        for document_id, posting in session.execute(covering):
            found[document_id].postings.append(posting)
        queued = select(QueuedDocumentRow).where(
            owned_by(QueuedDocumentRow.tenant_id, tenant_id), QueuedDocumentRow.document_id.in_(ids)
        )
        for row in session.scalars(queued):
            found[row.document_id].queued = row
    return {i: _state(found[i]) for i in ids}


def _state(found: _Standing) -> tuple[State, str, PostingRow | None]:
    posted = [p for p in found.postings if p.state == PostingState.POSTED.value]
    last = max(posted, key=lambda p: p.posted_at or p.created_at) if posted else None
    for posting in found.postings:
        if posting.state == PostingState.FAILED.value:
            return "failed", f"could not be written to the books: {_error(posting)}", last
    queued = found.queued
    held = [p for p in found.postings if p.state == PostingState.HELD.value]
    if queued is not None and queued.held:
        reasons = "; ".join(p["message"] for p in queued.problems) or "a mapping is missing"
        return "held", f"held: {reasons}", last
    if held:
        return "held", f"held: {_error(held[0])}", last
    if queued is not None and not queued.planned:
        if queued.due_at is None:
            return "waiting", "waits for someone to sync it (manual policy)", last
        return "waiting", "waits for its sync window", last
    unsent = [p for p in found.postings if p.state != PostingState.POSTED.value]
    if unsent:
        posting = unsent[0]
        if posting.state == PostingState.RETRYING.value:
            return "sending", f"the books did not answer; trying again ({_error(posting)})", last
        return "sending", "being written to the books", last
    if last is not None:
        return "posted", "in the books", last
    return "waiting", "waits to be planned into a posting", last


def _error(posting: PostingRow) -> str:
    error = posting.last_error or {}
    return str(error.get("user_message") or error.get("message") or "no detail was recorded")
