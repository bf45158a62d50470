"""A seeded generator of realistic shop activity that fires the matching webhooks.

Online and POS orders across locations with two tax regimes, discount codes and manual
discounts, shipping, gift cards sold and redeemed, tips, split tenders; partial and full
refunds, order edits, new and updated customers and products; card charges on Shopify
Payments with their fees, occasional adjustments, and a daily payout whose net equals the
balance transactions it sweeps (charges - refunds - fees ± adjustments).
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from salesync.clock import ManualClock
from salesync.sandbox.shopify.ledger import ShopifyLedger
from salesync.sandbox.shopify.payloads import customer_json, order_json, product_json, refund_json
from salesync.sandbox.shopify.records import (
    Order,
    ShopifyCustomer,
    ShopifyLocation,
    ShopifyProduct,
    ShopifyVariant,
)
from salesync.sandbox.shopify.sales import SaleBuilder
from salesync.sandbox.shopify.store import ShopifyStore

CATALOGUE = (
    ("Organic cotton tee", "Apparel", ("S", "M", "L"), "TEE", Decimal("28.00")),
    ("Fleece hoodie", "Apparel", ("M", "L"), "HOOD", Decimal("64.00")),
    ("Canvas cap", "Accessories", ("Default Title",), "CAP", Decimal("22.00")),
    ("Stoneware mug", "Homeware", ("Default Title",), "MUG", Decimal("16.00")),
    ("Soy candle", "Homeware", ("Cedar", "Fig"), "CNDL", Decimal("24.00")),
    ("Single-origin beans 250g", "Coffee", ("Whole", "Ground"), "BEAN", Decimal("14.75")),
    ("Field notebook", "Stationery", ("Default Title",), "BOOK", Decimal("9.99")),
    ("Gift card", "Gift Cards", ("$25", "$50"), "GIFT", Decimal("25.00")),
)
PEOPLE = (
    ("Ana", "Silva"), ("Ben", "Okafor"), ("Chloe", "Martin"), ("Dev", "Patel"),
    ("Emi", "Tanaka"), ("Femi", "Adeyemi"), ("Greta", "Lind"), ("Hugo", "Moreau"),
    ("Iris", "Novak"), ("Jon", "Berg"),
)  # fmt: skip
LOCATIONS = (
    ("Warehouse", "1 Dock St", "Newark", "NJ", "07105", True),
    ("Downtown", "88 Spring St", "New York", "NY", "10012", False),
    ("Airport", "JFK Terminal 4", "Queens", "NY", "11430", False),
)
PAYOUT_HOUR = time(8)
MEAN_GAP = timedelta(minutes=9)


class ShopifyActivity:
    """Drives one shop: ``run_until`` moves a manual clock and acts along the way."""

    def __init__(self, store: ShopifyStore, seed: int = 7) -> None:
        self.store = store
        self.rng = random.Random(seed)
        self.ledger = ShopifyLedger(store)
        self.sales = SaleBuilder(store, self.rng, self.ledger)
        self._ready = False
        self._last_payout_day: datetime | None = None

    def setup(self) -> None:
        """Create locations, products and customers once, firing their webhooks."""
        if self._ready:
            return
        self._ready = True
        now = self.store.now()
        for name, street, city, province, zip_code, online in LOCATIONS:
            location = ShopifyLocation(
                self.store.next_id(), name, street, city, province, "US", zip_code, online,
                now, now,
            )  # fmt: skip
            with self.store.lock:
                self.store.data.locations[location.id] = location
        for title, kind, options, code, price in CATALOGUE:
            self._create_product(title, kind, options, code, price)
        for first, last in PEOPLE[:6]:
            self.add_customer(first, last)

    def run_until(self, end: datetime, clock: ManualClock) -> int:
        """Act at random moments until ``end``, moving ``clock``; returns the steps taken."""
        self.setup()
        steps = 0
        while True:
            gap = timedelta(seconds=self.rng.expovariate(1 / MEAN_GAP.total_seconds()))
            moment = clock() + gap
            if moment > end:
                clock.set(end)
                self.settle()
                return steps
            clock.set(moment)
            self.settle()
            self.step()
            steps += 1

    def step(self) -> str:
        """One thing happening in the shop now; returns what it was."""
        self.setup()
        roll = self.rng.random()
        if roll < 0.62 or not self._orders():
            order = self.sales.new_order(self._customers())
            self.announce_order(order, created=True)
            return f"order {order.name}"
        if roll < 0.74:
            return self._refund()
        if roll < 0.80:
            return self._edit()
        if roll < 0.87:
            first, last = self.rng.choice(PEOPLE)
            return f"customer {self.add_customer(first, last).id}"
        if roll < 0.92:
            return self._update_customer()
        if roll < 0.98:
            return self._update_product()
        row = self.ledger.adjust(Decimal("-15.00"), "chargeback_fee")
        return f"adjustment {row.id}"

    def settle(self) -> None:
        """Issue the daily payout once its local time has passed."""
        zone = ZoneInfo(self.store.timezone)
        local = self.store.now().astimezone(zone)
        issue = datetime.combine(local.date(), PAYOUT_HOUR, zone)
        if local < issue:
            issue -= timedelta(days=1)
        if self._last_payout_day is not None and issue <= self._last_payout_day:
            return
        self._last_payout_day = issue
        cutoff = datetime.combine(issue.date(), time(0), zone)
        self.ledger.pay_out(issued_at=issue, cutoff=cutoff)

    # -- actions -------------------------------------------------------------------------

    def _orders(self) -> list[Order]:
        with self.store.lock:
            return list(self.store.data.orders.values())

    def _customers(self) -> list[ShopifyCustomer]:
        with self.store.lock:
            return list(self.store.data.customers.values())

    def announce_order(self, order: Order, *, created: bool) -> None:
        with self.store.lock:
            customer = self.store.data.customers.get(order.customer_id or 0)
        payload = order_json(order, customer)
        if created:
            self.store.emit("orders/create", payload)
            if order.financial_status == "PAID":
                self.store.emit("orders/paid", payload)
        else:
            self.store.emit("orders/updated", payload)

    def _refund(self) -> str:
        candidates = [
            o for o in self._orders() if o.financial_status in ("PAID", "PARTIALLY_REFUNDED")
        ]
        if not candidates:
            return "nothing to refund"
        order = self.rng.choice(candidates)
        full = self.rng.random() < 0.35 or order.financial_status == "PARTIALLY_REFUNDED"
        updated, refund = self.sales.refund(order, full=full)
        self.store.emit("refunds/create", refund_json(refund, updated))
        self.announce_order(updated, created=False)
        return f"refund {refund.id} on {order.name}"

    def _edit(self) -> str:
        recent = [o for o in self._orders() if o.financial_status == "PAID" and not o.refunds]
        if not recent:
            return "nothing to edit"
        order = self.sales.edit(self.rng.choice(recent))
        self.announce_order(order, created=False)
        return f"edit {order.name}"

    def add_customer(self, first: str, last: str) -> ShopifyCustomer:
        now = self.store.now()
        number = self.store.next_id()
        customer = ShopifyCustomer(
            id=number,
            first_name=first,
            last_name=last,
            email=f"{first.lower()}.{last.lower()}.{number % 10000}@example.com",
            phone=None,
            tags=(),
            created_at=now,
            updated_at=now,
        )
        with self.store.lock:
            self.store.data.customers[customer.id] = customer
        self.store.emit("customers/create", customer_json(customer))
        return customer

    def _update_customer(self) -> str:
        customer = self.rng.choice(self._customers())
        changed = replace(
            customer,
            phone=f"+1212555{self.rng.randrange(10000):04d}",
            tags=tuple(sorted({*customer.tags, self.rng.choice(("vip", "wholesale", "local"))})),
            updated_at=self.store.now(),
        )
        with self.store.lock:
            self.store.data.customers[changed.id] = changed
        self.store.emit("customers/update", customer_json(changed))
        return f"customer update {changed.id}"

    def _create_product(
        self, title: str, kind: str, options: tuple[str, ...], code: str, price: Decimal
    ) -> ShopifyProduct:
        now = self.store.now()
        product_id = self.store.next_id()
        gift = kind == "Gift Cards"
        variants = tuple(
            ShopifyVariant(
                id=self.store.next_id(),
                product_id=product_id,
                title=option,
                sku=f"{code}-{index + 1:03d}",
                price=price * (index + 1) if gift else price,
                taxable=not gift,
                created_at=now,
                updated_at=now,
            )
            for index, option in enumerate(options)
        )
        product = ShopifyProduct(
            id=product_id,
            title=title,
            handle=title.lower().replace(" ", "-"),
            vendor="Salesync Goods",
            product_type=kind,
            variants=variants,
            created_at=now,
            updated_at=now,
        )
        with self.store.lock:
            self.store.data.products[product.id] = product
        self.store.emit("products/create", product_json(product))
        return product

    def _update_product(self) -> str:
        with self.store.lock:
            products = [
                p for p in self.store.data.products.values() if p.product_type != "Gift Cards"
            ]
        product = self.rng.choice(products)
        now = self.store.now()
        bump = Decimal(self.rng.choice(("0.50", "1.00", "-0.50")))
        changed = replace(
            product,
            variants=tuple(
                replace(v, price=max(v.price + bump, Decimal("1.00")), updated_at=now)
                for v in product.variants
            ),
            updated_at=now,
        )
        with self.store.lock:
            self.store.data.products[changed.id] = changed
        self.store.emit("products/update", product_json(changed))
        return f"product update {changed.id}"
