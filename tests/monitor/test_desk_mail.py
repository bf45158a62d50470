"""From failure to the merchant's inbox: a ticket resolved at the desk is explained to
the merchant by e-mail over real SMTP, with no secret in it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.domain.errors import ValidationError
from salesync.monitor.desk import TicketDesk
from salesync.monitor.notify import Contacts, Mailer, deliver_due

from .conftest import TENANT, OpenTicket
from .smtp import SmtpServer, smtp_server

CANARY = "sk_live_canary_7f3a9d2b41"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


def test_a_resolved_ticket_reaches_the_merchant_by_email(
    db: sessionmaker[Session], clock: ManualClock, open_ticket: OpenTicket, smtp: SmtpServer
) -> None:
    with db() as session, session.begin():
        Contacts(session, TENANT).add("owner@acme.test", name="Ann")
    ticket = open_ticket(
        ValidationError(
            f"order 1001 refused; api_key={CANARY}",
            user_message="Order #1001's lines do not add up to its total.",
            code="unbalanced",
            provider="shopify",
            operation="intake:order",
        ),
        subject="record:99",
    )
    desk = TicketDesk(db, clock)
    desk.resolve(ticket.id, "dev@salesync", "The order was corrected and is in your books.")
    report = deliver_due(db, Mailer(smtp.settings()), clock)
    assert report.sent == 1
    [message] = smtp.received
    text = message.part("plain")
    assert "The order was corrected and is in your books." in text
    assert "Order #1001" in text
    assert CANARY not in message.raw.decode(errors="replace")
