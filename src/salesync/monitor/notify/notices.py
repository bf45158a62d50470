"""The notification policy: which notice each contact gets about a ticket, and when.

One notice row per contact, kept whatever happens to it:

- a contact who opted out gets a ``suppressed`` row that is never sent;
- a digest contact's notice waits for the next digest hour in the ticket's location's
  time zone (the tenant's first location when the ticket has none), and delivery folds
  all of that contact's due notices into one email;
- otherwise the notice is due now, unless a notice about the same ticket reached the
  same contact less than their interval ago: then it waits until the interval is over.

A new notice replaces any notice about the same ticket for the same contact still
waiting to be sent (that one becomes ``suppressed``, "superseded"): a merchant who
hears about a ticket hears its latest state, once.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from salesync.domain.documents import DocumentKind
from salesync.domain.redaction import Redactor
from salesync.engine.incidents import add_event
from salesync.monitor.notify import letters
from salesync.monitor.notify.letters import Story
from salesync.monitor.notify.settings import MailSettings
from salesync.store.repositories import TenantScoped
from salesync.store.tables import (
    ContactRow,
    DocumentRow,
    LocationRow,
    NoticeRow,
    TenantRow,
    TicketDocumentRow,
    TicketRow,
)

log = structlog.get_logger("salesync.notify")


class NoticeReason(enum.StrEnum):
    ACTION_NEEDED = "action_needed"
    """Only the merchant can fix it: reconnect, add a mapping."""
    RESOLVED = "resolved"
    """Fixed, and the affected documents replayed."""
    REOPENED = "reopened"
    """A fixed problem came back."""
    DIGEST = "digest"
    """The record of one digest email folding a contact's notices."""
    REQUEST_ANSWER = "request_answer"
    """The answer to a merchant's own support request: sent to whoever asked, contact or
    not, never folded into a digest."""


