"""The ticket desk: what a developer does with a ticket.

Read it with its timeline, incidents and affected documents; comment; take it; retry its
failed units now; replay exactly the records, documents and postings its incidents name
(after a fix or a mapping change); verify through reconciliation that every affected
document is in the books exactly as the source has it; and resolve it with a
plain-language explanation, which is refused until that verification passes.

While the ticket waits on the merchant (an answer, a reconnect) its SLA clocks are
paused: ``wait_on_merchant`` stops them and ``merchant_replied`` pushes them later by the
plan's clock time that passed meanwhile.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.domain.redaction import Redactor
from salesync.domain.tickets import FixedSla, SlaClocks, TicketState, check_move
from salesync.engine.inbox import Inbox, RecordState
from salesync.engine.incidents import add_event
from salesync.engine.mappings import Mappings
from salesync.engine.outbox import Outbox, PostingState
from salesync.engine.reconcile import Reconciler
from salesync.monitor.notify import MailSettings, NoticeReason, Notices
from salesync.monitor.routing.schedule import render_duration
from salesync.store.repositories import Locations
from salesync.store.tables import (
    ConnectionRow,
    DocumentRow,
    InboxRecordRow,
    IncidentRow,
    PostingDocumentRow,
    PostingReversalRow,
    PostingRow,
    TicketDocumentRow,
    TicketEventRow,
    TicketRow,
    owned_by,
)


class DeskError(ValueError):
    """A ticket action that cannot be done; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class TicketDetail:
    ticket: TicketRow
    events: list[TicketEventRow]
    incidents: list[IncidentRow]
    documents: list[str]


@dataclass(slots=True)
class ReplayReport:
    postings: int = 0
    records: int = 0
    documents: int = 0
    waiting_on_merchant: list[str] = field(default_factory=list)
    """Connections that need the merchant to reconnect before anything can move."""

    @property
    def released(self) -> int:
        return self.postings + self.records + self.documents


@dataclass(slots=True)
class Verification:
    documents: int = 0
    """Affected documents checked."""
    differences: list[str] = field(default_factory=list)
    """What still differs, one line per document or unit."""

    @property
    def clean(self) -> bool:
        return not self.differences


def resolved_hook(
    clock: Callable[[], datetime],
    settings: MailSettings | None = None,
    *,
    redactor: Redactor | None = None,
) -> Callable[[Session, TicketRow], None]:
    """The desk's ``resolved`` hook: the merchant's contacts are told what was fixed, by a
    notice that delivery sends (links start at ``settings.public_url``)."""

    def queue(session: Session, ticket: TicketRow) -> None:
        session.flush()
        Notices(session, ticket.tenant_id, clock, settings=settings, redactor=redactor).notify(
            ticket, NoticeReason.RESOLVED
        )

    return queue


