"""The simulated WooCommerce shop: its REST API keys, orders with their refunds,
customers, products and webhooks, on an injected clock.

Resources are kept as the JSON the REST API v3 answers with, so what is served is what
was stored. Times are kept twice, as WooCommerce does: ``date_x`` in the site's time zone
and ``date_x_gmt`` in UTC, both without an offset
(https://woocommerce.github.io/woocommerce-rest-api-docs/#orders).
"""

from __future__ import annotations

import itertools
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from salesync.clock import system_clock
from salesync.sandbox.faults import FaultPlan
from salesync.sandbox.limits import FixedWindow
from salesync.sandbox.webhooks import DeliveryQueue, RetrySchedule

Json = dict[str, Any]
Clock = Callable[[], datetime]
_TIMEOUT = httpx.Timeout(60.0)
"""WooCommerce waits up to a minute for a delivery's answer."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A REST API key pair (WooCommerce > Settings > Advanced > REST API)."""

    consumer_key: str
    consumer_secret: str
    permissions: str
    """``read``, ``write`` or ``read_write``."""
    user_id: int = 1

    def may(self, write: bool) -> bool:
        return self.permissions in ("write", "read_write") if write else self.permissions != "write"


@dataclass(frozen=True, slots=True)
class RateLimit:
    """Requests allowed per key in each fixed window; WooCommerce's limiter counts 25 in 10
    seconds by default."""

    limit: int = 25
    seconds: int = 10


@dataclass
class ShopData:
    orders: dict[int, Json] = field(default_factory=dict)
    refunds: dict[int, list[Json]] = field(default_factory=dict)
    """Each order's refunds, newest first, as ``/orders/{id}/refunds`` lists them."""
    customers: dict[int, Json] = field(default_factory=dict)
    products: dict[int, Json] = field(default_factory=dict)
    webhooks: dict[int, Json] = field(default_factory=dict)
    secrets: dict[int, str] = field(default_factory=dict)
    """Each webhook's secret; the API never shows it back."""


def wc_time(instant: datetime, zone: ZoneInfo | None = None) -> str:
    """A time as WooCommerce writes it: seconds, no offset, UTC unless ``zone`` is given."""
    local = instant.astimezone(zone or UTC)
    return local.replace(tzinfo=None).isoformat(timespec="seconds")


class WooShop:
    """One WooCommerce shop; everything that changes it holds ``lock``."""

    def __init__(
        self,
        *,
        clock: Clock = system_clock,
        timezone: str = "America/Chicago",
        currency: str = "USD",
        rate_limit: RateLimit | None = None,
        max_delivery_failures: int = 5,
    ) -> None:
        self.now = clock
        self.zone = ZoneInfo(timezone)
        self.currency = currency
        self.max_delivery_failures = max_delivery_failures
        """``woocommerce_max_webhook_delivery_failures``."""
        self.data = ShopData()
        self.failures: dict[int, int] = {}
        """Each webhook's count of consecutive failed deliveries."""
        self.delivered_by: dict[str, int] = {}
        """The webhook of each delivery id."""
        self.keys: dict[str, ApiKey] = {}
        self.faults = FaultPlan()
        self.lock = threading.RLock()
        limit = rate_limit or RateLimit()
        self.rate_limit = limit
        self.window = FixedWindow(limit.limit, timedelta(seconds=limit.seconds), clock)
        # WooCommerce never retries a failed delivery: it counts the failure against the
        # webhook instead (class-wc-webhook.php, failed_delivery).
        self.deliveries = DeliveryQueue(clock, RetrySchedule(delays=()), timeout=_TIMEOUT)
        self._ids = itertools.count(100)

    def next_id(self) -> int:
        with self.lock:
            return next(self._ids)

    def issue_key(self, permissions: str = "read_write") -> ApiKey:
        """A new key pair, as an admin makes one."""
        key = ApiKey("ck_" + secrets.token_hex(20), "cs_" + secrets.token_hex(20), permissions)
        with self.lock:
            self.keys[key.consumer_key] = key
        return key

    def revoke_key(self, consumer_key: str) -> None:
        with self.lock:
            self.keys.pop(consumer_key, None)

    def stamp(self, resource: Json, *names: str) -> None:
        """Set ``date_<name>`` and ``date_<name>_gmt`` of ``resource`` to now."""
        now = self.now()
        for name in names:
            resource[f"date_{name}"] = wc_time(now, self.zone)
            resource[f"date_{name}_gmt"] = wc_time(now)
