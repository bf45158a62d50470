"""Shopify webhook deliveries: the signature on the raw bytes, then the records they carry.

Shopify signs each delivery with ``X-Shopify-Hmac-Sha256``: the base64 HMAC-SHA256 of
the raw body, keyed with the app's client secret
(https://shopify.dev/docs/apps/build/webhooks/subscribe/https#step-5-verify-the-webhook).
Every delivery of one event shares ``X-Shopify-Event-Id``, which is what repeats are
recognised by (https://shopify.dev/docs/apps/build/webhooks/ignore-duplicates).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from salesync.connectors.shopify.problems import SOURCE, refused
from salesync.connectors.source import (
    ForgedWebhookError,
    SourceConnection,
    SourceRecord,
    Webhook,
    WebhookRequest,
)
from salesync.domain.errors import AuthError
from salesync.domain.validation import Problem

SIGNATURE = "x-shopify-hmac-sha256"
TOPIC = "x-shopify-topic"
EVENT_ID = "x-shopify-event-id"
WEBHOOK_ID = "x-shopify-webhook-id"
TRIGGERED_AT = "x-shopify-triggered-at"
SHOP_DOMAIN = "x-shopify-shop-domain"

TOPICS = (
    "orders/create",
    "orders/updated",
    "orders/paid",
    "refunds/create",
    "customers/create",
    "customers/update",
    "products/create",
    "products/update",
    "app/uninstalled",
)
_FRACTION = re.compile(r"(\.\d{6})\d+")


def signature(body: bytes, secret: str) -> str:
    """The ``X-Shopify-Hmac-Sha256`` value Shopify sends with ``body``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _triggered_at(value: str | None) -> datetime | None:
    """Shopify's trigger time; it may carry nanoseconds, which Python reads to the
    microsecond. A header that is not a time is left out rather than refusing a genuine
    delivery over a timestamp."""
    if not value:
        return None
    try:
        instant = datetime.fromisoformat(_FRACTION.sub(r"\1", value.strip()))
    except ValueError:
        return None
    return instant if instant.tzinfo is not None else None


def _check(
    request: WebhookRequest, headers: Mapping[str, str], connection: SourceConnection
) -> None:
    secret = connection.credentials.get("client_secret")
    if not isinstance(secret, str) or not secret:
        raise AuthError(
            f"connection {connection.connection_id} has no client_secret to check webhooks",
            user_message="salesync cannot check this Shopify store's webhooks; reconnect "
            "the store so salesync has the app's client secret.",
            code="webhook_secret_missing",
            provider=SOURCE,
            connection=connection.connection_id,
        )
    given = headers.get(SIGNATURE, "").strip()
    expected = signature(request.body, secret)
    if not given or not hmac.compare_digest(expected.encode(), given.encode()):
        raise ForgedWebhookError(
            f"Shopify webhook to {request.url} has a missing or wrong {SIGNATURE} header"
        )
    shop = connection.settings.get("shop")
    sent_for = headers.get(SHOP_DOMAIN)
    # One app (and secret) serves many shops: a genuine delivery for another shop must not
    # land in this connection.
    if isinstance(shop, str) and shop and sent_for and sent_for.lower() != shop.lower():
        raise ForgedWebhookError(
            f"Shopify webhook for {sent_for} reached the connection of {shop}",
            code="webhook_wrong_shop",
        )


def _body(body: bytes, topic: str) -> tuple[str, dict[str, Any]]:
    try:
        text = body.decode("utf-8")
        data = json.loads(text)
    except ValueError as exc:
        problem = Problem("malformed_body", f"the body is not JSON ({exc})", "body")
        raise refused(f"a Shopify {topic} webhook", [problem]) from None
    if not isinstance(data, dict):
        problem = Problem("malformed_body", "the body is not a JSON object", "body")
        raise refused(f"a Shopify {topic} webhook", [problem])
    return text, data


def _wrapped(key: str, value: Any, inner: str, raw: str) -> str:
    """A record that keeps the delivered JSON as it came, inside ``{key: value, inner: ...}``."""
    return f'{{"{key}":{json.dumps(value)},"{inner}":{raw}}}'


def _split(topic: str, text: str, data: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(record type, payload, what distinguishes it within the delivery)."""
    resource = topic.split("/", 1)[0]
    if resource == "orders":
        out = [("order", text, "order")]
        for refund in data.get("refunds") or []:
            if isinstance(refund, dict) and "id" in refund:
                payload = _wrapped("refund_id", refund["id"], "order", text)
                out.append(("order_refund", payload, f"refund/{refund['id']}"))
        return out
    if resource == "products":
        return [
            ("product", _wrapped("variant_id", v["id"], "product", text), f"variant/{v['id']}")
            for v in data.get("variants") or []
            if isinstance(v, dict) and "id" in v
        ]
    if resource == "customers":
        return [("customer", text, "customer")]
    if topic == "refunds/create":
        return [("refund", text, "refund")]
    if topic == "app/uninstalled":
        return [("app_uninstalled", text, "app")]
    return []


def read_delivery(request: WebhookRequest, connection: SourceConnection) -> Webhook:
    """Verify a delivery and split it into records; ``ForgedWebhookError`` when the
    signature does not match, ``ValidationError`` when a genuine body cannot be read."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    _check(request, headers, connection)
    topic = headers.get(TOPIC, "").strip().lower()
    event_id = headers.get(EVENT_ID) or headers.get(WEBHOOK_ID) or None
    text, data = _body(request.body, topic or "unknown")
    parts = _split(topic, text, data)
    # The inbox dedupes on event ids, so each record of a delivery gets its own.
    records = tuple(
        SourceRecord(
            record_type,
            payload,
            None if event_id is None else event_id if len(parts) == 1 else f"{event_id}/{tag}",
        )
        for record_type, payload, tag in parts
    )
    return Webhook(topic, event_id, _triggered_at(headers.get(TRIGGERED_AT)), records)
