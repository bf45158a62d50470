"""The support loop's own pass: everything that happens to tickets after they open.

Tickets open (and the merchant's notices are queued) in the transaction that records the
failure (``engine.incidents``). What follows needs no failure to trigger it, so the
runner calls ``Monitor.tick`` after each engine pass:

- ``parked``: records that waited too long for their parent (a refund whose sale never
  came) become incidents, once each;
- ``assign``: open tickets get a team by the ownership rules and a member by the team's
  rotation (``routing.Assigner``);
- ``escalate``: tickets nobody acknowledged in time move up their team's escalation;
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
from sqlalchemy.orm import Session, sessionmaker

from salesync.domain.redaction import Redactor
from salesync.engine.inbox import PARKED_TOO_LONG, Inbox
from salesync.engine.incidents import IncidentLog, TicketHook
from salesync.monitor.notify import MailSettings, NoticeReason, Notices
from salesync.monitor.notify.delivery import DeliveryReport, deliver_due
from salesync.monitor.notify.mailer import Mailer
from salesync.monitor.routing import DEFAULT_SUPPORT, Assigner, SupportConfig
from salesync.monitor.trackers import SyncReport, Tracker, TrackerSync
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
        tracker_interval: timedelta = TRACKER_INTERVAL,
        parked_limit: timedelta = PARKED_TOO_LONG,
    ) -> None:
        self.factory = factory
        self.clock = clock
        self.incidents = incidents or IncidentLog(clock)
        self.parked_limit = parked_limit
        self.assigner = Assigner(factory, support, clock)
        self.mailer = mailer or (Mailer(mail) if mail is not None else None)
        self.trackers = (
            TrackerSync(factory, trackers, clock, redactor=redactor) if trackers else None
        )
        self.tracker_interval = tracker_interval
        self._trackers_due: datetime | None = None

    def tick(self) -> MonitorReport:
        report = MonitorReport()
        parts: list[tuple[str, Callable[[MonitorReport], None]]] = [
            ("parked", self._parked),
            ("assign", self._assign),
            ("escalate", self._escalate),
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
