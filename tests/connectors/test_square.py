"""The Square source: the shared contract against a simulated seller, and what is Square's
own: its webhook signature, its rate limit and tokens, returns and exchanges as linked
orders, payouts, sweeps that recover lost webhooks, and backfills."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
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
from square_harness import (
    LOCATIONS,
    START,
    TENANT,
    SquareWorld,
    sell_at,
    set_up,
    square_world,
    without,
)

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
from salesync.connectors.square import SquareSource
from salesync.connectors.square.api import SQUARE_VERSION
from salesync.connectors.square.client import SquareClient
from salesync.connectors.square.cursor import SweepCursor
from salesync.connectors.square.records import order_records
from salesync.connectors.square.webhooks import SIGNATURE_HEADER, signature
from salesync.domain.documents import (
    EXCHANGE_TENDER,
    Customer,
    DocumentKind,
    Payout,
    Product,
    Refund,
    Sale,
    TaxMode,
    document_id,
)
from salesync.domain.errors import AuthError, BugError, ErrorKind, TransientError, ValidationError
from salesync.domain.validation import validate_payout, validate_refund, validate_sale
from salesync.engine.backfill import Backfills, BackfillState
from salesync.engine.inbox import Inbox, RecordState
from salesync.engine.runner import Engine
from salesync.engine.sweep import Sweeper
from salesync.sandbox.faults import Fault, FaultKind
from salesync.sandbox.server import free_port, serving
from salesync.sandbox.square import RateLimit, create_app
from salesync.sandbox.square.pages import rfc3339
from salesync.store.documents import Documents
from salesync.store.tables import InboxRecordRow, QueuedDocumentRow
from salesync.store.vault import Vault, new_key

# Square's published signature example, as its SDKs test it (square/square-python-sdk,
# tests/utilities/test_webhooks_helper.py; https://developer.squareup.com/docs/webhooks/step3validate),
# recomputed once with `openssl dgst -sha256 -hmac KEY -binary | base64`.
DOC_BODY = (
    b'{"merchant_id":"MLEFBHHSJGVHD","type":"webhooks.test_notification",'
    b'"event_id":"ac3ac95b-f97d-458c-a6e6-18981597e05f",'
    b'"created_at":"2022-07-13T20:30:59.037339943Z",'
    b'"data":{"type":"webhooks","id":"bc368e64-01aa-407e-b46e-3231809b1129"}}'
)
DOC_URL = "https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9"
DOC_KEY = "Ibxx_5AKakO-3qeNVR61Dw"
DOC_SIGNATURE = "GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4="


def no_wait(_: float) -> None:
    """Tests never really sleep."""


@pytest.fixture(scope="module")
def traded() -> Iterator[SquareWorld]:
    """Thirty hours of trading at two locations, every webhook delivered and kept."""
    with square_world(seed=7) as world:
        world.trade(START + timedelta(hours=30))
        yield world


@pytest.fixture
def world() -> Iterator[SquareWorld]:
    """A fresh seller with a few hours of trading, for tests that change it."""
    with square_world(seed=11) as fresh:
        fresh.trade(START + timedelta(hours=4))
        yield fresh


@pytest.fixture
def quiet() -> Iterator[SquareWorld]:
    """A fresh seller that has not traded yet."""
    with square_world(seed=5) as fresh:
        yield fresh


def sweep_all(client: SquareClient, streams: tuple[str, ...] | None = None) -> list[SourceRecord]:
    records: list[SourceRecord] = []
    for stream in streams or SquareSource.capabilities.streams:
        records += sweep_stream(client.fetch, stream, None)[0]
    return records


def translate_all(
    world: SquareWorld, records: list[SourceRecord], connection: SourceConnection | None = None
) -> list[tuple[SourceRecord, Translated]]:
    context = (connection or world.connection()).context("square")
    source = SquareSource()
    return [(r, source.translate(r.record_type, r.payload, context)) for r in records]


@pytest.fixture(scope="module")
def documents(traded: SquareWorld) -> list[tuple[SourceRecord, Translated]]:
    """Everything the traded seller's streams give, translated."""
    client = SquareSource().connect(traded.connection(), traded.transport)
    try:
        return translate_all(traded, sweep_all(client))
    finally:
        client.close()


def malformed() -> list[SourceRecord]:
    order = {
        "id": "ORDER1",
        "state": "COMPLETED",
        "created_at": "2026-03-02T15:00:00Z",
        "total_money": {"amount": "12.50", "currency": "USD"},
        "line_items": [{"quantity": "1", "name": "Latte"}],
    }
    odd_currency = {
        **order,
        "total_money": {"amount": 1250, "currency": "XYZ"},
        "line_items": [{"quantity": "1", "base_price_money": {"amount": 1250, "currency": "USD"}}],
    }
    return_order = {
        "id": "RETURN1",
        "state": "COMPLETED",
        "location_id": "nowhere",
        "created_at": "2026-03-02T15:00:00Z",
        "total_money": {"amount": 0, "currency": "USD"},
        "returns": [{"return_line_items": []}],
        "refunds": [
            {"id": "R1", "tender_id": "T1", "amount_money": {"amount": 100, "currency": "USD"}}
        ],
    }
    return [
        SourceRecord("order", json.dumps({"order": order})),
        SourceRecord("order", json.dumps({"order": odd_currency})),
        SourceRecord("order_return", json.dumps({"order": return_order, "source_tenders": {}})),
        SourceRecord("payout", json.dumps({"payout": {"id": "po_1"}})),
        SourceRecord("customer", "[]"),
        SourceRecord("item_variation", json.dumps({"item": {}, "variation": {}})),
        SourceRecord("gift_card_activity", "{}"),
    ]


