"""Rows grouped into receipts, and each receipt as the raw record the inbox keeps.

POS exports write one row per line (and often per payment); the rows sharing a receipt
number are one sale or return. The record keeps those rows exactly as the file wrote
them, with the file's name and row numbers, so the inbox holds the raw input and a replay
reads it again with the mapping then in force.

A record's event id is its receipt number and a hash of its rows' values (not of the
whole file): the same receipt in a later, overlapping export is a duplicate, and a
corrected receipt is a new record whose document becomes the next revision.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from salesync.connectors.posfile.cells import CellError, cell_text
from salesync.connectors.posfile.mapping import PosMapping
from salesync.connectors.posfile.reader import ExportFile, Row
from salesync.connectors.source import SourceContext, SourceRecord
from salesync.domain.errors import ValidationError
from salesync.domain.validation import Problem

RECORD_TYPE = "receipt"
FORMAT = 1


@dataclass(frozen=True, slots=True)
class Receipt:
    """The rows of one receipt, in file order; ``number`` is "" for rows with none."""

    number: str
    rows: tuple[Row, ...]

    @property
    def row_numbers(self) -> tuple[int, ...]:
        return tuple(r.number for r in self.rows)


def group_receipts(export: ExportFile, mapping: PosMapping) -> list[Receipt]:
    """The file's receipts in order of first appearance; a row without a readable receipt
    number stands alone, to be refused with its row number."""
    column = mapping.columns.receipt
    grouped: dict[str, list[Row]] = {}
    alone: list[tuple[int, Receipt]] = []
    order: list[tuple[int, str]] = []
    for row in export.rows:
        try:
            number = cell_text(row.values.get(column))
        except CellError:
            number = ""
        if not number:
            alone.append((row.number, Receipt("", (row,))))
            continue
        if number not in grouped:
            grouped[number] = []
            order.append((row.number, number))
        grouped[number].append(row)
    receipts = [(first, Receipt(n, tuple(grouped[n]))) for first, n in order]
    return [r for _, r in sorted([*receipts, *alone], key=lambda pair: pair[0])]


def _digest(rows: tuple[Row, ...]) -> str:
    values = [dict(r.values) for r in rows]
    canonical = json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def scope_of(context: SourceContext) -> str:
    """Whose receipts these are: the connection's namespace (kept across a reconnect),
    else its id."""
    return str(context.settings.get("namespace") or context.connection_id or "-")


def event_id(receipt: Receipt, scope: str) -> str:
    """The receipt's identity in the inbox: who (the connection), which receipt, which
    content."""
    name = receipt.number or f"row-{receipt.rows[0].number}"
    return f"pos_file/{_short(scope, 40)}/{_short(name, 80)}/{_digest(receipt.rows)[:24]}"


def _short(text: str, limit: int) -> str:
    """``text``, or a hash of it when it would make the event id too long to store."""
    return text if len(text) <= limit else hashlib.sha256(text.encode()).hexdigest()[:32]


def receipt_record(receipt: Receipt, file_name: str, scope: str) -> SourceRecord:
    """The inbox record of one receipt; ``scope`` names the connection (its namespace)."""
    payload = {
        "format": FORMAT,
        # The same file imported through two connections is two sets of receipts, so the
        # scope is part of what the inbox compares.
        "scope": scope,
        "file": file_name,
        "receipt": receipt.number,
        "rows": [{"row": r.number, "values": dict(r.values)} for r in receipt.rows],
    }
    return SourceRecord(
        RECORD_TYPE, json.dumps(payload, ensure_ascii=False), event_id(receipt, scope)
    )


@dataclass(frozen=True, slots=True)
class StoredReceipt:
    """A receipt record read back from the inbox."""

    file: str
    receipt: Receipt


def _malformed(message: str) -> ValidationError:
    return ValidationError(
        f"not a POS file receipt record: {message}",
        code="malformed_record",
        problems=(Problem("malformed_record", message, "payload"),),
    )


def read_record(record_type: str, payload: str) -> StoredReceipt:
    """The receipt a stored record holds; ``ValidationError`` when it is not one."""
    if record_type != RECORD_TYPE:
        raise _malformed(f"record type {record_type!r} is not {RECORD_TYPE!r}")
    try:
        data: Any = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise _malformed(f"the record is not JSON ({exc.msg})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise _malformed(f"the record is not a format {FORMAT} receipt")
    rows = data.get("rows")
    if not isinstance(rows, list) or not rows:
        raise _malformed("the record holds no rows")
    parsed = []
    for item in rows:
        if not (
            isinstance(item, dict)
            and isinstance(item.get("row"), int)
            and isinstance(item.get("values"), dict)
        ):
            raise _malformed("a row is not a numbered set of values")
        parsed.append(Row(item["row"], item["values"]))
    return StoredReceipt(
        str(data.get("file", "")), Receipt(str(data.get("receipt", "")), tuple(parsed))
    )
