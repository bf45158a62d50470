"""How an order's lines, taxes, discounts and service charges add up, and what a return gives back.

Taxes and discounts are declared once on the order; ``ORDER`` scope applies them to every
line, ``LINE_ITEM`` scope only to lines that list them. Discounts come off before tax. An
additive tax is added on top of the discounted line; an inclusive one is carved out of it,
so it counts in ``total_tax_money`` without raising ``total_money``
(https://developer.squareup.com/docs/orders-api/apply-taxes-and-discounts).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

from salesync.sandbox.square.orders import (
    Amounts,
    LineItem,
    Order,
    OrderDiscount,
    OrderReturn,
    OrderServiceCharge,
    OrderTax,
)


@dataclass(frozen=True, slots=True)
class LineDraft:
    """A line as asked for, before pricing."""

    uid: str
    name: str
    quantity: int
    base_price: int
    catalog_object_id: str | None = None
    variation_name: str | None = None
    tax_uids: tuple[str, ...] = ()
    discount_uids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Priced:
    line_items: tuple[LineItem, ...]
    taxes: tuple[OrderTax, ...]
    discounts: tuple[OrderDiscount, ...]
    service_charges: tuple[OrderServiceCharge, ...]
    amounts: Amounts


def percent_of(amount: int, percentage: Decimal) -> int:
    """``percentage`` % of ``amount``, rounded half up to the smallest unit."""
    return int((Decimal(amount) * percentage / 100).quantize(Decimal(1), ROUND_HALF_UP))


def _inclusive_part(amount: int, percentage: Decimal) -> int:
    net = (Decimal(amount) * 100 / (100 + percentage)).quantize(Decimal(1), ROUND_HALF_UP)
    return amount - int(net)


def _discounts_by_line(
    lines: Sequence[LineDraft], discounts: Sequence[OrderDiscount]
) -> dict[str, list[tuple[str, int]]]:
    applied: dict[str, list[tuple[str, int]]] = {line.uid: [] for line in lines}
    for discount in discounts:
        targets = [
            line
            for line in lines
            if discount.scope == "ORDER" or discount.uid in line.discount_uids
        ]
        gross = sum(line.base_price * line.quantity for line in targets)
        if not targets or gross == 0:
            continue
        if discount.type == "FIXED_PERCENTAGE":
            percentage = discount.percentage or Decimal(0)
            for line in targets:
                share = percent_of(line.base_price * line.quantity, percentage)
                applied[line.uid].append((discount.uid, share))
            continue
        # A fixed amount is shared out by line value; the last line takes the remainder.
        left = min(discount.amount or 0, gross)
        total = left
        for index, line in enumerate(targets):
            value = line.base_price * line.quantity
            share = left if index == len(targets) - 1 else total * value // gross
            left -= share
            applied[line.uid].append((discount.uid, share))
    return applied


def price_order(
    lines: Sequence[LineDraft],
    taxes: Sequence[OrderTax],
    discounts: Sequence[OrderDiscount],
    service_charges: Sequence[OrderServiceCharge] = (),
) -> Priced:
    """Every line's discount, tax and total, and the order's totals (tips come later)."""
    by_line = _discounts_by_line(lines, discounts)
    priced: list[LineItem] = []
    for line in lines:
        gross = line.base_price * line.quantity
        line_discounts = tuple(by_line[line.uid])
        base = gross - min(sum(a for _, a in line_discounts), gross)
        applied_taxes: list[tuple[str, int]] = []
        additive = 0
        for tax in taxes:
            if tax.scope == "LINE_ITEM" and tax.uid not in line.tax_uids:
                continue
            if tax.type == "ADDITIVE":
                amount = percent_of(base, tax.percentage)
                additive += amount
            else:
                amount = _inclusive_part(base, tax.percentage)
            applied_taxes.append((tax.uid, amount))
        priced.append(
            LineItem(
                uid=line.uid,
                name=line.name,
                quantity=line.quantity,
                base_price=line.base_price,
                catalog_object_id=line.catalog_object_id,
                variation_name=line.variation_name,
                applied_taxes=tuple(applied_taxes),
                applied_discounts=line_discounts,
                total_tax=sum(a for _, a in applied_taxes),
                total_discount=gross - base,
                total=base + additive,
            )
        )
    subtotal = sum(line.total - _additive(line, taxes) for line in priced)
    charges = tuple(
        replace(c, applied=percent_of(subtotal, c.percentage) if c.percentage else c.amount)
        for c in service_charges
    )
    return Priced(
        line_items=tuple(priced),
        taxes=tuple(replace(t, applied=_applied(priced, t.uid, "tax")) for t in taxes),
        discounts=tuple(replace(d, applied=_applied(priced, d.uid, "discount")) for d in discounts),
        service_charges=charges,
        amounts=Amounts(
            total=sum(line.total for line in priced) + sum(c.applied for c in charges),
            tax=sum(line.total_tax for line in priced),
            discount=sum(line.total_discount for line in priced),
            service_charge=sum(c.applied for c in charges),
        ),
    )


def _additive(line: LineItem, taxes: Sequence[OrderTax]) -> int:
    additive = {t.uid for t in taxes if t.type == "ADDITIVE"}
    return sum(a for uid, a in line.applied_taxes if uid in additive)


def _applied(lines: Sequence[LineItem], uid: str, kind: str) -> int:
    return sum(
        amount
        for line in lines
        for applied_uid, amount in (line.applied_taxes if kind == "tax" else line.applied_discounts)
        if applied_uid == uid
    )


def _share(amount: int, before: int, now: int, quantity: int) -> int:
    # Cumulative shares telescope, so returning every unit, in any steps, gives back exactly
    # what was charged.
    return amount * (before + now) // quantity - amount * before // quantity


def price_return(
    source: Order,
    quantities: Mapping[str, int],
    returned_before: Mapping[str, int],
    new_uid: Callable[[], str],
) -> tuple[OrderReturn, Amounts]:
    """The return of ``quantities`` (by source line uid) from ``source``, and its amounts."""
    tax_uids = {t.uid: new_uid() for t in source.taxes}
    discount_uids = {d.uid: new_uid() for d in source.discounts}
    additive = {tax_uids[t.uid] for t in source.taxes if t.type == "ADDITIVE"}
    lines: list[LineItem] = []
    for line in source.line_items:
        count = quantities.get(line.uid, 0)
        if count <= 0:
            continue
        before = returned_before.get(line.uid, 0)
        taxes = tuple(
            (tax_uids[uid], _share(a, before, count, line.quantity))
            for uid, a in line.applied_taxes
        )
        discounts = tuple(
            (discount_uids[uid], _share(a, before, count, line.quantity))
            for uid, a in line.applied_discounts
        )
        discount = sum(a for _, a in discounts)
        lines.append(
            replace(
                line,
                uid=new_uid(),
                quantity=count,
                applied_taxes=taxes,
                applied_discounts=discounts,
                total_tax=sum(a for _, a in taxes),
                total_discount=discount,
                total=line.base_price * count
                - discount
                + sum(a for uid, a in taxes if uid in additive),
                source_line_item_uid=line.uid,
            )
        )
    returned = OrderReturn(
        uid=new_uid(),
        source_order_id=source.id,
        line_items=tuple(lines),
        taxes=tuple(
            replace(
                t,
                uid=tax_uids[t.uid],
                source_tax_uid=t.uid,
                applied=_applied(lines, tax_uids[t.uid], "tax"),
            )
            for t in source.taxes
        ),
        discounts=tuple(
            replace(
                d,
                uid=discount_uids[d.uid],
                source_discount_uid=d.uid,
                applied=_applied(lines, discount_uids[d.uid], "discount"),
            )
            for d in source.discounts
        ),
    )
    amounts = Amounts(
        total=sum(line.total for line in lines),
        tax=sum(line.total_tax for line in lines),
        discount=sum(line.total_discount for line in lines),
    )
    return returned, amounts
