"""The Lightspeed R-Series source: the shared contract against a simulated retailer, and what
is R-Series' own: polling only, the leaky bucket and its headers, hour-long tokens and their
refresh, returns as negative sales linked to the sales they came from, and a week of two
shops' trading through the engine into books that balance and reconcile."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from contract import (
    HistoryContract,
    SourceContract,
    SourceHarness,
    StreamContract,
    sweep_stream,
)
from lightspeed_r_harness import LOCATIONS, START, TENANT, LightspeedWorld, lightspeed_world
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.connectors.ledger.books import LedgerBooks
from salesync.connectors.lightspeed_r import LightspeedRSource
from salesync.connectors.source import SourceConnection, SourceRecord, Translated
from salesync.domain.documents import Tenant
from salesync.engine.backfill import Backfills, BackfillState
from salesync.engine.inbox import RecordState
from salesync.engine.reconcile import Reconciler
from salesync.engine.runner import Engine
from salesync.engine.sweep import Sweeper
from salesync.store.repositories import Connections, Locations, Tenants
from salesync.store.tables import QueuedDocumentRow
from salesync.store.vault import Vault, new_key

WEEK = timedelta(days=7)


@pytest.fixture(scope="module")
def traded() -> Iterator[LightspeedWorld]:
    """A week of trading at two shops."""
    with lightspeed_world(seed=7) as world:
        world.trade(START + WEEK)
        yield world


@pytest.fixture(scope="module")
def sample() -> Iterator[LightspeedWorld]:
    """Two days of trading at two shops: enough of everything for the contract."""
    with lightspeed_world(seed=3) as world:
        world.trade(START + timedelta(days=2))
        yield world


def translate_all(
    world: LightspeedWorld, records: list[SourceRecord]
) -> list[tuple[SourceRecord, Translated]]:
    context = world.connection().context("lightspeed_r")
    source = LightspeedRSource()
    return [(r, source.translate(r.record_type, r.payload, context)) for r in records]


def sweep_all(world: LightspeedWorld, streams: tuple[str, ...] | None = None) -> list[SourceRecord]:
    client = world.source().connect(world.connection(), world.transport)
    try:
        records: list[SourceRecord] = []
        for stream in streams or LightspeedRSource.capabilities.streams:
            records += sweep_stream(client.fetch, stream, None)[0]
        return records
    finally:
        client.close()


def malformed() -> list[SourceRecord]:
    sale = {
        "saleID": "9001",
        "timeStamp": "2026-03-02T15:00:00+00:00",
        "completeTime": "2026-03-02T15:00:00+00:00",
        "completed": "true",
        "calcTotal": "twelve",
        "shopID": "nowhere",
        "SaleLines": {"SaleLine": {"saleLineID": "1", "unitQuantity": "1", "unitPrice": "5"}},
    }
    unlinked_return = {
        **sale,
        "calcTotal": "-5.00",
        "SaleLines": {
            "SaleLine": {
                "saleLineID": "2",
                "unitQuantity": "-1",
                "unitPrice": "5.00",
                "calcSubtotal": "-5.00",
                "parentSaleLineID": "0",
            }
        },
    }
    return [
        SourceRecord("sale", json.dumps({"sale": sale})),
        SourceRecord("sale", json.dumps({"sale": unlinked_return})),
        SourceRecord("customer", "[]"),
        SourceRecord("item", json.dumps({"description": "no id"})),
        SourceRecord("register_shift", "{}"),
    ]


class TestLightspeedRSource(SourceContract, StreamContract, HistoryContract):
    @pytest.fixture
    def harness(self, sample: LightspeedWorld) -> SourceHarness:
        return SourceHarness(
            source=LightspeedRSource(),
            connection=sample.connection(),
            locations=LOCATIONS,
            now=sample.clock(),
            transport=sample.transport,
            history_window=(START + timedelta(hours=10), START + timedelta(hours=30)),
            malformed=malformed(),
        )


# -- a week of two shops through the engine ------------------------------------------------


def set_up(
    factory: sessionmaker[Session], world: LightspeedWorld, vault: Vault
) -> SourceConnection:
    """The tenant, its two locations and the Lightspeed connection, stored; returns it opened."""
    with factory() as session, session.begin():
        Tenants(session).add(Tenant(TENANT, "Harbour Outfitters"))
        for location in LOCATIONS:
            Locations(session, TENANT).add(location)
        connection = world.connection()
        connections = Connections(session, TENANT, vault)
        connection_id = connections.add(
            "lightspeed_r",
            "source",
            "Lightspeed",
            dict(connection.credentials),
            dict(connection.settings),
        )
        return connections.opened(connection_id)


def expected_kinds(world: LightspeedWorld) -> Counter[str]:
    """What the account's trading should come to: each completed sale, each return."""
    done = [s for s in world.account.data.sales.values() if s.completed and not s.voided]
    return Counter(
        {
            "sale": sum(1 for s in done if all(li.quantity > 0 for li in s.lines)),
            "refund": sum(1 for s in done if all(li.quantity < 0 for li in s.lines)),
        }
    )


