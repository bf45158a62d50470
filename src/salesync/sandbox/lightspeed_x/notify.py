"""X-Series webhooks: subscriptions, signed form-encoded deliveries, and their retries.

A delivery is a POST in ``application/x-www-form-urlencoded`` whose ``payload`` field holds
the changed object as JSON, in API 0.9's shape; other fields (``domain_prefix``,
``environment``, ``retailer_id``, ``type``) may come too but are not promised
(https://x-series-api.lightspeedhq.com/docs/webhooks). Each carries ``X-Signature:
signature=<hex>, algorithm=HMAC-SHA256``: the HMAC-SHA256 of the raw body keyed with the
client secret of the app that made the subscription.

Lightspeed says webhooks are reliable but not guaranteed, and documents no retry schedule;
the simulator retries a failed delivery a few times within an hour, then gives it up. The
sweep by version is what keeps a receiver whole.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx

from salesync.sandbox.webhooks import DeliveryQueue, RetrySchedule, WebhookMessage

if TYPE_CHECKING:
    from salesync.sandbox.lightspeed_x.retailer import LightspeedRetailer

TOPICS = (
    "sale.update",
    "customer.update",
    "product.update",
    "inventory.update",
    "register_closure.create",
    "consignment.send",
    "consignment.receive",
)
SIGNATURE_HEADER = "X-Signature"
RETRIES = RetrySchedule(
    delays=(timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15)),
    horizon=timedelta(hours=1),
)


def sign(body: bytes, client_secret: str) -> str:
    """The ``X-Signature`` value for ``body``."""
    digest = hmac.new(client_secret.encode(), body, hashlib.sha256).hexdigest()
    return f"signature={digest}, algorithm=HMAC-SHA256"


@dataclass
class Subscription:
    id: str
    client_id: str
    url: str
    type: str
    active: bool = True

    def json(self, retailer_id: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "retailer_id": retailer_id,
            "url": self.url,
            "type": self.type,
            "active": self.active,
        }


class WebhookNotifier:
    """Turns a change into a signed delivery for every active subscription to its type."""

    def __init__(self, retailer: LightspeedRetailer) -> None:
        self._retailer = retailer
        self.subscriptions: dict[str, Subscription] = {}
        self.deliveries = DeliveryQueue(retailer.now, RETRIES, timeout=httpx.Timeout(10.0))

    def subscribe(self, client_id: str, url: str, topic: str, active: bool = True) -> Subscription:
        if topic not in TOPICS:
            raise ValueError(f"{topic!r} is not a webhook type")
        if any(s.url == url and s.type == topic for s in self.subscriptions.values()):
            raise KeyError("A webhook with this type and URL already exists.")
        subscription = Subscription(str(uuid.uuid4()), client_id, url, topic, active)
        self.subscriptions[subscription.id] = subscription
        return subscription

    def trigger(self, topic: str, payload: dict[str, Any]) -> None:
        retailer = self._retailer
        for subscription in list(self.subscriptions.values()):
            secret = retailer.client_secret(subscription.client_id)
            if subscription.type != topic or not subscription.active or secret is None:
                continue
            body = urlencode(
                {
                    "payload": json.dumps(payload, separators=(",", ":")),
                    "environment": "prod",
                    "domain_prefix": retailer.domain_prefix,
                    "retailer_id": retailer.id,
                    "type": topic,
                }
            ).encode()
            headers = {
                "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                SIGNATURE_HEADER: sign(body, secret),
            }
            self.deliveries.enqueue(
                WebhookMessage(
                    subscription_id=subscription.id,
                    event_id=str(uuid.uuid4()),
                    topic=topic,
                    url=subscription.url,
                    headers=headers,
                    body=body,
                    triggered_at=retailer.now(),
                )
            )