class TestSquareSource(SourceContract, WebhookContract, StreamContract, HistoryContract):
    @pytest.fixture
    def harness(self, traded: SquareWorld) -> SourceHarness:
        return SourceHarness(
            source=SquareSource(sleep=no_wait),
            connection=traded.connection(),
            locations=LOCATIONS,
            now=traded.clock(),
            transport=traded.transport,
            deliveries=lambda: list(traded.delivered),
            delivered=(Customer,),
            signature_headers=(SIGNATURE_HEADER,),
            history_window=(START + timedelta(hours=6), START + timedelta(hours=20)),
            malformed=malformed(),
        )


# -- webhooks ------------------------------------------------------------------------------


def documented(**settings: Any) -> SourceConnection:
    return SourceConnection(
        TENANT, "conn-doc", "Square", settings, {"webhook_signature_key": DOC_KEY}
    )


def test_squares_published_signature_example_verifies() -> None:
    """Square's example key, URL, body and signature verify, and the event is read from it."""
    assert signature(DOC_URL, DOC_BODY, DOC_KEY) == DOC_SIGNATURE
    delivery = WebhookRequest(DOC_URL, {SIGNATURE_HEADER: DOC_SIGNATURE}, DOC_BODY)
    webhook = SquareSource().verify(delivery, documented())
    assert webhook.topic == "webhooks.test_notification"
    assert webhook.event_id == "ac3ac95b-f97d-458c-a6e6-18981597e05f"
    assert webhook.triggered_at == datetime(2022, 7, 13, 20, 30, 59, 37339, tzinfo=UTC)
    assert webhook.records == ()


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("https://webhook.site/another", DOC_BODY),
        (DOC_URL + "/", DOC_BODY),
        (DOC_URL, DOC_BODY.replace(b"MLEF", b"XLEF")),
        (DOC_URL, DOC_BODY + b"\n"),
    ],
    ids=["other-url", "trailing-slash", "changed-body", "added-newline"],
)
def test_a_delivery_signed_for_another_url_or_body_is_refused(url: str, body: bytes) -> None:
    """The signature covers the notification URL and the raw body byte for byte."""
    delivery = WebhookRequest(url, {SIGNATURE_HEADER: DOC_SIGNATURE}, body)
    with pytest.raises(ForgedWebhookError):
        SquareSource().verify(delivery, documented())


def test_the_configured_notification_url_is_what_the_signature_covers() -> None:
    """Behind a proxy, the subscription's URL from the settings is the one signed."""
    delivery = WebhookRequest(
        "http://10.0.0.7:8000/hooks", {SIGNATURE_HEADER: DOC_SIGNATURE}, DOC_BODY
    )
    assert SquareSource().verify(delivery, documented(notification_url=DOC_URL)).event_id
    with pytest.raises(ForgedWebhookError):
        SquareSource().verify(delivery, documented())


def test_a_connection_without_a_signature_key_refuses_every_delivery() -> None:
    """With no key to check against, even Square's own example is refused."""
    bare = replace(documented(), credentials={})
    delivery = WebhookRequest(DOC_URL, {SIGNATURE_HEADER: DOC_SIGNATURE}, DOC_BODY)
    with pytest.raises(ForgedWebhookError) as refused:
        SquareSource().verify(delivery, bare)
    assert refused.value.code == "webhook_signature_key_missing"


def test_customer_events_carry_the_customer_and_order_events_only_name_the_order(
    traded: SquareWorld,
) -> None:
    """Customer events carry the customer under their event id; order events carry none."""
    source = SquareSource()
    connection = traded.connection()
    topics: Counter[str] = Counter()
    for delivery in traded.delivered:
        body = json.loads(delivery.body)
        webhook = source.verify(delivery, connection)
        assert webhook.event_id == body["event_id"]
        assert webhook.triggered_at == datetime.fromisoformat(body["created_at"])
        topics[webhook.topic] += 1
        if webhook.topic.startswith("customer."):
            (record,) = webhook.records
            assert record.event_id == body["event_id"]
            customer = source.translate(
                record.record_type, record.payload, connection.context("square")
            )
            assert customer == Customer(
                f"square:{body['data']['id']}",
                TENANT,
                customer.name,
                body["data"]["object"]["customer"]["email_address"],
                body["data"]["object"]["customer"].get("phone_number"),
            )
        else:
            assert webhook.records == ()
    assert {"order.created", "customer.created", "payment.created"} <= set(topics)


def test_a_genuine_delivery_that_cannot_be_read_is_a_validation_error() -> None:
    """A correctly signed body that is not a Square event names what is wrong with it."""
    body = b'{"type": 5, "created_at": "yesterday"}'
    delivery = WebhookRequest(DOC_URL, {SIGNATURE_HEADER: signature(DOC_URL, body, DOC_KEY)}, body)
    with pytest.raises(ValidationError) as caught:
        SquareSource().verify(delivery, documented())
    assert {p.path for p in caught.value.problems} >= {"type", "event_id", "created_at"}


def test_a_notification_for_another_seller_carries_nothing(traded: SquareWorld) -> None:
    """A connection that names its seller keeps nothing of another seller's events."""
    connection = traded.connection(merchant_id="MLOTHERSELLER")
    delivery = next(d for d in traded.delivered if b"customer.created" in d.body)
    webhook = SquareSource().verify(delivery, connection)
    assert (webhook.topic, webhook.records) == ("customer.created", ())
    own = traded.connection(merchant_id=traded.seller.merchant_id)
    assert SquareSource().verify(delivery, own).records


