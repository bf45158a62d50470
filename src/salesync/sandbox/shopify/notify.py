"""Shopify webhook signing and triggering.

Every delivery carries ``X-Shopify-Hmac-Sha256``: the base64 HMAC-SHA256 of the raw body,
keyed with the app's client secret, plus the topic, shop, API version, webhook id, event id
and trigger time headers (https://shopify.dev/docs/api/webhooks). Deliveries of one event
share ``X-Shopify-Event-Id``, which is what receivers dedupe on
(https://shopify.dev/apps/build/webhooks/ignore-duplicates).
Retries resend the original payload and headers
(https://shopify.dev/changelog/updates-to-webhook-retry-mechanism).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import TYPE_CHECKING, Any

import httpx

from salesync.sandbox.webhooks import WebhookMessage

if TYPE_CHECKING:
    from salesync.sandbox.shopify.store import ShopifyStore

# Shopify allows one second to connect and five seconds in all for the answer.
WEBHOOK_TIMEOUT = httpx.Timeout(5.0, connect=1.0)

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


def topic_from_enum(value: str) -> str:
    """``ORDERS_CREATE`` → ``orders/create`` (GraphQL enum to REST topic)."""
    resource, _, action = value.lower().partition("_")
    return f"{resource}/{action}"


def topic_to_enum(topic: str) -> str:
    """``orders/create`` → ``ORDERS_CREATE``."""
    return topic.replace("/", "_").upper()


def sign_webhook(body: bytes, secret: str) -> str:
    """The ``X-Shopify-Hmac-Sha256`` value for ``body``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_webhook(body: bytes, signature: str | None, secret: str) -> bool:
    """True when ``signature`` is the header Shopify would send for ``body``; constant-time."""
    if not signature:
        return False
    return hmac.compare_digest(sign_webhook(body, secret), signature)


def encode_payload(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


class ShopifyNotifier:
    """Turns an event into one signed message per matching subscription."""

    def __init__(self, store: ShopifyStore) -> None:
        self._store = store

    def trigger(
        self,
        topic: str,
        payload: dict[str, Any],
        *,
        event_id: str | None = None,
        client_id: str | None = None,
    ) -> str:
        """Enqueue ``payload`` for every subscription to ``topic`` (of one app, if given)."""
        store = self._store
        event_id = event_id or str(uuid.uuid4())
        with store.lock:
            subscriptions = [
                s
                for s in store.data.subscriptions.values()
                if s.topic == topic and client_id in (None, s.client_id)
            ]
        body = encode_payload(payload)
        triggered_at = store.now()
        for subscription in subscriptions:
            app = store.credentials.apps.get(subscription.client_id)
            if app is None:
                continue
            headers = {
                "Content-Type": "application/json",
                "X-Shopify-Topic": topic,
                "X-Shopify-Hmac-Sha256": sign_webhook(body, app.client_secret),
                "X-Shopify-Shop-Domain": store.domain,
                "X-Shopify-API-Version": subscription.api_version,
                "X-Shopify-Webhook-Id": str(uuid.uuid4()),
                "X-Shopify-Event-Id": event_id,
                "X-Shopify-Triggered-At": triggered_at.isoformat(),
            }
            store.deliveries.enqueue(
                WebhookMessage(
                    subscription_id=str(subscription.id),
                    event_id=event_id,
                    topic=topic,
                    url=subscription.uri,
                    headers=headers,
                    body=body,
                    triggered_at=triggered_at,
                )
            )
        return event_id
