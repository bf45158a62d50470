"""The Clover source: the shared contract against two simulated merchants, and what is
Clover's own: the X-Clover-Auth code, notifications that only name objects, its rate and
concurrency limits, expiring tokens, refunds linked to their sales, and a week of two
locations through the engine reconciling to zero."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from clover_harness import LOCATIONS, START, TENANT, WEBHOOK_URL, CloverWorld, clover_world
from contract import (
    HistoryContract,
    SourceContract,
    SourceHarness,
    StreamContract,
    WebhookContract,
    sweep_stream,
)
from contract import (
    take_in_one_by_one as one_by_one,
)
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.connectors.clover import CloverSource
from salesync.connectors.clover.client import CloverClient
from salesync.connectors.clover.refresh import CloverRefresher
from salesync.connectors.clover.webhooks import AUTH_HEADER
from salesync.connectors.ledger.books import LedgerBooks
from salesync.connectors.registry import SourceRegistry
from salesync.connectors.source import (
    ForgedWebhookError,
    Skip,
    SourceConnection,
    SourceRecord,
    Translated,
    WebhookRequest,
)
from salesync.connectors.tokens import Grant, TokenManager
from salesync.domain.documents import (
    Customer,
    DocumentKind,
    Product,
    Refund,
    Sale,
    Tenant,
    document_id,
)
from salesync.domain.errors import AuthError, BugError, ErrorKind, TransientError, ValidationError
from salesync.domain.validation import validate_refund, validate_sale
from salesync.engine.backfill import Backfills, BackfillState
from salesync.engine.inbox import RecordState
from salesync.engine.reconcile import Reconciler
from salesync.engine.runner import Engine
from salesync.engine.sweep import Sweeper
from salesync.sandbox.clover import CloverActivity, RateLimits, create_app
from salesync.sandbox.clover.till import Sold, Tendered, ring_up
from salesync.sandbox.faults import Fault, FaultKind
from salesync.sandbox.server import serving
from salesync.store.database import make_engine, migrate, session_factory
from salesync.store.documents import Documents
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
        SourceRecord(
            "order", json.dumps({"merchant_id": "M1", "order": {**order, "currency": "XYZ"}})
        ),
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


@pytest.fixture
def books(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """A migrated SQLite database for the week-long runs (the contract's ledger test
    covers PostgreSQL)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'salesync.db'}")
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()


def registry(world: CloverWorld) -> SourceRegistry:
    found = SourceRegistry()
    found.add(world.source())
    return found


def test_a_week_at_two_locations_reaches_the_ledger_and_reconciles_to_zero(
    books: sessionmaker[Session],
) -> None:
    """A week of trading at both merchants, swept through the engine, posts every sale
    and refund once into balanced books, and reconciliation finds no difference."""
    with clover_world(seed=21) as world:
        world.trade(days=7, sales_per_day=15)
        vault = Vault([new_key()])
        connections = set_up(books, world, vault)
        clock = ManualClock(world.clock())
        sweeper = Sweeper(
            books, clock, vault, registry=registry(world), transport=lambda _: world.transport
        )
        for connection in connections:
            sweeper.sweep(TENANT, connection.connection_id)
        engine = Engine(books, clock)
        counts = engine.take_in(TENANT)
        assert counts[RecordState.QUARANTINED.value] == 0
        assert counts[RecordState.PARKED.value] == 0
        clock.advance(timedelta(days=2))
        engine.run_until_idle(TENANT, max_ticks=50)
        orders = [o for a in world.activities for o in a.merchant.orders.values()]
        refunds = [r for o in orders for r in o["refunds"]["elements"]]
        first = START.date()
        with books() as session:
            balances = LedgerBooks(session, TENANT).trial_balance()
            kinds = Counter(session.scalars(select(QueuedDocumentRow.kind)).all())
            days = Reconciler(session, TENANT, LOCATIONS).reconcile(
                first, first + timedelta(days=7)
            )
        assert len(orders) == 2 * 7 * 15
        paid = [o for o in orders if o["paymentState"] != "OPEN"]
        assert 0 < len(paid) < len(orders), "some tabs are left open"
        assert len(refunds) > 5
        assert kinds == {"sale": len(paid), "refund": len(refunds)}
        assert {loc.id for loc in LOCATIONS} == {d.location_id for d in days}
        assert days
        assert [d.differences for d in days if not d.clean] == []
        assert sum(b.balance.to_minor() for b in balances) == 0