# -- calls, limits and errors --------------------------------------------------------------


class Recording(httpx.BaseTransport):
    """Passes requests on and keeps their headers."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.headers: list[httpx.Headers] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.headers.append(request.headers)
        return self.inner.handle_request(request)


def test_every_call_names_the_pinned_square_version_and_the_token(world: SquareWorld) -> None:
    """Square-Version is pinned and the access token is sent as a bearer token."""
    recording = Recording(world.transport)
    client = SquareSource().connect(world.connection(), recording)
    sweep_all(client)
    client.close()
    assert len(recording.headers) > 4
    assert {h["square-version"] for h in recording.headers} == {SQUARE_VERSION}
    assert {h["authorization"] for h in recording.headers} == {f"Bearer {world.token}"}


def test_a_429_is_waited_out_for_its_retry_after(world: SquareWorld) -> None:
    """Two rate-limited answers are waited out for Retry-After, then the page comes."""
    world.seller.faults.arm("orders.search", Fault(FaultKind.RATE_LIMITED, retry_after=2), 2)
    waits: list[float] = []
    client = SquareSource(sleep=waits.append).connect(world.connection(), world.transport)
    page = client.fetch("orders", None)
    assert page.records
    assert waits == [2.0, 2.0]


def test_squares_own_rate_limit_is_backed_off_until_it_drains(world: SquareWorld) -> None:
    """With a small bucket, a whole sweep still completes by waiting as the bucket drains."""
    world.seller.set_rate_limit(RateLimit(capacity=3, per_second=1))
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        world.clock.advance(timedelta(seconds=seconds))

    client = SquareSource(sleep=sleep).connect(world.connection(), world.transport)
    expected = {o.id for o in world.seller.data.orders.values()}
    records = sweep_all(client, ("orders",))
    assert {json.loads(r.payload)["order"]["id"] for r in records} == expected
    assert waits
    assert waits[0] == 1.0


def test_limits_that_outlast_the_budget_go_up_as_transient_errors(world: SquareWorld) -> None:
    """A long Retry-After goes up at once; 5xx answers go up after doubling waits."""
    waits: list[float] = []
    client = SquareSource(sleep=waits.append).connect(world.connection(), world.transport)
    world.seller.faults.arm("orders.search", Fault(FaultKind.RATE_LIMITED, retry_after=120))
    with pytest.raises(TransientError) as limited:
        client.fetch("orders", None)
    assert (limited.value.retry_after, limited.value.code, waits) == (120.0, "RATE_LIMITED", [])
    world.seller.faults.arm("orders.search", Fault(FaultKind.SERVER_ERROR, status=503), 4)
    with pytest.raises(TransientError) as unavailable:
        client.fetch("orders", None)
    assert unavailable.value.code == "SERVICE_UNAVAILABLE"
    assert unavailable.value.kind is ErrorKind.TRANSIENT
    assert waits == [1.0, 2.0, 4.0]
    assert unavailable.value.details["status"] == 503


def test_an_expired_token_asks_the_merchant_to_reconnect(world: SquareWorld) -> None:
    """A token past its life is an auth error with a reconnect message, never retried."""
    waits: list[float] = []
    short = replace(
        world.connection(),
        credentials={**world.connection().credentials, "access_token": world.short_lived_token()},
    )
    world.clock.advance(timedelta(hours=25))
    client = SquareSource(sleep=waits.append).connect(short, world.transport)
    with pytest.raises(AuthError) as refused:
        client.fetch("orders", None)
    assert refused.value.code == "ACCESS_TOKEN_EXPIRED"
    assert "Reconnect Square" in refused.value.user_message
    assert "Bearer" not in json.dumps(refused.value.context())
    assert waits == []


def test_a_revoked_token_asks_the_merchant_to_reconnect(world: SquareWorld) -> None:
    """After the seller disconnects the app, calls fail as auth errors naming the reason."""
    with httpx.Client(transport=world.transport, base_url="http://square") as admin:
        revoked = admin.post("/_sandbox/tokens/revoke", json={"client_id": world.client_id})
    assert revoked.is_success
    client = SquareSource(sleep=no_wait).connect(world.connection(), world.transport)
    with pytest.raises(AuthError) as refused:
        client.fetch("customers", None)
    assert refused.value.code == "ACCESS_TOKEN_REVOKED"


def test_a_missing_token_is_an_auth_error_before_any_call(world: SquareWorld) -> None:
    """A connection without an access token cannot be opened."""
    bare = replace(world.connection(), credentials={})
    with pytest.raises(AuthError):
        SquareSource().connect(bare, world.transport)


def test_a_cut_short_answer_is_asked_again(world: SquareWorld) -> None:
    """A body cut in half is retried like a network failure, not taken as data."""
    world.seller.faults.arm("customers.search", FaultKind.MALFORMED)
    waits: list[float] = []
    client = SquareSource(sleep=waits.append).connect(world.connection(), world.transport)
    assert client.fetch("customers", None).records
    assert waits == [1.0]


def test_network_failures_are_retried_and_never_leak_httpx(world: SquareWorld) -> None:
    """A dropped connection is retried; an unreachable host is a transient error."""
    world.seller.faults.arm("orders.search", FaultKind.LOST_RESPONSE)
    waits: list[float] = []
    source = SquareSource(sleep=waits.append)
    with serving(create_app(world.seller)) as base:
        client = source.connect(world.connection(base_url=base))
        assert client.fetch("orders", None).records
        client.close()
    assert waits == [1.0]
    gone = source.connect(world.connection(base_url=f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(TransientError) as caught:
        gone.fetch("orders", None)
    gone.close()
    assert caught.value.code == "connection_failed"


def test_squares_invalid_request_errors_and_unreadable_cursors_are_bugs(world: SquareWorld) -> None:
    """Square's INVALID_REQUEST_ERROR, an unknown stream or a garbled cursor is a bug."""
    client = SquareSource(sleep=no_wait).connect(world.connection(), world.transport)
    stale = SweepCursor(parts=(",".join(world.location_ids),), page="not-a-square-cursor")
    with pytest.raises(BugError) as invalid:
        client.fetch("orders", stale.encode())
    assert invalid.value.code == "INVALID_CURSOR"
    assert invalid.value.details["errors"][0]["category"] == "INVALID_REQUEST_ERROR"
    with pytest.raises(BugError):
        client.fetch("orders", "{not a cursor")
    with pytest.raises(BugError):
        client.fetch("gift_cards", None)


