"""R-Series sales as salesync sales and refunds.

A sale's lines carry what R-Series computed: ``calcSubtotal`` (price times quantity),
``calcLineDiscount`` and ``calcTransactionDiscount`` (the line's share of a whole-sale
discount) and ``calcTax1``/``calcTax2`` at the tax category's two rates. Tips ride on the
card payments (``tipAmount``, summed in ``calcTips``), so the total charged is
``calcTotal`` plus ``calcTips``. Archived payments are attempts that did not go through
and are left out.

A return is a sale whose lines have negative quantities; each names the line it gives
back (``parentSaleLineID``), and the record carries the sale that line belongs to. The
amounts are stated positive on the refund, as salesync's documents state them.

An exchange is one sale holding both: its positive lines are a ``Sale`` and its negative
ones a ``Refund`` (the ``sale_return`` record of the same sale). The value of the goods
given back pays for the new ones through the ``exchange`` tender on both documents, so
the tender nets to zero and only the difference is money that changed hands.

Both documents carry the sale's ``timeStamp`` as when the source last changed them:
R-Series moves it on every change of the record, which is why sweeps read by it
(https://developers.lightspeedhq.com/retail/endpoints/Sale/). It tells a late copy of a
sale from an edit, and a change undone at the register from a stale redelivery.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from salesync.connectors.lightspeed_r.payloads import LsSale, LsSaleLine, SaleRecord
from salesync.connectors.lightspeed_r.problems import PROVIDER, Problems
from salesync.connectors.source import SourceContext
from salesync.domain.documents import (
    EXCHANGE_TENDER,
    Discount,
    DocumentKind,
    Payment,
    Refund,
    RefundLine,
    Sale,
    SaleLine,
    TaxLine,
    TaxMode,
    document_id,
)
from salesync.domain.errors import ValidationError
from salesync.domain.money import CurrencyError, Money, minor_unit
from salesync.domain.validation import Problem

DEFAULT_CURRENCY = "USD"


def currency_of(context: SourceContext, path: str) -> str:
    """The account's currency (R-Series sales do not state it): the ``currency`` setting."""
    currency = str(context.settings.get("currency") or DEFAULT_CURRENCY)
    try:
        minor_unit(currency)
    except CurrencyError:
        raise ValidationError(
            f"the currency setting {currency!r} is not an ISO 4217 code",
            user_message="The Lightspeed connection's currency must be a three-letter code "
            "such as USD or CAD.",
            code="bad_setting",
            provider=PROVIDER,
            problems=(Problem("bad_setting", f"{currency!r} is not a currency code", path),),
        ) from None
    return currency


def _taxes(sale: LsSale, line: LsSaleLine, currency: str, sign: int) -> tuple[TaxLine, ...]:
    names = sale.TaxCategory
    found = (
        ((names.tax1Name if names else "") or "Tax 1", line.tax1Rate, line.calcTax1),
        ((names.tax2Name if names else "") or "Tax 2", line.tax2Rate, line.calcTax2),
    )
    return tuple(
        TaxLine(name, rate, Money.of(amount * sign, currency))
        for name, rate, amount in found
        if amount
    )


def _payments(sale: LsSale, currency: str, sign: int) -> tuple[Payment, ...]:
    return tuple(
        Payment(
            tender=p.PaymentType.name if p.PaymentType else f"payment type {p.paymentTypeID}",
            amount=Money.of(p.amount * sign, currency),
            reference=p.salePaymentID,
        )
        for p in sale.SalePayments
        if not p.archived
    )


def _line_total(line: LsSaleLine) -> Decimal:
    """What a line comes to, tax included (negative for a returned line)."""
    return (
        line.calcSubtotal
        - line.calcLineDiscount
        - line.calcTransactionDiscount
        + line.calcTax1
        + line.calcTax2
    )


def _parts(sale: LsSale) -> tuple[Decimal, Decimal]:
    """What an exchange's new goods come to (tips included) and what the goods given back
    are worth, both positive."""
    bought = sum((_line_total(li) for li in sale.SaleLines if li.unitQuantity >= 0), Decimal(0))
    given = -sum((_line_total(li) for li in sale.SaleLines if li.unitQuantity < 0), Decimal(0))
    return bought + sale.calcTips, given


def _occurred(sale: LsSale, problems: Problems) -> datetime:
    """When the sale was completed, which is when salesync dates it."""
    if sale.completeTime is None:
        problems.add(
            "no_complete_time", "a completed sale has no completeTime", "sale.completeTime"
        )
        return sale.timeStamp
    return sale.completeTime


def _exchange(sale: LsSale, credit: Decimal, currency: str) -> Payment:
    return Payment(EXCHANGE_TENDER, Money.of(credit, currency), reference=sale.saleID)


def _customer(sale: LsSale) -> str | None:
    return f"{PROVIDER}:{sale.customerID}" if sale.customerID not in ("", "0") else None


