"""One root error whose kind tells the engine what to do (DESIGN.md §4)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any


class ErrorKind(enum.StrEnum):
    """What the engine does with a failure, and who hears of it."""

    TRANSIENT = "transient"
    """Timeout, 5xx, 429, reset: retry with backoff; nobody hears unless the budget runs out."""
    AUTH = "auth"
    """Expired or revoked credentials: stop the connection, ask the merchant to reconnect."""
    MAPPING = "mapping"
    """A source value with no destination mapping: hold the records, show the fix."""
    VALIDATION = "validation"
    """A document that does not make sense: quarantine it with the reason."""
    CONFLICT = "conflict"
    """Edited after posting, stale version tokens: re-read and adjust, or hold for approval."""
    BUG = "bug"
    """Anything unexpected: fail the unit, keep its input for replay, tell a developer."""

    @property
    def retryable(self) -> bool:
        return self is ErrorKind.TRANSIENT


_EMPTY: Mapping[str, Any] = MappingProxyType({})


class SyncError(Exception):
    """The root of every failure salesync classifies.

    ``user_message`` is plain language for the merchant; the exception text is for developers.
    Context (tenant, location, connection, provider, operation, documents, redacted
    request/response) travels as attributes so the failure can become an incident as is.
    """

    kind: ErrorKind = ErrorKind.BUG

    def __init__(
        self,
        message: str,
        *,
        user_message: str | None = None,
        kind: ErrorKind | None = None,
        code: str | None = None,
        help_url: str | None = None,
        tenant: str | None = None,
        location: str | None = None,
        connection: str | None = None,
        provider: str | None = None,
        operation: str | None = None,
        documents: tuple[str, ...] = (),
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        if kind is not None:
            self.kind = kind
        self.message = message
        self.user_message = user_message or message
        self.code = code
        self.help_url = help_url
        self.tenant = tenant
        self.location = location
        self.connection = connection
        self.provider = provider
        self.operation = operation
        self.documents = documents
        self.details: Mapping[str, Any] = MappingProxyType(dict(details)) if details else _EMPTY

    def context(self) -> dict[str, Any]:
        """Everything an incident needs, as plain data."""
        return {
            "kind": self.kind.value,
            "code": self.code,
            "message": self.message,
            "user_message": self.user_message,
            "help_url": self.help_url,
            "tenant": self.tenant,
            "location": self.location,
            "connection": self.connection,
            "provider": self.provider,
            "operation": self.operation,
            "documents": list(self.documents),
            "details": dict(self.details),
        }


class TransientError(SyncError):
    kind = ErrorKind.TRANSIENT

    def __init__(self, message: str, *, retry_after: float | None = None, **context: Any) -> None:
        super().__init__(message, **context)
        self.retry_after = retry_after


class AuthError(SyncError):
    kind = ErrorKind.AUTH


class MappingError(SyncError):
    kind = ErrorKind.MAPPING


class ValidationError(SyncError):
    """A document failed validation; ``problems`` lists every one found."""

    kind = ErrorKind.VALIDATION

    def __init__(self, message: str, *, problems: tuple[Any, ...] = (), **context: Any) -> None:
        super().__init__(message, **context)
        self.problems = problems


class ConflictError(SyncError):
    kind = ErrorKind.CONFLICT


class BugError(SyncError):
    kind = ErrorKind.BUG
