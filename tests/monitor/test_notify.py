"""Merchant notices by email: what happened, what we did, whether anything is needed, sent
over real SMTP (aiosmtpd) under a policy that keeps the inbox quiet."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.domain.errors import AuthError, BugError, MappingError
from salesync.engine.incidents import Failure, IncidentLog
from salesync.monitor.notify import (
    ContactError,
    Contacts,
    DeliveryReport,
    Mailer,
    MailRetry,
    MailSettings,
    Notice,
    Notices,
    NoticeState,
    deliver_due,
    unsubscribe,
)
from salesync.monitor.notify.delivery import INTERRUPTED
from salesync.store.tables import DocumentRow, NoticeRow, TicketEventRow, TicketRow

from .conftest import LOCATION, TENANT, OpenTicket
from .smtp import HOST, Received, SmtpServer, smtp_server

OWNER = "owner@acme.test"
LOGIN = ("salesync", "s3cret-pass")


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def mailer(smtp: SmtpServer) -> Mailer:
    return Mailer(smtp.settings())


def _contact(db: sessionmaker[Session], email: str = OWNER, **options: Any) -> str:
    with db() as session, session.begin():
        return Contacts(session, TENANT).add(email, **options).unsubscribe_token


def _notify(
    db: sessionmaker[Session],
    clock: ManualClock,
    ticket_id: int,
    reason: str,
    settings: MailSettings,
    **options: Any,
) -> list[Notice]:
    with db() as session, session.begin():
        ticket = session.get(TicketRow, ticket_id)
        assert ticket is not None
        notices = Notices(session, TENANT, clock, settings=settings, **options)
        return notices.notify(ticket, reason)


def _deliver(
    db: sessionmaker[Session], mailer: Mailer, clock: ManualClock, **options: Any
) -> DeliveryReport:
    return deliver_due(db, mailer, clock, **options)


def _notices(db: sessionmaker[Session]) -> list[NoticeRow]:
    with db() as session:
        rows = list(session.scalars(select(NoticeRow).order_by(NoticeRow.id)))
        session.expunge_all()
        return rows


def _events(db: sessionmaker[Session], ticket_id: int) -> list[str]:
    with db() as session:
        return list(
            session.scalars(
                select(TicketEventRow.event)
                .where(TicketEventRow.ticket_id == ticket_id)
                .order_by(TicketEventRow.id)
            )
        )


def _documents(db: sessionmaker[Session], clock: ManualClock, kinds: dict[str, str]) -> None:
    with db() as session, session.begin():
        for document_id, kind in kinds.items():
            session.add(
                DocumentRow(
                    id=document_id,
                    tenant_id=TENANT,
                    location_id=LOCATION,
                    kind=kind,
                    source="shopify",
                    external_id=document_id,
                    occurred_at=clock(),
                    business_day=clock().date(),
                    currency="USD",
                    total_minor=1000,
                    body={},
                    body_hash=document_id.ljust(64, "0"),
                )
            )


def _resolve(db: sessionmaker[Session], clock: ManualClock, ticket_id: int, text: str) -> None:
    with db() as session, session.begin():
        ticket = session.get(TicketRow, ticket_id)
        assert ticket is not None
        ticket.state = "resolved"
        ticket.resolution = text
        ticket.resolved_at = clock()


def _unmapped(code: str = "unmapped_sku") -> MappingError:
    return MappingError(
        f"no item is mapped ({code})",
        user_message=f"A product has no item in your books ({code}). Map it to post the sale.",
        code=code,
        provider="qbo",
        operation="post:SalesReceipt",
        help_url="https://help.salesync.test/mappings",
    )


def _revoked() -> AuthError:
    return AuthError(
        "invalid_grant: refresh token revoked",
        user_message="QuickBooks Online no longer accepts salesync's access to your books.",
        code="invalid_grant",
        provider="qbo",
        operation="refresh",
        connection="c0ffee00-0000-4000-8000-000000000001",
        help_url="https://help.salesync.test/reconnect",
    )


def test_a_resolved_ticket_is_explained_in_a_sent_email(
    db: sessionmaker[Session],
    clock: ManualClock,
    open_ticket: OpenTicket,
    smtp: SmtpServer,
    mailer: Mailer,
):
    """A resolved ticket's email says what happened, what we did and that nothing is needed."""
    _documents(db, clock, {"sale-1": "sale", "sale-2": "sale", "refund-1": "refund"})
    token = _contact(db, name="Ada")
    ticket = open_ticket(
        BugError(
            "tax line rounded twice",
            user_message="Some sales reached your books one cent off in tax.",
            provider="qbo",
            operation="post:SalesReceipt",
        ),
        documents=("sale-1", "sale-2", "refund-1"),
    )
    clock.advance(timedelta(hours=1))
    open_ticket(BugError("tax line rounded twice", provider="qbo", operation="post:SalesReceipt"))
    _resolve(db, clock, ticket.id, "A rounding rule counted the tax twice; we corrected it.")

    [notice] = _notify(db, clock, ticket.id, "resolved", smtp.settings())
    assert notice.state == NoticeState.PENDING
    assert _deliver(db, mailer, clock) == DeliveryReport(sent=1)

    [mail] = smtp.received
    message = mail.message
    assert mail.recipients == (OWNER,)
    assert mail.subject == "Fixed: the problem with your QuickBooks Online sync for Soho"
    assert message["From"] == "salesync <support@salesync.test>"
    assert message["Message-ID"] == f"<salesync.notice.{notice.id}@salesync.test>"
    assert message["Date"]
    assert message["List-Unsubscribe"] == f"<https://app.salesync.test/unsubscribe/{token}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_content_type() == "multipart/alternative"
    text = mail.part("plain")
    assert text.startswith("Hello Ada,")
    for expected in (
        "What happened\n-------------\nSome sales reached your books one cent off in tax.",
        "It affected 2 sales and 1 refund.",
        "first on Mon 23 Nov 2026 at 9:00 AM EST, most recently on Mon 23 Nov 2026 at 10:00 AM",
        "What we did\n-----------\nA rounding rule counted the tax twice; we corrected it.",
        "We then sent the 2 sales and 1 refund to your books again",
        "Is anything needed from you?",
        "No, nothing.",
        f"Unsubscribe: https://app.salesync.test/unsubscribe/{token}",
    ):
        assert expected in text
    html = mail.part("html")
    assert "<h3" in html
    assert ">What we did</h3>" in html
    assert "A rounding rule counted the tax twice; we corrected it." in html
    assert f'href="https://app.salesync.test/unsubscribe/{token}"' in html

    [row] = _notices(db)
    assert row.state == NoticeState.SENT
    assert row.sent_at == clock()
    assert row.attempts == 1
    assert _events(db, ticket.id)[-1] == "notice_sent"


