"""A seeded generator of a retailer's trading at two shops.

The shops trade in their opening hours (10:00 to 19:00 in each shop's time zone).
Completed sales with state and city tax, line and whole-sale discounts, tips on card
payments, several tenders and split payments; sales parked at the register and finished
later; voided sales and unfinished ones archived; returns as sales of negative lines that
name the lines they give back (``parentSaleLineID``), refunded to the tender the customer
paid with; exchanges, one sale taking goods back and selling others, settling the
difference; new and updated customers; price changes. Every change stamps ``timeStamp``,
which is what a sweep reads.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from salesync.clock import ManualClock
from salesync.sandbox.lightspeed_r.records import CENT, Sale, SaleLine, SalePayment, Shop
from salesync.sandbox.lightspeed_r.seed import PEOPLE, add_customer, seed_account
from salesync.sandbox.lightspeed_r.store import LightspeedAccount

MEAN_GAP = timedelta(minutes=15)
TIP_RATES = (Decimal("0.10"), Decimal("0.15"), Decimal("0.20"))
OPENING_HOURS = range(10, 19)


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


class LightspeedActivity:
    """Drives one account: ``run_until`` moves a manual clock and trades along the way."""

    def __init__(self, account: LightspeedAccount, seed: int = 7) -> None:
        self.account = account
        self.rng = random.Random(seed)
        self._ready = False

    def setup(self) -> None:
        if not self._ready:
            self._ready = True
            seed_account(self.account)

    def run_until(self, end: datetime, clock: ManualClock) -> int:
        """Act at random moments until ``end``, moving ``clock``; returns the steps taken."""
        self.setup()
        steps = 0
        while True:
            gap = timedelta(seconds=self.rng.expovariate(1 / MEAN_GAP.total_seconds()))
            if clock() + gap > end:
                clock.set(end)
                return steps
            clock.set(clock() + gap)
            self.step()
            steps += 1

    def open_shops(self) -> list[Shop]:
        """The shops whose doors are open now, in their own time zones."""
        now = self.account.clock()
        return [
            shop
            for shop in self.account.data.shops.values()
            if now.astimezone(ZoneInfo(shop.time_zone)).hour in OPENING_HOURS
        ]

    def step(self) -> str:
        """One thing happening at the shops now; returns what it was (``closed`` when every
        shop is)."""
        self.setup()
        if not self.open_shops():
            return "closed"
        with self.account.lock:
            roll = self.rng.random()
            actions = (
                (0.60, self.sale),
                (0.67, self.park),
                (0.74, self.finish_parked),
                (0.78, self.void),
                (0.87, self.give_back),
                (0.90, self.exchange),
                (0.95, self.new_customer),
                (0.98, self.update_customer),
                (1.00, self.change_price),
            )
            return next(action for threshold, action in actions if roll < threshold)()

    # -- sales ---------------------------------------------------------------------------

    def _basket(self) -> Sale:
        account, data, now = self.account, self.account.data, self.account.clock()
        shop = self.rng.choice(self.open_shops())
        tax = data.tax_categories[shop.tax_category_id]
        customers = list(data.customers)
        sale = Sale(
            id=account.next_id(),
            shop_id=shop.id,
            register_id=shop.id * 10 + 1,
            employee_id=self.rng.choice((1, 2, 3)),
            customer_id=self.rng.choice(customers) if self.rng.random() < 0.6 else 0,
            tax_category_id=tax.id,
            create_time=now,
            time_stamp=now,
            reference="",
        )
        for item in self.rng.sample(list(data.items.values()), self.rng.choice((1, 1, 2, 3, 4))):
            quantity = self.rng.choice((1, 1, 1, 2, 3))
            subtotal = item.price * quantity
            discount = cents(subtotal * Decimal("0.10")) if self.rng.random() < 0.15 else Decimal(0)
            sale.lines.append(
                SaleLine(
                    account.next_id(),
                    item.id,
                    quantity,
                    item.price,
                    discount,
                    Decimal(0),
                    item.taxable,
                    Decimal(0),
                    Decimal(0),
                )
            )
        if self.rng.random() < 0.12:
            self._spread_discount(sale, Decimal(self.rng.choice((5, 10))))
        for line in sale.lines:
            if line.taxable:
                line.tax1 = cents(line.net * tax.tax1_rate)
                line.tax2 = cents(line.net * tax.tax2_rate)
        return sale

    @staticmethod
    def _spread_discount(sale: Sale, off: Decimal) -> None:
        """A whole-sale discount, shared over the lines by their value (the last takes the
        rounding), as R-Series shows it in each line's ``calcTransactionDiscount``."""
        base = sum((li.subtotal - li.line_discount for li in sale.lines), Decimal(0))
        off = min(off, base)
        left = off
        for line in sale.lines[:-1]:
            share = cents(off * (line.subtotal - line.line_discount) / base)
            line.sale_discount, left = share, left - share
        sale.lines[-1].sale_discount = left

    def _tender(self, kind: str) -> int:
        data = self.account.data
        return next(p.id for p in data.payment_types.values() if p.kind == kind)

    def _pay(self, sale: Sale) -> None:
        total = sale.total
        roll = self.rng.random()
        account = self.account
        if roll < 0.15 and total > 20:
            cash = cents(Decimal(self.rng.randint(1, int(total) // 2)))
            sale.payments.append(SalePayment(account.next_id(), self._tender("cash"), cash))
            total -= cash
        kind = self.rng.choices(
            ("credit card", "cash", "debit card", "check", "gift card"), (50, 25, 13, 5, 7)
        )[0]
        tip = Decimal(0)
        if kind in ("credit card", "debit card") and self.rng.random() < 0.3:
            tip = cents(total * self.rng.choice(TIP_RATES))
        sale.payments.append(SalePayment(account.next_id(), self._tender(kind), total + tip, tip))

    def _complete(self, sale: Sale) -> None:
        now = self.account.clock()
        sale.completed, sale.complete_time, sale.time_stamp = True, now, now
        sale.reference = f"{sale.register_id}-{sale.id}"

    def sale(self) -> str:
        sale = self._basket()
        self._pay(sale)
        self._complete(sale)
        self.account.data.sales[sale.id] = sale
        return "sale"

    def park(self) -> str:
        """A sale rung up and put on hold: open, unpaid."""
        sale = self._basket()
        self.account.data.sales[sale.id] = sale
        return "park"

    def _open(self) -> list[Sale]:
        return [
            s
            for s in self.account.data.sales.values()
            if not s.completed and not s.voided and not s.archived
        ]

    def finish_parked(self) -> str:
        waiting = self._open()
        if not waiting:
            return self.sale()
        sale = self.rng.choice(waiting)
        self._pay(sale)
        self._complete(sale)
        return "finish_parked"

    def void(self) -> str:
        """A parked sale given up: voided, or now and then archived unfinished."""
        waiting = self._open()
        if not waiting:
            return self.park()
        sale = self.rng.choice(waiting)
        sale.time_stamp = self.account.clock()
        if self.rng.random() < 0.3:
            sale.archived = True
            return "archive"
        sale.voided = True
        return "void"

    def change_customer_of(self, sale: Sale, customer_id: int) -> None:
        """Put a sale on another customer's account (0: none) after it was rung up; like
        every change, it stamps the sale's ``timeStamp``."""
        with self.account.lock:
            sale.customer_id = customer_id
            sale.time_stamp = self.account.clock()

    def _take_back(self) -> tuple[Sale, SaleLine] | None:
        """A line giving back part of an earlier sale's line, and that sale (None when
        nothing is left to give back)."""
        data = self.account.data
        returned: dict[int, int] = {}
        for sale in data.sales.values():
            for line in sale.lines:
                if line.parent_line_id:
                    returned[line.parent_line_id] = (
                        returned.get(line.parent_line_id, 0) - line.quantity
                    )
        candidates = [
            (sale, line)
            for sale in data.sales.values()
            if sale.completed and not sale.voided
            for line in sale.lines
            if line.quantity > 0 and line.quantity > returned.get(line.id, 0)
        ]
        if not candidates:
            return None
        original, line = self.rng.choice(candidates[-40:])
        quantity = self.rng.randint(1, line.quantity - returned.get(line.id, 0))
        share = Decimal(quantity) / Decimal(line.quantity)
        back = SaleLine(
            self.account.next_id(), line.item_id, -quantity, line.unit_price,
            -cents(line.line_discount * share), -cents(line.sale_discount * share),
            line.taxable, Decimal(0), Decimal(0), parent_line_id=line.id,
        )  # fmt: skip
        tax = data.tax_categories[original.tax_category_id]
        if back.taxable:
            back.tax1 = cents(back.net * tax.tax1_rate)
            back.tax2 = cents(back.net * tax.tax2_rate)
        return original, back

    def _sale_at(self, original: Sale, lines: list[SaleLine]) -> Sale:
        now = self.account.clock()
        return Sale(
            self.account.next_id(), original.shop_id, original.register_id,
            original.employee_id, original.customer_id, original.tax_category_id, now, now, "",
            lines=lines,
        )  # fmt: skip

    def give_back(self) -> str:
        """A return of part of an earlier sale, refunded to the tender it was paid with."""
        found = self._take_back()
        if found is None:
            return self.sale()
        original, back = found
        refund = self._sale_at(original, [back])
        tender = max(original.payments, key=lambda p: p.amount).payment_type_id
        refund.payments.append(SalePayment(self.account.next_id(), tender, refund.total))
        self._complete(refund)
        self.account.data.sales[refund.id] = refund
        return "give_back"

    def exchange(self) -> str:
        """Goods of an earlier sale taken back and another item sold in the same sale; the
        difference is paid, or given back to the tender the first sale was paid with."""
        found = self._take_back()
        if found is None:
            return self.sale()
        original, back = found
        data = self.account.data
        item = self.rng.choice(list(data.items.values()))
        tax = data.tax_categories[original.tax_category_id]
        bought = SaleLine(self.account.next_id(), item.id, 1, item.price, Decimal(0),
                          Decimal(0), item.taxable, Decimal(0), Decimal(0))  # fmt: skip
        if bought.taxable:
            bought.tax1 = cents(bought.net * tax.tax1_rate)
            bought.tax2 = cents(bought.net * tax.tax2_rate)
        swap = self._sale_at(original, [back, bought])
        if swap.total > 0:
            swap.payments.append(
                SalePayment(self.account.next_id(), self._tender("credit card"), swap.total)
            )
        elif swap.total < 0:
            tender = max(original.payments, key=lambda p: p.amount).payment_type_id
            swap.payments.append(SalePayment(self.account.next_id(), tender, swap.total))
        self._complete(swap)
        data.sales[swap.id] = swap
        return "exchange"

    # -- customers and items -------------------------------------------------------------

    def new_customer(self) -> str:
        first, last, company, email, phone = self.rng.choice(PEOPLE)
        n = len(self.account.data.customers) + 1
        address = email.replace("@", f"+{n}@") if email else ""
        add_customer(self.account, (first, f"{last} {n}".strip(), company, address, phone))
        return "new_customer"

    def update_customer(self) -> str:
        customer = self.rng.choice(list(self.account.data.customers.values()))
        customer.phone = f"+1 917 555 {self.rng.randint(1000, 9999)}"
        customer.time_stamp = self.account.clock()
        return "update_customer"

    def change_price(self) -> str:
        item = self.rng.choice(list(self.account.data.items.values()))
        item.price = cents(item.price * Decimal(self.rng.choice(("0.9", "1.05", "1.1"))))
        item.time_stamp = self.account.clock()
        return "change_price"
