"""The WooCommerce source: the shared contract against a simulated shop, and what is
WooCommerce's own: its webhook signature and ping, its key auth and rate limiter, order
statuses that are skipped, refunds linked to their sales, webhooks WooCommerce disables
after failed deliveries, and a week of two outlets reaching balanced, reconciled books."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
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
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from woocommerce_harness import LOCATIONS, SECRET, START, TENANT, WooWorld, woo_world

from salesync.clock import ManualClock
from salesync.connectors.ledger.books import LedgerBooks
from salesync.connectors.source import (
    ForgedWebhookError,
    Skip,
    SourceConnection,
    SourceRecord,
    Translated,
    WebhookRequest,
)
from salesync.connectors.woocommerce import WooCommerceSource
from salesync.connectors.woocommerce.webhooks import SIGNATURE, signature
from salesync.domain.documents import Customer, Product, Refund, Sale, Tenant
from salesync.domain.errors import AuthError, ErrorKind, TransientError, ValidationError
from salesync.domain.validation import validate_refund
from salesync.engine.backfill import Backfills, BackfillState
from salesync.engine.inbox import RecordState
from salesync.engine.incidents import IncidentLog
from salesync.engine.reconcile import Reconciler
from salesync.engine.runner import Engine
from salesync.engine.sweep import Sweeper
from salesync.monitor.desk import TicketDesk, resolved_hook
from salesync.monitor.loop import notice_hook
from salesync.monitor.notify import Contacts
from salesync.sandbox.faults import Fault, FaultKind
from salesync.sandbox.woocommerce import RateLimit
from salesync.sandbox.woocommerce.orders import Cart
from salesync.sandbox.woocommerce.trading import place_order, set_customer, set_status
from salesync.store.database import make_engine, migrate, session_factory
from salesync.store.repositories import Connections, Locations, Tenants
from salesync.store.tables import InboxRecordRow, NoticeRow, QueuedDocumentRow
from salesync.store.vault import Vault, new_key

# A vector computed apart from salesync: printf '{"id":1}' | openssl dgst -sha256
# -hmac doc-secret -binary | base64
DOC_BODY = b'{"id":1}'
DOC_SIGNATURE = "rq2Am4wdQLCxt8givmC9/PiITqFOjbECWEzttT/qQZc="


@pytest.fixture
def books(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """A migrated SQLite database of its own (the contract suite runs on PostgreSQL too)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'salesync.db'}")
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()


def no_wait(_: float) -> None:
    """Tests never really sleep."""


@pytest.fixture(scope="module")
def traded() -> Iterator[WooWorld]:
    """Thirty hours of trading at the web store and the counter, every webhook kept."""
    with woo_world(seed=7) as world:
        world.trade(START + timedelta(hours=30))
        yield world


@pytest.fixture
def world() -> Iterator[WooWorld]:
    """A fresh shop with a few hours of trading, for tests that change it."""
    with woo_world(seed=11) as fresh:
        fresh.trade(START + timedelta(hours=6))
        yield fresh


def source() -> WooCommerceSource:
    return WooCommerceSource(sleep=no_wait)


def malformed() -> list[SourceRecord]:
    return [
        SourceRecord("order", json.dumps({"id": 1, "status": "completed", "total": "x"})),
        SourceRecord("order_refund", json.dumps({"refund": {}, "order": {}})),
        SourceRecord("customer", "[]"),
        SourceRecord("coupon", "{}"),
    ]


class TestWooCommerceSource(SourceContract, WebhookContract, StreamContract, HistoryContract):
    @pytest.fixture
    def harness(self, traded: WooWorld) -> SourceHarness:
        return SourceHarness(
            source=source(),
            connection=traded.connection(),
            locations=LOCATIONS,
            now=traded.clock(),
            transport=traded.transport,
            deliveries=lambda: [d for d in traded.delivered if SIGNATURE in d.headers],
            signature_headers=(SIGNATURE,),
            history_window=(START + timedelta(hours=6), START + timedelta(hours=20)),
            malformed=malformed(),
        )


def records_of(world: WooWorld, *streams: str) -> list[tuple[SourceRecord, Translated]]:
    connection = world.connection()
    client = source().connect(connection, world.transport)
    try:
        found = [r for s in streams for r in sweep_stream(client.fetch, s, None)[0]]
    finally:
        client.close()
    context = connection.context("woocommerce")
    return [(r, source().translate(r.record_type, r.payload, context)) for r in found]