def test_a_bad_sweep_since_setting_is_refused_with_a_problem(world: SquareWorld) -> None:
    """sweep_since must be an instant with an offset."""
    with pytest.raises(ValidationError) as caught:
        SquareSource().connect(world.connection(sweep_since="last tuesday"), world.transport)
    assert caught.value.problems[0].path == "sweep_since"


# -- sweeps and history --------------------------------------------------------------------


def test_a_sweep_from_its_cursor_gives_only_what_changed(world: SquareWorld) -> None:
    """The next sweep gives the new and changed orders and nothing it gave before."""
    client = SquareSource().connect(world.connection(), world.transport)
    first, cursor = sweep_stream(client.fetch, "orders", None)
    before = {o.id: o.version for o in world.seller.data.orders.values()}
    world.trade(world.clock() + timedelta(hours=2))
    again, _ = sweep_stream(client.fetch, "orders", cursor)
    changed = {o.id for o in world.seller.data.orders.values() if before.get(o.id) != o.version}
    assert changed
    assert {json.loads(r.payload)["order"]["id"] for r in again} == changed
    assert not {r.event_id for r in again} & {r.event_id for r in first}


def test_sweep_since_bounds_a_first_sweep(world: SquareWorld) -> None:
    """A first sweep starts at sweep_since, not at the account's beginning."""
    since = START + timedelta(hours=2)
    client = SquareSource().connect(
        world.connection(sweep_since=since.isoformat()), world.transport
    )
    records = sweep_all(client, ("orders",))
    expected = {o.id for o in world.seller.data.orders.values() if o.updated_at >= since}
    assert {json.loads(r.payload)["order"]["id"] for r in records} == expected


def given_ids(records: list[SourceRecord], kind: str) -> set[str]:
    """The ids of the orders or payouts among ``records``."""
    bodies = [json.loads(r.payload) for r in records]
    return {body[kind]["id"] for body in bodies if kind in body}


def stall_after_first_part(client: SquareClient, world: SquareWorld, stream: str) -> Any:
    """Read the first part of a pass, then fail the next one as an outage would."""
    first = client.fetch(stream, None)
    assert first.more
    assert SweepCursor.decode(first.cursor).part == 1
    operation = {"orders": "orders.search", "payouts": "payouts.list"}[stream]
    world.seller.faults.arm(operation, Fault(FaultKind.SERVER_ERROR, status=503), 20)
    with pytest.raises(TransientError):
        client.fetch(stream, first.cursor)
    world.seller.faults.clear()
    return first


def test_a_payouts_pass_resumed_days_later_keeps_the_payouts_of_locations_read_before(
    quiet: SquareWorld,
) -> None:
    """A payouts pass stopped after the first location and resumed two days later still
    lists the payout the first location got while it was stopped, though the second
    location's payouts are newer."""
    world = quiet
    first_location, second_location = sorted(world.location_ids)
    sell_at(world, first_location, timedelta(hours=1))
    sell_at(world, second_location, timedelta(hours=1))
    sell_at(world, first_location, timedelta(days=1))
    client = SquareSource(sleep=no_wait).connect(world.connection(), world.transport)
    first = stall_after_first_part(client, world, "payouts")
    given = given_ids(list(first.records), "payout")
    sell_at(world, second_location, timedelta(days=1))
    cursor = first.cursor
    for _ in range(2):
        world.clock.set(world.clock() + timedelta(days=1))
        world.activity.payouts.settle()
        records, cursor = sweep_stream(client.fetch, "payouts", cursor)
        given |= given_ids(records, "payout")
    made = world.seller.data.payouts.values()
    assert Counter(p.location_id for p in made) == {first_location: 2, second_location: 2}
    assert sorted((p.location_id, p.created_at) for p in made if p.id not in given) == []


