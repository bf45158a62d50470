"""Clover as a source: orders (sales and their refunds), customers and inventory items of
one Clover merchant, by sweep, by history, and webhook notifications checked with the
app's ``X-Clover-Auth`` code."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import httpx

from salesync.connectors.clover.api import PRODUCTION_URL, SANDBOX_URL, CloverApi, RetryPolicy
from salesync.connectors.clover.client import STREAMS, CloverClient
from salesync.connectors.clover.translate import translate
from salesync.connectors.clover.webhooks import read_delivery
from salesync.connectors.source import (
    SourceCapabilities,
    SourceConnection,
    SourceContext,
    Translated,
    Webhook,
    WebhookRequest,
)
from salesync.domain.documents import DocumentKind
from salesync.domain.errors import AuthError, ValidationError
from salesync.domain.validation import Problem

ACCESS_TOKEN = "access_token"  # noqa: S105  the credential's name, not a secret
CAPABILITIES = SourceCapabilities(
    # Clover's REST API has no deposits or payouts for apps to read: no PAYOUT here.
    kinds=frozenset(
        {DocumentKind.SALE, DocumentKind.REFUND, DocumentKind.CUSTOMER, DocumentKind.PRODUCT}
    ),
    webhooks=True,
    streams=STREAMS,
    history=True,
    # Clover documents no retry window ("does not guarantee when, or if, notifications
    # will be received", https://docs.clover.com/docs/webhooks), so no age is refused;
    # a notification only names objects, which are fetched as they are now.
    replay_horizon=None,
)

__all__ = ["CloverSource", "base_url"]


def _bad_setting(name: str, message: str, fix: str) -> ValidationError:
    return ValidationError(
        message,
        user_message=f"The Clover connection's {name.replace('_', ' ')} setting: {fix}",
        code="bad_setting",
        provider="clover",
        problems=(Problem("bad_setting", fix, name),),
    )


def _since(settings: Mapping[str, Any]) -> datetime | None:
    raw = settings.get("sweep_since")
    if not raw:
        return None
    try:
        since: datetime | None = datetime.fromisoformat(str(raw))
    except ValueError:
        since = None
    if since is None or since.tzinfo is None:
        raise _bad_setting(
            "sweep_since",
            f"sweep_since {raw!r} is not an instant with a UTC offset",
            "write it as 2026-01-01T00:00:00+00:00",
        )
    return since


def base_url(settings: Mapping[str, Any]) -> str:
    """The API host a connection's settings name: ``base_url``, else the sandbox's or
    production's by ``environment``; its token endpoint is on the same host."""
    if settings.get("base_url"):
        return str(settings["base_url"])
    return SANDBOX_URL if settings.get("environment") == "sandbox" else PRODUCTION_URL


class CloverSource:
    """The Clover source, registered as ``clover``.

    Credentials of a connection:

    - ``access_token``: the merchant's OAuth access token (v2/OAuth expiring tokens are
      renewed with ``CloverRefresher``; a token Clover refuses asks for a reconnect);
    - ``webhook_auth_code``: the app's Clover auth code, sent in ``X-Clover-Auth``.

    Settings of a connection:

    - ``merchant_id``: the Clover merchant (one per location) the token is for;
    - ``locations``: Clover merchant ids mapped to salesync location ids, or
      ``default_location``;
    - ``app_id``: the Clover app the token was issued to, when salesync runs more than one
      (every merchant of one app shares its limits; by default one app per host);
    - ``sweep_since``: where a first sweep starts (an instant with offset);
    - ``environment``: ``sandbox`` for Clover's sandbox; ``base_url`` to name another host.

    ``clock`` and ``sleep`` pace calls inside Clover's limits and wait out a 429; tests
    inject ones that move a manual clock.
    """

    name = "clover"
    capabilities = CAPABILITIES

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.clock = clock
        self.sleep = sleep
        self.retry = retry or RetryPolicy()

    def verify(self, request: WebhookRequest, connection: SourceConnection) -> Webhook:
        return read_delivery(request, connection)

    def translate(self, record_type: str, payload: str, context: SourceContext) -> Translated:
        return translate(record_type, payload, context)

    def connect(
        self, connection: SourceConnection, transport: httpx.BaseTransport | None = None
    ) -> CloverClient:
        # With salesync's token store, an access token near its expiry is renewed (and
        # the rotated refresh token stored) before the first call.
        token = (
            connection.token.access_token()
            if connection.token is not None
            else connection.credentials.get(ACCESS_TOKEN)
        )
        if not token:
            raise AuthError(
                f"clover connection {connection.connection_id} has no {ACCESS_TOKEN}",
                user_message="This Clover connection has no access to a Clover merchant. "
                "Connect Clover again.",
                code="no_access_token",
                provider="clover",
                connection=connection.connection_id,
            )
        merchant = connection.settings.get("merchant_id")
        if not merchant:
            raise _bad_setting(
                "merchant_id",
                f"clover connection {connection.connection_id} names no merchant_id",
                "set the Clover merchant id the connection reads",
            )
        api = CloverApi(
            str(token),
            str(merchant),
            base_url=base_url(connection.settings),
            transport=transport,
            clock=self.clock,
            sleep=self.sleep,
            retry=self.retry,
            connection_id=connection.connection_id,
            app=str(connection.settings.get("app_id") or "") or None,
        )
        return CloverClient(api, connection, since=_since(connection.settings))
