"""An OAuth 2.0 authorization server for the sandboxes: codes, access and refresh tokens.

Each provider rotates refresh tokens its own way, so the rules are a ``TokenPolicy``:
how long access tokens live, how long an unused refresh token lives, how old a refresh
token must be before a refresh hands out a new value, and how long a replaced refresh
token keeps working. Time comes from an injected clock so tests can expire tokens.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

CODE_TTL = timedelta(minutes=5)
"""Authorization codes are single use and short lived at both Intuit and Xero."""


@dataclass(frozen=True, slots=True)
class TokenPolicy:
    """How one provider issues and rotates tokens."""

    access_ttl: timedelta
    refresh_idle_ttl: timedelta
    """An unused refresh token expires this long after it was issued or last used."""
    rotate_after: timedelta
    """A refresh returns a new refresh token value once the current one is this old."""
    reuse_grace: timedelta
    """A replaced refresh token may still be redeemed for this long after replacement."""
    refresh_max_age: timedelta | None = None
    """A hard limit on a grant's life, whatever its use."""


@dataclass(frozen=True, slots=True)
class TokenSet:
    """What a token endpoint hands back."""

    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int
    subject: str
    """The company or organisation the grant gives access to."""


@dataclass(frozen=True, slots=True)
class AccessCheck:
    """The verdict on a bearer token presented to an API."""

    status: Literal["ok", "expired", "invalid"]
    subject: str = ""
    client_id: str = ""
    expires_at: datetime | None = None


class OAuthError(Exception):
    """A token endpoint refusal, carrying the RFC 6749 error code."""

    def __init__(self, error: str, description: str = "", status: int = 400) -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description
        self.status = status


@dataclass(slots=True)
class _Grant:
    id: str
    client_id: str
    subject: str
    created_at: datetime
    revoked: bool = False


@dataclass(slots=True)
class _Refresh:
    grant: _Grant
    issued_at: datetime
    last_used_at: datetime
    successor: str | None = None
    replaced_at: datetime | None = None


@dataclass(slots=True)
class _Code:
    client_id: str
    redirect_uri: str
    subject: str
    expires_at: datetime


@dataclass(slots=True)
class _Access:
    grant: _Grant
    expires_at: datetime


