"""The in-memory state of one simulated Square seller account, guarded by one lock."""

from __future__ import annotations

import base64
import hashlib
import itertools
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from salesync.clock import system_clock
from salesync.sandbox.faults import FaultPlan
from salesync.sandbox.ratelimit import BucketRegistry, LeakyBucket
from salesync.sandbox.square.credentials import LATEST_VERSION, SquareCredentials
from salesync.sandbox.square.notify import SQUARE_RETRIES, WEBHOOK_TIMEOUT, SquareNotifier
from salesync.sandbox.square.orders import Order
from salesync.sandbox.square.records import (
    CatalogCategory,
    CatalogItem,
    CatalogTax,
    Payment,
    PaymentRefund,
    Payout,
    PayoutEntry,
    SquareCustomer,
    SquareLocation,
    WebhookSubscription,
)
from salesync.sandbox.webhooks import DeliveryQueue

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A per-access-token leaky bucket.

    Square documents a rate limit but no numbers, and answers 429 ``RATE_LIMITED`` when it
    is hit (https://developer.squareup.com/reference/square/objects/ErrorCategory), so the
    size and drain rate are a setting.
    """

    capacity: float = 20.0
    per_second: float = 10.0


@dataclass(frozen=True, slots=True)
class Remembered:
    """The first answer to an idempotency key, and a digest of the request that got it."""

    request_digest: str
    status: int
    body: dict[str, Any]


@dataclass(slots=True)
class SellerData:
    """Every resource of the seller, by id; records are replaced, never mutated."""

    locations: dict[str, SquareLocation] = field(default_factory=dict)
    categories: dict[str, CatalogCategory] = field(default_factory=dict)
    taxes: dict[str, CatalogTax] = field(default_factory=dict)
    items: dict[str, CatalogItem] = field(default_factory=dict)
    customers: dict[str, SquareCustomer] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    payments: dict[str, Payment] = field(default_factory=dict)
    refunds: dict[str, PaymentRefund] = field(default_factory=dict)
    payouts: dict[str, Payout] = field(default_factory=dict)
    payout_entries: dict[str, PayoutEntry] = field(default_factory=dict)
    subscriptions: dict[str, WebhookSubscription] = field(default_factory=dict)


class SquareSeller:
    """One seller: data, apps and tokens, rate limits, faults, idempotency and webhooks."""

    def __init__(
        self,
        *,
        clock: Clock = system_clock,
        merchant_id: str = "ML8M1AQ1GQG2K",
        business_name: str = "Salesync Coffee Co.",
        rate_limit: RateLimit | None = None,
        webhook_client: httpx.Client | None = None,
    ) -> None:
        self.clock = clock
        self.merchant_id = merchant_id
        self.business_name = business_name
        self.lock = threading.RLock()
        self.data = SellerData()
        self.credentials = SquareCredentials(clock, merchant_id)
        self.faults = FaultPlan()
        self.deliveries = DeliveryQueue(
            clock, SQUARE_RETRIES, timeout=WEBHOOK_TIMEOUT, client=webhook_client
        )
        self.notifier = SquareNotifier(self)
        self.idempotency: dict[tuple[str, str], Remembered] = {}
        self.set_rate_limit(rate_limit or RateLimit())
        self._ids = itertools.count(1)

    def now(self) -> datetime:
        return self.clock()

    def set_rate_limit(self, limit: RateLimit) -> None:
        """Replace every token's bucket with a fresh one of ``limit``."""
        self.rate_limit = limit
        self.buckets = BucketRegistry(
            lambda: LeakyBucket(limit.capacity, limit.per_second, self.clock)
        )

    def new_id(self, length: int = 24) -> str:
        """A fresh id in Square's style (upper-case letters and digits), unique in the seller."""
        with self.lock:
            number = next(self._ids)
        digest = hashlib.sha256(f"{self.merchant_id}:{number}".encode()).digest()
        return base64.b32encode(digest).decode()[:length]

    def emit(self, event_type: str, data_type: str, data_id: str, obj: dict[str, Any]) -> str:
        """Notify subscribers of ``event_type``; returns the event id."""
        return self.notifier.trigger(event_type, data_type, data_id, obj)

    def subscribe(
        self,
        client_id: str,
        notification_url: str,
        event_types: tuple[str, ...],
        *,
        name: str = "salesync",
        api_version: str = LATEST_VERSION,
    ) -> WebhookSubscription:
        """A webhook subscription of ``client_id`` with a fresh signature key."""
        subscription = WebhookSubscription(
            id=f"wbhk_{self.new_id(22).lower()}",
            client_id=client_id,
            name=name,
            event_types=event_types,
            notification_url=notification_url,
            api_version=api_version,
            signature_key=secrets.token_urlsafe(16),
            created_at=self.now(),
        )
        with self.lock:
            self.data.subscriptions[subscription.id] = subscription
        return subscription

    def unsubscribe(self, subscription_id: str) -> bool:
        with self.lock:
            return self.data.subscriptions.pop(subscription_id, None) is not None

    def main_location(self) -> SquareLocation | None:
        with self.lock:
            return min(self.data.locations.values(), key=lambda loc: loc.created_at, default=None)
