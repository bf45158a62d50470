"""The simulated WooCommerce shop speaks WooCommerce's REST API v3: key auth, WordPress
pagination, its error shape, the limiter's 429, signed webhook deliveries with the
creation ping, and a webhook disabled after more than five failed deliveries in a row."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from salesync.clock import ManualClock
from salesync.sandbox.faults import Fault, FaultKind
from salesync.sandbox.transport import InProcessTransport
from salesync.sandbox.woocommerce import RateLimit, WooActivity, WooShop, create_app, deliver_due
from salesync.sandbox.woocommerce.trading import refund_order, set_customer, set_status

START = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
HOOK_URL = "https://receiver.example/hook"
HOOK_SECRET = "s3cret"  # noqa: S105  a test fixture


@dataclass
class Shop:
    clock: ManualClock
    shop: WooShop
    transport: InProcessTransport
    api: httpx.Client
    received: list[httpx.Request] = field(default_factory=list)
    answer: int = 200

    def trade(self, hours: float) -> None:
        WooActivity(self.shop, 5).run_until(self.clock() + timedelta(hours=hours), self.clock)


@pytest.fixture
def woo() -> Iterator[Shop]:
    clock = ManualClock(START)
    shop = WooShop(clock=clock, rate_limit=RateLimit(limit=10**9, seconds=10))
    key = shop.issue_key("read_write")
    transport = InProcessTransport(create_app(shop))
    api = httpx.Client(
        transport=transport,
        base_url="https://shop.example/wp-json/wc/v3",
        auth=(key.consumer_key, key.consumer_secret),
    )
    world = Shop(clock, shop, transport, api)

    def receive(request: httpx.Request) -> httpx.Response:
        request.read()
        world.received.append(request)
        return httpx.Response(world.answer)

    shop.deliveries.use_client(httpx.Client(transport=httpx.MockTransport(receive)))
    yield world
    api.close()
    transport.shutdown()


def subscribe(woo: Shop, topic: str = "order.created") -> dict[str, object]:
    made = woo.api.post(
        "/webhooks", json={"topic": topic, "delivery_url": HOOK_URL, "secret": HOOK_SECRET}
    )
    assert made.status_code == 201
    body: dict[str, object] = made.json()
    return body


def test_requests_without_a_valid_key_get_woocommerces_errors(woo: Shop) -> None:
    """No key, an unknown key and a wrong secret are refused, each in its own words."""
    bare = httpx.Client(transport=woo.transport, base_url="https://shop.example/wp-json/wc/v3")
    assert bare.get("/orders").json() == {
        "code": "woocommerce_rest_cannot_list",
        "message": "Sorry, you cannot list resources.",
        "data": {"status": 401},
    }
    unknown = bare.get("/orders", auth=("ck_nobody", "cs_nothing"))
    assert (unknown.status_code, unknown.json()["code"]) == (
        401,
        "woocommerce_rest_authentication_error",
    )
    key = next(iter(woo.shop.keys.values()))
    wrong = bare.get("/orders", auth=(key.consumer_key, "cs_wrong"))
    assert wrong.status_code == 401
    query = bare.get(
        "/orders", params={"consumer_key": key.consumer_key, "consumer_secret": key.consumer_secret}
    )
    assert query.status_code == 200


def test_a_read_only_key_may_list_but_not_create_webhooks(woo: Shop) -> None:
    """Permissions on the key decide what it may do."""
    key = woo.shop.issue_key("read")
    client = httpx.Client(
        transport=woo.transport,
        base_url="https://shop.example/wp-json/wc/v3",
        auth=(key.consumer_key, key.consumer_secret),
    )
    assert client.get("/webhooks").status_code == 200
    refused = client.post("/webhooks", json={"topic": "order.created", "delivery_url": HOOK_URL})
    assert (refused.status_code, refused.json()["code"]) == (401, "woocommerce_rest_cannot_create")


def test_lists_page_with_wordpress_headers_and_refuse_pages_over_100(woo: Shop) -> None:
    """X-WP-Total, X-WP-TotalPages and Link describe the list; per_page is at most 100."""
    woo.trade(24)
    total = len([o for o in woo.shop.data.orders.values() if o["status"] != "trash"])
    first = woo.api.get("/orders", params={"per_page": 5})
    assert first.headers["x-wp-total"] == str(total)
    assert first.headers["x-wp-totalpages"] == str((total + 4) // 5)
    assert 'rel="next"' in first.headers["link"]
    assert len(first.json()) == 5
    second = woo.api.get("/orders", params={"per_page": 5, "page": 2})
    assert 'rel="prev"' in second.headers["link"]
    assert {o["id"] for o in first.json()}.isdisjoint(o["id"] for o in second.json())
    too_many = woo.api.get("/orders", params={"per_page": 101})
    assert too_many.status_code == 400
    assert too_many.json()["code"] == "rest_invalid_param"
    assert "per_page" in too_many.json()["data"]["params"]


def test_offset_skips_that_many_items_in_place_of_the_page(woo: Shop) -> None:
    """offset skips that many items whatever the page; offset 0 leaves the page to decide;
    the totals describe the whole list."""
    woo.trade(24)
    listing = {"per_page": 5, "orderby": "id", "order": "asc"}
    every = [o["id"] for o in woo.api.get("/orders", params={**listing, "per_page": 100}).json()]
    skipped = woo.api.get("/orders", params={**listing, "offset": 3, "page": 4})
    assert [o["id"] for o in skipped.json()] == every[3:8]
    assert skipped.headers["x-wp-total"] == str(len(every))
    assert skipped.headers["x-wp-totalpages"] == str((len(every) + 4) // 5)
    paged = woo.api.get("/orders", params={**listing, "offset": 0, "page": 2}).json()
    assert [o["id"] for o in paged] == every[5:10]


def test_modified_after_reads_utc_with_dates_are_gmt_and_site_time_without(woo: Shop) -> None:
    """The same wall time means UTC with dates_are_gmt and the shop's zone without it."""
    woo.trade(6)
    cut = START + timedelta(hours=3)
    wall = cut.replace(tzinfo=None).isoformat()
    gmt = woo.api.get(
        "/orders", params={"modified_after": wall, "dates_are_gmt": "true", "per_page": 100}
    ).json()
    local = woo.api.get("/orders", params={"modified_after": wall, "per_page": 100}).json()
    assert all(o["date_modified_gmt"] > wall for o in gmt)
    # Chicago is six hours behind UTC in March: its wall time is later in UTC.
    assert len(local) < len(gmt)