def test_an_orders_pass_resumed_later_keeps_the_orders_of_the_location_group_read_before(
    quiet: SquareWorld,
) -> None:
    """With twelve locations (two SearchOrders groups), a pass stopped after the first group
    and resumed later still gives the first group's orders made while it was stopped."""
    world = quiet
    connection = world.connection()
    template = next(iter(world.seller.data.locations.values()))
    with world.seller.lock:
        for n in range(10):
            popup = replace(template, id=world.seller.new_id(13), name=f"Pop-up {n}")
            world.seller.data.locations[popup.id] = popup
    ids = sorted(world.seller.data.locations)
    first_group, second_group = ids[0], ids[-1]
    sell_at(world, first_group, timedelta(hours=1))
    sell_at(world, second_group, timedelta(hours=1))
    client = SquareSource(sleep=no_wait).connect(connection, world.transport)
    first = stall_after_first_part(client, world, "orders")
    given = given_ids(list(first.records), "order")
    sell_at(world, first_group, timedelta(days=1))
    sell_at(world, second_group, timedelta(days=1))
    cursor = first.cursor
    for _ in range(2):
        records, cursor = sweep_stream(client.fetch, "orders", cursor)
        given |= given_ids(records, "order")
    assert len(world.seller.data.orders) == 4
    assert set(world.seller.data.orders) - given == set()


@pytest.mark.parametrize("stream", ["orders", "payouts"])
def test_a_cursor_saved_by_the_one_mark_version_resumes_without_gaps_or_repeats(
    quiet: SquareWorld, stream: str
) -> None:
    """A version 1 cursor (one ``since`` for every location) resumes with the changes made
    since, each once."""
    world = quiet
    world.trade_sparsely(2, 6)
    kind, stamp = {"orders": ("order", "updated_at"), "payouts": ("payout", "created_at")}[stream]
    client = SquareSource().connect(world.connection(), world.transport)
    first, _ = sweep_stream(client.fetch, stream, None)
    made = {**world.seller.data.orders} if stream == "orders" else {**world.seller.data.payouts}
    assert given_ids(first, kind) == set(made)
    # What version 1 saved after that pass: the newest change less the overlap, and the
    # changes it gave from the overlap.
    since = max(getattr(o, stamp) for o in made.values()) - timedelta(minutes=5)
    # A Square payout is never changed: its version stays 1.
    known = sorted(
        f"{o.id}:v{getattr(o, 'version', 1)}" for o in made.values() if getattr(o, stamp) >= since
    )
    old = json.dumps({"v": 1, "since": since.isoformat(), "known": known})
    world.trade_sparsely(1, 6)
    client = SquareSource().connect(world.connection(), world.transport)
    again, cursor = sweep_stream(client.fetch, stream, old)
    now = world.seller.data.orders if stream == "orders" else world.seller.data.payouts
    changed = [i for i, o in now.items() if i not in made or made[i] != o]
    assert changed
    assert given_ids(again, kind) == set(changed)
    assert not {r.event_id for r in again} & {r.event_id for r in first}
    assert SweepCursor.decode(cursor).marks
    assert sweep_stream(client.fetch, stream, cursor)[0] == []


def test_a_version_1_cursor_stopped_between_parts_finishes_its_pass() -> None:
    """A version 1 cursor saved mid-pass reads on from its part, with its ``since`` for
    every location and its overlap for the part it stopped in."""
    since = START
    old = json.dumps(
        {"v": 1, "since": since.isoformat(), "known": ["a:v1"], "parts": ["L1", "L2"],
         "part": 1, "page": "p2", "high": (since + timedelta(hours=3)).isoformat(),
         "tail": [["b:v2", (since + timedelta(hours=3)).isoformat()]]}
    )  # fmt: skip
    at = SweepCursor.decode(old)
    assert (at.current, at.start, at.mark("L1"), at.page) == ("L2", since, since, "p2")
    done = at.after_page(None)
    assert not done.started
    assert done.mark("L1") == since
    assert done.mark("L2") == since + timedelta(hours=3) - timedelta(minutes=5)
    assert done.known == {"b:v2"}
    assert SweepCursor.decode(done.encode()) == done
    assert json.loads(done.encode())["v"] == 2


def test_a_regrouped_part_reads_from_its_earliest_mark_and_gives_each_location_its_own() -> None:
    """When a new location reshapes the groups, a group reads from its earliest location's
    mark and leaves out what its other locations read before."""
    late, early = START + timedelta(hours=5), START + timedelta(hours=1)
    at = SweepCursor(marks=(("L1", late), ("L2", early))).begin(("L1,L2,L3",))
    assert at.start is None
    at = replace(at, since=START)
    assert at.start == START
    assert not at.unread("x:v1", "L1", late - timedelta(minutes=1))
    assert at.unread("y:v1", "L2", late - timedelta(minutes=1))
    assert at.unread("z:v1", "L3", START)
    done = at.saw([("w:v1", late + timedelta(hours=1))]).after_page(None)
    assert {unit: done.mark(unit) for unit in ("L1", "L2", "L3")} == dict.fromkeys(
        ("L1", "L2", "L3"), late + timedelta(hours=1) - timedelta(minutes=5)
    )


def test_history_holds_the_orders_completed_in_the_window_oldest_first(traded: SquareWorld) -> None:
    """Orders closed inside [start, end) and payouts created in it, in time order."""
    start, end = START + timedelta(hours=3), START + timedelta(hours=12)
    client = SquareSource().connect(traded.connection(), traded.transport)
    records = list(client.history(start, end))
    orders = {json.loads(r.payload)["order"]["id"] for r in records if r.record_type == "order"}
    expected = {
        o.id
        for o in traded.seller.data.orders.values()
        if o.state == "COMPLETED" and o.line_items and start <= (o.closed_at or o.created_at) < end
    }
    assert orders == expected
    payouts = [r for r in records if r.record_type == "payout"]
    assert len(payouts) == 2
    times = [
        json.loads(r.payload)["order"]["closed_at"]
        if r.record_type != "payout"
        else json.loads(r.payload)["payout"]["created_at"]
        for r in records
    ]
    assert times == sorted(times)