def parse_basic_auth(header: str | None) -> tuple[str, str] | None:
    """The (client_id, client_secret) in an HTTP Basic ``Authorization`` header, if any."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None


@dataclass
class TokenAuthority:
    """Issues, rotates, checks and revokes tokens under one policy; thread-safe."""

    policy: TokenPolicy
    clock: Callable[[], datetime]
    clients: dict[str, str] = field(default_factory=dict)
    _codes: dict[str, _Code] = field(default_factory=dict)
    _refresh: dict[str, _Refresh] = field(default_factory=dict)
    _access: dict[str, _Access] = field(default_factory=dict)
    _declines: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def register_client(self, client_id: str, client_secret: str) -> None:
        with self._lock:
            self.clients[client_id] = client_secret

    def authenticate_client(self, client_id: str, client_secret: str) -> None:
        """Raise ``invalid_client`` unless the pair is a registered app."""
        known = self.clients.get(client_id)
        if known is None or not secrets.compare_digest(known, client_secret):
            raise OAuthError("invalid_client", status=401)

    def decline_next(self, times: int = 1) -> None:
        """The user answers no (Cancel, Deny) on the next ``times`` consent screens."""
        with self._lock:
            self._declines += times

    def consents(self) -> bool:
        """The user's answer on a consent screen: yes, unless a decline is pending."""
        with self._lock:
            if self._declines:
                self._declines -= 1
                return False
            return True

    def issue_code(self, client_id: str, redirect_uri: str, subject: str) -> str:
        """Record the user's consent and return the authorization code for the redirect."""
        if client_id not in self.clients:
            raise OAuthError("invalid_client", status=401)
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = _Code(client_id, redirect_uri, subject, self.clock() + CODE_TTL)
        return code

    def exchange_code(self, client_id: str, code: str, redirect_uri: str) -> TokenSet:
        """The authorization_code grant: a consented code becomes a token pair, once."""
        with self._lock:
            found = self._codes.pop(code, None)
            if found is None or found.client_id != client_id:
                raise OAuthError("invalid_grant", "authorization code is invalid or was used")
            if found.expires_at <= self.clock():
                raise OAuthError("invalid_grant", "authorization code has expired")
            if found.redirect_uri != redirect_uri:
                raise OAuthError("invalid_grant", "redirect_uri does not match the authorization")
            return self._new_grant(client_id, found.subject)

    def issue_tokens(self, client_id: str, subject: str) -> TokenSet:
        """A fresh grant without the consent round trip, for tests and the demo."""
        if client_id not in self.clients:
            raise OAuthError("invalid_client", status=401)
        with self._lock:
            return self._new_grant(client_id, subject)

    def refresh(self, client_id: str, refresh_token: str) -> TokenSet:
        """The refresh_token grant, rotating the refresh token as the policy says."""
        now = self.clock()
        with self._lock:
            record = self._refresh.get(refresh_token)
            if record is None or record.grant.revoked or record.grant.client_id != client_id:
                raise OAuthError("invalid_grant", "Token invalid or revoked")
            self._check_alive(record, now)
            if record.successor is not None and record.replaced_at is not None:
                if now - record.replaced_at >= self.policy.reuse_grace:
                    raise OAuthError("invalid_grant", "Refresh token was already used")
                return self._tokens(record.grant, record.successor, now)
            if now - record.issued_at >= self.policy.rotate_after:
                successor = secrets.token_urlsafe(32)
                self._refresh[successor] = _Refresh(record.grant, now, now)
                record.successor, record.replaced_at = successor, now
                return self._tokens(record.grant, successor, now)
            record.last_used_at = now
            return self._tokens(record.grant, refresh_token, now)

    def revoke(self, token: str) -> bool:
        """Revoke the grant behind an access or refresh token; False if the token is unknown."""
        with self._lock:
            holder = self._refresh.get(token) or self._access.get(token)
            if holder is None:
                return False
            holder.grant.revoked = True
            return True

    def revoke_subject(self, subject: str) -> int:
        """Revoke every grant to ``subject`` (the user disconnected the app); how many."""
        with self._lock:
            grants = {
                r.grant.id: r.grant for r in self._refresh.values() if r.grant.subject == subject
            }
            for grant in grants.values():
                grant.revoked = True
            return len(grants)

    def check_access(self, token: str) -> AccessCheck:
        """Whether a bearer token may call the API right now."""
        with self._lock:
            record = self._access.get(token)
            if record is None or record.grant.revoked:
                return AccessCheck("invalid")
            status: Literal["ok", "expired"] = (
                "expired" if record.expires_at <= self.clock() else "ok"
            )
            return AccessCheck(
                status, record.grant.subject, record.grant.client_id, record.expires_at
            )

    def _check_alive(self, record: _Refresh, now: datetime) -> None:
        if now - record.last_used_at >= self.policy.refresh_idle_ttl:
            raise OAuthError("invalid_grant", "Token expired")
        max_age = self.policy.refresh_max_age
        if max_age is not None and now - record.grant.created_at >= max_age:
            raise OAuthError("invalid_grant", "Token expired")

    def _new_grant(self, client_id: str, subject: str) -> TokenSet:
        now = self.clock()
        grant = _Grant(secrets.token_hex(8), client_id, subject, now)
        refresh_token = secrets.token_urlsafe(32)
        self._refresh[refresh_token] = _Refresh(grant, now, now)
        return self._tokens(grant, refresh_token, now)

    def _tokens(self, grant: _Grant, refresh_token: str, now: datetime) -> TokenSet:
        access_token = secrets.token_urlsafe(32)
        self._access[access_token] = _Access(grant, now + self.policy.access_ttl)
        record = self._refresh[refresh_token]
        refresh_left = record.last_used_at + self.policy.refresh_idle_ttl - now
        return TokenSet(
            access_token=access_token,
            refresh_token=refresh_token,
            expires_in=int(self.policy.access_ttl.total_seconds()),
            refresh_expires_in=int(refresh_left.total_seconds()),
            subject=grant.subject,
        )