# -- webhooks ------------------------------------------------------------------------------


def test_the_signature_is_woocommerces_base64_hmac_of_the_raw_body() -> None:
    """The signature matches one computed apart from salesync, and verifies a delivery."""
    assert signature(DOC_BODY, "doc-secret") == DOC_SIGNATURE
    connection = SourceConnection(TENANT, "c", "Woo", {}, {"webhook_secret": "doc-secret"})
    delivery = WebhookRequest(
        "https://x/hook",
        {SIGNATURE: DOC_SIGNATURE, "x-wc-webhook-topic": "order.deleted"},
        DOC_BODY,
    )
    [record] = source().verify(delivery, connection).records
    assert record.record_type == "order_deleted"
    assert isinstance(
        source().translate(record.record_type, record.payload, connection.context("woocommerce")),
        Skip,
    )


def test_the_creation_ping_is_answered_and_carries_nothing(traded: WooWorld) -> None:
    """WooCommerce's unsigned ``webhook_id=N`` ping verifies as a ping with no records,
    and the same body with a topic claimed is refused."""
    pings = [d for d in traded.delivered if d.body.startswith(b"webhook_id=")]
    assert len(pings) == len(traded.shop.data.webhooks)
    webhook = source().verify(pings[0], traded.connection())
    assert (webhook.topic, webhook.records) == ("ping", ())
    claimed = replace(pings[0], headers={**pings[0].headers, "x-wc-webhook-topic": "order.created"})
    with pytest.raises(ForgedWebhookError):
        source().verify(claimed, traded.connection())


def test_a_delivery_for_another_secret_or_without_one_is_refused(traded: WooWorld) -> None:
    """A delivery signed with another webhook's secret, or a connection with no secret,
    fails the check."""
    genuine = next(d for d in traded.delivered if SIGNATURE in d.headers)
    other = {**traded.connection().credentials, "webhook_secret": "someone-else"}
    for credentials in (other, {"consumer_key": "ck"}):
        connection = replace(traded.connection(), credentials=credentials)
        with pytest.raises(ForgedWebhookError):
            source().verify(genuine, connection)


def test_a_genuine_delivery_that_cannot_be_read_is_a_validation_error() -> None:
    """A signed body that is not a resource is refused with the problem named."""
    body = b"[1, 2]"
    connection = SourceConnection(TENANT, "c", "Woo", {}, {"webhook_secret": SECRET})
    delivery = WebhookRequest("https://x", {SIGNATURE: signature(body, SECRET)}, body)
    with pytest.raises(ValidationError) as caught:
        source().verify(delivery, connection)
    assert [p.code for p in caught.value.problems] == ["malformed_body"]


def test_order_deliveries_carry_the_order_under_its_delivery_id(traded: WooWorld) -> None:
    """An order.created delivery is an order record whose event id is the delivery id."""
    delivery = next(
        d for d in traded.delivered if d.headers.get("x-wc-webhook-topic") == "order.created"
    )
    webhook = source().verify(delivery, traded.connection())
    [record] = webhook.records
    assert record.event_id == delivery.headers["x-wc-webhook-delivery-id"]
    assert json.loads(record.payload)["id"] == json.loads(delivery.body)["id"]


def test_a_delivery_sent_twice_is_kept_once(books: sessionmaker[Session], world: WooWorld) -> None:
    """A delivery repeated with its delivery id reaches the inbox once."""
    vault = Vault([new_key()])
    connection_id = set_up(books, world, vault)
    world.shop.deliveries.duplicate_next(1)
    world.delivered.clear()
    world.activity.counter_sale()
    world.deliver()
    first, second = world.delivered
    assert first.body == second.body
    engine = Engine(books, world.clock)
    received = [
        engine.receive(
            TENANT, "woocommerce", r.record_type, r.payload,
            event_id=r.event_id, connection_id=connection_id,
        )
        for d in (first, second)
        for r in source().verify(d, world.connection()).records
    ]  # fmt: skip
    assert [r.is_duplicate for r in received] == [False, True]


# -- edits at the shop, delivered out of turn ----------------------------------------------


def order_deliveries(world: WooWorld) -> list[SourceRecord]:
    """The order records of the deliveries kept so far, in the order they were sent."""
    return [
        r
        for d in world.delivered
        for r in source().verify(d, world.connection()).records
        if r.record_type == "order"
    ]


