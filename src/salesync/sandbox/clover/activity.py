"""A Clover merchant trading: its catalog, devices, tenders and customers, and a day's
sales (modifiers, discounts, service charges, tips, split tenders) and refunds.

Everything is seeded, so the same seed trades the same week; time comes from the
platform's clock, which the caller moves.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from salesync.sandbox.clover.platform import CloverMerchant, CloverPlatform
from salesync.sandbox.clover.till import Sold, Tendered, refund_lines, ring_up

Json = dict[str, Any]
MENU = (
    ("Coffee", "Drip Coffee", 325),
    ("Coffee", "Latte", 495),
    ("Coffee", "Cold Brew", 450),
    ("Bakery", "Croissant", 375),
    ("Bakery", "Blueberry Muffin", 350),
    ("Retail", "House Blend 12oz", 1695),
    ("Retail", "Ceramic Mug", 1800),
)
MODIFIERS = (("Oat milk", 75), ("Extra shot", 100), ("Vanilla syrup", 60))
TENDERS = (
    ("com.clover.tender.cash", "Cash"),
    ("com.clover.tender.credit_card", "Credit Card"),
    ("com.clover.tender.debit_card", "Debit Card"),
)
FIRST_NAMES = ("Ana", "Ben", "Chloe", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jo")


@dataclass
class CloverActivity:
    """One merchant's trading on the platform's clock."""

    platform: CloverPlatform
    merchant: CloverMerchant
    seed: int = 7
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def setup(self) -> None:
        """The merchant's two devices, tax rate, tenders, categories, items and a few
        regular customers."""
        p, m, now = self.platform, self.merchant, self.platform.now_ms()
        for name in ("Counter", "Mobile"):
            device = {
                "id": p.new_id(),
                "name": name,
                "model": "Clover Station",
                "serial": p.new_id(),
            }
            m.devices[device["id"]] = device
        tax: Json = {"id": p.new_id(), "name": "Sales Tax", "rate": 887500, "isDefault": True}
        m.tax_rates[tax["id"]] = tax
        for key, label in TENDERS:
            tender: Json = {"id": p.new_id(), "labelKey": key, "label": label, "enabled": True}
            m.tenders[tender["id"]] = tender
        categories: dict[str, Json] = {}
        for name in sorted({c for c, _, _ in MENU}):
            categories[name] = {"id": p.new_id(), "name": name, "sortOrder": len(categories)}
            m.categories[categories[name]["id"]] = categories[name]
        for i, (category, name, price) in enumerate(MENU):
            item: Json = {
                "id": p.new_id(),
                "name": name,
                "sku": f"CL-{i + 1:03d}",
                "code": f"0000{i + 1:04d}",
                "price": price,
                "priceType": "FIXED",
                "isRevenue": True,
                "hidden": False,
                "defaultTaxRates": True,
                "modifiedTime": now,
                "categories": {"elements": [{"id": categories[category]["id"], "name": category}]},
                "taxRates": {
                    "elements": [{"id": tax["id"], "name": tax["name"], "rate": tax["rate"]}]
                },
            }
            m.items[item["id"]] = item
            p.changed(m.id, f"I:{item['id']}", "CREATE")
        for _ in range(4):
            self.new_customer()

    def new_customer(self) -> Json:
        p, m = self.platform, self.merchant
        first = self.rng.choice(FIRST_NAMES)
        initial, vowel = self.rng.choice("BCDFGKLMNPRST"), self.rng.choice("aeiou")
        last = f"{initial}{vowel}{self.rng.randint(10, 99)}"
        now = p.now_ms()
        customer: Json = {
            "id": p.new_id(),
            "firstName": first,
            "lastName": last,
            "marketingAllowed": False,
            "customerSince": now,
            "modifiedTime": now,
            "emailAddresses": {
                "elements": [
                    {"id": p.new_id(), "emailAddress": f"{first}.{last}@example.com".lower()}
                ]
            },
            "phoneNumbers": {
                "elements": [{"id": p.new_id(), "phoneNumber": f"555-01{self.rng.randint(10, 99)}"}]
            },
        }
        with p.lock:
            m.customers[customer["id"]] = customer
        p.changed(m.id, f"C:{customer['id']}", "CREATE")
        return customer

    def sale(self, *, left_open: bool = False) -> Json:
        """One order rung up and paid, or left open at the register (a tab never settled,
        which is no sale)."""
        rng, m = self.rng, self.merchant
        items = list(m.items.values())
        sold = []
        for _ in range(rng.randint(1, 4)):
            item = rng.choice(items)
            coffee = item["categories"]["elements"][0]["name"] == "Coffee"
            mods = tuple(rng.sample(MODIFIERS, rng.randint(0, 2))) if coffee else ()
            line_discount = {"name": "Staff", "percentage": 50} if rng.random() < 0.08 else None
            sold.append(Sold(item["id"], rng.randint(1, 2), mods, line_discount))
        tenders = list(m.tenders.values())
        cash, cards = tenders[0], tenders[1:]
        if rng.random() < 0.15:
            split = [
                Tendered(cash["id"], Decimal("0.4")),
                Tendered(rng.choice(cards)["id"], Decimal("0.6"), self._tip()),
            ]
        elif rng.random() < 0.3:
            split = [Tendered(cash["id"], Decimal(1))]
        else:
            split = [Tendered(rng.choice(cards)["id"], Decimal(1), self._tip())]
        discount = None
        if rng.random() < 0.1:
            discount = rng.choice(
                ({"name": "Loyalty", "amount": -100}, {"name": "Happy hour", "percentage": 10})
            )
        charge = (
            {"name": "Catering", "percentage": "5"}
            if len(sold) >= 4 and rng.random() < 0.5
            else None
        )
        customers = list(m.customers.values())
        customer = rng.choice(customers)["id"] if customers and rng.random() < 0.4 else None
        device = rng.choice(list(m.devices))
        return ring_up(
            self.platform, m, sold, () if left_open else split,
            device_id=device, discount=discount, service_charge=charge, customer_id=customer,
        )  # fmt: skip

    def reprice(self) -> Json:
        """An inventory item's price changed in the Dashboard."""
        p, m = self.platform, self.merchant
        item = m.items[self.rng.choice(sorted(m.items))]
        with p.lock:
            item["price"] += self.rng.choice((-25, 25, 50))
            item["modifiedTime"] = p.now_ms()
        p.changed(m.id, f"I:{item['id']}", "UPDATE")
        return item

    def _tip(self) -> int:
        return self.rng.choice((0, 0, 50, 100, 150, 200))

    def refund(self) -> Json | None:
        """A line of an earlier paid order given back, if there is one to give back."""
        paid = [
            o
            for o in self.merchant.orders.values()
            if o["paymentState"] in ("PAID", "PARTIALLY_REFUNDED")
        ]
        if not paid:
            return None
        order = self.rng.choice(paid)
        open_lines = [li["id"] for li in order["lineItems"]["elements"] if not li["refunded"]]
        return refund_lines(self.platform, self.merchant, order["id"], open_lines[:1])

    def trade_day(self, day: datetime, sales: int, set_clock: Any) -> None:
        """``sales`` orders between 07:00 and 19:00 local on ``day``, with a few refunds
        and new customers among them; ``set_clock`` moves the platform's clock."""
        zone = ZoneInfo(self.merchant.timezone)
        opening = datetime.combine(day.astimezone(zone).date(), datetime.min.time(), zone)
        opening += timedelta(hours=7)
        moments = sorted(self.rng.uniform(0, 12 * 3600) for _ in range(sales))
        for offset in moments:
            set_clock(opening + timedelta(seconds=offset))
            roll = self.rng.random()
            if roll < 0.06:
                self.refund()
            elif roll < 0.1:
                self.new_customer()
            elif roll < 0.12:
                self.reprice()
            self.sale(left_open=roll > 0.97)
