"""Fingerprints: one ticket per root cause.

Two failures share a root cause when they come from the same provider and operation, are
of the same kind, carry the same provider code and the same message once its variable
parts (ids, numbers, amounts, quoted values, dates, e-mail addresses, URLs) are taken
out, concern the same entity type, and happen to the same tenant. The fingerprint is
versioned: a change to the recipe gets a new version, so tickets made under the old one
are never silently merged with new ones.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

VERSION = 1

_VARIABLE = (
    (re.compile(r"https?://\S+"), "<url>"),
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "<email>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<id>"),
    (re.compile(r"\bgid://\S+"), "<id>"),
    (re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?"), "<date>"),
    (re.compile(r"\"[^\"]*\"|'[^']*'|«[^»]*»|“[^”]*”"), "<value>"),
    (re.compile(r"\b[0-9a-f]{12,}\b", re.I), "<id>"),
    (re.compile(r"\b[A-Za-z]*\d[\w-]*"), "<n>"),
)


def normalize(message: str) -> str:
    """``message`` with its variable parts replaced by placeholders."""
    text = message
    for pattern, placeholder in _VARIABLE:
        text = pattern.sub(placeholder, text)
    return " ".join(text.lower().split())


@dataclass(frozen=True, slots=True)
class Cause:
    tenant: str
    provider: str | None
    operation: str | None
    kind: str
    code: str | None
    message: str
    entity: str | None

    @property
    def fingerprint(self) -> str:
        parts = (
            f"v{VERSION}",
            self.tenant,
            self.provider or "",
            self.operation or "",
            self.kind,
            self.code or "",
            normalize(self.message),
            self.entity or "",
        )
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def entity_of(operation: str | None, fallback: str | None = None) -> str | None:
    """The entity type an operation names (``create:Customer`` -> ``Customer``)."""
    if operation and ":" in operation:
        return operation.split(":", 1)[1] or fallback
    return fallback
