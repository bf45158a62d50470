"""A seeded generator of a shop's trading at two outlets: the web store (``checkout``)
and the shop counter (WooCommerce Point of Sale, ``pos-rest-api``).

Online orders paid by card or PayPal, bank transfers that wait ``on-hold`` and are paid or
cancelled later, orders that fail or are abandoned ``pending``, coupons, flat-rate
shipping, completion once shipped; counter sales in cash or by card with tips and gift
wrapping; partial and full refunds; new customers, price changes, and failed orders put
in the trash.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

from salesync.clock import ManualClock
from salesync.sandbox.woocommerce import trading
from salesync.sandbox.woocommerce.orders import Cart, refunded_quantity
from salesync.sandbox.woocommerce.store import Json, WooShop

MEAN_GAP = timedelta(minutes=25)
CATALOG = (
    ("Ceramic Mug", "MUG-01", "14.00", "Kitchen"),
    ("Pour-over Kettle", "KET-02", "48.50", "Kitchen"),
    ("Linen Apron", "APR-03", "32.00", "Textiles"),
    ("Tea Towel Set", "TOW-04", "18.75", "Textiles"),
    ("Beeswax Candle", "CAN-05", "12.25", "Home"),
    ("Walnut Board", "BRD-06", "64.00", "Kitchen"),
    ("Gift Card", "GIFT-25", "25.00", "Gifts"),
)
PEOPLE = (
    ("Ana", "Lopez"), ("Ben", "Okafor"), ("Chloe", "Martin"), ("Dev", "Patel"),
    ("Ella", "Novak"), ("Finn", "Berg"), ("Gia", "Rossi"), ("Hugo", "Silva"),
)  # fmt: skip
ONLINE_TENDERS = (
    ("stripe", "Credit Card (Stripe)"),
    ("ppcp-gateway", "PayPal"),
    ("bacs", "Direct bank transfer"),
)
COUNTER_TENDERS = (("pos_cash", "Cash"), ("pos_card", "Card"))
REASONS = ("Arrived damaged", "Changed mind", "Wrong colour", "")


class WooActivity:
    """Drives one shop: ``run_until`` moves a manual clock and trades along the way."""

    def __init__(self, shop: WooShop, seed: int = 7) -> None:
        self.shop = shop
        self.rng = random.Random(seed)
        self._ready = False

    def setup(self) -> None:
        """The catalog and the first customers, once."""
        if self._ready:
            return
        self._ready = True
        for name, sku, price, category in CATALOG:
            taxable = not sku.startswith("GIFT")
            trading.add_product(self.shop, name, sku, Decimal(price), category, taxable=taxable)
        for first, last in PEOPLE[:4]:
            self._new_customer(first, last)

    def run_until(self, end: datetime, clock: ManualClock) -> int:
        """Act at random moments until ``end``; returns the steps taken."""
        self.setup()
        steps = 0
        while True:
            gap = timedelta(seconds=self.rng.expovariate(1 / MEAN_GAP.total_seconds()))
            if clock() + gap >= end:
                clock.set(end)
                return steps
            clock.advance(gap)
            self.step()
            steps += 1

    def step(self) -> None:
        """One thing happens in the shop."""
        roll = self.rng.random()
        if roll < 0.34:
            self.online_order()
        elif roll < 0.64:
            self.counter_sale()
        elif roll < 0.76:
            self.move_orders_on()
        elif roll < 0.86:
            self.refund()
        elif roll < 0.92:
            first, last = self.rng.choice(PEOPLE)
            self._new_customer(first, last)
        elif roll < 0.96:
            product = self.rng.choice(list(self.shop.data.products.values()))
            change = Decimal(self.rng.choice(("-1.00", "0.50", "1.25")))
            trading.reprice(self.shop, product, max(Decimal(product["price"]) + change, Decimal(1)))
        else:
            self.trash_a_failed_order()

    def _new_customer(self, first: str, last: str) -> Json:
        n = len(self.shop.data.customers) + 1
        email = f"{first.lower()}.{last.lower()}{n}@example.com"
        return trading.add_customer(self.shop, first, last, email, f"+1512555{n:04d}")

    def _items(self, count: int) -> list[tuple[Json, int]]:
        products = self.rng.sample(list(self.shop.data.products.values()), count)
        return [(p, self.rng.choice((1, 1, 1, 2, 3))) for p in products]

    def online_order(self) -> Json:
        method, title = self.rng.choice(ONLINE_TENDERS)
        fate = self.rng.random()
        status = "on-hold" if method == "bacs" else "processing"
        if fate < 0.08:
            status = "failed"
        elif fate < 0.14:
            status = "pending"
        customer = self.rng.choice(list(self.shop.data.customers.values()))
        cart = Cart(
            channel="checkout",
            items=self._items(self.rng.choice((1, 1, 2, 3))),
            payment_method=method,
            payment_title=title,
            customer=customer,
            coupon=("SPRING10", Decimal(10)) if self.rng.random() < 0.2 else None,
            shipping=Decimal("5.99") if self.rng.random() < 0.7 else None,
            status=status,
        )
        return trading.place_order(self.shop, cart)

    def counter_sale(self) -> Json:
        method, title = self.rng.choice(COUNTER_TENDERS)
        fees: list[tuple[str, Decimal, bool]] = []
        if self.rng.random() < 0.3:
            fees.append(("Tip", Decimal(self.rng.choice(("1.00", "2.00", "3.50", "5.00"))), False))
        if self.rng.random() < 0.15:
            fees.append(("Gift wrapping", Decimal("3.00"), True))
        customers = list(self.shop.data.customers.values())
        cart = Cart(
            channel="pos-rest-api",
            items=self._items(self.rng.choice((1, 2, 2, 3))),
            payment_method=method,
            payment_title=title,
            customer=self.rng.choice(customers) if self.rng.random() < 0.4 else None,
            fees=tuple(fees),
            status="completed",
        )
        return trading.place_order(self.shop, cart)

    def move_orders_on(self) -> None:
        """Ship a paid online order, or settle an old bank transfer or abandoned cart."""
        orders = list(self.shop.data.orders.values())
        waiting = [o for o in orders if o["status"] in ("on-hold", "pending")]
        paid = [o for o in orders if o["status"] == "processing"]
        if waiting and self.rng.random() < 0.5:
            order = self.rng.choice(waiting)
            paid_late = order["status"] == "on-hold" and self.rng.random() < 0.7
            trading.set_status(self.shop, order, "processing" if paid_late else "cancelled")
        elif paid:
            trading.set_status(self.shop, self.rng.choice(paid), "completed")

    def refund(self) -> None:
        """Give back part of a paid order, or all of it with its shipping."""
        candidates = [
            o
            for o in self.shop.data.orders.values()
            if o["status"] in ("processing", "completed")
            and any(refunded_quantity(self.shop, o, li) < li["quantity"] for li in o["line_items"])
        ]
        if not candidates:
            return
        order = self.rng.choice(candidates)
        left = [
            (li, li["quantity"] - refunded_quantity(self.shop, order, li))
            for li in order["line_items"]
        ]
        left = [(li, q) for li, q in left if q > 0]
        everything = self.rng.random() < 0.35 and not order["refunds"]
        if everything:
            items = left
        else:
            line, quantity = self.rng.choice(left)
            items = [(line, self.rng.randint(1, quantity))]
        trading.refund_order(
            self.shop, order, items, shipping=everything, reason=self.rng.choice(REASONS)
        )

    def trash_a_failed_order(self) -> None:
        failed = [o for o in self.shop.data.orders.values() if o["status"] == "failed"]
        if failed:
            trading.delete_order(self.shop, self.rng.choice(failed))
