"""Clover's expiring tokens: a refresh token redeemed for a new pair at
``/oauth/v2/refresh``.

The body is JSON with ``client_id`` and ``refresh_token`` (no client secret); the answer
holds ``access_token``, ``refresh_token`` and their expirations as epoch seconds
(``access_token_expiration``, ``refresh_token_expiration``). A refresh token is single
use: the pair it was redeemed for replaces it at once
(https://docs.clover.com/docs/refresh-access-tokens), so the new pair must be stored
before it is used (``salesync.connectors.tokens.TokenManager`` does that).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from salesync.connectors import capture
from salesync.connectors.clover.api import PRODUCTION_URL
from salesync.connectors.tokens import Grant
from salesync.domain.errors import AuthError, TransientError


class CloverRefresher:
    """Redeems a Clover refresh token (a ``salesync.connectors.tokens.Refresher``)."""

    def __init__(
        self,
        client_id: str,
        *,
        base_url: str = PRODUCTION_URL,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.client_id = client_id
        self.http = httpx.Client(
            base_url=base_url, transport=transport, timeout=timeout, event_hooks=capture.HOOKS
        )

    def __call__(self, grant: Grant, now: datetime) -> Grant:
        if not grant.refresh_token:
            raise AuthError(
                "the Clover connection has no refresh token",
                code="invalid_grant",
                provider="clover",
                user_message="Connect Clover again: salesync holds no way to renew its access.",
            )
        try:
            response = self.http.post(
                "/oauth/v2/refresh",
                json={"client_id": self.client_id, "refresh_token": grant.refresh_token},
            )
        except httpx.HTTPError as exc:
            raise TransientError(
                f"clover's token endpoint could not be reached: {type(exc).__name__}",
                code="token_endpoint_unreachable",
                provider="clover",
                user_message="Clover's sign-in service did not answer; salesync tries again "
                "shortly.",
            ) from None
        return self._read(response)

    def _read(self, response: httpx.Response) -> Grant:
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        if response.status_code == 429 or response.status_code >= 500 or not isinstance(body, dict):
            raise TransientError(
                f"clover's token endpoint answered {response.status_code}",
                code="token_endpoint_unavailable",
                provider="clover",
                user_message="Clover's sign-in service is busy; salesync tries again shortly.",
            )
        if response.status_code >= 400 or not body.get("access_token"):
            raise AuthError(
                f"clover refused the refresh token: {body.get('message') or response.status_code}",
                code="invalid_grant",
                provider="clover",
                user_message="Clover no longer accepts salesync's access; reconnect Clover.",
                details={"status": response.status_code},
            )
        return Grant(
            access_token=str(body["access_token"]),
            refresh_token=str(body.get("refresh_token") or "") or None,
            expires_at=_when(body.get("access_token_expiration")),
            refresh_expires_at=_when(body.get("refresh_token_expiration")),
        )

    def close(self) -> None:
        self.http.close()


def _when(seconds: Any) -> datetime | None:
    return datetime.fromtimestamp(int(seconds), UTC) if seconds else None
