"""Tickets kept in step with their issues in external trackers (GitHub Issues, Jira).

One ``TrackerSync.sync`` pass, for each tracker in turn:

- opens an issue for every ticket that has none (closed tickets are not exported), after
  looking for one an earlier pass made but never linked (it crashed, or the tracker's
  answer was lost), and records the link with a timeline event at once;
- reads each linked issue and its comments and settles the differences by the rules in
  ``settlement``, recording on the ticket's timeline what it changed and who did;
- turns the comments people wrote on the issue into ``comment`` events;
- rewrites the issue's title and text when the ticket's particulars changed.

The link's ``external_state`` is the issue's ``IssueStatus`` as last seen, ``pushed_state``
the ticket state the issue was last brought in line with, and ``synced_at`` when a pass
last changed anything on either side: a pass that finds nothing to do writes nothing.
Closed tickets whose issues are closed too are followed for ``follow_closed`` after that,
then left alone. Work on one ticket that fails is counted and the pass goes on; a tracker
that refuses salesync's credentials or asks it to wait is left until the next pass. No
database transaction is held open across an HTTP call. Passes are meant to run one at a
time (the scheduler's job); two at once could both open an issue for a new ticket.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from salesync.domain.errors import ConflictError, ErrorKind, SyncError, TransientError
from salesync.domain.redaction import Redactor
from salesync.domain.tickets import FixedSla, SlaClocks, TicketState, check_move
from salesync.engine.incidents import add_event, restart_clocks
from salesync.monitor.trackers.content import content_of
from salesync.monitor.trackers.settlement import PUSHED_FOR, Plan, Seen, settle
from salesync.monitor.trackers.tracker import (
    ExternalComment,
    ExternalIssue,
    IssueContent,
    IssueStatus,
    Tracker,
)
from salesync.store.tables import IncidentRow, TicketEventRow, TicketLinkRow, TicketRow

log = structlog.get_logger("salesync.trackers")

FOLLOW_CLOSED = timedelta(days=14)
CLOSED_STATUSES = (IssueStatus.DONE.value, IssueStatus.DROPPED.value)
CHUNK = 500


@dataclass(frozen=True, slots=True)
class TrackerProblem:
    """Work a pass could not do, and why."""

    tracker: str
    ticket_id: int | None
    """None when the whole tracker failed (looking for lost issues)."""
    kind: str
    code: str | None
    message: str


@dataclass(slots=True)
class SyncReport:
    created: int = 0
    """Issues opened."""
    found: int = 0
    """Issues an earlier pass opened but never linked, linked now."""
    pushed: int = 0
    """Issues moved (or told the resolution) because their ticket changed."""
    reopened: int = 0
    """Issues closed in the tracker while salesync still sees the failure, reopened."""
    closed: int = 0
    """Resolved tickets closed because their issue was closed."""
    revived: int = 0
    """Tickets reopened because their issue was reopened."""
    comments: int = 0
    """Comments people wrote on issues, added to tickets' timelines."""
    refreshed: int = 0
    """Issues whose title or text was rewritten."""
    skipped: int = 0
    """Tickets left for the next pass because their tracker stopped answering."""
    errors: list[TrackerProblem] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.errors)


@dataclass(frozen=True, slots=True)
class _Link:
    key: str
    url: str
    seen: Seen
    synced_at: datetime


@dataclass(frozen=True, slots=True)
class _Ticket:
    """A ticket as the pass read it, before any HTTP call."""

    id: int
    state: TicketState
    assigned: bool
    resolution: str | None
    first_seen: datetime
    content: IssueContent
    links: dict[str, _Link]
    comments: frozenset[tuple[str, str]]
    """(tracker, comment id) of external comments already on the timeline."""


def _stops(error: SyncError) -> bool:
    """Whether the tracker will refuse the rest of this pass's work too."""
    if error.kind is ErrorKind.AUTH:
        return True
    return isinstance(error, TransientError) and error.retry_after is not None