def test_an_auth_ticket_asks_the_merchant_to_reconnect(
    db: sessionmaker[Session],
    clock: ManualClock,
    open_ticket: OpenTicket,
    smtp: SmtpServer,
    mailer: Mailer,
):
    """An auth ticket's email asks for a reconnect and links to the connection's reconnect page."""
    _contact(db)
    ticket = open_ticket(_revoked(), subject="connection:c0ffee00")
    assert ticket.merchant_action
    _notify(db, clock, ticket.id, "action_needed", smtp.settings())
    _deliver(db, mailer, clock)

    [mail] = smtp.received
    link = "https://app.salesync.test/connections/c0ffee00-0000-4000-8000-000000000001/reconnect"
    assert mail.subject == "Action needed: please reconnect QuickBooks Online"
    text = mail.part("plain")
    assert "QuickBooks Online no longer accepts salesync's access to your books." in text
    assert "We paused this connection" in text
    assert "Yes: please reconnect QuickBooks Online to salesync." in text
    assert f"Reconnect: {link}" in text
    assert "How to fix it: https://help.salesync.test/reconnect" in text
    assert f'<a href="{link}">' in mail.part("html")


def test_an_opted_out_contact_gets_a_kept_suppressed_notice(
    db: sessionmaker[Session],
    clock: ManualClock,
    open_ticket: OpenTicket,
    smtp: SmtpServer,
    mailer: Mailer,
):
    """A contact who unsubscribed gets a suppressed notice that is kept and never sent."""
    token = _contact(db)
    _contact(db, "books@acme.test")
    with db() as session, session.begin():
        gone = unsubscribe(session, token)
    assert gone is not None
    assert gone.opted_out
    ticket = open_ticket(_unmapped())

    notices = _notify(db, clock, ticket.id, "action_needed", smtp.settings())
    by_recipient = {n.recipient: n for n in notices}
    assert by_recipient[OWNER].state == NoticeState.SUPPRESSED
    assert by_recipient[OWNER].error == "opted out"
    assert by_recipient["books@acme.test"].state == NoticeState.PENDING
    assert _deliver(db, mailer, clock) == DeliveryReport(sent=1)
    assert [m.recipients for m in smtp.received] == [("books@acme.test",)]
    assert "notice_suppressed" in _events(db, ticket.id)


