"""The Shopify source: the shared contract against the sandbox store, then what is
particular to Shopify (signatures, both payload shapes, rate limits, errors, the sweep
after lost webhooks, a long backfill)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from contract import (
    HistoryContract,
    SourceContract,
    SourceHarness,
    StreamContract,
    WebhookContract,
    sweep_stream,
)
from shopify_harness import CLIENT_SECRET, LOCATIONS, START, TENANT, Shop, throttled
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.connectors.ledger.books import LedgerBooks
from salesync.connectors.shopify import ShopifySource, signature
from salesync.connectors.shopify.client import ShopifyClient
from salesync.connectors.source import (
    ForgedWebhookError,
    Skip,
    SourceConnection,
    SourceRecord,
    WebhookRequest,
)
from salesync.domain.documents import (
    Document,
    DocumentKind,
    Payout,
    Refund,
    Sale,
    TaxMode,
    Tenant,
    document_id,
)
from salesync.domain.errors import AuthError, TransientError, ValidationError
from salesync.domain.validation import validate_payout, validate_refund, validate_sale
from salesync.engine.backfill import Backfills, BackfillState
from salesync.engine.inbox import RecordState
from salesync.engine.runner import Engine
from salesync.engine.sweep import Sweeper
from salesync.sandbox.faults import Fault, FaultKind
from salesync.sandbox.ratelimit import BucketRegistry, LeakyBucket
from salesync.sandbox.shopify import ShopifyActivity, ShopifyStore
from salesync.sandbox.shopify.records import Order
from salesync.store.documents import Documents
from salesync.store.repositories import Connections, Locations, Tenants
from salesync.store.tables import InboxRecordRow, QueuedDocumentRow
from salesync.store.vault import Vault, new_key

SIGNATURE = "x-shopify-hmac-sha256"


@pytest.fixture(scope="module")
def trading() -> Iterator[Shop]:
    """A day and a quarter of trading (a payout included), built once per module."""
    shop = Shop.trading(1.25)
    yield shop
    shop.close()


@pytest.fixture
def shop(trading: Shop) -> Iterator[Shop]:
    """The module's trading in a store of its own (fresh rate-limit buckets and faults)."""
    copy = trading.copy()
    yield copy
    copy.close()


def _malformed(shop: Shop) -> list[SourceRecord]:
    order = next(d.body.decode() for d in shop.deliveries if b'"line_items"' in d.body)
    broken_line = json.loads(order)
    broken_line["line_items"][0]["price"] = "twelve"
    return [
        SourceRecord("order", json.dumps({"id": 1, "name": "#1", "currency": "USD"})),
        SourceRecord("order", json.dumps(broken_line)),
        SourceRecord("order_refund", f'{{"refund_id":1,"order":{order}}}'),
        SourceRecord("order_node", json.dumps({"legacyResourceId": "1", "processedAt": "soon"})),
        SourceRecord("payout", json.dumps({"payout": {"status": "PAID"}})),
        SourceRecord("customer", "[]"),
        SourceRecord("shop", "{}"),
    ]


class TestShopifyContract(SourceContract, WebhookContract, StreamContract, HistoryContract):
    @pytest.fixture
    def harness(self, shop: Shop) -> SourceHarness:
        return SourceHarness(
            source=shop.source(),
            connection=shop.connection(),
            locations=LOCATIONS,
            now=shop.clock() + timedelta(minutes=1),
            transport=shop.transport,
            deliveries=lambda: list(shop.deliveries),
            signature_headers=(SIGNATURE,),
            history_window=(START, START + timedelta(days=1)),
            malformed=_malformed(shop),
        )


# -- webhooks ------------------------------------------------------------------------------


def _connection(secret: str, shop: str = "example.myshopify.com") -> SourceConnection:
    return SourceConnection(TENANT, "c1", "Shopify", {"shop": shop}, {"client_secret": secret})


