"""The outbox: every write to the books exists first as a posting.

Before anything is written to a destination, a posting row with a deterministic key exists
(unique per tenant and destination), together with the documents it covers (unique per
destination, so no document reaches the same books twice, whatever the posting mode).
``engine.sender`` sends them: the key travels to the destination, and after any outcome
that might have written the destination is read back by key before the write is tried
again.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from pydantic import TypeAdapter
from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from salesync.domain.journal import JournalEntry
from salesync.store.repositories import TenantScoped
from salesync.store.tables import PostingDocumentRow, PostingRow

ENTRY = TypeAdapter(JournalEntry)


class PostingState(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    POSTED = "posted"
    RETRYING = "retrying"
    """Failed transiently; tried again at ``next_attempt_at``."""
    FAILED = "failed"
    """Out of retries, or a bug: needs a developer, then a replay."""
    HELD = "held"
    """Needs a person: a mapping, a reconnect, an approval. Released after the fix."""


@dataclass(frozen=True, slots=True)
class NewPosting:
    """A posting to create: the entry it writes to which books, and the documents (at
    which revisions, 1 when not given) it brings into them."""

    destination: str
    key: str
    mode: str
    location_id: str
    entry: JournalEntry
    documents: tuple[str, ...]
    kind: str = "posting"
    revisions: AbcMapping[str, int] | None = None
    mapping_version: int | None = None


_POSTINGS = cast(Table, PostingRow.__table__)
_NEW_POSTINGS = insert(_POSTINGS).returning(
    _POSTINGS.c.destination, _POSTINGS.c.key, _POSTINGS.c.id
)


@dataclass(frozen=True, slots=True)
class Coverage:
    revision: int
    posting_id: int
    mapping_version: int | None


class Outbox(TenantScoped):
    """Creates postings. Sending is the ``Sender``'s job.

    An instance lives for one transaction: keys ``look_up`` found free stay free until
    this instance takes them, so planning a backfilled day asks about its keys once, not
    once per posting. (Another writer taking one in between fails on the unique key.)
    """

    def __init__(self, session: Session, tenant_id: str) -> None:
        super().__init__(session, tenant_id)
        self._free: set[tuple[str, str]] = set()

    def look_up(self, destination: str, keys: Iterable[str]) -> None:
        """Learn in bulk which of ``keys`` no posting to ``destination`` has yet."""
        wanted = sorted(set(keys))
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            query = select(PostingRow.key).where(
                PostingRow.tenant_id == self.tenant_id,
                PostingRow.destination == destination,
                PostingRow.key.in_(chunk),
            )
            taken = set(self.session.scalars(query))
            self._free.update((destination, k) for k in chunk if k not in taken)

    def posting_id(self, destination: str, key: str) -> int | None:
        """The posting to ``destination`` under ``key``, if there is one."""
        if (destination, key) in self._free:
            return None
        return self.session.scalar(
            select(PostingRow.id).where(
                PostingRow.tenant_id == self.tenant_id,
                PostingRow.destination == destination,
                PostingRow.key == key,
            )
        )

    def enqueue(
        self,
        *,
        destination: str,
        key: str,
        mode: str,
        location_id: str,
        entry: JournalEntry,
        documents: tuple[str, ...],
        now: datetime,
        kind: str = "posting",
        revisions: AbcMapping[str, int] | None = None,
        mapping_version: int | None = None,
    ) -> int:
        """Record the posting and the documents it covers; returns its id.

        ``revisions`` says which revision of each document the posting brings into the
        books (1 when not given). The same key again returns the existing posting:
        planning twice posts nothing twice.
        """
        posting = NewPosting(
            destination, key, mode, location_id, entry, documents, kind, revisions, mapping_version
        )
        return self.enqueue_all([posting], now)[0]

    def enqueue_all(self, postings: list[NewPosting], now: datetime) -> list[int]:
        """``enqueue`` for many postings at once: their ids, in order.

        A key that has a posting already (or comes again in ``postings``) gets that
        posting, and the documents given with it are not linked a second time. The new
        postings go in with one statement, their document links with one more."""
        for posting in postings:
            self._own(posting.entry.tenant_id, f"posting {posting.key}")
        unknown: dict[str, list[str]] = {}
        for p in postings:
            if (p.destination, p.key) not in self._free:
                unknown.setdefault(p.destination, []).append(p.key)
        for destination, keys in unknown.items():
            self.look_up(destination, keys)
        ids: dict[tuple[str, str], int] = {}
        new: dict[tuple[str, str], NewPosting] = {}
        for p in postings:
            wanted = (p.destination, p.key)
            if wanted in ids or wanted in new:
                continue
            existing = self.posting_id(p.destination, p.key)
            if existing is None:
                new[wanted] = p
            else:
                ids[wanted] = existing
        rows = [
            {
                "tenant_id": self.tenant_id,
                "location_id": p.location_id,
                "destination": p.destination,
                "key": p.key,
                "mode": p.mode,
                "kind": p.kind,
                "state": PostingState.PENDING.value,
                "body": ENTRY.dump_python(p.entry, mode="json"),
                "attempts": 0,
                "next_attempt_at": now,
                "mapping_version": p.mapping_version,
            }
            for p in new.values()
        ]
        if rows:
            # Another writer that took one of these keys meanwhile fails the statement on
            # the unique key, and with it this transaction: nothing is planned twice. The
            # statement is compiled once and sent as multi-row inserts ("insertmanyvalues").
            inserted = self.session.execute(_NEW_POSTINGS, rows)
            ids.update(((destination, key), i) for destination, key, i in inserted)
        self._free -= new.keys()
        # One executemany: a daily summary of a backfilled day covers thousands of
        # documents, and nothing reads these rows back as objects within the transaction.
        links = [
            {
                "tenant_id": self.tenant_id,
                "destination": p.destination,
                "document_id": document_id,
                "revision": (p.revisions or {}).get(document_id, 1),
                "posting_id": ids[wanted],
            }
            for wanted, p in new.items()
            for document_id in p.documents
        ]
        if links:
            self.session.execute(insert(PostingDocumentRow), links)
        return [ids[(p.destination, p.key)] for p in postings]

    def covered(self, destination: str, document_ids: list[str]) -> set[str]:
        """Which of ``document_ids`` a posting to ``destination`` already covers."""
        if not document_ids:
            return set()
        query = select(PostingDocumentRow.document_id).where(
            PostingDocumentRow.tenant_id == self.tenant_id,
            PostingDocumentRow.destination == destination,
            PostingDocumentRow.document_id.in_(document_ids),
        )
        return set(self.session.scalars(query))

    def coverage(self, destination: str, document_ids: Iterable[str]) -> dict[str, Coverage]:
        """For each of ``document_ids`` already in a posting to ``destination``: the latest
        revision in the books, and the posting (and mapping version) that brought it."""
        ids = list(document_ids)
        found: dict[str, Coverage] = {}
        for start in range(0, len(ids), 500):
            query = (
                select(
                    PostingDocumentRow.document_id,
                    PostingDocumentRow.revision,
                    PostingDocumentRow.posting_id,
                    PostingRow.mapping_version,
                )
                .join(PostingRow, PostingRow.id == PostingDocumentRow.posting_id)
                .where(
                    PostingDocumentRow.tenant_id == self.tenant_id,
                    PostingDocumentRow.destination == destination,
                    PostingDocumentRow.document_id.in_(ids[start : start + 500]),
                )
            )
            for document_id, revision, posting_id, version in self.session.execute(query):
                known = found.get(document_id)
                if known is None or known.revision < revision:
                    found[document_id] = Coverage(revision, posting_id, version)
        return found

    def release(self, posting_id: int, now: datetime) -> None:
        """Send a held or failed posting again (after a fix)."""
        row = self.session.get(PostingRow, posting_id)
        if row is None or row.tenant_id != self.tenant_id:
            raise KeyError(f"no posting {posting_id} for tenant {self.tenant_id}")
        if row.state not in (PostingState.HELD.value, PostingState.FAILED.value):
            raise ValueError(f"posting {posting_id} is {row.state}; only held or failed release")
        self._due_now(row, now)

    def retry_now(self, posting_id: int, now: datetime) -> bool:
        """Make a held, failed or retrying posting due now; False (and nothing changed)
        for one that is posted, pending, being sent, or not the tenant's."""
        row = self.session.get(PostingRow, posting_id)
        if row is None or row.tenant_id != self.tenant_id:
            return False
        if row.state == PostingState.RETRYING.value:
            row.next_attempt_at = now
            self.session.flush()
            return True
        if row.state in (PostingState.HELD.value, PostingState.FAILED.value):
            self._due_now(row, now)
            return True
        return False

    def _due_now(self, row: PostingRow, now: datetime) -> None:
        """Due now, with a new budget of retries. The attempts made stay counted: any of
        them may have written (a lost response before a hold), so the next attempt reads
        the books back first."""
        row.state = PostingState.PENDING.value
        row.next_attempt_at = now
        row.budget_from = row.attempts
        self.session.flush()

    def counts(self) -> dict[str, int]:
        rows = self.session.scalars(
            select(PostingRow.state).where(PostingRow.tenant_id == self.tenant_id)
        )
        result: dict[str, int] = {}
        for state in rows:
            result[state] = result.get(state, 0) + 1
        return result
