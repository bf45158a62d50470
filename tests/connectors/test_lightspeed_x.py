"""The Lightspeed X-Series source: the shared contract against a simulated retailer, a
week of two outlets through the engine into balanced, reconciled books, and what is
X-Series' own: sales by status, returns, the version sweep behind unreliable webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from contract import (
    HistoryContract,
    SourceContract,
    SourceHarness,
    StreamContract,
    WebhookContract,
    stored_sale,
    sweep_stream,
)
from contract import (
    take_in_one_by_one as one_by_one,
)
from fastapi.testclient import TestClient
from lightspeed_x_harness import (
    LOCATIONS,
    START,
    TENANT,
    LightspeedWorld,
    lightspeed_world,
)
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.api import create_app as create_api
from salesync.connectors.ledger.books import LedgerBooks
from salesync.connectors.lightspeed_x import LightspeedXSource, token_endpoint, token_refresher
from salesync.connectors.lightspeed_x.client import LightspeedXClient
from salesync.connectors.lightspeed_x.webhooks import SIGNATURE_HEADER
from salesync.connectors.source import (
    ForgedWebhookError,
    Skip,
    SourceConnection,
    SourceRecord,
    Translated,
    WebhookRequest,
)
from salesync.connectors.tokens import TokenManager
from salesync.domain.documents import (
    EXCHANGE_TENDER,
    Customer,
    DocumentKind,
    Product,
    Refund,
    Sale,
    Tenant,
    document_id,
)
from salesync.domain.errors import (
    AuthError,
    BugError,
    ErrorKind,
    TransientError,
    ValidationError,
)
from salesync.engine.backfill import Backfills, BackfillState
from salesync.engine.inbox import RecordState
from salesync.engine.reconcile import Reconciler
from salesync.engine.runner import Engine
from salesync.engine.sweep import Sweeper
from salesync.sandbox.faults import FaultKind
from salesync.sandbox.lightspeed_x import RateLimit, create_app
from salesync.sandbox.oauth import OAuthError
from salesync.sandbox.server import free_port, serving
from salesync.store import codec
from salesync.store.database import make_engine, migrate, session_factory
from salesync.store.documents import Documents
from salesync.store.repositories import Connections, Locations, Tenants
from salesync.store.tables import ConnectionRow, DocumentRow, QueuedDocumentRow
from salesync.store.vault import Vault, new_key

FINISHED = ("CLOSED", "ONACCOUNT_CLOSED", "LAYBY_CLOSED")


@pytest.fixture(scope="module")
def traded() -> Iterator[LightspeedWorld]:
    """A week of trading at two outlets, every webhook delivered and kept."""
    with lightspeed_world(seed=7) as world:
        world.trade(days=7)
        world.activity.sell("SAVED")  # and one sale left parked at the end
        world.deliver()
        yield world


@pytest.fixture
def quiet() -> Iterator[LightspeedWorld]:
    """A fresh retailer that has not traded yet."""
    with lightspeed_world(seed=5) as fresh:
        yield fresh


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """A migrated SQLite database, for tests about Lightspeed rather than the store (the
    week's end to end and the contract run on PostgreSQL too)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'salesync.db'}")
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()


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
    """A week of sales, returns, exchanges, tips, discounts, split tenders and paid-off
    accounts at two outlets is swept into the ledger: every finished sale posted once, balanced, and
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
    exchanges = [s for s in returns if any(li.quantity > 0 for li in s.line_items)]
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
    # An exchange is both: a sale of the new goods and a refund of the goods given back.
    assert kinds.count("sale") == len(sales) - len(returns) + len(exchanges)
    assert kinds.count("refund") == len(returns) > 0
    assert sum(b.balance.to_minor() for b in balances) == 0
    assert {b.balance.currency for b in balances} == {"NZD"}
    assert {d.location_id for d in days} == {loc.id for loc in LOCATIONS}
    assert len(days) >= 14
    for day in days:
        assert day.clean, (day.location_id, day.day, day.differences, day.documents)
    assert any(s.status in ("ONACCOUNT_CLOSED", "LAYBY_CLOSED") for s in sales)


def test_a_missed_lightspeed_webhook_is_caught_by_the_sweep(
    db: sessionmaker[Session], quiet: LightspeedWorld
) -> None:
    """With every delivery dropped, each sweep from the saved version still brings every
    finished sale in as a sale or a refund."""
    world = quiet
    vault = Vault([new_key()])
    connection = set_up(db, world, vault)
    world.deliver()
    world.delivered.clear()
    with world.admin() as admin:
        admin.post("/_sandbox/webhooks/chaos", json={"drop_next": 100_000})
    engine = Engine(db, world.clock)
    sweeper = Sweeper(db, world.clock, vault, transport=lambda _: world.transport)
    for days in (2, 3):
        world.trade(days=days)
        assert world.delivered == []
        with db() as session, session.begin():
            Connections(session, TENANT, vault).replace_credentials(
                connection.connection_id, world.credentials()
            )
        sweeper.sweep(TENANT, connection.connection_id)
        counts = engine.take_in(TENANT)
        assert counts[RecordState.QUARANTINED.value] == 0
        with db() as session:
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


def test_state_and_attributes_decide_and_the_legacy_status_stands_in_without_them(
    documents: list[tuple[SourceRecord, Translated]], traded: LightspeedWorld
) -> None:
    """Read by state and attributes alone, or by the deprecated status alone, every sale
    translates the same; a sale still awaiting delivery posts nothing yet."""
    context = traded.connection().context("lightspeed_x")
    source = LightspeedXSource()
    for record, translated in documents:
        if record.record_type != "sale":
            continue
        body = json.loads(record.payload)
        for dropped in (("status",), ("state", "attributes")):
            sale = {k: v for k, v in body["sale"].items() if k not in dropped}
            again = json.dumps({**body, "sale": sale})
            assert source.translate("sale", again, context) == translated, dropped
    record = next(r for r, t in documents if isinstance(t, Sale))
    body = json.loads(record.payload)
    body["sale"] |= {"state": "pending", "attributes": ["delivery"]}
    waiting = source.translate("sale", json.dumps(body), context)
    assert isinstance(waiting, Skip)
    assert "delivery" in waiting.reason


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
        assert sale.occurred_at.isoformat() == last


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
        if any(li.quantity > 0 for li in row.line_items):
            continue  # an exchange: its own test
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


def test_the_tip_product_is_named_by_the_connection(
    traded: LightspeedWorld, documents: list[tuple[SourceRecord, Translated]]
) -> None:
    """Named otherwise, the tip product is a sale line like any other (one SKU or a list)."""
    record, tipped = next((r, t) for r, t in documents if isinstance(t, Sale) and t.tip)
    assert isinstance(tipped, Sale)
    for named in ("gratuity", ["gratuity", "GRAT-2"]):
        context = traded.connection(tip_skus=named).context("lightspeed_x")
        plain = LightspeedXSource().translate(record.record_type, record.payload, context)
        assert isinstance(plain, Sale)
        assert plain.tip is None
        assert [line.sku for line in plain.lines].count("tip") == 1
        assert plain.grand_total == tipped.grand_total


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


def test_a_layby_posts_nothing_until_completed_then_comes_again_as_a_sale(
    quiet: LightspeedWorld,
) -> None:
    """A new layby is skipped; once paid off, the sweep from the saved version brings the
    same sale again, now a sale with the deposit and the final payment."""
    world = quiet
    layby = world.activity.sell("LAYBY")
    world.reissue()
    connection = world.connection()
    client = source_for(world).connect(connection, world.transport)
    try:
        first, cursor = sweep_stream(client.fetch, "sales", None)
        assert [t for _, t in translate_all(first, connection)][-1] == Skip(
            f"Lightspeed sale {layby.invoice_number} is on layby: the goods are held until "
            "paid off; it posts once completed"
        )
        world.clock.advance(timedelta(hours=20))
        world.activity.settle()
        again, _ = sweep_stream(client.fetch, "sales", cursor)
    finally:
        client.close()
    [(_, sale)] = translate_all(again, connection)
    assert isinstance(sale, Sale)
    assert sale.external_id == layby.id
    assert len(sale.payments) == 2
    assert sale.paid == sale.grand_total
    assert sale.occurred_at == START + timedelta(hours=20)


# -- a sale changed at the register, read out of turn ---------------------------------------


def sale_record(world: LightspeedWorld, sale_id: str) -> SourceRecord:
    """The sale as a sweep of the retailer reads it now."""
    client = source_for(world).connect(world.connection(), world.transport)
    try:
        records, _ = sweep_stream(client.fetch, "sales", None)
    finally:
        client.close()
    return next(r for r in records if json.loads(r.payload)["sale"]["id"] == sale_id)


def take_in_one_by_one(
    db: sessionmaker[Session], world: LightspeedWorld, records: list[SourceRecord]
) -> tuple[Sale, int]:
    """Each record received and taken in before the next arrives; returns the sale stored
    and its revision."""
    connection = set_up(db, world, Vault([new_key()]))
    engine = Engine(db, world.clock)
    one_by_one(engine, TENANT, "lightspeed_x", connection.connection_id, records)
    return stored_sale(db, TENANT, translated_sale(world, records[0]).id)


def translated_sale(world: LightspeedWorld, record: SourceRecord) -> Sale:
    context = world.connection().context("lightspeed_x")
    sale = LightspeedXSource().translate(record.record_type, record.payload, context)
    assert isinstance(sale, Sale)
    return sale


def closed_sale(world: LightspeedWorld) -> tuple[Any, str]:
    """A sale closed now, and a customer it was not rung up for."""
    sale = world.activity.sell("CLOSED")
    world.reissue()
    other = next(c for c in world.retailer.customers if c != sale.customer_id)
    return sale, other


def test_a_sale_read_before_a_change_and_taken_in_after_it_is_stale(
    db: sessionmaker[Session], quiet: LightspeedWorld
) -> None:
    """A sale put on a customer's account after it closed, its first reading taken in
    after the changed one: the sale stays as changed, with no new revision."""
    sale, other = closed_sale(quiet)
    before = sale_record(quiet, sale.id)
    quiet.clock.advance(timedelta(minutes=5))
    sale.customer_id = other
    quiet.retailer.save_sale(sale)
    after = sale_record(quiet, sale.id)
    stored, revision = take_in_one_by_one(db, quiet, [after, before])
    assert revision == 1
    assert stored == translated_sale(quiet, after) != translated_sale(quiet, before)


def test_a_change_undone_at_the_register_is_a_third_revision_equal_to_the_first(
    db: sessionmaker[Session], quiet: LightspeedWorld
) -> None:
    """A sale put on another customer's account and then back, each reading taken in in
    turn: the undoing is a later change, so the sale becomes revision 3, equal to the
    first."""
    sale, other = closed_sale(quiet)
    readings = [sale_record(quiet, sale.id)]
    for customer in (other, sale.customer_id):
        quiet.clock.advance(timedelta(minutes=5))
        sale.customer_id = customer
        quiet.retailer.save_sale(sale)
        readings.append(sale_record(quiet, sale.id))
    stored, revision = take_in_one_by_one(db, quiet, readings)
    assert revision == 3
    assert stored == translated_sale(quiet, readings[0]) != translated_sale(quiet, readings[1])


def test_a_malformed_sale_names_every_problem_and_its_path(traded: LightspeedWorld) -> None:
    """A sale that cannot be read lists each bad field with where it is."""
    record = malformed()[0]
    context = traded.connection().context("lightspeed_x")
    with pytest.raises(ValidationError) as caught:
        LightspeedXSource().translate(record.record_type, record.payload, context)
    paths = {p.path for p in caught.value.problems}
    assert {"sale.sale_date", "sale.total_price", "sale.line_items[0].product_id"} <= paths


def test_a_return_without_its_sale_and_an_unknown_product_are_named(
    traded: LightspeedWorld,
) -> None:
    """A return naming no sale, a line whose product is missing and an unmapped outlet are
    all reported together."""
    sale = {
        "id": "S2",
        "outlet_id": "elsewhere",
        "status": "CLOSED",
        "sale_date": "2026-03-02T01:00:00Z",
        "total_price": -10,
        "total_tax": -1.5,
        "line_items": [
            {
                "id": "L1",
                "product_id": "P404",
                "quantity": -1,
                "price": 10,
                "price_total": -10,
                "tax_total": -1.5,
                "tax_id": "T1",
            }
        ],
        "version": 9,
    }
    payload = json.dumps({"sale": sale, "currency": "NZD", "taxes": {}})
    context = traded.connection().context("lightspeed_x")
    with pytest.raises(ValidationError) as caught:
        LightspeedXSource().translate("sale", payload, context)
    codes = {p.code for p in caught.value.problems}
    assert codes == {"return_without_sale", "unknown_product", "unmapped_location"}


# -- webhooks ------------------------------------------------------------------------------

FORM = (
    b"payload=%7B%22id%22%3A%22c-1%22%2C%22customer_code%22%3A%22C001%22%2C"
    b"%22first_name%22%3A%22Aroha%22%7D&type=customer.update"
)


def signed(body: bytes, secret: str, **headers: str) -> WebhookRequest:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return WebhookRequest(
        "https://hooks.salesync.example/webhooks/lightspeed_x/conn-lsx",
        {SIGNATURE_HEADER: f"signature={digest}, algorithm=HMAC-SHA256", **headers},
        body,
    )


def test_a_delivery_is_checked_with_the_client_secret_over_the_raw_form(
    traded: LightspeedWorld,
) -> None:
    """The HMAC-SHA256 of the raw form body under the add-on's client secret verifies; the
    same under another app's secret, another algorithm or no secret at all does not."""
    connection = traded.connection()
    secret = traded.app.client_secret
    webhook = LightspeedXSource().verify(signed(FORM, secret), connection)
    assert webhook.topic == "customer.update"
    [record] = webhook.records
    customer = LightspeedXSource().translate(
        record.record_type, record.payload, connection.context("lightspeed_x")
    )
    assert customer == Customer("lightspeed_x:c-1", TENANT, "Aroha")
    other = traded.retailer.register_app()
    sha1 = replace(
        signed(FORM, secret),
        headers={SIGNATURE_HEADER: signed(FORM, secret).headers[SIGNATURE_HEADER][:-6] + "SHA1"},
    )
    no_secret = replace(connection, credentials={"access_token": "x"})
    for request, opened in (
        (signed(FORM, other.client_secret), connection),
        (sha1, connection),
        (signed(FORM, secret), no_secret),
    ):
        with pytest.raises(ForgedWebhookError):
            LightspeedXSource().verify(request, opened)


def test_sale_updates_are_hints_and_repeats_share_an_event_id(traded: LightspeedWorld) -> None:
    """A sale.update carries nothing to store (the sweep brings the sale whole) and a
    delivery sent twice has one event id; customer updates carry their customer."""
    source, connection = LightspeedXSource(), traded.connection()
    webhooks = [source.verify(d, connection) for d in traded.delivered]
    topics = {w.topic for w in webhooks}
    assert {
        "sale.update",
        "customer.update",
        "inventory.update",
        "register_closure.create",
    } <= topics
    assert all(not w.records for w in webhooks if w.topic != "customer.update")
    assert all(len(w.records) == 1 for w in webhooks if w.topic == "customer.update")
    again = source.verify(traded.delivered[0], connection)
    assert again.event_id == webhooks[0].event_id
    assert len({w.event_id for w in webhooks}) == len(webhooks)


def test_a_delivery_without_its_optional_type_is_told_by_its_payload(
    traded: LightspeedWorld,
) -> None:
    """Lightspeed does not promise the type field; a customer's payload still reads as one."""
    body = FORM.split(b"&type=")[0]
    webhook = LightspeedXSource().verify(
        signed(body, traded.app.client_secret), traded.connection()
    )
    assert webhook.topic == "customer.update"
    assert webhook.records


def test_a_genuine_delivery_that_cannot_be_read_is_a_validation_error(
    traded: LightspeedWorld,
) -> None:
    """A signed body whose payload is not a JSON object is refused as unreadable."""
    request = signed(b"payload=%5B1%2C2%5D&type=sale.update", traded.app.client_secret)
    with pytest.raises(ValidationError) as caught:
        LightspeedXSource().verify(request, traded.connection())
    assert caught.value.problems[0].path == "payload"


# -- rate limit, tokens and failures -------------------------------------------------------


def test_the_rate_limit_is_waited_out_until_its_retry_after_date() -> None:
    """Past 300 x registers + 50 requests, X-Series answers 429 with Retry-After as a date;
    the client sleeps until then and reads on, spacing its calls as the window runs low."""
    with lightspeed_world(seed=3, rate_limit=RateLimit(per_register=2, base=2)) as world:
        world.trade(days=2)
        limit = world.retailer.limit
        assert limit == 2 * 4 + 2
        sleeps: list[float] = []

        def sleep(seconds: float) -> None:
            sleeps.append(seconds)
            world.wait(seconds)

        client = LightspeedXSource(sleep=sleep, page_size=5).connect(
            world.connection(), world.transport
        )
        before = world.clock()
        try:
            records = sweep_all(client)
        finally:
            client.close()
        waited = world.clock() - before
    sales = [r for r in records if r.record_type == "sale"]
    assert len(sales) == len({json.loads(r.payload)["sale"]["id"] for r in sales}) > 10
    assert waited >= timedelta(minutes=5)
    assert any(s >= 60 for s in sleeps), "never waited for a Retry-After"
    assert any(s == 300 / limit for s in sleeps), "never spaced calls near the limit"


def test_a_limit_that_outlasts_the_budget_goes_up_as_transient(quiet: LightspeedWorld) -> None:
    """A Retry-After beyond what one call may wait is handed to the engine to reschedule."""
    with quiet.admin() as admin:
        admin.post(
            "/_sandbox/faults",
            json={"operation": "sales.list", "kind": "rate_limited", "retry_after": 600},
        )
    client = source_for(quiet).connect(quiet.connection(), quiet.transport)
    try:
        with pytest.raises(TransientError) as caught:
            client.fetch("sales", None)
    finally:
        client.close()
    assert caught.value.retry_after == 600
    assert caught.value.kind is ErrorKind.TRANSIENT


@pytest.mark.parametrize("kind", ["server_error", "lost_response", "malformed"])
def test_failures_are_asked_again_and_never_leak_httpx(quiet: LightspeedWorld, kind: str) -> None:
    """A 503, a dropped answer or one cut short is retried, and the sweep completes."""
    with quiet.admin() as admin:
        admin.post("/_sandbox/faults", json={"operation": "customers.list", "kind": kind})
    client = source_for(quiet).connect(quiet.connection(), quiet.transport)
    try:
        records, _ = sweep_stream(client.fetch, "customers", None)
    finally:
        client.close()
    assert len(records) == len(quiet.retailer.customers)
    assert quiet.retailer.faults.pending() == 0


def test_questions_lightspeed_cannot_answer_are_bugs(quiet: LightspeedWorld) -> None:
    """An unknown stream, an unreadable cursor and a 404 are salesync's bugs."""
    client = source_for(quiet).connect(quiet.connection(), quiet.transport)
    try:
        for stream, cursor in (("consignments", None), ("sales", "v12")):
            with pytest.raises(BugError):
                client.fetch(stream, cursor)
        with pytest.raises(BugError) as caught:
            client._api.get("/api/2.0/products/none", "products.get")
    finally:
        client.close()
    assert caught.value.code == "HTTP_404"


def test_a_connection_needs_its_domain_prefix_and_a_token(quiet: LightspeedWorld) -> None:
    """Without a domain prefix the setting is named; without a token, reconnecting is."""
    bare = replace(quiet.connection(), settings={})
    with pytest.raises(ValidationError) as caught:
        LightspeedXSource().connect(bare)
    assert caught.value.problems[0].path == "domain_prefix"
    tokenless = replace(quiet.connection(), credentials={})
    with pytest.raises(AuthError):
        LightspeedXSource().connect(tokenless)


def test_an_expired_token_with_no_store_asks_the_merchant_to_reconnect(
    quiet: LightspeedWorld,
) -> None:
    """A day on, the access token is refused and nothing can refresh it here."""
    connection = quiet.connection()
    quiet.clock.advance(timedelta(days=1, minutes=1))
    client = source_for(quiet).connect(connection, quiet.transport)
    try:
        with pytest.raises(AuthError) as caught:
            client.fetch("customers", None)
    finally:
        client.close()
    assert caught.value.code == "reconnect_required"
    assert caught.value.kind is ErrorKind.AUTH


def token_store(
    factory: sessionmaker[Session], world: LightspeedWorld, vault: Vault
) -> TokenManager:
    """salesync's token store, refreshing at the retailer's token endpoint."""
    return TokenManager(
        factory,
        vault,
        world.clock,
        lambda _: token_refresher(
            token_endpoint(world.retailer.domain_prefix),
            world.app.client_id,
            world.app.client_secret,
            transport=world.transport,
        ),
    )


def refreshing_sweeper(
    factory: sessionmaker[Session], world: LightspeedWorld, vault: Vault
) -> Sweeper:
    """A sweeper on the retailer that renews its tokens through salesync's token store."""
    return Sweeper(
        factory,
        world.clock,
        vault,
        transport=lambda _: world.transport,
        tokens=token_store(factory, world, vault),
    )


def stored_credentials(factory: sessionmaker[Session], vault: Vault, connection_id: str) -> Any:
    with factory() as session:
        return Connections(session, TENANT, vault).credentials(connection_id)


def test_an_expired_token_is_refreshed_and_the_rotated_refresh_token_kept(
    db: sessionmaker[Session], quiet: LightspeedWorld
) -> None:
    """A day on, the sweep refreshes once; the new refresh token is stored before use, the
    one it replaced no longer works, and the stored one does."""
    world = quiet
    world.trade(days=1)
    vault = Vault([new_key()])
    connection = set_up(db, world, vault)
    replaced = world.refresh_token
    world.clock.advance(timedelta(days=1, hours=1))
    tokens = token_store(db, world, vault)
    sweeper = Sweeper(db, world.clock, vault, transport=lambda _: world.transport, tokens=tokens)
    assert sweeper.sweep(TENANT, connection.connection_id).records > 0
    kept = stored_credentials(db, vault, connection.connection_id)
    assert kept["refresh_token"] != replaced
    assert kept["access_token"] != world.access_token
    with pytest.raises(OAuthError) as refused:
        world.retailer.authority.refresh(world.app.client_id, replaced)
    assert refused.value.error == "invalid_grant"
    assert world.retailer.authority.refresh(world.app.client_id, kept["refresh_token"])


def test_a_refused_token_is_refreshed_once_and_the_call_tried_again(
    db: sessionmaker[Session], quiet: LightspeedWorld
) -> None:
    """A 401 on a token salesync thought alive brings one refresh naming that token, and
    the sweep carries on with the new one."""
    world = quiet
    vault = Vault([new_key()])
    connection = set_up(db, world, vault)
    with world.admin() as admin:
        admin.post("/_sandbox/faults", json={"operation": "sales.list", "kind": "unauthorized"})
    sweeper = refreshing_sweeper(db, world, vault)
    sweeper.sweep(TENANT, connection.connection_id, ("sales",))
    kept = stored_credentials(db, vault, connection.connection_id)
    assert kept["refresh_token"] != world.refresh_token
    assert world.retailer.faults.fired == [("sales.list", FaultKind.UNAUTHORIZED)]


def test_a_revoked_add_on_pauses_the_connection_for_reconnecting(
    db: sessionmaker[Session], quiet: LightspeedWorld
) -> None:
    """Once the retailer removes the add-on, the refresh is refused: the connection waits
    for the merchant to reconnect, with a link to do it."""
    world = quiet
    vault = Vault([new_key()])
    connection = set_up(db, world, vault)
    world.retailer.authority.revoke_subject(world.retailer.id)
    sweeper = refreshing_sweeper(db, world, vault)
    with pytest.raises(AuthError) as caught:
        sweeper.sweep(TENANT, connection.connection_id)
    assert caught.value.code == "reconnect_required"
    assert caught.value.help_url
    with db() as session:
        assert session.get(ConnectionRow, connection.connection_id).status == "reconnect"


class Counting(httpx.BaseTransport):
    """Passes requests on and counts them by path."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.paths: Counter[str] = Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths[request.url.path] += 1
        return self.inner.handle_request(request)


def test_a_backfill_of_the_week_posts_every_finished_sale_once_balanced(
    db: sessionmaker[Session], quiet: LightspeedWorld
) -> None:
    """History by day windows brings every finished sale and return of the week, each
    posted once, in balanced books."""
    world = quiet
    world.trade(days=7)
    vault = Vault([new_key()])
    connection = set_up(db, world, vault)
    backfills = Backfills(db, world.clock)
    first = START.date()
    job = backfills.start(TENANT, "lightspeed_x", first, first + timedelta(days=8))
    counted = Counting(world.transport)
    client = source_for(world).connect(connection, counted)
    try:
        done = backfills.run(job, client)
    finally:
        client.close()
    assert done.state is BackfillState.DONE
    pages = len(world.retailer.sales) // 200 + 2
    assert counted.paths["/api/2.0/sales"] <= pages, "each window read every sale again"
    engine = Engine(db, world.clock)
    counts = engine.take_in(TENANT)
    assert counts[RecordState.QUARANTINED.value] == 0
    assert counts[RecordState.PARKED.value] == 0
    world.clock.advance(timedelta(days=2))
    engine.run_until_idle(TENANT, max_ticks=50)
    sales = finished_sales(world)
    with db() as session:
        kinds = Counter(session.scalars(select(QueuedDocumentRow.kind)).all())
        balances = LedgerBooks(session, TENANT).trial_balance()
    exchanges = [s for s in sales if s.return_for and any(li.quantity > 0 for li in s.line_items)]
    assert kinds == {
        "sale": sum(1 for s in sales if not s.return_for) + len(exchanges),
        "refund": sum(1 for s in sales if s.return_for),
    }
    assert sum(b.balance.to_minor() for b in balances) == 0


def test_over_the_network_a_dropped_answer_is_asked_again_and_a_dead_host_is_transient(
    quiet: LightspeedWorld,
) -> None:
    """Served under uvicorn, an answer cut off after the work is asked for again; a host
    that does not answer is a transient error, never an httpx one."""
    quiet.retailer.faults.arm("customers.list", FaultKind.LOST_RESPONSE)
    waits: list[float] = []
    source = LightspeedXSource(sleep=waits.append)
    with serving(create_app(quiet.retailer)) as base:
        client = source.connect(quiet.connection(base_url=base))
        try:
            records, _ = sweep_stream(client.fetch, "customers", None)
        finally:
            client.close()
    assert len(records) == len(quiet.retailer.customers)
    assert waits == [1.0]
    gone = source.connect(quiet.connection(base_url=f"http://127.0.0.1:{free_port()}"))
    try:
        with pytest.raises(TransientError) as caught:
            gone.fetch("customers", None)
    finally:
        gone.close()
    assert caught.value.code == "network"


def test_deliveries_reach_salesyncs_ingress_and_a_forged_one_is_refused(
    db: sessionmaker[Session], quiet: LightspeedWorld
) -> None:
    """The retailer's signed form posts are accepted by salesync's webhook endpoint and
    their customers taken in; the same post with its body changed is answered 401."""
    world = quiet
    vault = Vault([new_key()])
    connection = set_up(db, world, vault)
    for subscription in world.retailer.notifier.subscriptions.values():
        subscription.active = False
    url = f"https://hooks.salesync.example/webhooks/{connection.connection_id}"
    for topic in ("sale.update", "customer.update"):
        world.retailer.subscribe(world.app.client_id, url, topic)
    api = create_api(db, world.clock, vault)
    with TestClient(api, raise_server_exceptions=False) as ingress:
        deliveries = world.retailer.notifier.deliveries
        deliveries.use_client(ingress)
        world.activity.change_customer()
        world.trade(days=1)
        attempts = [a for a in deliveries.attempts if a.url == url]
        assert {a.topic for a in attempts} == {"sale.update", "customer.update"}
        assert {a.status for a in attempts} == {200}
        world.activity.change_customer()
        [message] = [m for _, m, _ in deliveries.pending() if m.url == url]
        forged = ingress.post(url, content=message.body + b"&x=1", headers=dict(message.headers))
        assert forged.status_code == 401
    counts = Engine(db, world.clock).take_in(TENANT)
    assert counts[RecordState.QUARANTINED.value] == 0
    assert counts[RecordState.NORMALIZED.value] == sum(
        1 for a in attempts if a.topic == "customer.update"
    )


def test_a_sale_of_a_product_lightspeed_no_longer_has_is_refused_naming_the_line(
    quiet: LightspeedWorld,
) -> None:
    """When a line's product cannot be found, the sale is not posted under a made-up SKU:
    it is refused with the line's path."""
    world = quiet
    sale = world.activity.sell("CLOSED")
    del world.retailer.products[sale.line_items[0].product_id]
    client = source_for(world).connect(world.connection(), world.transport)
    try:
        [record], _ = sweep_stream(client.fetch, "sales", None)
    finally:
        client.close()
    context = world.connection().context("lightspeed_x")
    with pytest.raises(ValidationError) as caught:
        LightspeedXSource().translate(record.record_type, record.payload, context)
    [problem] = caught.value.problems
    assert (problem.code, problem.path) == ("unknown_product", "sale.line_items[0].product_id")


def _voidable(world: LightspeedWorld) -> Any:
    """A closed sale paid in full, with no tip, that nothing was returned from."""
    tips = {p.id for p in world.retailer.products.values() if p.sku == "tip"}
    returned = {s.return_for for s in world.retailer.sales.values()}
    return next(
        s
        for s in world.retailer.sales.values()
        if s.status == "CLOSED"
        and not s.return_for
        and s.id not in returned
        and all(li.quantity > 0 and li.product_id not in tips for li in s.line_items)
    )


def test_a_sale_voided_after_it_was_posted_is_reversed_by_a_linked_refund(
    db: sessionmaker[Session], quiet: LightspeedWorld
) -> None:
    """A sale posted to the books and then voided at the register comes again in the next
    sweep as voided: it becomes a refund of the whole sale, linked to it and posted, so
    the books hold the sale and its reversal instead of a sale that no longer stands."""
    world = quiet
    world.trade(days=1)
    vault = Vault([new_key()])
    connection = set_up(db, world, vault)
    engine = Engine(db, world.clock)
    sweeper = refreshing_sweeper(db, world, vault)
    sweeper.sweep(TENANT, connection.connection_id)
    world.clock.advance(timedelta(days=2))
    engine.run_until_idle(TENANT, max_ticks=50)
    sale = _voidable(world)
    sale_id = document_id(TENANT, "lightspeed_x", DocumentKind.SALE, sale.id)
    reversal_id = document_id(TENANT, "lightspeed_x", DocumentKind.REFUND, f"{sale.id}:void")
    with db() as session:
        assert session.get(QueuedDocumentRow, sale_id).planned

    sale.status = "VOIDED"
    world.retailer.save_sale(sale)
    sweeper.sweep(TENANT, connection.connection_id)
    world.clock.advance(timedelta(days=2))
    engine.run_until_idle(TENANT, max_ticks=50)
    with db() as session:
        queued = session.get(QueuedDocumentRow, reversal_id)
        reversal = Documents(session, TENANT).get(reversal_id)
        balances = LedgerBooks(session, TENANT).trial_balance()
    assert queued is not None
    assert queued.planned
    assert not queued.held
    assert isinstance(reversal, Refund)
    assert reversal.sale_id == sale_id
    assert reversal.paid.amount == sale.paid
    assert sum(line.quantity for line in reversal.lines) == sum(
        li.quantity for li in sale.line_items
    )
    assert sum(b.balance.to_minor() for b in balances) == 0


def test_a_sale_voided_unpaid_posts_nothing_and_a_voided_tip_is_held(
    traded: LightspeedWorld, documents: list[tuple[SourceRecord, Translated]]
) -> None:
    """Voided with nothing paid (a parked sale, a layby's deposit only) it is skipped; a
    paid sale voided with a tip on it is held with the reason, not reversed in part."""
    context = traded.connection().context("lightspeed_x")
    record = next(r for r, t in documents if isinstance(t, Sale) and not t.tip)
    tipped = next(r for r, t in documents if isinstance(t, Sale) and t.tip)

    def voided(source: SourceRecord, **changes: Any) -> str:
        body = json.loads(source.payload)
        body["sale"] |= {"status": "VOIDED", "state": None, "attributes": []} | changes
        return json.dumps(body)

    unpaid = LightspeedXSource().translate("sale", voided(record, payments=[]), context)
    assert isinstance(unpaid, Skip)
    assert "voided" in unpaid.reason
    reversed_ = LightspeedXSource().translate("sale", voided(record), context)
    assert isinstance(reversed_, Refund)
    with pytest.raises(ValidationError) as held:
        LightspeedXSource().translate("sale", voided(tipped), context)
    assert [p.code for p in held.value.problems] == ["voided_tip"]


def test_exchanges_become_a_sale_and_a_linked_refund_that_reconcile(
    factory: sessionmaker[Session], quiet: LightspeedWorld
) -> None:
    """A return the customer added new goods to (dearer ones, paying the difference, and
    cheaper ones, getting it back) is swept as two records: a sale of the new goods and a
    refund of the goods given back, linked to the sale they came from, both carried by the
    exchange tender; nothing is quarantined and the books reconcile to zero."""
    world = quiet
    world.trade(days=2)
    exchanges = [world.activity.exchange(dearer=True), world.activity.exchange(dearer=False)]
    assert all(e is not None for e in exchanges)
    world.deliver()
    vault = Vault([new_key()])
    connection = set_up(factory, world, vault)
    engine = Engine(factory, world.clock)
    Sweeper(factory, world.clock, vault, transport=lambda _: world.transport).sweep(
        TENANT, connection.connection_id
    )
    counts = engine.take_in(TENANT)
    assert counts[RecordState.QUARANTINED.value] == 0
    world.clock.advance(timedelta(days=2))
    engine.run_until_idle(TENANT, max_ticks=50)
    with factory() as session:
        documents = {
            (r.kind, r.external_id): codec.decode(r.kind, r.body)
            for r in session.scalars(select(DocumentRow))
        }
        balances = LedgerBooks(session, TENANT).trial_balance()
        days = Reconciler(session, TENANT, LOCATIONS).reconcile(
            START.date() - timedelta(days=1), START.date() + timedelta(days=4)
        )
    for row in exchanges:
        assert row is not None
        sale, refund = documents[("sale", row.id)], documents[("refund", row.id)]
        assert isinstance(sale, Sale)
        assert isinstance(refund, Refund)
        assert refund.sale_id == document_id(
            TENANT, "lightspeed_x", DocumentKind.SALE, row.return_for or ""
        )
        assert all(line.quantity > 0 for line in sale.lines)
        credit = [p.amount for p in sale.payments if p.tender == EXCHANGE_TENDER]
        assert credit == [p.amount for p in refund.payments if p.tender == EXCHANGE_TENDER]
        assert sale.paid == sale.grand_total
        assert refund.paid == refund.amount
        # What changed hands is the difference, on the side it paid.
        assert (sale.paid - refund.paid).amount == row.paid
    assert sum(b.balance.to_minor() for b in balances) == 0
    assert all(b.balance.to_minor() == 0 for b in balances if EXCHANGE_TENDER in b.account.lower())
    # A backfill reads them the same way.
    world.reissue()
    client = source_for(world).connect(world.connection(), world.transport)
    try:
        history = list(client.history(START - timedelta(days=1), START + timedelta(days=30)))
    finally:
        client.close()
    given_back = {
        json.loads(r.payload)["sale"]["id"] for r in history if r.record_type == "sale_return"
    }
    assert given_back == {row.id for row in exchanges if row is not None}
    for day in days:
        assert day.clean, (day.location_id, day.day, day.differences, day.documents)
