"""Square webhook signing and event notifications.

A notification is a POST of the event JSON to the subscription's URL with
``x-square-hmacsha256-signature``: the base64 HMAC-SHA256, keyed with the subscription's
signature key, of the notification URL followed by the raw body
(https://developer.squareup.com/docs/webhooks/step3validate). ``event_id`` in the body is
what receivers dedupe on (https://developer.squareup.com/docs/webhooks/step4manage).
A delivery must be answered 2xx within 10 seconds; otherwise it is retried after 1, 2, 4,
8, 16 and 32 minutes and then hourly, until 72 hours after the event
(https://developer.squareup.com/docs/webhooks-api/delivery-sla).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx

from salesync.sandbox.square.pages import rfc3339
from salesync.sandbox.webhooks import RetrySchedule, WebhookMessage

if TYPE_CHECKING:
    from salesync.sandbox.square.seller import SquareSeller

WEBHOOK_TIMEOUT = httpx.Timeout(10.0)
SQUARE_RETRIES = RetrySchedule(
    delays=(
        *(timedelta(minutes=2**n) for n in range(6)),
        *(timedelta(hours=1),) * 72,
    ),
    horizon=timedelta(hours=72),
)
EVENT_TYPES = (
    "order.created",
    "order.updated",
    "payment.created",
    "payment.updated",
    "refund.created",
    "customer.created",
    "customer.updated",
    "catalog.version.updated",
    "payout.failed",
)


def sign_webhook(notification_url: str, body: bytes, signature_key: str) -> str:
    """The ``x-square-hmacsha256-signature`` value for ``body`` sent to ``notification_url``."""
    digest = hmac.new(signature_key.encode(), notification_url.encode() + body, hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


def verify_webhook(
    notification_url: str, body: bytes, signature: str | None, signature_key: str
) -> bool:
    """True when ``signature`` is what Square would send; compared in constant time."""
    if not signature:
        return False
    expected = sign_webhook(notification_url, body, signature_key)
    return hmac.compare_digest(expected.encode(), signature.encode())


class SquareNotifier:
    """Turns one event into a signed message for every subscription that wants it."""

    def __init__(self, seller: SquareSeller) -> None:
        self._seller = seller

    def trigger(self, event_type: str, data_type: str, data_id: str, obj: dict[str, Any]) -> str:
        """Enqueue the event for its subscribers; returns the ``event_id``."""
        seller = self._seller
        event_id = str(uuid.uuid4())
        triggered_at = seller.now()
        body = json.dumps(
            {
                "merchant_id": seller.merchant_id,
                "type": event_type,
                "event_id": event_id,
                "created_at": rfc3339(triggered_at),
                "data": {"type": data_type, "id": data_id, "object": obj},
            },
            separators=(",", ":"),
        ).encode()
        with seller.lock:
            subscriptions = [
                s
                for s in seller.data.subscriptions.values()
                if s.enabled and event_type in s.event_types
            ]
        for subscription in subscriptions:
            headers = {
                "Content-Type": "application/json",
                "x-square-hmacsha256-signature": sign_webhook(
                    subscription.notification_url, body, subscription.signature_key
                ),
            }
            seller.deliveries.enqueue(
                WebhookMessage(
                    subscription_id=subscription.id,
                    event_id=event_id,
                    topic=event_type,
                    url=subscription.notification_url,
                    headers=headers,
                    body=body,
                    triggered_at=triggered_at,
                )
            )
        return event_id
