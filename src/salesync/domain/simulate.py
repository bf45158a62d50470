"""A seeded, deterministic generator of realistic sales activity.

The same seed always yields the same documents, so the demo, the tests and the benchmarks
share one source of truth. Each location gets its own catalogue prices, tax regime, opening
hours, tenders and habits (tips, web orders with shipping, delivery charges); refunds reach
back to earlier sales, sometimes to another tender; card takings are paid out the next
morning less processing fees.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from salesync.domain.documents import (
    Charge,
    Discount,
    DocumentKind,
    LineKind,
    Location,
    Payment,
    Payout,
    PayoutTransaction,
    Refund,
    RefundLine,
    Sale,
    SaleLine,
    TaxLine,
    TaxMode,
    Tenant,
    document_id,
)
from salesync.domain.money import Money, total

SOURCE = "simulator"

CATALOGUE: tuple[tuple[str, str, str, Decimal], ...] = (
    ("TEE-001", "Organic cotton tee", "Apparel", Decimal("28.00")),
    ("HOOD-002", "Fleece hoodie", "Apparel", Decimal("64.00")),
    ("CAP-003", "Canvas cap", "Accessories", Decimal("22.00")),
    ("TOTE-004", "Market tote", "Accessories", Decimal("18.50")),
    ("MUG-005", "Stoneware mug", "Homeware", Decimal("16.00")),
    ("CNDL-006", "Soy candle", "Homeware", Decimal("24.00")),
    ("BEAN-007", "Single-origin beans 250g", "Coffee", Decimal("14.75")),
    ("LATTE-008", "Oat latte", "Coffee", Decimal("4.80")),
    ("BOOK-009", "Field notebook", "Stationery", Decimal("9.99")),
    ("PEN-010", "Brass pen", "Stationery", Decimal("39.00")),
)
GIFT_CARD_VALUES = (Decimal(25), Decimal(50), Decimal(100))
CARD_BRANDS = ("visa", "visa", "visa", "mastercard", "mastercard", "amex")
ASSOCIATES = ("Ana", "Ben", "Chloe", "Dev", "Emi")


@dataclass(frozen=True, slots=True)
class StoreProfile:
    """How one simulated location trades."""

    location: Location
    tax_name: str
    tax_rate: Decimal
    tax_mode: TaxMode
    price_factor: Decimal = Decimal(1)
    """Catalogue prices are in a base unit; JPY stores multiply by 100, for example."""
    orders_per_day: int = 60
    opens: time = time(9)
    closes: time = time(19)
    tips: bool = False
    web_shipping: Decimal | None = None
    """Flat shipping charged on web orders, when the location also sells online."""
    delivery_charge: Decimal | None = None
    card_fee_rate: Decimal = Decimal("0.029")
    card_fee_fixed: Decimal = Decimal("0.30")


@dataclass(frozen=True, slots=True)
class DemoMerchant:
    tenant: Tenant
    stores: tuple[StoreProfile, ...]

    @property
    def locations(self) -> tuple[Location, ...]:
        return tuple(s.location for s in self.stores)


def demo_merchant(tenant_id: str = "demo", orders_per_day: int = 60) -> DemoMerchant:
    """Two stores in different time zones and currencies: New York (USD, sales tax on top,
    a café with tips, a web store with shipping) and London (GBP, VAT included, deliveries)."""
    tenant = Tenant(tenant_id, "Harbor & Pine Goods")
    nyc = StoreProfile(
        location=Location("brooklyn", tenant_id, "Brooklyn", "America/New_York", "USD"),
        tax_name="NY sales tax",
        tax_rate=Decimal("0.08875"),
        tax_mode=TaxMode.EXCLUSIVE,
        orders_per_day=orders_per_day,
        opens=time(8),
        closes=time(20),
        tips=True,
        web_shipping=Decimal("6.95"),
    )
    london = StoreProfile(
        location=Location("shoreditch", tenant_id, "Shoreditch", "Europe/London", "GBP"),
        tax_name="VAT 20",
        tax_rate=Decimal("0.20"),
        tax_mode=TaxMode.INCLUSIVE,
        price_factor=Decimal("0.85"),
        orders_per_day=max(1, orders_per_day * 2 // 3),
        opens=time(10),
        closes=time(18),
        delivery_charge=Decimal("4.50"),
        card_fee_rate=Decimal("0.015"),
        card_fee_fixed=Decimal("0.20"),
    )
    return DemoMerchant(tenant, (nyc, london))


def tokyo_store(tenant_id: str = "demo") -> StoreProfile:
    """A zero-decimal currency store (JPY, consumption tax included)."""
    return StoreProfile(
        location=Location("shibuya", tenant_id, "Shibuya", "Asia/Tokyo", "JPY"),
        tax_name="Consumption tax",
        tax_rate=Decimal("0.10"),
        tax_mode=TaxMode.INCLUSIVE,
        price_factor=Decimal(150),
        orders_per_day=40,
        opens=time(11),
        closes=time(21),
        card_fee_rate=Decimal("0.0325"),
        card_fee_fixed=Decimal(0),
    )


@dataclass(slots=True)
class _Recent:
    """A sale kept for a while so later refunds can reach back to it."""

    sale: Sale
    bases: list[Money]
    """What each line finally cost after all discounts (tax included when inclusive)."""
    refunded: set[int] = field(default_factory=set)


@dataclass(slots=True)
class _StoreState:
    recent: deque[_Recent] = field(default_factory=lambda: deque(maxlen=400))
    card_today: list[PayoutTransaction] = field(default_factory=list)
    sale_seq: int = 0
    refund_seq: int = 0


class SalesSimulator:
    """Generates sales, refunds and payouts for a merchant, day by day, deterministically."""

    def __init__(self, merchant: DemoMerchant, seed: int = 7) -> None:
        self.merchant = merchant
        self.seed = seed
        self._state = {s.location.id: _StoreState() for s in merchant.stores}

    def run(self, start: date, days: int) -> Iterator[Sale | Refund | Payout]:
        """Yield every document for ``days`` business days from ``start``, in time order per
        location and day. Memory stays flat: only a bounded window of recent sales is kept."""
        for offset in range(days):
            day = start + timedelta(days=offset)
            for store in self.merchant.stores:
                yield from self._day(store, day)

    def _rng(self, store: StoreProfile, day: date) -> random.Random:
        return random.Random(f"{self.seed}/{store.location.id}/{day.isoformat()}")

    def _money(self, store: StoreProfile, amount: Decimal) -> Money:
        return Money(amount, store.location.currency).rounded()

    def _day(self, store: StoreProfile, day: date) -> list[Sale | Refund | Payout]:
        rng = self._rng(store, day)
        state = self._state[store.location.id]
        docs: list[Sale | Refund | Payout] = []
        payout = self._payout(store, day, state)
        if payout is not None:
            docs.append(payout)
        weekend = day.weekday() >= 5
        mean = store.orders_per_day * (1.4 if weekend else 1.0)
        count = max(0, round(rng.gauss(mean, mean * 0.15)))
        open_s = store.opens.hour * 3600
        span = (store.closes.hour - store.opens.hour) * 3600
        seconds = sorted(open_s + rng.randrange(span) for _ in range(count))
        for sec in seconds:
            at = datetime.combine(day, time(), store.location.zone) + timedelta(seconds=sec)
            docs.append(self._sale(store, state, rng, at))
            if rng.random() < 0.03:
                refund = self._refund(store, state, rng, at + timedelta(minutes=rng.randint(1, 30)))
                if refund is not None:
                    docs.append(refund)
        docs.sort(key=lambda d: d.occurred_at)
        return docs

    def _lines(self, store: StoreProfile, rng: random.Random) -> list[SaleLine]:
        cur = store.location.currency
        lines: list[SaleLine] = []
        for sku, name, category, base in rng.sample(CATALOGUE, rng.choice((1, 1, 2, 2, 3, 4))):
            qty = Decimal(rng.choice((1, 1, 1, 2, 3)))
            price = self._money(store, base * store.price_factor)
            discounts: tuple[Discount, ...] = ()
            if rng.random() < 0.1:
                off = ((price * qty).amount * Decimal("0.10")).quantize(price.amount)
                discounts = (Discount("10% off", self._money(store, off)),)
            lines.append(SaleLine(sku, name, category, qty, price, discounts))
        if rng.random() < 0.02:
            value = rng.choice(GIFT_CARD_VALUES) * store.price_factor
            lines.append(
                SaleLine(
                    "GIFT",
                    "Gift card",
                    "Gift cards",
                    Decimal(1),
                    Money(value, cur).rounded(),
                    kind=LineKind.GIFT_CARD,
                )
            )
        return lines

    def _taxed(self, store: StoreProfile, amount: Money) -> tuple[TaxLine, ...]:
        rate = store.tax_rate
        if store.tax_mode is TaxMode.EXCLUSIVE:
            tax = amount * rate
        else:
            tax = Money(amount.amount * rate / (1 + rate), amount.currency)
        return (TaxLine(store.tax_name, rate, tax.rounded()),)

    def _sale(
        self, store: StoreProfile, state: _StoreState, rng: random.Random, at: datetime
    ) -> Sale:
        cur = store.location.currency
        loc = store.location
        lines = self._lines(store, rng)
        order_discounts: tuple[Discount, ...] = ()
        product_net = total((ln.net for ln in lines if ln.kind is LineKind.PRODUCT), cur)
        if rng.random() < 0.05 and product_net > self._money(store, 10 * store.price_factor):
            order_discounts = (Discount("WELCOME5", self._money(store, 5 * store.price_factor)),)
        # Spread the order discount over product lines so each line's tax is on what was paid.
        weights = [ln.net.amount if ln.kind is LineKind.PRODUCT else 0 for ln in lines]
        spread = (
            Money.zero(cur).allocate([1] * len(lines))
            if not order_discounts or not any(weights)
            else order_discounts[0].amount.allocate(weights)
        )
        bases: list[Money] = []
        taxed: list[SaleLine] = []
        for line, share in zip(lines, spread, strict=True):
            base = line.net - share
            taxes = self._taxed(store, base) if line.kind is LineKind.PRODUCT else ()
            taxed.append(
                SaleLine(
                    line.sku,
                    line.name,
                    line.category,
                    line.quantity,
                    line.unit_price,
                    line.discounts,
                    taxes,
                    line.kind,
                )
            )
            bases.append(base)
        web = store.web_shipping is not None and rng.random() < 0.15
        shipping = self._money(store, store.web_shipping) if web and store.web_shipping else None
        shipping_taxes = self._taxed(store, shipping) if shipping is not None else ()
        charges: tuple[Charge, ...] = ()
        if store.delivery_charge is not None and rng.random() < 0.05:
            fee = self._money(store, store.delivery_charge)
            charges = (Charge("Local delivery", fee, self._taxed(store, fee)),)
        state.sale_seq += 1
        number = f"{loc.id[:3].upper()}-{at:%Y%m%d}-{state.sale_seq:05d}"
        draft = Sale(
            id=document_id(loc.tenant_id, SOURCE, DocumentKind.SALE, number),
            tenant_id=loc.tenant_id,
            location_id=loc.id,
            source=SOURCE,
            external_id=number,
            occurred_at=at,
            currency=cur,
            tax_mode=store.tax_mode,
            lines=tuple(taxed),
            payments=(),
            order_discounts=order_discounts,
            shipping=shipping,
            shipping_taxes=shipping_taxes,
            service_charges=charges,
            customer_id=f"cust-{rng.randrange(500):04d}" if rng.random() < 0.4 else None,
            associate=None if web else rng.choice(ASSOCIATES),
            number=number,
        )
        tender = "card" if web else rng.choices(("card", "cash", "split"), (70, 25, 5))[0]
        tip = None
        if store.tips and tender == "card" and not web and rng.random() < 0.3:
            tip = Money(draft.subtotal.amount * Decimal(rng.choice((10, 15, 18, 20))) / 100, cur)
            tip = tip.rounded()
        due = draft.computed_total + (tip or Money.zero(cur))
        payments = self._payments(rng, tender, due)
        sale = Sale(
            **{
                **{f: getattr(draft, f) for f in Sale.__dataclass_fields__},
                "tip": tip,
                "payments": payments,
                "declared_total": due,
            }
        )
        for p in payments:
            if p.tender == "card":
                fee = self._money(
                    store, p.amount.amount * store.card_fee_rate + store.card_fee_fixed
                )
                state.card_today.append(PayoutTransaction(number, "charge", p.amount, fee))
        state.recent.append(_Recent(sale, bases))
        return sale

    @staticmethod
    def _payments(rng: random.Random, tender: str, due: Money) -> tuple[Payment, ...]:
        brand = rng.choice(CARD_BRANDS)
        if rng.random() < 0.03 and due.amount > 20:
            gift = Money(min(due.amount, Decimal(25)).quantize(due.amount), due.currency)
            rest = due - gift
            parts = [Payment("gift_card", gift)]
            if rest:
                parts.append(Payment("card", rest, brand))
            return tuple(parts)
        if tender == "split" and due.to_minor() > 1:
            cash = Money(due.amount / 2, due.currency).rounded()
            return (Payment("cash", cash), Payment("card", due - cash, brand))
        return (Payment(tender, due, brand if tender == "card" else None),)

    def _refund(
        self, store: StoreProfile, state: _StoreState, rng: random.Random, at: datetime
    ) -> Refund | None:
        candidates = [
            r
            for r in state.recent
            if any(
                i not in r.refunded and ln.kind is LineKind.PRODUCT
                for i, ln in enumerate(r.sale.lines)
            )
        ]
        if not candidates:
            return None
        recent = rng.choice(candidates)
        sale = recent.sale
        index = rng.choice(
            [
                i
                for i, ln in enumerate(sale.lines)
                if i not in recent.refunded and ln.kind is LineKind.PRODUCT
            ]
        )
        recent.refunded.add(index)
        line = sale.lines[index]
        base = recent.bases[index]
        refund_line = RefundLine(line.sku, line.quantity, base, line.category, line.taxes)
        amount = base + line.tax_total if store.tax_mode is TaxMode.EXCLUSIVE else base
        original = sale.payments[-1].tender
        tender = rng.choices((original, "store_credit", "cash"), (80, 10, 10))[0]
        if tender == "gift_card":
            tender = "store_credit"
        state.refund_seq += 1
        external = f"R-{sale.external_id}-{state.refund_seq:04d}"
        loc = store.location
        if tender == "card":
            state.card_today.append(
                PayoutTransaction(external, "refund", -amount, Money.zero(amount.currency))
            )
        return Refund(
            id=document_id(loc.tenant_id, SOURCE, DocumentKind.REFUND, external),
            tenant_id=loc.tenant_id,
            location_id=loc.id,
            source=SOURCE,
            external_id=external,
            sale_id=sale.id,
            occurred_at=max(at, sale.occurred_at + timedelta(minutes=1)),
            currency=sale.currency,
            tax_mode=sale.tax_mode,
            lines=(refund_line,),
            payments=(Payment(tender, amount),),
            reason=rng.choice(("wrong size", "damaged", "changed mind", None)),
        )

    def _payout(self, store: StoreProfile, day: date, state: _StoreState) -> Payout | None:
        """Yesterday's card takings, deposited this morning less fees."""
        txs, state.card_today = state.card_today, []
        if not txs:
            return None
        cur = store.location.currency
        gross = total((t.gross for t in txs), cur)
        fees = total((t.fee for t in txs), cur)
        if gross <= fees:
            state.card_today = txs  # nothing to deposit yet; settle with tomorrow's takings
            return None
        loc = store.location
        external = f"PO-{loc.id[:3].upper()}-{day:%Y%m%d}"
        return Payout(
            id=document_id(loc.tenant_id, SOURCE, DocumentKind.PAYOUT, external),
            tenant_id=loc.tenant_id,
            location_id=loc.id,
            source=SOURCE,
            external_id=external,
            occurred_at=datetime.combine(day, time(6, 30), loc.zone),
            currency=cur,
            gross=gross,
            fees=fees,
            net=gross - fees,
            transactions=tuple(txs),
        )


def simulate(
    merchant: DemoMerchant, start: date, days: int, seed: int = 7
) -> Iterator[Sale | Refund | Payout]:
    """Shorthand for ``SalesSimulator(merchant, seed).run(start, days)``."""
    return SalesSimulator(merchant, seed).run(start, days)