def take_in_one_by_one(
    books: sessionmaker[Session], world: WooWorld, records: list[SourceRecord]
) -> tuple[Sale, int]:
    """Each record received and taken in before the next arrives; returns the sale stored
    and its revision."""
    connection_id = set_up(books, world, Vault([new_key()]))
    engine = Engine(books, world.clock)
    one_by_one(engine, TENANT, "woocommerce", connection_id, records)
    return stored_sale(books, TENANT, translated_sale(world, records[0]).id)


def translated_sale(world: WooWorld, record: SourceRecord) -> Sale:
    sale = source().translate(
        record.record_type, record.payload, world.connection().context("woocommerce")
    )
    assert isinstance(sale, Sale)
    return sale


def other_customer(world: WooWorld, order: dict[str, object]) -> dict[str, object]:
    return next(c for c in world.shop.data.customers.values() if c["id"] != order["customer_id"])


def test_an_older_order_delivered_after_a_newer_one_is_stale(
    books: sessionmaker[Session], world: WooWorld
) -> None:
    """An order given to a customer after it was placed, whose order.created delivery
    arrives after the order.updated one: the sale stays as updated, with no new revision."""
    world.delivered.clear()
    order = world.activity.counter_sale()
    world.clock.advance(timedelta(minutes=5))
    set_customer(world.shop, order, other_customer(world, order))
    world.deliver()
    placed, updated = order_deliveries(world)
    stored, revision = take_in_one_by_one(books, world, [updated, placed])
    assert revision == 1
    assert stored == translated_sale(world, updated) != translated_sale(world, placed)


def test_an_edit_undone_at_the_shop_is_a_third_revision_equal_to_the_first(
    books: sessionmaker[Session], world: WooWorld
) -> None:
    """An order given to another customer and then back, each change delivered in turn:
    the undoing is a later change, so the sale becomes revision 3, equal to the first."""
    world.delivered.clear()
    order = world.activity.counter_sale()
    customer = world.shop.data.customers.get(int(order["customer_id"]))
    for owner in (other_customer(world, order), customer):
        world.clock.advance(timedelta(minutes=5))
        set_customer(world.shop, order, owner)
    world.deliver()
    placed, changed, undone = order_deliveries(world)
    stored, revision = take_in_one_by_one(books, world, [placed, changed, undone])
    assert revision == 3
    assert stored == translated_sale(world, placed) != translated_sale(world, changed)


# -- the REST API --------------------------------------------------------------------------


def test_the_limiters_429_is_waited_out_for_the_time_it_names(world: WooWorld) -> None:
    """When the shop's limiter says 429, the client waits RateLimit-Retry-After (moving
    the shop's clock) and carries on."""
    world.shop.rate_limit = RateLimit(limit=2, seconds=10)
    world.shop.window = type(world.shop.window)(2, timedelta(seconds=10), world.clock)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        world.clock.advance(timedelta(seconds=seconds))

    client = WooCommerceSource(sleep=sleep).connect(world.connection(), world.transport)
    records = [
        r
        for s in ("orders", "customers", "products")
        for r in sweep_stream(client.fetch, s, None)[0]
    ]
    client.close()
    assert {r.record_type for r in records} >= {"order", "customer", "product"}
    assert waits
    assert all(0 < w <= 10 for w in waits)


def test_a_limit_that_outlasts_the_budget_goes_up_as_transient(world: WooWorld) -> None:
    """A 429 still there after every retry is a TransientError with the wait to use."""
    world.shop.faults.arm("orders.list", Fault(FaultKind.RATE_LIMITED, retry_after=7), times=9)
    client = source().connect(world.connection(), world.transport)
    with pytest.raises(TransientError) as caught:
        client.fetch("orders", None)
    client.close()
    assert caught.value.retry_after == 7
    assert caught.value.code == "rate_limit_exceeded"


def test_a_revoked_key_asks_the_merchant_for_a_new_one(world: WooWorld) -> None:
    """Once the key is revoked the shop answers 401 and the merchant is asked for a key."""
    world.shop.revoke_key(world.consumer_key)
    client = source().connect(world.connection(), world.transport)
    with pytest.raises(AuthError) as caught:
        client.fetch("orders", None)
    client.close()
    assert caught.value.code == "woocommerce_rest_authentication_error"
    assert "Create a new key" in caught.value.user_message


