"""Merchants' support requests: opened from the dashboard, the API or an e-mail, kept as
received, triaged against the scope of work, and answered or ticketed at once.

An out-of-scope request is answered in the same transaction: its state becomes
``answered`` and an e-mail to the sender with the policy text and the knowledge-base
article is queued as a pending notice, which the monitor's notice delivery sends. An
in-scope request opens a ``request`` ticket for Tier 1 (fingerprint ``request:<id>``),
which the assigner routes like any other open ticket.
"""

from __future__ import annotations

import builtins
import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from salesync.domain.tickets import TicketState
from salesync.engine.incidents import add_event
from salesync.monitor.desk import resume_clocks
from salesync.monitor.notify.contacts import ContactError, normalize_email
from salesync.monitor.notify.letters import SIGNATURE, one_line
from salesync.monitor.notify.notices import NoticeReason, NoticeState
from salesync.store.tables import (
    ContactRow,
    NoticeRow,
    SupportRequestRow,
    TenantRow,
    TicketRow,
    UserRow,
)
from salesync.support.plans import Catalog
from salesync.support.sla import SlaPolicy
from salesync.support.subscriptions import Subscriptions
from salesync.support.triage import Triage, classify

CHANNELS = ("dashboard", "api", "email")
ANSWER_REASON = NoticeReason.REQUEST_ANSWER.value
"""The reason of the notice that answers an out-of-scope request."""
TICKET_KIND = "request"
TICKET_TIER = 1
MESSAGE_LIMIT = 300
"""How much of the request's text a ticket's user message carries."""
MESSAGE_ID_LIMIT = 300


class RequestState(enum.StrEnum):
    ANSWERED = "answered"
    """Out of scope: the policy text and the article went back to the sender."""
    OPEN = "open"
    """In scope: a ticket for Tier 1."""
    CLOSED = "closed"


class RequestError(ValueError):
    """A request that cannot be opened or found; ``problems`` lists every reason."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True, slots=True)
class SupportRequest:
    id: int
    tenant_id: str
    channel: str
    sender: str
    subject: str
    body: str
    received_at: datetime
    category: str | None
    """The scope category's code; None for a general question."""
    category_title: str | None
    in_scope: bool
    state: str
    answer: str | None
    """The policy text sent back to an out-of-scope request."""
    article: str | None
    article_url: str | None
    ticket_id: int | None


