"""The Clover source: the shared contract against two simulated merchants, and what is
Clover's own: the X-Clover-Auth code, notifications that only name objects, its rate and
concurrency limits, expiring tokens, refunds linked to their sales, and a week of two
locations through the engine reconciling to zero."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from clover_harness import LOCATIONS, START, TENANT, CloverWorld, clover_world
from contract import (
    HistoryContract,
    SourceContract,
    SourceHarness,
    StreamContract,
    WebhookContract,
    sweep_stream,
)
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.connectors.clover import CloverSource
from salesync.connectors.clover.client import CloverClient
from salesync.connectors.clover.webhooks import AUTH_HEADER
from salesync.connectors.ledger.books import LedgerBooks
from salesync.connectors.registry import SourceRegistry
from salesync.connectors.source import (
    ForgedWebhookError,
    Skip,
    SourceConnection,
    SourceRecord,
    Translated,
)
from salesync.domain.documents import Tenant
from salesync.engine.inbox import RecordState
from salesync.engine.reconcile import Reconciler
from salesync.engine.runner import Engine
from salesync.engine.sweep import Sweeper
from salesync.store.repositories import Connections, Locations, Tenants
from salesync.store.tables import QueuedDocumentRow
from salesync.store.vault import Vault, new_key


@pytest.fixture(scope="module")
def traded() -> Iterator[CloverWorld]:
    """Two days of trading at both merchants, every webhook message kept."""
    with clover_world(seed=7) as world:
        world.trade(days=2, sales_per_day=25)
        yield world


def sweep_all(client: CloverClient) -> list[SourceRecord]:
    records: list[SourceRecord] = []
    for stream in CloverSource.capabilities.streams:
        records += sweep_stream(client.fetch, stream, None)[0]
    return records


def translate_all(
    world: CloverWorld, records: list[SourceRecord], connection: SourceConnection
) -> list[tuple[SourceRecord, Translated]]:
    context = connection.context("clover")
    source = world.source()
    return [(r, source.translate(r.record_type, r.payload, context)) for r in records]


@pytest.fixture(scope="module")
def documents(traded: CloverWorld) -> list[tuple[SourceRecord, Translated]]:
    """Everything the first merchant's streams give, translated."""
    connection = traded.connection(0)
    client = traded.source().connect(connection, traded.transport)
    try:
        return translate_all(traded, sweep_all(client), connection)
    finally:
        client.close()


def malformed() -> list[SourceRecord]:
    order = {
        "id": "ORDER1",
        "currency": "USD",
        "state": "locked",
        "paymentState": "PAID",
        "createdTime": 1772450000000,
        "lineItems": {"elements": [{"id": "L1", "price": -5}]},
        "discounts": {"elements": [{"name": "Both", "amount": -100, "percentage": 10}]},
    }
    refund = {
        "merchant_id": "M1",
        "order": {**order, "lineItems": {"elements": []}},
        "refund": {"id": "R1", "amount": 0, "createdTime": 1772450000000},
    }
    return [
        SourceRecord("order", json.dumps({"merchant_id": "M1", "order": order})),
        SourceRecord("order", json.dumps({"merchant_id": "M1", "order": {"id": "X"}})),
        SourceRecord("refund", json.dumps(refund)),
        SourceRecord("customer", "[]"),
        SourceRecord("item", json.dumps({"merchant_id": "M1", "currency": "US", "item": {}})),
        SourceRecord("payout", "{}"),
    ]


