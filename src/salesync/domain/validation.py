"""Validation gates: every problem in a document, in plain words, never just the first.

Each check returns ``Problem`` values (a machine code, a message a merchant can read and the
field path it is about) instead of raising, so a quarantined record shows all that is wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from salesync.domain.documents import Payout, Refund, Sale, SaleLine, TaxLine
from salesync.domain.money import Money, minor_unit

MAX_QUANTITY = Decimal(100_000)
MAX_UNIT_PRICE_MINOR = 10**11
"""A billion dollars a unit is a typo, not a sale."""
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)
"""Clocks drift and tills run a day ahead across the date line; more than that is an error."""


@dataclass(frozen=True, slots=True)
class Problem:
    code: str
    message: str
    path: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def problem_rows(problems: Iterable[Problem]) -> list[dict[str, str]]:
    """``problems`` as the JSON rows they are stored and answered as."""
    return [{"code": p.code, "message": p.message, "path": p.path} for p in problems]


def _currency_problems(
    amounts: Iterable[tuple[str, Money | None]], currency: str
) -> Iterator[Problem]:
    for path, amount in amounts:
        if amount is not None and amount.currency != currency:
            yield Problem(
                "currency_mismatch",
                f"is in {amount.currency} but the document is in {currency}; "
                "one document holds one currency",
                path,
            )


def _tax_amounts(prefix: str, taxes: Sequence[TaxLine]) -> Iterator[tuple[str, Money]]:
    for i, tax in enumerate(taxes):
        yield f"{prefix}.taxes[{i}].amount", tax.amount


def _tax_problems(prefix: str, taxes: Sequence[TaxLine]) -> Iterator[Problem]:
    for i, tax in enumerate(taxes):
        if not Decimal(0) <= tax.rate <= Decimal(1):
            yield Problem(
                "tax_rate_out_of_range",
                f"tax rate {tax.rate} is not between 0 and 1 (write 8.25 % as 0.0825)",
                f"{prefix}.taxes[{i}].rate",
            )
        if tax.amount.amount < 0:
            yield Problem("negative_tax", "tax amount is negative", f"{prefix}.taxes[{i}].amount")


def _date_problems(occurred_at: datetime, now: datetime | None) -> Iterator[Problem]:
    if occurred_at.tzinfo is None or occurred_at.utcoffset() is None:
        yield Problem(
            "naive_time",
            "has no time zone offset, so its business day cannot be known",
            "occurred_at",
        )
        return
    if occurred_at < EARLIEST:
        yield Problem("date_too_old", f"{occurred_at.isoformat()} is before 2000", "occurred_at")
    if now is not None and occurred_at > now + FUTURE_SLACK:
        yield Problem(
            "date_in_future", f"{occurred_at.isoformat()} is in the future", "occurred_at"
        )


def _tolerance(currency: str, parts: int) -> Decimal:
    """Rounding drift allowed: one minor unit for every separately rounded part."""
    return Decimal(max(parts, 1)).scaleb(-minor_unit(currency))


def _line_in(line: SaleLine, currency: str) -> bool:
    amounts = [line.unit_price] + [d.amount for d in line.discounts]
    return all(a.currency == currency for a in amounts + [t.amount for t in line.taxes])


def _line_problems(path: str, line: SaleLine) -> Iterator[Problem]:
    if line.quantity <= 0 or line.quantity > MAX_QUANTITY:
        yield Problem(
            "quantity_out_of_range",
            f"quantity {line.quantity} must be above 0 and at most {MAX_QUANTITY} "
            "(returns are refunds, not negative lines)",
            f"{path}.quantity",
        )
    if line.unit_price.amount < 0 or line.unit_price.to_minor() > MAX_UNIT_PRICE_MINOR:
        yield Problem(
            "price_out_of_range",
            f"unit price {line.unit_price} is negative or implausibly large",
            f"{path}.unit_price",
        )
    gross = line.gross
    discounts = line.discount_total
    if discounts > gross:
        yield Problem(
            "discount_exceeds_line",
            f"discounts of {discounts} exceed the line's {gross}",
            f"{path}.discounts",
        )
    if line.taxes:
        yield from _tax_problems(path, line.taxes)


def _sale_amounts(sale: Sale) -> list[tuple[str, Money | None]]:
    amounts: list[tuple[str, Money | None]] = [
        ("shipping", sale.shipping),
        ("tip", sale.tip),
        ("declared_total", sale.declared_total),
    ]
    amounts += _tax_amounts("shipping", sale.shipping_taxes)
    for i, line in enumerate(sale.lines):
        amounts.append((f"lines[{i}].unit_price", line.unit_price))
        amounts += [(f"lines[{i}].discounts[{j}]", d.amount) for j, d in enumerate(line.discounts)]
        amounts += _tax_amounts(f"lines[{i}]", line.taxes)
    amounts += [(f"order_discounts[{j}]", d.amount) for j, d in enumerate(sale.order_discounts)]
    for i, charge in enumerate(sale.service_charges):
        amounts.append((f"service_charges[{i}].amount", charge.amount))
        amounts += _tax_amounts(f"service_charges[{i}]", charge.taxes)
    amounts += [(f"payments[{i}].amount", p.amount) for i, p in enumerate(sale.payments)]
    return amounts


def _in_one_currency(sale: Sale) -> bool:
    """Whether every amount of ``sale`` is in its currency (the common case, checked
    without naming each amount's path)."""
    cur = sale.currency
    for amount in (sale.shipping, sale.tip, sale.declared_total):
        if amount is not None and amount.currency != cur:
            return False
    taxes = [*sale.shipping_taxes]
    for line in sale.lines:
        if line.unit_price.currency != cur:
            return False
        if any(d.amount.currency != cur for d in line.discounts):
            return False
        taxes += line.taxes
    for charge in sale.service_charges:
        if charge.amount.currency != cur:
            return False
        taxes += charge.taxes
    amounts = [t.amount for t in taxes] + [d.amount for d in sale.order_discounts]
    return all(a.currency == cur for a in amounts + [p.amount for p in sale.payments])


def _total_problems(sale: Sale, subtotal: Money) -> Iterator[Problem]:
    # Each figure once: the totals are sums over every line, tax and tender.
    cur = sale.currency
    computed = sale.total_from(subtotal)
    grand = sale.declared_total if sale.declared_total is not None else computed
    difference = grand - computed
    parts = len(sale.lines) + len(sale.taxes) + 1
    if abs(difference.amount) > _tolerance(cur, parts):
        yield Problem(
            "total_mismatch",
            f"the lines add up to {computed} but the sale says "
            f"{grand}; the difference of {difference} is more "
            "than rounding",
            "declared_total",
        )
    if sale.payments:
        paid = sale.paid
        if paid.rounded() != grand.rounded():
            yield Problem(
                "tenders_do_not_cover_total",
                f"payments add up to {paid} but the sale's total is {grand}",
                "payments",
            )


def validate_sale(sale: Sale, *, now: datetime | None = None) -> list[Problem]:
    """Return every problem with ``sale``; an empty list means it may be planned."""
    problems: list[Problem] = []
    cur = sale.currency
    if not _in_one_currency(sale):
        problems += _currency_problems(_sale_amounts(sale), cur)
    problems += _date_problems(sale.occurred_at, now)
    if not sale.lines:
        problems.append(Problem("no_lines", "a sale needs at least one line", "lines"))
    if not sale.payments:
        problems.append(Problem("no_payments", "a sale needs at least one payment", "payments"))
    if any(p.code == "currency_mismatch" for p in problems):
        # Totals across currencies have no meaning; still judge each line that is whole.
        for i, line in enumerate(sale.lines):
            if _line_in(line, cur):
                problems += _line_problems(f"lines[{i}]", line)
        return problems

    for i, line in enumerate(sale.lines):
        problems += _line_problems(f"lines[{i}]", line)
    problems += _tax_problems("shipping", sale.shipping_taxes)
    for name, amount in (("shipping", sale.shipping), ("tip", sale.tip)):
        if amount is not None and amount.amount < 0:
            problems.append(Problem("negative_amount", f"{name} is negative", name))
    subtotal = sale.subtotal
    if sale.order_discount_total > subtotal:
        problems.append(
            Problem(
                "discount_exceeds_subtotal",
                f"order discounts of {sale.order_discount_total} exceed the subtotal of {subtotal}",
                "order_discounts",
            )
        )
    for i, p in enumerate(sale.payments):
        if p.amount.amount <= 0:
            problems.append(
                Problem("payment_not_positive", "a payment must be above zero", f"payments[{i}]")
            )

    problems += _total_problems(sale, subtotal)
    return problems


def _returned_quantity_problems(
    refund: Refund, sale: Sale, earlier: Sequence[Refund]
) -> Iterator[Problem]:
    sold: dict[str, Decimal] = {}
    for sale_line in sale.lines:
        sold[sale_line.sku] = sold.get(sale_line.sku, Decimal(0)) + sale_line.quantity
    returned: dict[str, Decimal] = {}
    for line in (li for r in (*earlier, refund) for li in r.lines):
        returned[line.sku] = returned.get(line.sku, Decimal(0)) + line.quantity
    for i, line in enumerate(refund.lines):
        if line.sku not in sold:
            yield Problem(
                "sku_not_in_sale",
                f"SKU {line.sku} was not sold in sale {sale.external_id}",
                f"lines[{i}].sku",
            )
        elif returned[line.sku] > sold[line.sku]:
            yield Problem(
                "quantity_exceeds_sale",
                f"{returned[line.sku]} of SKU {line.sku} returned in all, but only "
                f"{sold[line.sku]} were sold",
                f"lines[{i}].quantity",
            )


def validate_refund(
    refund: Refund,
    sale: Sale,
    earlier: Sequence[Refund] = (),
    *,
    now: datetime | None = None,
) -> list[Problem]:
    """Return every problem with ``refund`` against the ``sale`` it reverses.

    ``earlier`` are refunds already accepted for the same sale: together they may never
    give back more than was sold.
    """
    problems: list[Problem] = []
    cur = refund.currency
    amounts: list[tuple[str, Money | None]] = [("shipping", refund.shipping)]
    for i, line in enumerate(refund.lines):
        amounts.append((f"lines[{i}].amount", line.amount))
        amounts += _tax_amounts(f"lines[{i}]", line.taxes)
    amounts += [(f"payments[{i}].amount", p.amount) for i, p in enumerate(refund.payments)]
    problems += _currency_problems(amounts, cur)
    if sale.currency != cur:
        problems.append(
            Problem(
                "currency_mismatch",
                f"refund is in {cur} but sale {sale.external_id} was in {sale.currency}",
                "currency",
            )
        )
    if refund.sale_id != sale.id:
        problems.append(
            Problem("wrong_sale", f"refund names sale {refund.sale_id}, not {sale.id}", "sale_id")
        )
    problems += _date_problems(refund.occurred_at, now)
    if refund.occurred_at.tzinfo is not None and refund.occurred_at < sale.occurred_at:
        problems.append(
            Problem("refund_before_sale", "the refund is dated before its sale", "occurred_at")
        )
    if not refund.lines and refund.shipping is None:
        problems.append(Problem("no_lines", "a refund needs at least one line", "lines"))
    if any(p.code == "currency_mismatch" for p in problems):
        return problems

    for i, line in enumerate(refund.lines):
        if line.quantity < 0 or line.amount.amount < 0:
            problems.append(
                Problem(
                    "negative_refund_line",
                    "refund lines state positive quantities and amounts",
                    f"lines[{i}]",
                )
            )
        problems += _tax_problems(f"lines[{i}]", line.taxes)

    problems += _returned_quantity_problems(refund, sale, earlier)

    already = sum((r.computed_total.amount for r in earlier), Decimal(0))
    remaining = sale.grand_total.amount - already
    if refund.computed_total.amount > remaining + _tolerance(cur, len(refund.lines)):
        problems.append(
            Problem(
                "refund_exceeds_sale",
                f"refund of {refund.computed_total} is more than the {Money(remaining, cur)} "
                f"left to refund on sale {sale.external_id}",
                "lines",
            )
        )
    if refund.paid.rounded() != refund.computed_total.rounded():
        problems.append(
            Problem(
                "tenders_do_not_cover_total",
                f"refund tenders add up to {refund.paid} but the refund is {refund.computed_total}",
                "payments",
            )
        )
    return problems


def validate_payout(payout: Payout, *, now: datetime | None = None) -> list[Problem]:
    """Return every problem with ``payout``: gross - fees + adjustments + money returned by
    earlier failed payouts must equal net."""
    cur = payout.currency
    amounts: list[tuple[str, Money | None]] = [
        ("gross", payout.gross),
        ("fees", payout.fees),
        ("net", payout.net),
        ("adjustments", payout.adjustments),
        ("returned", payout.returned),
    ]
    for i, t in enumerate(payout.transactions):
        amounts += [(f"transactions[{i}].gross", t.gross), (f"transactions[{i}].fee", t.fee)]
    problems = list(_currency_problems(amounts, cur))
    problems += _date_problems(payout.occurred_at, now)
    if any(p.code == "currency_mismatch" for p in problems):
        return problems
    if payout.fees.amount < 0:
        problems.append(Problem("negative_fees", "fees are stated as a positive amount", "fees"))
    failed_at = payout.failed_at
    if failed_at is not None and (failed_at.tzinfo is None or failed_at.utcoffset() is None):
        problems.append(
            Problem("naive_time", "says when the payout failed without a time zone", "failed_at")
        )
    elif (
        failed_at is not None
        and payout.occurred_at.tzinfo is not None
        and failed_at < payout.occurred_at
    ):
        problems.append(
            Problem(
                "failed_before_payout",
                f"says the payout failed at {failed_at.isoformat()}, before it was made "
                f"at {payout.occurred_at.isoformat()}",
                "failed_at",
            )
        )
    if payout.returned is not None and payout.returned.amount < 0:
        problems.append(
            Problem(
                "negative_returned",
                "money returned by failed payouts is stated as a positive amount",
                "returned",
            )
        )
    if payout.expected_net != payout.net:
        returned = f" + returned {payout.returned}" if payout.returned else ""
        problems.append(
            Problem(
                "payout_does_not_balance",
                f"gross {payout.gross} - fees {payout.fees} + adjustments "
                f"{payout.adjustment_total}{returned} is not the deposit of {payout.net}",
                "net",
            )
        )
    if payout.transactions:
        tx_gross = sum((t.gross.amount for t in payout.transactions), Decimal(0))
        tx_fees = sum((t.fee.amount for t in payout.transactions), Decimal(0))
        if tx_gross != payout.gross.amount or tx_fees != payout.fees.amount:
            problems.append(
                Problem(
                    "payout_transactions_mismatch",
                    f"the settled transactions add up to {Money(tx_gross, cur)} gross and "
                    f"{Money(tx_fees, cur)} fees, not the payout's {payout.gross} and "
                    f"{payout.fees}",
                    "transactions",
                )
            )
    return problems