def test_unsubscribing_after_a_notice_was_queued_stops_it(
    db: sessionmaker[Session],
    clock: ManualClock,
    open_ticket: OpenTicket,
    smtp: SmtpServer,
    mailer: Mailer,
):
    """A contact who opts out before a queued notice goes out does not receive it."""
    _contact(db)
    ticket = open_ticket(_unmapped())
    _notify(db, clock, ticket.id, "action_needed", smtp.settings())
    with db() as session, session.begin():
        Contacts(session, TENANT).opt_out(OWNER)

    assert _deliver(db, mailer, clock) == DeliveryReport(suppressed=1)
    assert smtp.received == []
    [row] = _notices(db)
    assert (row.state, row.error) == (NoticeState.SUPPRESSED, "opted out")


def test_the_interval_holds_back_and_the_newest_notice_supersedes(
    db: sessionmaker[Session],
    clock: ManualClock,
    open_ticket: OpenTicket,
    smtp: SmtpServer,
    mailer: Mailer,
):
    """Within a contact's interval a new notice waits, and replaces an older one still waiting."""
    _contact(db, min_interval_minutes=60)
    ticket = open_ticket(_unmapped())
    settings = smtp.settings()
    _notify(db, clock, ticket.id, "action_needed", settings)
    assert _deliver(db, mailer, clock).sent == 1
    sent_at = clock()

    clock.advance(timedelta(minutes=10))
    [waiting] = _notify(db, clock, ticket.id, "action_needed", settings)
    assert waiting.due_at == sent_at + timedelta(minutes=60)
    clock.advance(timedelta(minutes=10))
    _resolve(db, clock, ticket.id, "We added the missing item for you.")
    [newest] = _notify(db, clock, ticket.id, "resolved", settings)
    assert newest.due_at == sent_at + timedelta(minutes=60)

    rows = {r.id: r for r in _notices(db)}
    assert (rows[waiting.id].state, rows[waiting.id].error) == ("suppressed", "superseded")
    clock.advance(timedelta(minutes=30))
    assert _deliver(db, mailer, clock) == DeliveryReport()
    clock.set(sent_at + timedelta(minutes=60))
    assert _deliver(db, mailer, clock) == DeliveryReport(sent=1)

    subjects = [m.subject for m in smtp.received]
    assert subjects == [
        "Action needed: your QuickBooks Online sync for Soho is waiting for you",
        "Fixed: the problem with your QuickBooks Online sync for Soho",
    ]


def test_a_digest_folds_three_tickets_into_one_email_at_the_digest_hour(
    db: sessionmaker[Session],
    clock: ManualClock,
    open_ticket: OpenTicket,
    smtp: SmtpServer,
    mailer: Mailer,
):
    """A digest contact gets one email at the local digest hour listing each of three tickets."""
    _contact(db, name="Ada", digest=True)
    settings = smtp.settings()
    tickets = [open_ticket(_unmapped(f"unmapped_{n}")) for n in ("sku", "tax", "tender")]
    due = {n.due_at for t in tickets for n in _notify(db, clock, t.id, "action_needed", settings)}
    eight_am_new_york = datetime(2026, 11, 24, 13, 0, tzinfo=UTC)
    assert due == {eight_am_new_york}

    clock.set(eight_am_new_york - timedelta(minutes=1))
    assert _deliver(db, mailer, clock) == DeliveryReport()
    clock.set(eight_am_new_york)
    assert _deliver(db, mailer, clock) == DeliveryReport(digests=1, folded=3)

    [mail] = smtp.received
    assert mail.subject == "Your salesync digest for Acme Goods: 3 updates"
    text = mail.part("plain")
    assert text.startswith("Hello Ada,")
    for code in ("unmapped_sku", "unmapped_tax", "unmapped_tender"):
        assert f"A product has no item in your books ({code})." in text
    assert text.count("Action needed: your QuickBooks Online sync for Soho") == 3
    assert text.count("Is anything needed from you?") == 3
    assert mail.part("html").count("<h2") == 3

    rows = _notices(db)
    assert sorted(r.state for r in rows) == ["digested", "digested", "digested", "sent"]
    [digest] = [r for r in rows if r.reason == "digest"]
    assert digest.ticket_id is None
    assert digest.subject == mail.subject
    assert digest.sent_at == eight_am_new_york
    assert all(_events(db, t.id)[-1] == "notice_sent" for t in tickets)


