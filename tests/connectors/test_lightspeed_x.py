"""The Lightspeed X-Series source: the shared contract against a simulated retailer, a
week of two outlets through the engine into balanced, reconciled books, and what is
X-Series' own: sales by status, returns, the version sweep behind unreliable webhooks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from contract import (
    HistoryContract,
    SourceContract,
    SourceHarness,
    StreamContract,
    WebhookContract,
    sweep_stream,
)
from lightspeed_x_harness import (
    LOCATIONS,
    START,
    TENANT,
    LightspeedWorld,
    lightspeed_world,
)
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.connectors.ledger.books import LedgerBooks
from salesync.connectors.lightspeed_x import LightspeedXSource
from salesync.connectors.lightspeed_x.client import LightspeedXClient
from salesync.connectors.lightspeed_x.webhooks import SIGNATURE_HEADER
from salesync.connectors.source import (
    Skip,
    SourceConnection,
    SourceRecord,
    Translated,
)
from salesync.domain.documents import (
    Customer,
    DocumentKind,
    Product,
    Refund,
    Sale,
    Tenant,
    document_id,
)
from salesync.engine.inbox import RecordState
from salesync.engine.reconcile import Reconciler
from salesync.engine.runner import Engine
from salesync.engine.sweep import Sweeper
from salesync.store.repositories import Connections, Documents, Locations, Tenants
from salesync.store.tables import QueuedDocumentRow
from salesync.store.vault import Vault, new_key

FINISHED = ("CLOSED", "ONACCOUNT_CLOSED", "LAYBY_CLOSED")


@pytest.fixture(scope="module")
def traded() -> Iterator[LightspeedWorld]:
    """A week of trading at two outlets, every webhook delivered and kept."""
    with lightspeed_world(seed=7) as world:
        world.trade(days=7)
        yield world


@pytest.fixture
def quiet() -> Iterator[LightspeedWorld]:
    """A fresh retailer that has not traded yet."""
    with lightspeed_world(seed=5) as fresh:
        yield fresh


def source_for(world: LightspeedWorld) -> LightspeedXSource:
    return LightspeedXSource(sleep=world.wait)


def sweep_all(client: LightspeedXClient) -> list[SourceRecord]:
    records: list[SourceRecord] = []
    for stream in LightspeedXSource.capabilities.streams:
        records += sweep_stream(client.fetch, stream, None)[0]
    return records


def translate_all(
    records: list[SourceRecord], connection: SourceConnection
) -> list[tuple[SourceRecord, Translated]]:
    context = connection.context("lightspeed_x")
    source = LightspeedXSource()
    return [(r, source.translate(r.record_type, r.payload, context)) for r in records]


@pytest.fixture(scope="module")
def documents(traded: LightspeedWorld) -> list[tuple[SourceRecord, Translated]]:
    """Everything the traded retailer's streams give, translated."""
    client = source_for(traded).connect(traded.connection(), traded.transport)
    try:
        return translate_all(sweep_all(client), traded.connection())
    finally:
        client.close()


def of_type(pairs: list[tuple[SourceRecord, Translated]], kind: type) -> list[Any]:
    return [t for _, t in pairs if isinstance(t, kind)]


def malformed() -> list[SourceRecord]:
    sale = {
        "id": "S1",
        "outlet_id": "nowhere",
        "status": "CLOSED",
        "sale_date": "2026-03-02T01:00:00",
        "total_price": "ten",
        "total_tax": 1.5,
        "line_items": [{"id": "L1", "quantity": 1, "price": 10, "price_total": 10}],
        "payments": [],
        "version": 5,
    }
    return_without_sale = {
        **sale,
        "sale_date": "2026-03-02T01:00:00Z",
        "total_price": -10,
        "total_tax": 0,
        "line_items": [
            {"id": "L1", "product_id": "P1", "quantity": -1, "price": 10, "price_total": -10}
        ],
    }
    return [
        SourceRecord("sale", json.dumps({"sale": sale, "currency": "NZD"})),
        SourceRecord("sale", json.dumps({"sale": return_without_sale, "currency": "XYZ"})),
        SourceRecord("customer", "[]"),
        SourceRecord("product", json.dumps({"product": {"id": "P1"}, "currency": "NZD"})),
        SourceRecord("consignment", "{}"),
    ]


