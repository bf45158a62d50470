"""Lightspeed Retail (X-Series) as a source: sales (returns, on-account and layby sales
once paid off), customers, products and register closures, by sweep, by history, and
signed webhooks."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from salesync.connectors.lightspeed_x.api import LightspeedApi, RetryPolicy, StoredToken
from salesync.connectors.lightspeed_x.client import STREAMS, LightspeedXClient
from salesync.connectors.lightspeed_x.errors import PROVIDER
from salesync.connectors.lightspeed_x.translate import translate
from salesync.connectors.lightspeed_x.webhooks import read_delivery
from salesync.connectors.source import (
    SourceCapabilities,
    SourceConnection,
    SourceContext,
    Translated,
    Webhook,
    WebhookRequest,
)
from salesync.connectors.tokens import OAuthRefresher
from salesync.domain.documents import DocumentKind
from salesync.domain.errors import AuthError, ValidationError
from salesync.domain.validation import Problem

CAPABILITIES = SourceCapabilities(
    # X-Series has no payouts of its own: card takings settle through the payment
    # provider, so none are declared.
    kinds=frozenset(
        {DocumentKind.SALE, DocumentKind.REFUND, DocumentKind.CUSTOMER, DocumentKind.PRODUCT}
    ),
    webhooks=True,
    streams=STREAMS,
    history=True,
    # X-Series documents no retry window, and a delivery carries no time of its own to
    # measure one against; webhooks are hints the sweep stands behind.
    replay_horizon=None,
)

__all__ = ["LightspeedXSource", "token_endpoint", "token_refresher", "token_url"]


def token_endpoint(domain_prefix: str) -> str:
    """The retailer's token endpoint: each retailer refreshes at its own host
    (https://x-series-api.lightspeedhq.com/changelog/2025-03-refresh-token-flow-update;
    the older ``{domain_prefix}.vendhq.com`` host redirects there)."""
    return f"https://{domain_prefix}.retail.lightspeed.app/api/1.0/token"


def token_url(settings: Mapping[str, Any]) -> str:
    """The token endpoint of a connection: ``token_url`` when set, else the one on the
    ``base_url`` host it reads (a sandbox), else the retailer's own by its domain prefix."""
    if settings.get("token_url"):
        return str(settings["token_url"])
    if settings.get("base_url"):
        return str(settings["base_url"]).rstrip("/") + "/api/1.0/token"
    prefix = settings.get("domain_prefix")
    if not prefix:
        raise _no_prefix("the lightspeed_x connection")
    return token_endpoint(str(prefix))


def token_refresher(
    url: str,
    client_id: str,
    client_secret: str,
    transport: httpx.BaseTransport | None = None,
) -> OAuthRefresher:
    """The refresh-token grant as X-Series takes it at ``url``: a form with the client
    credentials in the body; the answer's new refresh token replaces the old one, which
    stops working at once, so it must be stored before use (``TokenManager`` does)."""
    return OAuthRefresher(
        url,
        client_id,
        client_secret,
        client_auth="body",
        encoding="form",
        provider=PROVIDER,
        transport=transport,
    )


def _no_prefix(connection: str) -> ValidationError:
    return ValidationError(
        f"{connection} has no domain_prefix",
        user_message="Set the Lightspeed store's domain prefix (the part before "
        ".retail.lightspeed.app in its address) on this connection.",
        code="bad_setting",
        provider=PROVIDER,
        problems=(Problem("missing_setting", "name the store's domain prefix", "domain_prefix"),),
    )


def _domain_prefix(connection: SourceConnection) -> str:
    prefix = connection.settings.get("domain_prefix") or connection.credentials.get("domain_prefix")
    if not prefix:
        raise _no_prefix(f"lightspeed_x connection {connection.connection_id}")
    return str(prefix)


class LightspeedXSource:
    """The Lightspeed Retail (X-Series) source, registered as ``lightspeed_x``.

    Credentials of a connection:

    - ``access_token`` and ``refresh_token``: the add-on's OAuth tokens for the retailer
      (refreshed, and the rotated refresh token stored, through the connection's token
      store when the caller gives one);
    - ``client_secret``: the add-on's client secret, which signs webhook deliveries.

    Settings of a connection:

    - ``domain_prefix``: the store's prefix (``kowhai`` in kowhai.retail.lightspeed.app);
    - ``locations``: outlet ids mapped to salesync location ids; ``default_location``;
    - ``tip_skus``: SKUs of the products the retailer rings tips up as (default ``tip``);
    - ``base_url``: another host for the API (a sandbox), whose token endpoint is used too;
    - ``token_url``: another token endpoint than the retailer's.

    ``sleep`` and ``retry`` decide how a call waits out a 429 or a 5xx before its
    ``TransientError`` goes up; tests inject a ``sleep`` that moves a simulated clock.
    """

    name = PROVIDER
    capabilities = CAPABILITIES

    def __init__(
        self,
        *,
        sleep: Callable[[float], None] = time.sleep,
        retry: RetryPolicy | None = None,
        page_size: int | None = None,
    ) -> None:
        self.sleep = sleep
        self.retry = retry or RetryPolicy()
        self.page_size = page_size

    def verify(self, request: WebhookRequest, connection: SourceConnection) -> Webhook:
        return read_delivery(request, connection)

    def translate(self, record_type: str, payload: str, context: SourceContext) -> Translated:
        return translate(record_type, payload, context)

    def connect(
        self, connection: SourceConnection, transport: httpx.BaseTransport | None = None
    ) -> LightspeedXClient:
        prefix = _domain_prefix(connection)
        tokens: Any = connection.token
        if tokens is None:
            token = connection.credentials.get("access_token")
            if not token:
                raise AuthError(
                    f"lightspeed_x connection {connection.connection_id} has no access_token",
                    user_message="This Lightspeed connection has no access to a store. "
                    "Connect Lightspeed again.",
                    code="no_access_token",
                    provider=PROVIDER,
                    connection=connection.connection_id,
                )
            tokens = StoredToken(str(token), connection.connection_id)
        base_url = str(
            connection.settings.get("base_url") or f"https://{prefix}.retail.lightspeed.app"
        )
        api = LightspeedApi(
            base_url,
            tokens,
            transport=transport,
            sleep=self.sleep,
            retry=self.retry,
            connection_id=connection.connection_id,
        )
        if self.page_size is None:
            return LightspeedXClient(api, connection)
        return LightspeedXClient(api, connection, page_size=self.page_size)