def test_a_week_of_history_backfills_into_the_same_books(books: sessionmaker[Session]) -> None:
    """A backfill of the week, one job per merchant, posts every sale and refund once, and
    the books reconcile to zero day by day."""
    with clover_world(seed=23) as world:
        world.trade(days=7, sales_per_day=12)
        vault = Vault([new_key()])
        connections = set_up(books, world, vault)
        clock = ManualClock(world.clock())
        backfills = Backfills(books, clock)
        first = START.date()
        source = world.source()
        for connection in connections:
            job = backfills.start(TENANT, "clover", first, first + timedelta(days=7))
            client = source.connect(connection, world.transport)
            assert backfills.run(job, client).state is BackfillState.DONE
            client.close()
        engine = Engine(books, clock)
        counts = engine.take_in(TENANT)
        assert counts[RecordState.QUARANTINED.value] == 0
        assert counts[RecordState.PARKED.value] == 0
        clock.advance(timedelta(days=2))
        engine.run_until_idle(TENANT, max_ticks=50)
        orders = [o for a in world.activities for o in a.merchant.orders.values()]
        refunds = [r for o in orders for r in o["refunds"]["elements"]]
        paid = [o for o in orders if o["paymentState"] != "OPEN"]
        with books() as session:
            kinds = Counter(session.scalars(select(QueuedDocumentRow.kind)).all())
            days = Reconciler(session, TENANT, LOCATIONS).reconcile(
                first, first + timedelta(days=7)
            )
        assert kinds == {"sale": len(paid), "refund": len(refunds)}
        assert days
        assert [d.differences for d in days if not d.clean] == []


def a_paid_order(client: CloverClient, connection: SourceConnection) -> dict[str, Any]:
    """A paid order with nothing refunded, as Clover serves it with its lists expanded."""
    context = connection.context("clover")
    return next(
        json.loads(r.payload)["order"]
        for r in sweep_stream(client.fetch, "orders", None)[0]
        if r.record_type == "order"
        and not json.loads(r.payload)["order"]["refunds"]["elements"]
        and isinstance(CloverSource().translate(r.record_type, r.payload, context), Sale)
    )


def version_of(
    client: CloverClient, order: dict[str, Any], later: int, customer: str
) -> SourceRecord:
    """The record of ``order`` as Clover serves it ``later`` minutes on, with ``customer``
    on it now: each change moves its modifiedTime on."""
    changed = {
        **order,
        "customers": {"elements": [{"id": customer}]},
        "modifiedTime": order["modifiedTime"] + later * 60_000,
    }
    (record,) = client.order_records(changed)
    return record


def take_in_one_by_one(
    factory: sessionmaker[Session],
    world: CloverWorld,
    connection: SourceConnection,
    records: list[SourceRecord],
) -> None:
    """Each record received and taken in by the engine before the next arrives."""
    engine = Engine(factory, ManualClock(world.clock()))
    one_by_one(engine, TENANT, "clover", connection.connection_id, records)


def test_an_older_version_of_an_order_delivered_late_leaves_the_newer_sale(
    factory: sessionmaker[Session], world: CloverWorld
) -> None:
    """An order's latest change taken in, then an earlier change of it arriving late (a
    notification's fetch that lost the race): the sale stays at the latest, no new revision."""
    connection = set_up(factory, world, Vault([new_key()]))[0]
    client = world.source().connect(connection, world.transport)
    order = a_paid_order(client, connection)
    first, second = sorted(world.activities[0].merchant.customers)[:2]
    older, newer = version_of(client, order, 1, first), version_of(client, order, 2, second)
    client.close()
    take_in_one_by_one(factory, world, connection, [newer, older])
    sale_id = document_id(TENANT, "clover", DocumentKind.SALE, order["id"])
    with factory() as session:
        stored = Documents(session, TENANT)
        assert stored.revision(sale_id) == 1
        sale = stored.get(sale_id)
        assert isinstance(sale, Sale)
        assert sale.customer_id == f"clover:{second}"


