"""Support requests by e-mail: real SMTP to the inbound server, which opens a request for
a merchant's mail and refuses everything else with a reply saying why."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.monitor.desk import TicketDesk
from salesync.monitor.notify import Contacts
from salesync.store.tables import (
    NoticeRow,
    SupportRequestRow,
    TicketEventRow,
    TicketRow,
    UserRow,
)
from salesync.support.inbound import (
    InboundMail,
    InboundServer,
    InboundSettings,
    read_mail,
    strip_tags,
)
from salesync.support.plans import Catalog
from salesync.support.service import SupportService
from salesync.support.sla import SlaPolicy

from .conftest import START, TENANT
from monitor.smtp import HOST, free_port

SUPPORT = "help@salesync.example"
ANN = "ann@acme.test"
PUBLIC_URL = "https://app.salesync.test"


@pytest.fixture
def inbound(
    db: sessionmaker[Session], tiered: Catalog, clock: ManualClock
) -> Iterator[InboundServer]:
    with db() as session, session.begin():
        Contacts(session, TENANT).add(ANN, name="Ann")
    settings = InboundSettings(address=SUPPORT, host=HOST, port=free_port())
    handler = InboundMail(db, tiered, settings, clock, public_url=PUBLIC_URL)
    with InboundServer(handler) as server:
        yield server


def _mail(sender: str, subject: str, text: str, *, message_id: str = "<r1@acme.test>") -> bytes:
    message = EmailMessage()
    message["From"] = f"Ann <{sender}>"
    message["To"] = SUPPORT
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message.set_content(text)
    return message.as_bytes()


def _send(server: InboundServer, sender: str, recipient: str, raw: bytes) -> None:
    settings = server.handler.settings
    with smtplib.SMTP(settings.host, settings.port, timeout=10) as smtp:
        smtp.sendmail(sender, [recipient], raw)


def _requests(db: sessionmaker[Session]) -> list[SupportRequestRow]:
    with db() as session:
        rows = list(session.scalars(select(SupportRequestRow).order_by(SupportRequestRow.id)))
        session.expunge_all()
        return rows


def test_mail_from_a_contact_becomes_a_request(
    db: sessionmaker[Session], inbound: InboundServer
) -> None:
    """A contact's mail is stored as an e-mail request with its Message-ID and raw text."""
    raw = _mail("ANN@Acme.test", "Web Connector", "Can you reinstall the Web Connector for me?")
    _send(inbound, "ann@acme.test", SUPPORT, raw)

    [request] = _requests(db)
    assert (request.tenant_id, request.channel, request.sender) == (TENANT, "email", ANN)
    assert (request.subject, request.message_id) == ("Web Connector", "<r1@acme.test>")
    assert request.body == "Can you reinstall the Web Connector for me?"
    assert request.raw is not None
    assert "Message-ID: <r1@acme.test>" in request.raw
    assert (request.state, request.category) == ("answered", "quickbooks_desktop_install")
    assert request.received_at == START
    with db() as session:
        notice = session.scalars(select(NoticeRow)).one()
        assert notice.recipient == ANN
        assert f"{PUBLIC_URL}/help/installing-quickbooks-desktop" in notice.body


def test_the_same_message_delivered_twice_is_one_request(
    db: sessionmaker[Session], inbound: InboundServer
) -> None:
    """A sender's server retrying a message it already handed over opens no second one."""
    raw = _mail(ANN, "Errors", "Why did the sync fail?")
    _send(inbound, ANN, SUPPORT, raw)
    _send(inbound, ANN, SUPPORT, raw)
    assert len(_requests(db)) == 1


def test_mail_from_a_merchant_user_becomes_their_tenants_request(
    db: sessionmaker[Session], inbound: InboundServer
) -> None:
    """A merchant user who is not a contact writes for the tenant they belong to."""
    with db() as session, session.begin():
        session.add(
            UserRow(
                id="u-bob",
                email="bob@acme.test",
                name="Bob",
                password_hash="-",  # noqa: S106 - never signs in: no password to check
                role="bookkeeper",
                tenant_id=TENANT,
                created_at=START,
            )
        )
    _send(inbound, "bob@acme.test", SUPPORT, _mail("Bob@acme.test", "Mapping", "map tax?"))
    [request] = _requests(db)
    assert (request.tenant_id, request.sender, request.state) == (TENANT, "bob@acme.test", "open")


def test_mail_from_a_stranger_is_refused(db: sessionmaker[Session], inbound: InboundServer) -> None:
    """A sender on no account gets a 550 saying to write from the account's address."""
    raw = _mail("eve@elsewhere.test", "Hi", "Please help")
    with pytest.raises(smtplib.SMTPDataError) as raised:
        _send(inbound, "eve@elsewhere.test", SUPPORT, raw)
    assert raised.value.smtp_code == 550
    assert raised.value.smtp_error.decode() == (
        "5.7.1 <eve@elsewhere.test> is not the address of a salesync account; "
        "write from the address on your account"
    )
    assert _requests(db) == []


def test_mail_to_another_recipient_is_refused(
    db: sessionmaker[Session], inbound: InboundServer
) -> None:
    """Only the support address takes mail: any other recipient gets a 550 naming it."""
    with pytest.raises(smtplib.SMTPRecipientsRefused) as raised:
        _send(inbound, ANN, "sales@salesync.example", _mail(ANN, "Hi", "Please help"))
    code, reply = raised.value.recipients["sales@salesync.example"]
    assert code == 550
    assert b"write to help@salesync.example" in reply
    assert _requests(db) == []


