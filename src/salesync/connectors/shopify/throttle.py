"""Pacing requests by what Shopify says about its rate-limit buckets, so the connector
waits before a request instead of collecting refusals.

GraphQL: every answer reports the query's cost and the bucket's ``throttleStatus``
(``maximumAvailable``, ``currentlyAvailable``, ``restoreRate``); a query runs only when
the bucket holds its *requested* cost
(https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits).
REST: ``X-Shopify-Shop-Api-Call-Limit: 32/40`` says how full the leaky bucket is; it drains
in twenty seconds whatever its size (https://shopify.dev/docs/api/admin-rest/usage/rate-limits).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_QUERY_COST = 1000.0
"""No single query may request more; also what an operation not seen yet is assumed to
need, so its first run does not meet an empty bucket."""
REST_DRAIN_SECONDS = 20.0


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(slots=True)
class CostBucket:
    """The app's GraphQL cost bucket as the last answer described it."""

    maximum: float | None = None
    available: float | None = None
    rate: float | None = None
    at: float = 0.0
    """When (monotonic seconds) the answer came."""
    costs: dict[str, float] = field(default_factory=dict)
    """The requested cost last charged for each operation and page size."""

    def report(self, cost: Mapping[str, Any], now: float, operation: str) -> None:
        """Take in an answer's ``extensions.cost``."""
        status = cost.get("throttleStatus")
        if isinstance(status, Mapping):
            maximum = _number(status.get("maximumAvailable"))
            available = _number(status.get("currentlyAvailable"))
            rate = _number(status.get("restoreRate"))
            if maximum and available is not None and rate:
                self.maximum, self.available, self.rate, self.at = maximum, available, rate, now
        requested = _number(cost.get("requestedQueryCost"))
        if requested is not None:
            self.costs[operation] = requested

    def restored(self, now: float) -> float | None:
        """How many points the bucket holds now, by the last report and the time since."""
        if self.maximum is None or self.available is None or self.rate is None:
            return None
        return min(self.maximum, self.available + max(now - self.at, 0.0) * self.rate)

    def wait_for(self, operation: str, now: float) -> float:
        """Seconds to wait before ``operation`` fits in the bucket (0 when it does)."""
        held = self.restored(now)
        if held is None or self.maximum is None or not self.rate:
            return 0.0
        needed = min(self.costs.get(operation, MAX_QUERY_COST), self.maximum)
        # One point of margin: the bucket reports whole points and refills continuously.
        missing = needed + 1 - held
        return max(missing, 0.0) / self.rate


@dataclass(slots=True)
class CallLimit:
    """The REST bucket as the last ``X-Shopify-Shop-Api-Call-Limit`` header described it."""

    used: float = 0.0
    capacity: float | None = None
    at: float = 0.0

    def report(self, header: str | None, now: float) -> None:
        if not header or "/" not in header:
            return
        used, _, capacity = header.partition("/")
        try:
            self.used, self.capacity, self.at = float(used), float(capacity), now
        except ValueError:
            return

    def wait(self, now: float) -> float:
        """Seconds to wait so the next call leaves a request of room in the bucket."""
        if not self.capacity:
            return 0.0
        rate = self.capacity / REST_DRAIN_SECONDS
        level = max(self.used - max(now - self.at, 0.0) * rate, 0.0)
        return max(level + 2 - self.capacity, 0.0) / rate
