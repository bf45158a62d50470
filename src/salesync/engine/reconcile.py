"""Reconciliation: per location and business day, what the source says against what the
books hold, with every document that differs named and the reason given.

The source side is the current version of every stored document, on its business day.
The books side is, for each document, what each of its postings wrote, counted on the
business day of the revision concerned: the revision it brought in, less the revision
before it for an adjustment on the same day, or less the revision a reversal took out on
the old day for an edit that moved the document. (A payout's entry is dated on the payout;
the documents it carries are still counted on their own days.) A posting counts only
once it is posted and (when a destination is given) only if the destination still finds
it by key. Both sides are measured alike (``domain.measures``), so a clean sync
reconciles to zero whatever mapping placed the amounts.
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
from salesync.store.documents import Documents
from salesync.store.tables import (
    DocumentRow,
    PostingDocumentRow,
    PostingReversalRow,
    PostingRow,
    QueuedDocumentRow,
    owned_by,
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
class _Link:
    """One posting of a document: it brings ``revision`` into the books, or (``reverses``)
    takes it back out on that revision's day."""

    revision: int
    posting: PostingRow
    reverses: bool = False


_Bucket = tuple[date, str]
"""A business day and currency."""


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
        """One reconciliation per location, business day and currency in ``first..last``.

        A document counts on the source side of its current day, and on the books side of
        every day a posting of it is dated on, so one moved to another day after it was
        posted is named on each day where the two differ, whether or not its new day is
        in the range.
        """
        # Every location named, so the day index narrows by location and day at once
        # instead of reading the tenant's whole history for the range.
        wanted = [location_id] if location_id is not None else sorted(self.locations)
        query = select(DocumentRow).where(
            DocumentRow.tenant_id == self.tenant_id,
            DocumentRow.location_id.in_(wanted),
            DocumentRow.business_day >= first,
            DocumentRow.business_day <= last,
        )
        rows = list(self.session.scalars(query))
        rows += self._moved_away(wanted, first, last, {r.id for r in rows})
        # Sorted here: asked of the database, the order would draw it to the time index
        # and through every day the tenant has.
        rows.sort(key=lambda r: (r.occurred_at, r.id))
        links = self._links([r.id for r in rows])
        missing = self._missing_from_books(links.values())
        days: dict[tuple[str, date, str], DayReconciliation] = {}

        for row in rows:
            current = codec.decode(row.kind, row.body)
            source = self._measured(current)
            mine = links.get(row.id, [])
            books = self._books(row, current, mine, missing)
            home = (row.business_day, row.currency)
            for bucket in sorted({home} | books.keys()):
                day, currency = bucket
                if not first <= day <= last:
                    continue
                key = (row.location_id, day, currency)
                result = days.get(key)
                if result is None:
                    result = days[key] = DayReconciliation(row.location_id, day, currency)
                ours = source if bucket == home else {}
                held = books.get(bucket, {})
                if bucket == home:
                    result.count += 1
                    result.source = _merged(result.source, ours)
                result.books = _merged(result.books, held)
                gaps = _gaps(ours, held)
                if gaps:
                    reason = self._reason(row, day, mine, missing)
                    result.documents.append(
                        DocumentDifference(row.id, row.kind, row.external_id, reason, gaps)
                    )
        return [days[k] for k in sorted(days)]

    def _zone(self, location_id: str) -> ZoneInfo:
        return self.locations[location_id].zone

    def _measured(self, document: Document) -> dict[str, Decimal]:
        sums: dict[str, Decimal] = {}
        combine(sums, measures(document))
        return sums

    def _moved_away(
        self, wanted: list[str], first: date, last: date, known: set[str]
    ) -> list[DocumentRow]:
        """Documents outside ``first..last`` that the books may still hold on one of its
        days: those reversed on such a day, and edits not planned yet (candidates only:
        ``_books`` says on which days the books hold them)."""
        reversed_here = select(PostingReversalRow.document_id).where(
            PostingReversalRow.tenant_id == self.tenant_id,
            PostingReversalRow.destination == self.destination,
            PostingReversalRow.location_id.in_(wanted),
            PostingReversalRow.business_day >= first,
            PostingReversalRow.business_day <= last,
        )
        # The unplanned part of the queue is the backlog, small once a backfill is planned;
        # an edit that moved a posted document has no reversal until it is planned.
        edits_waiting = select(QueuedDocumentRow.document_id).where(
            QueuedDocumentRow.tenant_id == self.tenant_id,
            QueuedDocumentRow.planned.is_(False),
            QueuedDocumentRow.revision > 1,
            QueuedDocumentRow.location_id.in_(wanted),
        )
        found_ids = set(self.session.scalars(reversed_here))
        found_ids.update(self.session.scalars(edits_waiting))
        ids = sorted(found_ids - known)
        found: list[DocumentRow] = []
        for start in range(0, len(ids), 500):
            found.extend(
                self.session.scalars(
                    select(DocumentRow).where(
                        DocumentRow.id.in_(ids[start : start + 500]),
                        owned_by(DocumentRow.tenant_id, self.tenant_id),
                    )
                )
            )
        return found

    def _links(self, ids: list[str]) -> dict[str, list[_Link]]:
        """Every posting of each document to the destination: those that bring a revision
        into the books, and the reversals that take one out."""
        links: dict[str, list[_Link]] = defaultdict(list)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            # Postings that bring a revision in, then reversals that take one out.
            for table, reverses in ((PostingDocumentRow, False), (PostingReversalRow, True)):
                query = (
                    select(table.document_id, table.revision, PostingRow)
                    .join(PostingRow, PostingRow.id == table.posting_id)
                    .where(
                        table.tenant_id == self.tenant_id,
                        table.destination == self.destination,
                        table.document_id.in_(chunk),
                    )
                )
                for document_id, revision, posting in self.session.execute(query):
                    links[document_id].append(_Link(revision, posting, reverses))
        return links

    def _books(
        self, row: DocumentRow, current: Document, links: list[_Link], missing: set[str]
    ) -> dict[_Bucket, dict[str, Decimal]]:
        """What the books hold of one document, per business day and currency: the sum of
        what each of its postings in the books wrote, on the day that posting is dated."""
        if not links:
            return {}
        zone = self._zone(row.location_id)
        versions: dict[int, Document | None] = {row.revision: current}
        held: dict[_Bucket, dict[str, Decimal]] = {}

        def add(revision: int, factor: int) -> None:
            if revision not in versions:
                versions[revision] = self.documents.at_revision(row.id, revision)
            version = versions[revision]
            if version is not None:
                bucket = (business_day(version.occurred_at, zone), version.currency)
                combine(held.setdefault(bucket, {}), measures(version), factor)

        reversed_revisions = {link.revision for link in links if link.reverses}
        before: int | None = None
        for link in sorted((k for k in links if not k.reverses), key=lambda k: k.revision):
            if _problem(link.posting, missing) is None:
                add(link.revision, 1)
                # An adjustment on the same day writes the difference from the revision
                # before it; one that moved the day leaves taking that out to its reversal.
                if before is not None and before not in reversed_revisions:
                    add(before, -1)
            before = link.revision
        for link in links:
            if link.reverses and _problem(link.posting, missing) is None:
                add(link.revision, -1)
        nonzero = {b: {n: v for n, v in sums.items() if v} for b, sums in held.items()}
        return {b: sums for b, sums in nonzero.items() if sums}

    def _missing_from_books(self, links: Iterable[list[_Link]]) -> set[str]:
        """Keys of postings marked posted that the books do not have, read back in as few
        calls as the books allow."""
        if self.books is None:
            return set()
        keys = sorted(
            {
                link.posting.key
                for postings in links
                for link in postings
                if link.posting.state == PostingState.POSTED.value
            }
        )
        size = max(1, self.books.capabilities.find_batch)
        found: set[str] = set()
        for start in range(0, len(keys), size):
            found.update(self.books.find(keys[start : start + size]))
        return set(keys) - found

    def _reason(self, row: DocumentRow, day: date, links: list[_Link], missing: set[str]) -> str:
        problems = [
            (link.posting, problem)
            for link in sorted(links, key=lambda k: k.posting.id)
            if (problem := _problem(link.posting, missing)) is not None
        ]
        if problems:
            # The posting dated on the day explains that day best.
            dated = [p for posting, p in problems if posting.body.get("date") == day.isoformat()]
            return (dated or [p for _, p in problems])[0]
        held = max((k.revision for k in links if not k.reverses), default=0)
        if 0 < held < row.revision:
            moved = "" if day == row.business_day else f", now on {row.business_day}"
            return (
                f"edited at the source (revision {row.revision}{moved}); the books hold "
                f"revision {held} until its adjustment posts"
            )
        queued = self.session.get(QueuedDocumentRow, row.id)
        if queued is not None and queued.problems:
            return "; ".join(p["message"] for p in queued.problems)
        if queued is not None and not queued.planned:
            return "waiting for its sync window" + (
                "" if queued.due_at is not None else " (manual: sync it to post)"
            )
        return "not in the books"


def _problem(posting: PostingRow, missing: set[str]) -> str | None:
    """Why ``posting`` is not in the books, or None when it is."""
    if posting.state != PostingState.POSTED.value:
        return _unposted(posting)
    if posting.key in missing:
        lost = "is marked posted, but the books have no entry under that key"
        return f"posting {posting.key} {lost}"
    return None


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
