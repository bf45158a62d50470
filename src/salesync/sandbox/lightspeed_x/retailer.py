"""A simulated X-Series retailer: its records, the apps it authorized, its rate limit and
its webhooks, all on an injected clock.

Tokens follow X-Series' rules: an access token lives a day, and since the 2025-03 change
every refresh hands out a new refresh token and revokes the one used, so an app must
persist each new one (https://x-series-api.lightspeedhq.com/changelog/2025-03-refresh-token-flow-update).

The rate limit counts requests per retailer and application in a five-minute window of
``300 x registers + 50`` (https://x-series-api.lightspeedhq.com/docs/rate_limiting).
"""

from __future__ import annotations

import itertools
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from salesync.sandbox.faults import FaultPlan
from salesync.sandbox.lightspeed_x.notify import Subscription, WebhookNotifier
from salesync.sandbox.lightspeed_x.records import (
    CustomerRow,
    Outlet,
    ProductRow,
    Register,
    RegisterClosure,
    Tax,
    Versioned,
    number,
)
from salesync.sandbox.lightspeed_x.sales import SaleRow
from salesync.sandbox.limits import FixedWindow, WindowDecision
from salesync.sandbox.oauth import TokenAuthority, TokenPolicy

V = TypeVar("V", bound=Versioned)
OPENING_STOCK = Decimal(100)
TOKEN_POLICY = TokenPolicy(
    access_ttl=timedelta(days=1),
    refresh_idle_ttl=timedelta(days=365),
    rotate_after=timedelta(0),
    reuse_grace=timedelta(0),
)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """``per_register x registers + base`` requests per ``window``."""

    per_register: int = 300
    base: int = 50
    window: timedelta = timedelta(minutes=5)

    def limit(self, registers: int) -> int:
        return self.per_register * max(registers, 1) + self.base


@dataclass(frozen=True, slots=True)
class App:
    client_id: str
    client_secret: str


class Collection(dict[str, V]):
    """One collection's records by id."""


class LightspeedRetailer:
    """One retailer account (a domain prefix) and everything the API serves from it."""

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] | None = None,
        domain_prefix: str = "kowhai",
        currency: str = "NZD",
        rate_limit: RateLimit | None = None,
    ) -> None:
        self.clock = clock or (lambda: datetime.now(UTC))
        self.id = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{domain_prefix}.retail.lightspeed.app"))
        self.domain_prefix = domain_prefix
        self.currency = currency
        self.rate_limit = rate_limit or RateLimit()
        self.faults = FaultPlan()
        self.authority = TokenAuthority(TOKEN_POLICY, self.now)
        self.outlets: Collection[Outlet] = Collection()
        self.registers: Collection[Register] = Collection()
        self.taxes: Collection[Tax] = Collection()
        self.products: Collection[ProductRow] = Collection()
        self.customers: Collection[CustomerRow] = Collection()
        self.sales: Collection[SaleRow] = Collection()
        self.register_closures: Collection[RegisterClosure] = Collection()
        self.notifier = WebhookNotifier(self)
        self.inventory: dict[tuple[str, str], Decimal] = {}
        """Stock on hand by product and outlet."""
        self._stocked: set[str] = set()
        self._versions = itertools.count(1_000)
        self._lock = threading.Lock()
        self._window = FixedWindow(self.rate_limit.limit(0), self.rate_limit.window, self.now)

    def now(self) -> datetime:
        return self.clock()

    # -- apps and tokens -------------------------------------------------------------

    def register_app(self) -> App:
        """An add-on registered in the developer portal: its client id and secret."""
        app = App(f"app_{secrets.token_hex(6)}", secrets.token_urlsafe(24))
        self.authority.register_client(app.client_id, app.client_secret)
        return app

    def client_secret(self, client_id: str) -> str | None:
        return self.authority.clients.get(client_id)

    # -- rate limit ------------------------------------------------------------------

    @property
    def limit(self) -> int:
        return self.rate_limit.limit(len(self.registers))

    def take_request(self, client_id: str) -> WindowDecision:
        """Count one request of ``client_id`` against the retailer's window."""
        return self._window.acquire(f"{self.id}:{client_id}")

    def _resize_window(self) -> None:
        self._window = FixedWindow(self.limit, self.rate_limit.window, self.now)

    # -- changes ---------------------------------------------------------------------

    def next_version(self) -> int:
        with self._lock:
            return next(self._versions)

    def put(self, collection: Collection[V], row: V) -> V:
        """Store ``row`` under a new version; the change is what ``after`` pages find."""
        row.version = self.next_version()
        collection[row.id] = row
        if collection is self.registers:
            self._resize_window()
        return row

    def save_sale(self, sale: SaleRow) -> SaleRow:
        sale.updated_at = self.now()
        self.put(self.sales, sale)
        self.notifier.trigger("sale.update", sale.webhook_json())
        self._move_stock(sale)
        return sale

    def _move_stock(self, sale: SaleRow) -> None:
        """A sale takes its goods out of the outlet's stock once it stops being parked (a
        closed, on-account or layby sale); a return puts them back."""
        if sale.status in ("SAVED", "VOIDED") or sale.id in self._stocked:
            return
        self._stocked.add(sale.id)
        for line in sale.line_items:
            key = (line.product_id, sale.outlet_id)
            level = self.inventory.get(key, OPENING_STOCK) - line.quantity
            self.inventory[key] = level
            self.notifier.trigger(
                "inventory.update",
                {
                    "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{key[0]}/{key[1]}")),
                    "product_id": line.product_id,
                    "outlet_id": sale.outlet_id,
                    "count": number(level),
                    "version": self.next_version(),
                },
            )

    def save_customer(self, customer: CustomerRow) -> CustomerRow:
        customer.updated_at = self.now()
        self.put(self.customers, customer)
        self.notifier.trigger("customer.update", customer.json())
        return customer

    def save_product(self, product: ProductRow) -> ProductRow:
        product.updated_at = self.now()
        self.put(self.products, product)
        self.notifier.trigger("product.update", product.json())
        return product

    def close_register(self, closure: RegisterClosure) -> RegisterClosure:
        self.put(self.register_closures, closure)
        self.notifier.trigger("register_closure.create", closure.json())
        return closure

    def subscribe(self, client_id: str, url: str, topic: str) -> Subscription:
        return self.notifier.subscribe(client_id, url, topic)
