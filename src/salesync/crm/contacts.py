"""Contact methods as the CRM compares them: one email or phone, however it was typed."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from salesync.monitor.notify.contacts import ContactError, normalize_email


class ContactKind(enum.StrEnum):
    EMAIL = "email"
    PHONE = "phone"


@dataclass(frozen=True, slots=True)
class ContactMethod:
    kind: ContactKind
    value: str

    def __str__(self) -> str:
        return f"{self.kind.value} {self.value}"


_DIGITS = re.compile(r"\d")
MIN_PHONE_DIGITS = 7
"""Fewer digits than this is an extension or a typo, not a number to match people by."""


def email_method(text: str | None) -> ContactMethod | None:
    """The email in ``text``, trimmed and lower-cased; None when there is none or it is not
    an address (a source's free-text field may hold anything)."""
    if not text or not text.strip():
        return None
    try:
        return ContactMethod(ContactKind.EMAIL, normalize_email(text))
    except ContactError:
        return None


def phone_method(text: str | None) -> ContactMethod | None:
    """The phone number in ``text`` as its digits, with a leading ``+`` kept when given:
    "(415) 555-0100" and "415.555.0100" are the same number."""
    if not text:
        return None
    digits = "".join(_DIGITS.findall(text))
    if len(digits) < MIN_PHONE_DIGITS:
        return None
    plus = "+" if text.strip().startswith("+") else ""
    return ContactMethod(ContactKind.PHONE, plus + digits)


def methods(email: str | None, phone: str | None) -> list[ContactMethod]:
    """The usable contact methods among ``email`` and ``phone``."""
    return [m for m in (email_method(email), phone_method(phone)) if m is not None]
