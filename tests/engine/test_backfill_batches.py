"""Backfill in batches: storing a window's records many per statement ends exactly as
storing them one by one does, repeats included, down to the books and reconciliation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.domain.simulate import DemoMerchant, simulate
from salesync.engine.backfill import Backfills, HistoricalRecord, SimulatedHistory
from salesync.engine.inbox import Inbox
from salesync.engine.reconcile import Reconciler
from salesync.engine.runner import Engine
from salesync.store import codec, tables
from salesync.store.repositories import Journal, Locations, Tenants

FIRST = date(2026, 8, 1)
DONE = datetime(2026, 11, 20, 12, tzinfo=UTC)


class Told:
    """A history told from a list, in the list's order, repeats and all."""

    name = SimulatedHistory.name
    connection_id = None

    def __init__(self, records: list[tuple[datetime, HistoricalRecord]]) -> None:
        self.records = records

    def history(self, start: datetime, end: datetime) -> Iterator[HistoricalRecord]:
        return (record for when, record in self.records if start <= when < end)


def _told(merchant: DemoMerchant, seed: int, days: int, repeats: list[int]) -> Told:
    records = [
        (
            document.occurred_at,
            HistoricalRecord(
                document.kind.value, json.dumps(codec.encode(document)), f"sim:{document.id}"
            ),
        )
        for document in simulate(merchant, FIRST, days, seed=seed)
    ]
    # A repeat follows its original within the same window, as a provider's retry would.
    for position in sorted({r % len(records) for r in repeats}, reverse=True):
        records.insert(position + 1, records[position])
    return Told(records)


def _one_by_one(db: sessionmaker[Session], clock: ManualClock, told: Told, days: int) -> None:
    """The domain path: each record received on its own, a window per transaction."""
    for offset in range(days):
        start = datetime.combine(FIRST + timedelta(days=offset), datetime.min.time(), UTC)
        with db() as session, session.begin():
            inbox = Inbox(session, "demo", clock)
            for record in told.history(start, start + timedelta(days=1)):
                inbox.receive(
                    told.name,
                    record.record_type,
                    record.payload,
                    event_id=record.event_id,
                    origin="backfill",
                )


def _record(row: tables.InboxRecordRow) -> tuple[object, ...]:
    return (
        row.record_type,
        row.event_id,
        row.payload_hash,
        row.state,
        row.origin,
        row.document_id,
        row.problems,
    )


def _state(db: sessionmaker[Session], merchant: DemoMerchant, days: int) -> dict[str, Any]:
    """Everything the two paths must agree on, with database ids replaced by the records
    they name. The order records are received in is left out: it follows the windows
    (two one-day windows tell a history in another order than one two-day window)."""
    with db() as session:
        inbox = list(session.scalars(select(tables.InboxRecordRow).order_by("id")))
        originals = {row.id: _record(row) for row in inbox if row.duplicate_of is None}
        documents = session.scalars(select(tables.DocumentRow).order_by("id"))
        postings = session.scalars(select(tables.PostingRow).order_by("key"))
        last = FIRST + timedelta(days=days - 1)
        reconciled = Reconciler(session, "demo", merchant.locations).reconcile(FIRST, last)
        return {
            "inbox": sorted(originals.values(), key=repr),
            "duplicates": sorted(
                ((_record(row), originals[row.duplicate_of]) for row in inbox if row.duplicate_of),
                key=repr,
            ),
            "documents": [
                (row.id, row.revision, row.body_hash, row.business_day, row.total_minor)
                for row in documents
            ],
            "postings": [(row.key, row.mode, row.state) for row in postings],
            "journal": sorted(Journal(session, "demo").entries(), key=lambda e: e.key),
            "unreconciled": [day for day in reconciled if not day.clean],
        }


def _reset(db: sessionmaker[Session], merchant: DemoMerchant) -> None:
    """Empty the tables either path writes, so both start from the same books."""
    with db() as session, session.begin():
        for table in (
            tables.JournalLineRow,
            tables.JournalEntryRow,
            tables.PostingDocumentRow,
            tables.PostingRow,
            tables.QueuedDocumentRow,
            tables.IncidentRow,
            tables.InboxRecordRow,
            tables.RunRow,
            tables.DocumentRow,
            tables.BackfillRow,
        ):
            session.execute(table.__table__.delete())
        if Tenants(session).get("demo") is None:
            Tenants(session).add(merchant.tenant)
            for location in merchant.locations:
                Locations(session, "demo").add(location)


@settings(
    max_examples=8,
    deadline=None,
    # An example runs for seconds; a failure is worth reading unshrunk rather than waiting.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    seed=st.integers(0, 10_000),
    days=st.integers(1, 3),
    window_days=st.integers(1, 2),
    batch=st.integers(1, 40),
    repeats=st.lists(st.integers(0, 10_000), max_size=12),
)
@example(seed=1745, days=3, window_days=2, batch=5, repeats=[])  # told out of time order
def test_batches_end_as_one_by_one_and_repeats_do_nothing(
    factory: sessionmaker[Session],
    merchant: DemoMerchant,
    seed: int,
    days: int,
    window_days: int,
    batch: int,
    repeats: list[int],
) -> None:
    """Batched or one by one, the same history leaves the same inbox (repeats stored as
    duplicates of their originals), documents, postings and journal, with every day
    reconciled; fed again, it stores only duplicates and the books do not move."""
    told = _told(merchant, seed, days, repeats)
    clock = ManualClock(DONE)

    _reset(factory, merchant)
    _one_by_one(factory, clock, told, days)
    Engine(factory, clock).run_until_idle("demo", max_ticks=50)
    expected = _state(factory, merchant, days)

    _reset(factory, merchant)
    backfills = Backfills(factory, clock, batch=batch)
    last = FIRST + timedelta(days=days - 1)
    done = backfills.run(backfills.start("demo", told.name, FIRST, last, window_days), told)
    Engine(factory, clock).run_until_idle("demo", max_ticks=50)
    batched = _state(factory, merchant, days)

    assert batched == expected
    assert batched["journal"]
    assert batched["unreconciled"] == []
    start = datetime.combine(FIRST, datetime.min.time(), UTC)
    fetched = len(list(told.history(start, start + timedelta(days=days))))
    assert done.records + done.duplicates == fetched
    assert done.duplicates == len(batched["duplicates"])

    again = backfills.run(backfills.start("demo", told.name, FIRST, last, window_days), told)
    Engine(factory, clock).run_until_idle("demo", max_ticks=50)
    fed_again = _state(factory, merchant, days)
    assert (again.records, again.duplicates) == (0, fetched)
    assert {k: v for k, v in fed_again.items() if k != "duplicates"} == {
        k: v for k, v in batched.items() if k != "duplicates"
    }
