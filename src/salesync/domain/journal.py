"""Double-entry journal entries and the chart of accounts they post to."""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from salesync.domain.money import Money, total


class AccountType(enum.StrEnum):
    ASSETS = "Assets"
    LIABILITIES = "Liabilities"
    EQUITY = "Equity"
    INCOME = "Income"
    EXPENSES = "Expenses"

    @property
    def normal_debit(self) -> bool:
        """Assets and expenses grow with debits; the rest grow with credits."""
        return self in (AccountType.ASSETS, AccountType.EXPENSES)


# Both Beancount and hledger accept this shape; Beancount is the stricter of the two.
_COMPONENT = re.compile(r"^[A-Z0-9][A-Za-z0-9-]*$")
_WORD = re.compile(r"[A-Za-z0-9]+")


def account_type(name: str) -> AccountType:
    """The type of a colon-separated account name such as ``Income:Sales:Apparel``."""
    root, _, _ = name.partition(":")
    try:
        return AccountType(root)
    except ValueError:
        roots = ", ".join(t.value for t in AccountType)
        raise ValueError(f"account {name!r} must start with one of {roots}") from None


def check_account_name(name: str) -> str:
    """Return ``name`` if it is a valid account name, else raise saying what to change."""
    account_type(name)
    parts = name.split(":")
    if len(parts) < 2:
        raise ValueError(f"account {name!r} needs at least two parts, such as 'Assets:Bank'")
    for part in parts[1:]:
        if not _COMPONENT.match(part):
            raise ValueError(
                f"account {name!r}: part {part!r} must start with a capital letter or digit "
                "and hold only letters, digits and '-'"
            )
    return name


@lru_cache(maxsize=4096)
def account_component(text: str) -> str:
    """Turn free text (a category, a tax name) into one valid account name part.

    Remembered per text: every leg of every order asks, for a handful of categories."""
    words = _WORD.findall(text)
    return "-".join(w[:1].upper() + w[1:] for w in words) or "Other"


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    description: str = ""

    def __post_init__(self) -> None:
        check_account_name(self.name)

    @property
    def type(self) -> AccountType:
        return account_type(self.name)


@dataclass(frozen=True, slots=True)
class ChartOfAccounts:
    """The accounts a tenant's books may post to."""

    accounts: tuple[Account, ...]

    def __post_init__(self) -> None:
        names = [a.name for a in self.accounts]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"accounts listed twice: {', '.join(dupes)}")

    def __contains__(self, name: object) -> bool:
        return any(a.name == name for a in self.accounts)

    def __iter__(self) -> Iterator[Account]:
        return iter(self.accounts)

    def with_accounts(self, names: Iterable[str]) -> ChartOfAccounts:
        """A chart that also holds ``names`` (new ones appended in order)."""
        known = {a.name for a in self.accounts}
        extra = []
        for name in names:
            if name not in known:
                known.add(name)
                extra.append(Account(name))
        return ChartOfAccounts(self.accounts + tuple(extra)) if extra else self


@dataclass(frozen=True, slots=True)
class JournalLine:
    """One leg: a positive amount is a debit, a negative amount a credit."""

    account: str
    amount: Money
    memo: str = ""


class UnbalancedEntryError(ValueError):
    """A journal entry whose debits and credits differ: never written anywhere."""


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """A balanced set of lines on one date, in one currency, for one location.

    ``key`` is deterministic (same documents, same key) so posting it twice is detectable.
    """

    key: str
    tenant_id: str
    location_id: str
    date: dt.date
    narration: str
    lines: tuple[JournalLine, ...]
    documents: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if len(self.lines) < 2:
            raise UnbalancedEntryError(f"entry {self.key} needs at least two lines")
        currencies = {line.amount.currency for line in self.lines}
        if len(currencies) != 1:
            raise UnbalancedEntryError(
                f"entry {self.key} mixes currencies {sorted(currencies)}; one entry, one currency"
            )
        for line in self.lines:
            check_account_name(line.account)
            if not line.amount.is_rounded():
                raise UnbalancedEntryError(
                    f"entry {self.key}: {line.account} amount {line.amount.amount} is not "
                    "rounded to the currency's minor unit"
                )
        balance = total((line.amount for line in self.lines), self.currency)
        if balance:
            raise UnbalancedEntryError(f"entry {self.key} is off balance by {balance}")

    @property
    def currency(self) -> str:
        return self.lines[0].amount.currency

    @property
    def debits(self) -> Money:
        return total((ln.amount for ln in self.lines if ln.amount.amount > 0), self.currency)


def compact(lines: Iterable[JournalLine]) -> tuple[JournalLine, ...]:
    """Merge lines with the same account and memo and drop zero lines, keeping first order."""
    merged: dict[tuple[str, str], Money] = {}
    for line in lines:
        key = (line.account, line.memo)
        merged[key] = merged[key] + line.amount if key in merged else line.amount
    return tuple(
        JournalLine(account, amount, memo) for (account, memo), amount in merged.items() if amount
    )
