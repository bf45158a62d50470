"""Square webhook notifications: the signature checked on the raw bytes, then read.

Square signs each notification in ``x-square-hmacsha256-signature``: the base64 HMAC-SHA256,
keyed with the subscription's signature key, of the notification URL followed by the raw
body (https://developer.squareup.com/docs/webhooks/step3validate). The URL is the one the
subscription was created with, byte for byte, which is not always the URL the request
reached salesync under (a proxy or load balancer may rewrite it), so a connection's
``notification_url`` setting takes precedence over the request's URL.

``event_id`` names the event, and a retried notification carries the same one
(https://developer.squareup.com/docs/webhooks/step4manage): it becomes the record's event
id, which the inbox dedupes on.

What a notification carries: customer events carry the customer, which becomes a record.
Order events carry only a summary (id, version, state), never the order
(https://developer.squareup.com/reference/square/webhooks/order.created); payment and
refund events carry money that belongs to orders; ``payout.failed`` carries the payout but
not its entries; ``catalog.version.updated`` names no object. These are hints that
something changed: they carry no records, and the object itself comes with the next sweep
(a failed payout too: see ``client``), which is what makes a lost notification harmless.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from salesync.connectors.source import (
    ForgedWebhookError,
    SourceConnection,
    SourceRecord,
    Webhook,
    WebhookRequest,
)
from salesync.connectors.square.payloads import SquareEvent
from salesync.connectors.square.problems import parse
from salesync.connectors.square.records import dumps
from salesync.connectors.square.translate import CUSTOMER
from salesync.domain.errors import ValidationError
from salesync.domain.validation import Problem

SIGNATURE_HEADER = "x-square-hmacsha256-signature"
SIGNATURE_KEY = "webhook_signature_key"
"""The credential holding the subscription's signature key."""
CUSTOMER_EVENTS = frozenset({"customer.created", "customer.updated"})


def signature(notification_url: str, body: bytes, key: str) -> str:
    """What Square puts in ``x-square-hmacsha256-signature`` for ``body`` sent to
    ``notification_url``."""
    digest = hmac.new(key.encode(), notification_url.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def notification_url(delivery: WebhookRequest, settings: Mapping[str, Any]) -> str:
    """The URL the notification was signed for: the configured one, else the request's."""
    configured = settings.get("notification_url")
    return str(configured) if configured else delivery.url


def check_signature(delivery: WebhookRequest, connection: SourceConnection) -> None:
    """Raise ``ForgedWebhookError`` unless the delivery is signed with the connection's key."""
    key = connection.credentials.get(SIGNATURE_KEY)
    if not key:
        raise ForgedWebhookError(
            f"connection {connection.connection_id} has no {SIGNATURE_KEY}; a Square "
            "notification cannot be checked without it",
            code="webhook_signature_key_missing",
        )
    given = delivery.headers.get(SIGNATURE_HEADER)
    if not given:
        raise ForgedWebhookError(f"the delivery has no {SIGNATURE_HEADER} header")
    expected = signature(notification_url(delivery, connection.settings), delivery.body, str(key))
    if not hmac.compare_digest(expected.encode(), given.strip().encode()):
        raise ForgedWebhookError(
            f"{SIGNATURE_HEADER} does not match the body signed for "
            f"{notification_url(delivery, connection.settings)}"
        )


def read_delivery(delivery: WebhookRequest, connection: SourceConnection) -> Webhook:
    """A verified notification: its event type, event id, when it happened, and records."""
    check_signature(delivery, connection)
    event = parse(SquareEvent, "webhook", delivery.body.decode("utf-8", errors="replace"))
    merchant = connection.settings.get("merchant_id")
    if merchant and event.merchant_id and event.merchant_id != merchant:
        # A subscription belongs to the app, not the seller, so another seller's event can
        # reach this connection's URL. It is genuine, so it is answered, but nothing of it
        # is kept here: another tenant's data never enters this one's inbox.
        return Webhook(event.type, event.event_id, event.created_at)
    records: tuple[SourceRecord, ...] = ()
    if event.type in CUSTOMER_EVENTS:
        customer = (event.data.object or {}).get("customer") if event.data else None
        if not isinstance(customer, dict):
            problem = Problem(
                "malformed_field", "the customer event carries no customer", "data.object"
            )
            raise ValidationError(
                f"square notification {event.event_id} has no customer",
                code="square_record_unreadable",
                provider="square",
                problems=(problem,),
            )
        records = (SourceRecord(CUSTOMER, dumps(customer), event.event_id),)
    return Webhook(event.type, event.event_id, event.created_at, records)