class TestLightspeedXSource(SourceContract, WebhookContract, StreamContract, HistoryContract):
    @pytest.fixture
    def harness(self, traded: LightspeedWorld) -> SourceHarness:
        return SourceHarness(
            source=source_for(traded),
            connection=traded.connection(),
            locations=LOCATIONS,
            now=traded.clock(),
            transport=traded.transport,
            deliveries=lambda: list(traded.delivered),
            delivered=(Customer,),
            signature_headers=(SIGNATURE_HEADER,),
            history_window=(START + timedelta(days=2), START + timedelta(days=5)),
            malformed=malformed(),
        )


# -- through the engine --------------------------------------------------------------------


def set_up(
    factory: sessionmaker[Session], world: LightspeedWorld, vault: Vault
) -> SourceConnection:
    """The tenant, its locations and the Lightspeed connection, stored; returns it opened."""
    with factory() as session, session.begin():
        Tenants(session).add(Tenant(TENANT, "Kowhai Coffee"))
        for location in LOCATIONS:
            Locations(session, TENANT).add(location)
        connection = world.connection()
        connections = Connections(session, TENANT, vault)
        connection_id = connections.add(
            "lightspeed_x",
            "source",
            "Lightspeed",
            dict(connection.credentials),
            dict(connection.settings),
        )
        return connections.opened(connection_id)


def finished_sales(world: LightspeedWorld) -> list[Any]:
    return [s for s in world.retailer.sales.values() if s.status in FINISHED]


def test_a_week_at_two_outlets_reaches_balanced_books_that_reconcile_to_zero(
    factory: sessionmaker[Session], quiet: LightspeedWorld
) -> None:
    """A week of sales, returns, tips, discounts, split tenders and paid-off accounts at
    two outlets is swept into the ledger: every finished sale posted once, balanced, and
    reconciliation finds no difference on any day."""
    world = quiet
    world.trade(days=7)
    vault = Vault([new_key()])
    connection = set_up(factory, world, vault)
    engine = Engine(factory, world.clock)
    sweeper = Sweeper(factory, world.clock, vault, transport=lambda _: world.transport)
    sweeper.sweep(TENANT, connection.connection_id)
    counts = engine.take_in(TENANT)
    assert counts[RecordState.QUARANTINED.value] == 0
    assert counts[RecordState.PARKED.value] == 0
    world.clock.advance(timedelta(days=2))
    engine.run_until_idle(TENANT, max_ticks=50)
    sales = finished_sales(world)
    returns = [s for s in sales if s.return_for]
    with factory() as session:
        kinds = list(session.scalars(select(QueuedDocumentRow.kind)).all())
        waiting = session.scalars(
            select(QueuedDocumentRow.document_id).where(QueuedDocumentRow.planned.is_(False))
        ).all()
        balances = LedgerBooks(session, TENANT).trial_balance()
        days = Reconciler(session, TENANT, LOCATIONS).reconcile(
            START.date() - timedelta(days=1), START.date() + timedelta(days=9)
        )
    assert waiting == []
    assert kinds.count("sale") == len(sales) - len(returns)
    assert kinds.count("refund") == len(returns) > 0
    assert sum(b.balance.to_minor() for b in balances) == 0
    assert {b.balance.currency for b in balances} == {"NZD"}
    assert {d.location_id for d in days} == {loc.id for loc in LOCATIONS}
    assert len(days) >= 14
    for day in days:
        assert day.clean, (day.location_id, day.day, day.differences, day.documents)
    assert any(s.status in ("ONACCOUNT_CLOSED", "LAYBY_CLOSED") for s in sales)


def test_a_missed_lightspeed_webhook_is_caught_by_the_sweep(
    factory: sessionmaker[Session], quiet: LightspeedWorld
) -> None:
    """With every delivery dropped, each sweep from the saved version still brings every
    finished sale in as a sale or a refund."""
    world = quiet
    vault = Vault([new_key()])
    connection = set_up(factory, world, vault)
    world.deliver()
    world.delivered.clear()
    with world.admin() as admin:
        admin.post("/_sandbox/webhooks/chaos", json={"drop_next": 100_000})
    engine = Engine(factory, world.clock)
    sweeper = Sweeper(factory, world.clock, vault, transport=lambda _: world.transport)
    for days in (2, 3):
        world.trade(days=days)
        assert world.delivered == []
        with factory() as session, session.begin():
            Connections(session, TENANT, vault).replace_credentials(
                connection.connection_id, world.credentials()
            )
        sweeper.sweep(TENANT, connection.connection_id)
        counts = engine.take_in(TENANT)
        assert counts[RecordState.QUARANTINED.value] == 0
        with factory() as session:
            stored = Documents(session, TENANT)
            for sale in finished_sales(world):
                kind = DocumentKind.REFUND if sale.return_for else DocumentKind.SALE
                found = stored.get(document_id(TENANT, "lightspeed_x", kind, sale.id))
                assert isinstance(found, Refund if sale.return_for else Sale), sale.id
    dropped = world.retailer.notifier.deliveries.dropped
    assert sum(1 for m in dropped if m.topic == "sale.update") > 20