def test_unknown_ids_and_routes_answer_in_the_wordpress_error_shape(woo: Shop) -> None:
    """An unknown order and an unknown route each answer their code."""
    missing = woo.api.get("/orders/999999")
    assert (missing.status_code, missing.json()["code"]) == (
        404,
        "woocommerce_rest_shop_order_invalid_id",
    )
    route = woo.api.get("/coupons/x/y")
    assert route.json()["code"] == "rest_no_route"


def test_the_limiter_answers_429_with_its_headers_until_the_window_resets(woo: Shop) -> None:
    """Past the limit, 429 with RateLimit-Retry-After; once the window passes, room again."""
    woo.shop.rate_limit = RateLimit(limit=2, seconds=10)
    woo.shop.window = type(woo.shop.window)(2, timedelta(seconds=10), woo.clock)
    assert woo.api.get("/products").headers["ratelimit-remaining"] == "1"
    woo.api.get("/products")
    limited = woo.api.get("/products")
    assert limited.status_code == 429
    assert limited.headers["ratelimit-retry-after"] == "10"
    assert limited.headers["ratelimit-reset"] == str(int(woo.clock().timestamp()) + 10)
    assert limited.json()["code"] == "rate_limit_exceeded"
    assert limited.json()["data"]["status"] == 429
    woo.clock.advance(timedelta(seconds=10))
    assert woo.api.get("/products").status_code == 200