def test_an_order_reverted_at_clover_becomes_a_third_revision_equal_to_the_first(
    factory: sessionmaker[Session], world: CloverWorld
) -> None:
    """Customer A, then B, then A again, each later: the sale follows Clover back to A as
    revision 3, though its body equals revision 1."""
    connection = set_up(factory, world, Vault([new_key()]))[0]
    client = world.source().connect(connection, world.transport)
    order = a_paid_order(client, connection)
    a, b = sorted(world.activities[0].merchant.customers)[:2]
    records = [version_of(client, order, n, c) for n, c in ((1, a), (2, b), (3, a))]
    client.close()
    take_in_one_by_one(factory, world, connection, records)
    context = connection.context("clover")
    expected = CloverSource().translate(records[0].record_type, records[0].payload, context)
    assert isinstance(expected, Sale)
    with factory() as session:
        stored = Documents(session, TENANT)
        assert stored.revision(expected.id) == 3
        assert stored.get(expected.id) == expected
        assert stored.at_revision(expected.id, 1) == expected
        assert stored.at_revision(expected.id, 2) == replace(expected, customer_id=f"clover:{b}")


# -- webhooks ------------------------------------------------------------------------------


def own_deliveries(world: CloverWorld, index: int = 0) -> list[WebhookRequest]:
    merchant = world.merchant_ids[index].encode()
    return [d for d in world.delivered if merchant in d.body]


def test_notifications_name_objects_that_the_client_fetches(traded: CloverWorld) -> None:
    """A message carries only object ids; fetched, they are the orders the sweep gives."""
    connection = traded.connection(0)
    source = traded.source()
    client = source.connect(connection, traded.transport)
    try:
        notes = [r for d in own_deliveries(traded) for r in source.verify(d, connection).records]
        fetched = client.resolve(notes)
        swept = sweep_all(client)
    finally:
        client.close()
    assert {r.record_type for r in notes} == {"notification"}
    assert {json.loads(r.payload)["objectId"][:2] for r in notes} >= {"O:", "C:", "I:"}
    by_payload = {r.payload for r in swept}
    orders = [r for r in fetched if r.record_type in ("order", "refund")]
    assert orders
    # Each order is fetched as it is now, so it is the same record the sweep gives.
    assert {r.payload for r in orders if r.record_type == "refund"} <= by_payload
    latest = {json.loads(r.payload)["order"]["id"]: r.payload for r in orders}
    assert set(latest.values()) <= by_payload


def test_a_message_keeps_only_the_connections_merchant(traded: CloverWorld) -> None:
    """Updates of another merchant in the same message are not kept by this connection."""
    source = traded.source()
    other = next(iter(own_deliveries(traded, 1)))
    mine = source.verify(other, traded.connection(0)).records
    theirs = source.verify(other, traded.connection(1)).records
    assert theirs
    ids = {json.loads(r.payload)["merchant_id"] for r in mine}
    assert ids <= {traded.merchant_ids[0]}


def test_retried_messages_repeat_their_record_keys(traded: CloverWorld) -> None:
    """Clover gives no event id: an update is keyed by merchant, object, type and time."""
    delivery = own_deliveries(traded)[0]
    connection = traded.connection(0)
    first = traded.source().verify(delivery, connection)
    again = traded.source().verify(replace(delivery), connection)
    assert [r.event_id for r in first.records] == [r.event_id for r in again.records]
    body = json.loads(delivery.body)
    update = body["merchants"][traded.merchant_ids[0]][0]
    assert first.records[0].event_id == (
        f"{traded.merchant_ids[0]}:{update['objectId']}:{update['type']}:{update['ts']}"
    )


