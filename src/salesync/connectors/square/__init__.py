"""Square as a source: orders (sales, returns, exchanges), customers, the catalog and
payouts, by sweep, by history, and signed webhook notifications."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx

from salesync.connectors.source import (
    SourceCapabilities,
    SourceConnection,
    SourceContext,
    Translated,
    Webhook,
    WebhookRequest,
)
from salesync.connectors.square.api import PRODUCTION_URL, SANDBOX_URL, RetryPolicy, SquareApi
from salesync.connectors.square.client import STREAMS, SquareClient
from salesync.connectors.square.translate import translate
from salesync.connectors.square.webhooks import read_delivery
from salesync.domain.documents import DocumentKind
from salesync.domain.errors import AuthError, ValidationError
from salesync.domain.validation import Problem

ACCESS_TOKEN = "access_token"  # noqa: S105  the credential's name, not a secret
CAPABILITIES = SourceCapabilities(
    kinds=frozenset(
        {
            DocumentKind.SALE,
            DocumentKind.REFUND,
            DocumentKind.PAYOUT,
            DocumentKind.CUSTOMER,
            DocumentKind.PRODUCT,
        }
    ),
    webhooks=True,
    streams=STREAMS,
    history=True,
    # Square retries a notification for up to 72 hours after the event
    # (https://developer.squareup.com/docs/webhooks-api/delivery-sla); an hour of margin.
    replay_horizon=timedelta(hours=73),
    title="Square",
)

__all__ = ["SquareSource", "base_url"]


def _since(settings: Mapping[str, Any]) -> datetime | None:
    raw = settings.get("sweep_since")
    if not raw:
        return None
    try:
        since = datetime.fromisoformat(str(raw))
    except ValueError:
        since = None
    if since is None or since.tzinfo is None:
        raise ValidationError(
            f"sweep_since {raw!r} is not an instant with a UTC offset",
            user_message="The Square connection's 'sweep since' setting must be a date and "
            "time with its offset, such as 2026-01-01T00:00:00+00:00.",
            code="bad_setting",
            provider="square",
            problems=(
                Problem("bad_setting", "write it as 2026-01-01T00:00:00+00:00", "sweep_since"),
            ),
        )
    return since


def base_url(settings: Mapping[str, Any]) -> str:
    """The API host a connection's settings name: ``base_url``, else the sandbox's or
    production's by ``environment``; its token endpoint is on the same host."""
    if settings.get("base_url"):
        return str(settings["base_url"])
    return SANDBOX_URL if settings.get("environment") == "sandbox" else PRODUCTION_URL


class SquareSource:
    """The Square source, registered as ``square``.

    Credentials of a connection:

    - ``access_token``: the OAuth access token of the seller's account (salesync does not
      refresh it; when Square refuses it, the merchant is asked to reconnect);
    - ``webhook_signature_key``: the signature key of the webhook subscription.

    Settings of a connection:

    - ``locations``: Square location ids mapped to salesync location ids;
    - ``default_location``: where orders of an unmapped Square location are booked;
    - ``notification_url``: the URL the webhook subscription names, which signatures
      cover, when it differs from the one requests arrive under (behind a proxy);
    - ``merchant_id``: the seller's id; notifications for another seller carry nothing;
    - ``sweep_since``: where a first sweep starts (an instant with offset; the whole
      account when absent; older history is for a backfill);
    - ``environment``: ``sandbox`` for Square's sandbox; ``base_url`` to name another host.

    ``sleep`` and ``retry`` decide how a call waits out a 429 or a 5xx before its
    ``TransientError`` goes up; tests inject a ``sleep`` that does not wait.
    """

    name = "square"
    capabilities = CAPABILITIES

    def __init__(
        self,
        *,
        sleep: Callable[[float], None] = time.sleep,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.sleep = sleep
        self.retry = retry or RetryPolicy()

    def verify(self, request: WebhookRequest, connection: SourceConnection) -> Webhook:
        return read_delivery(request, connection)

    def translate(self, record_type: str, payload: str, context: SourceContext) -> Translated:
        return translate(record_type, payload, context)

    def connect(
        self, connection: SourceConnection, transport: httpx.BaseTransport | None = None
    ) -> SquareClient:
        # With salesync's token store, an access token near its expiry is renewed (and
        # the rotated refresh token stored) before the first call.
        token = (
            connection.token.access_token()
            if connection.token is not None
            else connection.credentials.get(ACCESS_TOKEN)
        )
        if not token:
            raise AuthError(
                f"square connection {connection.connection_id} has no {ACCESS_TOKEN}",
                user_message="This Square connection has no access to a Square account. "
                "Connect Square again.",
                code="no_access_token",
                provider="square",
                connection=connection.connection_id,
            )
        api = SquareApi(
            str(token),
            base_url=base_url(connection.settings),
            transport=transport,
            sleep=self.sleep,
            retry=self.retry,
            connection_id=connection.connection_id,
        )
        return SquareClient(api, connection, since=_since(connection.settings))
