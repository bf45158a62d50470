"""The outbox: exactly once into the books.

Before anything is written to a destination, a posting row with a deterministic key exists
(unique per tenant and destination), together with the documents it covers (unique per
destination, so no document reaches the same books twice, whatever the posting mode).
Sending is claimed with a lease; the key travels to the destination; after any outcome
that might have written (a timeout, a lost response, a crash mid-call) the destination is
read back by key before the write is tried again. Retries are scheduled in the database,
never by a sleeping worker.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable, Iterable
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import TypeAdapter
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from salesync.domain.errors import ErrorKind, SyncError, TransientError
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


class Destination(Protocol):
    """One tenant's books somewhere. ``post`` must carry ``key`` to the destination so
    that ``find`` can later tell whether a write happened."""

    @property
    def name(self) -> str: ...

    def post(self, key: str, entry: JournalEntry) -> str:
        """Write the entry; returns the destination's reference for it."""
        ...

    def find(self, key: str) -> str | None:
        """The reference of the entry written under ``key``, or None if there is none."""
        ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter, bounded by a budget of attempts."""

    max_attempts: int = 8
    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)
    lease: timedelta = timedelta(minutes=5)
    """How long a sender owns a posting; a crashed sender's posting is retaken after it."""

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> timedelta:
        ceiling = min(self.cap, self.base * (1 << max(attempt - 1, 0)))
        wait = ceiling * (0.5 + rng.random() / 2)
        if retry_after is not None:
            wait = max(wait, timedelta(seconds=retry_after))
        return wait


@dataclass(frozen=True, slots=True)
class Coverage:
    revision: int
    posting_id: int
    mapping_version: int | None


class Outbox(TenantScoped):
    """Creates postings. Sending is the ``Sender``'s job."""

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
        self._own(entry.tenant_id, f"posting {key}")
        existing = self.session.scalar(
            select(PostingRow.id).where(
                PostingRow.tenant_id == self.tenant_id,
                PostingRow.destination == destination,
                PostingRow.key == key,
            )
        )
        if existing is not None:
            return existing
        row = PostingRow(
            tenant_id=self.tenant_id,
            location_id=location_id,
            destination=destination,
            key=key,
            mode=mode,
            kind=kind,
            state=PostingState.PENDING.value,
            body=ENTRY.dump_python(entry, mode="json"),
            attempts=0,
            next_attempt_at=now,
            mapping_version=mapping_version,
        )
        self.session.add(row)
        self.session.flush()
        self.session.add_all(
            PostingDocumentRow(
                tenant_id=self.tenant_id,
                destination=destination,
                document_id=document_id,
                revision=(revisions or {}).get(document_id, 1),
                posting_id=row.id,
            )
            for document_id in documents
        )
        self.session.flush()
        return row.id

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
        row.state = PostingState.PENDING.value
        row.next_attempt_at = now
        row.attempts = 0 if row.remote_ref is None else row.attempts
        self.session.flush()

    def counts(self) -> dict[str, int]:
        rows = self.session.scalars(
            select(PostingRow.state).where(PostingRow.tenant_id == self.tenant_id)
        )
        result: dict[str, int] = {}
        for state in rows:
            result[state] = result.get(state, 0) + 1
        return result


@dataclass(slots=True)
class SendReport:
    posted: int = 0
    found_on_read_back: int = 0
    retrying: int = 0
    failed: int = 0
    held: int = 0
    errors: list[SyncError] = field(default_factory=list)


_HOLD = {ErrorKind.AUTH, ErrorKind.MAPPING, ErrorKind.VALIDATION, ErrorKind.CONFLICT}


