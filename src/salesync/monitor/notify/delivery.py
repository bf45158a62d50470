"""Delivering due notices: each sent at most once, retried while the server is away.

A notice is claimed before it is sent: one short transaction moves it from ``pending``
to ``sending`` with a lease (``due_at`` becomes the lease's end) only if it is still
pending and due, so two workers never both own it; the SMTP conversation then runs with
no transaction open, and a second transaction records the outcome. A worker that dies
between the server's "250 OK" and that second transaction leaves the notice
``sending``; when the lease runs out it becomes ``failed``, never pending again, so the
merchant can at worst miss a notice (visible as failed) but never get one twice. Holding
a row lock across the SMTP call instead would block other writers on SQLite, and a crash
after the send would roll the notice back to pending and send it again.

The server being away (no connection, 4xx, a refused login) puts the notice back to
pending with exponential backoff, up to ``MailRetry.max_attempts``; a 5xx refusal of the
sender, recipient or message fails it at once, as does a connection lost after the
message was handed over (the server may have taken it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from salesync.domain.redaction import Redactor
from salesync.engine.incidents import add_event
from salesync.monitor.notify import letters
from salesync.monitor.notify.letters import Item, Letter
from salesync.monitor.notify.mailer import (
    Envelope,
    Mailer,
    MailError,
    MailUnavailableError,
)
from salesync.monitor.notify.notices import NO_CONTACT, OPTED_OUT, NoticeReason, NoticeState
from salesync.store.tables import ContactRow, NoticeRow, TenantRow, TicketRow

log = structlog.get_logger("salesync.notify")

INTERRUPTED = "the sender stopped while sending; not sent again so it cannot arrive twice"


@dataclass(frozen=True, slots=True)
class MailRetry:
    """Exponential backoff for a mail server that is away, bounded by attempts."""

    max_attempts: int = 8
    base: timedelta = timedelta(minutes=1)
    cap: timedelta = timedelta(hours=1)
    lease: timedelta = timedelta(minutes=10)
    """How long a sender owns a claimed notice: well beyond one SMTP conversation."""

    def delay(self, attempts: int) -> timedelta:
        return min(self.cap, self.base * (1 << max(attempts - 1, 0)))


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    sent: int = 0
    """Emails sent for one notice each."""
    digests: int = 0
    """Digest emails sent."""
    folded: int = 0
    """Notices those digests listed."""
    retrying: int = 0
    failed: int = 0
    suppressed: int = 0


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: int
    ticket_id: int | None
    subject: str
    body: str


@dataclass(frozen=True, slots=True)
class _Claim:
    tenant_id: str
    tenant: str
    recipient: str
    name: str
    token: str | None
    """The contact's unsubscribe token; None for a reply to a request."""
    digest: bool
    notices: tuple[_Claimed, ...]


def deliver_due(
    factory: sessionmaker[Session],
    mailer: Mailer,
    clock: Callable[[], datetime],
    limit: int = 100,
    *,
    retry: MailRetry | None = None,
) -> DeliveryReport:
    """Send the notices that are due, the ``limit`` oldest first, each in its own
    transactions (see the module docstring). A digest contact's email folds all of
    their due notices, also those beyond ``limit``."""
    policy = retry or MailRetry()
    counts: Counter[str] = Counter()
    expired = _expire(factory, clock)
    if expired:
        counts["failed"] += expired
    with factory() as session:
        due = session.execute(
            select(NoticeRow.id, NoticeRow.tenant_id, NoticeRow.recipient)
            .where(
                NoticeRow.state == NoticeState.PENDING.value,
                NoticeRow.due_at <= clock(),
            )
            .order_by(NoticeRow.due_at, NoticeRow.id)
            .limit(limit)
        ).all()
    handled: set[int] = set()
    for notice_id, tenant_id, recipient in due:
        if notice_id in handled:
            continue
        with factory() as session, session.begin():
            claim = _claim(
                session,
                clock(),
                policy=policy,
                notice_id=notice_id,
                tenant_id=tenant_id,
                recipient=recipient,
                counts=counts,
            )
        if claim is None:
            handled.add(notice_id)
            continue
        handled.update(n.id for n in claim.notices)
        _send(factory, mailer, clock=clock, policy=policy, claim=claim, counts=counts)
    report = DeliveryReport(**counts)
    if any(counts.values()):
        log.info("notices_delivered", **counts)
    return report


