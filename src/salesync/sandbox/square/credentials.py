"""Square's OAuth: applications, authorization codes, ObtainToken, RevokeToken, bearer checks.

The rules (https://developer.squareup.com/reference/square/o-auth/obtain-token and
https://developer.squareup.com/reference/square/objects/ObtainTokenResponse): codes last
five minutes and work once; access tokens last 30 days, or 24 hours when ``short_lived``;
with the code flow a refresh returns the same refresh token, which never expires; with
PKCE every refresh token is single use and lasts 90 days. The shared ``TokenAuthority``
does the bookkeeping, one for each flow; this layer adds Square's short-lived tokens,
its token response and its revoked-token error.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from salesync.sandbox.oauth import OAuthError, TokenAuthority, TokenPolicy, TokenSet
from salesync.sandbox.square import errors
from salesync.sandbox.square.pages import rfc3339

LATEST_VERSION = "2025-10-16"
NEVER = timedelta(days=36500)
SHORT_LIVED = timedelta(hours=24)
CODE_FLOW = TokenPolicy(
    access_ttl=timedelta(days=30), refresh_idle_ttl=NEVER, rotate_after=NEVER, reuse_grace=NEVER
)
PKCE_FLOW = TokenPolicy(
    access_ttl=timedelta(days=30),
    refresh_idle_ttl=timedelta(days=90),
    rotate_after=timedelta(0),
    reuse_grace=timedelta(0),
)


@dataclass(frozen=True, slots=True)
class SquareApp:
    client_id: str
    client_secret: str
    api_version: str
    """The Square-Version the app is pinned to, used when a request names none."""


@dataclass(frozen=True, slots=True)
class Bearer:
    """A checked access token: whose it is, or why it cannot be used."""

    status: Literal["ok", "expired", "revoked", "invalid"]
    client_id: str = ""
    token: str = ""


@dataclass(slots=True)
class _Issued:
    client_id: str
    refresh_token: str
    authority: TokenAuthority
    expires_at: datetime
    revoked: bool = False


@dataclass(frozen=True, slots=True)
class _Code:
    client_id: str
    redirect_uri: str
    challenge: str | None


def pkce_challenge(verifier: str) -> str:
    """The S256 ``code_challenge`` for ``verifier``."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@dataclass
