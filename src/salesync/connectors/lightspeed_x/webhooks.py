"""X-Series webhook deliveries: the signature on the raw bytes, then the form's payload.

A delivery is ``application/x-www-form-urlencoded`` with the changed object as JSON in its
``payload`` field, in API 0.9's shape (https://x-series-api.lightspeedhq.com/docs/webhooks).
It is signed in ``X-Signature: signature=<hex>, algorithm=HMAC-SHA256``: the HMAC-SHA256 of
the raw body keyed with the add-on's client secret, checked here in constant time before
anything in the body is read.

Webhooks are hints: X-Series does not guarantee them, and the sweep by version is what
keeps salesync whole. A ``customer.update`` carries a customer salesync stores at once. A
``sale.update`` or ``product.update`` carries the object without what salesync needs to
post it (the products' SKUs and categories, the retailer's currency), so it is logged and
the sweep brings the sale or product with them; ``inventory.update`` and
``register_closure.create`` carry nothing to post.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import parse_qs

from salesync.connectors.lightspeed_x.errors import PROVIDER
from salesync.connectors.source import (
    ForgedWebhookError,
    SourceConnection,
    SourceRecord,
    Webhook,
    WebhookRequest,
)
from salesync.domain.errors import ValidationError
from salesync.domain.validation import Problem

SIGNATURE_HEADER = "x-signature"
CLIENT_SECRET = "client_secret"  # noqa: S105  the credential's name, not a secret
ALGORITHM = "HMAC-SHA256"


def signature(body: bytes, client_secret: str) -> str:
    """The hex digest X-Series puts in ``signature=`` for ``body``."""
    return hmac.new(client_secret.encode(), body, hashlib.sha256).hexdigest()


def _parts(header: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if sep:
            found[key.strip().lower()] = value.strip()
    return found


def read_delivery(request: WebhookRequest, connection: SourceConnection) -> Webhook:
    """The delivery checked against the connection's client secret, then read; its event
    id is the topic, the object and a digest of the body, so a repeat is a duplicate."""
    secret = connection.credentials.get(CLIENT_SECRET)
    if not secret:
        raise ForgedWebhookError(
            f"connection {connection.connection_id} has no {CLIENT_SECRET} to check "
            "Lightspeed deliveries with",
            code="webhook_secret_missing",
        )
    parts = _parts(request.headers.get(SIGNATURE_HEADER, ""))
    given = parts.get("signature", "")
    if parts.get("algorithm", "").upper() != ALGORITHM or not hmac.compare_digest(
        signature(request.body, str(secret)).encode(), given.encode()
    ):
        raise ForgedWebhookError("the Lightspeed delivery's X-Signature does not match")
    form = {k: v[-1] for k, v in parse_qs(request.body.decode(errors="replace")).items()}
    try:
        payload = json.loads(form["payload"])
    except (KeyError, ValueError):
        payload = None
    if not isinstance(payload, dict) or not payload.get("id"):
        raise ValidationError(
            "a signed Lightspeed delivery has no readable payload",
            user_message="A Lightspeed webhook arrived without the object it is about; the "
            "next sweep reads it instead.",
            code="webhook_unreadable",
            provider=PROVIDER,
            problems=(Problem("malformed_payload", "no JSON object with an id", "payload"),),
        )
    topic = form.get("type") or _topic_of(payload)
    event_id = f"{topic}:{payload['id']}:{hashlib.sha256(request.body).hexdigest()[:16]}"
    records: tuple[SourceRecord, ...] = ()
    if topic == "customer.update":
        records = (SourceRecord("customer", json.dumps(payload), event_id),)
    return Webhook(topic=topic, event_id=event_id, triggered_at=None, records=records)


def _topic_of(payload: dict[str, object]) -> str:
    """The topic of a delivery without the optional ``type`` field, told by its shape."""
    if "register_sale_products" in payload:
        return "sale.update"
    if "customer_code" in payload or "first_name" in payload:
        return "customer.update"
    if "sku" in payload:
        return "product.update"
    return "unknown"