def test_a_connection_without_a_key_is_an_auth_error_before_any_call(world: WooWorld) -> None:
    """No key, no call: the merchant is told to create one."""
    bare = replace(world.connection(), credentials={"webhook_secret": SECRET})
    with pytest.raises(AuthError) as caught:
        source().connect(bare, world.transport)
    assert caught.value.code == "no_api_key"


def test_the_key_in_the_query_string_is_accepted_too(world: WooWorld) -> None:
    """``query_auth`` sends consumer_key/consumer_secret as parameters, and it works."""
    seen: list[httpx.Request] = []

    class Spy(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return world.transport.handle_request(request)

    client = source().connect(world.connection(query_auth=True), Spy())
    assert client.fetch("customers", None).records
    client.close()
    assert "authorization" not in seen[0].headers
    assert seen[0].url.params["consumer_key"] == world.consumer_key


def test_server_errors_and_lost_answers_are_retried_and_never_leak_httpx(world: WooWorld) -> None:
    """A 503 page, a dropped connection and a cut body are each retried; past the budget
    the error is transient."""
    world.shop.faults.arm("customers.list", Fault(FaultKind.SERVER_ERROR, status=503))
    world.shop.faults.arm("customers.list", FaultKind.LOST_RESPONSE)
    world.shop.faults.arm("customers.list", FaultKind.MALFORMED)
    client = source().connect(world.connection(), world.transport)
    assert client.fetch("customers", None).records
    world.shop.faults.arm("customers.list", Fault(FaultKind.SERVER_ERROR, status=502), times=4)
    with pytest.raises(TransientError) as caught:
        client.fetch("customers", None)
    client.close()
    assert caught.value.kind is ErrorKind.TRANSIENT


def test_a_bad_store_url_or_sweep_since_is_refused_with_a_problem(world: WooWorld) -> None:
    """Settings that cannot be used say which one and how to write it."""
    for settings in (
        {"store_url": "shop.example"},
        {"store_url": "http://shop.example"},
        {"sweep_since": "yesterday"},
    ):
        with pytest.raises(ValidationError) as caught:
            source().connect(world.connection(**settings), world.transport)
        assert caught.value.problems[0].path == next(iter(settings))


def test_a_sweep_from_its_cursor_gives_exactly_what_changed_since(world: WooWorld) -> None:
    """After more trading, resuming at the cursor brings every order changed since the
    first sweep and none that did not change."""
    client = source().connect(world.connection(), world.transport)
    _, cursor = sweep_stream(client.fetch, "orders", None)
    swept_at = world.clock()
    world.trade(swept_at + timedelta(hours=4))
    again, _ = sweep_stream(client.fetch, "orders", cursor)
    client.close()
    ids = {json.loads(r.payload)["id"] for r in again if r.record_type == "order"}
    changed = {
        o["id"]
        for o in world.shop.data.orders.values()
        if o["status"] != "trash"
        and o["date_modified_gmt"] > swept_at.replace(tzinfo=None).isoformat()
    }
    assert changed
    assert ids == changed


def on_hold_orders(world: WooWorld, count: int) -> list[dict[str, Any]]:
    """``count`` bank-transfer orders waiting on hold for their money."""
    product = next(iter(world.shop.data.products.values()))
    cart = Cart("checkout", [(product, 1)], "bacs", "Direct bank transfer", status="on-hold")
    return [place_order(world.shop, cart) for _ in range(count)]


def bulk_paid(world: WooWorld, orders: list[dict[str, Any]]) -> None:
    """wp-admin's bulk "Change status to processing": every order changed in one second."""
    world.clock.set(world.clock() + timedelta(minutes=5))
    for order in orders:
        set_status(world.shop, order, "processing")
    assert len({o["date_modified_gmt"] for o in orders}) == 1


def swept_orders(records: list[SourceRecord]) -> Counter[int]:
    return Counter(json.loads(r.payload)["id"] for r in records if r.record_type == "order")


def test_more_than_a_page_changed_in_one_second_is_swept_whole_and_once(
    world: WooWorld,
) -> None:
    """150 orders changed in the same second (a bulk action) all reach the sweep, each
    once, and the sweep then goes on to what changed later."""
    bulk = on_hold_orders(world, 150)
    client = source().connect(world.connection(), world.transport)
    _, cursor = sweep_stream(client.fetch, "orders", None)
    bulk_paid(world, bulk)
    world.clock.set(world.clock() + timedelta(seconds=1))
    later = world.activity.counter_sale()
    again, cursor = sweep_stream(client.fetch, "orders", cursor)
    after, _ = sweep_stream(client.fetch, "orders", cursor)
    client.close()
    assert swept_orders(again) == Counter({o["id"]: 1 for o in [*bulk, later]})
    read = [json.loads(r.payload) for r in again if r.record_type == "order"]
    paid = {o["id"]: o["status"] for o in read}
    assert {paid[o["id"]] for o in bulk} == {"processing"}
    assert after == []


def test_orders_changed_again_while_their_crowded_second_is_paged_push_none_past(
    world: WooWorld,
) -> None:
    """Orders of a bulk second changed again between the pages of that second leave it, and
    neither they nor the orders behind them are lost."""
    bulk = on_hold_orders(world, 250)
    client = source().connect(world.connection(), world.transport)
    _, cursor = sweep_stream(client.fetch, "orders", None)
    bulk_paid(world, bulk)
    records: list[SourceRecord] = []
    changed: list[int] = []
    more = True
    while more:
        page = client.fetch("orders", cursor)
        records += page.records
        cursor, more = page.cursor, page.more
        # the shop manager completes the lowest-numbered order read so far
        read = swept_orders(records)
        waiting = [o for o in bulk if o["id"] in read and o["status"] == "processing"]
        if more and waiting:
            world.clock.set(world.clock() + timedelta(seconds=1))
            set_status(world.shop, min(waiting, key=lambda o: o["id"]), "completed")
            changed.append(min(o["id"] for o in waiting))
    client.close()
    swept = swept_orders(records)
    assert len(changed) >= 3
    assert set(swept) == {o["id"] for o in bulk}
    assert sum(swept.values()) == len(bulk) + len(changed)


def test_more_orders_than_the_overlap_changed_again_between_pages_are_read_again(
    world: WooWorld,
) -> None:
    """Fifteen orders already read leave the crowded second between two pages (a sweep
    resumed after a pause): every order behind them moves fifteen places forward, past the
    overlap. The page shows nothing read before, so the sweep steps back, not past them."""
    bulk = on_hold_orders(world, 250)
    client = source().connect(world.connection(), world.transport)
    _, cursor = sweep_stream(client.fetch, "orders", None)
    bulk_paid(world, bulk)
    records: list[SourceRecord] = []
    more, pages, moved = True, 0, False
    while more:
        page = client.fetch("orders", cursor)
        records += page.records
        cursor, more = page.cursor, page.more
        pages += 1
        paging = cursor is not None and json.loads(cursor).get("offset") is not None
        if more and not moved and paging and pages == 3:
            moved = True
            world.clock.set(world.clock() + timedelta(seconds=1))
            read = swept_orders(records)
            for order in sorted((o for o in bulk if o["id"] in read), key=lambda o: o["id"])[:15]:
                set_status(world.shop, order, "completed")
    client.close()
    assert moved
    assert set(swept_orders(records)) == {o["id"] for o in bulk}


def test_a_cursor_saved_before_crowded_seconds_were_paged_still_resumes(world: WooWorld) -> None:
    """A version 1 cursor (as saved before the sweep paged through one second) resumes where
    it stood, the same as the cursor saved now."""
    client = source().connect(world.connection(), world.transport)
    _, cursor = sweep_stream(client.fetch, "orders", None)
    assert cursor is not None
    body = json.loads(cursor)
    assert set(body) <= {"v", "since", "known"}
    saved = json.dumps({**body, "v": 1}, separators=(",", ":"))
    world.trade(world.clock() + timedelta(hours=3))
    now, _ = sweep_stream(client.fetch, "orders", cursor)
    then, _ = sweep_stream(client.fetch, "orders", saved)
    client.close()
    assert now
    assert [r.payload for r in then] == [r.payload for r in now]


# -- translation ---------------------------------------------------------------------------


def test_unpaid_orders_are_skipped_saying_why(traded: WooWorld) -> None:
    """Pending, on-hold, failed and cancelled orders are skips naming their status."""
    translated = records_of(traded, "orders")
    skips = {
        json.loads(r.payload)["status"]: t.reason
        for r, t in translated
        if r.record_type == "order" and isinstance(t, Skip)
    }
    assert {"on-hold", "failed", "cancelled"} <= set(skips)
    assert "awaiting payment confirmation" in skips["on-hold"]
    paid = {json.loads(r.payload)["status"] for r, t in translated if isinstance(t, Sale)}
    assert paid <= {"processing", "completed", "refunded"}


def test_refunds_are_linked_to_their_sales_and_add_up(traded: WooWorld) -> None:
    """Every refund names its order's sale and passes the refund checks against it."""
    translated = records_of(traded, "orders")
    sales = {t.id: t for _, t in translated if isinstance(t, Sale)}
    refunds = [t for _, t in translated if isinstance(t, Refund)]
    assert refunds
    for refund in refunds:
        sale = sales[refund.sale_id]
        earlier = [
            r for r in refunds if r.sale_id == sale.id and r.occurred_at < refund.occurred_at
        ]
        assert validate_refund(refund, sale, earlier) == []


def test_tips_fees_coupons_and_shipping_find_their_places(traded: WooWorld) -> None:
    """A tip fee is the tip, other fees are charges, a coupon is a line discount and
    shipping carries its tax; every sale adds up to WooCommerce's total."""
    sales = [t for _, t in records_of(traded, "orders") if isinstance(t, Sale)]
    assert any(s.tip is not None for s in sales)
    assert any(c.name == "Gift wrapping" and c.taxes for s in sales for c in s.service_charges)
    assert any(line.discounts for s in sales for line in s.lines)
    assert any(s.shipping is not None and s.shipping_taxes for s in sales)
    assert {p.tender for s in sales for p in s.payments} >= {"stripe", "pos_cash", "pos_card"}
    assert all(s.computed_total == s.grand_total for s in sales)


def test_customers_and_products_are_listed_under_woocommerce_ids(traded: WooWorld) -> None:
    """Customers and products come out named, with email, SKU, category and price."""
    translated = [t for _, t in records_of(traded, "customers", "products")]
    customers = [t for t in translated if isinstance(t, Customer)]
    products = [t for t in translated if isinstance(t, Product)]
    assert customers
    assert all(c.id.startswith("woocommerce:") and c.email for c in customers)
    mug = next(p for p in products if p.sku == "MUG-01")
    assert (mug.category, mug.price.currency, mug.taxable) == ("Kitchen", "USD", True)
    assert not next(p for p in products if p.sku == "GIFT-25").taxable


def test_a_malformed_order_names_every_problem_and_its_path(traded: WooWorld) -> None:
    """Bad fields are all listed, each with the path to it."""
    order = json.loads(
        next(r.payload for r, t in records_of(traded, "orders") if isinstance(t, Sale))
    )
    order["total"] = "lots"
    order["line_items"][0]["quantity"] = "two"
    del order["currency"]
    context = traded.connection().context("woocommerce")
    with pytest.raises(ValidationError) as caught:
        source().translate("order", json.dumps(order), context)
    paths = {p.path for p in caught.value.problems}
    assert {"total", "line_items[0].quantity", "currency"} <= paths


def test_a_refund_that_names_no_items_is_refused_saying_what_to_do(traded: WooWorld) -> None:
    """An amount-only refund cannot be split into what was given back: it is held with a
    problem naming the fix, not guessed."""
    record = next(r for r, t in records_of(traded, "orders") if isinstance(t, Refund))
    wrapped = json.loads(record.payload)
    wrapped["refund"] |= {"line_items": [], "shipping_lines": []}
    context = traded.connection().context("woocommerce")
    with pytest.raises(ValidationError) as caught:
        source().translate("order_refund", json.dumps(wrapped), context)
    [problem] = caught.value.problems
    assert (problem.code, problem.path) == ("refund_without_items", "refund.line_items")


def test_an_unmapped_channel_falls_back_to_the_default_location(traded: WooWorld) -> None:
    """An order from a channel not in the mapping is booked at the default location."""
    record = next(r for r, t in records_of(traded, "orders") if isinstance(t, Sale))
    order = {**json.loads(record.payload), "created_via": "admin"}
    context = traded.connection(default_location="web").context("woocommerce")
    sale = source().translate("order", json.dumps(order), context)
    assert isinstance(sale, Sale)
    assert sale.location_id == "web"


# -- webhooks WooCommerce disabled ---------------------------------------------------------


def set_up(factory: sessionmaker[Session], world: WooWorld, vault: Vault) -> str:
    """The tenant, its locations, a contact and the WooCommerce connection, stored."""
    with factory() as session, session.begin():
        Tenants(session).add(Tenant(TENANT, "Woo merchant"))
        for location in LOCATIONS:
            Locations(session, TENANT).add(location)
        Contacts(session, TENANT).add("owner@shop.example", name="Olive")
        connection = world.connection()
        return Connections(session, TENANT, vault).add(
            "woocommerce",
            "source",
            "WooCommerce",
            dict(connection.credentials),
            dict(connection.settings),
        )


def test_a_webhook_disabled_by_failed_deliveries_is_restored_and_its_orders_swept(
    books: sessionmaker[Session], world: WooWorld
) -> None:
    """While salesync's endpoint fails, WooCommerce disables the order webhook; the next
    sweep turns it back on, tells the merchant, and brings in the orders it missed."""
    vault = Vault([new_key()])
    connection_id = set_up(books, world, vault)
    world.answer = 503
    world.delivered.clear()
    world.trade(world.clock() + timedelta(hours=12))
    assert world.webhooks()["order.created"] == "disabled"
    world.answer = 200
    incidents = IncidentLog(world.clock, on_ticket=notice_hook(world.clock))
    desk = TicketDesk(books, world.clock, resolved=resolved_hook(world.clock))
    sweeper = Sweeper(
        books,
        world.clock,
        vault,
        transport=lambda _: world.transport,
        incidents=incidents,
        settle=lambda ticket, why: desk.resolve(ticket, "salesync", why),
    )
    report = sweeper.sweep(TENANT, connection_id)
    repaired = {r.topic: (r.found, r.action) for r in report.repairs}
    assert repaired["order.created"] == ("disabled", "reactivated")
    assert set(world.webhooks().values()) == {"active"}
    with books() as session:
        [notice] = session.scalars(select(NoticeRow)).all()
    # Nothing was asked of the merchant: they hear once, that it is fixed.
    assert (notice.recipient, notice.reason) == ("owner@shop.example", "resolved")
    assert notice.subject.startswith("Fixed:")
    assert "turned it back on" in notice.body
    assert "No, nothing" in notice.body
    with books() as session:
        stored = session.scalars(
            select(InboxRecordRow.payload).where(InboxRecordRow.record_type == "order")
        ).all()
    swept = {json.loads(payload)["id"] for payload in stored}
    lost = {
        json.loads(d.body)["id"]
        for d in world.delivered
        if d.headers.get("x-wc-webhook-topic") == "order.created"
    }
    trashed = {i for i, o in world.shop.data.orders.items() if o["status"] == "trash"}
    assert lost
    assert lost - trashed <= swept
    assert report.records >= len(lost)
    # Once back on, the next order reaches salesync again, signed.
    world.delivered.clear()
    world.trade(world.clock() + timedelta(hours=3))
    assert any(d.headers.get("x-wc-webhook-topic") == "order.created" for d in world.delivered)
    again = sweeper.sweep(TENANT, connection_id)
    assert again.repairs == ()


def test_a_deleted_webhook_is_created_again_and_a_paused_one_left_to_the_merchant(
    world: WooWorld,
) -> None:
    """A missing topic is subscribed again; a paused one is reported, not overridden."""
    hooks = {w["topic"]: w["id"] for w in world.shop.data.webhooks.values()}
    with world.admin() as admin:
        admin.delete(
            f"/webhooks/{hooks['order.updated']}", params={"force": "true"}
        ).raise_for_status()
        admin.put(
            f"/webhooks/{hooks['customer.created']}", json={"status": "paused"}
        ).raise_for_status()
    client = source().connect(world.connection(), world.transport)
    repairs = {r.topic: (r.found, r.action) for r in client.keep_subscriptions()}
    client.close()
    assert repairs == {
        "order.updated": ("deleted", "recreated"),
        "customer.created": ("paused", "none"),
    }
    assert world.webhooks()["order.updated"] == "active"
    assert world.webhooks()["customer.created"] == "paused"


# -- a week through the engine -------------------------------------------------------------


@pytest.fixture(scope="module")
def week() -> Iterator[WooWorld]:
    """Seven days of trading at the web store and the counter."""
    with woo_world(seed=3) as world:
        world.trade(START + timedelta(days=7))
        yield world


def assert_balanced_and_reconciled(factory: sessionmaker[Session], world: WooWorld) -> Counter[str]:
    """Every document posted, the books balanced, and each day reconciled to zero; returns
    the documents queued, by kind."""
    with factory() as session:
        waiting = session.scalars(
            select(QueuedDocumentRow.document_id).where(QueuedDocumentRow.planned.is_(False))
        ).all()
        kinds = Counter(session.scalars(select(QueuedDocumentRow.kind)).all())
        balances = LedgerBooks(session, TENANT).trial_balance()
        days = Reconciler(session, TENANT, LOCATIONS).reconcile(
            START.date() - timedelta(days=1), START.date() + timedelta(days=8)
        )
    assert waiting == []
    by_currency: Counter[str] = Counter()
    for row in balances:
        by_currency[row.balance.currency] += row.balance.to_minor()
    assert by_currency == Counter({"USD": 0})
    assert {d.location_id for d in days} == {"web", "counter"}
    assert len({d.day for d in days}) >= 7
    for day in days:
        assert day.clean, (day.location_id, day.day, day.differences, day.documents)
    return kinds


def paid_orders(world: WooWorld) -> list[dict[str, object]]:
    return [
        o
        for o in world.shop.data.orders.values()
        if o["status"] in ("processing", "completed", "refunded")
    ]


def test_a_week_of_two_outlets_reaches_the_ledger_balanced_and_reconciled(
    books: sessionmaker[Session], week: WooWorld
) -> None:
    """A week's sweep posts every paid order and every refund once, in balanced books that
    reconcile to zero for each outlet and day."""
    vault = Vault([new_key()])
    connection_id = set_up(books, week, vault)
    clock = ManualClock(week.clock())
    Sweeper(books, clock, vault, transport=lambda _: week.transport).sweep(TENANT, connection_id)
    engine = Engine(books, clock)
    counts = engine.take_in(TENANT)
    assert counts[RecordState.QUARANTINED.value] == 0
    clock.advance(timedelta(days=2))
    engine.run_until_idle(TENANT, max_ticks=50)
    kinds = assert_balanced_and_reconciled(books, week)
    assert kinds["sale"] == len(paid_orders(week))
    assert kinds["refund"] == sum(len(r) for r in week.shop.data.refunds.values())
    assert {o["created_via"] for o in paid_orders(week)} == {"checkout", "pos-rest-api"}


def test_an_order_paid_weeks_after_it_was_placed_is_in_the_history_of_the_day_it_was_paid(
    world: WooWorld,
) -> None:
    """A bank transfer left on hold 20 days is in the history window it was paid in, once,
    and not in the one it was placed in."""
    (order,) = on_hold_orders(world, 1)
    placed = datetime.fromisoformat(order["date_created_gmt"]).replace(tzinfo=UTC)
    world.clock.set(world.clock() + timedelta(days=20))
    set_status(world.shop, order, "processing")
    paid = datetime.fromisoformat(order["date_paid_gmt"]).replace(tzinfo=UTC)
    world.clock.set(world.clock() + timedelta(days=3))
    client = source().connect(world.connection(), world.transport)

    def orders_on(day: datetime) -> Counter[int]:
        start = datetime.combine(day.date(), time(), UTC)
        return swept_orders(list(client.history(start, start + timedelta(days=1))))

    on_paid_day, on_placed_day = orders_on(paid), orders_on(placed)
    client.close()
    assert on_paid_day[order["id"]] == 1
    assert order["id"] not in on_placed_day


def test_a_backfill_of_the_week_posts_the_same_books(
    books: sessionmaker[Session], week: WooWorld
) -> None:
    """History read day by day brings the same sales and refunds, balanced and reconciled."""
    vault = Vault([new_key()])
    connection_id = set_up(books, week, vault)
    clock = ManualClock(week.clock() + timedelta(days=1))
    backfills = Backfills(books, clock)
    first = START.date() - timedelta(days=1)
    job = backfills.start(TENANT, "woocommerce", first, first + timedelta(days=8))
    with books() as session:
        opened = Connections(session, TENANT, vault).opened(connection_id)
    client = source().connect(opened, week.transport)
    done = backfills.run(job, client)
    client.close()
    assert done.state is BackfillState.DONE
    engine = Engine(books, clock)
    counts = engine.take_in(TENANT)
    assert counts[RecordState.QUARANTINED.value] == 0
    assert counts[RecordState.PARKED.value] == 0
    clock.advance(timedelta(days=2))
    engine.run_until_idle(TENANT, max_ticks=50)
    kinds = assert_balanced_and_reconciled(books, week)
    assert kinds["sale"] == len(paid_orders(week))
    assert kinds["refund"] == sum(len(r) for r in week.shop.data.refunds.values())
