"""A receipt's rows, read through the mapping, as a ``Sale`` or a ``Refund``.

Rows with an item (a SKU or a price) are lines; rows with a tender amount are payments
(a row may be both). Payments of one tender add up, so change given back as a negative
cash row nets out. A return's amounts are read as positive, whichever sign the till wrote.
Rows marked as voided (a kind mapped to ``skip``) are left out; a receipt of only those is
skipped. Every problem found is reported at once, each with its row and column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from salesync.connectors.posfile.cells import CellError, ReceiptCells, parse_instant
from salesync.connectors.posfile.mapping import Kind, PosMapping
from salesync.connectors.posfile.reader import Row
from salesync.connectors.posfile.receipts import StoredReceipt
from salesync.connectors.source import Skip, SourceContext, Translated
from salesync.domain.documents import (
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

_RATE_PLACES = Decimal("0.0001")
_LINE_PATH = re.compile(r"^lines\[(\d+)\]")


@dataclass(frozen=True, slots=True)
class _Line:
    sku: str
    name: str
    category: str
    quantity: Decimal
    price: Decimal
    discount: Decimal
    tax_amount: Decimal | None
    tax_rate: Decimal | None
    tax_name: str


def _kinds(rows: tuple[Row, ...], cells: ReceiptCells) -> dict[int, Kind]:
    """Each row's kind, for rows whose kind column says one."""
    column = cells.column("kind")
    kinds: dict[int, Kind] = {}
    for row in rows:
        value = cells.text(row, "kind")
        if not value or column is None:
            continue
        kind = cells.mapping.kind_of(value)
        if kind is None:
            cells.problem(
                row,
                column,
                "unknown_kind",
                f"{value!r} is not a kind the mapping knows; declare it under [kinds] as "
                "sale, return or skip",
            )
        else:
            kinds[row.number] = kind
    return kinds


def _is_line(row: Row, cells: ReceiptCells) -> bool:
    return bool(cells.text(row, "sku") or cells.text(row, "unit_price"))


def line_rows(stored: StoredReceipt, mapping: PosMapping) -> list[int]:
    """The numbers of the rows that are lines, in the order of the document's lines."""
    cells = ReceiptCells(mapping)
    kinds = _kinds(stored.receipt.rows, cells)
    return [
        row.number
        for row in stored.receipt.rows
        if kinds.get(row.number) != "skip" and _is_line(row, cells)
    ]


def locate(problem: Problem, lines: list[int]) -> str:
    """A problem in plain words, its ``lines[i]`` path told as the row it came from."""
    match = _LINE_PATH.match(problem.path)
    if match is None or int(match.group(1)) >= len(lines):
        return str(problem) if problem.path else problem.message
    return f"row {lines[int(match.group(1))]} ({problem.path}): {problem.message}"


def _line(row: Row, cells: ReceiptCells) -> _Line | None:
    before = len(cells.problems)
    sku = cells.text(row, "sku")
    if not sku and cells.column("sku") is not None:
        cells.problem(row, cells.column("sku") or "sku", "missing_value", "a line needs its SKU")
    quantity = cells.number(row, "quantity", required=True)
    if cells.column("quantity") is None:
        quantity = Decimal(1)
    price = cells.number(row, "unit_price", money=True, required=True)
    discount = cells.number(row, "line_discount", money=True)
    tax_amount = cells.number(row, "tax_amount", money=True)
    rate = cells.rate(row)
    if len(cells.problems) > before or quantity is None or price is None:
        return None
    return _Line(
        sku=sku,
        name=cells.text(row, "description") or sku,
        category=cells.text(row, "category") or cells.mapping.category,
        quantity=quantity,
        price=price,
        # Tills print a discount as a reduction, with either sign; it is one either way.
        discount=abs(discount or Decimal(0)),
        tax_amount=tax_amount,
        tax_rate=rate,
        tax_name=cells.text(row, "tax_name") or cells.mapping.tax.name,
    )


def _taxes(line: _Line, net: Money, mode: TaxMode, returned: bool) -> tuple[TaxLine, ...]:
    rate, amount = line.tax_rate, line.tax_amount
    if amount is None:
        if rate is None:
            return ()
        share = rate / (1 + rate) if mode is TaxMode.INCLUSIVE else rate
        amount = (net * share).rounded().amount
    elif returned:
        amount = abs(amount)
    if rate is None:
        # The file states only the amount; the rate is implied by it (and carries no money).
        base = net.amount - amount if mode is TaxMode.INCLUSIVE else net.amount
        rate = (amount / base).quantize(_RATE_PLACES) if base else Decimal(0)
    if amount == 0:
        return ()
    return (TaxLine(line.tax_name, rate, Money(amount, net.currency)),)