class TestCloverSource(SourceContract, WebhookContract, StreamContract, HistoryContract):
    @pytest.fixture
    def harness(self, traded: CloverWorld) -> SourceHarness:
        return SourceHarness(
            source=traded.source(),
            connection=traded.connection(0),
            locations=LOCATIONS,
            now=traded.clock(),
            transport=traded.transport,
            deliveries=lambda: [
                d for d in traded.delivered if traded.merchant_ids[0].encode() in d.body
            ],
            # A Clover notification names the object that changed, never its content.
            delivered=(Skip,),
            signature_headers=(AUTH_HEADER,),
            history_window=(START + timedelta(hours=6), START + timedelta(hours=30)),
            malformed=malformed(),
        )

    def test_forged_deliveries_are_refused(self, harness: SourceHarness) -> None:
        """A missing auth code or another app's code fails; a changed body with the
        genuine code passes, because Clover's X-Clover-Auth is a shared code and not a
        signature of the body: only object ids are kept from it, and each is fetched
        from Clover with the merchant's token."""
        assert harness.deliveries is not None
        genuine = harness.deliveries()[0]
        unsigned = replace(
            genuine, headers={k: v for k, v in genuine.headers.items() if k != AUTH_HEADER}
        )
        resigned = replace(genuine, headers={**genuine.headers, AUTH_HEADER: "another-app"})
        for forged in (unsigned, resigned):
            with pytest.raises(ForgedWebhookError):
                harness.source.verify(forged, harness.connection)
        tampered = replace(genuine, body=genuine.body.replace(b"}", b" }", 1))
        kept = harness.source.verify(tampered, harness.connection).records
        assert all(r.record_type == "notification" for r in kept)


# -- through the engine --------------------------------------------------------------------


def set_up(
    factory: sessionmaker[Session], world: CloverWorld, vault: Vault
) -> list[SourceConnection]:
    """The tenant, its two locations and a Clover connection per merchant, stored."""
    opened = []
    with factory() as session, session.begin():
        Tenants(session).add(Tenant(TENANT, "Clover merchant"))
        for location in LOCATIONS:
            Locations(session, TENANT).add(location)
        connections = Connections(session, TENANT, vault)
        for index in range(len(LOCATIONS)):
            connection = world.connection(index)
            connection_id = connections.add(
                "clover",
                "source",
                connection.name,
                dict(connection.credentials),
                dict(connection.settings),
            )
            opened.append(connections.opened(connection_id))
    return opened


def registry(world: CloverWorld) -> SourceRegistry:
    found = SourceRegistry()
    found.add(world.source())
    return found


def test_a_week_at_two_locations_reaches_the_ledger_and_reconciles_to_zero(
    factory: sessionmaker[Session],
) -> None:
    """A week of trading at both merchants, swept through the engine, posts every sale
    and refund once into balanced books, and reconciliation finds no difference."""
    with clover_world(seed=21) as world:
        world.trade(days=7, sales_per_day=20)
        vault = Vault([new_key()])
        connections = set_up(factory, world, vault)
        clock = ManualClock(world.clock())
        sweeper = Sweeper(
            factory, clock, vault, registry=registry(world), transport=lambda _: world.transport
        )
        for connection in connections:
            sweeper.sweep(TENANT, connection.connection_id)
        engine = Engine(factory, clock)
        counts = engine.take_in(TENANT)
        assert counts[RecordState.QUARANTINED.value] == 0
        assert counts[RecordState.PARKED.value] == 0
        clock.advance(timedelta(days=2))
        engine.run_until_idle(TENANT, max_ticks=50)
        orders = [o for a in world.activities for o in a.merchant.orders.values()]
        refunds = [r for o in orders for r in o["refunds"]["elements"]]
        first = START.date()
        with factory() as session:
            balances = LedgerBooks(session, TENANT).trial_balance()
            kinds = Counter(session.scalars(select(QueuedDocumentRow.kind)).all())
            days = Reconciler(session, TENANT, LOCATIONS).reconcile(
                first, first + timedelta(days=7)
            )
        assert len(orders) == 2 * 7 * 20
        assert len(refunds) > 5
        assert kinds == {"sale": len(orders), "refund": len(refunds)}
        assert {loc.id for loc in LOCATIONS} == {d.location_id for d in days}
        assert days
        assert [d.differences for d in days if not d.clean] == []
        assert sum(b.balance.to_minor() for b in balances) == 0
