"""Account balances summed straight from journal entries, to compare with a tool's report."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from salesync.domain.journal import JournalEntry


def balances(entries: Iterable[JournalEntry]) -> dict[tuple[str, str], Decimal]:
    """Sum every line by ``(account, currency)``: debits positive, credits negative.

    Each account's own lines only (a parent does not include its children), and a pair
    that nets to zero is kept, so callers decide whether an empty balance is worth showing.
    """
    sums: dict[tuple[str, str], Decimal] = {}
    for entry in entries:
        for line in entry.lines:
            key = (line.account, line.amount.currency)
            sums[key] = sums.get(key, Decimal(0)) + line.amount.amount
    return sums
