"""The built-in ledger passes the destination contract."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

import pytest
from destination_contract import MERCHANT, DestinationContract
from sqlalchemy.orm import Session, sessionmaker

from salesync.connectors.destination import Books, DestinationConnection, Posting, Written
from salesync.connectors.ledger.books import LedgerBooks
from salesync.connectors.ledger.destination import Ledger
from salesync.domain.errors import TransientError
from salesync.domain.journal import JournalLine
from salesync.store.repositories import Journal
from wrapped_books import WrappedBooks


@dataclass
class _Armed(WrappedBooks):
    """The ledger never fails on its own; the harness makes calls fail around it."""

    faults: list[str]

    def post(self, postings: Sequence[Posting]) -> list[Written]:
        fault = self.faults.pop(0) if self.faults else None
        if fault == "server_error":
            raise TransientError("the database went away", code="unavailable")
        if fault == "rate_limited":
            raise TransientError("too many writers", code="busy", retry_after=1)
        written = self.inner.post(postings)
        if fault == "lost_response":
            raise TransientError("the answer was lost", code="timeout")
        return written


@dataclass
class LedgerHarness:
    factory: sessionmaker[Session]
    destination: Ledger
    faults: list[str] = field(default_factory=list)

    def open(self) -> Books:
        connection = DestinationConnection("ledger", MERCHANT.tenant.id, {}, {})
        return _Armed(self.destination.connect(connection), self.faults)

    def balances(self) -> dict[str, Decimal]:
        with self.factory() as session:
            rows = LedgerBooks(session, MERCHANT.tenant.id).trial_balance()
        return {row.account: row.balance.amount for row in rows}

    def books_account(self, account: str) -> str:
        return account

    def transactions(self) -> int:
        with self.factory() as session:
            return sum(1 for _ in Journal(session, MERCHANT.tenant.id).entries())

    def refused(self, posting: Posting) -> Posting:
        """The same key again with other amounts: the ledger will not let a key hold two
        different entries."""
        books = self.open()
        books.post([posting])
        lines = tuple(JournalLine(ln.account, -ln.amount, ln.memo) for ln in posting.entry.lines)
        return replace(posting, entry=replace(posting.entry, lines=lines))

    def arm(self, fault: str, times: int = 1) -> None:
        self.faults += [fault] * times


class TestLedgerContract(DestinationContract):
    name = "ledger"
    speaks_http = False

    @pytest.fixture
    def harness(self, sender_db: sessionmaker[Session]) -> LedgerHarness:
        return LedgerHarness(sender_db, Ledger(sender_db))