def test_a_message_that_cannot_be_stored_is_deferred(tiered: Catalog, clock: ManualClock) -> None:
    """A database that is away gets a 451, so the sender's server tries again later."""
    broken = sessionmaker(create_engine("sqlite:////nonexistent/folder/salesync.db"))
    settings = InboundSettings(address=SUPPORT)
    handler = InboundMail(broken, tiered, settings, clock, public_url=PUBLIC_URL)
    reply = handler.receive(_mail(ANN, "Hi", "Please help"), ANN)
    assert reply.startswith("451 ")


def test_automatic_replies_open_no_request(
    db: sessionmaker[Session], tiered: Catalog, clock: ManualClock
) -> None:
    """An out-of-office reply is accepted but not answered, so no loop of answers starts."""
    with db() as session, session.begin():
        Contacts(session, TENANT).add(ANN)
    message = EmailMessage()
    message["From"] = ANN
    message["Subject"] = "Out of office"
    message["Auto-Submitted"] = "auto-replied"
    message.set_content("I am away until Monday.")
    handler = InboundMail(
        db, tiered, InboundSettings(address=SUPPORT), clock, public_url=PUBLIC_URL
    )
    assert handler.receive(message.as_bytes()).startswith("250 ")
    assert _requests(db) == []


def test_an_html_only_message_is_read_without_its_tags() -> None:
    """With no plain-text part, the HTML part's text is the request's body."""
    message = EmailMessage()
    message["From"] = "Ann <ann@acme.test>"
    message["Subject"] = "  Help   with mapping "
    message.set_content(
        "<html><head><style>p{}</style></head><body><p>How do I <b>map</b> tax?</p>"
        "<p>Thanks &amp; regards</p><script>x()</script></body></html>",
        subtype="html",
    )
    mail = read_mail(message.as_bytes())
    assert (mail.sender, mail.subject) == ("ann@acme.test", "Help with mapping")
    assert mail.body == "How do I map tax?\nThanks & regards"
    assert mail.message_id is None
    assert strip_tags("<div>a<br>b</div>") == "a\nb"


def test_the_support_address_must_be_an_address() -> None:
    """Settings refuse a support address that is not an e-mail address."""
    with pytest.raises(ValueError, match="not an e-mail address"):
        InboundSettings(address="help desk")
    assert InboundSettings(address=" Help@Salesync.Example ").address == SUPPORT


def test_a_reply_tagged_with_its_request_ends_the_wait_on_the_merchant(
    db: sessionmaker[Session], tiered: Catalog, clock: ManualClock, inbound: InboundServer
) -> None:
    """Support asks the merchant a question on a request's ticket (an e-mail tagged with
    the request goes out, the clocks pause); the merchant's tagged reply lands on the
    ticket's timeline and the clocks run again, pushed later by the wait."""
    _send(inbound, ANN, SUPPORT, _mail(ANN, "Mapping", "How do I map a new tax rate?"))
    [request] = _requests(db)
    assert request.ticket_id is not None
    service = SupportService(db, tiered, clock, public_url=PUBLIC_URL)
    desk = TicketDesk(db, clock, sla=SlaPolicy(tiered), asked=service.asked)
    clock.set(datetime(2026, 11, 2, 15, tzinfo=UTC))  # Monday 10:00 in New York
    desk.wait_on_merchant(request.ticket_id, "support", "Which tax rate: 8.875% or 4%?")
    with db() as session:
        question = session.scalars(
            select(NoticeRow).where(NoticeRow.ticket_id == request.ticket_id)
        ).one()
        assert question.recipient == ANN
        assert f"[request #{request.id}]" in question.subject
        assert "Which tax rate" in question.body
        asked = session.get(TicketRow, request.ticket_id)
        assert asked is not None
        due_before = asked.respond_by

    clock.set(datetime(2026, 11, 2, 17, tzinfo=UTC))  # two business hours later
    reply = _mail(ANN, f"Re: {question.subject}", "The 8.875% rate.", message_id="<r2@acme.test>")
    _send(inbound, ANN, SUPPORT, reply)

    assert len(_requests(db)) == 1  # a reply, not a new request
    with db() as session:
        ticket = session.get(TicketRow, request.ticket_id)
        assert ticket is not None
        assert ticket.waiting_since is None
        # Silver answers within 8 business hours (mon-fri 09:00-17:00 New York): due
        # Monday 17:00, two business hours later is Tuesday 11:00.
        assert due_before == datetime(2026, 11, 2, 22, tzinfo=UTC)
        assert ticket.respond_by == datetime(2026, 11, 3, 16, tzinfo=UTC)
        events = [
            e.event
            for e in session.scalars(
                select(TicketEventRow).where(TicketEventRow.ticket_id == ticket.id)
            )
        ]
        assert events[-2:] == ["merchant_reply", "resumed"]


def test_a_tagged_reply_to_an_answered_request_is_a_new_request(
    db: sessionmaker[Session], inbound: InboundServer
) -> None:
    """An out-of-scope request has no ticket to reply on: the reply opens a new request."""
    _send(inbound, ANN, SUPPORT, _mail(ANN, "Firewall", "Please open a port in my firewall."))
    [first] = _requests(db)
    reply = _mail(
        ANN, f"Re: Firewall [request #{first.id}]", "But why?", message_id="<r3@acme.test>"
    )
    _send(inbound, ANN, SUPPORT, reply)
    assert len(_requests(db)) == 2
