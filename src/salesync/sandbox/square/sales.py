"""Orders as a till makes them: sales, payments, completions, cancellations, returns, exchanges.

Each change stores the new record version and fires the webhooks Square would: a sale
fires ``order.created`` and ``payment.created``; paying or cancelling an open order fires
``order.updated``; a return creates a return order (``order.created``) whose refunds fire
``refund.created`` and update the original payments (``payment.updated``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Literal

from salesync.sandbox.square.orders import (
    Amounts,
    Order,
    OrderDiscount,
    OrderRefund,
    OrderServiceCharge,
    OrderTax,
    Tender,
)
from salesync.sandbox.square.pages import rfc3339
from salesync.sandbox.square.pricing import LineDraft, percent_of, price_order, price_return
from salesync.sandbox.square.records import Payment, PaymentRefund, PaymentSource
from salesync.sandbox.square.seller import SquareSeller
from salesync.sandbox.square.views import payment_json, refund_json

CARD_RATE = Decimal("2.6")
CARD_FIXED = 15
"""Card processing fee per payment: 2.6% + 15¢, taken as Square's US in-person rate."""
SOURCE_TYPES: dict[str, PaymentSource] = {"CARD": "CARD", "CASH": "CASH", "OTHER": "EXTERNAL"}


@dataclass(frozen=True, slots=True)
class TenderPlan:
    """Money to take: ``amount`` toward the order, plus ``tip`` on top."""

    type: Literal["CARD", "CASH", "OTHER"]
    amount: int
    tip: int = 0
    card_brand: str | None = None
    last_4: str | None = None
    cash_given: int | None = None


