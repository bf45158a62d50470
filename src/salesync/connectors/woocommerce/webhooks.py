"""WooCommerce webhook deliveries: the signature on the raw bytes, then the records.

WooCommerce signs each delivery in ``X-WC-Webhook-Signature``: the base64 HMAC-SHA256 of
the raw body, keyed with the webhook's secret
(https://developer.woocommerce.com/docs/apis/rest-api/v2/webhooks/). Every delivery has
its own ``X-WC-Webhook-Delivery-ID``, which becomes the record's event id. WooCommerce
sends no time of the event and never retries a delivery, so there is no replay window to
hold a delivery against (the capabilities' ``replay_horizon`` is None).

When a webhook is saved active, WooCommerce first POSTs ``webhook_id=N`` (form encoded,
unsigned) to check the URL answers (class-wc-webhook.php, ``deliver_ping``): that ping is
answered and carries nothing. Any other body must be signed.

Order deliveries carry the order as the REST API shows it, which becomes an ``order``
record; its refunds are only named there, so they come with the next sweep.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re

from salesync.connectors.source import (
    ForgedWebhookError,
    SourceConnection,
    SourceRecord,
    Webhook,
    WebhookRequest,
)
from salesync.connectors.woocommerce.client import dumps
from salesync.connectors.woocommerce.problems import refused
from salesync.connectors.woocommerce.translate import CUSTOMER, ORDER, ORDER_DELETED, PRODUCT
from salesync.domain.validation import Problem

SIGNATURE = "x-wc-webhook-signature"
TOPIC = "x-wc-webhook-topic"
DELIVERY_ID = "x-wc-webhook-delivery-id"
WEBHOOK_ID = "x-wc-webhook-id"
SECRET = "webhook_secret"  # noqa: S105  the credential's name, not a secret
PING = "ping"
_PING = re.compile(rb"^webhook_id=\d+$")
RECORDS = {
    "order.created": ORDER,
    "order.updated": ORDER,
    "order.restored": ORDER,
    "order.deleted": ORDER_DELETED,
    "customer.created": CUSTOMER,
    "customer.updated": CUSTOMER,
    "product.created": PRODUCT,
    "product.updated": PRODUCT,
}


def signature(body: bytes, secret: str) -> str:
    """What WooCommerce puts in ``X-WC-Webhook-Signature`` for ``body``."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def read_delivery(request: WebhookRequest, connection: SourceConnection) -> Webhook:
    """A verified delivery and its records; ``ForgedWebhookError`` when unsigned or
    signed with another secret, ``ValidationError`` when a genuine body cannot be read."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    given = headers.get(SIGNATURE, "").strip()
    if not given and TOPIC not in headers and _PING.match(request.body.strip()):
        return Webhook(PING, None, None)
    secret = connection.credentials.get(SECRET)
    if not isinstance(secret, str) or not secret:
        raise ForgedWebhookError(
            f"connection {connection.connection_id} has no {SECRET}; a WooCommerce delivery "
            "cannot be checked without it",
            code="webhook_secret_missing",
        )
    if not given or not hmac.compare_digest(
        signature(request.body, secret).encode(), given.encode()
    ):
        raise ForgedWebhookError(
            f"WooCommerce delivery to {request.url} has a missing or wrong X-WC-Webhook-Signature"
        )
    topic = headers.get(TOPIC, "").strip().lower()
    event_id = headers.get(DELIVERY_ID) or None
    try:
        data = json.loads(request.body)
    except ValueError as exc:
        problem = Problem("malformed_body", f"the body is not JSON ({exc})", "body")
        raise refused("webhook", [problem]) from None
    if not isinstance(data, dict) or "id" not in data:
        problem = Problem("malformed_body", "the body is not a resource with an id", "body")
        raise refused("webhook", [problem])
    record_type = RECORDS.get(topic)
    records = () if record_type is None else (SourceRecord(record_type, dumps(data), event_id),)
    return Webhook(topic, event_id, None, records)