def _instant(rows: tuple[Row, ...], cells: ReceiptCells) -> datetime | None:
    column = cells.column("timestamp") or "timestamp"
    instants, unreadable = [], False
    for row in rows:
        text = cells.text(row, "timestamp")
        if not text:
            continue
        if cells.column("time") is not None:
            text = f"{text} {cells.text(row, 'time')}".strip()
        try:
            instants.append(parse_instant(text, cells.mapping.time))
        except CellError as exc:
            cells.problem(row, column, "bad_time", str(exc))
            unreadable = True
    if not instants and not unreadable:
        cells.problem(rows[0], column, "missing_value", "no row of the receipt says when it was")
    # Lines are scanned one by one; the sale happened when the last of them was.
    return max(instants) if instants else None


def _currency(rows: tuple[Row, ...], cells: ReceiptCells) -> str | None:
    value, row = cells.one(rows, "currency")
    currency = (value or cells.mapping.amounts.currency or "").upper()
    try:
        minor_unit(currency)
    except CurrencyError as exc:
        cells.problem(
            row or rows[0], cells.column("currency") or "currency", "bad_currency", str(exc)
        )
        return None
    return currency


def _location(rows: tuple[Row, ...], cells: ReceiptCells, context: SourceContext) -> str | None:
    value, row = cells.one(rows, "location")
    path = f"row {(row or rows[0]).number}, {cells.column('location') or 'location'}"
    try:
        return context.location_for(value or None, path)
    except ValidationError as exc:
        cells.problems.extend(exc.problems)
        return None


def _kind(
    rows: tuple[Row, ...], lines: list[_Line], kinds: dict[int, Kind], cells: ReceiptCells
) -> Kind:
    stated = set(kinds.values()) - {"skip"}
    if len(stated) > 1:
        cells.problem(
            rows[0],
            cells.column("kind") or "kind",
            "mixed_receipt",
            "the receipt mixes sold and returned rows (an exchange); export or enter the "
            "return and the new sale as separate receipts",
        )
    if stated:
        return stated.pop()
    signs = {line.quantity < 0 for line in lines}
    if signs == {True, False}:
        cells.problem(
            rows[0],
            cells.column("quantity") or "quantity",
            "mixed_receipt",
            "the receipt has both positive and negative quantities (an exchange); export "
            "the return and the new sale as separate receipts, or map a kind column",
        )
    return "return" if signs == {True} else "sale"


def _paid(rows: tuple[Row, ...], cells: ReceiptCells, returned: bool) -> dict[str, Decimal] | None:
    """What each tender paid, from the payment rows; ``None`` when the file names only the
    receipt's tender (it then paid what the receipt comes to)."""
    mapping = cells.mapping
    if mapping.columns.tender_amount is None:
        return None
    sums: dict[str, Decimal] = {}
    for row in rows:
        amount = cells.number(row, "tender_amount", money=True)
        if not amount:
            continue
        tender = cells.text(row, "tender") or mapping.tender
        if not tender:
            column = mapping.columns.tender or "tender"
            cells.problem(row, column, "missing_value", "a payment row needs its tender")
            continue
        key = mapping.tender_of(tender)
        sums[key] = sums.get(key, Decimal(0)) + amount
    return {t: abs(a) if returned else a for t, a in sums.items() if a}


@dataclass(frozen=True, slots=True)
class _Header:
    """What the receipt as a whole says."""

    number: str
    external_id: str
    original: str
    location: str
    occurred_at: datetime
    currency: str
    total: Decimal | None
    tender: str
    associate: str


def translate_receipt(
    stored: StoredReceipt, mapping: PosMapping, context: SourceContext
) -> Translated:
    """The sale or return the receipt's rows describe; ``ValidationError`` with every
    problem, each at its row and column, when they cannot be read."""
    receipt, cells = stored.receipt, ReceiptCells(mapping)
    if not receipt.number:
        cells.problem(
            receipt.rows[0],
            mapping.columns.receipt,
            "missing_value",
            "has no receipt number, so the row belongs to no receipt",
        )
    kinds = _kinds(receipt.rows, cells)
    rows = tuple(r for r in receipt.rows if kinds.get(r.number) != "skip")
    if not rows and not cells.problems:
        column = mapping.columns.kind or "kind"
        value = cells.text(receipt.rows[0], "kind")
        return Skip(f"receipt {receipt.number} is marked {value!r} ({column}) in {stored.file}")
    rows = rows or receipt.rows
    lines = [line for row in rows if _is_line(row, cells) and (line := _line(row, cells))]
    returned = _kind(rows, lines, kinds, cells) == "return"
    header = _header(receipt.number, rows, cells, context, returned)
    paid = _paid(rows, cells, returned)
    if cells.problems or header is None:
        raise ValidationError(
            f"receipt {receipt.number or '?'} in {stored.file} has {len(cells.problems)} "
            "problem(s)",
            user_message="; ".join(str(p) for p in cells.problems),
            code="unreadable_receipt",
            problems=tuple(cells.problems),
        )
    if returned:
        refund = _refund(header, lines, mapping, context)
        due = Money(abs(header.total), header.currency) if header.total is not None else None
        return replace(refund, payments=_payments(header, paid, due or refund.computed_total))
    sale = _sale(header, lines, mapping, context)
    return replace(sale, payments=_payments(header, paid, sale.grand_total))


