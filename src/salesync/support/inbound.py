"""Support requests by e-mail: an SMTP server that takes mail to the support address and
opens a request for the account the sender belongs to.

Nothing is dropped silently. A message is stored before it is accepted; a recipient
other than the support address, or a sender who is not on any account, is refused with a
5xx reply the sender's server turns into a bounce saying why; a message that cannot be
stored right now gets a 4xx reply, so the sender's server tries again later (a repeat of
a stored message is the same request, by its Message-ID).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.utils import getaddresses
from html.parser import HTMLParser
from types import TracebackType
from typing import Any, Self

import structlog
from aiosmtpd.controller import Controller
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from salesync.monitor.notify.contacts import ContactError, normalize_email
from salesync.store.tables import ContactRow, UserRow
from salesync.support.plans import Catalog
from salesync.support.requests import RequestError, SupportRequests, tagged

log = structlog.get_logger("salesync.support.inbound")

MERCHANT_ROLES = ("owner", "bookkeeper")
ACCEPTED = "250 Message accepted for delivery"
RETRY_LATER = "451 4.3.0 The request could not be stored just now; please try again later"


class InboundSettings(BaseModel):
    """The address merchants write to for support, and where its SMTP server listens."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    address: str = Field(description="the support address, such as help@salesync.example")
    host: str = Field(default="127.0.0.1", description="the interface the server binds")
    port: int = Field(default=2525, ge=1, le=65535, description="the port the server binds")

    @field_validator("address")
    @classmethod
    def _check_address(cls, value: str) -> str:
        try:
            return normalize_email(value)
        except ContactError as error:
            raise ValueError(str(error)) from None


@dataclass(frozen=True, slots=True)
class Mail:
    """The parts of a received message a request is made of."""

    sender: str
    subject: str
    body: str
    message_id: str | None
    automatic: bool
    """An auto-reply or other machine-sent message (RFC 3834 ``Auto-Submitted``)."""


