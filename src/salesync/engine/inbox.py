"""The inbox: every raw record kept as received, deduplicated, and tracked to its fate.

A record is stored before anything else happens to it, so nothing is lost: a record that
cannot be normalized or fails validation is quarantined with its problems and can be
replayed after the fix; a refund or payment whose parent is not known yet is parked and
resumes by itself when the parent arrives.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import cast

from sqlalchemy import Insert, String, Table, insert, literal, or_, select, update
from sqlalchemy import cast as cast_
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from salesync.domain.errors import SyncError, ValidationError
from salesync.domain.validation import Problem, problem_rows
from salesync.engine.incidents import Failure, IncidentLog
from salesync.store.repositories import TenantScoped
from salesync.store.tables import DocumentRow, InboxRecordRow, IncidentRow

PARKED_TOO_LONG = timedelta(hours=24)
"""How long a record may wait for its parent before someone is told."""
PARENT_MISSING = "parent_missing"


def _hours(waited: timedelta) -> str:
    hours = waited.total_seconds() / 3600
    return f"{hours:.0f} hours" if hours < 72 else f"{hours / 24:.0f} days"


class RecordState(enum.StrEnum):
    RECEIVED = "received"
    """Stored, waiting to be normalized."""
    DUPLICATE = "duplicate"
    """A repeat of an earlier record (same provider event id or same bytes); never processed."""
    NORMALIZED = "normalized"
    """Turned into a document that passed validation."""
    PARKED = "parked"
    """Waiting for its parent (a refund before its sale)."""
    QUARANTINED = "quarantined"
    """Failed normalization or validation; kept with its problems for a fix and replay."""
    SKIPPED = "skipped"
    """Read, and carries nothing to post (an unpaid order, an app event); the reason is kept."""


UNREADABLE = "unreadable"
"""The record type of a genuine webhook body its connector could not read: kept as it came,
quarantined with the reason, never taken in (the sweep fetches the event again)."""


@dataclass(frozen=True, slots=True)
class Incoming:
    """One record on its way into the inbox, for ``Inbox.receive_many``."""

    source: str
    record_type: str
    payload: str
    event_id: str | None = None
    connection_id: str | None = None
    origin: str = "live"


@dataclass(frozen=True, slots=True)
class Received:
    record_id: int
    duplicate_of: int | None

    @property
    def is_duplicate(self) -> bool:
        return self.duplicate_of is not None


def payload_hash(payload: str) -> str:
    return hashlib.sha256(payload.encode()).hexdigest()


def as_problems(rows: Sequence[dict[str, str]]) -> list[Problem]:
    return [Problem(r["code"], r["message"], r["path"]) for r in rows]


_INSERT = insert(InboxRecordRow)


@cache
def _insert_new_statement(dialect: str) -> Insert | None:
    """``INSERT ... ON CONFLICT DO NOTHING RETURNING`` in ``dialect``'s words (None where
    salesync knows none), built once: building a statement costs more than running it."""
    table = cast(Table, InboxRecordRow.__table__)
    statement: Insert
    if dialect == "sqlite":
        statement = sqlite_insert(table).on_conflict_do_nothing()
    elif dialect == "postgresql":
        statement = postgresql_insert(table).on_conflict_do_nothing()
    else:
        return None
    columns = table.c
    return statement.returning(columns.id, columns.source, columns.dedupe_hash)


def _insert_new(session: Session) -> Insert | None:
    return _insert_new_statement(session.get_bind().dialect.name)


class Inbox(TenantScoped):
    def __init__(
        self,
        session: Session,
        tenant_id: str,
        clock: Callable[[], datetime],
        incidents: IncidentLog | None = None,
    ) -> None:
        """``incidents`` records each quarantine as an incident in the same transaction."""
        super().__init__(session, tenant_id)
        self.clock = clock
        self.incidents = incidents or IncidentLog(clock)

    def receive(
        self,
        source: str,
        record_type: str,
        payload: str,
        *,
        event_id: str | None = None,
        connection_id: str | None = None,
        origin: str = "live",
    ) -> Received:
        """Keep ``payload`` as received; a repeat is stored as a duplicate of the original.

        ``origin`` is "live" or "backfill"; live records are taken in first.
        """
        digest = payload_hash(payload)

        def record(**fields: object) -> InboxRecordRow:
            return InboxRecordRow(
                tenant_id=self.tenant_id,
                source=source,
                connection_id=connection_id,
                record_type=record_type,
                event_id=event_id,
                payload_hash=digest,
                payload=payload,
                received_at=self.clock(),
                problems=[],
                origin=origin,
                **fields,
            )

        row = record(dedupe_event=event_id, dedupe_hash=digest, state=RecordState.RECEIVED.value)
        try:
            with self.session.begin_nested():
                self.session.add(row)
                self.session.flush()
            return Received(row.id, None)
        except IntegrityError:
            pass
        original = self._original(source, event_id, digest)
        duplicate = record(state=RecordState.DUPLICATE.value, duplicate_of=original)
        self.session.add(duplicate)
        self.session.flush()
        return Received(duplicate.id, original)

    def refuse(
        self,
        source: str,
        payload: str,
        problems: Sequence[Problem],
        *,
        connection_id: str | None = None,
    ) -> Received:
        """Keep a body that could not be read as an ``unreadable`` record, quarantined at
        once with ``problems``; the same body again is stored as its duplicate."""
        received = self.receive(source, UNREADABLE, payload, connection_id=connection_id)
        if not received.is_duplicate:
            row = self.session.get(InboxRecordRow, received.record_id)
            if row is None:
                raise RuntimeError(f"inbox record {received.record_id} vanished while stored")
            self.quarantine(row, problems, stage="ingress")
            self.session.flush()
        return received

    def receive_many(self, incoming: Sequence[Incoming]) -> list[Received]:
        """``receive`` for many records at once, in order, ending as one by one would.

        The records go in with one ``INSERT ... ON CONFLICT DO NOTHING``: each one the
        database takes is a new original; each one it skips repeats a stored record, or
        one earlier in the batch, and is then stored as that one's duplicate (one by
        one: repeats are a provider's retries, rare). One statement for a batch is what
        lets webhook ingress keep up with its traffic.
        """
        if not incoming:
            return []
        statement = _insert_new(self.session)
        if statement is None:
            return [self._receive_one(item) for item in incoming]
        digests = [payload_hash(i.payload) for i in incoming]
        now = self.clock()
        rows = [
            self._row(item, digest, now, dedupe_event=item.event_id, dedupe_hash=digest)
            for item, digest in zip(incoming, digests, strict=True)
        ]
        with self.session.begin_nested():
            taken = {
                (str(source), str(digest)): int(record_id)
                for record_id, source, digest in self.session.execute(statement, rows)
            }
        received: list[Received] = []
        for item, digest, row in zip(incoming, digests, rows, strict=True):
            # Identical records share (source, hash): the first of them is the original.
            record_id = taken.pop((item.source, digest), None)
            if record_id is not None:
                received.append(Received(record_id, None))
                continue
            original = self._original(item.source, item.event_id, digest)
            duplicate = {
                **row,
                "dedupe_event": None,
                "dedupe_hash": None,
                "state": RecordState.DUPLICATE.value,
                "duplicate_of": original,
            }
            record_id = self.session.scalar(_INSERT.returning(InboxRecordRow.id), duplicate)
            received.append(Received(int(record_id or 0), original))
        return received

    def _row(
        self, item: Incoming, digest: str, now: datetime, **fields: object
    ) -> dict[str, object]:
        return {
            "tenant_id": self.tenant_id,
            "source": item.source,
            "connection_id": item.connection_id,
            "record_type": item.record_type,
            "event_id": item.event_id,
            "payload_hash": digest,
            "payload": item.payload,
            "received_at": now,
            "state": RecordState.RECEIVED.value,
            "problems": [],
            "attempts": 0,
            "origin": item.origin,
            "duplicate_of": None,
            **fields,
        }

    def _receive_one(self, item: Incoming) -> Received:
        return self.receive(
            item.source,
            item.record_type,
            item.payload,
            event_id=item.event_id,
            connection_id=item.connection_id,
            origin=item.origin,
        )

    def _original(self, source: str, event_id: str | None, digest: str) -> int:
        match = [InboxRecordRow.dedupe_hash == digest]
        if event_id is not None:
            match.append(InboxRecordRow.dedupe_event == event_id)
        query = select(InboxRecordRow.id).where(
            InboxRecordRow.tenant_id == self.tenant_id,
            InboxRecordRow.source == source,
            or_(*match),
        )
        found = self.session.scalar(query.order_by(InboxRecordRow.id).limit(1))
        if found is None:
            raise RuntimeError("a record clashed with an original that cannot be found")
        return found

    def get(self, record_id: int) -> InboxRecordRow | None:
        row = self.session.get(InboxRecordRow, record_id)
        return row if row is not None and row.tenant_id == self.tenant_id else None

    def in_state(self, state: RecordState, limit: int | None = None) -> list[InboxRecordRow]:
        """Records in ``state``: live ones first, then backfill, each oldest first."""
        query = (
            select(InboxRecordRow)
            .where(InboxRecordRow.tenant_id == self.tenant_id, InboxRecordRow.state == state.value)
            .order_by(InboxRecordRow.origin != "live", InboxRecordRow.id)
        )
        if limit is not None:
            query = query.limit(limit)
        return list(self.session.scalars(query))

    def take(self, limit: int) -> list[InboxRecordRow]:
        """Received records to take in, live ones first, locked until this transaction
        ends. On PostgreSQL records another transaction is taking in are skipped (``FOR
        UPDATE SKIP LOCKED``), so two workers taking in one tenant share its records
        instead of both doing each; SQLite has one writer at a time anyway."""
        query = (
            select(InboxRecordRow)
            .where(
                InboxRecordRow.tenant_id == self.tenant_id,
                InboxRecordRow.state == RecordState.RECEIVED.value,
            )
            .order_by(InboxRecordRow.origin != "live", InboxRecordRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(self.session.scalars(query))

    def _settle(
        self,
        row: InboxRecordRow,
        state: RecordState,
        problems: Sequence[Problem] = (),
        **fields: object,
    ) -> None:
        row.state = state.value
        row.problems = problem_rows(problems)
        row.attempts += 1
        row.processed_at = self.clock()
        for name, value in fields.items():
            setattr(row, name, value)

    def normalized(self, row: InboxRecordRow, document_id: str | None) -> None:
        self._settle(row, RecordState.NORMALIZED, document_id=document_id)

    def skip(self, row: InboxRecordRow, reason: str) -> None:
        self._settle(row, RecordState.SKIPPED, [Problem("skipped", reason, "")])

    def quarantine(
        self, row: InboxRecordRow, problems: Sequence[Problem], *, stage: str = "engine"
    ) -> None:
        """Set the record aside with its problems, and record the incident."""
        codes = sorted({p.code for p in problems}) or ["invalid"]
        error = ValidationError(
            f"{row.source} {row.record_type} record quarantined: {', '.join(codes)}",
            user_message=f"A {row.source} {row.record_type} could not be taken in: "
            + "; ".join(str(p) for p in problems),
            code="+".join(codes),
            provider=row.source,
            operation=f"intake:{row.record_type}",
            problems=tuple(problems),
            details={"problems": problem_rows(problems), "record": row.id},
        )
        self._quarantine(row, problems, error, stage)

    def set_aside(self, record_id: int, failure: SyncError) -> bool:
        """Quarantine a received record that salesync itself failed on (a bug, not the
        record's fault), with a bug incident a developer replays once it is fixed: the
        tenant's other records carry on instead of failing behind it on every tick.
        False when the record is no longer waiting (another worker took it meanwhile)."""
        row = self.get(record_id)
        if row is None or row.state != RecordState.RECEIVED.value:
            return False
        problem = Problem(
            "bug",
            f"salesync failed taking this record in ({failure}); a developer has been told, "
            "and it is taken in again once that is fixed",
            "",
        )
        error = SyncError(
            str(failure),
            user_message=f"A {row.source} {row.record_type} could not be taken in because "
            "of a fault in salesync; it is kept and taken in again once the fault is fixed.",
            kind=failure.kind,
            code=failure.code or "unexpected",
            provider=row.source,
            operation=f"intake:{row.record_type}",
            details={"record": row.id},
        )
        self._quarantine(row, [problem], error, "intake")
        return True

    def _quarantine(
        self, row: InboxRecordRow, problems: Sequence[Problem], error: SyncError, stage: str
    ) -> None:
        """Set the record aside with its problems, and record ``error`` as the incident
        whose replay takes it in again."""
        self._settle(row, RecordState.QUARANTINED, problems)
        self.session.flush()
        self.incidents.record(
            self.session,
            self.tenant_id,
            Failure(
                error=error,
                stage=stage,
                subject=f"record:{row.id}",
                failed_at=self.clock(),
                replay={"record": row.id},
                documents=(row.document_id,) if row.document_id else (),
                connection_id=row.connection_id,
            ),
        )

    def park(self, row: InboxRecordRow, parent_ref: str, problems: Sequence[Problem]) -> None:
        self._settle(row, RecordState.PARKED, problems, parent_ref=parent_ref)

    def resume_children(self, parent_refs: Iterable[str]) -> int:
        """Send records parked on any of ``parent_refs`` back for processing; returns how
        many."""
        refs = sorted(set(parent_refs))
        resumed = 0
        for start in range(0, len(refs), 500):
            result = self.session.execute(
                update(InboxRecordRow)
                .where(
                    InboxRecordRow.tenant_id == self.tenant_id,
                    InboxRecordRow.state == RecordState.PARKED.value,
                    InboxRecordRow.parent_ref.in_(refs[start : start + 500]),
                )
                .values(state=RecordState.RECEIVED.value)
            )
            resumed += int(getattr(result, "rowcount", 0) or 0)
        return resumed

    def resume_found(self, record_ids: Sequence[int] | None = None) -> int:
        """Send back for processing those of ``record_ids`` (every parked record when not
        given) parked on a parent that is stored by now.

        Two take-ins of one tenant run at once on several workers: one can park a refund
        while the other stores its sale, each unable to see the other's uncommitted work,
        so the sale's ``resume_children`` misses the refund. Asked after the parking
        transaction committed, this sees every sale committed before it; a sale whose
        resuming ran before the park committed but which committed after this look is
        found by the next take-in, which asks for every parked record first."""
        stored = (
            select(DocumentRow.id)
            .where(
                DocumentRow.id == InboxRecordRow.parent_ref,
                DocumentRow.tenant_id == InboxRecordRow.tenant_id,
            )
            .exists()
        )
        chosen = () if record_ids is None else (InboxRecordRow.id.in_(record_ids),)
        result = self.session.execute(
            update(InboxRecordRow)
            .where(
                InboxRecordRow.tenant_id == self.tenant_id,
                InboxRecordRow.state == RecordState.PARKED.value,
                *chosen,
                stored,
            )
            .values(state=RecordState.RECEIVED.value)
            .execution_options(synchronize_session="fetch")
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def replay(self, record_id: int) -> None:
        """Process a quarantined or parked record again, e.g. after a mapping was added."""
        row = self.get(record_id)
        if row is None:
            raise KeyError(f"no inbox record {record_id} for tenant {self.tenant_id}")
        if row.state not in (RecordState.QUARANTINED.value, RecordState.PARKED.value):
            raise ValueError(
                f"record {record_id} is {row.state}; only quarantined or parked records replay"
            )
        if row.record_type == UNREADABLE:
            raise ValueError(
                f"record {record_id} is a body its connector could not read; it is kept to be "
                "inspected, and the source's sweep brings the event again"
            )
        row.state = RecordState.RECEIVED.value
        self.session.flush()

    def parked_too_long(self, limit: timedelta = PARKED_TOO_LONG) -> list[InboxRecordRow]:
        """Parked records older than ``limit``: their parent may never come."""
        cutoff = self.clock() - limit
        return [r for r in self.in_state(RecordState.PARKED) if r.received_at <= cutoff]

    def report_overdue(self, limit: timedelta = PARKED_TOO_LONG, batch: int = 500) -> int:
        """Record an incident, once, for each record parked longer than ``limit`` (up to
        ``batch`` a call): a refund whose sale never came is a problem someone must see,
        though the record still resumes by itself if the sale arrives. Returns how many."""
        reported = (
            select(IncidentRow.id)
            .where(
                IncidentRow.tenant_id == self.tenant_id,
                IncidentRow.code == PARENT_MISSING,
                IncidentRow.subject == literal("record:") + cast_(InboxRecordRow.id, String),
            )
            .exists()
        )
        rows = self.session.scalars(
            select(InboxRecordRow)
            .where(
                InboxRecordRow.tenant_id == self.tenant_id,
                InboxRecordRow.state == RecordState.PARKED.value,
                InboxRecordRow.received_at <= self.clock() - limit,
                ~reported,
            )
            .order_by(InboxRecordRow.id)
            .limit(batch)
        ).all()
        for row in rows:
            waited = self.clock() - row.received_at
            self.incidents.record(
                self.session,
                self.tenant_id,
                Failure(
                    error=ValidationError(
                        f"{row.source} {row.record_type} record {row.id} parked {waited} "
                        f"waiting for {row.parent_ref}",
                        user_message=f"A {row.source} {row.record_type} has waited "
                        f"{_hours(waited)} for the sale it belongs to ({row.parent_ref}), "
                        "which has not arrived. It posts as soon as the sale does.",
                        code=PARENT_MISSING,
                        provider=row.source,
                        operation=f"intake:{row.record_type}",
                        details={"record": row.id, "parent": row.parent_ref},
                    ),
                    stage="engine",
                    subject=f"record:{row.id}",
                    failed_at=self.clock(),
                    replay={"record": row.id},
                    connection_id=row.connection_id,
                ),
            )
        return len(rows)