def test_armed_faults_answer_as_a_failing_server_would(woo: Shop) -> None:
    """A 503 comes as the web server's HTML page; a 500 in WordPress's shape."""
    woo.shop.faults.arm("orders.list", Fault(FaultKind.SERVER_ERROR, status=503))
    woo.shop.faults.arm("orders.list", Fault(FaultKind.SERVER_ERROR, status=500))
    page = woo.api.get("/orders")
    assert (page.status_code, page.headers["content-type"].split(";")[0]) == (503, "text/html")
    critical = woo.api.get("/orders")
    assert critical.json()["code"] == "internal_server_error"


def test_a_new_webhook_is_pinged_and_deliveries_are_signed(woo: Shop) -> None:
    """Creation pings ``webhook_id=N``; each delivery carries the base64 HMAC-SHA256 of its
    body and the topic, resource, event, webhook and delivery headers."""
    webhook = subscribe(woo)
    woo.trade(8)
    deliver_due(woo.shop)
    ping, *deliveries = woo.received
    assert ping.content == f"webhook_id={webhook['id']}".encode()
    assert "x-wc-webhook-signature" not in ping.headers
    assert deliveries
    for delivery in deliveries:
        digest = hmac.new(HOOK_SECRET.encode(), delivery.content, hashlib.sha256).digest()
        assert delivery.headers["x-wc-webhook-signature"] == base64.b64encode(digest).decode()
        assert delivery.headers["x-wc-webhook-topic"] == "order.created"
        assert (
            delivery.headers["x-wc-webhook-resource"],
            delivery.headers["x-wc-webhook-event"],
        ) == ("order", "created")
        assert delivery.headers["x-wc-webhook-id"] == str(webhook["id"])
    ids = [d.headers["x-wc-webhook-delivery-id"] for d in deliveries]
    assert len(set(ids)) == len(ids)


def test_a_webhook_is_disabled_on_the_seventh_failure_in_a_row_and_a_success_resets(
    woo: Shop,
) -> None:
    """Failures count up to five and past it; the next failure disables the webhook and
    nothing more is sent. A success in between starts the count again."""
    webhook = subscribe(woo)
    deliver_due(woo.shop)
    shop, hook_id = woo.shop, int(str(webhook["id"]))
    activity = WooActivity(shop, 2)
    activity.setup()

    def order_placed() -> None:
        activity.counter_sale()
        deliver_due(shop)

    woo.answer = 500
    for _ in range(5):
        order_placed()
    woo.answer = 200
    order_placed()
    assert shop.failures[hook_id] == 0
    woo.answer = 500
    for failure in range(1, 8):
        order_placed()
        status = shop.data.webhooks[hook_id]["status"]
        assert status == ("disabled" if failure == 7 else "active"), failure
    sent = len(woo.received)
    order_placed()
    assert len(woo.received) == sent
    assert woo.api.get(f"/webhooks/{hook_id}").json()["status"] == "disabled"
    turned_on = woo.api.put(f"/webhooks/{hook_id}", json={"status": "active"})
    assert turned_on.json()["status"] == "active"


def test_webhooks_are_not_trashed_only_deleted_with_force(woo: Shop) -> None:
    """DELETE without force answers 501; with force the webhook is gone."""
    webhook = subscribe(woo)
    soft = woo.api.delete(f"/webhooks/{webhook['id']}")
    assert (soft.status_code, soft.json()["code"]) == (501, "woocommerce_rest_trash_not_supported")
    assert woo.api.delete(f"/webhooks/{webhook['id']}", params={"force": "true"}).status_code == 200
    assert woo.api.get(f"/webhooks/{webhook['id']}").status_code == 404


