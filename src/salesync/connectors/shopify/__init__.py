"""The Shopify source: orders, refunds, customers, products and Shopify Payments payouts,
from signed webhooks, a sweep of the GraphQL Admin API, and history for backfills."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx

from salesync.connectors.shopify.admin import API_VERSION, Clock, ShopifyAdmin, Sleep
from salesync.connectors.shopify.client import STREAMS, ShopifyClient
from salesync.connectors.shopify.problems import SOURCE
from salesync.connectors.shopify.translate import translate
from salesync.connectors.shopify.webhooks import read_delivery, signature
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
    # Shopify retries a delivery for about four hours
    # (https://shopify.dev/changelog/updates-to-webhook-retry-mechanism).
    replay_horizon=timedelta(hours=5),
    title="Shopify",
)


class ShopifySource:
    """Shopify, for every connection to a Shopify store.

    A connection's **credentials**:

    - ``access_token``: the Admin API access token of salesync's app on the store
      (``shpat_...``), sent as ``X-Shopify-Access-Token``;
    - ``client_secret``: the app's client secret, which signs webhook deliveries.

    Its **settings**:

    - ``shop``: the store's myshopify domain (``example.myshopify.com``);
    - ``currency``: the store's currency (``USD``), which product prices do not state;
    - ``locations``: Shopify location ids (the numbers, as text) to salesync location
      ids, for point-of-sale orders;
    - ``default_location``: where online orders and payouts are booked;
    - ``api_version`` (optional): the Admin API version, ``2026-01`` by default;
    - ``admin_url`` (optional): where the Admin API is served when not at
      ``https://{shop}`` (a sandbox under test).

    ``sleep`` and ``monotonic`` are how clients wait for Shopify's rate limits; tests
    give ones that move a simulated clock.
    """

    def __init__(
        self,
        *,
        sleep: Sleep = time.sleep,
        monotonic: Clock = time.monotonic,
        api_version: str = API_VERSION,
    ) -> None:
        self.sleep = sleep
        self.monotonic = monotonic
        self.api_version = api_version

    @property
    def name(self) -> str:
        return SOURCE

    @property
    def capabilities(self) -> SourceCapabilities:
        return CAPABILITIES

    def verify(self, request: WebhookRequest, connection: SourceConnection) -> Webhook:
        return read_delivery(request, connection)

    def translate(self, record_type: str, payload: str, context: SourceContext) -> Translated:
        return translate(record_type, payload, context)

    def connect(
        self, connection: SourceConnection, transport: httpx.BaseTransport | None = None
    ) -> ShopifyClient:
        token = connection.credentials.get("access_token")
        if not isinstance(token, str) or not token:
            raise AuthError(
                f"connection {connection.connection_id} has no Shopify access token",
                user_message="This Shopify store is not connected; connect it to salesync.",
                code="shopify_not_connected",
                provider=SOURCE,
                connection=connection.connection_id,
            )
        settings = connection.settings
        shop = settings.get("shop")
        if not isinstance(shop, str) or not shop:
            raise ValidationError(
                f"connection {connection.connection_id} does not name its Shopify store",
                user_message="Enter the store's myshopify.com address in the connection.",
                code="shopify_no_shop",
                provider=SOURCE,
                connection=connection.connection_id,
                problems=(
                    Problem("missing_setting", "name the store, e.g. x.myshopify.com", "shop"),
                ),
            )
        admin_url = settings.get("admin_url")
        admin = ShopifyAdmin(
            shop,
            token,
            transport,
            connection_id=connection.connection_id,
            api_version=str(settings.get("api_version") or self.api_version),
            admin_url=str(admin_url) if admin_url else None,
            sleep=self.sleep,
            monotonic=self.monotonic,
        )
        return ShopifyClient(admin)


__all__ = ["ShopifyClient", "ShopifySource", "signature"]