def test_a_connection_without_an_auth_code_refuses_every_message(traded: CloverWorld) -> None:
    """With no auth code to compare, even a genuine message is refused."""
    connection = traded.connection(0)
    bare = replace(connection, credentials={"access_token": "x"})
    with pytest.raises(ForgedWebhookError) as refused:
        traded.source().verify(own_deliveries(traded)[0], bare)
    assert refused.value.code == "webhook_auth_code_missing"


def test_the_verification_code_is_kept_for_the_developer_to_enter() -> None:
    """Clover's verification POST has no auth code yet; it is read, and its code shown."""
    with clover_world(seed=3) as world:
        seen: list[WebhookRequest] = []

        def receive(request: httpx.Request) -> httpx.Response:
            seen.append(WebhookRequest(str(request.url), dict(request.headers), request.read()))
            return httpx.Response(200)

        world.platform.use_webhook_client(httpx.Client(transport=httpx.MockTransport(receive)))
        world.platform.set_webhook_url(WEBHOOK_URL)
        (delivery,) = seen
        code = json.loads(delivery.body)["verificationCode"]
        webhook = world.source().verify(delivery, world.connection(0))
        (record,) = webhook.records
        skip = world.source().translate(
            record.record_type, record.payload, world.connection(0).context("clover")
        )
        assert isinstance(skip, Skip)
        assert code in skip.reason
        assert world.platform.verify("not-the-code") is None
        assert world.platform.verify(code)


def test_a_genuine_message_that_cannot_be_read_names_its_problems(traded: CloverWorld) -> None:
    """A message with the right auth code but no merchants map is a validation error."""
    delivery = replace(own_deliveries(traded)[0], body=b'{"appId": "A", "merchants": []}')
    with pytest.raises(ValidationError) as caught:
        traded.source().verify(delivery, traded.connection(0))
    assert "merchants" in {p.path for p in caught.value.problems}


# -- what the records say ------------------------------------------------------------------


def of_type(pairs: list[tuple[SourceRecord, Translated]], kind: type) -> list[Any]:
    return [t for _, t in pairs if isinstance(t, kind)]


def test_refunds_are_linked_to_their_sales_and_add_up(
    documents: list[tuple[SourceRecord, Translated]], traded: CloverWorld
) -> None:
    """Every refund names a sale the sweep gave, returns what it sold, and validates."""
    sales = {s.id: s for s in of_type(documents, Sale)}
    refunds = of_type(documents, Refund)
    assert refunds
    by_sale: dict[str, list[Refund]] = {}
    for refund in sorted(refunds, key=lambda r: r.occurred_at):
        sale = sales[refund.sale_id]
        earlier = by_sale.setdefault(refund.sale_id, [])
        assert validate_refund(refund, sale, earlier, now=traded.clock()) == []
        earlier.append(refund)


def test_sales_carry_modifiers_discounts_service_charges_tips_and_split_tenders(
    documents: list[tuple[SourceRecord, Translated]],
) -> None:
    """Clover's pricing parts all reach the sales, each named."""
    sales = of_type(documents, Sale)
    assert any(s.tip for s in sales)
    assert any(len(s.payments) > 1 for s in sales)
    assert any(s.order_discounts for s in sales)
    assert any(s.service_charges for s in sales)
    assert any(d for s in sales for line in s.lines for d in line.discounts)
    assert {t.rate for s in sales for t in s.taxes} == {Decimal("0.08875")}
    assert {line.category for s in sales for line in s.lines} == {"Bakery", "Coffee", "Retail"}
    assert {p.tender for s in sales for p in s.payments} == {"Cash", "Credit Card", "Debit Card"}


def test_sales_carry_the_time_clover_last_changed_their_order(
    documents: list[tuple[SourceRecord, Translated]], traded: CloverWorld
) -> None:
    """A sale carries its order's modifiedTime, moved on by every later refund; a refund,
    which Clover gives no time of change, carries none."""
    orders = {o["id"]: o for a in traded.activities for o in a.merchant.orders.values()}
    sales = of_type(documents, Sale)
    assert any(orders[s.external_id]["refunds"]["elements"] for s in sales)
    for sale in sales:
        modified = orders[sale.external_id]["modifiedTime"]
        assert sale.source_updated_at == datetime.fromtimestamp(modified / 1000, UTC)
    assert all(r.source_updated_at is None for r in of_type(documents, Refund))


