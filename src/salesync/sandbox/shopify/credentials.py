"""Apps, authorization codes and access tokens of one simulated shop.

Offline tokens come in the two documented flavours: non-expiring, and expiring after an
hour with a rotating refresh token (opted into with ``expiring=1``); see
https://shopify.dev/changelog/offline-access-tokens-now-support-expiry-and-refresh.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

Clock = Callable[[], datetime]

ACCESS_TOKEN_TTL = timedelta(hours=1)
REFRESH_TOKEN_TTL = timedelta(days=90)
AUTHORIZATION_CODE_TTL = timedelta(minutes=10)


class CredentialError(Exception):
    """A token request that Shopify would refuse, with its OAuth error code."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


@dataclass(frozen=True, slots=True)
class ShopifyApp:
    client_id: str
    client_secret: str
    scopes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AccessToken:
    token: str
    client_id: str
    scopes: tuple[str, ...]
    expires_at: datetime | None
    revoked: bool = False


@dataclass(frozen=True, slots=True)
class RefreshToken:
    token: str
    client_id: str
    scopes: tuple[str, ...]
    expires_at: datetime
    replaced_by_access: str | None = None


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """What the token endpoint answers."""

    access_token: str
    scopes: tuple[str, ...]
    expires_in: int | None = None
    refresh_token: str | None = None
    refresh_token_expires_in: int | None = None

    def as_json(self) -> dict[str, object]:
        body: dict[str, object] = {
            "access_token": self.access_token,
            "scope": ",".join(self.scopes),
        }
        if self.refresh_token is not None:
            body |= {
                "expires_in": self.expires_in,
                "refresh_token": self.refresh_token,
                "refresh_token_expires_in": self.refresh_token_expires_in,
            }
        return body


@dataclass(frozen=True, slots=True)
class _Code:
    client_id: str
    scopes: tuple[str, ...]
    expires_at: datetime


class ShopifyCredentials:
    """Who may call the shop, and with which scopes."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.apps: dict[str, ShopifyApp] = {}
        self._codes: dict[str, _Code] = {}
        self._tokens: dict[str, AccessToken] = {}
        self._refresh: dict[str, RefreshToken] = {}
        self._offline: dict[str, str] = {}

    def register_app(
        self,
        scopes: tuple[str, ...],
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> ShopifyApp:
        """Create (or replace) an app installed on this shop with ``scopes``."""
        app = ShopifyApp(
            client_id=client_id or secrets.token_hex(16),
            client_secret=client_secret or f"shpss_{secrets.token_hex(16)}",
            scopes=scopes,
        )
        with self._lock:
            self.apps[app.client_id] = app
        return app

    def issue_code(self, client_id: str) -> str:
        """The one-time code the merchant's approval redirects back with."""
        app = self._app(client_id)
        code = secrets.token_hex(16)
        with self._lock:
            self._codes[code] = _Code(client_id, app.scopes, self._clock() + AUTHORIZATION_CODE_TTL)
        return code

    def exchange_code(
        self, client_id: str, client_secret: str, code: str, *, expiring: bool
    ) -> TokenGrant:
        """Redeem an authorization code; a code works once and only for its app."""
        self._authenticate(client_id, client_secret)
        with self._lock:
            grant = self._codes.pop(code, None)
            if grant is None or grant.client_id != client_id or grant.expires_at < self._clock():
                raise CredentialError(
                    "invalid_request", "The authorization code was not found or was already used"
                )
            if expiring:
                return self._issue_expiring(client_id, grant.scopes)
            # Authorizing again in offline mode returns the same token each time
            # (https://shopify.dev/docs/apps/auth/access-token-types/offline).
            token = self._offline.get(client_id)
            if token is None or self._tokens[token].revoked:
                token = f"shpat_{secrets.token_hex(16)}"
                self._offline[client_id] = token
            self._tokens[token] = AccessToken(token, client_id, grant.scopes, None)
            return TokenGrant(token, grant.scopes)

    def refresh(self, client_id: str, client_secret: str, refresh_token: str) -> TokenGrant:
        """Trade a refresh token for a new access token and a new refresh token."""
        self._authenticate(client_id, client_secret)
        with self._lock:
            current = self._refresh.get(refresh_token)
            if current is None or current.client_id != client_id:
                raise CredentialError("invalid_grant", "Token has been expired or revoked.")
            if current.expires_at < self._clock():
                raise CredentialError("invalid_grant", "Token has been expired or revoked.")
            grant = self._issue_expiring(client_id, current.scopes)
            # The used refresh token stays valid until the app starts using its replacement,
            # so a lost refresh response can be retried
            # (https://shopify.dev/changelog/more-resilient-refreshes-for-expiring-offline-access-tokens).
            self._refresh[refresh_token] = replace(current, replaced_by_access=grant.access_token)
            return grant

    def authorize(self, token: str | None) -> AccessToken | None:
        """The live token behind ``token``, or None when missing, unknown, expired or revoked."""
        if not token:
            return None
        with self._lock:
            found = self._tokens.get(token)
            if found is None or found.revoked:
                return None
            if found.expires_at is not None and found.expires_at <= self._clock():
                return None
            for key, refresh in list(self._refresh.items()):
                if refresh.replaced_by_access == token:
                    del self._refresh[key]
            return found

    def revoke(self, token: str) -> bool:
        """Revoke one access token, as the merchant or Shopify may do."""
        with self._lock:
            found = self._tokens.get(token)
            if found is None:
                return False
            self._tokens[token] = replace(found, revoked=True)
            return True

    def uninstall(self, client_id: str) -> None:
        """Revoke every token of ``client_id``: uninstalling ends the app's access."""
        with self._lock:
            for key, token in list(self._tokens.items()):
                if token.client_id == client_id:
                    self._tokens[key] = replace(token, revoked=True)
            for key, refresh in list(self._refresh.items()):
                if refresh.client_id == client_id:
                    del self._refresh[key]
            self._offline.pop(client_id, None)

    def _issue_expiring(self, client_id: str, scopes: tuple[str, ...]) -> TokenGrant:
        now = self._clock()
        access = f"shpat_{secrets.token_hex(16)}"
        refresh = f"shprt_{secrets.token_hex(16)}"
        self._tokens[access] = AccessToken(access, client_id, scopes, now + ACCESS_TOKEN_TTL)
        self._refresh[refresh] = RefreshToken(refresh, client_id, scopes, now + REFRESH_TOKEN_TTL)
        return TokenGrant(
            access_token=access,
            scopes=scopes,
            expires_in=int(ACCESS_TOKEN_TTL.total_seconds()),
            refresh_token=refresh,
            refresh_token_expires_in=int(REFRESH_TOKEN_TTL.total_seconds()),
        )

    def _app(self, client_id: str) -> ShopifyApp:
        app = self.apps.get(client_id)
        if app is None:
            raise CredentialError("invalid_client", "Client credentials are invalid", 401)
        return app

    def _authenticate(self, client_id: str, client_secret: str) -> ShopifyApp:
        app = self._app(client_id)
        if not secrets.compare_digest(app.client_secret, client_secret):
            raise CredentialError("invalid_client", "Client credentials are invalid", 401)
        return app
