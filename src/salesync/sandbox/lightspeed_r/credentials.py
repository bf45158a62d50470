"""R-Series OAuth: apps, authorization codes, the token endpoint and bearer checks.

Access tokens live an hour (``expires_in`` 3600) and a refresh token gets new ones
(https://developers.lightspeedhq.com/retail/authentication/access-token/); the refresh
token itself is kept, not rotated, so a refresh answers with the same value. The client's
id and secret travel in the form body. The shared ``TokenAuthority`` does the bookkeeping;
this layer adds the token response and the refusals in OAuth's ``error`` shape.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from salesync.sandbox.oauth import OAuthError, TokenAuthority, TokenPolicy, TokenSet

ACCESS_TTL = timedelta(hours=1)
NEVER = timedelta(days=36500)
POLICY = TokenPolicy(
    access_ttl=ACCESS_TTL, refresh_idle_ttl=NEVER, rotate_after=NEVER, reuse_grace=NEVER
)
SCOPE = "employee:all"


@dataclass(frozen=True, slots=True)
class LightspeedApp:
    client_id: str
    client_secret: str


@dataclass(frozen=True, slots=True)
class Bearer:
    """A checked access token: the account and app it serves, or why it cannot be used."""

    status: Literal["ok", "expired", "invalid"]
    client_id: str = ""
    token: str = ""


@dataclass
class LightspeedCredentials:
    """Every app and token of the account; thread-safe."""

    clock: Callable[[], datetime]
    account_id: str
    apps: dict[str, LightspeedApp] = field(default_factory=dict)
    authority: TokenAuthority = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.authority = TokenAuthority(POLICY, self.clock)

    def register_app(self) -> LightspeedApp:
        app = LightspeedApp(secrets.token_hex(16), secrets.token_hex(32))
        self.authority.register_client(app.client_id, app.client_secret)
        with self._lock:
            self.apps[app.client_id] = app
        return app

    def issue(self, client_id: str) -> dict[str, Any]:
        """A fresh grant for ``client_id`` without the consent screen (tests, the demo)."""
        return self._answer(self.authority.issue_tokens(client_id, self.account_id))

    def token(self, fields: dict[str, str]) -> dict[str, Any]:
        """The token endpoint: the authorization_code and refresh_token grants."""
        client_id = fields.get("client_id", "")
        self.authority.authenticate_client(client_id, fields.get("client_secret", ""))
        grant_type = fields.get("grant_type")
        if grant_type == "authorization_code":
            tokens = self.authority.exchange_code(
                client_id, fields.get("code", ""), fields.get("redirect_uri", "")
            )
        elif grant_type == "refresh_token":
            tokens = self.authority.refresh(client_id, fields.get("refresh_token", ""))
        else:
            raise OAuthError(
                "unsupported_grant_type", f"grant_type {grant_type!r} is not supported"
            )
        return self._answer(tokens)

    def check(self, authorization: str | None) -> Bearer:
        if not authorization or not authorization.lower().startswith("bearer "):
            return Bearer("invalid")
        token = authorization[7:].strip()
        found = self.authority.check_access(token)
        if found.status != "ok":
            return Bearer(found.status, found.client_id, token)
        return Bearer("ok", found.client_id, token)

    @staticmethod
    def _answer(tokens: TokenSet) -> dict[str, Any]:
        return {
            "access_token": tokens.access_token,
            "expires_in": tokens.expires_in,
            "token_type": "bearer",
            "scope": f"{SCOPE} systemuserid:{tokens.subject}",
            "refresh_token": tokens.refresh_token,
        }
