"""Intake: a record becomes a validated, stored document waiting for its sync window.

Each step happens in the caller's transaction, so a record is either fully taken in
(document stored, queued, inbox record marked) or left as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from sqlalchemy import Table, case, insert, literal, select, update
from sqlalchemy.orm import Session

from salesync.connectors.registry import SourceRegistry, sources
from salesync.connectors.source import Skip, SourceContext, Translated, context_from
from salesync.domain.documents import (
    Customer,
    Document,
    DocumentKind,
    Location,
    Payout,
    Product,
    Refund,
    Sale,
    business_day,
)
from salesync.domain.errors import ConflictError, ValidationError
from salesync.domain.validation import Problem, validate_payout, validate_refund, validate_sale
from salesync.engine.inbox import Inbox, RecordState
from salesync.engine.incidents import IncidentLog
from salesync.engine.normalize import normalizer_for
from salesync.engine.policies import SyncPolicy, default_policy
from salesync.store.documents import Documents, Stored
from salesync.store.repositories import Directory
from salesync.store.tables import (
    ConnectionRow,
    InboxRecordRow,
    QueuedDocumentRow,
    SyncPolicyRow,
    owned_by,
)

_QUEUE = cast(Table, QueuedDocumentRow.__table__)
_NEW_QUEUE = insert(_QUEUE)


@dataclass(frozen=True, slots=True)
class Rejected:
    document: Document
    problems: tuple[Problem, ...]

    def explain(self) -> str:
        what = f"{self.document.kind.value} {self.document.external_id}"
        return f"{what}: " + "; ".join(str(p) for p in self.problems)


@dataclass(slots=True)
class Taken:
    """What a batch of records came to: the state of each record taken in, in order, and
    the unforeseen failure (a bug, a lost connection) that stopped the batch, if one did."""

    states: list[RecordState] = field(default_factory=list)
    failure: Exception | None = None


class Intake:
    """Validates, stores and queues documents for one tenant.

    An instance lives for one transaction: it remembers what it has read (policies, what
    is stored and queued) and only its own writes change that within the transaction.
    """

    def __init__(
        self,
        session: Session,
        tenant_id: str,
        locations: Iterable[Location],
        clock: Callable[[], datetime],
        registry: SourceRegistry | None = None,
        *,
        incidents: IncidentLog | None = None,
    ) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.locations = {loc.id: loc for loc in locations}
        self.clock = clock
        self.registry = registry
        self.documents = Documents(session, tenant_id)
        self.directory = Directory(session, tenant_id)
        self.inbox = Inbox(session, tenant_id, clock, incidents)
        self._contexts: dict[str, SourceContext] = {}
        self._policies: dict[tuple[str, str], SyncPolicy] = {}
        self._queued: dict[str, QueuedDocumentRow] = {}
        self._unqueued: set[str] = set()
        self._released: set[str] = set()
        """Locations whose payouts waiting for their documents this transaction released."""
        self._new_queue: dict[str, dict[str, object]] = {}
        """Queue rows of new documents, written with them by ``_write_deferred``."""

    def prefetch(self, documents: Iterable[Document]) -> None:
        """Read what is stored and queued for ``documents`` in bulk, before admitting them."""
        wanted = list(documents)
        ids = sorted({d.id for d in wanted})
        refunded = [d.sale_id for d in wanted if isinstance(d, Refund)]
        self.documents.prefetch([*ids, *refunded])
        self.documents.prefetch_refunds(refunded)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            query = select(QueuedDocumentRow).where(
                owned_by(QueuedDocumentRow.tenant_id, self.tenant_id),
                QueuedDocumentRow.document_id.in_(chunk),
            )
            # Held here because the session's identity map keeps rows only weakly.
            self._queued.update((r.document_id, r) for r in self.session.scalars(query))
            self._unqueued.update(i for i in chunk if i not in self._queued)

    def problems(self, document: Document) -> list[Problem]:
        """Everything wrong with ``document``, judged against what is already stored."""
        now = self.clock()
        problems: list[Problem] = []
        if document.tenant_id != self.tenant_id:
            problems.append(
                Problem("wrong_tenant", f"belongs to tenant {document.tenant_id}", "tenant_id")
            )
        if document.location_id not in self.locations:
            problems.append(
                Problem(
                    "unknown_location",
                    f"location {document.location_id!r} is not set up for this merchant",
                    "location_id",
                )
            )
        if isinstance(document, Sale):
            problems += validate_sale(document, now=now)
        elif isinstance(document, Payout):
            problems += validate_payout(document, now=now)
        elif isinstance(document, Refund):
            sale = self.documents.get(document.sale_id)
            if not isinstance(sale, Sale):
                problems.append(
                    Problem(
                        "unknown_sale",
                        f"refunds sale {document.sale_id}, which salesync has not received yet",
                        "sale_id",
                    )
                )
            else:
                earlier = [r for r in self.documents.refunds_of(sale.id) if r.id != document.id]
                problems += validate_refund(document, sale, earlier, now=now)
        return problems

    def policy(self, document: Document) -> SyncPolicy:
        wanted = (document.kind.value, document.source)
        known = self._policies.get(wanted)
        if known is not None:
            return known
        query = select(SyncPolicyRow).where(
            SyncPolicyRow.tenant_id == self.tenant_id,
            SyncPolicyRow.kind == document.kind.value,
            SyncPolicyRow.source.in_((document.source, "*")),
        )
        rows = sorted(self.session.scalars(query), key=lambda r: r.source == "*")
        if rows:
            policy = SyncPolicy.parse_windows(rows[0].mode, rows[0].windows)
        else:
            policy = default_policy(document.kind.value, document.source)
        self._policies[wanted] = policy
        return policy

    def admit(
        self, document: Document, received_at: datetime | None = None, *, due_now: bool = False
    ) -> Stored:
        """Store ``document`` and queue it for the window after it was received.

        An edit of a stored document becomes its next revision and is queued again.
        Raises ``ValidationError`` listing every problem, and ``ConflictError`` when an
        edit moves the document to another location, in both cases having written nothing.
        """
        problems = self.problems(document)
        if problems:
            raise ValidationError(
                f"{document.kind.value} {document.external_id} has {len(problems)} problem(s)",
                user_message="; ".join(str(p) for p in problems),
                problems=tuple(problems),
                tenant=self.tenant_id,
                location=document.location_id,
                documents=(document.id,),
                operation="intake",
            )
        location = self.locations[document.location_id]
        received = received_at or self.clock()
        stored = self.documents.add(document, location, now=self.clock())
        if stored is Stored.DUPLICATE:
            return stored
        if isinstance(document, Sale | Refund):
            self._release_payouts(location.id)
        day = business_day(document.occurred_at, location.zone)
        # History is past its windows already: a backfilled document is due at once.
        due = received if due_now else self.policy(document).due_at(received, location.zone)
        if document.id in self._new_queue:
            self._write_deferred()
        queued = (
            None
            if document.id in self._unqueued
            else self.session.get(QueuedDocumentRow, document.id)
        )
        revision = 1 if stored is Stored.NEW else self.documents.revision(document.id)
        if queued is None:
            self._unqueued.discard(document.id)
            values: dict[str, object] = {
                "document_id": document.id,
                "tenant_id": self.tenant_id,
                "location_id": location.id,
                "kind": document.kind.value,
                "business_day": day,
                "currency": document.currency,
                "due_at": due,
                "plannable_at": None,
                "planned": False,
                "held": False,
                "problems": [],
                "mapping_version": None,
                "revision": revision,
            }
            if self.documents.defer:
                self._new_queue[document.id] = values
            else:
                self.session.add(QueuedDocumentRow(**values))
        else:
            # An edit: it follows its kind's window like a new document; if the earlier
            # version was planned already, planning makes an adjustment of the difference.
            # One statement, whatever this transaction read of the row: a planner may be
            # planning the earlier revision this instant (on PostgreSQL this waits for its
            # lock), and its marking the row planned is what this undoes.
            self.session.execute(
                update(QueuedDocumentRow)
                .where(QueuedDocumentRow.document_id == document.id)
                .values(
                    due_at=case(
                        (QueuedDocumentRow.planned, literal(due, _QUEUE.c.due_at.type)),
                        else_=QueuedDocumentRow.due_at,
                    ),
                    planned=False,
                    held=False,
                    problems=[],
                    business_day=day,
                    plannable_at=None,  # what it waited for may have changed with it
                    revision=revision,
                )
                .execution_options(synchronize_session="fetch")
            )
        return stored

    def _release_payouts(self, location_id: str) -> None:
        """A sale or refund came in: the location's payouts waiting for theirs are looked
        at again by the next plan instead of at their next check (``PAYOUT_RECHECK``)."""
        if location_id in self._released:
            return
        self._released.add(location_id)
        self.session.execute(
            update(QueuedDocumentRow)
            .where(
                QueuedDocumentRow.tenant_id == self.tenant_id,
                QueuedDocumentRow.location_id == location_id,
                QueuedDocumentRow.kind == DocumentKind.PAYOUT.value,
                QueuedDocumentRow.planned.is_(False),
                QueuedDocumentRow.plannable_at > self.clock(),
            )
            .values(plannable_at=None)
            .execution_options(synchronize_session=False)
        )

    def _forget(self) -> None:
        """What this transaction read or wrote is rolled back."""
        self.documents.forget()
        self._released.clear()
        self._new_queue.clear()

    def _write_deferred(self) -> None:
        """Write the new documents and their queue rows a batch kept (documents first:
        the queue refers to them)."""
        self.documents.write_deferred()
        if self._new_queue:
            rows, self._new_queue = list(self._new_queue.values()), {}
            self.session.execute(_NEW_QUEUE, rows)

    def process(self, row: InboxRecordRow) -> RecordState:
        """Take one received inbox record through normalize, validate, store and queue."""
        try:
            with self.session.begin_nested():
                state = self._take(row, self._normalize(row))
        except Exception:
            self._forget()
            raise
        if state is RecordState.NORMALIZED and row.document_id is not None:
            self.inbox.resume_children([row.document_id])
        return state

    def process_all(self, rows: Sequence[InboxRecordRow]) -> Taken:
        """Take ``rows`` in, in order, with the outcome of a transaction per record.

        A record is fully taken in or left as it was, and one that raises something
        unforeseen is rolled back and stops the batch; the caller then commits the records
        before it and raises ``failure``. The batch is tried first under one savepoint,
        written in one flush; if anything in it fails, that savepoint is rolled back and
        the batch is taken again with a savepoint per record, which isolates the failure.
        """
        parsed = [self._normalize(row) for row in rows]
        self.prefetch(d for d in parsed if isinstance(d, Sale | Refund | Payout))
        pairs = list(zip(rows, parsed, strict=True))
        # New documents and their queue rows are written together, in one statement each.
        self.documents.defer = True
        try:
            with self.session.begin_nested():
                taken = Taken([self._take(row, document) for row, document in pairs])
                self._write_deferred()
        except Exception:
            self._forget()
            taken = self._one_by_one(pairs)
        finally:
            self.documents.defer = False
        parents = [
            row.document_id
            for row, state in zip(rows, taken.states, strict=False)
            if state is RecordState.NORMALIZED and row.document_id is not None
        ]
        self.inbox.resume_children(parents)
        return taken

    def _one_by_one(self, pairs: list[tuple[InboxRecordRow, Translated | Exception]]) -> Taken:
        taken = Taken()
        for row, document in pairs:
            try:
                with self.session.begin_nested():
                    state = self._take(row, document)
                    self._write_deferred()
            except Exception as exc:
                self._forget()
                taken.failure = exc
                break
            taken.states.append(state)
        return taken

    def _normalize(self, row: InboxRecordRow) -> Translated | Exception:
        """What the record stands for, or what stopped it (raised again in the record's
        turn). A record that came through a connection is read by its source's connector,
        knowing the connection's settings; the others by the source's normalizer."""
        try:
            if row.connection_id is None:
                return normalizer_for(row.source)(row.record_type, row.payload)
            source = (self.registry or sources()).get(row.source)
            context = self._context(row.id, row.source, row.connection_id)
            return source.translate(row.record_type, row.payload, context)
        except Exception as exc:
            return exc

    def _context(self, record_id: int, source: str, connection_id: str) -> SourceContext:
        known = self._contexts.get(connection_id)
        if known is None:
            connection = self.session.get(ConnectionRow, connection_id)
            if connection is None or connection.tenant_id != self.tenant_id:
                raise ValidationError(
                    f"record {record_id} came through connection {connection_id}, which "
                    "no longer exists",
                    code="unknown_connection",
                    problems=(
                        Problem(
                            "unknown_connection",
                            f"connection {connection_id} is gone; reconnect and replay",
                            "connection_id",
                        ),
                    ),
                )
            known = context_from(self.tenant_id, source, connection.id, connection.settings or {})
            self._contexts[connection_id] = known
        return known

    def _take(self, row: InboxRecordRow, document: Translated | Exception) -> RecordState:
        """Settle one record; the caller holds a savepoint for it."""
        if isinstance(document, ValidationError):
            self.inbox.quarantine(row, document.problems)
            return RecordState.QUARANTINED
        if isinstance(document, Exception):
            raise document
        if isinstance(document, Skip):
            self.inbox.skip(row, document.reason)
            return RecordState.SKIPPED
        if isinstance(document, Customer | Product):
            return self._list(row, document)
        try:
            # No savepoint of its own: ``admit`` writes nothing before it refuses.
            self.admit(document, row.received_at, due_now=row.origin == "backfill")
        except ValidationError as exc:
            problems = list(exc.problems)
            if isinstance(document, Refund) and [p.code for p in problems] == ["unknown_sale"]:
                self.inbox.park(row, document.sale_id, problems)
                return RecordState.PARKED
            self.inbox.quarantine(row, problems)
            return RecordState.QUARANTINED
        except ConflictError as exc:
            self.inbox.quarantine(
                row, [Problem(exc.code or "document_changed", exc.user_message, "")]
            )
            return RecordState.QUARANTINED
        self.inbox.normalized(row, document.id)
        return RecordState.NORMALIZED

    def _list(self, row: InboxRecordRow, entry: Customer | Product) -> RecordState:
        if entry.tenant_id != self.tenant_id:
            problem = Problem("wrong_tenant", f"belongs to tenant {entry.tenant_id}", "tenant_id")
            self.inbox.quarantine(row, [problem])
            return RecordState.QUARANTINED
        if isinstance(entry, Customer):
            self.directory.put_customer(entry)
        else:
            self.directory.put_product(entry)
        self.inbox.normalized(row, None)
        return RecordState.NORMALIZED
