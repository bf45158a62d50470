"""A retailer trading: two outlets with two registers each, a catalog with GST, customers,
and a day's business at each outlet: sales with discounts, tips and split tenders,
returns of earlier sales, on-account and layby sales paid off later, parked sales
finished or voided, customer and price changes, and every register closed at night.

Seeded, so the same seed gives the same week; time comes from the caller's clock.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from salesync.sandbox.lightspeed_x.records import (
    CustomerRow,
    Outlet,
    ProductRow,
    Register,
    RegisterClosure,
    Tax,
    cents,
)
from salesync.sandbox.lightspeed_x.retailer import LightspeedRetailer
from salesync.sandbox.lightspeed_x.sales import PENDING, LineItem, SalePayment, SaleRow

TIP_SKU = "tip"
CATALOG = (
    ("BEAN-1KG", "House Blend Beans 1kg", "Coffee", "38.00"),
    ("BEAN-250", "Single Origin 250g", "Coffee", "16.50"),
    ("CUP-KEEP", "Keep Cup", "Homeware", "24.00"),
    ("PLUNGER", "French Press", "Homeware", "59.90"),
    ("MUG-BLUE", "Blue Mug", "Homeware", "18.00"),
    ("TEE-S", "Logo Tee Small", "Apparel", "35.00"),
    ("TEE-L", "Logo Tee Large", "Apparel", "35.00"),
    ("TOTE", "Canvas Tote", "Apparel", "22.00"),
    ("GRINDER", "Hand Grinder", "Equipment", "89.00"),
)
TENDERS = (("cash", "Cash"), ("card", "Credit Card"), ("eftpos", "EFTPOS"))
PEOPLE = (
    ("Aroha", "Ngata"),
    ("Ben", "Walker"),
    ("Chloe", "Tan"),
    ("Dev", "Patel"),
    ("Ella", "Smith"),
    ("Finn", "O'Brien"),
    ("Grace", "Li"),
    ("Hemi", "Parata"),
)


def _id() -> str:
    return str(uuid.uuid4())


@dataclass
class LightspeedActivity:
    """Trading at ``retailer`` driven by ``seed``."""

    retailer: LightspeedRetailer
    seed: int = 7
    rng: random.Random = field(init=False)
    _numbers: dict[str, int] = field(default_factory=dict)
    _returned: dict[str, Decimal] = field(default_factory=dict)
    """Quantity returned so far, by line item id."""

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    # -- set up ----------------------------------------------------------------------

    def setup(self) -> None:
        """Taxes, two outlets with two registers each, the catalog and some customers."""
        r = self.retailer
        now = r.now()
        gst = r.put(r.taxes, Tax(_id(), 0, "GST", Decimal("0.15")))
        none = r.put(r.taxes, Tax(_id(), 0, "No Tax", Decimal(0)))
        for name in ("Ponsonby", "Cuba Street"):
            outlet = r.put(r.outlets, Outlet(_id(), 0, name, "Pacific/Auckland"))
            for n in (1, 2):
                r.put(r.registers, Register(_id(), 0, f"{name} Till {n}", outlet.id))
        for sku, name, category, price in CATALOG:
            r.save_product(ProductRow(_id(), 0, sku, name, category, Decimal(price), gst.id, now))
        r.save_product(ProductRow(_id(), 0, TIP_SKU, "Tip", "Tips", Decimal(0), none.id, now))
        for i, (first, last) in enumerate(PEOPLE):
            email = f"{first.lower()}@example.co.nz"
            r.save_customer(CustomerRow(_id(), 0, f"C{i + 1:03}", first, last, email, None, now))

    # -- trading ---------------------------------------------------------------------

    def trade(self, days: int, steps_per_day: int, clock: Callable[[datetime], None]) -> None:
        """``days`` of business from the retailer's current time: ``steps_per_day`` things
        through each day's opening hours, then every register closed."""
        day = self.retailer.now()
        for _ in range(days):
            for step in range(steps_per_day):
                clock(day + timedelta(minutes=10 + 540 * step / steps_per_day))
                self.step()
            clock(day + timedelta(hours=10))
            self.close_registers(day)
            day += timedelta(days=1)
            clock(day)

    def step(self) -> None:
        """One thing happens at one outlet."""
        roll = self.rng.random()
        if roll < 0.55:
            self.sell("CLOSED")
        elif roll < 0.62:
            self.give_back() or self.sell("CLOSED")
        elif roll < 0.65:
            self.exchange(dearer=self.rng.random() < 0.5) or self.sell("CLOSED")
        elif roll < 0.71:
            self.sell("ONACCOUNT")
        elif roll < 0.77:
            self.sell("LAYBY")
        elif roll < 0.82:
            self.sell("SAVED")
        elif roll < 0.92:
            self.settle() or self.sell("CLOSED")
        elif roll < 0.97:
            self.change_customer()
        else:
            self.change_price()

    def sell(self, status: str) -> SaleRow:
        r, now = self.retailer, self.retailer.now()
        register = self.rng.choice(list(r.registers.values()))
        goods = [p for p in r.products.values() if p.sku != TIP_SKU]
        lines: list[LineItem] = []
        for product in self.rng.sample(goods, self.rng.randint(1, 3)):
            quantity = Decimal(self.rng.choice((1, 1, 1, 2, 3)))
            discount = cents(product.price / 10) if self.rng.random() < 0.2 else Decimal(0)
            rate = r.taxes[product.tax_id].rate
            lines.append(
                LineItem(_id(), product.id, quantity, product.price, discount, product.tax_id, rate)
            )
        if status == "CLOSED" and self.rng.random() < 0.2:
            tip = next(p for p in r.products.values() if p.sku == TIP_SKU)
            amount = Decimal(self.rng.choice(("2.00", "3.50", "5.00")))
            rate = r.taxes[tip.tax_id].rate
            lines.append(LineItem(_id(), tip.id, Decimal(1), amount, Decimal(0), tip.tax_id, rate))
        customers = list(r.customers.values())
        customer = self.rng.choice(customers).id if self.rng.random() < 0.4 else None
        if status in PENDING and customer is None:
            customer = self.rng.choice(customers).id
        sale = SaleRow(
            id=_id(),
            version=0,
            outlet_id=register.outlet_id,
            register_id=register.id,
            user_id=f"user-{register.outlet_id[:8]}",
            invoice_number=self._number(register.outlet_id),
            status=status,
            sale_date=now,
            updated_at=now,
            customer_id=customer,
            line_items=lines,
        )
        if status == "CLOSED":
            sale.payments = self._tenders(sale.total, now)
        elif status == "LAYBY":
            sale.payments = self._tenders(cents(sale.total / 5), now, split=False)
        return r.save_sale(sale)

    def give_back(self) -> SaleRow | None:
        """A customer returns goods from an earlier closed sale at the same outlet."""
        return self._return(swap=None)

    def exchange(self, *, dearer: bool) -> SaleRow | None:
        """A customer returns goods from an earlier sale and takes other goods instead, in
        the same sale (a return the new goods were added to before it closed): ``dearer``
        new goods, so the customer pays the difference, or cheaper ones, so the customer
        gets the difference back."""
        return self._return(swap=dearer)

    def _return(self, *, swap: bool | None) -> SaleRow | None:
        r, now = self.retailer, self.retailer.now()
        candidates = [
            (s, li)
            for s in r.sales.values()
            if s.status == "CLOSED" and s.return_for is None
            for li in s.line_items
            if li.quantity > self._returned.get(li.id, Decimal(0))
            and li.unit_price > 0
            and r.products[li.product_id].sku != TIP_SKU
        ]
        if not candidates:
            return None
        sold, line = self.rng.choice(candidates)
        left = line.quantity - self._returned.get(line.id, Decimal(0))
        quantity = left if swap is None and self.rng.random() < 0.5 else Decimal(1)
        self._returned[line.id] = self._returned.get(line.id, Decimal(0)) + quantity
        back = LineItem(
            _id(), line.product_id, -quantity, line.unit_price, line.unit_discount,
            line.tax_id, line.rate,
        )  # fmt: skip
        sale = SaleRow(
            id=_id(),
            version=0,
            outlet_id=sold.outlet_id,
            register_id=sold.register_id,
            user_id=sold.user_id,
            invoice_number=self._number(sold.outlet_id),
            status="CLOSED",
            sale_date=now,
            updated_at=now,
            customer_id=sold.customer_id,
            return_for=sold.id,
            note=f"{'Return' if swap is None else 'Exchange'} of {sold.invoice_number}",
            line_items=[back],
        )
        # A return starts as a parked sale naming the one it returns, and closes once the
        # money is given back (https://x-series-api.lightspeedhq.com/docs/sales_returns);
        # in an exchange the new goods are added to it before it closes.
        sale.status = "SAVED"
        r.save_sale(sale)
        if swap is not None:
            goods = [
                p
                for p in r.products.values()
                if p.sku != TIP_SKU and p.id != line.product_id
                and (p.price > line.unit_price if swap else Decimal(0) < p.price < line.unit_price)
            ]  # fmt: skip
            if not goods:
                goods = [p for p in r.products.values() if p.sku != TIP_SKU]
            product = self.rng.choice(goods)
            rate = r.taxes[product.tax_id].rate
            sale.line_items.append(
                LineItem(_id(), product.id, Decimal(1), product.price, Decimal(0),
                         product.tax_id, rate)
            )  # fmt: skip
        tender_id, name = sold.payments[0].payment_type_id, sold.payments[0].name
        if sale.total:
            sale.payments = [SalePayment(_id(), tender_id, name, sale.total, now)]
        sale.status = "CLOSED"
        return r.save_sale(sale)

    def settle(self) -> SaleRow | None:
        """An open sale is finished: an account or layby paid off, a parked sale paid or
        voided."""
        r, now = self.retailer, self.retailer.now()
        waiting = [s for s in r.sales.values() if s.status in (*PENDING, "SAVED")]
        if not waiting:
            return None
        sale = self.rng.choice(waiting)
        if sale.status == "SAVED" and self.rng.random() < 0.3:
            sale.status = "VOIDED"
            return r.save_sale(sale)
        sale.payments = [*sale.payments, *self._tenders(sale.total - sale.paid, now)]
        sale.status = {"ONACCOUNT": "ONACCOUNT_CLOSED", "LAYBY": "LAYBY_CLOSED"}.get(
            sale.status, "CLOSED"
        )
        return r.save_sale(sale)

    def change_customer(self) -> None:
        r = self.retailer
        customer = self.rng.choice(list(r.customers.values()))
        customer.phone = f"+64 21 {self.rng.randint(100, 999)} {self.rng.randint(1000, 9999)}"
        r.save_customer(customer)

    def change_price(self) -> None:
        r = self.retailer
        product = self.rng.choice([p for p in r.products.values() if p.sku != TIP_SKU])
        product.price = cents(product.price * Decimal("1.05"))
        r.save_product(product)

    def close_registers(self, day: datetime) -> None:
        """Each register's end of day: what it took, by payment type."""
        r = self.retailer
        for register in list(r.registers.values()):
            totals: dict[str, Decimal] = {}
            for sale in r.sales.values():
                if sale.register_id != register.id:
                    continue
                for payment in sale.payments:
                    if day <= payment.payment_date < r.now():
                        totals[payment.name] = totals.get(payment.name, Decimal(0)) + payment.amount
            r.close_register(RegisterClosure(_id(), 0, register.id, day, r.now(), totals))

    # -- helpers ---------------------------------------------------------------------

    def _number(self, outlet_id: str) -> str:
        outlet = self.retailer.outlets[outlet_id]
        self._numbers[outlet_id] = self._numbers.get(outlet_id, 1000) + 1
        return f"{outlet.name[:3].upper()}-{self._numbers[outlet_id]}"

    def _tenders(self, amount: Decimal, at: datetime, *, split: bool = True) -> list[SalePayment]:
        """One tender, or (one time in five) the amount split over two."""
        first = self.rng.choice(TENDERS)
        if not split or amount < 10 or self.rng.random() >= 0.2:
            return [SalePayment(_id(), first[0], first[1], amount, at)]
        second = self.rng.choice([t for t in TENDERS if t != first])
        part = cents(amount / 2)
        return [
            SalePayment(_id(), first[0], first[1], part, at),
            SalePayment(_id(), second[0], second[1], amount - part, at),
        ]
