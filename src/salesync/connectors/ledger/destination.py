"""The built-in ledger as a destination: the same protocol every set of books speaks."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.orm import Session, sessionmaker

from salesync.domain.journal import JournalEntry
from salesync.store.repositories import Journal

NAME = "ledger"


class LedgerDestination:
    """Posts one tenant's entries into salesync's own books, in their own transaction,
    exactly as a remote destination would: keyed, idempotent, readable back by key."""

    def __init__(self, factory: sessionmaker[Session], tenant_id: str) -> None:
        self.factory = factory
        self.tenant_id = tenant_id

    @property
    def name(self) -> str:
        return NAME

    def post(self, key: str, entry: JournalEntry) -> str:
        with self.factory() as session, session.begin():
            posted = Journal(session, self.tenant_id).post(replace(entry, key=key))
        return str(posted.entry_id)

    def find(self, key: str) -> str | None:
        with self.factory() as session:
            journal = Journal(session, self.tenant_id)
            entry_id = journal.entry_id(key)
        return None if entry_id is None else str(entry_id)