class SquareTill:
    """Makes and changes orders of one seller, firing the matching webhooks."""

    def __init__(self, seller: SquareSeller) -> None:
        self.seller = seller

    def uid(self) -> str:
        return self.seller.new_id(22)

    def create(
        self,
        location_id: str,
        lines: Sequence[LineDraft],
        taxes: Sequence[OrderTax] = (),
        discounts: Sequence[OrderDiscount] = (),
        service_charges: Sequence[OrderServiceCharge] = (),
        *,
        customer_id: str | None = None,
        reference_id: str | None = None,
        source_name: str = "Square Point of Sale",
        tenders: Sequence[TenderPlan] = (),
    ) -> Order:
        """A new order; with ``tenders`` it is paid and completed at once, as at a till."""
        seller = self.seller
        location = seller.data.locations[location_id]
        now = seller.now()
        priced = price_order(lines, taxes, discounts, service_charges)
        order = Order(
            id=seller.new_id(27),
            location_id=location_id,
            currency=location.currency,
            state="OPEN",
            version=1,
            created_at=now,
            updated_at=now,
            customer_id=customer_id,
            reference_id=reference_id,
            source_name=source_name,
            line_items=priced.line_items,
            taxes=priced.taxes,
            discounts=priced.discounts,
            service_charges=priced.service_charges,
            amounts=priced.amounts,
        )
        payments: list[Payment] = []
        if tenders:
            order, payments = self._take(order, tenders)
            order = replace(order, state="COMPLETED", closed_at=now)
        self._store(order)
        seller.emit("order.created", "order", order.id, {"order_created": _summary(order)})
        self._announce(payments)
        return order

    def pay(self, order: Order, tenders: Sequence[TenderPlan]) -> Order:
        """Take payment for an open order and complete it."""
        now = self.seller.now()
        paid, payments = self._take(order, tenders)
        paid = replace(
            paid, state="COMPLETED", closed_at=now, updated_at=now, version=order.version + 1
        )
        self._store(paid)
        self._announce(payments)
        self._updated(paid)
        return paid

    def cancel(self, order: Order) -> Order:
        now = self.seller.now()
        canceled = replace(
            order, state="CANCELED", closed_at=now, updated_at=now, version=order.version + 1
        )
        self._store(canceled)
        self._updated(canceled)
        return canceled

    def returned_quantities(self, order_id: str) -> Counter[str]:
        """How many units of each line of ``order_id`` earlier returns took back."""
        counts: Counter[str] = Counter()
        with self.seller.lock:
            orders = list(self.seller.data.orders.values())
        for other in orders:
            for returned in other.returns:
                if returned.source_order_id == order_id:
                    for line in returned.line_items:
                        counts[line.source_line_item_uid or ""] += line.quantity
        return counts

    def give_back(
        self,
        source: Order,
        quantities: Mapping[str, int],
        reason: str,
        *,
        new_lines: Sequence[LineDraft] = (),
        tender: TenderPlan | None = None,
    ) -> Order:
        """A return order for ``quantities`` of ``source``; with ``new_lines``, an exchange.

        Money flows for the difference only: a refund to the original tenders when the
        return is worth more, a new tender (``tender``, its amount filled in) when less.
        """
        seller = self.seller
        now = seller.now()
        returned, back = price_return(
            source, quantities, self.returned_quantities(source.id), self.uid
        )
        sale = price_order(new_lines, source.taxes, ()) if new_lines else None
        order = Order(
            id=seller.new_id(27),
            location_id=source.location_id,
            currency=source.currency,
            state="COMPLETED",
            version=1,
            created_at=now,
            updated_at=now,
            closed_at=now,
            customer_id=source.customer_id,
            source_name=source.source_name,
            line_items=sale.line_items if sale else (),
            taxes=sale.taxes if sale else (),
            returns=(returned,),
            amounts=sale.amounts if sale else Amounts(),
            return_amounts=back,
        )
        difference = order.amounts.total - back.total
        payments: list[Payment] = []
        if difference > 0:
            plan = replace(tender or TenderPlan("CARD", 0), amount=difference)
            order, payments = self._take(order, [plan])
        refunds: list[PaymentRefund] = []
        if difference < 0:
            refunds, lines = self._refund(source, order, -difference, reason)
            order = replace(order, refunds=lines)
        self._store(order)
        seller.emit("order.created", "order", order.id, {"order_created": _summary(order)})
        self._announce(payments)
        for refund in refunds:
            seller.emit("refund.created", "refund", refund.id, {"refund": refund_json(refund)})
            self._announce([seller.data.payments[refund.payment_id]], "payment.updated")
        return order

    def _announce(self, payments: Sequence[Payment], event: str = "payment.created") -> None:
        for payment in payments:
            self.seller.emit(event, "payment", payment.id, {"payment": payment_json(payment)})

    def _take(self, order: Order, plans: Sequence[TenderPlan]) -> tuple[Order, list[Payment]]:
        now = self.seller.now()
        tenders: list[Tender] = []
        payments: list[Payment] = []
        for plan in plans:
            payment_id = self.seller.new_id(30)
            total = plan.amount + plan.tip
            fee = percent_of(total, CARD_RATE) + CARD_FIXED if plan.type == "CARD" else 0
            tenders.append(
                Tender(
                    id=payment_id,
                    type=plan.type,
                    amount=total,
                    tip=plan.tip,
                    payment_id=payment_id,
                    created_at=now,
                    card_brand=plan.card_brand,
                    last_4=plan.last_4,
                    note="Check" if plan.type == "OTHER" else None,
                )
            )
            payments.append(
                Payment(
                    id=payment_id,
                    order_id=order.id,
                    location_id=order.location_id,
                    customer_id=order.customer_id,
                    source_type=SOURCE_TYPES[plan.type],
                    amount=plan.amount,
                    tip=plan.tip,
                    currency=order.currency,
                    processing_fee=fee,
                    created_at=now,
                    updated_at=now,
                    card_brand=plan.card_brand,
                    last_4=plan.last_4,
                    cash_given=plan.cash_given,
                )
            )
        tips = sum(p.tip for p in plans)
        amounts = replace(order.amounts, total=order.amounts.total + tips, tip=tips)
        with self.seller.lock:
            for payment in payments:
                self.seller.data.payments[payment.id] = payment
        return replace(order, tenders=order.tenders + tuple(tenders), amounts=amounts), payments

    def _refund(
        self, source: Order, order: Order, amount: int, reason: str
    ) -> tuple[list[PaymentRefund], tuple[OrderRefund, ...]]:
        """Send ``amount`` back through the source order's tenders, cards first."""
        seller = self.seller
        now = seller.now()
        left = amount
        lines: list[OrderRefund] = []
        refunds: list[PaymentRefund] = []
        with seller.lock:
            for tender in sorted(source.tenders, key=lambda t: t.type != "CARD"):
                payment = seller.data.payments[tender.payment_id]
                share = min(left, payment.amount - payment.refunded)
                if share <= 0:
                    continue
                left -= share
                refund = PaymentRefund(
                    id=f"{payment.id}_{seller.new_id(12)}",
                    payment_id=payment.id,
                    order_id=order.id,
                    location_id=order.location_id,
                    amount=share,
                    currency=order.currency,
                    reason=reason,
                    destination_type=payment.source_type,
                    created_at=now,
                )
                seller.data.refunds[refund.id] = refund
                seller.data.payments[payment.id] = replace(
                    payment,
                    refunded=payment.refunded + share,
                    refund_ids=(*payment.refund_ids, refund.id),
                    updated_at=now,
                )
                refunds.append(refund)
                lines.append(
                    OrderRefund(
                        refund.id, tender.id, source.id, order.location_id, share, reason, now
                    )
                )
        return refunds, tuple(lines)

    def _store(self, order: Order) -> None:
        with self.seller.lock:
            self.seller.data.orders[order.id] = order

    def _updated(self, order: Order) -> None:
        summary = _summary(order) | {"updated_at": rfc3339(order.updated_at)}
        self.seller.emit("order.updated", "order", order.id, {"order_updated": summary})


def _summary(order: Order) -> dict[str, object]:
    # Order webhooks carry a summary, not the order; receivers fetch the order by id
    # (https://developer.squareup.com/reference/square/webhooks/order.created).
    return {
        "order_id": order.id,
        "version": order.version,
        "location_id": order.location_id,
        "state": order.state,
        "created_at": rfc3339(order.created_at),
    }