def _claim(
    session: Session,
    now: datetime,
    *,
    policy: MailRetry,
    notice_id: int,
    tenant_id: str,
    recipient: str,
    counts: Counter[str],
) -> _Claim | None:
    reason = session.scalar(select(NoticeRow.reason).where(NoticeRow.id == notice_id))
    if reason == NoticeReason.REQUEST_ANSWER.value:
        return _reply_claim(
            session,
            now,
            policy=policy,
            notice_id=notice_id,
            tenant_id=tenant_id,
            recipient=recipient,
        )
    contact = session.get(ContactRow, (tenant_id, recipient))
    if contact is None or contact.opted_out:
        if _take(session, notice_id, now, NoticeState.SUPPRESSED, now):
            row = session.get(NoticeRow, notice_id)
            if row is not None:
                row.error = NO_CONTACT if contact is None else OPTED_OUT
                _event(
                    session,
                    row.ticket_id,
                    "notice_suppressed",
                    now,
                    text="Not emailed: the contact unsubscribed before it was sent.",
                    data={"notice": notice_id, "recipient": recipient, "why": row.error},
                )
                counts["suppressed"] += 1
        return None
    ids = [notice_id]
    if contact.digest:
        ids = list(
            session.scalars(
                select(NoticeRow.id)
                .where(
                    NoticeRow.tenant_id == tenant_id,
                    NoticeRow.recipient == recipient,
                    NoticeRow.state == NoticeState.PENDING.value,
                    NoticeRow.reason != NoticeReason.DIGEST.value,
                    NoticeRow.due_at <= now,
                )
                .order_by(NoticeRow.id)
            )
        )
    lease = now + policy.lease
    claimed = [i for i in ids if _take(session, i, now, NoticeState.SENDING, lease)]
    if not claimed:
        return None
    rows = session.scalars(
        select(NoticeRow).where(NoticeRow.id.in_(claimed)).order_by(NoticeRow.id)
    ).all()
    tenant = session.get(TenantRow, tenant_id)
    return _Claim(
        tenant_id=tenant_id,
        tenant=tenant.name if tenant else tenant_id,
        recipient=recipient,
        name=contact.name,
        token=contact.unsubscribe_token,
        digest=contact.digest,
        notices=tuple(_Claimed(r.id, r.ticket_id, r.subject, r.body) for r in rows),
    )


def _reply_claim(
    session: Session,
    now: datetime,
    *,
    policy: MailRetry,
    notice_id: int,
    tenant_id: str,
    recipient: str,
) -> _Claim | None:
    """A reply goes to whoever asked, on its own, whatever their notice settings."""
    if not _take(session, notice_id, now, NoticeState.SENDING, now + policy.lease):
        return None
    row = session.get(NoticeRow, notice_id)
    tenant = session.get(TenantRow, tenant_id)
    if row is None:
        return None
    return _Claim(
        tenant_id=tenant_id,
        tenant=tenant.name if tenant else tenant_id,
        recipient=recipient,
        name="",
        token=None,
        digest=False,
        notices=(_Claimed(row.id, row.ticket_id, row.subject, row.body),),
    )