def post_and_reconcile(factory: sessionmaker[Session], world: LightspeedWorld) -> None:
    """Take in what is stored, post it, and check the books balance and reconcile to zero."""
    clock = ManualClock(world.clock())
    engine = Engine(factory, clock)
    counts = engine.take_in(TENANT)
    assert counts[RecordState.QUARANTINED.value] == 0
    assert counts[RecordState.PARKED.value] == 0
    clock.advance(timedelta(days=2))
    engine.run_until_idle(TENANT, max_ticks=50)
    with factory() as session:
        waiting = session.scalars(
            select(QueuedDocumentRow.document_id).where(QueuedDocumentRow.planned.is_(False))
        ).all()
        kinds = Counter(session.scalars(select(QueuedDocumentRow.kind)).all())
        balances = LedgerBooks(session, TENANT).trial_balance()
        days = Reconciler(session, TENANT, LOCATIONS).reconcile(
            START.date() - timedelta(days=1), (START + WEEK).date() + timedelta(days=1)
        )
    assert waiting == []
    assert kinds == expected_kinds(world)
    assert kinds["refund"] > 0
    assert sum(row.balance.to_minor() for row in balances) == 0
    assert {day.location_id for day in days} == {loc.id for loc in LOCATIONS}
    assert len({day.day for day in days}) >= 7
    assert sum(day.count for day in days) == sum(kinds.values())
    unclean = [(d.location_id, d.day, d.differences) for d in days if not d.clean]
    assert unclean == []


# The contract's ledger test already runs on SQLite and PostgreSQL; these week-long runs
# are about the source, not the store, so they take SQLite only to keep the module quick.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@SQLITE_ONLY
def test_a_week_of_two_shops_swept_into_the_ledger_reconciles_to_zero(
    factory: sessionmaker[Session], traded: LightspeedWorld
) -> None:
    """A week of both shops' trading, swept, posts every sale and return once, in balanced
    books that reconcile with the source to zero on every shop's every day."""
    vault = Vault([new_key()])
    connection = set_up(factory, traded, vault)
    sweeper = Sweeper(factory, traded.clock, vault, transport=lambda _: traded.transport)
    report = sweeper.sweep(TENANT, connection.connection_id)
    assert report.records > 0
    again = sweeper.sweep(TENANT, connection.connection_id)
    assert again.records == 0
    post_and_reconcile(factory, traded)


@SQLITE_ONLY
def test_a_week_backfilled_into_the_ledger_reconciles_to_zero(
    factory: sessionmaker[Session], traded: LightspeedWorld
) -> None:
    """The same week read as history, day by day, posts the same and reconciles to zero."""
    vault = Vault([new_key()])
    connection = set_up(factory, traded, vault)
    backfills = Backfills(factory, ManualClock(traded.clock()))
    first = START.date()
    job = backfills.start(TENANT, "lightspeed_r", first, first + WEEK)
    client = traded.source().connect(connection, traded.transport)
    try:
        done = backfills.run(job, client)
    finally:
        client.close()
    assert done.state is BackfillState.DONE
    post_and_reconcile(factory, traded)