def test_customers_and_items_are_listed_under_clover_ids(
    documents: list[tuple[SourceRecord, Translated]],
) -> None:
    """Customers and inventory items come as customers and products, named by Clover id."""
    customers = of_type(documents, Customer)
    products = of_type(documents, Product)
    assert customers
    assert all(c.id.startswith("clover:") and c.email for c in customers)
    assert {p.sku for p in products} == {f"CL-{i:03d}" for i in range(1, 8)}
    sold = {s.customer_id for s in of_type(documents, Sale) if s.customer_id}
    assert sold <= {c.id for c in customers}


def test_history_holds_the_orders_created_and_refunds_made_in_the_window(
    traded: CloverWorld,
) -> None:
    """A window's history is its orders by creation and its refunds by when they were
    made (whatever day their order was), oldest first."""
    start, end = START + timedelta(hours=30), START + timedelta(days=2)
    low, high = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    orders = traded.activities[0].merchant.orders.values()
    client = traded.source().connect(traded.connection(0), traded.transport)
    records = list(client.history(start, end))
    client.close()
    bodies = [json.loads(r.payload) for r in records]
    sold = {
        b["order"]["id"] for b, r in zip(bodies, records, strict=True) if r.record_type == "order"
    }
    given = {b["refund"]["id"] for b in bodies if "refund" in b}
    assert sold == {o["id"] for o in orders if low <= o["createdTime"] < high}
    assert given == {
        r["id"] for o in orders for r in o["refunds"]["elements"] if low <= r["createdTime"] < high
    }
    assert given
    times = [
        b["refund"]["createdTime"] if "refund" in b else b["order"]["createdTime"] for b in bodies
    ]
    assert times == sorted(times)


def test_an_open_order_is_skipped_with_its_reason(traded: CloverWorld) -> None:
    """An order still open at the register is no sale yet, and the skip says so."""
    record = SourceRecord(
        "order",
        json.dumps(
            {
                "merchant_id": traded.merchant_ids[0],
                "order": {
                    "id": "OPEN1",
                    "currency": "USD",
                    "state": "open",
                    "paymentState": "OPEN",
                    "createdTime": 1772450000000,
                },
            }
        ),
    )
    skip = traded.source().translate(
        "order", record.payload, traded.connection(0).context("clover")
    )
    assert isinstance(skip, Skip)
    assert "OPEN1 is open" in skip.reason


def test_a_malformed_order_names_every_problem_and_its_path(traded: CloverWorld) -> None:
    """A negative price and a discount that is both an amount and a percentage are named."""
    record = malformed()[0]
    with pytest.raises(ValidationError) as caught:
        traded.source().translate(
            record.record_type, record.payload, traded.connection(0).context("clover")
        )
    paths = {p.path for p in caught.value.problems}
    assert {"order.lineItems.elements[0].price", "order.discounts.elements[0]"} <= paths


def test_an_order_of_more_than_a_hundred_lines_is_read_whole(world: CloverWorld) -> None:
    """Clover cuts an expanded list at 100: the rest of the line items are read from the
    order's own list, so the sale holds all 130 units and adds up."""
    activity = world.activities[0]
    merchant = activity.merchant
    order = ring_up(
        world.platform,
        merchant,
        [Sold(next(iter(merchant.items)), quantity=130)],
        [Tendered(next(iter(merchant.tenders)), Decimal(1))],
        device_id=next(iter(merchant.devices)),
    )
    connection = world.connection(0)
    client = world.source().connect(connection, world.transport)
    record = SourceRecord(
        "notification",
        json.dumps(
            {"merchant_id": merchant.id, "objectId": f"O:{order['id']}", "type": "CREATE", "ts": 1}
        ),
    )
    (fetched,) = client.resolve([record])
    client.close()
    sale = world.source().translate("order", fetched.payload, connection.context("clover"))
    assert isinstance(sale, Sale)
    assert sum(line.quantity for line in sale.lines) == 130
    assert validate_sale(sale, now=world.clock()) == []