def _delivery(body: bytes, digest: str, topic: str = "orders/create") -> WebhookRequest:
    headers = {
        SIGNATURE: digest,
        "x-shopify-topic": topic,
        "x-shopify-shop-domain": "example.myshopify.com",
        "x-shopify-event-id": "e-1",
        "x-shopify-triggered-at": "2026-03-02T14:00:27.877041743Z",
    }
    return WebhookRequest("https://salesync.test/hooks/shopify", headers, body)


def test_published_signature_examples_verify_and_forgeries_do_not() -> None:
    """Known (secret, body, digest) triples verify; another body or secret is refused."""
    # sqlpage/SQLPage tests/sql_test_files/data/hmac_shopify_webhook.sql, and a digest
    # computed once with `openssl dgst -sha256 -hmac hush -binary | base64`.
    examples = [
        (
            "test-webhook-secret",
            b'{"id":1234567890,"email":"customer@example.com","total_price":"123.45"}',
            "QNyObTlKbMx2qDlPF/ZOZcBqg5OgPg+2oky3zldc0Gw=",
        ),
        (
            "hush",
            b'{"id":820982911946154508,"email":"jon@example.com","total_price":"403.00",'
            b'"currency":"USD"}',
            "MMpUdski84o9++dvrfZenLX2iWaYrlDt4sdLADOau78=",
        ),
    ]
    source = ShopifySource()
    for secret, body, digest in examples:
        assert signature(body, secret) == digest
        webhook = source.verify(_delivery(body, digest), _connection(secret))
        assert webhook.topic == "orders/create"
        assert webhook.event_id == "e-1"
        assert webhook.triggered_at is not None
        assert webhook.triggered_at.isoformat() == "2026-03-02T14:00:27.877041+00:00"
        with pytest.raises(ForgedWebhookError):
            source.verify(_delivery(body.replace(b"0", b"1"), digest), _connection(secret))
        with pytest.raises(ForgedWebhookError):
            source.verify(_delivery(body, digest), _connection("another-secret"))


def test_a_genuine_delivery_for_another_shop_is_refused() -> None:
    """One app serves many shops: a delivery signed for shop A never lands in shop B."""
    body = b'{"id":1}'
    request = _delivery(body, signature(body, "s"))
    with pytest.raises(ForgedWebhookError) as caught:
        ShopifySource().verify(request, _connection("s", shop="other.myshopify.com"))
    assert caught.value.code == "webhook_wrong_shop"


def test_a_genuine_body_that_is_not_json_is_a_validation_error() -> None:
    """Signature first, then the body: a signed body that is not JSON names the problem."""
    body = b"<order/>"
    with pytest.raises(ValidationError) as caught:
        ShopifySource().verify(_delivery(body, signature(body, "s")), _connection("s"))
    assert [p.code for p in caught.value.problems] == ["malformed_body"]


def test_an_order_delivery_splits_into_the_sale_and_its_refunds(shop: Shop) -> None:
    """An orders/updated body with refunds gives one record each, with suffixed event ids."""
    source, connection = shop.source(), shop.connection()
    delivery = next(
        d
        for d in shop.deliveries
        if d.headers["x-shopify-topic"] == "orders/updated" and b'"refund_line_items"' in d.body
    )
    webhook = source.verify(delivery, connection)
    event = delivery.headers["x-shopify-event-id"]
    types = [r.record_type for r in webhook.records]
    assert types[0] == "order"
    assert set(types[1:]) == {"order_refund"}
    assert webhook.records[0].event_id == f"{event}/order"
    assert all(
        r.event_id and r.event_id.startswith(f"{event}/refund/") for r in webhook.records[1:]
    )
    assert webhook.triggered_at is not None
    assert webhook.triggered_at <= shop.clock()
    context = connection.context("shopify")
    documents = [source.translate(r.record_type, r.payload, context) for r in webhook.records]
    assert all(isinstance(d, Refund) for d in documents[1:])


