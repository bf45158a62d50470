"""The built-in ledger: posts documents as balanced entries and reports on them.

This is the embedded default destination: the books live in salesync's own database, and
can be exported to Beancount or hledger for an accountant's tools.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from salesync.connectors.ledger.export import write_beancount, write_hledger
from salesync.domain.documents import Document, Location
from salesync.domain.journal import AccountType, ChartOfAccounts, JournalEntry, account_type
from salesync.domain.money import Money
from salesync.domain.postings import DEFAULT_PLAN, Placement, journal_for
from salesync.domain.redaction import Redactor
from salesync.store.repositories import Accounts, Journal, Locations, Posted
from salesync.store.tables import JournalEntryRow, JournalLineRow

EPOCH = date(2000, 1, 1)
"""Accounts of an empty ledger open here; any real entry comes later."""


@dataclass(frozen=True, slots=True)
class BalanceRow:
    account: str
    balance: Money
    """Debits minus credits: positive is a debit balance."""

    @property
    def debit(self) -> Money:
        return self.balance if self.balance.amount > 0 else Money.zero(self.balance.currency)

    @property
    def credit(self) -> Money:
        return -self.balance if self.balance.amount < 0 else Money.zero(self.balance.currency)


@dataclass(frozen=True, slots=True)
class LedgerLine:
    date: date
    narration: str
    memo: str
    amount: Money
    running: Money


@dataclass(frozen=True, slots=True)
class IncomeRow:
    """One day at one location: income and expenses by account, natural sign (income > 0)."""

    day: date
    location_id: str
    account: str
    amount: Money


@dataclass(frozen=True, slots=True)
class PostSummary:
    created: int
    already_posted: int


class LedgerBooks:
    """One tenant's books in the built-in ledger."""

    def __init__(self, session: Session, tenant_id: str, plan: Placement = DEFAULT_PLAN):
        self.session = session
        self.tenant_id = tenant_id
        self.plan = plan
        self.journal = Journal(session, tenant_id)

    def post_entry(self, entry: JournalEntry) -> Posted:
        return self.journal.post(entry)

    def post_documents(
        self, documents: Iterable[Document], locations: dict[str, Location]
    ) -> PostSummary:
        """Post each document as its own entry; ones already in the books are left as is."""
        created = already = 0
        for document in documents:
            posted = self.post_entry(
                journal_for(document, locations[document.location_id], self.plan)
            )
            if posted.created:
                created += 1
            else:
                already += 1
        return PostSummary(created, already)

    def export(self, fmt: str, path: Path, *, redactor: Redactor | None = None) -> int:
        """Write the whole ledger to ``path`` as ``beancount`` or ``hledger``; returns entries.

        Narrations and memos carry what sources wrote (a sale's number, a note) and pass
        through ``redactor`` on the way out: an export is handed to other people, and a
        card number, an e-mail address or a secret a POS put in a sale's number must
        not travel with it. The ledger itself keeps what was posted."""
        scrub = redactor or Redactor.of()
        writers = {"beancount": write_beancount, "hledger": write_hledger}
        if fmt not in writers:
            raise ValueError(f"unknown export format {fmt!r}; use beancount or hledger")
        locations = Locations(self.session, self.tenant_id).all()
        first = self.session.scalar(
            select(func.min(JournalEntryRow.entry_date)).where(
                JournalEntryRow.tenant_id == self.tenant_id
            )
        )
        chart = ChartOfAccounts(tuple(Accounts(self.session, self.tenant_id).all()))
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write beside the target and rename, so a refused entry never leaves half a file.
        partial = path.with_name(f".{path.name}.partial")
        try:
            with partial.open("w", encoding="utf-8") as out:
                count = writers[fmt](
                    (_scrubbed(entry, scrub) for entry in self.journal.entries()),
                    chart,
                    out,
                    title=f"salesync books: {self.tenant_id}",
                    open_date=first or EPOCH,
                    currencies=sorted({loc.currency for loc in locations}),
                    locations={loc.id: loc.name for loc in locations},
                )
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
        return count

    def trial_balance(self, as_of: date | None = None) -> list[BalanceRow]:
        """Every account's balance per currency on ``as_of`` (all time by default)."""
        query = (
            select(
                JournalLineRow.account,
                JournalLineRow.currency,
                func.sum(JournalLineRow.amount_minor),
            )
            .join(JournalEntryRow, JournalEntryRow.id == JournalLineRow.entry_id)
            .where(
                JournalLineRow.tenant_id == self.tenant_id,
                JournalEntryRow.tenant_id == self.tenant_id,
            )
            .group_by(JournalLineRow.account, JournalLineRow.currency)
            .order_by(JournalLineRow.account, JournalLineRow.currency)
        )
        if as_of is not None:
            query = query.where(JournalEntryRow.entry_date <= as_of)
        return [
            BalanceRow(account, Money.from_minor(int(minor), currency))
            for account, currency, minor in self.session.execute(query)
            if minor
        ]

    def account_ledger(self, account: str, currency: str | None = None) -> list[LedgerLine]:
        """Every line posted to ``account``, in date order, with the running balance."""
        query = (
            select(
                JournalEntryRow.entry_date,
                JournalEntryRow.narration,
                JournalLineRow.memo,
                JournalLineRow.amount_minor,
                JournalLineRow.currency,
            )
            .join(JournalEntryRow, JournalEntryRow.id == JournalLineRow.entry_id)
            .where(JournalLineRow.tenant_id == self.tenant_id, JournalLineRow.account == account)
            .order_by(
                JournalLineRow.currency,
                JournalEntryRow.entry_date,
                JournalEntryRow.id,
                JournalLineRow.line_no,
            )
        )
        if currency is not None:
            query = query.where(JournalLineRow.currency == currency)
        running: dict[str, Money] = {}
        out = []
        for day, narration, memo, minor, cur in self.session.execute(query):
            amount = Money.from_minor(int(minor), cur)
            running[cur] = running.get(cur, Money.zero(cur)) + amount
            out.append(LedgerLine(day, narration, memo, amount, running[cur]))
        return out

    def income_statement(
        self, start: date, end: date, location_id: str | None = None
    ) -> list[IncomeRow]:
        """Income and expenses by day, location and account between ``start`` and ``end``."""
        query = (
            select(
                JournalEntryRow.entry_date,
                JournalEntryRow.location_id,
                JournalLineRow.account,
                JournalLineRow.currency,
                func.sum(JournalLineRow.amount_minor),
            )
            .join(JournalEntryRow, JournalEntryRow.id == JournalLineRow.entry_id)
            .where(
                JournalLineRow.tenant_id == self.tenant_id,
                and_(JournalEntryRow.entry_date >= start, JournalEntryRow.entry_date <= end),
                or_(
                    JournalLineRow.account.like(f"{AccountType.INCOME.value}:%"),
                    JournalLineRow.account.like(f"{AccountType.EXPENSES.value}:%"),
                ),
            )
            .group_by(
                JournalEntryRow.entry_date,
                JournalEntryRow.location_id,
                JournalLineRow.account,
                JournalLineRow.currency,
            )
            .order_by(
                JournalEntryRow.entry_date, JournalEntryRow.location_id, JournalLineRow.account
            )
        )
        if location_id is not None:
            query = query.where(JournalEntryRow.location_id == location_id)
        rows = []
        for day, loc, account, cur, minor in self.session.execute(query):
            amount = Money.from_minor(int(minor), cur)
            natural = -amount if account_type(account) is AccountType.INCOME else amount
            rows.append(IncomeRow(day, loc, account, natural))
        return rows


def net_income(rows: Iterable[IncomeRow]) -> dict[tuple[date, str, str], Money]:
    """Income minus expenses per (day, location, currency)."""
    result: dict[tuple[date, str, str], Money] = {}
    for row in rows:
        key = (row.day, row.location_id, row.amount.currency)
        sign = 1 if account_type(row.account) is AccountType.INCOME else -1
        result[key] = result.get(key, Money.zero(row.amount.currency)) + row.amount * sign
    return result


def _scrubbed(entry: JournalEntry, redactor: Redactor) -> JournalEntry:
    return replace(
        entry,
        narration=redactor.text(entry.narration),
        lines=tuple(replace(line, memo=redactor.text(line.memo)) for line in entry.lines),
    )
