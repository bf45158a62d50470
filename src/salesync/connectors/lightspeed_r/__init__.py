"""Lightspeed Retail (R-Series) as a source: sales (with returns as refunds of the sales
they came from), customers and items, by sweep and by history.

R-Series sends no webhooks for sales: salesync polls. Every sale that changes comes again
in the next sweep (``timeStamp``), so polling is the whole story, and the capabilities say
so (``webhooks=False``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import httpx

from salesync.clock import system_clock
from salesync.connectors.lightspeed_r.api import API_URL, TOKEN_URL, LightspeedApi, RetryPolicy
from salesync.connectors.lightspeed_r.client import STREAMS, LightspeedClient
from salesync.connectors.lightspeed_r.problems import PROVIDER
from salesync.connectors.lightspeed_r.translate import translate
from salesync.connectors.source import (
    ForgedWebhookError,
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

CAPABILITIES = SourceCapabilities(
    # No payouts: R-Series' API does not list the processor's deposits.
    kinds=frozenset(
        {DocumentKind.SALE, DocumentKind.REFUND, DocumentKind.CUSTOMER, DocumentKind.PRODUCT}
    ),
    webhooks=False,
    streams=STREAMS,
    history=True,
    # Order ids count from 1 in every account: one connection per tenant.
    ids_per_account=True,
)

__all__ = ["LightspeedRSource", "token_url"]


def token_url(settings: Mapping[str, Any]) -> str:
    """The token endpoint of a connection: its ``token_url`` setting, else Lightspeed's."""
    return str(settings.get("token_url") or TOKEN_URL)


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
            user_message="The Lightspeed connection's 'sweep since' setting must be a date "
            "and time with its offset, such as 2026-01-01T00:00:00+00:00.",
            code="bad_setting",
            provider=PROVIDER,
            problems=(
                Problem("bad_setting", "write it as 2026-01-01T00:00:00+00:00", "sweep_since"),
            ),
        )
    return since


class LightspeedRSource:
    """The Lightspeed Retail (R-Series) source, registered as ``lightspeed_r``.

    Credentials of a connection:

    - ``access_token``, ``refresh_token`` and ``expires_at``: the OAuth grant of the
      retailer's account; access tokens live an hour and are refreshed as needed (through
      the connection's token store when the caller gives one, which stores the rotated
      refresh token; else in the client only);
    - ``client_id`` and ``client_secret``: salesync's app, which a refresh presents (else
      the app configured as ``lightspeed_r_client_id`` and ``lightspeed_r_client_secret``).

    Settings of a connection:

    - ``account_id``: the R-Series account (asked of ``Account.json`` when absent);
    - ``locations``: shop ids mapped to salesync location ids; ``default_location``: where
      sales of an unmapped shop are booked;
    - ``currency``: the account's currency (R-Series sales do not state it; USD when absent);
    - ``sweep_since``: where a first sweep starts (an instant with offset);
    - ``base_url`` and ``token_url``: other hosts than Lightspeed's.

    ``clock`` and ``sleep`` are the time the pacing and token expiry read and how a wait is
    sat out; tests give both from a manual clock.
    """

    name = PROVIDER
    capabilities = CAPABILITIES

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] = system_clock,
        sleep: Callable[[float], None] = time.sleep,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.clock = clock
        self.sleep = sleep
        self.retry = retry or RetryPolicy()

    def verify(self, request: WebhookRequest, connection: SourceConnection) -> Webhook:
        """R-Series sends no webhooks: a delivery claiming to come from it is refused."""
        raise ForgedWebhookError(
            "lightspeed_r sends no webhooks; a delivery for this connection is not genuine",
            code="webhooks_not_supported",
        )

    def translate(self, record_type: str, payload: str, context: SourceContext) -> Translated:
        return translate(record_type, payload, context)

    def connect(
        self, connection: SourceConnection, transport: httpx.BaseTransport | None = None
    ) -> LightspeedClient:
        credentials = connection.credentials
        if not credentials.get("access_token") and not credentials.get("refresh_token"):
            raise AuthError(
                f"lightspeed_r connection {connection.connection_id} holds no tokens",
                user_message="This Lightspeed connection has no access to a Lightspeed "
                "account. Connect Lightspeed again.",
                code="no_access_token",
                provider=PROVIDER,
                connection=connection.connection_id,
            )
        settings = connection.settings
        since = _since(settings)
        api = LightspeedApi(
            credentials,
            account_id=str(settings["account_id"]) if settings.get("account_id") else None,
            base_url=str(settings.get("base_url") or API_URL),
            token_url=token_url(settings),
            transport=transport,
            clock=self.clock,
            sleep=self.sleep,
            retry=self.retry,
            connection_id=connection.connection_id,
            tokens=connection.token,
        )
        return LightspeedClient(api, connection, since=since)
