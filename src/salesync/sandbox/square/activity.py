"""A seeded generator of realistic seller activity that fires the matching webhooks.

Till sales at two locations (additive and inclusive tax), with discounts, service charges,
tips, card brands, cash with change, checks and split card + cash tenders; online orders
that are paid or cancelled later (order updates); partial and full returns as linked
return orders; exchanges; new and updated customers; price changes; and the daily
payouts whose entries add up.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

from salesync.clock import ManualClock
from salesync.sandbox.square.ledger import SquarePayouts
from salesync.sandbox.square.orders import Order, OrderDiscount, OrderServiceCharge, OrderTax
from salesync.sandbox.square.pricing import LineDraft, price_order
from salesync.sandbox.square.records import CatalogItem, SquareLocation
from salesync.sandbox.square.sales import SquareTill, TenderPlan
from salesync.sandbox.square.seed import (
    PEOPLE,
    add_customer,
    catalog_updated,
    seed_seller,
    update_customer,
)
from salesync.sandbox.square.seller import SquareSeller

MEAN_GAP = timedelta(minutes=7)
BRANDS = ("VISA", "MASTERCARD", "AMERICAN_EXPRESS", "DISCOVER")
BRAND_WEIGHTS = (50, 30, 12, 8)
REASONS = ("Changed mind", "Wrong size", "Damaged item")


class SquareActivity:
    """Drives one seller: ``run_until`` moves a manual clock and acts along the way."""

    def __init__(self, seller: SquareSeller, seed: int = 7) -> None:
        self.seller = seller
        self.rng = random.Random(seed)
        self.till = SquareTill(seller)
        self.payouts = SquarePayouts(seller)
        self._ready = False

    def setup(self) -> None:
        """Create the locations, catalog and first customers once."""
        if not self._ready:
            self._ready = True
            seed_seller(self.seller)
            self.payouts.settle()

    def run_until(self, end: datetime, clock: ManualClock) -> int:
        """Act at random moments until ``end``, moving ``clock``; returns the steps taken."""
        self.setup()
        steps = 0
        while True:
            gap = timedelta(seconds=self.rng.expovariate(1 / MEAN_GAP.total_seconds()))
            moment = clock() + gap
            if moment > end:
                clock.set(end)
                self.payouts.settle()
                return steps
            clock.set(moment)
            self.payouts.settle()
            self.step()
            steps += 1

    def step(self) -> str:
        """One thing happening at the seller now; returns what it was."""
        self.setup()
        roll = self.rng.random()
        actions = (
            (0.55, self.sale),
            (0.63, self.online_order),
            (0.71, self.settle_online_order),
            (0.80, self.give_back),
            (0.85, self.exchange),
            (0.91, self.new_customer),
            (0.95, self.update_customer),
            (1.00, self.change_price),
        )
        for threshold, action in actions:
            if roll < threshold:
                return action()
        return self.sale()

    # -- sales ---------------------------------------------------------------------------

    def _basket(self) -> tuple[SquareLocation, list[LineDraft], list[OrderTax]]:
        seller = self.seller
        location = self.rng.choice(list(seller.data.locations.values()))
        lines = []
        for _ in range(self.rng.choice((1, 1, 2, 2, 3, 4))):
            item = self.rng.choice(list(seller.data.items.values()))
            variation = self.rng.choice(item.variations)
            lines.append(
                LineDraft(
                    uid=self.till.uid(),
                    name=item.name,
                    quantity=self.rng.choice((1, 1, 1, 2, 3)),
                    base_price=variation.price,
                    catalog_object_id=variation.id,
                    variation_name=variation.name,
                )
            )
        taxes = [
            OrderTax(self.till.uid(), t.name, t.percentage, t.inclusion_type, "ORDER", t.id)
            for t in seller.data.taxes.values()
            if location.id in t.location_ids
        ]
        return location, lines, taxes

    def _extras(
        self, lines: list[LineDraft]
    ) -> tuple[list[LineDraft], list[OrderDiscount], list[OrderServiceCharge]]:
        discounts: list[OrderDiscount] = []
        roll = self.rng.random()
        if roll < 0.12:
            discounts.append(
                OrderDiscount(
                    self.till.uid(), "Loyalty 10%", "FIXED_PERCENTAGE", "ORDER", Decimal(10)
                )
            )
        elif roll < 0.2:
            discount = OrderDiscount(
                self.till.uid(), "$1 off", "FIXED_AMOUNT", "LINE_ITEM", amount=100
            )
            discounts.append(discount)
            lines[0] = replace(lines[0], discount_uids=(discount.uid,))
        charges: list[OrderServiceCharge] = []
        if sum(line.quantity for line in lines) >= 5 and self.rng.random() < 0.5:
            charges.append(OrderServiceCharge(self.till.uid(), "Catering 10%", Decimal(10), 0))
        return lines, discounts, charges

    def _tenders(self, total: int) -> list[TenderPlan]:
        roll = self.rng.random()
        if roll < 0.22:
            return [TenderPlan("CASH", total, cash_given=-(-total // 500) * 500)]
        if roll < 0.28:
            return [TenderPlan("OTHER", total)]
        if roll < 0.40 and total >= 200:
            card = total * self.rng.randint(30, 70) // 100
            return [self._card(card, tipping=False), TenderPlan("CASH", total - card)]
        return [self._card(total, tipping=True)]

    def _card(self, amount: int, *, tipping: bool) -> TenderPlan:
        tip = 0
        if tipping and self.rng.random() < 0.4:
            tip = amount * self.rng.choice((10, 15, 18, 20)) // 100
        brand = self.rng.choices(BRANDS, BRAND_WEIGHTS)[0]
        return TenderPlan("CARD", amount, tip, brand, f"{self.rng.randrange(10000):04d}")

    def _customer_id(self) -> str | None:
        if self.rng.random() < 0.5:
            return None
        return self.rng.choice(list(self.seller.data.customers))

    def sale(self) -> str:
        location, lines, taxes = self._basket()
        lines, discounts, charges = self._extras(lines)
        total = price_order(lines, taxes, discounts, charges).amounts.total
        order = self.till.create(
            location.id, lines, taxes, discounts, charges,
            customer_id=self._customer_id(), tenders=self._tenders(total),
        )  # fmt: skip
        return f"sale {order.id}"

    def online_order(self) -> str:
        location, lines, taxes = self._basket()
        order = self.till.create(
            location.id, lines, taxes, customer_id=self._customer_id(), source_name="Square Online"
        )
        return f"online order {order.id}"

    def settle_online_order(self) -> str:
        open_orders = [o for o in self._orders() if o.state == "OPEN"]
        if not open_orders:
            return self.sale()
        order = self.rng.choice(open_orders)
        if self.rng.random() < 0.2:
            return f"cancel {self.till.cancel(order).id}"
        paid = self.till.pay(order, [self._card(order.amounts.total, tipping=False)])
        return f"paid {paid.id}"

    # -- returns -------------------------------------------------------------------------

    def _returnable(self) -> list[tuple[Order, dict[str, int]]]:
        found = []
        for order in self._orders():
            if order.state != "COMPLETED" or order.returns or not order.line_items:
                continue
            back = self.till.returned_quantities(order.id)
            left = {li.uid: li.quantity - back[li.uid] for li in order.line_items}
            if any(count > 0 for count in left.values()):
                found.append((order, left))
        return found

    def give_back(self) -> str:
        candidates = self._returnable()
        if not candidates:
            return self.sale()
        order, left = self.rng.choice(candidates)
        if self.rng.random() < 0.35:
            quantities = {uid: n for uid, n in left.items() if n > 0}
        else:
            uid = self.rng.choice([uid for uid, n in left.items() if n > 0])
            quantities = {uid: 1}
        returned = self.till.give_back(order, quantities, self.rng.choice(REASONS))
        return f"return {returned.id} of {order.id}"

    def exchange(self) -> str:
        candidates = [(o, left) for o, left in self._returnable() if o.returns == ()]
        if not candidates:
            return self.sale()
        order, left = self.rng.choice(candidates)
        uid = self.rng.choice([uid for uid, n in left.items() if n > 0])
        source_line = next(li for li in order.line_items if li.uid == uid)
        item = self.rng.choice(list(self.seller.data.items.values()))
        variation = self.rng.choice(item.variations)
        new_line = LineDraft(
            self.till.uid(), item.name, 1, variation.price, variation.id, variation.name
        )
        exchanged = self.till.give_back(
            order,
            {source_line.uid: 1},
            "Exchange",
            new_lines=[new_line],
            tender=self._card(0, tipping=False),
        )
        return f"exchange {exchanged.id} of {order.id}"

    # -- customers and catalog -----------------------------------------------------------

    def new_customer(self) -> str:
        first, last = self.rng.choice(PEOPLE)
        return f"customer {add_customer(self.seller, first, last).id}"

    def update_customer(self) -> str:
        customer = self.rng.choice(list(self.seller.data.customers.values()))
        phone = f"+1415555{self.rng.randrange(10000):04d}"
        return f"customer update {update_customer(self.seller, customer, phone).id}"

    def change_price(self) -> str:
        item: CatalogItem = self.rng.choice(list(self.seller.data.items.values()))
        now = self.seller.now()
        bump = self.rng.choice((25, 50, -25))
        changed = replace(
            item,
            variations=tuple(
                replace(v, price=max(v.price + bump, 100), version=v.version + 1, updated_at=now)
                for v in item.variations
            ),
            version=item.version + 1,
            updated_at=now,
        )
        with self.seller.lock:
            self.seller.data.items[item.id] = changed
        catalog_updated(self.seller)
        return f"price change {item.id}"

    def _orders(self) -> Sequence[Order]:
        with self.seller.lock:
            return list(self.seller.data.orders.values())
