"""OAuth 2.0 tokens of connections: encrypted at rest, refreshed once, rotations never lost.

Every provider salesync talks to hands out short-lived access tokens and a refresh token
that may rotate on use (Intuit after a day, Xero and Square on every refresh). Two rules
keep a connection alive across many workers:

- **single flight**: a refresh happens under a lock on the connection's row (a row lock
  on PostgreSQL, the write lock on SQLite), and whoever gets the lock first re-reads the
  tokens: if another process refreshed meanwhile, its tokens are used as they are;
- **persist before use**: the rotated refresh token is committed, encrypted, before the
  new access token is handed to anyone. A crash after the provider rotated but before
  the commit leaves the old refresh token, which providers honour for a grace period.

A refusal from the token endpoint (``invalid_grant``: revoked, expired, already used)
pauses the connection and raises ``AuthError`` carrying a reconnect link; nothing is
retried until the merchant reconnects.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

import httpx
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from salesync.connectors import capture
from salesync.domain.errors import AuthError, BugError, TransientError
from salesync.store.tables import ConnectionRow
from salesync.store.vault import Vault

NOW = timedelta(0)
ACTIVE = "active"
RECONNECT = "reconnect"
"""The connection's grant is gone; it waits for the merchant to reconnect."""


@dataclass(frozen=True, slots=True)
class Grant:
    """The tokens of one connection as stored among its credentials."""

    access_token: str
    refresh_token: str | None = None
    expires_at: datetime | None = None
    refresh_expires_at: datetime | None = None

    @classmethod
    def of(cls, credentials: Mapping[str, Any]) -> Grant:
        def when(key: str) -> datetime | None:
            value = credentials.get(key)
            return datetime.fromisoformat(value) if value else None

        return cls(
            access_token=str(credentials.get("access_token", "")),
            refresh_token=credentials.get("refresh_token"),
            expires_at=when("expires_at"),
            refresh_expires_at=when("refresh_expires_at"),
        )

    def into(self, credentials: Mapping[str, Any]) -> dict[str, Any]:
        """``credentials`` with these tokens in place of the old ones."""
        return {
            **credentials,
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "refresh_expires_at": (
                self.refresh_expires_at.isoformat() if self.refresh_expires_at else None
            ),
        }

    def fresh(self, now: datetime, margin: timedelta) -> bool:
        """Whether the access token still has ``margin`` of life (one without an expiry
        lives until refused)."""
        return bool(self.access_token) and (
            self.expires_at is None or self.expires_at - margin > now
        )


@dataclass(frozen=True, slots=True)
class TokenHolder:
    """The connection a refresh is for, as the choice of its token endpoint needs it: some
    providers have one endpoint per app (Intuit, Xero), others one per merchant (an
    X-Series retailer's own host) or per environment named in the settings."""

    provider: str
    connection_id: str
    settings: Mapping[str, Any]
    credentials: Mapping[str, Any]


class Refresher(Protocol):
    """Redeems a refresh token at one provider's token endpoint."""

    def __call__(self, grant: Grant, now: datetime) -> Grant:
        """The new tokens; ``AuthError`` (code ``invalid_grant``) when the grant is gone,
        ``TransientError`` when the endpoint could not answer."""
        ...