def test_refund_and_uninstall_webhooks_are_skipped_with_reasons(shop: Shop) -> None:
    """refunds/create waits for its order's update; app/uninstalled asks to reconnect."""
    source, connection = shop.source(), shop.connection()
    context = connection.context("shopify")
    refund = next(d for d in shop.deliveries if d.headers["x-shopify-topic"] == "refunds/create")
    (record,) = source.verify(refund, connection).records
    skipped = source.translate(record.record_type, record.payload, context)
    assert isinstance(skipped, Skip)
    assert "orders/updated" in skipped.reason
    body = json.dumps({"id": 1, "myshopify_domain": shop.store.domain}).encode()
    request = _delivery(body, signature(body, CLIENT_SECRET), topic="app/uninstalled")
    request = replace(
        request, headers={**request.headers, "x-shopify-shop-domain": shop.store.domain}
    )
    (record,) = source.verify(request, connection).records
    uninstalled = source.translate(record.record_type, record.payload, context)
    assert isinstance(uninstalled, Skip)
    assert "reconnect" in uninstalled.reason


# -- translation ---------------------------------------------------------------------------


def _swept(shop: Shop, stream: str = "orders") -> list[SourceRecord]:
    client = shop.source().connect(shop.connection(), shop.transport)
    try:
        return sweep_stream(client.fetch, stream, None)[0]
    finally:
        client.close()


def test_webhook_and_sweep_shapes_of_an_order_make_the_same_documents(shop: Shop) -> None:
    """The last REST delivery of each order and its GraphQL node give equal documents."""
    source, connection = shop.source(), shop.connection()
    context = connection.context("shopify")
    latest: dict[tuple[str, str], SourceRecord] = {}
    for delivery in shop.deliveries:
        if delivery.headers["x-shopify-topic"].startswith("orders/"):
            for r in source.verify(delivery, connection).records:
                data = json.loads(r.payload)
                latest[(r.record_type, str(data.get("refund_id") or data["id"]))] = r
    from_hooks = {}
    for record in latest.values():
        document = source.translate(record.record_type, record.payload, context)
        if isinstance(document, Sale | Refund):
            from_hooks[document.id] = document
    from_sweep = {}
    for record in _swept(shop):
        document = source.translate(record.record_type, record.payload, context)
        if isinstance(document, Sale | Refund):
            from_sweep[document.id] = document
    assert len(from_hooks) > 50
    assert from_hooks.keys() <= from_sweep.keys()
    assert [i for i, d in from_hooks.items() if from_sweep[i] != d] == []


def test_only_paid_real_orders_become_sales(shop: Shop) -> None:
    """Pending, authorized, voided, test and zero-total orders are skipped with reasons."""
    source, connection = shop.source(), shop.connection()
    context = connection.context("shopify")
    body = json.loads(
        next(
            d.body
            for d in shop.deliveries
            if d.headers["x-shopify-topic"] == "orders/paid"
            and len(json.loads(d.body)["payment_gateway_names"]) == 1
        )
    )
    assert isinstance(source.translate("order", json.dumps(body), context), Sale)
    for change, words in [
        ({"financial_status": "pending"}, "waiting for payment"),
        ({"financial_status": "authorized"}, "not yet captured"),
        ({"financial_status": "voided"}, "voided"),
        ({"test": True}, "test order"),
        ({"total_price": "0.00"}, "no money"),
    ]:
        skipped = source.translate("order", json.dumps(body | change), context)
        assert isinstance(skipped, Skip)
        assert words in skipped.reason


def test_prices_that_include_tax_keep_it_inside(shop: Shop) -> None:
    """taxesIncluded makes an inclusive sale whose total does not add the tax again."""
    context = shop.connection().context("shopify")
    body = json.loads(
        next(
            d.body
            for d in shop.deliveries
            if d.headers["x-shopify-topic"] == "orders/paid"
            and len(json.loads(d.body)["payment_gateway_names"]) == 1
            and Decimal(json.loads(d.body)["total_tax"])
        )
    )
    total = Decimal(body["total_price"]) - Decimal(body["total_tax"])
    body |= {"taxes_included": True, "total_price": str(total)}
    sale = ShopifySource().translate("order", json.dumps(body), context)
    assert isinstance(sale, Sale)
    assert sale.tax_mode is TaxMode.INCLUSIVE
    assert sale.tax_total.amount == Decimal(body["total_tax"])
    assert sale.grand_total.amount == total
    assert validate_sale(sale) == []


