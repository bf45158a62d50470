"""Shared engine flows: deliver documents through a ticking engine, read the books."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.connectors.ledger.books import LedgerBooks
from salesync.domain.documents import Document
from salesync.domain.postings import DEFAULT_PLAN, Placement, journal_for
from salesync.domain.simulate import DemoMerchant
from salesync.engine.runner import Engine
from salesync.store import codec
from salesync.store.tables import PostingDocumentRow


def deliver(engine: Engine, clock: ManualClock, docs: Iterable[Document], until: datetime) -> None:
    """Each document arrives a minute after it happens; the engine ticks every hour."""
    next_tick = clock() + timedelta(hours=1)
    for doc in sorted(docs, key=lambda d: d.occurred_at):
        arrive = doc.occurred_at + timedelta(minutes=1)
        while next_tick <= arrive:
            clock.set(next_tick)
            engine.tick("demo")
            next_tick += timedelta(hours=1)
        clock.set(max(arrive, clock()))
        payload = json.dumps(codec.encode(doc))
        engine.receive("demo", "simulator", doc.kind.value, payload, event_id=doc.id)
    while next_tick <= until:
        clock.set(next_tick)
        engine.tick("demo")
        next_tick += timedelta(hours=1)


def expected_balances(
    merchant: DemoMerchant, docs: list[Document], placement: Placement = DEFAULT_PLAN
) -> Counter[tuple[str, str]]:
    """What the books must hold: every document's own legs, summed per account."""
    locations = {loc.id: loc for loc in merchant.locations}
    sums: Counter[tuple[str, str]] = Counter()
    for doc in docs:
        for line in journal_for(doc, locations[doc.location_id], placement).lines:
            sums[(line.account, line.amount.currency)] += line.amount.to_minor()
    return Counter({key: minor for key, minor in sums.items() if minor})


def book_balances(db: sessionmaker[Session]) -> Counter[tuple[str, str]]:
    with db() as session:
        rows = LedgerBooks(session, "demo").trial_balance()
    return Counter({(r.account, r.balance.currency): r.balance.to_minor() for r in rows})


def coverage(db: sessionmaker[Session]) -> Counter[str]:
    with db() as session:
        return Counter(session.scalars(select(PostingDocumentRow.document_id)))