# -- translation ---------------------------------------------------------------------------


def of_type(pairs: list[tuple[SourceRecord, Translated]], kind: type) -> list[Any]:
    return [t for _, t in pairs if isinstance(t, kind)]


def test_sales_carry_catalog_skus_categories_brands_tips_and_tax_modes(
    traded: SquareWorld, documents: list[tuple[SourceRecord, Translated]]
) -> None:
    """Sales name catalog SKUs and categories, card brands, tips and each location's tax mode."""
    sales: list[Sale] = of_type(documents, Sale)
    skus = {v.sku for i in traded.seller.data.items.values() for v in i.variations}
    categories = {c.name for c in traded.seller.data.categories.values()}
    assert {line.sku for s in sales for line in s.lines} <= skus
    assert {line.category for s in sales for line in s.lines} == categories
    assert {p.card_brand for s in sales for p in s.payments if p.tender == "card"} >= {
        "VISA",
        "MASTERCARD",
    }
    assert {p.tender for s in sales for p in s.payments} >= {"card", "cash", "other"}
    assert any(s.tip for s in sales)
    assert {(s.location_id, s.tax_mode) for s in sales} == {
        ("mission", TaxMode.EXCLUSIVE),
        ("oakland", TaxMode.INCLUSIVE),
    }
    for sale in sales:
        assert validate_sale(sale, now=traded.clock()) == []
        square = traded.seller.data.orders[sale.external_id]
        assert sale.grand_total.to_minor() == square.amounts.total
        assert sale.customer_id == (f"square:{square.customer_id}" if square.customer_id else None)


def test_open_and_canceled_orders_are_skipped_with_a_reason(
    traded: SquareWorld, documents: list[tuple[SourceRecord, Translated]]
) -> None:
    """An unpaid online order and a canceled one carry nothing to post, and say so."""
    reasons = [s.reason for s in of_type(documents, Skip)]
    states = Counter(o.state for o in traded.seller.data.orders.values())
    assert sum("is open" in r for r in reasons) == states["OPEN"]
    assert sum("was canceled" in r for r in reasons) == states["CANCELED"]
    assert {"OPEN", "CANCELED"} <= set(states)


def test_a_return_is_a_refund_of_the_sale_it_came_from(
    traded: SquareWorld, documents: list[tuple[SourceRecord, Translated]]
) -> None:
    """A return order is a refund of its source sale, through that sale's own tenders."""
    sales = {s.id: s for s in of_type(documents, Sale)}
    returns = [o for o in traded.seller.data.orders.values() if o.returns and not o.line_items]
    assert returns
    refunds = {r.external_id: r for r in of_type(documents, Refund)}
    for order in returns:
        refund = refunds[order.id]
        source = order.returns[0].source_order_id
        assert refund.sale_id == document_id(TENANT, "square", DocumentKind.SALE, source)
        sale = sales[refund.sale_id]
        assert validate_refund(refund, sale, now=traded.clock()) == []
        assert {p.tender for p in refund.payments} <= {p.tender for p in sale.payments}
        assert refund.paid.to_minor() == order.return_amounts.total


def test_an_exchange_is_a_refund_and_a_sale_paid_with_the_returned_goods(
    traded: SquareWorld, documents: list[tuple[SourceRecord, Translated]]
) -> None:
    """An exchange is a refund and a sale, the returned goods' value paying on both sides."""
    exchanges = [o for o in traded.seller.data.orders.values() if o.returns and o.line_items]
    assert exchanges
    sales = {s.external_id: s for s in of_type(documents, Sale)}
    refunds = {r.external_id: r for r in of_type(documents, Refund)}
    by_id = {s.id: s for s in sales.values()}
    for order in exchanges:
        sale, refund = sales[order.id], refunds[order.id]
        credit_in = [p.amount for p in sale.payments if p.tender == EXCHANGE_TENDER]
        credit_out = [p.amount for p in refund.payments if p.tender == EXCHANGE_TENDER]
        assert credit_in == credit_out
        assert validate_sale(sale, now=traded.clock()) == []
        assert validate_refund(refund, by_id[refund.sale_id], now=traded.clock()) == []
        assert sale.grand_total.to_minor() == order.amounts.total
        assert refund.computed_total.to_minor() == order.return_amounts.total


def test_payouts_name_the_orders_they_settle(
    traded: SquareWorld, documents: list[tuple[SourceRecord, Translated]]
) -> None:
    """A payout's charges and refunds name the orders they settle and add up to the deposit."""
    payouts: list[Payout] = of_type(documents, Payout)
    assert len(payouts) == 2
    data = traded.seller.data
    for payout in payouts:
        assert validate_payout(payout, now=traded.clock()) == []
        assert payout.net.to_minor() == data.payouts[payout.external_id].amount
        entries = [e for e in data.payout_entries.values() if e.payout_id == payout.external_id]
        expected = Counter(
            (data.payments[e.payment_id].order_id, "charge")
            if e.type == "CHARGE"
            else (data.refunds[e.refund_id or ""].order_id, "refund")
            for e in entries
        )
        assert Counter((t.document_external_id, t.kind) for t in payout.transactions) == expected


