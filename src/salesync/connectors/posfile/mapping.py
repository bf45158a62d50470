"""The column mapping of a POS export: which of the file's own columns mean what, and how
the file writes its numbers, times and values.

A mapping is declared once per kind of export (a TOML or JSON file), checked when a
connection is set up, and kept in the connection's settings under ``pos_mapping``; records
are read with the mapping in force when they are taken in, so a fixed mapping and a replay
read a rejected receipt again.
"""

from __future__ import annotations

import json
import tomllib
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pydantic
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from salesync.domain.documents import TaxMode
from salesync.domain.errors import ValidationError
from salesync.domain.money import CurrencyError, minor_unit
from salesync.domain.validation import Problem

SETTINGS_KEY = "pos_mapping"
"""Where a connection's settings keep its mapping."""

Kind = Literal["sale", "return", "skip"]
DEFAULT_KINDS: dict[str, Kind] = {"sale": "sale", "return": "return", "refund": "return"}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Columns(_Model):
    """The file's own column names (header names of a CSV, keys of a JSON object)."""

    receipt: str
    """The receipt or transaction number; rows sharing it are one receipt."""
    timestamp: str
    """When the sale happened (with ``time``, the date part)."""
    time: str | None = None
    """A separate time-of-day column, joined to ``timestamp`` with a space."""
    location: str | None = None
    """The store or till, mapped to a salesync location by the connection's locations."""
    sku: str
    description: str | None = None
    category: str | None = None
    quantity: str | None = None
    """Without it every line is one unit."""
    unit_price: str
    line_discount: str | None = None
    tax_amount: str | None = None
    tax_rate: str | None = None
    tax_name: str | None = None
    tender: str | None = None
    tender_amount: str | None = None
    """The amount paid with the row's tender: each row with one is a payment (change given
    as a negative row of the same tender nets out)."""
    total: str | None = None
    """The receipt's total, repeated on its rows; checked against what the lines add up to."""
    kind: str | None = None
    """Sale, return, void...; see ``kinds``. Without it, a receipt of only negative
    quantities is a return."""
    original_receipt: str | None = None
    """For a return: the receipt of the sale it reverses."""
    currency: str | None = None
    associate: str | None = None

    @field_validator("*")
    @classmethod
    def _named(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("a column name cannot be empty; leave the field out instead")
        return value.strip() if value is not None else None

    def mapped(self) -> dict[str, str]:
        """Every mapped field and the column it reads."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


class TimeFormat(_Model):
    format: str = "iso"
    """``iso`` (ISO 8601) or a ``strptime`` pattern such as ``%d/%m/%Y %H:%M``."""
    timezone: str
    """The IANA zone the till writes its times in, for times without an offset."""

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not an IANA time zone, such as 'Europe/London'"
            ) from None
        return value


class AmountFormat(_Model):
    decimal: Literal[".", ","] = "."
    thousands: Literal["", ",", ".", " ", "'"] = ""
    currency_symbols: bool = False
    """Whether amounts may carry a currency sign or code (``£12.50``, ``12,50 EUR``)."""
    currency: str | None = None
    """The currency of every receipt, when the file has no currency column."""

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            minor_unit(value.upper())
        except CurrencyError as exc:
            raise ValueError(str(exc)) from None
        return value.upper()

    @model_validator(mode="after")
    def _separators(self) -> AmountFormat:
        if self.decimal == self.thousands:
            raise ValueError("the decimal and thousands separators must differ")
        return self


class TaxRules(_Model):
    mode: TaxMode
    """``inclusive`` when prices contain tax (VAT), ``exclusive`` when it is added on top."""
    name: str = "Tax"
    """The tax's name, when the file has no tax name column."""
    rate: Decimal | None = None
    """A fixed rate, in ``rate_unit``, when the file has no rate column."""
    rate_unit: Literal["percent", "fraction"] = "percent"


class PosMapping(_Model):
    """How to read one kind of POS export."""

    format: Literal["csv", "json"] | None = None
    """Taken from the file's suffix when left out."""
    encoding: Literal["utf-8", "utf-8-sig", "latin-1", "cp1252"] = "utf-8-sig"
    delimiter: str | None = None
    """A CSV's delimiter; found from the header when left out."""
    records: str | None = None
    """A JSON export that is an object: the dotted key of its array of rows."""
    columns: Columns
    time: TimeFormat
    amounts: AmountFormat = AmountFormat()
    tax: TaxRules
    kinds: dict[str, Kind] = {}
    """Values of the kind column (any case) and what they mean; ``sale``, ``return`` and
    ``refund`` are known already."""
    tenders: dict[str, str] = {}
    """The file's tender names (any case) and salesync's (``cash``, ``card``, ``gift_card``,
    ``store_credit``...); others are used as written, in lower case."""
    tender: str | None = None
    """The tender of every receipt, when the file has no tender column."""
    category: str = ""
    """The category of lines, when the file has no category column."""

    @field_validator("delimiter")
    @classmethod
    def _delimiter(cls, value: str | None) -> str | None:
        if value is not None and len(value) != 1:
            raise ValueError("a delimiter is one character, such as ',' or ';' (tab: '\\t')")
        return value

    @field_validator("kinds", "tenders")
    @classmethod
    def _folded(cls, value: dict[str, Any]) -> dict[str, Any]:
        return {k.strip().casefold(): v for k, v in value.items()}

    @model_validator(mode="after")
    def _complete(self) -> PosMapping:
        if self.columns.currency is None and self.amounts.currency is None:
            raise ValueError(
                "say which currency amounts are in: map a currency column, or set "
                "amounts.currency (e.g. 'GBP')"
            )
        if self.columns.tender is None and self.tender is None:
            raise ValueError("map a tender column, or set tender (e.g. 'card') for every receipt")
        return self

    def kind_of(self, value: str) -> Kind | None:
        """What a kind column value means (``None``: not declared)."""
        folded = value.strip().casefold()
        return self.kinds.get(folded) or DEFAULT_KINDS.get(folded)

    def tender_of(self, value: str) -> str:
        folded = value.strip().casefold()
        return self.tenders.get(folded) or "_".join(folded.split())


class MappingFileError(ValueError):
    """A mapping file that cannot be used; ``problems`` says what to change, line by line."""

    def __init__(self, message: str, problems: list[str]) -> None:
        super().__init__(message)
        self.problems = problems


def _problems(exc: pydantic.ValidationError) -> list[str]:
    out = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "mapping"
        out.append(f"{where}: {error['msg'].removeprefix('Value error, ')}")
    return out


def load_mapping(path: Path) -> PosMapping:
    """Read a mapping from a TOML or JSON file; ``MappingFileError`` says what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingFileError(f"cannot read {path}", [str(exc)]) from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise MappingFileError(
            f"{path} is not valid {path.suffix[1:] or 'TOML'}", [str(exc)]
        ) from None
    return parse_mapping(data, str(path))


def parse_mapping(data: object, where: str = "the mapping") -> PosMapping:
    try:
        return PosMapping.model_validate(data)
    except pydantic.ValidationError as exc:
        raise MappingFileError(f"{where} is not a usable mapping", _problems(exc)) from None


@lru_cache(maxsize=64)
def _cached(canonical: str) -> PosMapping:
    return parse_mapping(json.loads(canonical))


def mapping_of(settings: Any) -> PosMapping:
    """The mapping kept in a connection's settings; ``ValidationError`` when there is none
    or it no longer reads (the records wait, quarantined, for the fix)."""
    data = settings.get(SETTINGS_KEY) if hasattr(settings, "get") else None
    if data is None:
        raise ValidationError(
            "the connection has no column mapping",
            user_message="This POS file connection has no column mapping yet; set one with "
            "`salesync pos connect NAME --mapping FILE`.",
            code="no_file_mapping",
            problems=(Problem("no_file_mapping", "the connection has no column mapping", ""),),
        )
    try:
        return _cached(json.dumps(data, sort_keys=True, default=str))
    except MappingFileError as exc:
        raise ValidationError(
            "the connection's column mapping does not read",
            code="bad_file_mapping",
            problems=tuple(Problem("bad_file_mapping", p, "mapping") for p in exc.problems),
        ) from None


def mapping_settings(mapping: PosMapping) -> dict[str, Any]:
    """The mapping as connection settings keep it (plain JSON)."""
    return {SETTINGS_KEY: mapping.model_dump(mode="json", exclude_defaults=False)}
