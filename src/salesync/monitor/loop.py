"""The support loop's own pass: everything that happens to tickets after they open.

Tickets open (and the merchant's notices are queued) in the transaction that records the
failure (``engine.incidents``). What follows needs no failure to trigger it, so the
runner calls ``Monitor.tick`` after each engine pass:

- ``parked``: records that waited too long for their parent (a refund whose sale never
  came) become incidents, once each;
- ``assign``: open tickets get a team by the ownership rules and a member by the team's
  rotation (``routing.Assigner``);
- ``escalate``: tickets nobody acknowledged in time move up their team's escalation;
- ``breaches``: an SLA clock that ran out (no first response by ``respond_by``, not
  resolved by ``resolve_by``) is reported once per clock and ticket, as an
  ``sla_breached`` event the staff queue shows; a ticket waiting on the merchant has its
  clocks paused and is never reported;
- ``billing``: developer-hour ledgers granted and lapsed at renewals and plan changes,
  and every invoice that has come due issued (both idempotent, so every pass may run them);
- ``web_connector``: a QuickBooks Web Connector that stopped checking in becomes an
  incident and a ticket for the merchant, once per silence (``monitor.webconnector``);
- ``deliver``: notices that are due are e-mailed (only when a mail server is configured:
  without one they wait, visible in the API, and go out once it is);
- ``trackers``: tickets are kept in step with their GitHub or Jira issues, at most once
  every ``tracker_interval`` (their APIs have their own limits, and people there change
  things at human speed).

Each part commits its own work and one failing does not stop the others: a mail server
that is down leaves assignment running. A part that fails is logged and reported; it is
tried again on the next pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, sessionmaker

from salesync.domain.redaction import Redactor
from salesync.domain.tickets import TicketState
from salesync.engine.inbox import PARKED_TOO_LONG, Inbox
from salesync.engine.incidents import IncidentLog, TicketHook, add_event
from salesync.monitor.desk import TicketDesk, render_span, resolved_hook
from salesync.monitor.notify import MailSettings, NoticeReason, Notices
from salesync.monitor.notify.delivery import DeliveryReport, deliver_due
from salesync.monitor.notify.mailer import Mailer
from salesync.monitor.routing import DEFAULT_SUPPORT, Assigner, SupportConfig
from salesync.monitor.routing.assigner import TierGate
from salesync.monitor.trackers import SyncReport, Tracker, TrackerSync
from salesync.monitor.webconnector import WebConnectorWatch
from salesync.store.repositories import Tenants
from salesync.store.tables import TicketRow

log = structlog.get_logger("salesync.monitor")

TRACKER_INTERVAL = timedelta(minutes=1)


@dataclass(slots=True)
class MonitorReport:
    parked: int = 0
    """Records newly reported for waiting too long for their parent."""
    assigned: int = 0
    unrouted: int = 0
    """Open tickets no ownership rule matched: they wait for a person."""
    escalated: int = 0
    breached: int = 0
    """SLA clocks newly reported as run out (a ticket's two clocks count twice)."""
    hour_entries: int = 0
    """Developer-hour grants and lapses written."""
    invoiced: int = 0
    """Invoices issued."""
    silent_web_connectors: int = 0
    """QuickBooks Web Connectors newly reported for not checking in."""
    web_connectors_back: int = 0
    """Silence tickets resolved because their Web Connector checked in again."""
    delivered: DeliveryReport | None = None
    """None when no mail server is configured."""
    trackers: SyncReport | None = None
    """None when no tracker is configured or it was not its turn."""
    failed: dict[str, str] = field(default_factory=dict)
    """Part -> what went wrong, for the parts that failed this pass."""


def notice_hook(
    clock: Callable[[], datetime],
    settings: MailSettings | None = None,
    *,
    redactor: Redactor | None = None,
) -> TicketHook:
    """The ``IncidentLog.on_ticket`` that queues the merchant's notices: a ticket only
    the merchant can fix asks them for it as it opens; a ticket that comes back after it
    was resolved says so (they were told it was fixed)."""

    def queue(session: Session, ticket: TicketRow, change: str) -> None:
        if change == "opened" and ticket.merchant_action:
            reason = NoticeReason.ACTION_NEEDED
        elif change == "reopened":
            reason = NoticeReason.REOPENED
        else:
            return
        Notices(session, ticket.tenant_id, clock, settings=settings, redactor=redactor).notify(
            ticket, reason
        )

    return queue


class Monitor:
    """One pass over the support loop's timed work (see the module docstring)."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        clock: Callable[[], datetime],
        *,
        support: SupportConfig = DEFAULT_SUPPORT,
        mail: MailSettings | None = None,
        mailer: Mailer | None = None,
        trackers: Sequence[Tracker] = (),
        redactor: Redactor | None = None,
        incidents: IncidentLog | None = None,
        tiers: TierGate | None = None,
        upkeep: Callable[[], tuple[int, int]] | None = None,
        tracker_interval: timedelta = TRACKER_INTERVAL,
        parked_limit: timedelta = PARKED_TOO_LONG,
    ) -> None:
        self.factory = factory
        self.clock = clock
        self.incidents = incidents or IncidentLog(clock)
        self.parked_limit = parked_limit
        self.assigner = Assigner(factory, support, clock, tiers=tiers)
        self.upkeep = upkeep
        """Brings hour ledgers and invoices up to date: (entries written, invoices issued)."""
        self.mailer = mailer or (Mailer(mail) if mail is not None else None)
        self.trackers = (
            TrackerSync(factory, trackers, clock, redactor=redactor, sla=self.incidents.sla)
            if trackers
            else None
        )
        self.tracker_interval = tracker_interval
        self._trackers_due: datetime | None = None
        self.web_connector = WebConnectorWatch(
            factory,
            clock,
            self.incidents,
            desk=TicketDesk(
                factory,
                clock,
                resolved=resolved_hook(clock, mail, redactor=redactor),
                sla=self.incidents.sla,
            ),
        )

    def tick(self) -> MonitorReport:
        report = MonitorReport()
        parts: list[tuple[str, Callable[[MonitorReport], None]]] = [
            ("parked", self._parked),
            ("assign", self._assign),
            ("escalate", self._escalate),
            ("breaches", self._breaches),
            ("billing", self._billing),
            ("web_connector", self._web_connector),
            ("deliver", self._deliver),
            ("trackers", self._sync_trackers),
        ]
        for name, part in parts:
            try:
                part(report)
            except Exception as exc:  # the next pass tries again; the rest goes on
                report.failed[name] = f"{type(exc).__name__}: {exc}"
                log.exception("monitor_part_failed", part=name)
        return report

    def _parked(self, report: MonitorReport) -> None:
        with self.factory() as session:
            tenants = [t.id for t in Tenants(session).all()]
        for tenant in tenants:
            with self.factory() as session, session.begin():
                inbox = Inbox(session, tenant, self.clock, incidents=self.incidents)
                report.parked += inbox.report_overdue(self.parked_limit)

    def _assign(self, report: MonitorReport) -> None:
        done = self.assigner.assign_open()
        report.assigned = len(done.assigned)
        report.unrouted = len(done.unrouted)

    def _escalate(self, report: MonitorReport) -> None:
        report.escalated = len(self.assigner.escalate_due().escalated)

    def _breaches(self, report: MonitorReport) -> None:
        now = self.clock()
        unanswered = and_(
            TicketRow.respond_breached_at.is_(None),
            TicketRow.respond_by < now,
            TicketRow.acknowledged_at.is_(None),
            TicketRow.resolved_at.is_(None),
        )
        unresolved = and_(TicketRow.resolve_breached_at.is_(None), TicketRow.resolve_by < now)
        query = (
            select(TicketRow)
            .where(
                TicketRow.state.in_([s.value for s in TicketState if s.active]),
                TicketRow.waiting_since.is_(None),
                or_(unanswered, unresolved),
            )
            .order_by(TicketRow.id)
            # A second monitor skips the tickets this one is reporting: one alert each.
            .with_for_update(skip_locked=True)
        )
        with self.factory() as session, session.begin():
            for ticket in session.scalars(query):
                report.breached += _report_breaches(session, ticket, now)

    def _billing(self, report: MonitorReport) -> None:
        if self.upkeep is not None:
            report.hour_entries, report.invoiced = self.upkeep()

    def _web_connector(self, report: MonitorReport) -> None:
        report.silent_web_connectors = len(self.web_connector.check())
        report.web_connectors_back = len(self.web_connector.settle())

    def _deliver(self, report: MonitorReport) -> None:
        if self.mailer is not None:
            report.delivered = deliver_due(self.factory, self.mailer, self.clock)

    def _sync_trackers(self, report: MonitorReport) -> None:
        if self.trackers is None:
            return
        now = self.clock()
        if self._trackers_due is not None and now < self._trackers_due:
            return
        self._trackers_due = now + self.tracker_interval
        report.trackers = self.trackers.sync()


_CLOCKS = {"respond": "first response", "resolve": "resolution"}


def _report_breaches(session: Session, ticket: TicketRow, now: datetime) -> int:
    """Mark and report each of the ticket's clocks that ran out; how many did."""
    due = []
    responded = ticket.acknowledged_at is not None or ticket.resolved_at is not None
    if ticket.respond_breached_at is None and not responded:
        due.append(("respond", ticket.respond_by))
    if ticket.resolve_breached_at is None:
        due.append(("resolve", ticket.resolve_by))
    count = 0
    for clock, by in due:
        if by is None or by >= now:
            continue
        late = now - by
        if clock == "respond":
            ticket.respond_breached_at = now
        else:
            ticket.resolve_breached_at = now
        text = (
            f"The {_CLOCKS[clock]} is overdue by {render_span(late)} on the {ticket.plan} "
            f"plan (due {by.isoformat(timespec='minutes')})."
        )
        data = {
            "clock": clock,
            "due": by.isoformat(),
            "late_seconds": int(late.total_seconds()),
            "plan": ticket.plan,
            "assignee": ticket.assignee,
        }
        add_event(session, ticket, "sla_breached", now, text=text, data=data)
        log.warning(
            "sla_breached",
            ticket=ticket.id,
            tenant=ticket.tenant_id,
            clock=clock,
            due=by.isoformat(),
            late_seconds=data["late_seconds"],
            plan=ticket.plan,
            assignee=ticket.assignee,
        )
        count += 1
    return count
