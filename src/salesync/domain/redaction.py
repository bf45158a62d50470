"""Secrets and personal data taken out of anything a person will read (DESIGN.md §2.7).

A ``Redactor`` cleans the context of a failure before it is kept in an incident, a
ticket, a log line, an export or an email: header and field names that carry secrets
(Authorization, tokens, client secrets, signatures, passwords, card fields), values that
look like secrets wherever they appear (bearer credentials, secrets in a URL's query,
card numbers that pass the Luhn check), the exact secrets salesync holds (a connection's
tokens, the OAuth apps' client secrets), and the personal fields an operator chose.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

SECRET = "[redacted]"  # noqa: S105 - the mark left where a secret was
CARD = "[card]"
PERSONAL = "[personal]"

SECRET_FIELDS = frozenset(
    {
        "authorization",
        "proxyauthorization",
        "cookie",
        "setcookie",
        "xapikey",
        "apikey",
        "accesstoken",
        "refreshtoken",
        "idtoken",
        "token",
        "clientsecret",
        "secret",
        "password",
        "passwd",
        "code",
        "signature",
        "xshopifyhmacsha256",
        "xsquarehmacsha256signature",
        "xsquaresignature",
        "xxerosignature",
        "intuitsignature",
        "webhooksecret",
        "consumerkey",
        "consumersecret",
        "xwcwebhooksignature",
        "xcloverauth",
        "signingkey",
        "cardnumber",
        "pan",
        "cvv",
        "cvc",
        "securitycode",
        "accountnumber",
    }
)
"""Names (lower case, without ``-`` and ``_``) whose values are always removed."""

_MACHINE_CODE = re.compile(r"[a-z]+(?:[_+.][a-z]+)*|\d{1,6}")
"""A ``code`` that is an error's machine code (``unmapped_value``, a provider's ``6240``),
not an OAuth authorization code, which is long, random and mixes cases and digits."""

DEFAULT_PERSONAL_FIELDS = (
    "email",
    "phone",
    "first_name",
    "last_name",
    "given_name",
    "family_name",
    "address1",
    "address2",
    "address_line_1",
    "address_line_2",
    "zip",
    "postal_code",
    "birthday",
)

_BEARER = re.compile(r"\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{4,}", re.IGNORECASE)
_QUERY_SECRET = re.compile(
    r"([?&;](?:access_token|refresh_token|id_token|client_secret|code|token|api_key|"
    r"apikey|password|signature|sig|consumer_key|consumer_secret|oauth_token)=)[^&\s;\"']+",
    re.IGNORECASE,
)
_PAIR_SECRET = re.compile(
    r"((?:\"|')?(?:access_token|refresh_token|id_token|client_secret|api_key|password|"
    r"consumer_key|consumer_secret|authorization)(?:\"|')?\s*[:=]\s*(?:\"|')?)[^\"'\s,&}]+",
    re.IGNORECASE,
)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
_CARD = re.compile(r"(?<![\d.])(?:\d[ -]?){12,18}\d(?![\d.])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")

MIN_SECRET_LENGTH = 6
"""Shorter known values are not searched for in text (they would match everywhere)."""


def _name(key: str) -> str:
    return key.lower().replace("-", "").replace("_", "")


def luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"[ -]", "", match.group(0))
    return CARD if 13 <= len(digits) <= 19 and luhn(digits) else match.group(0)


@dataclass(frozen=True)
class Redactor:
    """Removes secrets from text and nested data; see the module's docstring."""

    secrets: frozenset[str] = frozenset()
    """Exact values salesync holds (tokens, client secrets), removed wherever they appear."""
    personal_fields: frozenset[str] = field(
        default_factory=lambda: frozenset(_name(f) for f in DEFAULT_PERSONAL_FIELDS)
    )
    emails: bool = True
    """Remove e-mail addresses from free text too (they are personal data)."""

    @classmethod
    def of(
        cls,
        secrets: Iterable[str | None] = (),
        personal_fields: Iterable[str] | None = None,
        *,
        emails: bool = True,
    ) -> Redactor:
        known = frozenset(s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH)
        if personal_fields is None:
            return cls(known, emails=emails)
        return cls(known, frozenset(_name(f) for f in personal_fields), emails)

    def with_secrets(self, more: Iterable[str | None]) -> Redactor:
        extra = {s for s in more if s and len(s) >= MIN_SECRET_LENGTH}
        if extra <= self.secrets:
            return self
        return Redactor(self.secrets | extra, self.personal_fields, self.emails)

    def text(self, value: str) -> str:
        # Longest first, so a secret that contains another is removed whole.
        for secret in sorted(self.secrets, key=len, reverse=True):
            if secret in value:
                value = value.replace(secret, SECRET)
        value = _BEARER.sub(lambda m: f"{m.group(1)} {SECRET}", value)
        value = _QUERY_SECRET.sub(lambda m: m.group(1) + SECRET, value)
        value = _PAIR_SECRET.sub(lambda m: m.group(1) + SECRET, value)
        value = _JWT.sub(SECRET, value)
        value = _CARD.sub(_card, value)
        if self.emails:
            value = _EMAIL.sub(PERSONAL, value)
        return value

    def value(self, data: Any, key: str | None = None) -> Any:
        """``data`` (JSON-like) with every secret and personal value replaced."""
        if key is not None:
            name = _name(key)
            if (
                name in SECRET_FIELDS
                and data not in (None, "", [], {})
                and not (name == "code" and _MACHINE_CODE.fullmatch(str(data)))
            ):
                return SECRET
            if name in self.personal_fields and isinstance(data, str | int) and data != "":
                return PERSONAL
        if isinstance(data, str):
            return self.text(data)
        if isinstance(data, Mapping):
            return {str(k): self.value(v, str(k)) for k, v in data.items()}
        if isinstance(data, list | tuple):
            return [self.value(v) for v in data]
        return data

    def headers(self, headers: Iterable[tuple[str, str]]) -> dict[str, str]:
        return {name: str(self.value(value, name)) for name, value in headers}
