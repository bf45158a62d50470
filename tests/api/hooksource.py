"""A webhook source signed like Shopify's, and a sender of its deliveries, for API tests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import httpx
from fastapi.testclient import TestClient

from salesync.clock import ManualClock
from salesync.connectors.source import (
    ForgedWebhookError,
    SourceCapabilities,
    SourceClient,
    SourceConnection,
    SourceContext,
    SourceRecord,
    Translated,
    Webhook,
    WebhookRequest,
)
from salesync.domain.documents import DocumentKind, Sale
from salesync.domain.errors import AuthError, ValidationError
from salesync.domain.simulate import demo_merchant, simulate
from salesync.domain.validation import Problem
from salesync.store import codec

MERCHANT = demo_merchant(orders_per_day=6)
NOW = datetime(2026, 10, 29, 12, tzinfo=UTC)
SHOP_KEY = "hook-key"
SIGNATURE = "x-hook-hmac-sha256"


class HookSource:
    """A source whose deliveries are signed like Shopify's: base64 HMAC-SHA256 of the raw
    body in a header, the event id and trigger time in others; the body holds a sale in
    salesync's document JSON."""

    name = "hooktest"
    capabilities = SourceCapabilities(
        kinds=frozenset({DocumentKind.SALE}), webhooks=True, replay_horizon=timedelta(hours=5)
    )

    def verify(self, request: WebhookRequest, connection: SourceConnection) -> Webhook:
        secret = connection.credentials.get("secret")
        if not isinstance(secret, str):
            raise AuthError(
                "the connection has no webhook secret",
                user_message="Reconnect the shop so salesync can check its webhooks.",
                code="webhook_secret_missing",
            )
        given = request.headers.get(SIGNATURE, "")
        expected = sign(secret, request.body)
        if not hmac.compare_digest(given, expected):
            raise ForgedWebhookError("the HMAC of the body does not match")
        try:
            body = json.loads(request.body)
            sale = json.dumps(body["sale"])
        except (ValueError, KeyError, TypeError):
            raise ValidationError(
                "the delivery is not an order",
                problems=(Problem("malformed_body", "not a JSON object with a sale", ""),),
            ) from None
        triggered = request.headers.get("x-hook-triggered-at")
        return Webhook(
            topic=request.headers.get("x-hook-topic", "orders/paid"),
            event_id=request.headers.get("x-hook-event-id"),
            triggered_at=datetime.fromisoformat(triggered) if triggered else None,
            records=(SourceRecord("sale", sale),),
        )

    def translate(self, record_type: str, payload: str, context: SourceContext) -> Translated:
        if record_type != "sale":
            raise ValidationError(
                f"no record type {record_type!r}",
                problems=(Problem("unknown_record_type", record_type, "record_type"),),
            )
        return codec.decode(DocumentKind.SALE, json.loads(payload))

    def connect(
        self, connection: SourceConnection, transport: httpx.BaseTransport | None = None
    ) -> SourceClient:
        raise NotImplementedError("the test source has no account to read")


def sign(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def sales(days: int = 2) -> list[Sale]:
    """Simulated sales of the demo merchant, before the test clock's now."""
    found = simulate(MERCHANT, date(2026, 10, 27), days, seed=3)
    return [d for d in found if isinstance(d, Sale)]


@dataclass(frozen=True, slots=True)
class Hooks:
    """Sends signed deliveries to one connection through the test client."""

    client: TestClient
    connection_id: str
    clock: ManualClock

    def body(self, sale: Sale) -> bytes:
        return json.dumps({"sale": codec.encode(sale)}).encode()

    def post(
        self,
        body: bytes,
        *,
        event_id: str | None = "evt-1",
        signed_with: str = SHOP_KEY,
        triggered_at: datetime | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        sent = {
            "Content-Type": "application/json",
            "X-Hook-Hmac-Sha256": sign(signed_with, body),
            "X-Hook-Triggered-At": (triggered_at or self.clock()).isoformat(),
            **({"X-Hook-Event-Id": event_id} if event_id else {}),
            **(headers or {}),
        }
        return self.client.post(f"/webhooks/{self.connection_id}", content=body, headers=sent)
