"""Sending email over SMTP, with smtplib's errors sorted by what to do next.

``MailError`` is the root. ``MailUnavailableError``: try again later (the server is down,
said 4xx, or refused our login, which is the server's setup, not this message's fault).
``MailRejectedError``: this message will never be accepted (5xx to the sender, the
recipient or the content). ``MailUncertainError``: the connection broke after the message
was handed over, so the server may have taken it. Only the first is retried: retrying
the last could deliver a notice twice.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

from salesync.monitor.notify.letters import Letter
from salesync.monitor.notify.settings import MailSettings


class MailError(Exception):
    """The mail server did not take a message; ``code`` is its SMTP reply, if any."""

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class MailUnavailableError(MailError):
    """Not sent; trying again later may work."""


class MailRejectedError(MailError):
    """Not sent, and never will be: the server refused this message for good."""


class MailUncertainError(MailError):
    """The connection broke after the message was handed over: it may have arrived."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """Who a message goes to and the headers that make it one notice."""

    recipient: str
    message_id: str
    date: datetime
    unsubscribe_url: str | None
    """None for a reply to the merchant's own request, which nobody unsubscribes from."""


def _reply(text: bytes | str) -> str:
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else text


def _sorted(code: int, reply: bytes | str, what: str) -> MailError:
    message = f"{what}: {code} {_reply(reply)}"
    if 500 <= code < 600:
        return MailRejectedError(message, code=code)
    return MailUnavailableError(message, code=code)


class Mailer:
    """Builds notice emails and sends them through the configured SMTP server."""

    def __init__(self, settings: MailSettings, *, ssl_context: ssl.SSLContext | None = None):
        """``ssl_context`` verifies the server for STARTTLS; the system's trusted
        certificates by default."""
        self.settings = settings
        self.ssl_context = ssl_context

    def compose(self, letter: Letter, envelope: Envelope) -> EmailMessage:
        """The letter as a multipart/alternative message (text, then HTML) with the
        headers mail clients use for one-click unsubscribe (RFC 8058)."""
        message = EmailMessage(policy=policy.SMTP)
        message["From"] = self.settings.from_address
        message["To"] = envelope.recipient
        message["Subject"] = letter.subject
        message["Date"] = format_datetime(envelope.date)
        message["Message-ID"] = envelope.message_id
        if envelope.unsubscribe_url is not None:
            message["List-Unsubscribe"] = f"<{envelope.unsubscribe_url}>"
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        # RFC 3834: out-of-office replies and the like are not sent back to us.
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(letter.text)
        message.add_alternative(letter.html, subtype="html")
        return message

    def message_id(self, key: str) -> str:
        """A Message-ID that stays the same for every attempt at one notice."""
        return f"<salesync.{key}@{self.settings.domain}>"

    def send(self, message: EmailMessage) -> None:
        """Hand ``message`` to the server; raises a ``MailError`` when it is not taken."""
        recipient = str(message["To"])
        try:
            smtp = self._open()
        except smtplib.SMTPAuthenticationError as exc:
            raise MailUnavailableError(
                f"the mail server refused the login: {exc.smtp_code} {_reply(exc.smtp_error)}",
                code=exc.smtp_code,
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise MailUnavailableError(
                f"the mail server did not accept a session: {exc.smtp_code} "
                f"{_reply(exc.smtp_error)}",
                code=exc.smtp_code,
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise MailUnavailableError(f"cannot reach the mail server: {exc}") from exc
        try:
            self._transfer(smtp, recipient, message)
        finally:
            # The outcome is settled by now; a failed goodbye must not turn it around.
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.quit()
            smtp.close()

    def _open(self) -> smtplib.SMTP:
        settings = self.settings
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        try:
            smtp.ehlo()
            if settings.starttls:
                smtp.starttls(context=self.ssl_context or ssl.create_default_context())
                smtp.ehlo()
            if settings.username is not None and settings.password is not None:
                smtp.login(settings.username, settings.password.get_secret_value())
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _transfer(self, smtp: smtplib.SMTP, recipient: str, message: EmailMessage) -> None:
        try:
            code, reply = smtp.mail(self.settings.sender)
            if code != 250:
                raise _sorted(code, reply, "the mail server refused the sender")
            code, reply = smtp.rcpt(recipient)
            if code not in (250, 251):
                raise _sorted(code, reply, "the mail server refused the recipient")
        except (smtplib.SMTPException, OSError) as exc:
            raise MailUnavailableError(f"the mail server went away: {exc}") from exc
        try:
            code, reply = smtp.data(message.as_bytes())
        except smtplib.SMTPDataError as exc:
            raise _sorted(exc.smtp_code, exc.smtp_error, "the mail server refused DATA") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise MailUncertainError(
                f"the connection broke while the mail server took the message: {exc}"
            ) from exc
        if code != 250:
            raise _sorted(code, reply, "the mail server refused the message")