def test_mail_waits_while_the_server_is_down_and_goes_out_when_it_is_back(
    db: sessionmaker[Session],
    clock: ManualClock,
    open_ticket: OpenTicket,
    smtp: SmtpServer,
    mailer: Mailer,
):
    """With the SMTP server down a notice is retried later with backoff, then delivered."""
    _contact(db)
    ticket = open_ticket(_unmapped())
    _notify(db, clock, ticket.id, "action_needed", smtp.settings())
    smtp.stop()

    assert _deliver(db, mailer, clock) == DeliveryReport(retrying=1)
    [row] = _notices(db)
    assert (row.state, row.attempts) == ("pending", 1)
    assert row.error is not None
    assert row.error.startswith("cannot reach the mail server")
    assert row.due_at == clock() + timedelta(minutes=1)
    clock.advance(timedelta(minutes=1))
    assert _deliver(db, mailer, clock) == DeliveryReport(retrying=1)
    assert _notices(db)[0].due_at == clock() + timedelta(minutes=2)

    smtp.start()
    clock.advance(timedelta(seconds=90))
    assert _deliver(db, mailer, clock) == DeliveryReport()
    clock.advance(timedelta(seconds=30))
    assert _deliver(db, mailer, clock) == DeliveryReport(sent=1)
    assert len(smtp.received) == 1
    [row] = _notices(db)
    assert (row.state, row.attempts, row.error) == ("sent", 3, None)


def test_a_temporary_refusal_is_retried_and_a_permanent_one_fails(
    db: sessionmaker[Session],
    clock: ManualClock,
    open_ticket: OpenTicket,
    smtp: SmtpServer,
    mailer: Mailer,
):
    """A 4xx reply is retried after a backoff; a 5xx reply fails the notice at once."""
    _contact(db)
    ticket = open_ticket(_unmapped())
    settings = smtp.settings()
    _notify(db, clock, ticket.id, "action_needed", settings)
    smtp.refuse("451 4.3.0 Try again later")
    assert _deliver(db, mailer, clock) == DeliveryReport(retrying=1)
    clock.advance(timedelta(minutes=1))
    assert _deliver(db, mailer, clock) == DeliveryReport(sent=1)

    clock.advance(timedelta(hours=2))
    _notify(db, clock, ticket.id, "action_needed", settings)
    smtp.refuse("550 5.1.1 No such mailbox", at="RCPT")
    assert _deliver(db, mailer, clock) == DeliveryReport(failed=1)
    clock.advance(timedelta(hours=1))
    assert _deliver(db, mailer, clock) == DeliveryReport()
    assert len(smtp.received) == 1
    last = _notices(db)[-1]
    assert last.state == "failed"
    assert last.error == "the mail server refused the recipient: 550 5.1.1 No such mailbox"
    assert _events(db, ticket.id)[-1] == "notice_failed"


def test_a_notice_fails_after_its_last_attempt(
    db: sessionmaker[Session],
    clock: ManualClock,
    open_ticket: OpenTicket,
    smtp: SmtpServer,
    mailer: Mailer,
):
    """A notice the server never takes fails once its attempts are used up."""
    _contact(db)
    ticket = open_ticket(_unmapped())
    _notify(db, clock, ticket.id, "action_needed", smtp.settings())
    smtp.stop()
    retry = MailRetry(max_attempts=3)
    outcomes = []
    for _ in range(3):
        outcomes.append(_deliver(db, mailer, clock, retry=retry))
        clock.advance(timedelta(hours=1))
    assert outcomes == [DeliveryReport(retrying=1)] * 2 + [DeliveryReport(failed=1)]
    [row] = _notices(db)
    assert (row.state, row.attempts) == ("failed", 3)


def test_a_notice_whose_sender_died_is_never_sent_again(
    db: sessionmaker[Session],
    clock: ManualClock,
    open_ticket: OpenTicket,
    smtp: SmtpServer,
    mailer: Mailer,
):
    """A notice left claimed by a sender that stopped is failed after its lease, not resent."""
    _contact(db)
    ticket = open_ticket(_unmapped())
    [notice] = _notify(db, clock, ticket.id, "action_needed", smtp.settings())
    with db() as session, session.begin():
        session.execute(
            update(NoticeRow)
            .where(NoticeRow.id == notice.id)
            .values(state="sending", due_at=clock() + timedelta(minutes=10))
        )

    assert _deliver(db, mailer, clock) == DeliveryReport()
    clock.advance(timedelta(minutes=11))
    assert _deliver(db, mailer, clock) == DeliveryReport(failed=1)
    assert _deliver(db, mailer, clock) == DeliveryReport()
    assert smtp.received == []
    [row] = _notices(db)
    assert (row.state, row.error) == ("failed", INTERRUPTED)


