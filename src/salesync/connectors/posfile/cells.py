"""Reading one cell of an export as text, a number, an amount or an instant, the way the
mapping says the file writes them; a cell that does not fit raises ``CellError`` saying why.

Numbers are never guessed: ``12,50`` in a file declared to use a decimal point is refused
with the fix, rather than read as 1250.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from salesync.connectors.posfile.mapping import AmountFormat, PosMapping, TimeFormat
from salesync.connectors.posfile.reader import Row
from salesync.domain.validation import Problem

_SYMBOLS = "£$€¥₹₩₽¢₺₪₫"
_MINUS = "-−"
_DIGITS = re.compile(r"\d+(\.\d+)?|\.\d+")
_CODE = re.compile(r"^[A-Za-z]{3}\s*|\s*[A-Za-z]{3}$")
_SPACES = "\u00a0\u202f\u2009 "


class CellError(ValueError):
    """A cell that cannot be read as what its column means."""


def cell_text(value: object) -> str:
    """A cell as trimmed text ("" for an empty or missing one)."""
    if value is None:
        return ""
    if isinstance(value, bool | list | dict):
        raise CellError(f"{_show(value)} is not a single value")
    return str(value).strip()


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _sign(text: str) -> tuple[bool, str]:
    if text.startswith("(") and text.endswith(")"):
        return True, text[1:-1].strip()
    if text[:1] in _MINUS:
        return True, text[1:].strip()
    if text[-1:] in _MINUS:
        return True, text[:-1].strip()
    return False, text


def _without_currency(text: str, fmt: AmountFormat, original: str) -> str:
    stripped = _CODE.sub("", text.strip(_SYMBOLS).strip())
    if stripped == text:
        return text
    if not any(ch.isdigit() for ch in stripped):
        raise CellError(f"{original!r} is not an amount")
    if not fmt.currency_symbols:
        raise CellError(
            f"{original!r} carries a currency sign; set currency_symbols = true under "
            "[amounts] in the mapping to read it"
        )
    return stripped


def _grouped(whole: str, separator: str) -> bool:
    groups = whole.split(separator)
    return 1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])


def parse_number(value: object, fmt: AmountFormat, *, money: bool = False) -> Decimal:
    """A number written the declared way: sign (``-``, trailing ``-`` or parentheses),
    thousands groups, decimal separator and, for amounts, a currency sign when allowed."""
    original = cell_text(value)
    if isinstance(value, int):
        return Decimal(value)
    text = original
    if fmt.thousands == " ":
        text = "".join(ch for ch in text if ch not in _SPACES)
    negative, text = _sign(text)
    if money:
        text = _without_currency(text, fmt, original)
        if not negative:
            negative, text = _sign(text)
    other = "," if fmt.decimal == "." else "."
    whole, _, fraction = text.partition(fmt.decimal)
    if fmt.thousands and fmt.thousands in whole:
        if not _grouped(whole, fmt.thousands):
            raise CellError(
                f"{original!r} does not group thousands as declared ({fmt.thousands!r}); "
                f"is its decimal separator {fmt.thousands!r}?"
            )
        whole = whole.replace(fmt.thousands, "")
    if other in whole or other in fraction or (fmt.decimal in fraction):
        raise CellError(
            f"{original!r} is not a number written with {fmt.decimal!r} as the decimal "
            f"separator; set decimal = {other!r} under [amounts] if the file uses it"
        )
    plain = f"{whole}.{fraction}" if fraction else whole
    if not _DIGITS.fullmatch(plain):
        raise CellError(f"{original!r} is not a number")
    try:
        number = Decimal(plain)
    except InvalidOperation:
        raise CellError(f"{original!r} is not a number") from None
    return -number if negative else number


def parse_rate(value: object, fmt: AmountFormat, unit: str) -> Decimal:
    """A tax rate as a fraction (0.2 for 20 %), from ``20``, ``20%`` or ``0.2``."""
    text = cell_text(value)
    percent = text.endswith("%")
    number = parse_number(text.removesuffix("%").strip() if percent else value, fmt)
    return number / 100 if percent or unit == "percent" else number


def parse_instant(text: str, fmt: TimeFormat) -> datetime:
    """An aware instant: the file's own offset when it writes one, else its time zone's."""
    try:
        if fmt.format == "iso":
            parsed = datetime.fromisoformat(text)
        else:
            parsed = datetime.strptime(text, fmt.format)  # noqa: DTZ007 -- zone added below
    except ValueError:
        shown = "ISO 8601 (2026-03-06T14:30:00)" if fmt.format == "iso" else repr(fmt.format)
        raise CellError(f"{text!r} is not a time in the declared format {shown}") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(fmt.timezone))
    return parsed


class ReceiptCells:
    """Reads a receipt's cells, keeping every problem with its row and column."""

    def __init__(self, mapping: PosMapping) -> None:
        self.mapping = mapping
        self.problems: list[Problem] = []

    def problem(self, row: Row, column: str, code: str, message: str) -> None:
        found = Problem(code, message, f"row {row.number}, {column}")
        if found not in self.problems:  # a cell read twice is still one problem
            self.problems.append(found)

    def column(self, field: str) -> str | None:
        column: str | None = getattr(self.mapping.columns, field)
        return column

    def text(self, row: Row, field: str) -> str:
        column = self.column(field)
        if column is None:
            return ""
        try:
            return cell_text(row.values.get(column))
        except CellError as exc:
            self.problem(row, column, "bad_value", str(exc))
            return ""

    def number(
        self, row: Row, field: str, *, money: bool = False, required: bool = False
    ) -> Decimal | None:
        column = self.column(field)
        if column is None or not self.text(row, field):
            if column is not None and required:
                what = field.replace("_", " ")
                self.problem(row, column, "missing_value", f"is empty; a line needs its {what}")
            return None
        try:
            return parse_number(row.values.get(column), self.mapping.amounts, money=money)
        except CellError as exc:
            self.problem(row, column, "bad_number", str(exc))
            return None

    def rate(self, row: Row) -> Decimal | None:
        column = self.column("tax_rate")
        if column is not None and self.text(row, "tax_rate"):
            try:
                value = row.values.get(column)
                return parse_rate(value, self.mapping.amounts, self.mapping.tax.rate_unit)
            except CellError as exc:
                self.problem(row, column, "bad_number", str(exc))
                return None
        fixed = self.mapping.tax.rate
        if fixed is None:
            return None
        return fixed / 100 if self.mapping.tax.rate_unit == "percent" else fixed

    def one(self, rows: tuple[Row, ...], field: str) -> tuple[str, Row | None]:
        """The receipt's single value of ``field`` (rows that leave it empty agree)."""
        found = [(value, row) for row in rows if (value := self.text(row, field))]
        distinct = list(dict.fromkeys(v for v, _ in found))
        if len(distinct) > 1:
            column = self.column(field) or field
            other = next(row for value, row in found if value != distinct[0])
            shown = ", ".join(map(repr, distinct))
            self.problem(other, column, "receipt_disagrees", f"rows of one receipt say {shown}")
        return found[0] if found else ("", None)