def test_a_split_tender_webhook_waits_for_the_sweep_which_splits_it(shop: Shop) -> None:
    """REST orders do not say what each gateway took; the GraphQL node does."""
    source, connection = shop.source(), shop.connection()
    context = connection.context("shopify")
    split = next(
        d
        for d in shop.deliveries
        if d.headers["x-shopify-topic"] == "orders/paid"
        and len(json.loads(d.body)["payment_gateway_names"]) == 2
    )
    order_id = str(json.loads(split.body)["id"])
    skipped = source.translate("order", split.body.decode(), context)
    assert isinstance(skipped, Skip)
    assert "next sweep" in skipped.reason
    node = next(r for r in _swept(shop) if r.record_type == "order_node" and order_id in r.payload)
    sale = source.translate(node.record_type, node.payload, context)
    assert isinstance(sale, Sale)
    assert {p.tender for p in sale.payments} in ({"gift_card", "card"}, {"cash", "card"})
    assert validate_sale(sale) == []


def test_every_refund_adds_up_against_its_sale(shop: Shop) -> None:
    """Refunds (shipping and tips given back included) match their tenders and sale."""
    source, connection = shop.source(), shop.connection()
    context = connection.context("shopify")
    documents = [source.translate(r.record_type, r.payload, context) for r in _swept(shop)]
    sales = {d.id: d for d in documents if isinstance(d, Sale)}
    refunds = sorted((d for d in documents if isinstance(d, Refund)), key=lambda r: r.occurred_at)
    assert any(r.shipping for r in refunds)
    earlier: dict[str, list[Refund]] = {}
    for refund in refunds:
        sale = sales[refund.sale_id]
        assert validate_refund(refund, sale, earlier.get(sale.id, [])) == []
        earlier.setdefault(sale.id, []).append(refund)


def test_malformed_orders_name_the_field_to_fix(shop: Shop) -> None:
    """A bad price and a missing total are problems at their paths in the payload."""
    context = shop.connection().context("shopify")
    order = json.loads(next(d.body for d in shop.deliveries if b'"line_items"' in d.body))
    order["line_items"][0]["price"] = "twelve"
    del order["total_price"]
    with pytest.raises(ValidationError) as caught:
        ShopifySource().translate("order", json.dumps(order), context)
    found = {(p.code, p.path) for p in caught.value.problems}
    assert found == {("invalid_field", "line_items[0].price"), ("missing_field", "total_price")}


def test_documents_carry_the_time_shopify_last_changed_their_order(shop: Shop) -> None:
    """Sales and refunds carry their order's updatedAt; payouts, which Shopify stamps with
    no time of change, none; an order webhook without updated_at is refused."""
    source, connection = shop.source(), shop.connection()
    context = connection.context("shopify")
    changed: dict[str, datetime] = {}
    documents = []
    for stream in ("orders", "payouts"):
        for record in _swept(shop, stream):
            data = json.loads(record.payload)
            order = data.get("order", data)
            if "updatedAt" in order:
                changed[order["legacyResourceId"]] = datetime.fromisoformat(order["updatedAt"])
            documents.append(source.translate(record.record_type, record.payload, context))
    of_sale = {document_id(TENANT, "shopify", DocumentKind.SALE, k): v for k, v in changed.items()}
    sales = [d for d in documents if isinstance(d, Sale)]
    refunds = [d for d in documents if isinstance(d, Refund)]
    payouts = [d for d in documents if isinstance(d, Payout)]
    assert sales
    assert refunds
    assert payouts
    for sale in sales:
        assert sale.source_updated_at == changed[sale.external_id]
    for refund in refunds:
        assert refund.source_updated_at == of_sale[refund.sale_id]
    assert all(p.source_updated_at is None for p in payouts)
    order = json.loads(next(d.body for d in shop.deliveries if b'"line_items"' in d.body))
    del order["updated_at"]
    with pytest.raises(ValidationError) as caught:
        source.translate("order", json.dumps(order), context)
    assert {(p.code, p.path) for p in caught.value.problems} == {("missing_field", "updated_at")}


