"""Reading a POS export file into rows: CSV (delimiter found from the header, BOM and the
declared encoding) or JSON (an array of objects, or an object holding one at a declared key).

A file whose header lacks a mapped column is refused whole, before any row is read, with
the missing columns and the ones the file has: importing half a mapping helps nobody.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from salesync.connectors.posfile.mapping import PosMapping
from salesync.domain.errors import ValidationError
from salesync.domain.validation import Problem

_DELIMITERS = ",;\t|"


@dataclass(frozen=True, slots=True)
class Row:
    """One row as the file wrote it: its number (a spreadsheet's row number for a CSV, the
    1-based position for JSON) and its values by the file's own column names."""

    number: int
    values: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ExportFile:
    name: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    digest: str
    """SHA-256 of the file's bytes."""


def _refuse(name: str, message: str, code: str, problems: list[Problem]) -> ValidationError:
    return ValidationError(
        f"{name}: {message}",
        user_message=message,
        code=code,
        problems=tuple(problems),
        operation="file_import",
    )


def _unreadable(name: str, message: str) -> ValidationError:
    return _refuse(name, message, "unreadable_file", [Problem("unreadable_file", message, name)])


def open_export(path: Path, mapping: PosMapping) -> ExportFile:
    """Read the export at ``path`` (``ValidationError`` when it cannot be used)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _unreadable(path.name, f"cannot read {path}: {exc.strerror}") from None
    return read_export(data, path.name, mapping)


def read_export(data: bytes, name: str, mapping: PosMapping) -> ExportFile:
    """Read an export's bytes, checking its header against the mapping."""
    try:
        text = data.decode(mapping.encoding).lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        raise _unreadable(
            name,
            f"{name} is not {mapping.encoding} text (byte {exc.start} cannot be read); set "
            "encoding = 'latin-1' or 'cp1252' in the mapping if the till writes that",
        ) from None
    kind = mapping.format or ("json" if name.lower().endswith(".json") else "csv")
    columns, rows = _json(text, name, mapping) if kind == "json" else _csv(text, name, mapping)
    _check_header(name, columns, mapping)
    return ExportFile(name, columns, rows, hashlib.sha256(data).hexdigest())


def _delimiter(first_line: str, mapping: PosMapping) -> str:
    if mapping.delimiter is not None:
        return mapping.delimiter
    wanted = set(mapping.columns.mapped().values())

    def score(candidate: str) -> tuple[int, int]:
        fields = [f.strip() for f in next(csv.reader([first_line], delimiter=candidate), [])]
        return len(wanted.intersection(fields)), len(fields)

    return max(_DELIMITERS, key=score)


def _csv(text: str, name: str, mapping: PosMapping) -> tuple[tuple[str, ...], tuple[Row, ...]]:
    if not text.strip():
        raise _unreadable(name, f"{name} is empty; a CSV export starts with a header row")
    delimiter = _delimiter(text.splitlines()[0], mapping)
    records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    stripped = [raw.strip() for raw in records[0]]
    doubled = sorted(c for c in set(mapping.columns.mapped().values()) if stripped.count(c) > 1)
    if doubled:
        message = f"{name} has more than one column called {', '.join(map(repr, doubled))}"
        raise _refuse(
            name, message, "columns_ambiguous", [Problem("columns_ambiguous", message, name)]
        )
    header: list[str] = []
    for position, raw in enumerate(stripped):
        label = raw or f"(column {position + 1})"
        seen = stripped[:position].count(raw) if raw else 0
        header.append(f"{label} ({seen + 1})" if seen else label)
    rows = []
    for index, cells in enumerate(records[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        values: dict[str, Any] = dict(zip(header, cells, strict=False))
        for extra, cell in enumerate(cells[len(header) :], start=len(header) + 1):
            values[f"(column {extra})"] = cell
        rows.append(Row(index, values))
    return tuple(header), tuple(rows)


def _json(text: str, name: str, mapping: PosMapping) -> tuple[tuple[str, ...], tuple[Row, ...]]:
    try:
        # Floats keep the digits the file wrote (12.50, not 12.5): money is never a float.
        data: Any = json.loads(text, parse_float=str)
    except json.JSONDecodeError as exc:
        raise _unreadable(
            name, f"{name} is not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    where = "the file"
    for key in (mapping.records or "").split(".") if mapping.records else []:
        if not isinstance(data, dict) or key not in data:
            keys = ", ".join(map(repr, data)) if isinstance(data, dict) else "none"
            raise _unreadable(name, f"{name} has no key {key!r} under {where} (keys: {keys})")
        data, where = data[key], repr(key)
    if isinstance(data, dict):
        keys = ", ".join(map(repr, data))
        raise _unreadable(
            name,
            f"{name} holds an object, not an array of rows; set records to the key of its "
            f"array in the mapping (its keys: {keys})",
        )
    if not isinstance(data, list):
        raise _unreadable(name, f"{name} holds no array of rows")
    columns: dict[str, None] = {}
    rows = []
    for index, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            raise _unreadable(name, f"item {index} of {name} is not an object of named values")
        columns.update(dict.fromkeys(item))
        rows.append(Row(index, item))
    return tuple(columns), tuple(rows)


def _check_header(name: str, columns: tuple[str, ...], mapping: PosMapping) -> None:
    wanted = mapping.columns.mapped()
    missing = {field: column for field, column in wanted.items() if column not in columns}
    if not missing:
        return
    problems = []
    for field, column in missing.items():
        folded = {c.casefold(): c for c in columns}
        close = [folded[column.casefold()]] if column.casefold() in folded else []
        close = close or difflib.get_close_matches(column, columns, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        problems.append(
            Problem("column_missing", f"no column {column!r} (mapped as {field}){hint}", name)
        )
    names = ", ".join(map(repr, missing.values()))
    has = ", ".join(map(repr, columns)) or "none"
    raise _refuse(
        name,
        f"{name} was not imported: it has no column {names}. Its columns are: {has}. "
        "Fix the mapping or the export, then import the file again.",
        "columns_missing",
        problems,
    )
