"""Leaky buckets on an injected clock, the shape most providers' rate limits take.

A request pours ``amount`` into the bucket; the bucket drains continuously at ``rate`` per
second; a request that would overflow it is refused. Time only comes from the clock, so a
test that moves a ``ManualClock`` forward sees exactly the refill the provider documents.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from datetime import datetime

Clock = Callable[[], datetime]


class LeakyBucket:
    """A bucket of ``capacity`` units draining ``rate`` units per second, thread-safe."""

    def __init__(self, capacity: float, rate: float, clock: Clock) -> None:
        if capacity <= 0 or rate <= 0:
            raise ValueError("a bucket needs a positive capacity and rate")
        self.capacity = capacity
        self.rate = rate
        self._clock = clock
        self._level = 0.0
        self._at = clock()
        self._lock = threading.Lock()

    def _drain(self) -> None:
        now = self._clock()
        elapsed = max((now - self._at).total_seconds(), 0.0)
        self._level = max(self._level - elapsed * self.rate, 0.0)
        self._at = max(now, self._at)

    @property
    def level(self) -> float:
        """How full the bucket is now."""
        with self._lock:
            self._drain()
            return self._level

    @property
    def available(self) -> float:
        """How much room is left now."""
        return self.capacity - self.level

    def try_pour(self, amount: float) -> bool:
        """Pour ``amount`` in if it fits; False (and nothing poured) when it would overflow."""
        with self._lock:
            self._drain()
            if self._level + amount > self.capacity:
                return False
            self._level += amount
            return True

    def refund(self, amount: float) -> None:
        """Take ``amount`` back out, e.g. when the actual cost was below the estimate."""
        with self._lock:
            self._drain()
            self._level = max(self._level - amount, 0.0)

    def seconds_until_room(self, amount: float) -> float:
        """How long until ``amount`` would fit, rounded up to the millisecond."""
        with self._lock:
            self._drain()
            excess = self._level + amount - self.capacity
            return 0.0 if excess <= 0 else math.ceil(excess / self.rate * 1000) / 1000


class BucketRegistry:
    """One bucket per key (an app on a shop, a seller), created on first use."""

    def __init__(self, factory: Callable[[], LeakyBucket]) -> None:
        self._factory = factory
        self._buckets: dict[str, LeakyBucket] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> LeakyBucket:
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = self._factory()
            return bucket

    def snapshot(self) -> dict[str, float]:
        """The current level of every bucket, by key."""
        with self._lock:
            buckets = dict(self._buckets)
        return {key: bucket.level for key, bucket in buckets.items()}
