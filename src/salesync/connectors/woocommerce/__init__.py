"""WooCommerce as a source: orders (sales and their refunds), customers and products
from the REST API v3, by sweep, by history, and signed webhooks kept switched on."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime
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
from salesync.connectors.woocommerce.api import RetryPolicy, WooApi
from salesync.connectors.woocommerce.client import STREAMS, WooClient
from salesync.connectors.woocommerce.problems import PROVIDER
from salesync.connectors.woocommerce.translate import translate
from salesync.connectors.woocommerce.webhooks import read_delivery
from salesync.domain.documents import DocumentKind
from salesync.domain.errors import AuthError, ValidationError
from salesync.domain.validation import Problem

CAPABILITIES = SourceCapabilities(
    # WooCommerce itself pays nothing out: payouts belong to the payment gateway.
    kinds=frozenset(
        {DocumentKind.SALE, DocumentKind.REFUND, DocumentKind.CUSTOMER, DocumentKind.PRODUCT}
    ),
    webhooks=True,
    streams=STREAMS,
    history=True,
    # WooCommerce never retries a delivery and sends no event time, so no delivery can be
    # judged too old (see webhooks.py); repeats are told apart by their delivery id.
    replay_horizon=None,
    # Order ids count from 1 in every account: one connection per tenant.
    ids_per_account=True,
)

__all__ = ["WooCommerceSource"]


def _refused(setting: str, fix: str, message: str) -> ValidationError:
    return ValidationError(
        message,
        user_message=f"The WooCommerce connection's '{setting}' setting: {fix}.",
        code="bad_setting",
        provider=PROVIDER,
        problems=(Problem("bad_setting", fix, setting),),
    )


def _store_url(settings: Mapping[str, Any]) -> str:
    """The shop's address. WooCommerce takes a key pair as Basic credentials or query
    parameters only over HTTPS (plain HTTP needs OAuth 1.0a signatures), so a plain
    address is refused unless it is this machine's (a sandbox, a local test shop)."""
    url = settings.get("store_url")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise _refused(
            "store_url",
            "write the shop's address, such as https://shop.example",
            f"store_url {url!r}",
        )
    if url.startswith("http://") and httpx.URL(url).host not in ("localhost", "127.0.0.1", "::1"):
        raise _refused(
            "store_url",
            "use the shop's https:// address: WooCommerce accepts API keys only over HTTPS",
            f"store_url {url!r} is not HTTPS",
        )
    return url


def _since(settings: Mapping[str, Any]) -> datetime | None:
    raw = settings.get("sweep_since")
    if not raw:
        return None
    try:
        since = datetime.fromisoformat(str(raw))
    except ValueError:
        since = None
    if since is None or since.tzinfo is None:
        raise _refused(
            "sweep_since",
            "write it as 2026-01-01T00:00:00+00:00",
            f"sweep_since {raw!r} is not an instant with a UTC offset",
        )
    return since


class WooCommerceSource:
    """The WooCommerce source, registered as ``woocommerce``.

    Credentials of a connection:

    - ``consumer_key`` and ``consumer_secret``: a REST API key with Read/Write permission
      (write is needed to keep the webhooks switched on);
    - ``webhook_secret``: the secret salesync's webhooks are signed with.

    Settings of a connection:

    - ``store_url``: the shop's address (``https://shop.example``);
    - ``locations``: order channels (``created_via``: ``checkout`` for the web store,
      ``pos-rest-api`` for WooCommerce Point of Sale, ``admin``...) mapped to salesync
      location ids; ``default_location`` for the rest;
    - ``currency``: the shop's currency, which products do not state;
    - ``webhook_url``: the delivery URL salesync's webhooks use; when set, each sweep
      checks them and turns back on the ones WooCommerce disabled;
    - ``query_auth``: true to send the key in the query string, for servers that drop the
      Authorization header;
    - ``sweep_since``: where a first sweep starts (an instant with offset).

    ``sleep`` and ``retry`` decide how a call waits out a 429 or a 5xx before its
    ``TransientError`` goes up; tests inject a ``sleep`` that does not wait.
    """

    name = PROVIDER
    capabilities = CAPABILITIES

    def __init__(
        self, *, sleep: Callable[[float], None] = time.sleep, retry: RetryPolicy | None = None
    ) -> None:
        self.sleep = sleep
        self.retry = retry or RetryPolicy()

    def verify(self, request: WebhookRequest, connection: SourceConnection) -> Webhook:
        return read_delivery(request, connection)

    def translate(self, record_type: str, payload: str, context: SourceContext) -> Translated:
        return translate(record_type, payload, context)

    def connect(
        self, connection: SourceConnection, transport: httpx.BaseTransport | None = None
    ) -> WooClient:
        key = connection.credentials.get("consumer_key")
        secret = connection.credentials.get("consumer_secret")
        if not key or not secret:
            raise AuthError(
                f"woocommerce connection {connection.connection_id} has no REST API key",
                user_message="This WooCommerce connection has no REST API key. Create one "
                "(WooCommerce > Settings > Advanced > REST API) and enter it in salesync.",
                code="no_api_key",
                provider=PROVIDER,
                connection=connection.connection_id,
            )
        settings = connection.settings
        api = WooApi(
            _store_url(settings),
            str(key),
            str(secret),
            query_auth=bool(settings.get("query_auth")),
            transport=transport,
            sleep=self.sleep,
            retry=self.retry,
            connection_id=connection.connection_id,
        )
        return WooClient(api, connection, since=_since(settings))