def _header(
    number: str, rows: tuple[Row, ...], cells: ReceiptCells, context: SourceContext, returned: bool
) -> _Header | None:
    mapping = cells.mapping
    currency = _currency(rows, cells)
    occurred_at = _instant(rows, cells)
    location = _location(rows, cells, context)
    original = cells.one(rows, "original_receipt")[0]
    if returned and not original:
        cells.problem(
            rows[0],
            mapping.columns.original_receipt or "original_receipt",
            "no_original_receipt",
            "a return must name the receipt of the sale it reverses"
            + ("" if mapping.columns.original_receipt else "; map original_receipt"),
        )
    total_row = cells.one(rows, "total")[1]
    total = cells.number(total_row, "total", money=True) if total_row else None
    tender = ""
    if mapping.columns.tender_amount is None:
        tender = cells.one(rows, "tender")[0] or mapping.tender or ""
        if not tender:
            column = mapping.columns.tender or "tender"
            cells.problem(
                rows[0], column, "missing_value", "no row of the receipt names its tender"
            )
    if currency is None or occurred_at is None or location is None:
        return None
    # Receipt numbers are a till's own: two connections' receipt 1001 are two documents.
    scope = context.settings.get("namespace") or context.connection_id
    return _Header(
        number=number,
        external_id=f"{scope}/{number}" if scope else number,
        original=f"{scope}/{original}" if scope else original,
        location=location,
        occurred_at=occurred_at,
        currency=currency,
        total=total,
        tender=mapping.tender_of(tender),
        associate=cells.one(rows, "associate")[0],
    )


def _payments(header: _Header, paid: dict[str, Decimal] | None, due: Money) -> tuple[Payment, ...]:
    if paid is None:
        return (Payment(header.tender, due),)
    return tuple(Payment(tender, Money(amount, header.currency)) for tender, amount in paid.items())


def _sale(header: _Header, lines: list[_Line], mapping: PosMapping, context: SourceContext) -> Sale:
    cur = header.currency
    return Sale(
        id=document_id(context.tenant_id, context.source, DocumentKind.SALE, header.external_id),
        tenant_id=context.tenant_id,
        location_id=header.location,
        source=context.source,
        external_id=header.external_id,
        occurred_at=header.occurred_at,
        currency=cur,
        tax_mode=mapping.tax.mode,
        lines=tuple(_sale_line(line, cur, mapping.tax.mode) for line in lines),
        payments=(),
        declared_total=Money(header.total, cur) if header.total is not None else None,
        associate=header.associate or None,
        number=header.number,
    )


def _refund(
    header: _Header, lines: list[_Line], mapping: PosMapping, context: SourceContext
) -> Refund:
    cur = header.currency
    tenant, source = context.tenant_id, context.source
    return Refund(
        id=document_id(tenant, source, DocumentKind.REFUND, header.external_id),
        tenant_id=tenant,
        location_id=header.location,
        source=source,
        external_id=header.external_id,
        sale_id=document_id(tenant, source, DocumentKind.SALE, header.original),
        occurred_at=header.occurred_at,
        currency=cur,
        tax_mode=mapping.tax.mode,
        lines=tuple(_refund_line(line, cur, mapping.tax.mode) for line in lines),
        payments=(),
    )


def _sale_line(line: _Line, currency: str, mode: TaxMode) -> SaleLine:
    price = Money(line.price, currency)
    discounts = (Discount("Discount", Money(line.discount, currency)),) if line.discount else ()
    net = (price * line.quantity).rounded() - Money(line.discount, currency)
    return SaleLine(
        sku=line.sku,
        name=line.name,
        category=line.category,
        quantity=line.quantity,
        unit_price=price,
        discounts=discounts,
        taxes=_taxes(line, net, mode, returned=False),
    )


def _refund_line(line: _Line, currency: str, mode: TaxMode) -> RefundLine:
    gross = (Money(abs(line.price), currency) * abs(line.quantity)).rounded()
    net = gross - Money(line.discount, currency)
    return RefundLine(
        sku=line.sku,
        quantity=abs(line.quantity),
        amount=net,
        category=line.category,
        taxes=_taxes(line, net, mode, returned=True),
    )
