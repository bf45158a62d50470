"""The engine and its in-process runner.

Work is a ``tick``: take in received records, plan what is due, send what is due. Each
part reads its work from the database and commits as it goes, so a tick can stop at any
line (a crash, a kill) and the next tick, in this process or another, carries on without
losing or doubling anything. The in-process runner simply ticks on a timer; a distributed
runner can run the same parts as tasks.

``sync_now`` is the merchant's "sync now": documents waiting for a sync window (or for
someone to sync them, under a manual policy) become due at once and are posted.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from salesync.connectors.destination import Books
from salesync.connectors.ledger.destination import NAME as LEDGER
from salesync.connectors.ledger.destination import LedgerDestination
from salesync.connectors.registry import SourceRegistry
from salesync.domain.errors import SyncError
from salesync.domain.postings import DEFAULT_PLAN, Placement
from salesync.engine.destinations import DestinationBooks
from salesync.engine.inbox import Inbox, Received, RecordState
from salesync.engine.incidents import IncidentLog
from salesync.engine.intake import Intake
from salesync.engine.planner import Planner
from salesync.engine.runs import recorded
from salesync.engine.sender import RetryPolicy, Sender, SendReport
from salesync.store.failures import unforeseen
from salesync.store.repositories import Locations, Tenants
from salesync.store.tables import DocumentRow, QueuedDocumentRow


@dataclass(slots=True)
class TickReport:
    normalized: int = 0
    parked: int = 0
    quarantined: int = 0
    planned: int = 0
    sent: SendReport = field(default_factory=SendReport)

    @property
    def idle(self) -> bool:
        s = self.sent
        moved = s.posted + s.found_on_read_back + s.retrying + s.failed + s.held
        return not (self.normalized or self.parked or self.quarantined or self.planned or moved)

    def add(self, other: TickReport) -> None:
        """Count ``other``'s work in this report too."""
        self.normalized += other.normalized
        self.parked += other.parked
        self.quarantined += other.quarantined
        self.planned += other.planned
        for name in ("posted", "found_on_read_back", "retrying", "failed", "held"):
            setattr(self.sent, name, getattr(self.sent, name) + getattr(other.sent, name))
        self.sent.errors += other.sent.errors


@dataclass(slots=True)
class SyncNowReport:
    """What a "sync now" did: the documents it made due, the work of the ticks after, and
    what still waits."""

    released: int = 0
    """Documents that were waiting for a sync window, now due."""
    work: TickReport = field(default_factory=TickReport)
    waiting: int = 0
    """Documents still not planned: a daily summary waits for its business day to end,
    a per-payout sale for its payout."""
    held: int = 0
    """Documents held until a mapping places them."""