def test_a_week_of_trading_adds_up_order_by_order(woo: Shop) -> None:
    """Every order's lines, taxes, shipping and fees add up to its total, refunds add up
    to their amount, and both outlets trade with several tenders."""
    woo.trade(24 * 7)
    orders = list(woo.shop.data.orders.values())
    assert {o["created_via"] for o in orders} == {"checkout", "pos-rest-api"}
    assert len({o["payment_method"] for o in orders}) >= 4
    assert {"completed", "processing", "refunded", "on-hold", "cancelled"} <= {
        o["status"] for o in orders
    }
    for order in orders:
        parts = [li["total"] for li in order["line_items"]] + [order["total_tax"]]
        parts += [s["total"] for s in order["shipping_lines"]] + [
            f["total"] for f in order["fee_lines"]
        ]
        assert sum(Decimal(p) for p in parts) == Decimal(order["total"]), order["id"]
        taxes = [t["tax_total"] for t in order["tax_lines"]] + [
            t["shipping_tax_total"] for t in order["tax_lines"]
        ]
        assert sum(Decimal(t) for t in taxes) == Decimal(order["total_tax"]) - sum(
            Decimal(f["total_tax"]) for f in order["fee_lines"]
        ) + sum(Decimal(f["total_tax"]) for f in order["fee_lines"])
    refunds = [r for rs in woo.shop.data.refunds.values() for r in rs]
    assert refunds
    for refund in refunds:
        parts = [li["total"] for li in refund["line_items"]] + [
            li["total_tax"] for li in refund["line_items"]
        ]
        parts += [s["total"] for s in refund["shipping_lines"]] + [
            s["total_tax"] for s in refund["shipping_lines"]
        ]
        assert -sum(Decimal(p) for p in parts) == Decimal(refund["amount"])
    listed = woo.api.get(f"/orders/{refunds[0]['id']}/refunds")
    assert listed.status_code == 404
    order_id = next(i for i, rs in woo.shop.data.refunds.items() if rs)
    assert [r["id"] for r in woo.api.get(f"/orders/{order_id}/refunds").json()] == [
        r["id"] for r in woo.shop.data.refunds[order_id]
    ]
    assert json.loads(woo.api.get(f"/orders/{order_id}").content)["refunds"]


def test_every_change_to_an_order_moves_its_modified_date_and_is_announced(woo: Shop) -> None:
    """Moving an order on, refunding it or giving it to a customer stamps
    ``date_modified_gmt`` and sends order.updated with it; a refund keeps its creation date."""
    subscribe(woo, "order.updated")
    woo.trade(4)
    deliver_due(woo.shop)
    woo.received.clear()
    order = next(o for o in woo.shop.data.orders.values() if o["status"] == "processing")
    customer = next(c for c in woo.shop.data.customers.values() if c["id"] != order["customer_id"])
    changes = (
        lambda: set_customer(woo.shop, order, customer),
        lambda: set_status(woo.shop, order, "completed"),
        lambda: refund_order(
            woo.shop, order, [(order["line_items"][0], 1)], shipping=False, reason="Damaged"
        ),
    )
    stamps = [order["date_modified_gmt"]]
    for change in changes:
        woo.clock.advance(timedelta(minutes=1))
        change()
        stamps.append(order["date_modified_gmt"])
        assert woo.api.get(f"/orders/{order['id']}").json()["date_modified_gmt"] == stamps[-1]
    assert stamps == sorted(set(stamps))
    assert stamps[-1] == woo.clock().replace(tzinfo=None).isoformat()
    deliver_due(woo.shop)
    sent = [json.loads(r.content)["date_modified_gmt"] for r in woo.received]
    assert sent == stamps[1:]
    newest = woo.shop.data.refunds[order["id"]][0]
    assert newest["date_created_gmt"] == stamps[-1]


def test_deliveries_lost_on_the_way_never_arrive_and_count_as_nothing(woo: Shop) -> None:
    """The chaos control drops deliveries before they are sent: none arrive, and the
    webhook keeps no failures for them."""
    webhook = subscribe(woo)
    deliver_due(woo.shop)
    bare = httpx.Client(transport=woo.transport, base_url="https://shop.example")
    assert bare.post("/_sandbox/webhooks/chaos", json={"drop_next": 1000}).status_code == 200
    woo.received.clear()
    woo.trade(8)
    assert bare.post("/_sandbox/webhooks/deliver").json() == []
    assert woo.received == []
    assert woo.shop.deliveries.dropped
    assert woo.shop.failures[int(str(webhook["id"]))] == 0