def sale_of(record: SaleRecord, context: SourceContext) -> Sale:
    sale = record.sale
    problems = Problems("sale")
    location = problems.location(context, sale.shopID, "sale.shopID")
    currency = currency_of(context, "currency")
    occurred = _occurred(sale, problems)
    lines: list[SaleLine] = []
    for line in sale.SaleLines:
        if line.unitQuantity < 0:
            continue  # given back in an exchange: the sale's ``sale_return`` record
        item = line.Item
        discounts = [
            Discount(name, Money.of(amount, currency))
            for name, amount in (
                ("Line discount", line.calcLineDiscount),
                ("Sale discount", line.calcTransactionDiscount),
            )
            if amount
        ]
        lines.append(
            SaleLine(
                sku=item.sku if item else f"item-{line.itemID}",
                name=item.description if item and item.description else f"item {line.itemID}",
                category=item.category if item else "",
                quantity=line.unitQuantity,
                unit_price=Money.of(line.unitPrice, currency),
                discounts=tuple(discounts),
                taxes=_taxes(sale, line, currency, 1),
            )
        )
    payments = _payments(sale, currency, 1)
    bought, given = _parts(sale)
    if given:
        credit = min(bought, given)
        payments = (
            *(p for p in payments if p.amount.amount > 0),
            _exchange(sale, credit, currency),
        )
    declared = bought if given else sale.calcTotal + sale.calcTips
    problems.check()
    return Sale(
        id=document_id(context.tenant_id, PROVIDER, DocumentKind.SALE, sale.saleID),
        tenant_id=context.tenant_id,
        location_id=location,
        source=PROVIDER,
        external_id=sale.saleID,
        occurred_at=occurred,
        currency=currency,
        tax_mode=TaxMode.INCLUSIVE if sale.isTaxInclusive else TaxMode.EXCLUSIVE,
        lines=tuple(lines),
        payments=payments,
        tip=Money.of(sale.calcTips, currency) if sale.calcTips else None,
        declared_total=Money.of(declared, currency),
        customer_id=_customer(sale),
        associate=sale.employeeID if sale.employeeID not in ("", "0") else None,
        number=sale.referenceNumber or sale.saleID,
        source_updated_at=sale.timeStamp,
    )


def refund_of(record: SaleRecord, context: SourceContext) -> Refund:
    sale = record.sale
    problems = Problems("sale")
    location = problems.location(context, sale.shopID, "sale.shopID")
    currency = currency_of(context, "currency")
    occurred = _occurred(sale, problems)
    originals: set[str] = set()
    lines: list[RefundLine] = []
    for i, line in enumerate(sale.SaleLines):
        path = f"sale.SaleLines[{i}]"
        if line.unitQuantity >= 0:
            continue  # bought in an exchange: the sale's ``sale`` record
        if line.parentSaleLineID in ("", "0"):
            problems.add(
                "return_without_sale",
                f"returned line {line.saleLineID} names no original sale line; salesync books "
                "a refund against the sale it reverses, so ring the return from its receipt",
                f"{path}.parentSaleLineID",
            )
        elif line.parentSaleLineID not in record.parents:
            problems.add(
                "original_sale_unknown",
                f"the sale of line {line.parentSaleLineID} was not read with this return; "
                "sweep sales again to read it",
                f"parents.{line.parentSaleLineID}",
            )
        else:
            originals.add(record.parents[line.parentSaleLineID])
        net = line.calcSubtotal - line.calcLineDiscount - line.calcTransactionDiscount
        item = line.Item
        lines.append(
            RefundLine(
                sku=item.sku if item else f"item-{line.itemID}",
                quantity=-line.unitQuantity,
                amount=Money.of(-net, currency),
                category=item.category if item else "",
                taxes=_taxes(sale, line, currency, -1),
            )
        )
    if len(originals) > 1:
        problems.add(
            "return_of_several_sales",
            f"this return gives back lines of sales {', '.join(sorted(originals))}; salesync "
            "links a refund to one sale, so return each sale's goods on its own",
            "sale.SaleLines",
        )
    payments = _payments(sale, currency, -1)
    bought, given = _parts(sale)
    if bought:
        credit = min(bought, given)
        payments = (
            *(p for p in payments if p.amount.amount > 0),
            _exchange(sale, credit, currency),
        )
    problems.check()
    return Refund(
        id=document_id(context.tenant_id, PROVIDER, DocumentKind.REFUND, sale.saleID),
        tenant_id=context.tenant_id,
        location_id=location,
        source=PROVIDER,
        external_id=sale.saleID,
        sale_id=document_id(context.tenant_id, PROVIDER, DocumentKind.SALE, originals.pop()),
        occurred_at=occurred,
        currency=currency,
        tax_mode=TaxMode.INCLUSIVE if sale.isTaxInclusive else TaxMode.EXCLUSIVE,
        lines=tuple(lines),
        payments=payments,
        reason="Returned at the register",
        source_updated_at=sale.timeStamp,
    )