class SquareCredentials:
    """Every app of the sandbox and every token issued to it; thread-safe."""

    clock: Callable[[], datetime]
    merchant_id: str
    apps: dict[str, SquareApp] = field(default_factory=dict)
    _code_flow: TokenAuthority = field(init=False)
    _pkce: TokenAuthority = field(init=False)
    _codes: dict[str, _Code] = field(default_factory=dict)
    _issued: dict[str, _Issued] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._code_flow = TokenAuthority(CODE_FLOW, self.clock)
        self._pkce = TokenAuthority(PKCE_FLOW, self.clock)

    def register_app(
        self,
        client_id: str | None = None,
        client_secret: str | None = None,
        api_version: str = LATEST_VERSION,
    ) -> SquareApp:
        app = SquareApp(
            client_id or f"sq0idp-{secrets.token_urlsafe(16)}",
            client_secret or f"sq0csp-{secrets.token_urlsafe(32)}",
            api_version,
        )
        for authority in (self._code_flow, self._pkce):
            authority.register_client(app.client_id, app.client_secret)
        with self._lock:
            self.apps[app.client_id] = app
        return app

    def authorize(self, client_id: str, redirect_uri: str, code_challenge: str | None) -> str:
        """The seller said yes: an authorization code for the redirect."""
        authority = self._pkce if code_challenge else self._code_flow
        try:
            code = authority.issue_code(client_id, redirect_uri, self.merchant_id)
        except OAuthError as error:
            raise errors.unauthorized("Unknown client_id.") from error
        with self._lock:
            self._codes[code] = _Code(client_id, redirect_uri, code_challenge)
        return code

    def obtain_token(self, fields: dict[str, Any]) -> dict[str, Any]:
        """ObtainToken for the authorization_code and refresh_token grants."""
        client_id = str(fields.get("client_id") or "")
        if not client_id:
            raise errors.missing("client_id")
        grant_type = fields.get("grant_type")
        short_lived = fields.get("short_lived") is True
        try:
            if grant_type == "authorization_code":
                tokens, authority = self._exchange(client_id, fields)
            elif grant_type == "refresh_token":
                tokens, authority = self._refresh(client_id, fields)
            elif not grant_type:
                raise errors.missing("grant_type")
            else:
                raise errors.invalid(
                    "INVALID_VALUE", "grant_type must be authorization_code or refresh_token.",
                    "grant_type",
                )  # fmt: skip
        except OAuthError as error:
            raise errors.unauthorized(error.description or error.error) from error
        return self._answer(client_id, tokens, authority, short_lived=short_lived)

    def _secret_ok(self, client_id: str, secret: object) -> None:
        app = self.apps.get(client_id)
        if app is None or not isinstance(secret, str):
            raise errors.unauthorized("Invalid client_id or client_secret.")
        if not secrets.compare_digest(app.client_secret, secret):
            raise errors.unauthorized("Invalid client_id or client_secret.")

    def _exchange(self, client_id: str, fields: dict[str, Any]) -> tuple[TokenSet, TokenAuthority]:
        code = str(fields.get("code") or "")
        if not code:
            raise errors.missing("code")
        with self._lock:
            found = self._codes.get(code)
        if found is None or found.client_id != client_id:
            raise errors.unauthorized("Authorization code is invalid or was already redeemed.")
        if found.challenge is None:
            self._secret_ok(client_id, fields.get("client_secret"))
            authority = self._code_flow
        else:
            verifier = str(fields.get("code_verifier") or "")
            if not secrets.compare_digest(pkce_challenge(verifier), found.challenge):
                raise errors.unauthorized("The code_verifier does not match the code_challenge.")
            authority = self._pkce
        redirect_uri = str(fields.get("redirect_uri") or found.redirect_uri)
        return authority.exchange_code(client_id, code, redirect_uri), authority

    def _refresh(self, client_id: str, fields: dict[str, Any]) -> tuple[TokenSet, TokenAuthority]:
        refresh_token = str(fields.get("refresh_token") or "")
        if not refresh_token:
            raise errors.missing("refresh_token")
        if fields.get("client_secret") is not None:
            self._secret_ok(client_id, fields.get("client_secret"))
            return self._code_flow.refresh(client_id, refresh_token), self._code_flow
        return self._pkce.refresh(client_id, refresh_token), self._pkce

    def issue(self, client_id: str, *, short_lived: bool = False) -> dict[str, Any]:
        """Tokens for ``client_id`` without the consent round trip (tests and the demo)."""
        try:
            tokens = self._code_flow.issue_tokens(client_id, self.merchant_id)
        except OAuthError as error:
            raise errors.unauthorized("Unknown client_id.") from error
        return self._answer(client_id, tokens, self._code_flow, short_lived=short_lived)

    def _answer(
        self, client_id: str, tokens: TokenSet, authority: TokenAuthority, *, short_lived: bool
    ) -> dict[str, Any]:
        now = self.clock()
        ttl = SHORT_LIVED if short_lived else timedelta(seconds=tokens.expires_in)
        with self._lock:
            self._issued[tokens.access_token] = _Issued(
                client_id, tokens.refresh_token, authority, now + ttl
            )
        answer: dict[str, Any] = {
            "access_token": tokens.access_token,
            "token_type": "bearer",
            "expires_at": rfc3339(now + ttl),
            "merchant_id": tokens.subject,
            "refresh_token": tokens.refresh_token,
            "short_lived": short_lived,
        }
        if authority is self._pkce:
            expiry = now + timedelta(seconds=tokens.refresh_expires_in)
            answer["refresh_token_expires_at"] = rfc3339(expiry)
        return answer

    def revoke(self, client_id: str, authorization: str | None, access_token: str | None) -> None:
        """RevokeToken: every token of ``client_id`` for this seller stops working.

        The call is authorized with ``Authorization: Client <secret>``
        (https://developer.squareup.com/reference/square/o-auth/revoke-token).
        """
        scheme, _, secret = (authorization or "").partition(" ")
        if scheme != "Client":
            raise errors.unauthorized("RevokeToken needs 'Authorization: Client <secret>'.")
        self._secret_ok(client_id, secret.strip())
        with self._lock:
            if access_token is not None and access_token not in self._issued:
                raise errors.not_found("Access token", access_token[:8] + "…")
            for issued in self._issued.values():
                if issued.client_id == client_id:
                    issued.revoked = True
                    issued.authority.revoke(issued.refresh_token)

    def check(self, authorization: str | None) -> Bearer:
        """Whether ``Authorization: Bearer <token>`` may call the API now."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return Bearer("invalid")
        with self._lock:
            issued = self._issued.get(token)
        if issued is None:
            return Bearer("invalid")
        if issued.revoked:
            return Bearer("revoked", issued.client_id, token)
        verdict = issued.authority.check_access(token)
        if verdict.status == "invalid":
            return Bearer("revoked", issued.client_id, token)
        if verdict.status == "expired" or issued.expires_at <= self.clock():
            return Bearer("expired", issued.client_id, token)
        return Bearer("ok", issued.client_id, token)

    def require(self, authorization: str | None) -> Bearer:
        """The checked bearer, or Square's 401 for it."""
        bearer = self.check(authorization)
        if bearer.status == "expired":
            raise errors.token_expired()
        if bearer.status == "revoked":
            raise errors.token_revoked()
        if bearer.status == "invalid":
            raise errors.unauthorized()
        return bearer
