"""A real SMTP server for tests: aiosmtpd on a free loopback port, keeping every message
it accepts, and told when to refuse one (4xx or 5xx) or to be down altogether."""

from __future__ import annotations

import socket
import ssl
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from salesync.monitor.notify import MailSettings

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Received:
    """One message the server accepted."""

    sender: str
    recipients: tuple[str, ...]
    raw: bytes
    login: str | None

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @property
    def subject(self) -> str:
        """The Subject header unfolded (a long one starts on the line after its name)."""
        return str(self.message["Subject"]).strip()

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None, f"no text/{subtype} part"
        assert isinstance(body, EmailMessage)
        return str(body.get_content()).replace("\r\n", "\n")


class _Mailbox:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.refusals: deque[tuple[str, str]] = deque()
        self.lock = threading.Lock()

    def _refusal(self, stage: str) -> str | None:
        with self.lock:
            if self.refusals and self.refusals[0][0] == stage:
                return self.refusals.popleft()[1]
        return None

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        refusal = self._refusal("RCPT")
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        refusal = self._refusal("DATA")
        if refusal is not None:
            return refusal
        login = session.auth_data.decode() if isinstance(session.auth_data, bytes) else None
        with self.lock:
            self.received.append(
                Received(
                    sender=envelope.mail_from,
                    recipients=tuple(envelope.rcpt_tos),
                    raw=bytes(envelope.original_content or envelope.content),
                    login=login,
                )
            )
        return "250 Message accepted for delivery"


class SmtpServer:
    """An aiosmtpd server that can be stopped and started again on the same port."""

    def __init__(
        self,
        *,
        tls: ssl.SSLContext | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.tls = tls
        self.credentials = credentials
        self.mailbox = _Mailbox()
        self._controller: Controller | None = None

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and self.credentials is not None
            and (data.login.decode(), data.password.decode()) == self.credentials
        )
        return AuthResult(success=ok, handled=False, auth_data=data.login if ok else None)

    def start(self) -> None:
        options: dict[str, Any] = {}
        if self.tls is not None:
            options.update(tls_context=self.tls, require_starttls=True)
        if self.credentials is not None:
            options.update(authenticator=self._authenticate, auth_required=True)
        self._controller = Controller(
            self.mailbox, hostname=HOST, port=self.port, ready_timeout=5, **options
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def refuse(self, reply: str, *, at: str = "DATA", times: int = 1) -> None:
        """Answer the next ``times`` messages with ``reply`` at RCPT or DATA."""
        with self.mailbox.lock:
            self.mailbox.refusals.extend([(at, reply)] * times)

    @property
    def received(self) -> list[Received]:
        with self.mailbox.lock:
            return list(self.mailbox.received)

    def settings(self, **changes: Any) -> MailSettings:
        values: dict[str, Any] = {
            "host": HOST,
            "port": self.port,
            "sender": "support@salesync.test",
            "public_url": "https://app.salesync.test",
        }
        values.update(changes)
        return MailSettings(**values)


@contextmanager
def smtp_server(
    *, tls: ssl.SSLContext | None = None, credentials: tuple[str, str] | None = None
) -> Iterator[SmtpServer]:
    server = SmtpServer(tls=tls, credentials=credentials)
    server.start()
    try:
        yield server
    finally:
        server.stop()