class SupportRequests:
    """Opens, triages and lists tenants' support requests in ``session``; links to the
    knowledge base start with ``public_url``."""

    def __init__(self, session: Session, catalog: Catalog, *, public_url: str) -> None:
        self.session = session
        self.catalog = catalog
        self.public_url = public_url.rstrip("/")

    def open(
        self,
        tenant_id: str,
        *,
        channel: str,
        sender: str,
        subject: str,
        body: str,
        at: datetime,
        message_id: str | None = None,
        raw: str | None = None,
    ) -> SupportRequest:
        """Keep the request, triage it, and answer it or open its Tier 1 ticket; a
        message already received (same ``message_id``) returns the first request."""
        address = self._check(tenant_id, channel=channel, sender=sender, subject=subject, body=body)
        if message_id is not None:
            message_id = message_id.strip()[:MESSAGE_ID_LIMIT] or None
            known = self._by_message(tenant_id, message_id)
            if known is not None:
                return self._request(known)
        triage = classify(self.catalog, subject, body)
        row = SupportRequestRow(
            tenant_id=tenant_id,
            channel=channel,
            sender=address,
            subject=one_line(subject),
            body=body,
            message_id=message_id,
            raw=raw,
            received_at=at,
            category=triage.category.code if triage.category else None,
            in_scope=triage.in_scope,
            state=RequestState.OPEN.value,
            triaged_at=at,
        )
        try:
            with self.session.begin_nested():
                self.session.add(row)
                self.session.flush()
        except IntegrityError:
            # The same message, stored by another delivery since the lookup above.
            known = self._by_message(tenant_id, message_id)
            if known is None:
                raise
            return self._request(known)
        if triage.in_scope:
            self._ticket(row, triage, at)
        else:
            self._answer(row, triage, at)
        self.session.flush()
        return self._request(row)

    def retriage(self, tenant_id: str, request_id: int, at: datetime) -> SupportRequest:
        """Classify the request again from its kept subject and body (after the catalog
        changed). The answer already sent and the ticket already opened stay as they are."""
        row = self._row(tenant_id, request_id)
        if row is None:
            raise RequestError([f"no request {request_id} for tenant {tenant_id}"])
        triage = classify(self.catalog, row.subject, row.body)
        row.category = triage.category.code if triage.category else None
        row.in_scope = triage.in_scope
        row.triaged_at = at
        self.session.flush()
        return self._request(row)

    def get(self, tenant_id: str, request_id: int) -> SupportRequest | None:
        row = self._row(tenant_id, request_id)
        return self._request(row) if row is not None else None

    def list(self, tenant_id: str, limit: int | None = 50) -> builtins.list[SupportRequest]:
        """The tenant's requests, newest first (every one when ``limit`` is None)."""
        rows = self.session.scalars(
            select(SupportRequestRow)
            .where(SupportRequestRow.tenant_id == tenant_id)
            .order_by(SupportRequestRow.received_at.desc(), SupportRequestRow.id.desc())
            .limit(limit)
        )
        return [self._request(r) for r in rows]

    def article_url(self, slug: str) -> str:
        return f"{self.public_url}/help/{slug}"

    def _check(self, tenant_id: str, *, channel: str, sender: str, subject: str, body: str) -> str:
        """The sender's address, normalised, or ``RequestError`` naming every problem."""
        problems: builtins.list[str] = []
        if self.session.get(TenantRow, tenant_id) is None:
            problems.append(f"no tenant {tenant_id!r}")
        if channel not in CHANNELS:
            problems.append(f"channel {channel!r} is not one of {', '.join(CHANNELS)}")
        address = ""
        try:
            address = normalize_email(sender)
        except ContactError as error:
            problems.append(f"sender: {error}")
        if not subject.strip() and not body.strip():
            problems.append("the request is empty: give a subject or a message")
        if problems:
            raise RequestError(problems)
        return address

    def _row(self, tenant_id: str, request_id: int) -> SupportRequestRow | None:
        return self.session.scalar(
            select(SupportRequestRow).where(
                SupportRequestRow.tenant_id == tenant_id, SupportRequestRow.id == request_id
            )
        )

    def _by_message(self, tenant_id: str, message_id: str | None) -> SupportRequestRow | None:
        if message_id is None:
            return None
        return self.session.scalar(
            select(SupportRequestRow).where(
                SupportRequestRow.tenant_id == tenant_id,
                SupportRequestRow.message_id == message_id,
            )
        )

    def ask(self, ticket: TicketRow, text: str, at: datetime) -> bool:
        """E-mail the merchant who opened the request behind ``ticket`` what support needs
        from them (the ticket now waits on them); their reply, tagged with the request,
        comes back as a follow-up. False when the ticket is not a request's."""
        row = self.session.scalar(
            select(SupportRequestRow).where(
                SupportRequestRow.tenant_id == ticket.tenant_id,
                SupportRequestRow.ticket_id == ticket.id,
            )
        )
        if row is None:
            return False
        quoted = "\n".join(f"> {line}" for line in _topic(row).splitlines())
        body = "\n\n".join(
            (
                f"Hello {self._name(row.tenant_id, row.sender) or 'there'},",
                f"About your request to salesync support:\n{quoted}",
                f"We need something from you\n--------------------------\n{text.strip()}",
                "Reply to this e-mail (keep the request number in the subject) and we go on "
                "at once.",
                SIGNATURE,
            )
        )
        self._mail(row, f"We need something from you: {_topic(row)} {tag(row.id)}", body, at)
        return True

    def follow_up(
        self, tenant_id: str, request_id: int, *, sender: str, body: str, at: datetime
    ) -> TicketRow | None:
        """The merchant's reply to request ``request_id``: on its ticket's timeline (kept
        whole), and the end of any wait on them. None when the request has no active
        ticket (answered out of scope, or its ticket is closed): the reply is then a new
        request."""
        row = self.session.get(SupportRequestRow, request_id)
        if row is None or row.tenant_id != tenant_id or row.ticket_id is None:
            return None
        ticket = self.session.get(TicketRow, row.ticket_id, with_for_update=True)
        if ticket is None or not TicketState(ticket.state).active:
            return None
        add_event(
            self.session,
            ticket,
            "merchant_reply",
            at,
            actor=sender,
            text=body.strip() or "(an empty reply)",
            data={"request": row.id},
        )
        resume_clocks(self.session, ticket, SlaPolicy(self.catalog), at, actor=sender)
        return ticket

    def _mail(self, row: SupportRequestRow, subject: str, body: str, at: datetime) -> None:
        self.session.add(
            NoticeRow(
                tenant_id=row.tenant_id,
                ticket_id=row.ticket_id,
                reason=ANSWER_REASON,
                recipient=row.sender,
                subject=one_line(subject),
                body=body,
                state=NoticeState.PENDING.value,
                due_at=at,
                created_at=at,
                attempts=0,
            )
        )

    def _answer(self, row: SupportRequestRow, triage: Triage, at: datetime) -> None:
        category = triage.category
        if category is None:  # pragma: no cover - an out-of-scope triage names its category
            raise RuntimeError("an out-of-scope request without a category")
        row.state = RequestState.ANSWERED.value
        row.answer = category.answer
        row.article = category.article
        self._mail(row, f"Re: {_topic(row)} {tag(row.id)}", self._answer_text(row), at)

    def _answer_text(self, row: SupportRequestRow) -> str:
        """The answer as a framed letter (greeting, content, footer), like every notice."""
        quoted = "\n".join(f"> {line}" for line in _topic(row).splitlines())
        parts = [
            f"Hello {self._name(row.tenant_id, row.sender) or 'there'},",
            f"Thank you for writing to salesync support about:\n{quoted}",
            f"Our answer\n----------\n{row.answer}",
        ]
        if row.article:
            parts.append(f"Read more: {self.article_url(row.article)}")
        parts.append(
            f"{SIGNATURE}\nThis answers the request sent to salesync support from {row.sender}."
        )
        return "\n\n".join(parts)

    def _name(self, tenant_id: str, email: str) -> str:
        contact = self.session.get(ContactRow, (tenant_id, email))
        if contact is not None and contact.name:
            return contact.name
        user = self.session.scalar(
            select(UserRow.name).where(UserRow.tenant_id == tenant_id, UserRow.email == email)
        )
        return user or ""

    def _ticket(self, row: SupportRequestRow, triage: Triage, at: datetime) -> None:
        category = triage.category
        plan = Subscriptions(self.session, self.catalog).get(row.tenant_id).plan
        respond_by, resolve_by = SlaPolicy(self.catalog).clocks(plan.code, at)
        ticket = TicketRow(
            tenant_id=row.tenant_id,
            fingerprint=f"request:{row.id}",
            # Not a hashed failure fingerprint: version 0 keeps it apart from those.
            fingerprint_version=0,
            title=one_line(f"Request: {_topic(row)}"),
            state=TicketState.OPEN.value,
            kind=TICKET_KIND,
            code=category.code if category else None,
            user_message=(row.body.strip() or row.subject)[:MESSAGE_LIMIT],
            help_url=self.article_url(category.article) if category and category.article else None,
            occurrences=1,
            first_seen=at,
            last_seen=at,
            first_failed_at=at,
            opened_at=at,
            escalations=0,
            reopened=0,
            merchant_action=False,
            plan=plan.code,
            respond_by=respond_by,
            resolve_by=resolve_by,
            tier=TICKET_TIER,
        )
        self.session.add(ticket)
        self.session.flush()
        data: dict[str, Any] = {
            "request": row.id,
            "channel": row.channel,
            "category": row.category,
            "matched": list(triage.matched),
        }
        add_event(
            self.session,
            ticket,
            "opened",
            at,
            actor=row.sender[:120],
            text=f"Request by {row.channel} from {row.sender}: {_topic(row)}",
            data=data,
        )
        row.ticket_id = ticket.id

    def _request(self, row: SupportRequestRow) -> SupportRequest:
        category = self.catalog.scope_category(row.category) if row.category else None
        return SupportRequest(
            id=row.id,
            tenant_id=row.tenant_id,
            channel=row.channel,
            sender=row.sender,
            subject=row.subject,
            body=row.body,
            received_at=row.received_at,
            category=row.category,
            category_title=category.title if category else None,
            in_scope=row.in_scope,
            state=row.state,
            answer=row.answer,
            article=row.article,
            article_url=self.article_url(row.article) if row.article else None,
            ticket_id=row.ticket_id,
        )


_TAG = re.compile(r"\[request #(\d{1,18})\]")


def tag(request_id: int) -> str:
    """How e-mails about a request name it in their subject, so replies find it."""
    return f"[request #{request_id}]"


def tagged(subject: str) -> int | None:
    """The request an e-mail's subject names with its tag, if any."""
    found = _TAG.search(subject)
    return int(found.group(1)) if found else None


def _topic(row: SupportRequestRow) -> str:
    """What the request is about in one line: its subject, else its first line."""
    if row.subject.strip():
        return row.subject
    first = next((line for line in row.body.splitlines() if line.strip()), "")
    return one_line(first)
