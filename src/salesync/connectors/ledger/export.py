"""Beancount and hledger journal text for the built-in ledger's entries.

Both writers stream: entries are rendered one at a time, so an export of millions of
entries holds one in memory. Everything a strict reading needs is declared up front (every
chart account, every currency with its minor unit), and each entry is checked whole before
any of it is written: an entry the header did not declare is refused with
``LedgerExportError``, and the output then ends with the last complete entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TextIO

from salesync.domain.errors import MappingError
from salesync.domain.journal import Account, ChartOfAccounts, JournalEntry, JournalLine
from salesync.domain.money import Money, minor_unit

_AMOUNT_WIDTH = 12
"""Amounts are right-aligned to this width so a file reads like bean-format's output."""

# C0 and C1 control characters have no escape in either format and no place in a book;
# they become spaces. Beancount strings can carry line breaks and tabs as C escapes.
_CONTROLS: dict[int, str] = dict.fromkeys((*range(0x20), *range(0x7F, 0xA0)), " ")
_BEANCOUNT_STRING = str.maketrans(
    _CONTROLS
    | {ord("\\"): "\\\\", ord('"'): '\\"', ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"}
)
# hledger has no escapes at all: a description ends at ';' and a tag value at ','. Those
# become the other one, which reads almost the same and keeps ASCII text ASCII (hledger
# refuses non-ASCII bytes outside a UTF-8 locale).
_HLEDGER_DESCRIPTION = str.maketrans(_CONTROLS | {ord(";"): ","})
_HLEDGER_TAG = str.maketrans(_CONTROLS | {ord(","): ";"})
_HLEDGER_COMMENT = str.maketrans(_CONTROLS)


class LedgerExportError(MappingError, ValueError):
    """An entry the export's header does not declare: an account outside the chart, a
    currency not listed, or a date before the books open. Declare it and export again."""


@dataclass(frozen=True, slots=True)
class _Declarations:
    """What the header of an export declares, and the check every entry must pass."""

    accounts: tuple[Account, ...]
    names: frozenset[str]
    currencies: tuple[str, ...]
    open_date: date
    locations: Mapping[str, str]
    width: int

    @classmethod
    def of(
        cls,
        chart: ChartOfAccounts,
        currencies: Sequence[str],
        open_date: date,
        locations: Mapping[str, str] | None,
    ) -> _Declarations:
        declared = tuple(dict.fromkeys(currencies))
        for currency in declared:
            minor_unit(currency)
        accounts = tuple(chart)
        return cls(
            accounts=accounts,
            names=frozenset(a.name for a in accounts),
            currencies=declared,
            open_date=open_date,
            locations=dict(locations or {}),
            width=max((len(a.name) for a in accounts), default=0),
        )

    def check(self, entry: JournalEntry) -> None:
        """Raise ``LedgerExportError`` listing everything ``entry`` uses that is undeclared."""
        problems: list[str] = []
        if entry.date < self.open_date:
            problems.append(f"is dated {entry.date}, before the books open on {self.open_date}")
        if entry.currency not in self.currencies:
            listed = ", ".join(self.currencies) or "none"
            problems.append(f"is in {entry.currency}, not a declared currency ({listed})")
        missing = [
            a for a in dict.fromkeys(ln.account for ln in entry.lines) if a not in self.names
        ]
        if missing:
            problems.append(f"posts to {', '.join(missing)}, not in the chart of accounts")
        if problems:
            found = "; it ".join(problems)
            raise LedgerExportError(
                f"cannot export entry {entry.key!r}: it {found}; extend the chart "
                "(ChartOfAccounts.with_accounts), the currencies or the open date",
                user_message=(
                    f"The books could not be exported: an entry {found}. "
                    "Add what is missing to the books' settings, then export again."
                ),
                tenant=entry.tenant_id,
                location=entry.location_id,
                operation="ledger export",
                documents=entry.documents,
                details={"entry": entry.key, "accounts": missing},
            )

    def location(self, entry: JournalEntry) -> str:
        return self.locations.get(entry.location_id, entry.location_id)

    def posting(self, line: JournalLine) -> str:
        """``account  amount CUR`` with the amount exactly at the currency's minor unit."""
        number = _number(line.amount)
        return f"{line.account:<{self.width}}  {number:>{_AMOUNT_WIDTH}} {line.amount.currency}"


def _number(amount: Money) -> str:
    value = amount.amount or Decimal(0)  # a zero is written "0.00", never "-0.00"
    return f"{value:.{minor_unit(amount.currency)}f}"


def _stream(
    entries: Iterable[JournalEntry],
    out: TextIO,
    declarations: _Declarations,
    render: Callable[[JournalEntry, _Declarations], str],
) -> int:
    count = 0
    for entry in entries:
        declarations.check(entry)
        out.write(render(entry, declarations))
        count += 1
    return count


def _bean_string(text: str) -> str:
    return f'"{text.translate(_BEANCOUNT_STRING)}"'


def _beancount_header(d: _Declarations, title: str) -> str:
    opened = d.open_date.isoformat()
    parts = [f'option "title" {_bean_string(title)}\n']
    parts += [f'option "operating_currency" {_bean_string(c)}\n' for c in d.currencies]
    parts += [
        f'option "display_precision" "{c}:{Decimal(1).scaleb(-minor_unit(c)):f}"\n'
        for c in d.currencies
    ]
    parts.append("\n")
    parts += [f"{opened} commodity {c}\n" for c in d.currencies]
    parts.append("\n")
    for account in d.accounts:
        parts.append(f"{opened} open {account.name}\n")
        if account.description:
            parts.append(f"  description: {_bean_string(account.description)}\n")
    return "".join(parts)


def _beancount_entry(entry: JournalEntry, d: _Declarations) -> str:
    parts = [
        f"\n{entry.date.isoformat()} * {_bean_string(entry.narration)}\n",
        f"  key: {_bean_string(entry.key)}\n",
        f"  location: {_bean_string(d.location(entry))}\n",
    ]
    if entry.documents:
        parts.append(f"  documents: {_bean_string(' '.join(entry.documents))}\n")
    for line in entry.lines:
        parts.append(f"  {d.posting(line)}\n")
        if line.memo:
            parts.append(f"    memo: {_bean_string(line.memo)}\n")
    return "".join(parts)


def _one_line(text: str, table: dict[int, str]) -> str:
    return " ".join(text.splitlines()).translate(table)


def _hledger_header(d: _Declarations, title: str) -> str:
    parts = [
        f"; {_one_line(title, _HLEDGER_COMMENT)}\n",
        f"; operating currencies: {', '.join(d.currencies)}\n",
        f"; books open on {d.open_date.isoformat()}\n",
        "decimal-mark .\n\n",
    ]
    # hledger wants a decimal mark in the format even with no decimals ("1,000. JPY").
    parts += [f"commodity 1,000.{'0' * minor_unit(c)} {c}\n" for c in d.currencies]
    parts.append("\n")
    for account in d.accounts:
        comment = _one_line(account.description, _HLEDGER_COMMENT)
        parts.append(f"account {account.name}{f'  ; {comment}' if comment else ''}\n")
    return "".join(parts)


def _hledger_entry(entry: JournalEntry, d: _Declarations) -> str:
    description = _one_line(entry.narration, _HLEDGER_DESCRIPTION)
    # A description opening with '(' would be read as a transaction code; an empty code
    # in front keeps it a description.
    code = "() " if description.lstrip().startswith("(") else ""
    tags = [("key", entry.key), ("location", d.location(entry))]
    if entry.documents:
        tags.append(("documents", " ".join(entry.documents)))
    parts = [f"\n{entry.date.isoformat()} * {code}{description}\n"]
    parts += [f"    ; {name}: {_one_line(value, _HLEDGER_TAG)}\n" for name, value in tags]
    for line in entry.lines:
        memo = _one_line(line.memo, _HLEDGER_COMMENT)
        parts.append(f"    {d.posting(line)}{f'  ; {memo}' if memo else ''}\n")
    return "".join(parts)


def write_beancount(
    entries: Iterable[JournalEntry],
    chart: ChartOfAccounts,
    out: TextIO,
    *,
    title: str,
    open_date: date,
    currencies: Sequence[str],
    locations: Mapping[str, str] | None = None,
) -> int:
    """Write ``entries`` as a Beancount v3 file that ``bean-check`` accepts; return how many.

    Every chart account is opened and every currency declared on ``open_date``;
    ``locations`` maps a location id to the name written in each entry's metadata.
    """
    declarations = _Declarations.of(chart, currencies, open_date, locations)
    out.write(_beancount_header(declarations, title))
    return _stream(entries, out, declarations, _beancount_entry)


def write_hledger(
    entries: Iterable[JournalEntry],
    chart: ChartOfAccounts,
    out: TextIO,
    *,
    title: str,
    open_date: date,
    currencies: Sequence[str],
    locations: Mapping[str, str] | None = None,
) -> int:
    """Write ``entries`` as an hledger journal that ``hledger check --strict`` accepts;
    return how many.

    hledger text has no escapes, so line breaks and control characters in text become
    spaces, a ';' in a description becomes ',' and a ',' in a tag value becomes ';'.
    """
    declarations = _Declarations.of(chart, currencies, open_date, locations)
    out.write(_hledger_header(declarations, title))
    return _stream(entries, out, declarations, _hledger_entry)