class InboundMail:
    """The aiosmtpd handler: refuses mail to other recipients and from strangers, opens a
    request for each message from an account's contact or merchant user."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        catalog: Catalog,
        settings: InboundSettings,
        clock: Callable[[], datetime],
        *,
        public_url: str,
    ) -> None:
        self.factory = factory
        self.catalog = catalog
        self.settings = settings
        self.clock = clock
        self.public_url = public_url

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address.strip().lower() != self.settings.address:
            return (
                f"550 5.1.1 <{address}> is not a salesync support address; "
                f"write to {self.settings.address}"
            )
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        raw = bytes(envelope.original_content or envelope.content)
        return await asyncio.to_thread(self.receive, raw, envelope.mail_from or "")

    def receive(self, raw: bytes, mail_from: str = "") -> str:
        """Open a request from the message ``raw``; returns the SMTP reply."""
        mail = read_mail(raw, mail_from)
        if mail.automatic:
            # Answering an auto-reply could start a loop of answers (RFC 3834).
            log.info("inbound_automatic", sender=mail.sender, message_id=mail.message_id)
            return f"{ACCEPTED}; automatic replies are not opened as requests"
        try:
            with self.factory() as session, session.begin():
                tenants = account_of(session, mail.sender)
                if len(tenants) != 1:
                    return _stranger(mail.sender, several=len(tenants) > 1)
                requests = SupportRequests(session, self.catalog, public_url=self.public_url)
                number = tagged(mail.subject)
                replied = (
                    requests.follow_up(
                        tenants[0], number, sender=mail.sender, body=mail.body, at=self.clock()
                    )
                    if number is not None
                    else None
                )
                if replied is not None:
                    log.info("inbound_reply", tenant=tenants[0], request=number, ticket=replied.id)
                    return ACCEPTED
                request = requests.open(
                    tenants[0],
                    channel="email",
                    sender=mail.sender,
                    subject=mail.subject,
                    body=mail.body,
                    at=self.clock(),
                    message_id=mail.message_id,
                    raw=raw.decode("utf-8", "replace"),
                )
        except RequestError as error:
            return f"550 5.6.0 The request cannot be opened: {error}"
        except SQLAlchemyError:
            log.exception("inbound_not_stored", sender=mail.sender, message_id=mail.message_id)
            return RETRY_LATER
        log.info(
            "inbound_request",
            tenant=request.tenant_id,
            request=request.id,
            state=request.state,
            category=request.category,
        )
        return ACCEPTED


def _stranger(sender: str, *, several: bool) -> str:
    if several:
        return (
            f"550 5.7.1 <{sender}> is on more than one salesync account; "
            "open the request from the dashboard of the account it is about"
        )
    return (
        f"550 5.7.1 <{sender}> is not the address of a salesync account; "
        "write from the address on your account"
    )


def account_of(session: Session, sender: str) -> list[str]:
    """The tenants ``sender`` writes for: a merchant user's own, else every tenant that
    has the address as a contact (case-insensitive; both are kept lower-cased)."""
    try:
        address = normalize_email(sender)
    except ContactError:
        return []
    user = session.scalar(
        select(UserRow.tenant_id).where(
            UserRow.email == address,
            UserRow.role.in_(MERCHANT_ROLES),
            UserRow.disabled_at.is_(None),
        )
    )
    if user is not None:
        return [user]
    return sorted(
        session.scalars(select(ContactRow.tenant_id).where(ContactRow.email == address)).all()
    )


def read_mail(raw: bytes, mail_from: str = "") -> Mail:
    """The sender (the From header, else the envelope's), subject, text and Message-ID of
    ``raw``; the text is the plain part, else the HTML part without its tags."""
    message = message_from_bytes(raw, policy=policy.default)
    senders = [a for _, a in getaddresses([str(h) for h in message.get_all("From", [])]) if a]
    message_id = str(message.get("Message-ID", "")).strip() or None
    automatic = str(message.get("Auto-Submitted", "no")).strip().lower() not in ("", "no")
    return Mail(
        sender=senders[0] if senders else mail_from,
        subject=" ".join(str(message.get("Subject", "")).split()),
        body=_text(message),
        message_id=message_id,
        automatic=automatic,
    )


def _text(message: Message) -> str:
    if not isinstance(message, EmailMessage):  # pragma: no cover - policy.default makes them
        return ""
    part = message.get_body(preferencelist=("plain", "html"))
    if not isinstance(part, EmailMessage):
        return ""
    text = _content(part)
    if part.get_content_subtype() == "html":
        text = strip_tags(text)
    return text.replace("\r\n", "\n").strip()


def _content(part: EmailMessage) -> str:
    try:
        return str(part.get_content())
    except (LookupError, ValueError):  # an unknown or lying charset: read it as UTF-8
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


class _Text(HTMLParser):
    SKIP = frozenset({"script", "style", "head", "title"})
    BREAKS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skipping = max(self.skipping - 1, 0)
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def strip_tags(html: str) -> str:
    """The text of an HTML part, a line per paragraph, without scripts and styles."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


class InboundServer:
    """The inbound SMTP server on the configured host and port, in its own thread."""

    def __init__(self, handler: InboundMail, *, ready_timeout: float = 5.0) -> None:
        settings = handler.settings
        self.handler = handler
        self.controller = Controller(
            handler,
            hostname=settings.host,
            port=settings.port,
            ready_timeout=ready_timeout,
            server_hostname=Address(addr_spec=settings.address).domain,
        )

    def start(self) -> None:
        self.controller.start()
        log.info("inbound_started", host=self.handler.settings.host, port=self.controller.port)

    def stop(self) -> None:
        self.controller.stop()
        log.info("inbound_stopped")

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def serve_inbound(
    factory: sessionmaker[Session],
    catalog: Catalog,
    settings: InboundSettings,
    clock: Callable[[], datetime],
    *,
    public_url: str,
) -> InboundServer:
    """Start the inbound server for ``settings``; stop it with ``stop()``."""
    server = InboundServer(InboundMail(factory, catalog, settings, clock, public_url=public_url))
    server.start()
    return server