class TrackerSync:
    """Keeps tickets and their issues in step (see the module docstring)."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        trackers: Sequence[Tracker],
        clock: Callable[[], datetime],
        *,
        redactor: Redactor | None = None,
        follow_closed: timedelta = FOLLOW_CLOSED,
        sla: SlaClocks | None = None,
    ) -> None:
        """``redactor`` is applied to every text on its way out, over the redaction done
        when it was recorded (give it the secrets ``IncidentLog`` knows); ``sla`` restarts
        the clocks of a ticket its issue reopens (give it the ``IncidentLog``'s)."""
        self.factory = factory
        self.trackers = list(trackers)
        self.clock = clock
        self.redactor = redactor or Redactor.of()
        self.follow_closed = follow_closed
        self.sla: SlaClocks = sla or FixedSla()

    def sync(self, tenant_id: str | None = None) -> SyncReport:
        """One pass over every tracker, for one tenant's tickets or everyone's."""
        report = SyncReport()
        for tracker in self.trackers:
            # Read afresh for each tracker: the one before may have moved tickets.
            self._pass(tracker, self._load(tenant_id), report)
        log.info(
            "tracker_sync",
            tenant=tenant_id,
            created=report.created,
            pushed=report.pushed,
            comments=report.comments,
            failed=report.failed,
        )
        return report

    # -- one tracker ---------------------------------------------------------------

    def _pass(self, tracker: Tracker, tickets: list[_Ticket], report: SyncReport) -> None:
        horizon = self.clock() - self.follow_closed
        due = [t for t in tickets if self._due(t, tracker.name, horizon)]
        unlinked = {t.id: t.first_seen for t in due if tracker.name not in t.links}
        found: dict[int, ExternalIssue] | None = {}
        if unlinked:
            try:
                found = tracker.find(unlinked)
            except SyncError as error:
                self._problem(report, tracker, None, error)
                if _stops(error):
                    report.skipped += len(due)
                    return
                found = None  # opening issues now could duplicate ones made before
        for position, ticket in enumerate(due):
            if ticket.id in unlinked and found is None:
                report.skipped += 1
                continue
            try:
                self._one(tracker, ticket, found or {}, report)
            except SyncError as error:
                self._problem(report, tracker, ticket.id, error)
                if _stops(error):
                    report.skipped += len(due) - position - 1
                    return

    def _due(self, ticket: _Ticket, tracker: str, horizon: datetime) -> bool:
        link = ticket.links.get(tracker)
        if link is None:
            return ticket.state is not TicketState.CLOSED
        settled = (
            ticket.state is TicketState.CLOSED
            and link.seen.pushed is TicketState.CLOSED
            and link.seen.external.closed
        )
        return not settled or link.synced_at >= horizon

    def _one(
        self,
        tracker: Tracker,
        ticket: _Ticket,
        found: dict[int, ExternalIssue],
        report: SyncReport,
    ) -> None:
        link = ticket.links.get(tracker.name)
        comments: list[ExternalComment] = []
        if link is None:
            issue = found.get(ticket.id)
            if issue is None:
                issue = tracker.create(ticket.content)
                report.created += 1
            else:
                report.found += 1
                comments = tracker.comments(issue.key)
            link = self._link(tracker, ticket, issue, created=ticket.id not in found)
        else:
            issue = tracker.read(link.key)
            comments = tracker.comments(link.key)
        plan = settle(
            ticket.state,
            assigned=ticket.assigned,
            resolution=ticket.resolution,
            seen=link.seen,
            issue=issue,
            content=ticket.content,
        )
        actor = issue.changed_by or tracker.name
        wrote = False
        note = self.redactor.text(plan.note) if plan.note is not None else None
        if note is not None and not _said(comments, note):
            tracker.comment(link.key, note)
            wrote = True
        if plan.target is not None:
            before = issue
            issue = tracker.move(link.key, plan.target)
            wrote = wrote or (issue.status, issue.state) != (before.status, before.state)
        refreshed = tracker.refresh(link.key, ticket.content)
        pulled = [c for c in comments if not c.own and (tracker.name, c.id) not in ticket.comments]
        self._record(
            tracker,
            ticket,
            issue=issue,
            actor=actor,
            plan=plan,
            wrote=wrote,
            pulled=pulled,
            refreshed=refreshed,
            report=report,
        )

    # -- the database --------------------------------------------------------------

    def _link(
        self, tracker: Tracker, ticket: _Ticket, issue: ExternalIssue, *, created: bool
    ) -> _Link:
        """Record the ticket's new link (and say so on its timeline) at once."""
        now = self.clock()
        pushed = PUSHED_FOR[issue.status]
        try:
            with self.factory() as session, session.begin():
                row = session.get(TicketRow, ticket.id)
                if row is None:
                    raise ConflictError(f"ticket {ticket.id} vanished while its issue was made")
                session.add(
                    TicketLinkRow(
                        ticket_id=ticket.id,
                        tracker=tracker.name,
                        tenant_id=row.tenant_id,
                        external_key=issue.key,
                        url=issue.url,
                        external_state=issue.status.value,
                        pushed_state=pushed.value,
                        synced_at=now,
                    )
                )
                verb = "Opened" if created else "Found the lost link to"
                add_event(
                    session,
                    row,
                    "tracker_linked",
                    now,
                    text=f"{verb} {tracker.name} issue {issue.key}",
                    data={
                        "tracker": tracker.name,
                        "key": issue.key,
                        "url": issue.url,
                        "found": not created,
                    },
                )
        except IntegrityError:
            raise ConflictError(
                f"ticket {ticket.id} was linked to {tracker.name} by another pass while this "
                f"one made {issue.key}",
                user_message="Two tracker passes ran at once; one issue may be a duplicate.",
                code="linked_twice",
                provider=tracker.name,
                operation="link",
            ) from None
        return _Link(issue.key, issue.url, Seen(issue.status, pushed), now)

    def _record(
        self,
        tracker: Tracker,
        ticket: _Ticket,
        *,
        issue: ExternalIssue,
        actor: str,
        plan: Plan,
        wrote: bool,
        pulled: list[ExternalComment],
        refreshed: bool,
        report: SyncReport,
    ) -> None:
        """Write what the pass did and saw; ``actor`` is who last moved the issue and
        ``wrote`` whether the pass commented on it or moved it."""
        with self.factory() as session, session.begin():
            row = session.get(TicketRow, ticket.id, with_for_update=True)
            stored = session.get(TicketLinkRow, (ticket.id, tracker.name))
            if row is None or stored is None:
                return
            now = self.clock()
            data = {"tracker": tracker.name, "key": issue.key, "url": issue.url}
            pushed = ticket.state
            if plan.pulled is not None and row.state == ticket.state.value:
                self._pull(session, row, plan, actor=actor, data=data, now=now, report=report)
                pushed = plan.ticket
            if plan.closed_outside:
                add_event(
                    session,
                    row,
                    "tracker_closed",
                    now,
                    actor=actor,
                    text=f"Closed {tracker.name} issue {issue.key} while salesync still sees "
                    "the failure; salesync reopened it.",
                    data=data,
                )
                report.reopened += 1
            elif wrote:
                add_event(
                    session,
                    row,
                    "tracker_pushed",
                    now,
                    text=f"{tracker.name} issue {issue.key} is now {issue.state}",
                    data={**data, "status": issue.status.value},
                )
                report.pushed += 1
            for comment in pulled:
                add_event(
                    session,
                    row,
                    "comment",
                    now,
                    actor=comment.author[:120],
                    text=comment.text,
                    data={**data, "comment_id": comment.id, "url": comment.url},
                )
            report.comments += len(pulled)
            report.refreshed += int(refreshed)
            state = (issue.status.value, pushed.value, issue.url)
            if (
                pulled
                or refreshed
                or state
                != (
                    stored.external_state,
                    stored.pushed_state,
                    stored.url,
                )
            ):
                stored.external_state, stored.pushed_state, stored.url = state
                stored.synced_at = now

    def _pull(
        self,
        session: Session,
        row: TicketRow,
        plan: Plan,
        *,
        actor: str,
        data: dict[str, str],
        now: datetime,
        report: SyncReport,
    ) -> None:
        """The ticket takes the change its issue made."""
        check_move(TicketState(row.state), plan.ticket)
        row.state = plan.ticket.value
        where = f"{data['tracker']} issue {data['key']}"
        if plan.pulled == "closed":
            add_event(session, row, "closed", now, actor=actor, text=f"Closed {where}.", data=data)
            report.closed += 1
            return
        row.reopened += 1
        row.opened_at = now
        row.resolved_at = None
        row.acknowledged_at = None
        restart_clocks(session, row, self.sla, now)
        add_event(session, row, "reopened", now, actor=actor, text=f"Reopened {where}.", data=data)
        report.revived += 1

    def _load(self, tenant_id: str | None) -> list[_Ticket]:
        """The tickets a pass may have work for, with their links and latest incidents."""
        horizon = self.clock() - self.follow_closed
        unsettled = select(TicketLinkRow.ticket_id).where(
            or_(
                TicketLinkRow.synced_at >= horizon,
                TicketLinkRow.pushed_state != TicketState.CLOSED.value,
                TicketLinkRow.external_state.not_in(CLOSED_STATUSES),
            )
        )
        query = select(TicketRow).where(
            or_(TicketRow.state != TicketState.CLOSED.value, TicketRow.id.in_(unsettled))
        )
        if tenant_id is not None:
            query = query.where(TicketRow.tenant_id == tenant_id)
        with self.factory() as session:
            rows = list(session.scalars(query.order_by(TicketRow.id)))
            ids = [r.id for r in rows]
            links = _links(session, ids)
            incidents = _latest_incidents(session, ids)
            seen = _known_comments(session, ids)
            return [
                _Ticket(
                    id=r.id,
                    state=TicketState(r.state),
                    assigned=r.assignee is not None,
                    resolution=r.resolution,
                    first_seen=r.first_seen,
                    content=content_of(r, incidents.get(r.id), self.redactor),
                    links=links.get(r.id, {}),
                    comments=frozenset(seen.get(r.id, ())),
                )
                for r in rows
            ]

    def _problem(
        self, report: SyncReport, tracker: Tracker, ticket: int | None, error: SyncError
    ) -> None:
        report.errors.append(
            TrackerProblem(tracker.name, ticket, error.kind.value, error.code, error.message)
        )
        log.warning(
            "tracker_sync_failed",
            tracker=tracker.name,
            ticket=ticket,
            kind=error.kind.value,
            code=error.code,
            error=error.message,
        )


def _said(comments: list[ExternalComment], note: str) -> bool:
    """Whether salesync's latest comment already says ``note`` (a pass that crashed after
    posting it must not post it twice)."""
    own = [c for c in comments if c.own]
    return bool(own) and own[-1].text.strip() == note.strip()


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _links(session: Session, ids: list[int]) -> dict[int, dict[str, _Link]]:
    found: dict[int, dict[str, _Link]] = {}
    for chunk in _chunks(ids):
        for row in session.scalars(select(TicketLinkRow).where(TicketLinkRow.ticket_id.in_(chunk))):
            try:
                seen = Seen(IssueStatus(row.external_state), TicketState(row.pushed_state))
            except ValueError:  # a state written by something else: push and look again
                seen = Seen(IssueStatus.OPEN, TicketState.OPEN)
            found.setdefault(row.ticket_id, {})[row.tracker] = _Link(
                row.external_key, row.url, seen, row.synced_at
            )
    return found


def _latest_incidents(session: Session, ids: list[int]) -> dict[int, IncidentRow]:
    found: dict[int, IncidentRow] = {}
    for chunk in _chunks(ids):
        latest = (
            select(func.max(IncidentRow.id))
            .where(IncidentRow.ticket_id.in_(chunk))
            .group_by(IncidentRow.ticket_id)
        )
        for row in session.scalars(select(IncidentRow).where(IncidentRow.id.in_(latest))):
            if row.ticket_id is not None:
                found[row.ticket_id] = row
    return found


def _known_comments(session: Session, ids: list[int]) -> dict[int, set[tuple[str, str]]]:
    found: dict[int, set[tuple[str, str]]] = {}
    for chunk in _chunks(ids):
        events = session.execute(
            select(TicketEventRow.ticket_id, TicketEventRow.data).where(
                TicketEventRow.ticket_id.in_(chunk), TicketEventRow.event == "comment"
            )
        )
        for ticket_id, data in events:
            if isinstance(data, dict) and data.get("tracker") and data.get("comment_id"):
                found.setdefault(ticket_id, set()).add(
                    (str(data["tracker"]), str(data["comment_id"]))
                )
    return found
