"""The in-memory state of one simulated R-Series account, guarded by one lock.

The leaky bucket is per account and app: 60 units that drain at one a second by default,
a read costing 1 and a write 10
(https://developers.lightspeedhq.com/retail/introduction/ratelimits/); accounts with more
registers get bigger buckets, so size and drip are settings.
"""

from __future__ import annotations

import itertools
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from salesync.clock import system_clock
from salesync.sandbox.faults import FaultPlan
from salesync.sandbox.lightspeed_r.credentials import LightspeedCredentials
from salesync.sandbox.lightspeed_r.records import (
    Category,
    Customer,
    Item,
    PaymentType,
    Sale,
    Shop,
    TaxCategory,
)
from salesync.sandbox.ratelimit import BucketRegistry, LeakyBucket

Clock = Callable[[], datetime]
READ_COST = 1
WRITE_COST = 10


@dataclass(frozen=True, slots=True)
class Bucket:
    """The size of an account's leaky bucket and how fast it drips."""

    size: float = 60.0
    drip_rate: float = 1.0


@dataclass(slots=True)
class AccountData:
    shops: dict[int, Shop] = field(default_factory=dict)
    tax_categories: dict[int, TaxCategory] = field(default_factory=dict)
    categories: dict[int, Category] = field(default_factory=dict)
    items: dict[int, Item] = field(default_factory=dict)
    customers: dict[int, Customer] = field(default_factory=dict)
    payment_types: dict[int, PaymentType] = field(default_factory=dict)
    sales: dict[int, Sale] = field(default_factory=dict)


class LightspeedAccount:
    """One retailer's R-Series account: its data, apps and tokens, bucket and faults."""

    def __init__(
        self,
        *,
        clock: Clock = system_clock,
        account_id: str | None = None,
        name: str = "Harbour Outfitters",
        bucket: Bucket | None = None,
    ) -> None:
        self.clock = clock
        self.account_id = account_id or str(100_000 + secrets.randbelow(800_000))
        self.name = name
        self.data = AccountData()
        self.credentials = LightspeedCredentials(clock, self.account_id)
        self.faults = FaultPlan()
        self.lock = threading.RLock()
        self._ids = itertools.count(1)
        self.bucket = bucket or Bucket()
        self.buckets = BucketRegistry(self._new_bucket)

    def _new_bucket(self) -> LeakyBucket:
        return LeakyBucket(self.bucket.size, self.bucket.drip_rate, self.clock)

    def set_bucket(self, bucket: Bucket) -> None:
        """Resize the bucket (more registers, an off-peak change); levels start over."""
        self.bucket = bucket
        self.buckets = BucketRegistry(self._new_bucket)

    def next_id(self) -> int:
        with self.lock:
            return next(self._ids)
