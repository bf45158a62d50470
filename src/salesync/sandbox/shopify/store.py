"""The in-memory state of one simulated Shopify shop, guarded by one lock."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import httpx

from salesync.clock import system_clock
from salesync.sandbox.faults import FaultPlan
from salesync.sandbox.ratelimit import BucketRegistry, LeakyBucket
from salesync.sandbox.shopify.credentials import ShopifyCredentials
from salesync.sandbox.shopify.notify import WEBHOOK_TIMEOUT, ShopifyNotifier
from salesync.sandbox.shopify.records import (
    BalanceTransaction,
    Order,
    Payout,
    ShopifyCustomer,
    ShopifyLocation,
    ShopifyProduct,
    WebhookSubscription,
)
from salesync.sandbox.webhooks import DeliveryQueue, RetrySchedule, WebhookMessage

Clock = Callable[[], datetime]
Plan = Literal["basic", "advanced", "plus", "enterprise"]


@dataclass(frozen=True, slots=True)
class PlanLimits:
    """Rate limits of a plan: GraphQL cost points and REST requests."""

    graphql_bucket: float
    graphql_restore: float
    rest_bucket: float
    rest_restore: float


# Restore rates from https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits and
# https://shopify.dev/docs/api/admin-rest/usage/rate-limits. The bucket sizes are not in the
# table; live Standard responses report maximumAvailable 2000 at restoreRate 100, i.e. twenty
# seconds of restore, and the REST bucket has always been twenty seconds (40 at 2/s), so every
# plan keeps that ratio.
PLANS: dict[Plan, PlanLimits] = {
    "basic": PlanLimits(2000, 100, 40, 2),
    "advanced": PlanLimits(4000, 200, 80, 4),
    "plus": PlanLimits(20000, 1000, 400, 20),
    "enterprise": PlanLimits(40000, 2000, 800, 40),
}

# Eight retries over about four hours with exponential backoff
# (https://shopify.dev/changelog/updates-to-webhook-retry-mechanism); the exact intervals are
# not published, so they double from one minute (1+2+...+128 minutes = 4h15m).
SHOPIFY_RETRIES = RetrySchedule(delays=tuple(timedelta(minutes=2**n) for n in range(8)))

API_VERSIONS = ("2025-04", "2025-07", "2025-10", "2026-01")


@dataclass(slots=True)
class ShopData:
    """Every resource of the shop, by legacy id; replaced record by record under the lock."""

    locations: dict[int, ShopifyLocation] = field(default_factory=dict)
    customers: dict[int, ShopifyCustomer] = field(default_factory=dict)
    products: dict[int, ShopifyProduct] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    balance_transactions: dict[int, BalanceTransaction] = field(default_factory=dict)
    payouts: dict[int, Payout] = field(default_factory=dict)
    subscriptions: dict[int, WebhookSubscription] = field(default_factory=dict)


class ShopifyStore:
    """One shop: its data, apps and tokens, rate-limit buckets, faults and webhook queue."""

    def __init__(
        self,
        *,
        clock: Clock = system_clock,
        domain: str = "salesync-demo.myshopify.com",
        name: str = "Salesync Demo",
        currency: str = "USD",
        timezone: str = "America/New_York",
        plan: Plan = "basic",
        webhook_client: httpx.Client | None = None,
    ) -> None:
        self.clock = clock
        self.domain = domain
        self.name = name
        self.currency = currency
        self.timezone = timezone
        self.plan = plan
        self.lock = threading.RLock()
        self.data = ShopData()
        self.credentials = ShopifyCredentials(clock)
        self.faults = FaultPlan()
        limits = PLANS[plan]
        self.graphql_buckets = BucketRegistry(
            lambda: LeakyBucket(limits.graphql_bucket, limits.graphql_restore, clock)
        )
        self.rest_buckets = BucketRegistry(
            lambda: LeakyBucket(limits.rest_bucket, limits.rest_restore, clock)
        )
        self.deliveries = DeliveryQueue(
            clock,
            SHOPIFY_RETRIES,
            timeout=WEBHOOK_TIMEOUT,
            client=webhook_client,
            on_exhausted=self._subscription_failed,
        )
        self.notifier = ShopifyNotifier(self)
        self._ids = itertools.count(1001)
        self._order_numbers = itertools.count(1001)

    def now(self) -> datetime:
        return self.clock()

    def next_id(self) -> int:
        """A fresh legacy resource id, unique across every kind of resource."""
        with self.lock:
            return 5_000_000_000 + next(self._ids)

    def next_order_number(self) -> int:
        with self.lock:
            return next(self._order_numbers)

    def subscribe(
        self, client_id: str, topic: str, uri: str, api_version: str
    ) -> WebhookSubscription:
        """Subscribe ``client_id``'s ``uri`` to ``topic`` (e.g. ``orders/create``)."""
        subscription = WebhookSubscription(
            id=self.next_id(),
            client_id=client_id,
            topic=topic,
            uri=uri,
            created_at=self.now(),
            api_version=api_version,
        )
        with self.lock:
            self.data.subscriptions[subscription.id] = subscription
        return subscription

    def unsubscribe(self, subscription_id: int) -> bool:
        with self.lock:
            return self.data.subscriptions.pop(subscription_id, None) is not None

    def emit(self, topic: str, payload: dict[str, object]) -> str:
        """Trigger ``topic`` with its REST-shaped payload; returns the event id."""
        return self.notifier.trigger(topic, payload)

    def _subscription_failed(self, message: WebhookMessage) -> None:
        # Subscriptions made through the Admin API are removed after the retries run out
        # (as summarised from Shopify's docs in
        # https://dev.to/shannonllc/shopify-webhooks-hmac-verification-5-second-timeout-retries-jkj).
        with self.lock:
            subscription = self.data.subscriptions.get(int(message.subscription_id))
            if subscription is not None and subscription.created_by_api:
                del self.data.subscriptions[subscription.id]
