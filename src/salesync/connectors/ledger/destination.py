"""The built-in ledger as a destination: the same contract every set of books speaks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import httpx
from sqlalchemy.orm import Session, sessionmaker

from salesync.connectors.destination import (
    DestinationCapabilities,
    DestinationConnection,
    Posting,
    Written,
)
from salesync.domain.errors import BugError, ConflictError, SyncError, ValidationError
from salesync.domain.journal import JournalEntry, UnbalancedEntryError
from salesync.store.repositories import Journal

NAME = "ledger"
CAPABILITIES = DestinationCapabilities(
    forms=frozenset({"journal_entry"}),
    batch_size=100,
    find_batch=500,
    ensures=frozenset({"accounts"}),
)


class LedgerDestination:
    """Posts one tenant's entries into salesync's own books exactly as a remote destination
    would: keyed, idempotent, readable back by key. A batch is one transaction; a posting
    refused (an entry that does not balance, a key holding another entry) is refused
    alone and the others are written."""

    def __init__(self, factory: sessionmaker[Session], tenant_id: str) -> None:
        self.factory = factory
        self.tenant_id = tenant_id

    @property
    def name(self) -> str:
        return NAME

    @property
    def capabilities(self) -> DestinationCapabilities:
        return CAPABILITIES

    def post(self, postings: Sequence[Posting]) -> list[Written]:
        written: dict[str, Written] = {}
        entries: list[tuple[Posting, JournalEntry]] = []
        for posting in postings:
            try:
                entry = posting.entry
                if entry.key != posting.key:
                    entry = replace(entry, key=posting.key)
                entries.append((posting, entry))
            except (UnbalancedEntryError, ValueError) as exc:
                written[posting.key] = Written(posting.key, error=_refused(posting, exc))
        with self.factory() as session, session.begin():
            journal = Journal(session, self.tenant_id)
            posted = journal.post_all([entry for _, entry in entries])
            for (posting, entry), result in zip(entries, posted, strict=True):
                try:
                    if not result.created:
                        _same_entry(journal, entry, posting)
                except ConflictError as exc:
                    written[posting.key] = Written(posting.key, error=exc)
                else:
                    written[posting.key] = Written(posting.key, ref=str(result.entry_id))
        return [written[p.key] for p in postings]

    def find(self, keys: Sequence[str]) -> dict[str, str]:
        with self.factory() as session:
            found = Journal(session, self.tenant_id).entry_ids(list(keys))
        return {key: str(entry_id) for key, entry_id in found.items()}

    def batch_group(self, posting: Posting) -> str:
        """Every entry is written alike, in one transaction."""
        return ""

    def close(self) -> None:
        return None


def _refused(posting: Posting, exc: Exception) -> SyncError:
    return ValidationError(
        f"the ledger refused {posting.key}: {exc}",
        code="entry_refused",
        operation="post",
        documents=posting.document_ids,
    )


def _same_entry(journal: Journal, entry: JournalEntry, posting: Posting) -> None:
    """A key posted again must carry the same entry; anything else is a conflict that a
    person resolves (it means two different postings were planned under one key)."""
    held = journal.get(entry.key)
    if held is None or _legs(held) == _legs(entry):
        return
    raise ConflictError(
        f"the ledger already holds a different entry under {entry.key}",
        user_message=f"{entry.narration}: the books already hold a different entry under "
        "the same reference; review both before posting again.",
        code="key_conflict",
        operation="post",
        documents=posting.document_ids,
    )


def _legs(entry: JournalEntry) -> list[tuple[str, str, str]]:
    return sorted((ln.account, str(ln.amount.amount), ln.amount.currency) for ln in entry.lines)


class Ledger:
    """The built-in ledger as a destination type: it needs no credentials, only the
    database, so ``connect`` is given the session factory at registration."""

    def __init__(self, factory: sessionmaker[Session] | None = None) -> None:
        self.factory = factory

    @property
    def name(self) -> str:
        return NAME

    @property
    def capabilities(self) -> DestinationCapabilities:
        return CAPABILITIES

    def connect(
        self, connection: DestinationConnection, transport: httpx.BaseTransport | None = None
    ) -> LedgerDestination:
        if self.factory is None:
            raise BugError("the ledger destination was registered without a database")
        return LedgerDestination(self.factory, connection.tenant_id)