class Engine:
    def __init__(
        self,
        factory: sessionmaker[Session],
        clock: Callable[[], datetime],
        *,
        destinations: Callable[[str, str], Books] | None = None,
        placement: Placement = DEFAULT_PLAN,
        retry: RetryPolicy | None = None,
        rng: random.Random | None = None,
        registry: SourceRegistry | None = None,
        books: DestinationBooks | None = None,
        incidents: IncidentLog | None = None,
        after: Sequence[Callable[[str], object]] = (),
    ) -> None:
        """``registry`` reads records that came through a connection (the installed
        sources by default). ``books`` chooses and opens each tenant's books (a
        destination connection, else the built-in ledger); ``destinations`` overrides
        only the opening, for tests. ``after`` are passes run for each tenant at the end
        of its tick (the built-in CRM's ``CrmFeed``), in order."""
        self.factory = factory
        self.clock = clock
        self.placement = placement
        self.registry = registry
        self.books = books
        self.incidents = incidents or IncidentLog(clock)
        self.after = tuple(after)
        opener = destinations or books or self._ledger
        self.sender = Sender(factory, opener, clock, retry=retry, rng=rng, incidents=self.incidents)

    def _ledger(self, tenant_id: str, name: str) -> Books:
        if name != LEDGER:
            raise SyncError(f"no destination {name!r} is configured", code="no_destination")
        return LedgerDestination(self.factory, tenant_id)

    def receive(
        self,
        tenant_id: str,
        source: str,
        record_type: str,
        payload: str,
        *,
        event_id: str | None = None,
        connection_id: str | None = None,
    ) -> Received:
        """Accept first: keep the raw record and return at once; processing comes later."""
        with self.factory() as session, session.begin():
            return Inbox(session, tenant_id, self.clock).receive(
                source, record_type, payload, event_id=event_id, connection_id=connection_id
            )

    def take_in(
        self, tenant_id: str, limit: int = 500, rounds: int | None = None
    ) -> dict[str, int]:
        """Normalize and validate received records, live ones first; ``rounds`` batches of
        ``limit`` at most (all that are waiting by default).

        A batch is one transaction with a savepoint per record, which ends the same as a
        transaction per record: a record that fails unforeseen is rolled back alone and the
        ones before it are committed. When the database is away the failure is raised (the
        next tick tries again); any other is salesync's fault on that record, which is set
        aside (quarantined, with a bug incident to replay it once fixed) so the records
        after it carry on.
        """
        counts = {state.value: 0 for state in RecordState}
        with recorded(
            self.factory, self.clock, "intake", tenant_id, incidents=self.incidents
        ) as run:
            done = 0
            looked_again: set[int] = set()
            with self.factory() as session, session.begin():
                # A refund parked while its sale was stored by another worker, each
                # unable to see the other's work, is resumed here at the latest.
                Inbox(session, tenant_id, self.clock).resume_found()
            while rounds is None or done < rounds:
                done += 1
                with self.factory() as session:
                    with session.begin():
                        intake = Intake(
                            session,
                            tenant_id,
                            Locations(session, tenant_id).all(),
                            self.clock,
                            self.registry,
                            incidents=self.incidents,
                        )
                        batch = intake.inbox.take(limit)
                        taken = intake.process_all(batch)
                    if taken.failure is not None:
                        failure = unforeseen(taken.failure, "intake")
                        if failure.kind.retryable or len(taken.states) >= len(batch):
                            raise taken.failure  # the database is away: the next tick
                        # A fault of salesync's on this record: it waits for the fix
                        # and a replay, and the records after it carry on.
                        failed = batch[len(taken.states)].id
                        with session.begin():
                            Inbox(session, tenant_id, self.clock, self.incidents).set_aside(
                                failed, failure
                            )
                        taken.states.append(RecordState.QUARANTINED)
                    parked = [
                        row.id
                        for row, state in zip(batch, taken.states, strict=False)
                        if state is RecordState.PARKED and row.id not in looked_again
                    ]
                    if parked:
                        # Each parked record is looked at again once: a parent stored
                        # by a concurrent take-in meanwhile resumes it.
                        looked_again.update(parked)
                        with session.begin():
                            Inbox(session, tenant_id, self.clock).resume_found(parked)
                if not batch:
                    break
                for state in taken.states:
                    counts[state.value] += 1
            run.update(counts)
        return counts

    def plan(self, tenant_id: str) -> int:
        with recorded(self.factory, self.clock, "plan", tenant_id, incidents=self.incidents) as run:
            with self.factory() as session, session.begin():
                locations = Locations(session, tenant_id).all()
                planner = Planner(
                    session,
                    tenant_id,
                    locations,
                    self.clock,
                    placement=self.placement,
                    destination=self.books.name_for(tenant_id) if self.books else LEDGER,
                    incidents=self.incidents,
                )
                created = planner.plan_due()
            run["postings"] = created
        return created

    def send(self, tenant_id: str) -> SendReport:
        with recorded(self.factory, self.clock, "send", tenant_id, incidents=self.incidents) as run:
            report = self.sender.send_due(tenant_id)
            run.update(
                posted=report.posted,
                found_on_read_back=report.found_on_read_back,
                retrying=report.retrying,
                failed=report.failed,
                held=report.held,
            )
        return report

    def tick(self, tenant_id: str | None = None) -> TickReport:
        """One pass over every tenant (or one): take in, plan, send."""
        with self.factory() as session:
            tenants = [tenant_id] if tenant_id else [t.id for t in Tenants(session).all()]
        report = TickReport()
        for tenant in tenants:
            report.add(self._tick_tenant(tenant))
        return report

    def _tick_tenant(self, tenant_id: str) -> TickReport:
        counts = self.take_in(tenant_id)
        report = TickReport(
            normalized=counts[RecordState.NORMALIZED.value],
            parked=counts[RecordState.PARKED.value],
            quarantined=counts[RecordState.QUARANTINED.value],
        )
        report.planned = self.plan(tenant_id)
        report.sent = self.send(tenant_id)
        for follow in self.after:
            follow(tenant_id)
        return report

    def run_until_idle(self, tenant_id: str | None = None, max_ticks: int = 100) -> int:
        """Tick until a tick moves nothing; returns the number of ticks."""
        for n in range(1, max_ticks + 1):
            if self.tick(tenant_id).idle:
                return n
        return max_ticks

    def make_due(self, tenant_id: str, sources: Collection[str] | None = None) -> int:
        """Make every document of the tenant that waits for a sync window (or, under a
        manual policy, for someone to sync it) due now; only those from ``sources``
        (provider names such as ``shopify``) when given. Returns how many.

        Held documents stay held (a mapping releases them), and planned ones are left
        alone, so pressing it twice posts nothing twice.
        """
        now = self.clock()
        waiting = [
            QueuedDocumentRow.tenant_id == tenant_id,
            QueuedDocumentRow.planned.is_(False),
            QueuedDocumentRow.held.is_(False),
            or_(QueuedDocumentRow.due_at.is_(None), QueuedDocumentRow.due_at > now),
        ]
        if sources is not None:
            if not sources:
                return 0
            waiting.append(
                QueuedDocumentRow.document_id.in_(
                    select(DocumentRow.id).where(
                        DocumentRow.tenant_id == tenant_id, DocumentRow.source.in_(list(sources))
                    )
                )
            )
        with self.factory() as session, session.begin():
            result = session.execute(
                update(QueuedDocumentRow)
                .where(*waiting)
                .values(due_at=now)
                .execution_options(synchronize_session=False)
            )
        return int(getattr(result, "rowcount", 0) or 0)

    def sync_now(
        self, tenant_id: str, *, sources: Collection[str] | None = None, max_ticks: int = 100
    ) -> SyncNowReport:
        """The merchant's "sync now": take in what has been received, make what waits for
        a sync window due (``make_due``), then tick until nothing moves.

        Taking in first means records a sweep has just stored are documents by the time
        they are made due, so they go out in this same press.
        """
        report = SyncNowReport()
        report.work.add(self._tick_tenant(tenant_id))
        with recorded(
            self.factory, self.clock, "sync_now", tenant_id, incidents=self.incidents
        ) as run:
            report.released = run["released"] = self.make_due(tenant_id, sources)
        for _ in range(max_ticks):
            done = self._tick_tenant(tenant_id)
            report.work.add(done)
            if done.idle:
                break
        with self.factory() as session:
            counted = select(func.count()).where(
                QueuedDocumentRow.tenant_id == tenant_id, QueuedDocumentRow.planned.is_(False)
            )
            report.waiting = session.scalar(counted.where(QueuedDocumentRow.held.is_(False))) or 0
            report.held = session.scalar(counted.where(QueuedDocumentRow.held.is_(True))) or 0
        return report


class Ticking(Protocol):
    """Work done on each pass after the engine's (the support loop's ``Monitor``)."""

    def tick(self) -> object: ...


class InProcessRunner:
    """Ticks the engine, then the support loop, on a background thread: the embedded
    default runner."""

    def __init__(
        self,
        engine: Engine,
        interval: float = 1.0,
        monitor: Ticking | None = None,
        *,
        sweeps: Ticking | None = None,
    ) -> None:
        """``sweeps`` (the sources' periodic sweeps) run first in each pass, so what
        they bring is taken in by the same pass."""
        self.engine = engine
        self.monitor = monitor
        self.sweeps = sweeps
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: BaseException | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="salesync-runner", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            if self.sweeps is not None:
                try:
                    self.sweeps.tick()
                except Exception as exc:  # a sweep's own failures are incidents already
                    self.last_error = exc
            try:
                self.engine.tick()
            except Exception as exc:  # the runs table has it; keep ticking
                self.last_error = exc
            if self.monitor is not None:
                try:
                    self.monitor.tick()
                except Exception as exc:  # each part logs its own; keep ticking
                    self.last_error = exc
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
