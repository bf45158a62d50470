"""WooCommerce webhooks: topics, signed deliveries, the creation ping, and auto-disabling.

A delivery POSTs the resource as the REST API v3 shows it (``{"id": N}`` for a deletion)
with ``X-WC-Webhook-Signature``, the base64 HMAC-SHA256 of the raw body keyed with the
webhook's secret, and ``X-WC-Webhook-Topic`` / ``-Resource`` / ``-Event`` / ``-ID`` /
``-Delivery-ID`` / ``-Source``
(https://developer.woocommerce.com/docs/apis/rest-api/v2/webhooks/).

WooCommerce does not retry a failed delivery. An answer of 2xx, 301 or 302 is a success
and resets the webhook's failure count; anything else adds to it, and once the count is
past ``woocommerce_max_webhook_delivery_failures`` (5) the next failure sets the webhook's
status to ``disabled`` and nothing more is sent (class-wc-webhook.php ``log_delivery`` and
``failed_delivery``; "Webhooks are disabled after 5 retries by default", WooCommerce's
webhook documentation).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from salesync.sandbox.webhooks import DeliveryAttempt, WebhookMessage
from salesync.sandbox.woocommerce.store import Json, WooShop

RESOURCES = ("order", "customer", "product", "coupon")
EVENTS = ("created", "updated", "deleted", "restored")
TOPICS = tuple(f"{r}.{e}" for r in RESOURCES for e in EVENTS)
PING = "ping"
SOURCE_URL = "https://shop.example/"


def sign(body: bytes, secret: str) -> str:
    """``X-WC-Webhook-Signature`` for ``body``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _delivery_id(shop: WooShop, webhook_id: int) -> str:
    """WooCommerce hashes the webhook id with the time; a counter keeps them unique here."""
    raw = f"{webhook_id}:{shop.now().isoformat()}:{shop.next_id()}".encode()
    return hashlib.md5(raw, usedforsecurity=False).hexdigest()


def trigger(shop: WooShop, topic: str, resource: Json) -> int:
    """Queue ``resource``'s ``topic`` event for every active webhook on it; returns how many."""
    resource_name, event = topic.split(".", 1)
    payload: Json = {"id": resource["id"]} if event == "deleted" else resource
    body = json.dumps(payload, separators=(",", ":")).encode()
    with shop.lock:
        hooks = [
            (w, shop.data.secrets[w["id"]])
            for w in shop.data.webhooks.values()
            if w["status"] == "active" and w["topic"] == topic
        ]
    for webhook, secret in hooks:
        delivery = _delivery_id(shop, webhook["id"])
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "WooCommerce/10.3.0 Hookshot (WordPress/6.8.3)",
            "X-WC-Webhook-Source": SOURCE_URL,
            "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Resource": resource_name,
            "X-WC-Webhook-Event": event,
            "X-WC-Webhook-Signature": sign(body, secret),
            "X-WC-Webhook-ID": str(webhook["id"]),
            "X-WC-Webhook-Delivery-ID": delivery,
        }
        _enqueue(shop, webhook, delivery, topic=topic, headers=headers, body=body)
    return len(hooks)


def ping(shop: WooShop, webhook: Json) -> None:
    """The test ping sent when a webhook is saved active: ``webhook_id=N``, unsigned."""
    body = f"webhook_id={webhook['id']}".encode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": "WooCommerce/10.3.0 Hookshot (WordPress/6.8.3)",
    }
    _enqueue(
        shop, webhook, _delivery_id(shop, webhook["id"]), topic=PING, headers=headers, body=body
    )


def _enqueue(
    shop: WooShop, webhook: Json, delivery: str, *, topic: str, headers: dict[str, str], body: bytes
) -> None:
    with shop.lock:
        shop.delivered_by[delivery] = int(webhook["id"])
    shop.deliveries.enqueue(
        WebhookMessage(
            subscription_id=str(webhook["id"]),
            event_id=delivery,
            topic=topic,
            url=str(webhook["delivery_url"]),
            headers=headers,
            body=body,
            triggered_at=shop.now(),
        )
    )


def deliver_due(shop: WooShop) -> list[DeliveryAttempt]:
    """Send what is due and count each answer against its webhook, as WooCommerce does."""
    attempts = shop.deliveries.deliver_due()
    with shop.lock:
        for attempt in attempts:
            if attempt.topic == PING:
                continue
            webhook = shop.data.webhooks.get(shop.delivered_by.get(attempt.event_id, -1))
            if webhook is None:
                continue
            if attempt.status is not None and 200 <= attempt.status < 303:
                shop.failures[webhook["id"]] = 0
                continue
            failures = shop.failures.get(webhook["id"], 0)
            if failures > shop.max_delivery_failures:
                webhook["status"] = "disabled"
                shop.stamp(webhook, "modified")
            else:
                shop.failures[webhook["id"]] = failures + 1
    return attempts