class Sender:
    """Sends due postings, each in its own short transactions."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        destinations: Callable[[str, str], Destination],
        clock: Callable[[], datetime],
        *,
        retry: RetryPolicy | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.factory = factory
        self.destinations = destinations
        self.clock = clock
        self.retry = retry or RetryPolicy()
        self.rng = rng or random.Random()

    def due(self, tenant_id: str | None = None, limit: int = 200) -> list[int]:
        now = self.clock()
        ready = (PostingState.PENDING.value, PostingState.RETRYING.value)
        query = select(PostingRow.id).where(
            or_(
                PostingRow.state.in_(ready) & (PostingRow.next_attempt_at <= now),
                (PostingRow.state == PostingState.SENDING.value) & (PostingRow.lease_until < now),
            )
        )
        if tenant_id is not None:
            query = query.where(PostingRow.tenant_id == tenant_id)
        with self.factory() as session:
            return list(session.scalars(query.order_by(PostingRow.id).limit(limit)))

    def send_due(self, tenant_id: str | None = None, limit: int = 200) -> SendReport:
        report = SendReport()
        for posting_id in self.due(tenant_id, limit):
            self.send(posting_id, report)
        return report

    def _claim(self, posting_id: int) -> tuple[str, str, dict[str, Any], int, str] | None:
        """Take the posting for one attempt; None if someone else has it or it is done."""
        now = self.clock()
        with self.factory() as session, session.begin():
            row = session.get(PostingRow, posting_id)
            if row is None:
                return None
            was_sending = row.state == PostingState.SENDING.value
            claimable = row.state in (PostingState.PENDING.value, PostingState.RETRYING.value) or (
                was_sending and row.lease_until is not None and row.lease_until < now
            )
            if not claimable:
                return None
            attempt = row.attempts + 1
            claimed = (row.destination, row.key, row.body, attempt, row.tenant_id)
            result = session.execute(
                update(PostingRow)
                .where(PostingRow.id == posting_id, PostingRow.state == row.state)
                .where(PostingRow.attempts == row.attempts)
                .values(
                    state=PostingState.SENDING.value,
                    attempts=attempt,
                    lease_until=now + self.retry.lease,
                )
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0) != 1:
                return None
            return claimed

    def send(self, posting_id: int, report: SendReport | None = None) -> PostingState | None:
        """One attempt at one posting; returns its state afterwards (None if not taken)."""
        report = report if report is not None else SendReport()
        claimed = self._claim(posting_id)
        if claimed is None:
            return None
        destination_name, key, body, attempt, tenant_id = claimed
        destination = self.destinations(tenant_id, destination_name)
        try:
            # Any earlier attempt may have written before it failed: look before writing.
            ref = destination.find(key) if attempt > 1 else None
            if ref is not None:
                report.found_on_read_back += 1
            else:
                ref = destination.post(key, ENTRY.validate_python(body))
        except SyncError as exc:
            report.errors.append(exc)
            return self._failed(posting_id, attempt, exc, report)
        except Exception as exc:  # anything unforeseen is a bug; the posting stays for replay
            bug = SyncError(f"{type(exc).__name__}: {exc}", operation="post", code="unexpected")
            report.errors.append(bug)
            return self._failed(posting_id, attempt, bug, report)
        self._finish(posting_id, PostingState.POSTED, remote_ref=ref, posted_at=self.clock())
        report.posted += 1
        return PostingState.POSTED

    def _failed(
        self, posting_id: int, attempt: int, exc: SyncError, report: SendReport
    ) -> PostingState:
        error = exc.context()
        if exc.kind is ErrorKind.TRANSIENT and attempt < self.retry.max_attempts:
            retry_after = exc.retry_after if isinstance(exc, TransientError) else None
            wait = self.retry.delay(attempt, retry_after, self.rng)
            self._finish(
                posting_id,
                PostingState.RETRYING,
                last_error=error,
                next_attempt_at=self.clock() + wait,
            )
            report.retrying += 1
            return PostingState.RETRYING
        if exc.kind in _HOLD:
            self._finish(posting_id, PostingState.HELD, last_error=error)
            report.held += 1
            return PostingState.HELD
        self._finish(posting_id, PostingState.FAILED, last_error=error)
        report.failed += 1
        return PostingState.FAILED

    def _finish(self, posting_id: int, state: PostingState, **values: Any) -> None:
        with self.factory() as session, session.begin():
            session.execute(
                update(PostingRow)
                .where(PostingRow.id == posting_id, PostingRow.state == PostingState.SENDING.value)
                .values(state=state.value, lease_until=None, **values)
            )
