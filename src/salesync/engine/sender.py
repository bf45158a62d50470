"""Sending postings: exactly once into the books.

A sender claims due postings with a lease, hands each one's key to its books, and records
what came of the call. After any outcome that might have written (a timeout, a lost
response, a crash mid-call) the books are read back by key before the write is tried
again. Retries are scheduled in the database by error kind, never by a sleeping worker.
The postings themselves are made by ``engine.outbox``.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import structlog
from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from salesync.connectors.capture import Exchange, capturing
from salesync.connectors.destination import Books, Posting
from salesync.domain.documents import Payout, Refund, Sale
from salesync.domain.errors import BugError, ErrorKind, SyncError, TransientError
from salesync.domain.planning import PostingMode
from salesync.engine.incidents import Failure, IncidentLog
from salesync.engine.intents import customer_intents
from salesync.engine.outbox import ENTRY, PostingState
from salesync.engine.recovery import ReadBack
from salesync.rules.customers import CustomerIntent
from salesync.store.documents import Documents
from salesync.store.failures import unforeseen
from salesync.store.tables import PostingDocumentRow, PostingReversalRow, PostingRow, owned_by

log = structlog.get_logger("salesync.outbox")
_POSTINGS = cast(Table, PostingRow.__table__)


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


@dataclass(slots=True)
class SendReport:
    posted: int = 0
    found_on_read_back: int = 0
    retrying: int = 0
    failed: int = 0
    held: int = 0
    errors: list[SyncError] = field(default_factory=list)


_HOLD = {ErrorKind.AUTH, ErrorKind.MAPPING, ErrorKind.VALIDATION, ErrorKind.CONFLICT}


@dataclass(frozen=True, slots=True)
class _Claimed:
    posting_id: int
    tenant_id: str
    destination: str
    key: str
    mode: str
    kind: str
    body: dict[str, Any]
    attempt: int
    mapping_version: int | None = None
    budget_from: int = 0
    """The attempts made before the posting was last released."""

    @property
    def tries(self) -> int:
        """Attempts since the posting was last released: what the retry budget counts."""
        return self.attempt - self.budget_from


class Sender:
    """Sends due postings in batches as large as each destination takes.

    A batch's postings are claimed with a lease in one short transaction; a batch is one
    call to the books; the postings it landed are then recorded in one transaction, and
    each failure on its own with its incident. Postings that were tried before are read
    back by key first, all of a batch in one call; while a read-back window is open
    (after a restore from backup, ``engine.recovery``), every posting is.
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        destinations: Callable[[str, str], Books],
        clock: Callable[[], datetime],
        *,
        retry: RetryPolicy | None = None,
        rng: random.Random | None = None,
        incidents: IncidentLog | None = None,
    ) -> None:
        """``incidents`` records each failure (and its ticket) in the transaction that
        records the posting's new state."""
        self.factory = factory
        self.destinations = destinations
        self.clock = clock
        self.retry = retry or RetryPolicy()
        self.rng = rng or random.Random()
        self.incidents = incidents or IncidentLog(clock)

    def _due_rows(self, tenant_id: str | None, limit: int) -> list[tuple[int, str, str]]:
        now = self.clock()
        ready = (PostingState.PENDING.value, PostingState.RETRYING.value)
        query = select(PostingRow.id, PostingRow.tenant_id, PostingRow.destination).where(
            or_(
                PostingRow.state.in_(ready) & (PostingRow.next_attempt_at <= now),
                (PostingRow.state == PostingState.SENDING.value) & (PostingRow.lease_until < now),
            )
        )
        if tenant_id is not None:
            # By state and time: the few postings due, not the tenant's every posting.
            query = query.where(owned_by(PostingRow.tenant_id, tenant_id))
        with self.factory() as session:
            rows = session.execute(query.order_by(PostingRow.id).limit(limit))
            return [(r[0], r[1], r[2]) for r in rows]

    def due(self, tenant_id: str | None = None, limit: int = 200) -> list[int]:
        return [posting_id for posting_id, _, _ in self._due_rows(tenant_id, limit)]

    def send_due(self, tenant_id: str | None = None, limit: int = 200) -> SendReport:
        """Send what is due, grouped by books, in calls of each books' batch size."""
        report = SendReport()
        groups: dict[tuple[str, str], list[int]] = {}
        rows = self._due_rows(tenant_id, limit)
        for posting_id, tenant, destination in rows:
            groups.setdefault((tenant, destination), []).append(posting_id)
        for (tenant, destination), ids in groups.items():
            books = self._books(tenant, destination, ids, report)
            if books is None:
                continue
            try:
                for batch in self._batches(books, ids, more_due=len(rows) == limit):
                    self._send_batch(books, batch, report)
            finally:
                books.close()
        return report

    def _batches(self, books: Books, ids: list[int], *, more_due: bool) -> list[list[int]]:
        """``ids`` in calls of the books' batch size; when they need more than one call
        and the books group postings (``grouped``), the postings of each batch group
        together (in id order within a group), so each call spends the calls of as few
        kinds of object as it can.

        When ``more_due`` (the pass took as many as it may), a last, part-filled call is
        left to the next pass, which takes those postings first and fills it."""
        size = max(1, books.capabilities.batch_size)
        if len(ids) > size:
            if books.capabilities.grouped:
                groups = self._groups(books, ids)
                ids = sorted(ids, key=lambda posting_id: groups.get(posting_id, ""))
            if more_due:
                ids = ids[: len(ids) - len(ids) % size]
        return [ids[start : start + size] for start in range(0, len(ids), size)]

    def _groups(self, books: Books, ids: list[int]) -> dict[int, str]:
        """Each posting's batch group, read without claiming it. Grouping only saves
        calls: if it fails, the postings go in id order and the failure is logged."""
        try:
            with self.factory() as session:
                rows = session.execute(
                    select(PostingRow).where(PostingRow.id.in_(ids)).order_by(PostingRow.id)
                ).scalars()
                unclaimed = [
                    _Claimed(
                        r.id, r.tenant_id, r.destination, r.key, r.mode, r.kind, r.body,
                        r.attempts + 1, r.mapping_version, r.budget_from,
                    )
                    for r in rows
                ]  # fmt: skip
            postings = self._postings(books, unclaimed)
            return {
                c.posting_id: books.batch_group(p) for c, p in zip(unclaimed, postings, strict=True)
            }
        except Exception as exc:  # grouping only saves calls (see the docstring)
            log.warning("batch_groups_failed", destination=books.name, error=repr(exc))
            return {}

    def send(self, posting_id: int, report: SendReport | None = None) -> PostingState | None:
        """One attempt at one posting; returns its state afterwards (None if not taken)."""
        report = report if report is not None else SendReport()
        with self.factory() as session:
            row = session.get(PostingRow, posting_id)
            if row is None:
                return None
            tenant, destination = row.tenant_id, row.destination
        books = self._books(tenant, destination, [posting_id], report)
        if books is None:
            return self._state(posting_id)
        try:
            self._send_batch(books, [posting_id], report)
        finally:
            books.close()
        return self._state(posting_id)

    def _state(self, posting_id: int) -> PostingState | None:
        with self.factory() as session:
            state = session.scalar(select(PostingRow.state).where(PostingRow.id == posting_id))
        return None if state is None else PostingState(state)

    def _books(
        self, tenant_id: str, destination: str, ids: list[int], report: SendReport
    ) -> Books | None:
        """The books to send to; if they cannot be opened, the postings fail with why."""
        with capturing() as exchanges:
            try:
                return self.destinations(tenant_id, destination)
            except SyncError as exc:
                error = exc
            except Exception as exc:  # a broken connector is a bug; the postings stay for replay
                error = unforeseen(exc, "connect")
        report.errors.append(error)
        for claimed in self._claim_all(ids):
            self._failed(claimed, error, report, exchanges)
        return None

    def _claim_all(self, ids: list[int]) -> list[_Claimed]:
        """Take the postings for one attempt each, in ``ids`` order, in one statement;
        those someone else has or that are done are left out.

        A posting is claimable when it waits (pending or retrying) or when the worker
        sending it died (its lease has lapsed). On PostgreSQL a posting another worker is
        claiming this instant is skipped, not waited for (``FOR UPDATE SKIP LOCKED`` in the
        subquery; SQLite has one writer at a time); the lease, not the lock, is what hands
        over the posting of a worker that died after claiming it."""
        if not ids:
            return []
        now = self.clock()
        claimable = or_(
            PostingRow.state.in_((PostingState.PENDING.value, PostingState.RETRYING.value)),
            (PostingRow.state == PostingState.SENDING.value) & (PostingRow.lease_until < now),
        )
        free = (
            select(PostingRow.id)
            .where(PostingRow.id.in_(ids), claimable)
            .with_for_update(skip_locked=True)
        )
        claim = (
            update(PostingRow)
            .where(PostingRow.id.in_(free), claimable)
            .values(
                state=PostingState.SENDING.value,
                attempts=PostingRow.attempts + 1,
                lease_until=now + self.retry.lease,
            )
            .returning(
                PostingRow.id,
                PostingRow.tenant_id,
                PostingRow.destination,
                PostingRow.key,
                PostingRow.mode,
                PostingRow.kind,
                PostingRow.body,
                PostingRow.attempts,
                PostingRow.mapping_version,
                PostingRow.budget_from,
            )
            .execution_options(synchronize_session=False)
        )
        with self.factory() as session, session.begin():
            claimed = {row[0]: _Claimed(*row) for row in session.execute(claim)}
        return [claimed[i] for i in ids if i in claimed]

    def _send_batch(self, books: Books, ids: list[int], report: SendReport) -> None:
        claimed = self._claim_all(ids)
        if not claimed:
            return
        with capturing() as exchanges, self._kept(claimed):
            try:
                # Any earlier attempt may have written before it failed: look before writing.
                # After a restore from backup, so may an attempt the database forgot.
                retried = (
                    claimed
                    if ReadBack(self.factory, self.clock).active()
                    else [c for c in claimed if c.attempt > 1]
                )
                found = self._find(books, [c.key for c in retried]) if retried else {}
                back = [(c, found[c.key]) for c in retried if c.key in found]
                self._posted_all(back)
                report.found_on_read_back += len(back)
                fresh = [c for c in claimed if c.key not in found]
                written = books.post(self._postings(books, fresh)) if fresh else []
                if len(written) != len(fresh) or any(
                    w.key != c.key for w, c in zip(written, fresh, strict=False)
                ):
                    raise BugError(
                        f"{books.name} answered {len(written)} results for {len(fresh)} postings",
                        operation="post",
                        code="batch_mismatch",
                    )
            except SyncError as exc:
                self._whole_call_failed(claimed, exc, report, exchanges)
                return
            except Exception as exc:  # anything unforeseen is a bug; the postings stay for replay
                self._whole_call_failed(claimed, unforeseen(exc, "post"), report, exchanges)
                return
        results = list(zip(fresh, written, strict=True))
        landed = [(c, w.ref) for c, w in results if w.ref is not None]
        self._posted_all(landed)
        report.posted += len(landed)
        for c, w in results:
            if w.ref is None and w.error is not None:
                report.errors.append(w.error)
                self._failed(c, w.error, report, exchanges)

    @contextmanager
    def _kept(self, claimed: list[_Claimed]) -> Iterator[None]:
        """Renew the claimed postings' lease while their call is out.

        Only a worker that died lets its lease lapse: a posting whose call is merely slow
        (a provider taking its time, a busy machine) is never taken over, read back before
        its write landed, and written a second time. The lease is renewed every third of
        its length, and only for this claim (its state and attempt)."""
        stop = threading.Event()
        every = self.retry.lease.total_seconds() / 3

        def renew() -> None:
            while not stop.wait(every):
                try:
                    with self.factory() as session, session.begin():
                        until = self.clock() + self.retry.lease
                        for c in claimed:
                            session.execute(
                                update(PostingRow)
                                .where(
                                    PostingRow.id == c.posting_id,
                                    PostingRow.state == PostingState.SENDING.value,
                                    PostingRow.attempts == c.attempt,
                                )
                                .values(lease_until=until)
                                .execution_options(synchronize_session=False)
                            )
                except Exception as exc:  # the next renewal tries again
                    log.warning("lease_not_renewed", reason=str(exc))

        keeper = threading.Thread(target=renew, name="salesync-lease", daemon=True)
        keeper.start()
        try:
            yield
        finally:
            stop.set()
            keeper.join()

    def _find(self, books: Books, keys: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        size = max(1, books.capabilities.find_batch)
        for start in range(0, len(keys), size):
            found.update(books.find(keys[start : start + size]))
        return found

    def _whole_call_failed(
        self,
        claimed: list[_Claimed],
        exc: SyncError,
        report: SendReport,
        exchanges: list[Exchange],
    ) -> None:
        report.errors.append(exc)
        for c in claimed:
            if self._state(c.posting_id) is PostingState.SENDING:
                self._failed(c, exc, report, exchanges)

    def _postings(self, books: Books, claimed: list[_Claimed]) -> list[Posting]:
        documents: dict[int, tuple[Sale | Refund | Payout, ...]] = {}
        customers: dict[int, dict[str, CustomerIntent]] = {}
        if books.capabilities.itemized and claimed:
            documents, customers = self._documents(claimed)
        return [
            Posting(
                key=c.key,
                mode=PostingMode(c.mode),
                entry=ENTRY.validate_python({**c.body, "key": c.key}),
                documents=documents.get(c.posting_id, ()),
                kind=c.kind,
                attempt=c.attempt,
                customers=customers.get(c.posting_id, {}),
            )
            for c in claimed
        ]

    def _documents(
        self, claimed: list[_Claimed]
    ) -> tuple[dict[int, tuple[Sale | Refund | Payout, ...]], dict[int, dict[str, CustomerIntent]]]:
        """The documents each posting covers, at the revision it brings into the books, and
        the customer each of its sales asks for under the posting's mapping version."""
        out: dict[int, tuple[Sale | Refund | Payout, ...]] = {}
        intents: dict[int, dict[str, CustomerIntent]] = {}
        with self.factory() as session:
            for tenant, group in _by_tenant(claimed).items():
                store = Documents(session, tenant)
                rows = session.execute(
                    select(
                        PostingDocumentRow.posting_id,
                        PostingDocumentRow.document_id,
                        PostingDocumentRow.revision,
                    )
                    .where(PostingDocumentRow.posting_id.in_([c.posting_id for c in group]))
                    .order_by(PostingDocumentRow.posting_id, PostingDocumentRow.document_id)
                )
                for posting_id, document_id, revision in rows:
                    document = store.at_revision(document_id, revision)
                    if isinstance(document, Sale | Refund | Payout):
                        out[posting_id] = (*out.get(posting_id, ()), document)
                versions = {c.posting_id: c.mapping_version for c in group}
                intents |= customer_intents(session, tenant, versions, out)
        return out, intents

    def _posted_all(self, landed: list[tuple[_Claimed, str]]) -> None:
        """Record postings as in the books under their remote refs, all in one
        transaction; those tried before heal their earlier transient incidents.

        Only a posting still sending is moved: one that another worker, taking over a
        lapsed lease, finished meanwhile keeps that outcome. First attempts, nearly all of
        them, go in one statement."""
        if not landed:
            return
        now = self.clock()
        land = (
            update(_POSTINGS)
            .where(
                _POSTINGS.c.id == bindparam("posting_id"),
                _POSTINGS.c.state == PostingState.SENDING.value,
            )
            .values(
                state=PostingState.POSTED.value,
                lease_until=None,
                remote_ref=bindparam("ref"),
                posted_at=now,
            )
        )
        first = [{"posting_id": c.posting_id, "ref": ref} for c, ref in landed if c.attempt == 1]
        healed: dict[str, list[str]] = {}
        with self.factory() as session, session.begin():
            if first:
                session.connection().execute(land, first)
            for c, ref in landed:
                if c.attempt > 1:
                    result = session.connection().execute(
                        land, {"posting_id": c.posting_id, "ref": ref}
                    )
                    if getattr(result, "rowcount", 0) == 1:
                        healed.setdefault(c.tenant_id, []).append(f"posting:{c.posting_id}")
            for tenant, subjects in healed.items():
                self.incidents.healed(session, tenant, subjects)

    def _failed(
        self,
        c: _Claimed,
        exc: SyncError,
        report: SendReport,
        exchanges: list[Exchange] | None = None,
    ) -> PostingState:
        error = exc.context()
        http = tuple(exchanges or ())
        if exc.kind is ErrorKind.TRANSIENT and c.tries < self.retry.max_attempts:
            retry_after = exc.retry_after if isinstance(exc, TransientError) else None
            wait = self.retry.delay(c.tries, retry_after, self.rng)
            self._finish(
                c,
                PostingState.RETRYING,
                failure=(exc, http, True),
                last_error=error,
                next_attempt_at=self.clock() + wait,
            )
            report.retrying += 1
            return PostingState.RETRYING
        if exc.kind in _HOLD:
            self._finish(c, PostingState.HELD, failure=(exc, http, False), last_error=error)
            report.held += 1
            return PostingState.HELD
        self._finish(c, PostingState.FAILED, failure=(exc, http, False), last_error=error)
        report.failed += 1
        return PostingState.FAILED

    def _finish(
        self,
        c: _Claimed,
        state: PostingState,
        *,
        failure: tuple[SyncError, tuple[Exchange, ...], bool] | None = None,
        **values: Any,
    ) -> None:
        """Record the attempt's outcome; a failure's incident (and ticket) in the same
        transaction, and a success heals the posting's earlier transient incidents."""
        with self.factory() as session, session.begin():
            result = session.execute(
                update(PostingRow)
                .where(
                    PostingRow.id == c.posting_id,
                    PostingRow.state == PostingState.SENDING.value,
                    # A worker whose lease lapsed while its call was out records nothing:
                    # the posting is another attempt's now, perhaps writing this instant.
                    PostingRow.attempts == c.attempt,
                )
                .values(state=state.value, lease_until=None, **values)
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0) != 1:
                return
            subject = f"posting:{c.posting_id}"
            if failure is None:
                if c.attempt > 1:
                    self.incidents.healed(session, c.tenant_id, [subject])
                return
            exc, http, transient = failure
            row = session.get(PostingRow, c.posting_id)
            # The documents it brings into the books, or takes out of a day they left: a
            # refused reversal names the document it was to move.
            documents = sorted(
                {
                    *session.scalars(
                        select(PostingDocumentRow.document_id).where(
                            PostingDocumentRow.posting_id == c.posting_id
                        )
                    ),
                    *session.scalars(
                        select(PostingReversalRow.document_id).where(
                            PostingReversalRow.posting_id == c.posting_id
                        )
                    ),
                }
            )
            self.incidents.record(
                session,
                c.tenant_id,
                Failure(
                    error=exc,
                    stage="connector" if exc.provider else "engine",
                    subject=subject,
                    failed_at=self.clock(),
                    replay={"posting": c.posting_id, "destination": c.destination},
                    documents=tuple(documents),
                    location_id=row.location_id if row else None,
                    mapping_version=row.mapping_version if row else None,
                    http=http,
                    transient=transient,
                ),
            )


def _by_tenant(claimed: list[_Claimed]) -> dict[str, list[_Claimed]]:
    groups: dict[str, list[_Claimed]] = {}
    for c in claimed:
        groups.setdefault(c.tenant_id, []).append(c)
    return groups