def to_ms(moment: datetime) -> datetime:
    """``moment`` as Square's timestamps carry it, to the millisecond."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def test_documents_carry_the_time_square_last_changed_them(
    traded: SquareWorld, documents: list[tuple[SourceRecord, Translated]]
) -> None:
    """Sales and refunds carry their order's updated_at, payouts their own: what orders an
    edit against a delivery that arrives late."""
    data = traded.seller.data
    orders: list[Sale | Refund] = of_type(documents, Sale) + of_type(documents, Refund)
    assert {type(d) for d in orders} == {Sale, Refund}
    for document in orders:
        assert document.source_updated_at == to_ms(data.orders[document.external_id].updated_at)
    payouts: list[Payout] = of_type(documents, Payout)
    assert payouts
    for payout in payouts:
        # The sandbox's payouts never change after they are made.
        assert payout.source_updated_at == to_ms(data.payouts[payout.external_id].created_at)


def test_customers_and_products_are_listed_under_square_ids(
    traded: SquareWorld, documents: list[tuple[SourceRecord, Translated]]
) -> None:
    """Customers and catalog variations become directory entries prefixed square:."""
    customers = {c.id for c in of_type(documents, Customer)}
    assert customers == {f"square:{c}" for c in traded.seller.data.customers}
    products: list[Product] = of_type(documents, Product)
    variations = {v.id: v for i in traded.seller.data.items.values() for v in i.variations}
    assert {p.id for p in products} == {f"square:{v}" for v in variations}
    for product in products:
        variation = variations[product.id.removeprefix("square:")]
        assert (product.sku, product.price.to_minor()) == (variation.sku, variation.price)


def test_a_malformed_order_names_every_problem_and_its_path(traded: SquareWorld) -> None:
    """Every bad field of an order is reported at once, with where it is."""
    record = malformed()[0]
    with pytest.raises(ValidationError) as caught:
        SquareSource().translate(
            record.record_type, record.payload, traded.connection().context("square")
        )
    paths = {p.path for p in caught.value.problems}
    assert paths == {"order.total_money.amount", "order.line_items[0].base_price_money"}


def test_an_unmapped_location_falls_back_to_the_default_location(
    traded: SquareWorld, documents: list[tuple[SourceRecord, Translated]]
) -> None:
    """With no mapping but a default location, every sale is booked there."""
    connection = without(traded.connection(default_location="mission"), "locations")
    record = next(r for r, t in documents if isinstance(t, Sale) and t.location_id == "oakland")
    sale = SquareSource().translate(
        record.record_type, record.payload, connection.context("square")
    )
    assert isinstance(sale, Sale)
    assert sale.location_id == "mission"


# -- through the engine --------------------------------------------------------------------


def test_a_sweep_after_lost_webhooks_recovers_every_order(
    factory: sessionmaker[Session], quiet: SquareWorld
) -> None:
    """With every webhook lost, each sweep still brings every completed order in."""
    world = quiet
    vault = Vault([new_key()])
    connection = set_up(factory, world, vault)
    world.deliver()
    world.delivered.clear()
    with httpx.Client(transport=world.transport, base_url="http://square") as admin:
        admin.post("/_sandbox/webhooks/chaos", json={"drop_next": 100_000})
    engine = Engine(factory, world.clock)
    sweeper = Sweeper(factory, world.clock, vault, transport=lambda _: world.transport)
    for hours in (3, 5):
        world.trade(world.clock() + timedelta(hours=hours))
        assert world.delivered == []
        sweeper.sweep(TENANT, connection.connection_id)
        counts = engine.take_in(TENANT)
        assert counts[RecordState.QUARANTINED.value] == 0
        with factory() as session:
            stored = Documents(session, TENANT)
            for order in world.seller.data.orders.values():
                if order.state != "COMPLETED":
                    continue
                if order.line_items:
                    sale = document_id(TENANT, "square", DocumentKind.SALE, order.id)
                    assert isinstance(stored.get(sale), Sale), order.id
                if order.returns:
                    refund = document_id(TENANT, "square", DocumentKind.REFUND, order.id)
                    assert isinstance(stored.get(refund), Refund), order.id
    assert len(world.seller.deliveries.dropped) > 50


def test_a_return_that_arrives_before_its_sale_is_parked_and_resumes(
    factory: sessionmaker[Session], world: SquareWorld
) -> None:
    """A refund read before the sale it returns waits, and is taken in once the sale comes."""
    vault = Vault([new_key()])
    connection = set_up(factory, world, vault)
    client = SquareSource().connect(connection, world.transport)
    records = sweep_all(client, ("orders",))
    returned = next(r for r in records if r.record_type == "order_return")
    source_id = json.loads(returned.payload)["order"]["returns"][0]["source_order_id"]
    sale = next(
        r
        for r in records
        if r.record_type == "order" and json.loads(r.payload)["order"]["id"] == source_id
    )
    engine = Engine(factory, world.clock)
    for record in (returned, sale):
        engine.receive(
            TENANT, "square", record.record_type, record.payload,
            event_id=record.event_id, connection_id=connection.connection_id,
        )  # fmt: skip
        engine.take_in(TENANT)
        with factory() as session:
            states = [
                r.state for r in session.scalars(select(InboxRecordRow).order_by(InboxRecordRow.id))
            ]
        if record is returned:
            assert states == [RecordState.PARKED.value]
    assert states == [RecordState.NORMALIZED.value] * 2
    with factory() as session:
        assert Inbox(session, TENANT, world.clock).in_state(RecordState.PARKED) == []


def a_sale(world: SquareWorld, connection: SourceConnection) -> SourceRecord:
    """The record of a completed order that sells and returns nothing, read from Square."""
    client = SquareSource().connect(connection, world.transport)
    records = sweep_all(client, ("orders",))
    client.close()
    context = connection.context("square")
    return next(
        r
        for r in records
        if r.record_type == "order"
        and "returns" not in json.loads(r.payload)["order"]
        and isinstance(SquareSource().translate(r.record_type, r.payload, context), Sale)
    )


def version_of(record: SourceRecord, later: int, reference: str) -> SourceRecord:
    """The order of ``record`` as Square serves it ``later`` edits on, its reference now
    ``reference``: each edit adds one to its version and a minute to its updated_at."""
    body = json.loads(record.payload)
    order = body["order"]
    changed = {
        **order,
        "reference_id": reference,
        "version": order["version"] + later,
        "updated_at": rfc3339(
            datetime.fromisoformat(order["updated_at"]) + timedelta(minutes=later)
        ),
    }
    (found,) = order_records(changed, body["catalog"], {})
    return found


def take_in_one_by_one(
    factory: sessionmaker[Session],
    world: SquareWorld,
    connection: SourceConnection,
    records: list[SourceRecord],
) -> None:
    """Each record received and taken in by the engine before the next arrives."""
    engine = Engine(factory, world.clock)
    one_by_one(engine, TENANT, "square", connection.connection_id, records)


def test_an_older_version_of_an_order_delivered_late_leaves_the_newer_sale(
    factory: sessionmaker[Session], world: SquareWorld
) -> None:
    """An order's version 2 taken in, then its version 1 arriving late (a slow webhook's
    fetch, a sweep from before the edit): the sale stays at version 2, no new revision."""
    vault = Vault([new_key()])
    connection = set_up(factory, world, vault)
    read = a_sale(world, connection)
    older, newer = version_of(read, 1, "A"), version_of(read, 2, "B")
    take_in_one_by_one(factory, world, connection, [newer, older])
    sale_id = document_id(
        TENANT, "square", DocumentKind.SALE, json.loads(read.payload)["order"]["id"]
    )
    with factory() as session:
        stored = Documents(session, TENANT)
        assert stored.revision(sale_id) == 1
        sale = stored.get(sale_id)
        assert isinstance(sale, Sale)
        assert sale.number == "B"


def test_an_order_reverted_at_square_becomes_a_third_revision_equal_to_the_first(
    factory: sessionmaker[Session], world: SquareWorld
) -> None:
    """A, then B, then A again at a later version: the sale follows Square back to A as
    revision 3, though its body equals revision 1."""
    vault = Vault([new_key()])
    connection = set_up(factory, world, vault)
    read = a_sale(world, connection)
    first, edited, reverted = (
        version_of(read, n, ref) for n, ref in ((1, "A"), (2, "B"), (3, "A"))
    )
    take_in_one_by_one(factory, world, connection, [first, edited, reverted])
    context = connection.context("square")
    expected = SquareSource().translate(first.record_type, first.payload, context)
    assert isinstance(expected, Sale)
    with factory() as session:
        stored = Documents(session, TENANT)
        assert stored.revision(expected.id) == 3
        assert stored.get(expected.id) == expected
        assert stored.at_revision(expected.id, 1) == expected
        assert stored.at_revision(expected.id, 2) == replace(expected, number="B")


def test_a_90_day_backfill_reaches_the_ledger_balanced(
    factory: sessionmaker[Session], quiet: SquareWorld
) -> None:
    """Ninety days of history post every sale, refund and payout once, in balanced books."""
    world = quiet
    world.trade_sparsely(days=90, steps_per_day=2)
    vault = Vault([new_key()])
    connection = set_up(factory, world, vault)
    clock = ManualClock(world.clock() + timedelta(days=1))
    backfills = Backfills(factory, clock)
    first = START.date()
    job = backfills.start(TENANT, "square", first, first + timedelta(days=89))
    client = SquareSource().connect(connection, world.transport)
    done = backfills.run(job, client)
    client.close()
    assert done.state is BackfillState.DONE
    engine = Engine(factory, clock)
    counts = engine.take_in(TENANT)
    assert counts[RecordState.QUARANTINED.value] == 0
    assert counts[RecordState.PARKED.value] == 0
    clock.advance(timedelta(days=2))
    engine.run_until_idle(TENANT, max_ticks=50)
    orders = world.seller.data.orders.values()
    with factory() as session:
        waiting = session.scalars(
            select(QueuedDocumentRow.document_id).where(QueuedDocumentRow.planned.is_(False))
        ).all()
        kinds = Counter(session.scalars(select(QueuedDocumentRow.kind)).all())
        balances = LedgerBooks(session, TENANT).trial_balance()
    assert waiting == []
    end = datetime.combine(first + timedelta(days=90), datetime.min.time(), UTC)
    assert kinds == {
        "sale": sum(1 for o in orders if o.state == "COMPLETED" and o.line_items),
        "refund": sum(1 for o in orders if o.state == "COMPLETED" and o.returns),
        "payout": sum(1 for p in world.seller.data.payouts.values() if p.created_at < end),
    }
    assert sum(1 for o in orders if o.returns and o.line_items) > 0
    by_currency: Counter[str] = Counter()
    for row in balances:
        by_currency[row.balance.currency] += row.balance.to_minor()
    assert by_currency == Counter({"USD": 0})
    exchange = [r for r in balances if r.account.endswith(":Exchange")]
    assert [r.balance.to_minor() for r in exchange] in ([], [0])
