"""Rich tables for the books."""

from __future__ import annotations

from rich.table import Table

from salesync.connectors.ledger.books import BalanceRow
from salesync.domain.money import Money


def balance_table(rows: list[BalanceRow], title: str) -> Table:
    table = Table(title=title)
    table.add_column("Account")
    table.add_column("Currency")
    table.add_column("Debit", justify="right")
    table.add_column("Credit", justify="right")
    debits: dict[str, Money] = {}
    credits: dict[str, Money] = {}
    for row in rows:
        cur = row.balance.currency
        debit, credit = row.debit, row.credit
        debits[cur] = debits.get(cur, Money.zero(cur)) + debit
        credits[cur] = credits.get(cur, Money.zero(cur)) + credit
        table.add_row(
            row.account,
            cur,
            f"{debit.amount:,}" if debit else "",
            f"{credit.amount:,}" if credit else "",
        )
    for cur in sorted(debits):
        ok = "balanced" if debits[cur] == credits[cur] else "[red]OUT OF BALANCE[/red]"
        table.add_row(
            f"[bold]Total ({ok})[/bold]", cur, f"{debits[cur].amount:,}", f"{credits[cur].amount:,}"
        )
    return table