def test_payouts_name_the_sales_and_refunds_they_settle(shop: Shop) -> None:
    """A payout balances and each transaction names a swept sale or refund."""
    source, connection = shop.source(), shop.connection()
    context = connection.context("shopify")
    documents = [
        source.translate(r.record_type, r.payload, context)
        for stream in ("orders", "payouts")
        for r in _swept(shop, stream)
    ]
    external = {(d.kind, d.external_id) for d in documents if isinstance(d, Sale | Refund)}
    payouts = [d for d in documents if isinstance(d, Payout)]
    assert payouts
    for payout in payouts:
        assert validate_payout(payout) == []
        for t in payout.transactions:
            kind = DocumentKind.REFUND if t.kind == "refund" else DocumentKind.SALE
            assert (kind, t.document_external_id) in external


# -- the Admin API: rate limits and errors --------------------------------------------------


def _client(shop: Shop) -> ShopifyClient:
    return shop.source().connect(shop.connection(), shop.transport)


def test_the_client_waits_for_the_cost_bucket_instead_of_being_throttled(trading: Shop) -> None:
    """With a small bucket the sweep pauses for restored points and is never THROTTLED."""
    shop = trading.copy()
    clock = shop.clock
    shop.store.graphql_buckets = BucketRegistry(lambda: LeakyBucket(1000, 50, clock))
    started = clock()
    records = _swept(shop)
    assert len([r for r in records if r.record_type == "order_node"]) == len(shop.store.data.orders)
    assert throttled(shop.transport) == 0
    assert clock() - started > timedelta(seconds=20)


def test_a_page_the_bucket_can_never_hold_is_asked_for_in_smaller_pages(shop: Shop) -> None:
    """A bucket smaller than an orders page is refused once; then pages shrink to fit."""
    clock = shop.clock
    shop.store.graphql_buckets = BucketRegistry(lambda: LeakyBucket(400, 20, clock))
    client = _client(shop)
    cursor = None
    for _ in range(3):
        page = client.fetch("orders", cursor)
        assert [r.record_type for r in page.records].count("order_node") == 1
        assert page.more
        cursor = page.cursor
    assert throttled(shop.transport) == 1


def test_a_429_is_waited_out_for_its_retry_after(shop: Shop) -> None:
    """A 429 with Retry-After: 7 makes the client wait 7 seconds, then it succeeds."""
    shop.store.faults.arm("graphql", Fault(FaultKind.RATE_LIMITED, retry_after=7.0))
    started = shop.clock()
    client = _client(shop)
    page = client.fetch("customers", None)
    assert page.records
    assert shop.clock() - started >= timedelta(seconds=7)


def test_rate_limits_that_do_not_lift_become_a_transient_error(shop: Shop) -> None:
    """Five 429s in a row: a TransientError carrying Shopify's Retry-After."""
    shop.store.faults.arm("graphql", Fault(FaultKind.RATE_LIMITED, retry_after=3.0), times=5)
    with pytest.raises(TransientError) as caught:
        _client(shop).fetch("customers", None)
    assert caught.value.retry_after == 3.0
    assert caught.value.code == "shopify_http_429"


def test_server_errors_and_lost_answers_are_retried_then_transient(shop: Shop) -> None:
    """A 503 and a dropped connection are retried; five 502s are a TransientError."""
    shop.store.faults.arm("graphql", Fault(FaultKind.SERVER_ERROR, status=503))
    shop.store.faults.arm("graphql", Fault(FaultKind.LOST_RESPONSE))
    shop.store.faults.arm("graphql", Fault(FaultKind.MALFORMED))
    client = _client(shop)
    assert client.fetch("customers", None).records
    shop.store.faults.arm("graphql", Fault(FaultKind.SERVER_ERROR, status=502), times=5)
    with pytest.raises(TransientError) as caught:
        client.fetch("customers", None)
    assert caught.value.kind.retryable