class NoticeState(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    """Claimed by a sender; see ``delivery``."""
    SENT = "sent"
    DIGESTED = "digested"
    """Folded into a digest email (the ``digest`` row sent)."""
    SUPPRESSED = "suppressed"
    """Never sent: the contact opted out, or a newer notice replaced it."""
    FAILED = "failed"


OPTED_OUT = "opted out"
SUPERSEDED = "superseded"
NO_CONTACT = "no longer a contact"


@dataclass(frozen=True, slots=True)
class Notice:
    id: int
    tenant_id: str
    ticket_id: int | None
    reason: str
    recipient: str
    subject: str
    body: str
    state: str
    due_at: datetime
    sent_at: datetime | None
    attempts: int
    error: str | None

    @classmethod
    def of(cls, row: NoticeRow) -> Notice:
        return cls(
            id=row.id,
            tenant_id=row.tenant_id,
            ticket_id=row.ticket_id,
            reason=row.reason,
            recipient=row.recipient,
            subject=row.subject,
            body=row.body,
            state=row.state,
            due_at=row.due_at,
            sent_at=row.sent_at,
            attempts=row.attempts,
            error=row.error,
        )


def tenant_zone(session: Session, tenant_id: str, location_id: str | None) -> ZoneInfo:
    """The time zone a tenant's merchant reads times in: the location's, else the
    tenant's first location's, else UTC."""
    name: str | None = None
    if location_id is not None:
        name = session.scalar(
            select(LocationRow.timezone).where(
                LocationRow.tenant_id == tenant_id, LocationRow.id == location_id
            )
        )
    if name is None:
        name = session.scalar(
            select(LocationRow.timezone)
            .where(LocationRow.tenant_id == tenant_id)
            .order_by(LocationRow.created_at, LocationRow.id)
            .limit(1)
        )
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown_timezone", tenant=tenant_id, timezone=name)
        return ZoneInfo("UTC")


def next_digest(now: datetime, zone: ZoneInfo, hour: int) -> datetime:
    """The first ``hour``:00 local time after ``now`` (now itself if it is that time)."""
    local = now.astimezone(zone)
    at = datetime.combine(local.date(), time(hour), tzinfo=zone)
    if at < local:
        at = datetime.combine(local.date() + timedelta(days=1), time(hour), tzinfo=zone)
    return at.astimezone(UTC)


class Notices(TenantScoped):
    """Creates a tenant's notices about its tickets (see the module docstring)."""

    def __init__(
        self,
        session: Session,
        tenant_id: str,
        clock: Callable[[], datetime],
        *,
        settings: MailSettings | None = None,
        redactor: Redactor | None = None,
        secrets: Iterable[str | None] = (),
    ) -> None:
        """``redactor`` and ``secrets`` are the last guard on every rendered subject and
        body: the ticket's text was redacted when it was recorded, and this removes
        anything that slipped through (the values in ``secrets`` wherever they appear)."""
        super().__init__(session, tenant_id)
        self.clock = clock
        self.settings = settings or MailSettings()
        self.redactor = (redactor or Redactor.of()).with_secrets(secrets)

    def notify(self, ticket: TicketRow, reason: NoticeReason | str) -> list[Notice]:
        """Create one notice per contact about ``ticket``; returns them."""
        self._own(ticket.tenant_id, f"ticket {ticket.id}")
        why = NoticeReason(reason)
        if why is NoticeReason.DIGEST:
            raise ValueError("digest notices are made by delivery, not about one ticket")
        now = self.clock()
        story = self.story(ticket, why)
        subject = letters.subject(story, self.redactor)
        content = self.redactor.text(letters.content(story))
        contacts = self.session.scalars(
            select(ContactRow)
            .where(ContactRow.tenant_id == self.tenant_id)
            .order_by(ContactRow.email)
        ).all()
        created: list[Notice] = []
        for contact in contacts:
            body = letters.letter(
                name=contact.name,
                tenant=story.tenant,
                content=content,
                unsubscribe_url=self.settings.link(f"unsubscribe/{contact.unsubscribe_token}"),
                redactor=self.redactor,
            )
            row = NoticeRow(
                tenant_id=self.tenant_id,
                ticket_id=ticket.id,
                reason=why.value,
                recipient=contact.email,
                subject=subject,
                body=body,
                state=NoticeState.PENDING.value,
                due_at=now,
                created_at=now,
                attempts=0,
            )
            if contact.opted_out:
                row.state = NoticeState.SUPPRESSED.value
                row.error = OPTED_OUT
            elif contact.digest:
                zone = tenant_zone(self.session, self.tenant_id, ticket.location_id)
                row.due_at = next_digest(now, zone, self.settings.digest_hour)
            else:
                row.due_at = self._after_interval(ticket, contact, now)
            self.session.add(row)
            self.session.flush()
            if contact.opted_out:
                add_event(
                    self.session,
                    ticket,
                    "notice_suppressed",
                    now,
                    text="Not emailed: the contact unsubscribed.",
                    data={"notice": row.id, "recipient": contact.email, "why": OPTED_OUT},
                )
            else:
                self._supersede(ticket, contact.email, row.id, now)
            created.append(Notice.of(row))
        log.info(
            "notices",
            tenant=self.tenant_id,
            ticket=ticket.id,
            reason=why.value,
            contacts=len(created),
        )
        return created

    def story(self, ticket: TicketRow, reason: NoticeReason) -> Story:
        """What a notice about ``ticket`` says, gathered from the database."""
        session = self.session
        tenant = session.get(TenantRow, self.tenant_id)
        location = (
            session.get(LocationRow, (self.tenant_id, ticket.location_id))
            if ticket.location_id
            else None
        )
        zone = tenant_zone(session, self.tenant_id, ticket.location_id)
        provider = letters.provider_name(ticket.provider)
        sync = f"your {provider} sync" if provider else "your sync"
        if location is not None:
            sync += f" for {location.name}"
        reconnect = (
            self.settings.link(f"connections/{ticket.connection_id}/reconnect")
            if ticket.kind == "auth" and ticket.connection_id
            else None
        )
        return Story(
            reason=reason.value,
            tenant=tenant.name if tenant else self.tenant_id,
            sync=sync,
            problem=ticket.user_message,
            affected=self._affected(ticket),
            occurrences=ticket.occurrences,
            first_seen=letters.local_time(ticket.first_seen, zone),
            last_seen=letters.local_time(ticket.last_seen, zone),
            kind=ticket.kind,
            merchant_action=ticket.merchant_action,
            resolution=ticket.resolution,
            help_url=ticket.help_url,
            reconnect_url=reconnect,
            connections_url=self.settings.link("connections"),
            provider=provider,
        )

    def for_ticket(self, ticket_id: int) -> list[Notice]:
        rows = self.session.scalars(
            select(NoticeRow)
            .where(NoticeRow.tenant_id == self.tenant_id, NoticeRow.ticket_id == ticket_id)
            .order_by(NoticeRow.id)
        )
        return [Notice.of(r) for r in rows]

    def all(self) -> list[Notice]:
        rows = self.session.scalars(
            select(NoticeRow).where(NoticeRow.tenant_id == self.tenant_id).order_by(NoticeRow.id)
        )
        return [Notice.of(r) for r in rows]

    def _affected(self, ticket: TicketRow) -> str:
        total = (
            self.session.scalar(
                select(func.count())
                .select_from(TicketDocumentRow)
                .where(TicketDocumentRow.ticket_id == ticket.id)
            )
            or 0
        )
        kinds: dict[str, int] = dict(
            self.session.execute(
                select(DocumentRow.kind, func.count())
                .join(
                    TicketDocumentRow,
                    (TicketDocumentRow.tenant_id == DocumentRow.tenant_id)
                    & (TicketDocumentRow.document_id == DocumentRow.id),
                )
                .where(TicketDocumentRow.ticket_id == ticket.id)
                .group_by(DocumentRow.kind)
            ).all()
        )
        sales = kinds.get(DocumentKind.SALE.value, 0)
        refunds = kinds.get(DocumentKind.REFUND.value, 0)
        return letters.affected_phrase(sales, refunds, total - sales - refunds)

    def _after_interval(self, ticket: TicketRow, contact: ContactRow, now: datetime) -> datetime:
        last = self.session.scalar(
            select(func.max(NoticeRow.sent_at)).where(
                NoticeRow.tenant_id == self.tenant_id,
                NoticeRow.ticket_id == ticket.id,
                NoticeRow.recipient == contact.email,
                NoticeRow.state.in_([NoticeState.SENT.value, NoticeState.DIGESTED.value]),
            )
        )
        sending = self.session.scalar(
            select(func.count()).where(
                NoticeRow.tenant_id == self.tenant_id,
                NoticeRow.ticket_id == ticket.id,
                NoticeRow.recipient == contact.email,
                NoticeRow.state == NoticeState.SENDING.value,
            )
        )
        if sending:  # one is going out right now: count the interval from now
            last = now
        if last is None:
            return now
        return max(now, last + timedelta(minutes=contact.min_interval_minutes))

    def _supersede(self, ticket: TicketRow, recipient: str, newer: int, now: datetime) -> None:
        older = self.session.scalars(
            select(NoticeRow).where(
                NoticeRow.tenant_id == self.tenant_id,
                NoticeRow.ticket_id == ticket.id,
                NoticeRow.recipient == recipient,
                NoticeRow.state == NoticeState.PENDING.value,
                NoticeRow.id != newer,
            )
        ).all()
        for row in older:
            row.state = NoticeState.SUPPRESSED.value
            row.error = SUPERSEDED
            add_event(
                self.session,
                ticket,
                "notice_suppressed",
                now,
                text="Not emailed: a newer notice about this ticket replaces it.",
                data={"notice": row.id, "recipient": recipient, "why": SUPERSEDED, "by": newer},
            )
        self.session.flush()