# -- what X-Series' sales become -----------------------------------------------------------


def test_open_parked_and_voided_sales_are_skipped_with_their_reason(
    documents: list[tuple[SourceRecord, Translated]],
) -> None:
    """On-account and layby sales wait until paid off, parked and voided ones sell nothing:
    each is a skip saying so."""
    reasons = {
        json.loads(r.payload)["sale"]["status"]: t.reason
        for r, t in documents
        if r.record_type == "sale" and isinstance(t, Skip)
    }
    assert "paid off" in reasons["ONACCOUNT"]
    assert "layby" in reasons["LAYBY"]
    assert "parked" in reasons["SAVED"]
    assert set(reasons) <= {"ONACCOUNT", "LAYBY", "SAVED", "VOIDED"}


def test_a_paid_off_account_posts_every_payment_on_the_day_it_was_paid_off(
    documents: list[tuple[SourceRecord, Translated]],
) -> None:
    """An ONACCOUNT_CLOSED or LAYBY_CLOSED sale is a sale of all its goods, paid by every
    payment made towards it, dated by the last one."""
    paid_off = [
        (json.loads(r.payload)["sale"], t)
        for r, t in documents
        if r.record_type == "sale"
        and json.loads(r.payload)["sale"]["status"] in ("ONACCOUNT_CLOSED", "LAYBY_CLOSED")
    ]
    assert paid_off
    for raw, sale in paid_off:
        assert isinstance(sale, Sale)
        assert sale.paid == sale.grand_total
        assert len(sale.payments) == len(raw["payments"])
        last = max(p["payment_date"] for p in raw["payments"])
        assert sale.occurred_at.strftime("%Y-%m-%dT%H:%M:%SZ") == last


def test_a_return_is_a_refund_of_the_sale_it_came_from(
    traded: LightspeedWorld, documents: list[tuple[SourceRecord, Translated]]
) -> None:
    """A sale of negative quantities names the sale it returns; its refund links to that
    sale's document and gives back what the return says, tax included."""
    refunds = of_type(documents, Refund)
    sales = {s.id: s for s in of_type(documents, Sale)}
    assert refunds
    for refund in refunds:
        row = traded.retailer.sales[refund.external_id]
        assert refund.sale_id == document_id(
            TENANT, "lightspeed_x", DocumentKind.SALE, row.return_for
        )
        assert refund.sale_id in sales
        assert refund.paid.amount == -row.paid == refund.amount.amount
        sold = {line.sku for line in sales[refund.sale_id].lines}
        assert {line.sku for line in refund.lines} <= sold


def test_sales_carry_tips_discounts_split_tenders_and_gst(
    documents: list[tuple[SourceRecord, Translated]],
) -> None:
    """Tips ring up as the tip product, discounts stay on their lines, split tenders are
    several payments, and GST is charged at 15 % on top of tax-exclusive prices."""
    sales = of_type(documents, Sale)
    assert any(s.tip for s in sales)
    assert all(line.sku != "tip" for s in sales for line in s.lines)
    assert any(line.discounts for s in sales for line in s.lines)
    assert any(len(s.payments) > 1 for s in sales)
    assert {t.rate for s in sales for t in s.taxes} == {Decimal("0.15")}
    assert {s.location_id for s in sales} == {loc.id for loc in LOCATIONS}


def test_customers_products_and_closures_are_listed(
    documents: list[tuple[SourceRecord, Translated]],
) -> None:
    """Customers and products come under Lightspeed ids; a register closure posts nothing."""
    customers = of_type(documents, Customer)
    products = of_type(documents, Product)
    assert customers
    assert all(c.id.startswith("lightspeed_x:") for c in customers)
    assert {p.sku for p in products} >= {"BEAN-1KG", "TOTE", "tip"}
    tip = next(p for p in products if p.sku == "tip")
    assert not tip.taxable
    closures = [t for r, t in documents if r.record_type == "register_closure"]
    assert closures
    assert all(isinstance(t, Skip) and "till" in t.reason for t in closures)