def test_a_revoked_token_is_an_auth_error_asking_to_reconnect(shop: Shop) -> None:
    """401 after the token is revoked: an AuthError whose user message says reconnect."""
    shop.store.credentials.revoke(shop.token)
    with pytest.raises(AuthError) as caught:
        _client(shop).fetch("orders", None)
    assert caught.value.code == "shopify_http_401"
    assert "Reconnect" in caught.value.user_message


def test_a_missing_permission_is_an_auth_error(shop: Shop) -> None:
    """ACCESS_DENIED for payouts without the payouts scope is an AuthError, not a bug."""
    shop.store.credentials.register_app(("read_orders",), "narrow", "narrow-secret")
    code = shop.store.credentials.issue_code("narrow")
    grant = shop.store.credentials.exchange_code("narrow", "narrow-secret", code, expiring=False)
    connection = replace(shop.connection(), credentials={"access_token": grant.access_token})
    client = shop.source().connect(connection, shop.transport)
    with pytest.raises(AuthError) as caught:
        client.fetch("payouts", None)
    assert caught.value.code == "shopify_access_denied"


def test_rest_calls_are_paced_by_the_call_limit_header(shop: Shop) -> None:
    """Fifty shop.json reads against a 40-call bucket never meet a 429."""
    client = _client(shop)
    for _ in range(50):
        assert client.shop().currency == "USD"
    assert {status for path, status, _ in shop.transport.answers if "shop.json" in path} == {200}


def test_locations_and_subscriptions(shop: Shop) -> None:
    """Locations list for mapping; subscribing twice creates nothing new; a bad address
    is refused with Shopify's reason."""
    client = _client(shop)
    assert {loc.name for loc in client.locations()} == {"Warehouse", "Downtown", "Airport"}
    created = client.subscribe("https://salesync.test/hooks/shopify/c1")
    assert len(created) == 9
    assert client.subscribe("https://salesync.test/hooks/shopify/c1") == []
    with pytest.raises(ValidationError) as caught:
        client.subscribe("ftp://nowhere", ("orders/paid",))
    assert "Address is invalid" in caught.value.problems[0].message


# -- end to end through the engine ---------------------------------------------------------


def _setup(factory: sessionmaker[Session], connection: SourceConnection) -> tuple[Vault, str]:
    vault = Vault([new_key()])
    with factory() as session, session.begin():
        Tenants(session).add(Tenant(TENANT, "Harbor Goods"))
        for location in LOCATIONS:
            Locations(session, TENANT).add(location)
        connection_id = Connections(session, TENANT, vault).add(
            "shopify",
            "source",
            connection.name,
            dict(connection.credentials),
            dict(connection.settings),
        )
    return vault, connection_id


def _expected_sales(store: ShopifyStore) -> set[str]:
    return {
        document_id(TENANT, "shopify", DocumentKind.SALE, str(o.id))
        for o in store.data.orders.values()
        if not o.test
    }


