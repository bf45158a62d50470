"""Sending the CRM's messages to clients over SMTP, each at most once.

The same discipline as the merchants' notices (``monitor.notify.delivery``): a message is
claimed (``pending`` to ``sending`` with a lease) in one short transaction, sent with no
transaction open, and its outcome recorded in another. A server that is away puts it
back to pending with backoff; a refusal, or a connection lost after the message was
handed over, fails it, so a client never gets one twice. A client who opted out after
the trigger fired is checked again just before sending, and every message carries the
client's unsubscribe link (RFC 8058 one-click), which ``/unsubscribe/{token}`` honours.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from salesync.monitor.notify.delivery import MailRetry
from salesync.monitor.notify.letters import Letter
from salesync.monitor.notify.mailer import (
    Envelope,
    Mailer,
    MailError,
    MailUnavailableError,
)
from salesync.store.tables import CrmClientRow, CrmMessageRow

PENDING, SENDING, SENT, SUPPRESSED, FAILED = "pending", "sending", "sent", "suppressed", "failed"


class CrmMail:
    def __init__(
        self,
        factory: sessionmaker[Session],
        clock: Callable[[], datetime],
        mailer: Mailer,
        *,
        public_url: str,
        retry: MailRetry | None = None,
    ) -> None:
        self.factory = factory
        self.clock = clock
        self.mailer = mailer
        self.public_url = public_url.rstrip("/")
        self.retry = retry or MailRetry()

    def deliver_due(self, tenant_id: str | None = None, limit: int = 50) -> Counter[str]:
        """Send up to ``limit`` due messages (of one tenant, or all); counts by outcome."""
        outcomes: Counter[str] = Counter()
        outcomes["expired"] = self._expire()
        query = select(CrmMessageRow.id).where(
            CrmMessageRow.state == PENDING, CrmMessageRow.due_at <= self.clock()
        )
        if tenant_id is not None:
            query = query.where(CrmMessageRow.tenant_id == tenant_id)
        with self.factory() as session:
            due = list(
                session.scalars(query.order_by(CrmMessageRow.due_at, CrmMessageRow.id).limit(limit))
            )
        for message_id in due:
            outcomes[self._send(message_id)] += 1
        return outcomes

    def _claim(self, message_id: int) -> tuple[CrmMessageRow, CrmClientRow] | str:
        """The message and its client, now owned by this sender; or what became of it
        instead (taken by another sender, or suppressed: the client opted out)."""
        now = self.clock()
        with self.factory() as session, session.begin():
            claimed = session.execute(
                update(CrmMessageRow)
                .where(
                    CrmMessageRow.id == message_id,
                    CrmMessageRow.state == PENDING,
                    CrmMessageRow.due_at <= now,
                )
                .values(state=SENDING, due_at=now + self.retry.lease)
                .execution_options(synchronize_session=False)
            )
            message = session.get(CrmMessageRow, message_id)
            if getattr(claimed, "rowcount", 0) != 1 or message is None:
                return "taken"
            client = session.get(CrmClientRow, message.client_id) if message.client_id else None
            while client is not None and client.merged_into is not None:
                client = session.get(CrmClientRow, client.merged_into)
            if client is None or message.recipient is None:
                message.state, message.error = FAILED, "the message has no client to go to"
                return FAILED
            if client.opted_out:
                message.state, message.error = SUPPRESSED, f"client {client.id} opted out"
                return SUPPRESSED
            session.expunge_all()
            return message, client

    def _send(self, message_id: int) -> str:
        claimed = self._claim(message_id)
        if isinstance(claimed, str):
            return claimed
        message, client = claimed
        assert message.recipient is not None  # checked when claimed
        link = f"{self.public_url}/unsubscribe/{client.unsubscribe_token}"
        text = f"{message.body}\n\nTo stop these messages: {link}"
        envelope = Envelope(
            recipient=message.recipient,
            message_id=self.mailer.message_id(f"crm-{message.id}"),
            date=self.clock(),
            unsubscribe_url=link,
        )
        try:
            self.mailer.send(self.mailer.compose(Letter.of(message.subject, text), envelope))
        except MailUnavailableError as exc:
            return self._settle(message.id, retry=True, error=str(exc))
        except MailError as exc:
            return self._settle(message.id, retry=False, error=str(exc))
        return self._settle(message.id, retry=False, error=None)

    def _settle(self, message_id: int, *, retry: bool, error: str | None) -> str:
        now = self.clock()
        with self.factory() as session, session.begin():
            row = session.get(CrmMessageRow, message_id)
            if row is None:
                return FAILED
            row.attempts += 1
            row.error = error
            if error is None:
                row.state, row.sent_at = SENT, now
            elif retry and row.attempts < self.retry.max_attempts:
                row.state, row.due_at = PENDING, now + self.retry.delay(row.attempts)
            else:
                row.state = FAILED
            return row.state

    def _expire(self) -> int:
        """Messages whose sender stopped mid-send fail rather than risk a second copy."""
        with self.factory() as session, session.begin():
            result = session.execute(
                update(CrmMessageRow)
                .where(CrmMessageRow.state == SENDING, CrmMessageRow.due_at <= self.clock())
                .values(state=FAILED, error="the sender stopped while sending; not sent again")
                .execution_options(synchronize_session=False)
            )
        return int(getattr(result, "rowcount", 0) or 0)


def opt_out(session: Session, token: str) -> CrmClientRow | None:
    """Opt out the client whose unsubscribe link carries ``token``; None if none does."""
    if not token:
        return None
    row = session.scalar(select(CrmClientRow).where(CrmClientRow.unsubscribe_token == token))
    if row is None:
        return None
    row.opted_out = True
    session.flush()
    return row
