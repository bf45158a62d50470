"""Reconciliation: per location and business day, what the source says against what the
books hold, with every document that differs named and the reason given.

The source side is the current version of every stored document. The books side is, for
each document, the revision its postings brought in, counted only once those postings
are posted, and (when a destination is given) only if the destination still finds them
by key. Both sides are measured alike (``domain.measures``), so a clean sync reconciles
to zero whatever mapping placed the amounts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from salesync.connectors.destination import Books
from salesync.connectors.ledger.destination import NAME as LEDGER
from salesync.domain.documents import Document, Location, business_day
from salesync.domain.measures import combine, measures
from salesync.engine.outbox import PostingState
from salesync.store import codec
from salesync.store.repositories import Documents
from salesync.store.tables import (
    DocumentRow,
    PostingDocumentRow,
    PostingRow,
    QueuedDocumentRow,
)


@dataclass(frozen=True, slots=True)
class DocumentDifference:
    document_id: str
    kind: str
    external_id: str
    reason: str
    differences: dict[str, Decimal]
    """Source minus books, per measure."""


@dataclass(slots=True)
class DayReconciliation:
    location_id: str
    day: date
    currency: str
    source: dict[str, Decimal] = field(default_factory=dict)
    books: dict[str, Decimal] = field(default_factory=dict)
    documents: list[DocumentDifference] = field(default_factory=list)
    count: int = 0
    """Documents of the day in the source."""

    @property
    def differences(self) -> dict[str, Decimal]:
        """Source minus books, per measure, where they differ."""
        return _gaps(self.source, self.books)

    @property
    def clean(self) -> bool:
        return not self.differences and not self.documents


@dataclass(frozen=True, slots=True)
class _Books:
    """What the books hold of one document: the revision, and why not more."""

    revision: int
    problem: str | None


def _gaps(source: dict[str, Decimal], books: dict[str, Decimal]) -> dict[str, Decimal]:
    names = sorted(source.keys() | books.keys())
    gaps = {n: source.get(n, Decimal(0)) - books.get(n, Decimal(0)) for n in names}
    return {n: v for n, v in gaps.items() if v}


class Reconciler:
    def __init__(
        self,
        session: Session,
        tenant_id: str,
        locations: Iterable[Location],
        *,
        destination: str = LEDGER,
        books: Books | None = None,
    ) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.locations = {loc.id: loc for loc in locations}
        self.destination = destination
        self.books = books
        self.documents = Documents(session, tenant_id)

    def reconcile(
        self, first: date, last: date, location_id: str | None = None
    ) -> list[DayReconciliation]:
        """One reconciliation per location, business day and currency in ``first..last``."""
        # Every location named, so the day index narrows by location and day at once
        # instead of reading the tenant's whole history for the range.
        wanted = [location_id] if location_id is not None else sorted(self.locations)
        query = select(DocumentRow).where(
            DocumentRow.tenant_id == self.tenant_id,
            DocumentRow.location_id.in_(wanted),
            DocumentRow.business_day >= first,
            DocumentRow.business_day <= last,
        )
        # Sorted here: asked of the database, the order would draw it to the time index
        # and through every day the tenant has.
        rows = sorted(self.session.scalars(query), key=lambda r: (r.occurred_at, r.id))
        held = self._books_state([r.id for r in rows])
        days: dict[tuple[str, date, str], DayReconciliation] = {}

        def day_of(location: str, day: date, currency: str) -> DayReconciliation:
            key = (location, day, currency)
            if key not in days:
                days[key] = DayReconciliation(location, day, currency)
            return days[key]

        for row in rows:
            current = codec.decode(row.kind, row.body)
            source = self._measured(current)
            found = held.get(row.id)
            posted = self._posted_version(row, found)
            books = self._measured(posted) if posted is not None else {}
            day = day_of(row.location_id, row.business_day, row.currency)
            day.count += 1
            day.source = _merged(day.source, source)
            if posted is not None:
                books_day = business_day(posted.occurred_at, self._zone(row.location_id))
                target = day_of(row.location_id, books_day, posted.currency)
                target.books = _merged(target.books, books)
            gaps = _gaps(source, books)
            if gaps:
                reason = self._reason(row, found)
                day.documents.append(
                    DocumentDifference(row.id, row.kind, row.external_id, reason, gaps)
                )
        return [days[k] for k in sorted(days)]

    def _zone(self, location_id: str) -> ZoneInfo:
        return self.locations[location_id].zone

    def _measured(self, document: Document) -> dict[str, Decimal]:
        sums: dict[str, Decimal] = {}
        combine(sums, measures(document))
        return sums

    def _posted_version(self, row: DocumentRow, found: _Books | None) -> Document | None:
        if found is None or found.revision == 0:
            return None
        if found.revision == row.revision:
            return codec.decode(row.kind, row.body)
        return self.documents.at_revision(row.id, found.revision)

    def _books_state(self, ids: list[str]) -> dict[str, _Books]:
        """For each document: the latest revision fully in the books, and what holds back
        the rest (a posting not posted yet, or missing from the destination)."""
        covering: dict[str, list[tuple[int, PostingRow]]] = defaultdict(list)
        for start in range(0, len(ids), 500):
            query = (
                select(PostingDocumentRow.document_id, PostingDocumentRow.revision, PostingRow)
                .join(PostingRow, PostingRow.id == PostingDocumentRow.posting_id)
                .where(
                    PostingDocumentRow.tenant_id == self.tenant_id,
                    PostingDocumentRow.destination == self.destination,
                    PostingDocumentRow.document_id.in_(ids[start : start + 500]),
                )
            )
            for document_id, revision, posting in self.session.execute(query):
                covering[document_id].append((revision, posting))
        state: dict[str, _Books] = {}
        missing = self._missing_from_books(covering.values())
        for document_id, postings in covering.items():
            in_books, problem = 0, None
            for revision, posting in sorted(postings, key=lambda p: p[0]):
                if posting.state != PostingState.POSTED.value:
                    problem = _unposted(posting)
                    break
                if posting.key in missing:
                    problem = (
                        f"posting {posting.key} is marked posted, but the books have no "
                        "entry under that key"
                    )
                    break
                in_books = revision
            state[document_id] = _Books(in_books, problem)
        return state

    def _missing_from_books(self, covering: Iterable[list[tuple[int, PostingRow]]]) -> set[str]:
        """Keys of postings marked posted that the books do not have, read back in as few
        calls as the books allow."""
        if self.books is None:
            return set()
        keys = sorted(
            {
                p.key
                for postings in covering
                for _, p in postings
                if p.state == PostingState.POSTED.value
            }
        )
        size = max(1, self.books.capabilities.find_batch)
        found: set[str] = set()
        for start in range(0, len(keys), size):
            found.update(self.books.find(keys[start : start + size]))
        return set(keys) - found

    def _reason(self, row: DocumentRow, found: _Books | None) -> str:
        if found is not None and found.problem is not None:
            return found.problem
        if found is not None and 0 < found.revision < row.revision:
            return (
                f"edited at the source (revision {row.revision}); the books hold revision "
                f"{found.revision} until its adjustment posts"
            )
        queued = self.session.get(QueuedDocumentRow, row.id)
        if queued is not None and queued.problems:
            return "; ".join(p["message"] for p in queued.problems)
        if queued is not None and not queued.planned:
            return "waiting for its sync window" + (
                "" if queued.due_at is not None else " (manual: sync it to post)"
            )
        return "not in the books"


def _unposted(posting: PostingRow) -> str:
    error = (posting.last_error or {}).get("user_message") or (posting.last_error or {}).get(
        "message"
    )
    because = f": {error}" if error else ""
    return f"posting {posting.key} is {posting.state}{because}"


def _merged(into: dict[str, Decimal], more: dict[str, Decimal]) -> dict[str, Decimal]:
    for name, value in more.items():
        into[name] = into.get(name, Decimal(0)) + value
    return into