def test_the_merchant_and_its_devices_are_read(traded: CloverWorld) -> None:
    """The merchant's currency and its two devices come from the merchant endpoints."""
    client = traded.source().connect(traded.connection(0), traded.transport)
    try:
        assert client.currency() == "USD"
        assert sorted(d["name"] for d in client.devices()) == ["Counter", "Mobile"]
    finally:
        client.close()


# -- limits, tokens and errors -------------------------------------------------------------


@pytest.fixture
def world() -> Iterator[CloverWorld]:
    """A fresh pair of merchants with a day of trading, for tests that change them."""
    with clover_world(seed=11) as fresh:
        fresh.trade(days=1, sales_per_day=15)
        yield fresh


def test_parallel_sweeps_never_exceed_the_token_concurrency_cap() -> None:
    """Twelve sweeps at once on one token hold at most Clover's five requests in flight,
    so none is refused, while the cap is really reached."""
    limits = RateLimits(app_per_second=10**6, token_per_second=10**6)
    with clover_world(seed=5, limits=limits) as world:
        world.trade(days=1, sales_per_day=5)
        world.platform.faults.arm("orders.list", Fault(FaultKind.SLOW, delay=0.15), times=12)
        token = world.token(world.merchant_ids[0])
        with serving(create_app(world.platform)) as url:
            connection = world.connection(0, base_url=url)
            failures: list[BaseException] = []

            def sweep() -> None:
                client = CloverSource().connect(connection)
                try:
                    client.fetch("orders", None)
                except BaseException as exc:
                    failures.append(exc)
                finally:
                    client.close()

            threads = [threading.Thread(target=sweep) for _ in range(12)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        assert failures == []
        assert world.platform.peak.refused == []
        assert world.platform.peak.in_flight[token] == 5


def test_parallel_sweeps_of_three_merchants_share_the_apps_cap() -> None:
    """Three merchants swept at once, six sweeps each, never hold more than the app's ten
    requests in flight, nor five on any token."""
    limits = RateLimits(app_per_second=10**6, token_per_second=10**6)
    with clover_world(seed=6, limits=limits) as world:
        third = world.platform.add_merchant("Airport Cart", "America/New_York")
        CloverActivity(world.platform, third, 99).setup()
        world.platform.faults.arm("items.list", Fault(FaultKind.SLOW, delay=0.15), times=18)
        with serving(create_app(world.platform)) as url:
            connections = [world.connection(0, base_url=url), world.connection(1, base_url=url)]
            token = world.platform.install(third.id).access_token
            connections.append(
                replace(
                    connections[0],
                    settings={**connections[0].settings, "merchant_id": third.id},
                    credentials={"access_token": token},
                )
            )
            failures: list[BaseException] = []

            def sweep(connection: SourceConnection) -> None:
                client = CloverSource().connect(connection)
                try:
                    client.fetch("items", None)
                except BaseException as exc:
                    failures.append(exc)
                finally:
                    client.close()

            threads = [
                threading.Thread(target=sweep, args=(c,)) for c in connections for _ in range(6)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        peak = world.platform.peak
        assert failures == []
        assert peak.refused == []
        assert peak.in_flight[world.platform.app.id] == 10
        tokens = [c.credentials["access_token"] for c in connections]
        assert max(peak.in_flight[t] for t in tokens) <= 5


def test_a_429_is_waited_out_for_its_retry_after(world: CloverWorld) -> None:
    """Two rate-limited answers are waited out for their Retry-After, then the page comes."""
    world.platform.faults.arm("orders.list", Fault(FaultKind.RATE_LIMITED, retry_after=3), 2)
    waits: list[float] = []

    def wait(seconds: float) -> None:
        waits.append(seconds)
        world.wait(seconds)

    client = CloverSource(clock=world.seconds, sleep=wait).connect(
        world.connection(0), world.transport
    )
    page = client.fetch("orders", None)
    client.close()
    assert page.records
    assert waits == [3.0, 3.0]


def test_clovers_own_limits_are_paced_and_backed_off_from_its_headers() -> None:
    """Under Clover's documented limits a sweep is spaced to 16 calls a second; when
    another client used the token's second, the 429's Retry-After is waited out."""
    with clover_world(seed=9, limits=RateLimits()) as world:
        world.trade(days=1, sales_per_day=10)
        connection = world.connection(0)
        token = world.token(world.merchant_ids[0])
        for _ in range(16):
            assert world.platform.token_window.acquire(token).allowed
        began = world.clock()
        client = world.source().connect(connection, world.transport)
        try:
            notes = [
                r
                for d in own_deliveries(world)
                for r in world.source().verify(d, connection).records
            ]
            fetched = client.resolve(notes)
        finally:
            client.close()
        assert fetched
        assert world.platform.peak.refused == ["tokenLimit"]
        calls = len(notes) + 2
        assert world.clock() - began >= timedelta(seconds=calls // 16)


def test_limits_that_outlast_the_retry_budget_go_up_as_transient_errors(
    world: CloverWorld,
) -> None:
    """A Retry-After longer than the client waits is a transient error naming the wait."""
    world.platform.faults.arm("orders.list", Fault(FaultKind.RATE_LIMITED, retry_after=120))
    client = world.source().connect(world.connection(0), world.transport)
    with pytest.raises(TransientError) as caught:
        client.fetch("orders", None)
    client.close()
    assert caught.value.retry_after == 120
    assert caught.value.code == "rate_limited"
    assert caught.value.details["limit"] == "tokenLimit"


def test_an_expired_token_asks_the_merchant_to_reconnect(world: CloverWorld) -> None:
    """An access token past its expiry is refused with 401, which is an auth error."""
    connection = world.connection(0)
    world.clock.advance(timedelta(hours=2))
    client = world.source().connect(connection, world.transport)
    with pytest.raises(AuthError) as caught:
        client.fetch("orders", None)
    client.close()
    assert caught.value.kind is ErrorKind.AUTH
    assert "Reconnect Clover" in caught.value.user_message


def test_an_uninstalled_app_asks_the_merchant_to_reconnect(world: CloverWorld) -> None:
    """Once the merchant removes the app its tokens are revoked: an auth error, no retry."""
    connection = world.connection(0)
    assert world.platform.tokens.revoke_subject(world.merchant_ids[0]) >= 1
    calls: list[float] = []
    client = CloverSource(clock=world.seconds, sleep=calls.append).connect(
        connection, world.transport
    )
    with pytest.raises(AuthError) as caught:
        client.fetch("customers", None)
    client.close()
    assert caught.value.code == "unauthorized"
    assert calls == []


def test_a_refresh_token_renews_the_pair_once(world: CloverWorld) -> None:
    """Redeeming a refresh token gives a working pair; the spent one is refused after."""
    pair = world.platform.install(world.merchant_ids[0])
    refresher = CloverRefresher(world.platform.app.id, transport=world.transport)
    world.clock.advance(timedelta(hours=2))
    grant = Grant(pair.access_token, pair.refresh_token)
    renewed = refresher(grant, world.clock())
    assert renewed.refresh_token not in (None, pair.refresh_token)
    assert renewed.expires_at == world.clock().replace(microsecond=0) + timedelta(hours=1)
    connection = replace(world.connection(0), credentials={"access_token": renewed.access_token})
    client = world.source().connect(connection, world.transport)
    assert client.fetch("items", None).records
    client.close()
    with pytest.raises(AuthError) as spent:
        refresher(grant, world.clock())
    assert spent.value.code == "invalid_grant"
    refresher.close()


def test_salesyncs_token_manager_keeps_the_renewed_pair_before_the_sweep_uses_it(
    books: sessionmaker[Session], world: CloverWorld
) -> None:
    """With the refresher behind salesync's token manager, an expired pair is renewed
    once and stored, the sweep reads with the stored token, and the next renewal uses
    the stored (rotated) refresh token."""
    pair = world.platform.install(world.merchant_ids[0])
    expires = world.clock() + timedelta(seconds=pair.expires_in)
    connection = world.connection(0)
    vault = Vault([new_key()])
    with books() as session, session.begin():
        Tenants(session).add(Tenant(TENANT, "Clover merchant"))
        for location in LOCATIONS:
            Locations(session, TENANT).add(location)
        credentials = {
            **connection.credentials,
            **Grant(pair.access_token, pair.refresh_token, expires).into({}),
        }
        connection_id = Connections(session, TENANT, vault).add(
            "clover", "source", "Clover", credentials, dict(connection.settings)
        )
    refresher = CloverRefresher(world.platform.app.id, transport=world.transport)
    manager = TokenManager(books, vault, world.clock, lambda _: refresher)
    assert manager.access_token(TENANT, connection_id) == pair.access_token
    world.clock.advance(timedelta(hours=2))
    renewed = manager.access_token(TENANT, connection_id)
    assert renewed != pair.access_token
    sweeper = Sweeper(
        books, world.clock, vault, registry=registry(world), transport=lambda _: world.transport
    )
    assert sweeper.sweep(TENANT, connection_id).records > 0
    world.clock.advance(timedelta(hours=2))
    assert manager.access_token(TENANT, connection_id) not in (renewed, pair.access_token)
    with pytest.raises(AuthError):
        refresher(Grant(pair.access_token, pair.refresh_token), world.clock())
    refresher.close()


def test_a_missing_token_or_merchant_is_refused_before_any_call(world: CloverWorld) -> None:
    """Without a token it is an auth error; without a merchant id, a named bad setting."""
    connection = world.connection(0)
    with pytest.raises(AuthError):
        world.source().connect(replace(connection, credentials={}), world.transport)
    unnamed = replace(connection, settings={"locations": {}})
    with pytest.raises(ValidationError) as caught:
        world.source().connect(unnamed, world.transport)
    assert [p.path for p in caught.value.problems] == ["merchant_id"]


def test_server_errors_and_cut_answers_are_retried(world: CloverWorld) -> None:
    """A 503 and an answer cut in half are asked again; the page then comes."""
    world.platform.faults.arm("orders.list", FaultKind.SERVER_ERROR)
    world.platform.faults.arm("orders.list", FaultKind.MALFORMED)
    client = world.source().connect(world.connection(0), world.transport)
    assert client.fetch("orders", None).records
    client.close()


def test_a_lost_answer_is_asked_again(world: CloverWorld) -> None:
    """An answer dropped half way, as a reset connection, is read again (reads are safe)."""
    world.platform.faults.arm("customers.list", FaultKind.LOST_RESPONSE)
    client = world.source().connect(world.connection(0), world.transport)
    assert client.fetch("customers", None).records
    client.close()
    assert ("customers.list", FaultKind.LOST_RESPONSE) in world.platform.faults.fired


def test_network_failures_never_leak_httpx(world: CloverWorld) -> None:
    """A connection that cannot be made is a transient error, not an httpx exception."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = world.source().connect(world.connection(0), httpx.MockTransport(refuse))
    with pytest.raises(TransientError) as caught:
        client.fetch("orders", None)
    client.close()
    assert caught.value.code == "connection_failed"


def test_an_unknown_object_and_a_bad_cursor_are_bugs(world: CloverWorld) -> None:
    """A 404 for an object salesync named, or a cursor it cannot read, is salesync's bug."""
    client = world.source().connect(world.connection(0), world.transport)
    note = SourceRecord(
        "notification",
        json.dumps(
            {"merchant_id": world.merchant_ids[0], "objectId": "O:NOPE", "type": "UPDATE", "ts": 1}
        ),
    )
    with pytest.raises(BugError) as missing:
        client.resolve([note])
    assert missing.value.code == "not_found"
    with pytest.raises(BugError):
        client.fetch("orders", "not a cursor")
    client.close()