class OAuthRefresher:
    """The refresh-token grant of RFC 6749 §6 over HTTP, in each provider's dialect:
    client credentials as HTTP Basic (Intuit, Xero) or in the body (Square, Shopify), the
    body as a form or JSON."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        client_auth: Literal["basic", "body"] = "basic",
        encoding: Literal["form", "json"] = "form",
        provider: str = "",
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.client_auth = client_auth
        self.encoding = encoding
        self.provider = provider
        basic = httpx.BasicAuth(client_id, client_secret) if client_auth == "basic" else None
        self.http = httpx.Client(
            transport=transport, timeout=timeout, auth=basic, event_hooks=capture.HOOKS
        )

    def __call__(self, grant: Grant, now: datetime) -> Grant:
        if not grant.refresh_token:
            raise AuthError(
                "the connection has no refresh token",
                code="invalid_grant",
                provider=self.provider,
            )
        fields: dict[str, str] = {
            "grant_type": "refresh_token",
            "refresh_token": grant.refresh_token,
        }
        if self.client_auth == "body":
            fields |= {"client_id": self.client_id, "client_secret": self.client_secret}
        try:
            if self.encoding == "json":
                response = self.http.post(self.token_url, json=fields)
            else:
                response = self.http.post(self.token_url, data=fields)
        except httpx.HTTPError as exc:
            raise TransientError(
                f"the token endpoint could not be reached: {exc!r}",
                user_message="The provider's sign-in service did not answer; salesync will "
                "try again shortly.",
                code="token_endpoint_unreachable",
                provider=self.provider,
            ) from None
        return self._read(response, grant, now)

    def _read(self, response: httpx.Response, old: Grant, now: datetime) -> Grant:
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            body = {}
        if response.status_code == 429 or response.status_code >= 500 or not body:
            retry_after = response.headers.get("retry-after")
            raise TransientError(
                f"the token endpoint answered {response.status_code}",
                user_message="The provider's sign-in service is busy; salesync will try "
                "again shortly.",
                code="token_endpoint_unavailable",
                provider=self.provider,
                retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
            )
        if response.status_code >= 400:
            raise _refusal(body, response.status_code, self.provider)
        return _parse_grant(body, old, now)

    def close(self) -> None:
        self.http.close()


def _refusal(body: Mapping[str, Any], status: int, provider: str) -> AuthError | BugError:
    error = str(body.get("error") or "")
    if not error and isinstance(body.get("errors"), list) and body["errors"]:
        error = str(body["errors"][0].get("code", "")).lower()  # Square's error list
    if error == "invalid_client":
        # The app's own credentials are wrong: an operator's fix, not the merchant's.
        return BugError(
            f"the token endpoint refused the app's client credentials ({status})",
            code="invalid_client",
            provider=provider,
        )
    return AuthError(
        f"the token endpoint refused the refresh token: {error or status}",
        code="invalid_grant",
        provider=provider,
        details={"error": error, "status": status},
    )


def _parse_grant(body: Mapping[str, Any], old: Grant, now: datetime) -> Grant:
    access = body.get("access_token")
    if not access:
        raise TransientError(
            "the token endpoint answered without an access token", code="token_malformed"
        )
    expires_at: datetime | None = None
    if body.get("expires_in") is not None:
        expires_at = now + timedelta(seconds=int(body["expires_in"]))
    elif body.get("expires_at"):
        expires_at = datetime.fromisoformat(str(body["expires_at"]).replace("Z", "+00:00"))
    refresh_life = body.get("x_refresh_token_expires_in") or body.get("refresh_token_expires_in")
    return Grant(
        access_token=str(access),
        # A provider that does not rotate sends no new refresh token: the old one stands.
        refresh_token=str(body.get("refresh_token") or old.refresh_token or "") or None,
        expires_at=expires_at,
        refresh_expires_at=(
            now + timedelta(seconds=int(refresh_life)) if refresh_life else old.refresh_expires_at
        ),
    )


def default_reconnect_url(tenant_id: str, connection_id: str) -> str:
    return f"/connections/{connection_id}/reconnect"


class TokenManager:
    """Hands out access tokens of connections, refreshing them once, ahead of expiry."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        vault: Vault,
        clock: Callable[[], datetime],
        refresher: Callable[[TokenHolder], Refresher],
        *,
        margin: timedelta = timedelta(minutes=5),
        reconnect_url: Callable[[str, str], str] = default_reconnect_url,
        paused: Callable[[Session, AuthError], None] | None = None,
    ) -> None:
        """``refresher`` gives the token endpoint of a connection; ``margin`` is how
        long before expiry a token is refreshed, so a request never starts with a token
        about to die. ``paused`` is told, in the transaction that pauses a connection,
        why it was paused (the support loop records the incident there)."""
        self.factory = factory
        self.paused = paused
        self.vault = vault
        self.clock = clock
        self.refresher = refresher
        self.margin = margin
        self.reconnect_url = reconnect_url
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _local_lock(self, connection_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(connection_id, threading.Lock())

    def _read(self, session: Session, tenant_id: str, connection_id: str) -> ConnectionRow:
        row = session.get(ConnectionRow, connection_id, populate_existing=True)
        if row is None or row.tenant_id != tenant_id:
            raise KeyError(f"no connection {connection_id} for tenant {tenant_id}")
        return row

    def access_token(self, tenant_id: str, connection_id: str) -> str:
        """A token good for at least ``margin``; refreshed first when it is not."""
        with self.factory() as session:
            row = self._read(session, tenant_id, connection_id)
            self._check_active(row)
            grant = Grant.of(self.vault.open(row.credentials))
        if grant.fresh(self.clock(), self.margin):
            return grant.access_token
        return self.refresh(tenant_id, connection_id, stale=grant.access_token)

    def refresh(self, tenant_id: str, connection_id: str, *, stale: str | None = None) -> str:
        """Refresh the connection's tokens, once however many ask at the same moment.

        ``stale`` is the access token the caller found wanting (expired, or refused with
        a 401): if the stored token is another one by the time the lock is held, someone
        refreshed already and that token is returned without a second refresh.
        """
        refused: AuthError | None = None
        with self._local_lock(connection_id), self.factory() as session, session.begin():
            # Writing first takes the lock: PostgreSQL locks the row, SQLite the database.
            session.execute(
                update(ConnectionRow)
                .where(ConnectionRow.id == connection_id, ConnectionRow.tenant_id == tenant_id)
                .values(status=ConnectionRow.status)
            )
            row = self._read(session, tenant_id, connection_id)
            self._check_active(row)
            credentials = self.vault.open(row.credentials)
            current = Grant.of(credentials)
            now = self.clock()
            if stale is not None and current.access_token != stale and current.fresh(now, NOW):
                return current.access_token
            try:
                holder = TokenHolder(row.provider, row.id, dict(row.settings or {}), credentials)
                renewed = self.refresher(holder)(current, now)
            except AuthError as exc:
                # Paused in this transaction, so every worker stops asking at once.
                row.status = RECONNECT
                refused = self._reconnect_error(row, exc)
                if self.paused is not None:
                    self.paused(session, refused)
            else:
                row.credentials = self.vault.seal(renewed.into(credentials))
        if refused is not None:
            raise refused
        return renewed.access_token

    def reconnected(self, tenant_id: str, connection_id: str, grant: Grant) -> None:
        """Store the tokens of a fresh authorization and resume the connection."""
        with self.factory() as session, session.begin():
            row = self._read(session, tenant_id, connection_id)
            row.credentials = self.vault.seal(grant.into(self.vault.open(row.credentials)))
            row.status = ACTIVE

    def _check_active(self, row: ConnectionRow) -> None:
        if row.status == RECONNECT:
            raise self._reconnect_error(row, None)

    def _reconnect_error(self, row: ConnectionRow, cause: AuthError | None) -> AuthError:
        link = self.reconnect_url(row.tenant_id, row.id)
        return AuthError(
            f"connection {row.id} ({row.provider}) needs reconnecting",
            user_message=f"salesync lost access to {row.name}: the authorization was revoked "
            f"or has expired. Reconnect it at {link}; nothing is lost, and syncing resumes "
            "where it stopped.",
            code="reconnect_required",
            help_url=link,
            tenant=row.tenant_id,
            connection=row.id,
            provider=row.provider,
            operation="token_refresh",
            details={"cause": cause.message, "cause_code": cause.code} if cause else None,
        )


@dataclass(frozen=True, slots=True)
class ConnectionTokens:
    """The tokens of one connection, as a connector uses them: ``access_token()`` before
    each call, ``refresh(stale=token)`` after a 401 with that token."""

    manager: TokenManager
    tenant_id: str
    connection_id: str

    def access_token(self) -> str:
        return self.manager.access_token(self.tenant_id, self.connection_id)

    def refresh(self, *, stale: str | None = None) -> str:
        return self.manager.refresh(self.tenant_id, self.connection_id, stale=stale)