def _stored(factory: sessionmaker[Session], ids: set[str]) -> set[str]:
    with factory() as session:
        documents = Documents(session, TENANT)
        return {i for i in ids if documents.get(i) is not None}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_sweep_after_lost_webhooks_recovers_every_order(
    factory: sessionmaker[Session],
) -> None:
    """Webhooks dropped by Shopify leave sales missing; the next sweep brings them all."""
    clock = ManualClock(START)
    store = ShopifyStore(clock=clock, plan="enterprise")
    shop = Shop.open(store, clock)
    for topic in ("orders/create", "orders/paid", "orders/updated"):
        store.subscribe("salesync-app", topic, "https://salesync.test/hooks", "2026-01")
    store.deliveries.drop_next(25)
    ShopifyActivity(store, seed=5).run_until(START + timedelta(hours=8), clock)
    store.deliveries.deliver_due()
    assert store.deliveries.dropped
    vault, connection_id = _setup(factory, shop.connection())
    with factory() as session:
        opened = Connections(session, TENANT, vault).opened(connection_id)
    engine = Engine(factory, clock)
    for delivery in shop.deliveries:
        for record in ShopifySource().verify(delivery, opened).records:
            engine.receive(
                TENANT,
                "shopify",
                record.record_type,
                record.payload,
                event_id=record.event_id,
                connection_id=connection_id,
            )
    engine.take_in(TENANT)
    expected = _expected_sales(store)
    missing = expected - _stored(factory, expected)
    assert missing, "every webhook arrived; nothing for the sweep to recover"
    Sweeper(factory, clock, vault, transport=lambda _: shop.transport).sweep(TENANT, connection_id)
    counts = engine.take_in(TENANT)
    assert counts[RecordState.QUARANTINED.value] == 0
    assert _stored(factory, expected) == expected
    shop.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_90_day_backfill_reaches_the_ledger_balanced(factory: sessionmaker[Session]) -> None:
    """Ninety days of history through Backfills: every sale posted, the books balance."""
    clock = ManualClock(START)
    store = ShopifyStore(clock=clock, plan="enterprise")
    activity = ShopifyActivity(store, seed=3)
    for day in range(0, 90, 9):
        clock.set(START + timedelta(days=day))
        activity.run_until(START + timedelta(days=day, hours=4), clock)
    clock.set(START + timedelta(days=91))
    shop = Shop.open(store, clock)
    vault, connection_id = _setup(factory, shop.connection())
    with factory() as session:
        opened = Connections(session, TENANT, vault).opened(connection_id)
    client = shop.source().connect(opened, shop.transport)
    backfills = Backfills(factory, clock)
    first = START.date()
    job = backfills.start(TENANT, "shopify", first, first + timedelta(days=89), window_days=7)
    done = backfills.run(job, client)
    client.close()
    assert done.state is BackfillState.DONE
    engine = Engine(factory, clock)
    counts = engine.take_in(TENANT)
    assert counts[RecordState.QUARANTINED.value] == 0
    clock.advance(timedelta(days=1))
    engine.run_until_idle(TENANT)
    expected = _expected_sales(store)
    assert len(expected) > 100
    assert _stored(factory, expected) == expected
    with factory() as session:
        balances = LedgerBooks(session, TENANT).trial_balance()
        waiting = session.scalars(
            select(QueuedDocumentRow.document_id).where(QueuedDocumentRow.planned.is_(False))
        ).all()
        parked = session.scalars(
            select(InboxRecordRow.id).where(InboxRecordRow.state == RecordState.PARKED.value)
        ).all()
    assert waiting == []
    assert parked == []
    assert balances
    assert sum(row.balance.to_minor() for row in balances) == 0
    shop.close()