def test_a_canary_secret_never_reaches_an_email(
    db: sessionmaker[Session], clock: ManualClock, smtp: SmtpServer, mailer: Mailer
):
    """A secret in an error's messages or written raw into a ticket is in no sent email."""
    canary = "canary-7d41e0b95a"
    _contact(db)
    _contact(db, "digest@acme.test", digest=True)
    log = IncidentLog(clock, secrets=[canary])
    tickets = []
    for code, where in (("first", "message"), ("second", "user_message")):
        error = MappingError(
            f"QuickBooks refused token {canary}",
            user_message=f"Your books refused the sale ({where} {canary}).",
            code=code,
            provider="qbo",
        )
        with db() as session, session.begin():
            incident = log.record(
                session,
                TENANT,
                Failure(error=error, stage="engine", subject="posting:1", failed_at=clock()),
            )
            tickets.append(incident.ticket_id)
    with db() as session, session.begin():
        raw = session.get(TicketRow, tickets[1])
        assert raw is not None
        raw.user_message = f"Authorization: Bearer {canary} was refused; the key was {canary}."
    for ticket_id in tickets:
        assert ticket_id is not None
        _notify(db, clock, ticket_id, "action_needed", smtp.settings(), secrets=[canary])
    clock.advance(timedelta(days=1))
    _deliver(db, mailer, clock)

    assert len(smtp.received) == 3
    for mail in smtp.received:
        seen = [mail.raw.decode(), mail.part("plain"), mail.part("html"), mail.subject]
        assert all(canary not in part for part in seen)
        assert "[redacted]" in mail.part("plain")
    assert all(canary not in r.body and canary not in r.subject for r in _notices(db))


def _tls_pair(folder: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate for 127.0.0.1: the server's context and a client's trusting it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


def test_starttls_and_login_are_used_when_configured(
    db: sessionmaker[Session], clock: ManualClock, open_ticket: OpenTicket, tmp_path: Path
):
    """With STARTTLS and a login configured, mail goes over TLS as that user; a bad login waits."""
    server_tls, client_tls = _tls_pair(tmp_path)
    _contact(db)
    ticket = open_ticket(_unmapped())
    with smtp_server(tls=server_tls, credentials=LOGIN) as smtp:
        _notify(db, clock, ticket.id, "action_needed", smtp.settings())
        wrong = smtp.settings(starttls=True, username=LOGIN[0], password=LOGIN[1] + "-wrong")
        assert _deliver(db, Mailer(wrong, ssl_context=client_tls), clock).retrying == 1
        assert _notices(db)[0].error is not None
        assert "refused the login: 535" in str(_notices(db)[0].error)

        clock.advance(timedelta(minutes=1))
        right = smtp.settings(starttls=True, username=LOGIN[0], password=LOGIN[1])
        assert _deliver(db, Mailer(right, ssl_context=client_tls), clock).sent == 1
        [mail] = smtp.received
    assert isinstance(mail, Received)
    assert mail.login == "salesync"


def test_contacts_are_added_updated_and_listed(db: sessionmaker[Session]):
    """Adding a contact again updates it and keeps its token; opt-out and opt-in toggle."""
    with db() as session, session.begin():
        contacts = Contacts(session, TENANT)
        first = contacts.add(" Owner@Acme.test ", name="Ada")
        again = contacts.add(OWNER, name="Ada L.", digest=True, min_interval_minutes=15)
        assert again.email == OWNER
        assert again.unsubscribe_token == first.unsubscribe_token
        assert (again.name, again.digest, again.min_interval_minutes) == ("Ada L.", True, 15)
        contacts.add("books@acme.test")
        assert [c.email for c in contacts.all()] == ["books@acme.test", OWNER]
        assert contacts.opt_out(OWNER).opted_out
        assert not contacts.opt_in(OWNER).opted_out
        assert contacts.update(OWNER, digest=False).digest is False
        with pytest.raises(ContactError, match="not an e-mail address"):
            contacts.add("nobody")
        with pytest.raises(ContactError, match="not a contact"):
            contacts.opt_out("stranger@acme.test")
        assert unsubscribe(session, "no-such-token") is None
