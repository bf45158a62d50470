"""Building orders, refunds and edits whose money adds up, for the activity generator."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from salesync.sandbox.shopify.ledger import ShopifyLedger
from salesync.sandbox.shopify.records import (
    DiscountAllocation,
    DiscountApplication,
    LineItem,
    Order,
    Refund,
    RefundLineItem,
    ShippingLine,
    ShopifyCustomer,
    ShopifyLocation,
    ShopifyVariant,
    TaxLine,
    Transaction,
    money,
)
from salesync.sandbox.shopify.store import ShopifyStore

ZERO = Decimal("0.00")
TAX_REGIMES: dict[str, tuple[tuple[str, Decimal], ...]] = {
    "NY": (
        ("NY State Tax", Decimal("0.04")),
        ("New York City Tax", Decimal("0.045")),
        ("Metropolitan Commuter Transportation District", Decimal("0.00375")),
    ),
    "NJ": (("NJ State Tax", Decimal("0.06625")),),
    "OR": (),
}
CARD_BRANDS = ("Visa", "Visa", "Visa", "Mastercard", "Mastercard", "American Express")
REFUND_ORDER = ("shopify_payments", "gift_card", "cash", "bogus")


def _taxes(amount: Decimal, regime: tuple[tuple[str, Decimal], ...]) -> tuple[TaxLine, ...]:
    return tuple(TaxLine(title, rate, money(amount * rate)) for title, rate in regime)


def _spread(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """``total`` split in proportion to ``weights``, cents exact, remainder on the last."""
    whole = sum(weights, ZERO)
    shares = [money(total * w / whole) for w in weights[:-1]]
    return [*shares, total - sum(shares, ZERO)]


class SaleBuilder:
    """Makes consistent orders, refunds and edits and stores them."""

    def __init__(self, store: ShopifyStore, rng: random.Random, ledger: ShopifyLedger) -> None:
        self.store = store
        self.rng = rng
        self.ledger = ledger

    def _save(self, order: Order) -> Order:
        with self.store.lock:
            self.store.data.orders[order.id] = order
        for txn in order.transactions:
            self.ledger.record(order, txn)
        return order

    def _variants(self, gift: bool) -> list[ShopifyVariant]:
        with self.store.lock:
            products = list(self.store.data.products.values())
        return [v for p in products if (p.product_type == "Gift Cards") == gift for v in p.variants]

    def _line(self, variant: ShopifyVariant, quantity: int) -> LineItem:
        with self.store.lock:
            product = self.store.data.products[variant.product_id]
        gift = product.product_type == "Gift Cards"
        return LineItem(
            id=self.store.next_id(),
            title=product.title,
            quantity=quantity,
            price=variant.price,
            sku=variant.sku,
            product_id=product.id,
            variant_id=variant.id,
            variant_title=None if variant.title == "Default Title" else variant.title,
            taxable=variant.taxable,
            is_gift_card=gift,
            requires_shipping=not gift,
            tax_lines=(),
            discount_allocations=(),
        )

    def _sale(self, gateway: str, amount: Decimal, location_id: int | None) -> Transaction:
        card = gateway in ("shopify_payments", "bogus")
        return Transaction(
            id=self.store.next_id(),
            kind="SALE",
            gateway=gateway,
            amount=amount,
            processed_at=self.store.now(),
            location_id=location_id,
            card_brand=("Bogus" if gateway == "bogus" else self.rng.choice(CARD_BRANDS))
            if card
            else None,
            card_last4=f"{self.rng.randrange(10000):04d}" if card else None,
            test=gateway == "bogus",
        )

    def new_order(self, customers: list[ShopifyCustomer]) -> Order:
        """A paid online or POS order with taxes, maybe discounts, shipping, tip, split tender."""
        rng = self.rng
        with self.store.lock:
            locations = list(self.store.data.locations.values())
        online = rng.random() < 0.4
        shop_floor = [loc for loc in locations if not loc.fulfills_online_orders]
        location: ShopifyLocation | None = None if online else rng.choice(shop_floor)
        province = rng.choice(("NY", "NJ", "OR")) if location is None else location.province_code
        regime = TAX_REGIMES.get(province, ())
        lines = [
            self._line(rng.choice(self._variants(gift=False)), rng.choice((1, 1, 1, 2, 3)))
            for _ in range(rng.choice((1, 1, 2, 2, 3, 4)))
        ]
        if rng.random() < 0.06:
            lines.append(self._line(rng.choice(self._variants(gift=True)), 1))
        applications: list[DiscountApplication] = []
        roll = rng.random()
        eligible = [i for i, li in enumerate(lines) if not li.is_gift_card]
        if roll < 0.15:
            applications.append(
                DiscountApplication(
                    0, "code", "WELCOME10", "percentage", Decimal(10), code="WELCOME10"
                )
            )
            for i in eligible:
                cut = money(lines[i].original_total * Decimal("0.10"))
                lines[i] = replace(lines[i], discount_allocations=(DiscountAllocation(cut, 0),))
        elif roll < 0.23 and sum(lines[i].original_total for i in eligible) > 10:
            applications.append(
                DiscountApplication(0, "manual", "Staff discount", "fixed_amount", Decimal("5.00"))
            )
            cuts = _spread(Decimal("5.00"), [lines[i].original_total for i in eligible])
            for i, cut in zip(eligible, cuts, strict=True):
                lines[i] = replace(lines[i], discount_allocations=(DiscountAllocation(cut, 0),))
        lines = [
            replace(li, tax_lines=_taxes(li.discounted_total, regime)) if li.taxable else li
            for li in lines
        ]
        shipping: tuple[ShippingLine, ...] = ()
        if online and any(li.requires_shipping for li in lines):
            price = Decimal("6.95")
            shipping = (
                ShippingLine(
                    self.store.next_id(), "Standard", "STANDARD", price, _taxes(price, regime)
                ),
            )
        now = self.store.now()
        order = Order(
            id=self.store.next_id(),
            number=self.store.next_order_number(),
            created_at=now,
            updated_at=now,
            processed_at=now,
            currency=self.store.currency,
            source_name="web" if online else "pos",
            location_id=None if location is None else location.id,
            customer_id=None,
            email=None,
            line_items=tuple(lines),
            shipping_lines=shipping,
            discount_applications=tuple(applications),
            transactions=(),
        )
        if online or rng.random() < 0.5:
            customer = rng.choice(customers)
            order = replace(order, customer_id=customer.id, email=customer.email)
        if not online and rng.random() < 0.3:
            order = replace(
                order,
                tip=money(
                    order.subtotal * rng.choice((Decimal("0.1"), Decimal("0.15"), Decimal("0.2")))
                ),
            )
        test = online and rng.random() < 0.02
        order = replace(order, test=test, transactions=self._tenders(order, online, test))
        return self._save(order)

    def _tenders(self, order: Order, online: bool, test: bool) -> tuple[Transaction, ...]:
        total, where, roll = order.total_price, order.location_id, self.rng.random()
        if test:
            return (self._sale("bogus", total, where),)
        if online:
            if roll < 0.12 and total > Decimal("25.00"):
                return (
                    self._sale("gift_card", Decimal("25.00"), where),
                    self._sale("shopify_payments", total - Decimal("25.00"), where),
                )
            return (self._sale("shopify_payments", total, where),)
        if roll < 0.35:
            return (self._sale("cash", total, where),)
        if roll < 0.45 and total > Decimal("20.00"):
            return (
                self._sale("cash", Decimal("20.00"), where),
                self._sale("shopify_payments", total - Decimal("20.00"), where),
            )
        return (self._sale("shopify_payments", total, where),)

    def refund(self, order: Order, *, full: bool) -> tuple[Order, Refund]:
        """Refund one unit of one line, or everything still refundable, to the tenders used."""
        refunded: dict[int, int] = {}
        for earlier in order.refunds:
            for row in earlier.refund_line_items:
                refunded[row.line_item_id] = refunded.get(row.line_item_id, 0) + row.quantity
        open_lines = [li for li in order.line_items if li.quantity > refunded.get(li.id, 0)]
        if not full and open_lines:
            open_lines = [self.rng.choice(open_lines)]
        rows = []
        for li in open_lines:
            quantity = li.quantity - refunded.get(li.id, 0) if full else 1
            rows.append(
                RefundLineItem(
                    id=self.store.next_id(),
                    line_item_id=li.id,
                    quantity=quantity,
                    subtotal=money(li.discounted_total * quantity / li.quantity),
                    total_tax=money(li.total_tax * quantity / li.quantity),
                )
            )
        remaining = order.total_received - order.total_refunded
        wanted = (
            remaining
            if full
            else min(remaining, sum((r.subtotal + r.total_tax for r in rows), ZERO))
        )
        refund = Refund(
            id=self.store.next_id(),
            order_id=order.id,
            created_at=self.store.now(),
            note="Customer return" if not full else "Full refund",
            refund_line_items=tuple(rows),
            transactions=self._refund_tenders(order, wanted),
        )
        now = self.store.now()
        updated = replace(order, refunds=(*order.refunds, refund), updated_at=now)
        if full and now - order.created_at < timedelta(hours=12):
            updated = replace(updated, cancelled_at=now, cancel_reason="CUSTOMER")
        with self.store.lock:
            self.store.data.orders[order.id] = updated
        for txn in refund.transactions:
            self.ledger.record(updated, txn)
        return updated, refund

    def _refund_tenders(self, order: Order, amount: Decimal) -> tuple[Transaction, ...]:
        back: dict[int, Decimal] = {}
        for refund in order.refunds:
            for txn in refund.transactions:
                if txn.parent_id is not None:
                    back[txn.parent_id] = back.get(txn.parent_id, ZERO) + txn.amount
        sales = sorted(
            (t for t in order.transactions if t.kind == "SALE"),
            key=lambda t: REFUND_ORDER.index(t.gateway),
        )
        out: list[Transaction] = []
        for sale in sales:
            room = sale.amount - back.get(sale.id, ZERO)
            part = min(room, amount)
            if part <= 0:
                continue
            amount -= part
            out.append(
                replace(
                    sale,
                    id=self.store.next_id(),
                    kind="REFUND",
                    amount=part,
                    processed_at=self.store.now(),
                    parent_id=sale.id,
                )
            )
        return tuple(out)

    def edit(self, order: Order) -> Order:
        """Add an item to a paid order and collect the difference on its first tender."""
        regime = next(
            (
                tuple((t.title, t.rate) for t in li.tax_lines)
                for li in order.line_items
                if li.tax_lines
            ),
            (),
        )
        line = self._line(self.rng.choice(self._variants(gift=False)), 1)
        line = replace(line, tax_lines=_taxes(line.discounted_total, regime))
        first = order.transactions[0]
        gateway = "shopify_payments" if first.gateway == "gift_card" else first.gateway
        extra = self._sale(gateway, line.discounted_total + line.total_tax, order.location_id)
        edited = replace(
            order,
            line_items=(*order.line_items, line),
            transactions=(*order.transactions, extra),
            updated_at=self.store.now(),
        )
        with self.store.lock:
            self.store.data.orders[order.id] = edited
        self.ledger.record(edited, extra)
        return edited