class TicketDesk:
    """Ticket actions for one tenant's tickets (or any tenant's, for the operator)."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        clock: Callable[[], datetime],
        *,
        tenant_id: str | None = None,
        destination: Callable[[str], str] | None = None,
        resolved: Callable[[Session, TicketRow], None] | None = None,
        sla: SlaClocks | None = None,
        asked: Callable[[Session, TicketRow, str, datetime], object] | None = None,
    ) -> None:
        """``tenant_id`` scopes every action to one tenant (the merchant's API);
        ``destination`` names each tenant's books for verification (the built-in ledger
        by default); ``resolved`` is told, in the resolving transaction, that a ticket was
        resolved (by default the merchant's contacts get a notice, sent by delivery);
        ``sla`` counts the clock time a wait on the merchant paused (the plan catalog's
        business hours; around the clock by default); ``asked`` is told, in the same
        transaction, what a ticket now waits on the merchant for (the support desk
        e-mails the merchant who opened the request behind it)."""
        self.factory = factory
        self.clock = clock
        self.tenant_id = tenant_id
        self.destination = destination or (lambda _tenant: "ledger")
        self.resolved = resolved or resolved_hook(clock)
        self.sla: SlaClocks = sla or FixedSla()
        self.asked = asked

    # -- reading ---------------------------------------------------------------

    def tickets(
        self, *, state: str | None = None, tenant_id: str | None = None, limit: int = 100
    ) -> list[TicketRow]:
        tenant = self.tenant_id or tenant_id
        query = select(TicketRow).order_by(TicketRow.last_seen.desc(), TicketRow.id.desc())
        if tenant is not None:
            query = query.where(TicketRow.tenant_id == tenant)
        if state == "active":
            query = query.where(TicketRow.state.in_([s.value for s in TicketState if s.active]))
        elif state is not None:
            query = query.where(TicketRow.state == TicketState(state).value)
        with self.factory() as session:
            rows = list(session.scalars(query.limit(limit)))
            session.expunge_all()
            return rows

    def detail(self, ticket_id: int, incidents: int = 20) -> TicketDetail:
        with self.factory() as session:
            ticket = self._ticket(session, ticket_id)
            events = list(
                session.scalars(
                    select(TicketEventRow)
                    .where(TicketEventRow.ticket_id == ticket_id)
                    .order_by(TicketEventRow.at, TicketEventRow.id)
                )
            )
            recent = list(
                session.scalars(
                    select(IncidentRow)
                    .where(IncidentRow.ticket_id == ticket_id)
                    .order_by(IncidentRow.id.desc())
                    .limit(incidents)
                )
            )
            documents = self._documents(session, ticket_id)
            session.expunge_all()
            return TicketDetail(ticket, events, recent, documents)

    # -- lifecycle ---------------------------------------------------------------

    def comment(self, ticket_id: int, actor: str, text: str) -> None:
        if not text.strip():
            raise DeskError("a comment needs some text")
        with self.factory() as session, session.begin():
            ticket = self._ticket(session, ticket_id)
            add_event(session, ticket, "comment", self.clock(), actor=actor, text=text)

    def assign(self, ticket_id: int, member: str, actor: str, *, team: str | None = None) -> None:
        with self.factory() as session, session.begin():
            ticket = self._active(session, ticket_id)
            self._move(ticket, TicketState.ASSIGNED)
            now = self.clock()
            ticket.assignee, ticket.assigned_at = member, now
            ticket.acknowledged_at = None
            if team is not None:
                ticket.team = team
            add_event(
                session, ticket, "assigned", now, actor=actor, text=member, data={"team": team}
            )

    def start(self, ticket_id: int, actor: str) -> None:
        """The owner (or whoever takes it) starts fixing: the ticket is acknowledged."""
        with self.factory() as session, session.begin():
            ticket = self._active(session, ticket_id)
            now = self.clock()
            if ticket.assignee is None:
                self._move(ticket, TicketState.ASSIGNED)
                ticket.assignee, ticket.assigned_at = actor, now
            self._move(ticket, TicketState.FIXING)
            ticket.acknowledged_at = ticket.acknowledged_at or now
            add_event(session, ticket, "fixing", now, actor=actor)

    def close(self, ticket_id: int, actor: str, reason: str) -> None:
        if not reason.strip():
            raise DeskError("say why the ticket closes (won't fix, duplicate, ...)")
        with self.factory() as session, session.begin():
            ticket = self._ticket(session, ticket_id)
            self._move(ticket, TicketState.CLOSED)
            ticket.waiting_since = None
            add_event(session, ticket, "closed", self.clock(), actor=actor, text=reason)

    def resolve(self, ticket_id: int, actor: str, explanation: str) -> Verification:
        """Resolve with the explanation the merchant will read, once verification passes.

        Raises ``DeskError`` with what still differs when it does not.
        """
        if len(explanation.strip()) < 10:
            raise DeskError(
                "write the explanation the merchant will read: what happened and what was "
                "done (at least a sentence)"
            )
        verification = self.verify(ticket_id)
        if not verification.clean:
            raise DeskError(
                "the ticket's failures are not all repaired yet: "
                + "; ".join(verification.differences[:10])
                + " — replay the ticket (after the fix) and try again"
            )
        with self.factory() as session, session.begin():
            ticket = self._ticket(session, ticket_id)
            self._move(ticket, TicketState.RESOLVED)
            now = self.clock()
            ticket.resolved_at, ticket.resolution = now, explanation.strip()
            ticket.waiting_since = None
            add_event(
                session,
                ticket,
                "resolved",
                now,
                actor=actor,
                text=explanation.strip(),
                data={"verified_documents": verification.documents},
            )
            if self.resolved is not None:
                self.resolved(session, ticket)
        return verification

    # -- waiting on the merchant ----------------------------------------------------

    def wait_on_merchant(self, ticket_id: int, actor: str, text: str) -> None:
        """Pause the ticket's SLA clocks until the merchant replies; ``text`` says what
        they were asked for."""
        if not text.strip():
            raise DeskError("say what the merchant was asked for")
        with self.factory() as session, session.begin():
            ticket = self._ticket(session, ticket_id)
            if not TicketState(ticket.state).active:
                raise DeskError(
                    f"ticket {ticket_id} is {ticket.state}: only an active ticket waits on "
                    "the merchant"
                )
            if ticket.waiting_since is not None:
                raise DeskError(
                    f"ticket {ticket_id} has waited on the merchant since "
                    f"{ticket.waiting_since.isoformat()}; record their reply first"
                )
            now = self.clock()
            ticket.waiting_since = now
            add_event(session, ticket, "waiting", now, actor=actor, text=text.strip())
            if self.asked is not None:
                self.asked(session, ticket, text, now)

    def merchant_replied(self, ticket_id: int, actor: str, text: str = "") -> timedelta | None:
        """The merchant answered: the clocks run again, each pushed later by the plan's
        clock time spent waiting. Returns that time; None when the ticket was not waiting
        (a reply or a reconnect may come in at any time).

        A clock already met (a first response given) or already reported breached stays
        where it is: the pause cannot undo what happened before it."""
        with self.factory() as session, session.begin():
            ticket = self._ticket(session, ticket_id)
            return resume_clocks(session, ticket, self.sla, self.clock(), actor=actor, text=text)

    # -- repair ------------------------------------------------------------------

    def replay(self, ticket_id: int, actor: str, *, retry_only: bool = False) -> ReplayReport:
        """Send exactly the ticket's failed units through again.

        Postings still held or failed are released (a posting waiting to retry is simply
        made due now); quarantined or parked records go back to the inbox; documents held
        for a mapping are let through to planning. Units that have since succeeded are
        left alone, so nothing is posted twice. ``retry_only`` releases postings only
        (a retry after a transient outage, with no fix to the inputs).
        """
        report = ReplayReport()
        with self.factory() as session, session.begin():
            ticket = self._ticket(session, ticket_id)
            now = self.clock()
            subjects = self._subjects(session, ticket_id)
            outbox = Outbox(session, ticket.tenant_id)
            for posting_id in subjects["posting"]:
                report.postings += outbox.retry_now(int(posting_id), now)
            if not retry_only:
                inbox = Inbox(session, ticket.tenant_id, self.clock)
                for record_id in subjects["record"]:
                    row = session.get(InboxRecordRow, int(record_id))
                    if row is not None and row.state in (
                        RecordState.QUARANTINED.value,
                        RecordState.PARKED.value,
                    ):
                        try:
                            inbox.replay(int(record_id))
                        except ValueError as exc:  # an unreadable body: kept for inspection
                            add_event(session, ticket, "replay_skipped", now, text=str(exc))
                            continue
                        report.records += 1
                report.documents += Mappings(session, ticket.tenant_id).release_held(
                    subjects["document"]
                )
            for connection_id in subjects["connection"]:
                status = session.scalar(
                    select(ConnectionRow.status).where(ConnectionRow.id == connection_id)
                )
                if status is not None and status != "active":
                    report.waiting_on_merchant.append(connection_id)
            add_event(
                session,
                ticket,
                "retried" if retry_only else "replayed",
                now,
                actor=actor,
                text=f"{report.postings} posting(s), {report.records} record(s), "
                f"{report.documents} document(s) sent through again",
                data={
                    "postings": report.postings,
                    "records": report.records,
                    "documents": report.documents,
                    "waiting_on_merchant": report.waiting_on_merchant,
                },
            )
        return report

    def verify(self, ticket_id: int) -> Verification:
        """Whether every unit the ticket's incidents name has since gone through, and every
        affected document reconciles: in the books once, as the source has it."""
        result = Verification()
        with self.factory() as session:
            ticket = self._ticket(session, ticket_id)
            subjects = self._subjects(session, ticket_id)
            for posting_id in subjects["posting"]:
                state = session.scalar(
                    select(PostingRow.state).where(PostingRow.id == int(posting_id))
                )
                if state is not None and state != PostingState.POSTED.value:
                    result.differences.append(f"posting {posting_id} is {state}")
            for record_id in subjects["record"]:
                state = session.scalar(
                    select(InboxRecordRow.state).where(InboxRecordRow.id == int(record_id))
                )
                if state in (RecordState.QUARANTINED.value, RecordState.PARKED.value):
                    result.differences.append(f"record {record_id} is still {state}")
                elif state == RecordState.RECEIVED.value:
                    result.differences.append(f"record {record_id} waits to be taken in")
            for connection_id in subjects["connection"]:
                status = session.scalar(
                    select(ConnectionRow.status).where(ConnectionRow.id == connection_id)
                )
                if status is not None and status != "active":
                    result.differences.append(
                        f"connection {connection_id} is {status}: the merchant must reconnect"
                    )
            documents = self._documents(session, ticket_id)
            result.documents = len(documents)
            result.differences += self._reconcile(
                session, ticket.tenant_id, documents, self.destination(ticket.tenant_id)
            )
        return result

    # -- helpers -------------------------------------------------------------------

    def _ticket(self, session: Session, ticket_id: int) -> TicketRow:
        ticket = session.get(TicketRow, ticket_id)
        if ticket is None or (self.tenant_id is not None and ticket.tenant_id != self.tenant_id):
            raise KeyError(f"no ticket {ticket_id}")
        return ticket

    def _active(self, session: Session, ticket_id: int) -> TicketRow:
        ticket = self._ticket(session, ticket_id)
        if not TicketState(ticket.state).active:
            raise DeskError(
                f"ticket {ticket_id} is {ticket.state} and cannot become assigned or fixing; "
                "it reopens by itself if its failure comes back"
            )
        return ticket

    @staticmethod
    def _move(ticket: TicketRow, target: TicketState) -> None:
        current = TicketState(ticket.state)
        if current is target and target is not TicketState.ASSIGNED:
            return
        try:
            check_move(current, target)
        except ValueError as exc:
            raise DeskError(str(exc)) from None
        ticket.state = target.value

    @staticmethod
    def _documents(session: Session, ticket_id: int) -> list[str]:
        return list(
            session.scalars(
                select(TicketDocumentRow.document_id)
                .where(TicketDocumentRow.ticket_id == ticket_id)
                .order_by(TicketDocumentRow.document_id)
            )
        )

    @staticmethod
    def _subjects(session: Session, ticket_id: int) -> dict[str, list[str]]:
        """The units the ticket's incidents name, by type, each once."""
        found: dict[str, list[str]] = defaultdict(list)
        rows = session.scalars(
            select(IncidentRow.subject).where(IncidentRow.ticket_id == ticket_id).distinct()
        )
        for subject in rows:
            kind, _, ident = subject.partition(":")
            if ident and ident not in found[kind]:
                found[kind].append(ident)
        return found

    @staticmethod
    def _reconcile(
        session: Session, tenant_id: str, documents: Sequence[str], destination: str
    ) -> list[str]:
        if not documents:
            return []
        rows = session.execute(
            select(DocumentRow.id, DocumentRow.location_id, DocumentRow.business_day).where(
                owned_by(DocumentRow.tenant_id, tenant_id), DocumentRow.id.in_(list(documents))
            )
        ).all()
        # Each document's current day, and every day a posting was to take it out of (an
        # edit moved it): the books may still hold it there.
        reversed_on = session.execute(
            select(PostingReversalRow.location_id, PostingReversalRow.business_day).where(
                PostingReversalRow.tenant_id == tenant_id,
                PostingReversalRow.destination == destination,
                PostingReversalRow.document_id.in_(list(documents)),
            )
        ).all()
        days: dict[str, set[date]] = defaultdict(set)
        for _, location_id, business_day in rows:
            days[location_id].add(business_day)
        for location_id, business_day in reversed_on:
            days[location_id].add(business_day)
        wanted = set(documents)
        reconciler = Reconciler(
            session, tenant_id, Locations(session, tenant_id).all(), destination=destination
        )
        found: list[str] = []
        differing: set[str] = set()
        for location_id, when in sorted(days.items()):
            results = [reconciler.reconcile(a, b, location_id) for a, b in _runs(when)]
            for result in (r for found_on in results for r in found_on):
                for d in result.documents:
                    if d.document_id in wanted:
                        differing.add(d.document_id)
                        found.append(f"{d.kind} {d.external_id}: {d.reason}")
        posted = set(
            session.scalars(
                select(PostingDocumentRow.document_id)
                .join(PostingRow, PostingRow.id == PostingDocumentRow.posting_id)
                .where(
                    PostingDocumentRow.tenant_id == tenant_id,
                    PostingDocumentRow.destination == destination,
                    PostingDocumentRow.document_id.in_(list(wanted)),
                    PostingRow.state == PostingState.POSTED.value,
                )
            )
        )
        stored = {r[0] for r in rows}
        found += [
            f"document {d} is not in the books yet" for d in sorted(stored - posted - differing)
        ]
        return found


def _runs(days: set[date]) -> list[tuple[date, date]]:
    """``days`` as runs of consecutive days, first and last of each, in order."""
    runs: list[tuple[date, date]] = []
    for day in sorted(days):
        if runs and day == runs[-1][1] + timedelta(days=1):
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def render_span(delta: timedelta) -> str:
    """A span of time to the minute, as people write it: ``2h``, ``1d3h15m``."""
    minutes = int(delta.total_seconds()) // 60
    return render_duration(timedelta(minutes=minutes)) if minutes > 0 else "under a minute"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def resume_clocks(
    session: Session,
    ticket: TicketRow,
    sla: SlaClocks,
    now: datetime,
    *,
    actor: str,
    text: str = "",
) -> timedelta | None:
    """The merchant answered ``ticket``: its SLA clocks run again, each pushed later by the
    plan's clock time spent waiting, and the timeline says so. Returns that time; None
    when the ticket was not waiting.

    A clock already met (a first response given) or already reported breached stays where
    it is: the pause cannot undo what happened before it."""
    since = ticket.waiting_since
    if since is None:
        return None
    paused = sla.paused(ticket.plan, since, now)
    responded = ticket.acknowledged_at is not None or ticket.resolved_at is not None
    if ticket.respond_by is not None and not responded and ticket.respond_breached_at is None:
        ticket.respond_by = sla.extend(ticket.respond_by, since, now, ticket.plan)
    if ticket.resolve_by is not None and ticket.resolve_breached_at is None:
        ticket.resolve_by = sla.extend(ticket.resolve_by, since, now, ticket.plan)
    ticket.waiting_since = None
    what = (
        f"The SLA clocks were paused for {render_span(paused)}"
        if paused
        else "The wait fell outside the plan's hours: the SLA clocks did not move"
    )
    add_event(
        session,
        ticket,
        "resumed",
        now,
        actor=actor,
        text=f"{text.strip()}\n\n{what}." if text.strip() else f"{what}.",
        data={
            "waiting_since": since.isoformat(),
            "paused_seconds": int(paused.total_seconds()),
            "respond_by": _iso(ticket.respond_by),
            "resolve_by": _iso(ticket.resolve_by),
        },
    )
    return paused