@dataclass
class _Books:
    """A fresh shop whose order webhooks are collected, and salesync's books taking them in
    one delivery at a time, in the order a test hands them over."""

    shop: Shop
    activity: ShopifyActivity
    factory: sessionmaker[Session]
    connection: SourceConnection
    connection_id: str

    @classmethod
    def open(cls, factory: sessionmaker[Session]) -> _Books:
        clock = ManualClock(START)
        store = ShopifyStore(clock=clock, plan="enterprise")
        shop = Shop.open(store, clock)
        for topic in ("orders/create", "orders/paid", "orders/updated"):
            store.subscribe("salesync-app", topic, "https://salesync.test/hooks", "2026-01")
        activity = ShopifyActivity(store, seed=5)
        activity.run_until(START + timedelta(hours=3), clock)
        store.deliveries.deliver_due()
        vault, connection_id = _setup(factory, shop.connection())
        with factory() as session:
            opened = Connections(session, TENANT, vault).opened(connection_id)
        return cls(shop, activity, factory, opened, connection_id)

    def paid_order(self) -> Order:
        """A paid order with a customer, taken through one gateway and not refunded: its
        REST webhook books it, and an edit collects the difference on that gateway."""
        return next(
            o
            for o in self.shop.store.data.orders.values()
            if o.financial_status == "PAID"
            and not o.test
            and o.customer_id is not None
            and {t.gateway for t in o.transactions} in ({"shopify_payments"}, {"cash"})
        )

    def told(self, order: Order) -> WebhookRequest:
        """Shopify's orders/updated delivery of ``order`` as it now stands."""
        with self.shop.store.lock:
            self.shop.store.data.orders[order.id] = order
        self.activity.announce_order(order, created=False)
        self.shop.store.deliveries.deliver_due()
        delivery = self.shop.deliveries[-1]
        assert delivery.headers["x-shopify-topic"] == "orders/updated"
        return delivery

    def sale(self, delivery: WebhookRequest) -> Sale:
        """The sale a delivery stands for, translated on its own."""
        (record,) = ShopifySource().verify(delivery, self.connection).records
        sale = ShopifySource().translate(
            record.record_type, record.payload, self.connection.context("shopify")
        )
        assert isinstance(sale, Sale)
        return sale

    def take(self, delivery: WebhookRequest) -> None:
        """Receive one delivery and take it in before the next arrives."""
        engine = Engine(self.factory, self.shop.clock)
        for record in ShopifySource().verify(delivery, self.connection).records:
            engine.receive(
                TENANT,
                "shopify",
                record.record_type,
                record.payload,
                event_id=record.event_id,
                connection_id=self.connection_id,
            )
        counts = engine.take_in(TENANT)
        assert counts[RecordState.QUARANTINED.value] == 0

    def stored(self, sale_id: str) -> tuple[int, Document | None]:
        """The stored sale's revision and current version."""
        with self.factory() as session:
            documents = Documents(session, TENANT)
            return documents.revision(sale_id), documents.get(sale_id)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_order_s_earlier_state_delivered_late_does_not_undo_its_edit(
    factory: sessionmaker[Session],
) -> None:
    """orders/updated of an edited order, then the delivery from before the edit: the
    second is older by its updated_at, so the sale stays as edited at revision 1."""
    books = _Books.open(factory)
    order = books.paid_order()
    before = books.told(order)
    books.shop.clock.advance(timedelta(minutes=10))
    after = books.told(books.activity.sales.edit(order))
    edited = books.sale(after)
    assert edited != books.sale(before)
    books.take(after)
    books.take(before)
    assert books.stored(edited.id) == (1, edited)
    books.shop.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_order_changed_and_changed_back_at_shopify_is_booked_back(
    factory: sessionmaker[Session],
) -> None:
    """A, then B (another customer), then A again with a later updated_at: the third
    delivery is an edit back to A, revision 3, not a late repeat of the first."""
    books = _Books.open(factory)
    order = books.paid_order()
    other = next(c for c in books.shop.store.data.customers.values() if c.id != order.customer_id)
    first = books.told(order)
    books.shop.clock.advance(timedelta(minutes=10))
    moved = replace(order, customer_id=other.id, email=other.email, updated_at=books.shop.clock())
    second = books.told(moved)
    books.shop.clock.advance(timedelta(minutes=10))
    third = books.told(replace(order, updated_at=books.shop.clock()))
    a, b = books.sale(first), books.sale(second)
    assert a != b
    assert books.sale(third) == a
    for delivery in (first, second, third):
        books.take(delivery)
    assert books.stored(a.id) == (3, a)
    books.shop.close()


def test_history_lists_only_its_window(shop: Shop) -> None:
    """history() for an afternoon gives that afternoon's orders and nothing else."""
    source, connection = shop.source(), shop.connection()
    start, end = START + timedelta(hours=2), START + timedelta(hours=5)
    client = source.connect(connection, shop.transport)
    records = list(client.history(start, end))
    context = connection.context("shopify")
    sales = [
        d
        for d in (source.translate(r.record_type, r.payload, context) for r in records)
        if isinstance(d, Sale)
    ]
    inside = {str(o.id) for o in shop.store.data.orders.values() if start <= o.processed_at < end}
    assert sales
    assert {s.external_id for s in sales} <= inside