def _take(
    session: Session, notice_id: int, now: datetime, state: NoticeState, due_at: datetime
) -> bool:
    """Move the notice out of ``pending`` if it still is pending and due."""
    result = session.execute(
        update(NoticeRow)
        .where(
            NoticeRow.id == notice_id,
            NoticeRow.state == NoticeState.PENDING.value,
            NoticeRow.due_at <= now,
        )
        .values(state=state.value, due_at=due_at)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


def _letter(claim: _Claim, unsubscribe_url: str | None) -> Letter:
    guard = Redactor.of()
    if not claim.digest:
        notice = claim.notices[0]
        return Letter.of(letters.one_line(guard.text(notice.subject)), guard.text(notice.body))
    return letters.digest(
        name=claim.name,
        tenant=claim.tenant,
        items=[Item(n.subject, letters.unframe(n.body)) for n in claim.notices],
        unsubscribe_url=unsubscribe_url or "",  # a digest is a contact's: it has a token
        redactor=guard,
    )


def _send(
    factory: sessionmaker[Session],
    mailer: Mailer,
    *,
    clock: Callable[[], datetime],
    policy: MailRetry,
    claim: _Claim,
    counts: Counter[str],
) -> None:
    unsubscribe_url = (
        mailer.settings.link(f"unsubscribe/{claim.token}") if claim.token is not None else None
    )
    letter = _letter(claim, unsubscribe_url)
    first = claim.notices[0].id
    key = f"digest.{first}" if claim.digest else f"notice.{first}"
    message = mailer.compose(
        letter,
        Envelope(
            recipient=claim.recipient,
            message_id=mailer.message_id(key),
            date=clock(),
            unsubscribe_url=unsubscribe_url,
        ),
    )
    try:
        mailer.send(message)
    except MailError as exc:
        with factory() as session, session.begin():
            _failed(
                session,
                clock(),
                policy=policy,
                notices=claim.notices,
                error=exc,
                counts=counts,
            )
        return
    with factory() as session, session.begin():
        _sent(session, clock(), claim, letter)
    if claim.digest:
        counts["digests"] += 1
        counts["folded"] += len(claim.notices)
    else:
        counts["sent"] += 1


def _sent(session: Session, now: datetime, claim: _Claim, letter: Letter) -> None:
    digest_id: int | None = None
    if claim.digest:
        digest = NoticeRow(
            tenant_id=claim.tenant_id,
            ticket_id=None,
            reason=NoticeReason.DIGEST.value,
            recipient=claim.recipient,
            subject=letter.subject,
            body=letter.text,
            state=NoticeState.SENT.value,
            due_at=now,
            created_at=now,
            sent_at=now,
            attempts=1,
        )
        session.add(digest)
        session.flush()
        digest_id = digest.id
    state = NoticeState.DIGESTED if claim.digest else NoticeState.SENT
    for notice in claim.notices:
        row = session.get(NoticeRow, notice.id)
        if row is None:
            continue
        row.state = state.value
        row.sent_at = now
        row.attempts += 1
        row.error = None
        data: dict[str, Any] = {"notice": row.id, "recipient": row.recipient}
        if digest_id is not None:
            data["digest"] = digest_id
        _event(
            session,
            row.ticket_id,
            "notice_sent",
            now,
            text=f"Emailed the merchant{' in the daily digest' if claim.digest else ''}: "
            f"{row.subject}",
            data=data,
        )


def _failed(
    session: Session,
    now: datetime,
    *,
    policy: MailRetry,
    notices: Sequence[_Claimed],
    error: MailError,
    counts: Counter[str],
) -> None:
    for notice in notices:
        row = session.get(NoticeRow, notice.id)
        if row is None:
            continue
        row.attempts += 1
        row.error = str(error)
        if isinstance(error, MailUnavailableError) and row.attempts < policy.max_attempts:
            row.state = NoticeState.PENDING.value
            row.due_at = now + policy.delay(row.attempts)
            counts["retrying"] += 1
            continue
        row.state = NoticeState.FAILED.value
        counts["failed"] += 1
        _event(
            session,
            row.ticket_id,
            "notice_failed",
            now,
            text=f"Could not email the merchant: {error}",
            data={"notice": row.id, "recipient": row.recipient, "attempts": row.attempts},
        )


def _expire(factory: sessionmaker[Session], clock: Callable[[], datetime]) -> int:
    """Fail the notices whose sender's lease ran out (see the module docstring)."""
    with factory() as session, session.begin():
        now = clock()
        rows = session.scalars(
            select(NoticeRow).where(
                NoticeRow.state == NoticeState.SENDING.value, NoticeRow.due_at < now
            )
        ).all()
        for row in rows:
            row.state = NoticeState.FAILED.value
            row.error = INTERRUPTED
            _event(
                session,
                row.ticket_id,
                "notice_failed",
                now,
                text="Not emailed again: the sender stopped while sending it.",
                data={"notice": row.id, "recipient": row.recipient},
            )
        return len(rows)


def _event(
    session: Session,
    ticket_id: int | None,
    event: str,
    at: datetime,
    *,
    text: str,
    data: dict[str, Any],
) -> None:
    if ticket_id is None:
        return
    ticket = session.get(TicketRow, ticket_id)
    if ticket is not None:
        add_event(session, ticket, event, at, text=text, data=data)
