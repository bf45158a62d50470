import hashlib
import hmac
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from fastapi.testclient import TestClient

from salesync.clock import ManualClock
from salesync.sandbox.faults import Fault, FaultKind
from salesync.sandbox.server import serving
from salesync.sandbox.shopify import (
    ShopifyActivity,
    ShopifyStore,
    create_app,
    oauth_query_hmac,
    sign_webhook,
    verify_webhook,
)

from .receiver import Receiver

START = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
GRAPHQL = "/admin/api/2026-01/graphql.json"
ORDERS_PAGE = """
query Page($after: String, $query: String) {
  orders(first: 7, after: $after, sortKey: UPDATED_AT, query: $query) {
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id name updatedAt } }
  }
}
"""


class Shop:
    """A sandbox shop on a manual clock, an installed app, and an in-process client."""

    def __init__(self, scopes: list[str] | None = None, *, activity_days: float = 0) -> None:
        self.clock = ManualClock(START)
        self.store = ShopifyStore(clock=self.clock)
        self.activity = ShopifyActivity(self.store, seed=11)
        if activity_days:
            self.activity.run_until(START + timedelta(days=activity_days), self.clock)
        self.client = TestClient(create_app(self.store))
        body = {} if scopes is None else {"scopes": scopes}
        self.app = self.client.post("/_sandbox/apps", json=body).json()
        self.token = self.client.post(
            f"/_sandbox/apps/{self.app['client_id']}/token", json={}
        ).json()

    def graphql(
        self, document: str, /, token: str | None = None, **variables: Any
    ) -> httpx.Response:
        headers = {"X-Shopify-Access-Token": token or self.token["access_token"]}
        return self.client.post(
            GRAPHQL, json={"query": document, "variables": variables}, headers=headers
        )

    def data(self, document: str, /, **variables: Any) -> dict[str, Any]:
        response = self.graphql(document, **variables)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body["errors"]
        return body


def test_signature_matches_the_published_shopify_style_vector() -> None:
    """The HMAC agrees with sqlpage/SQLPage's Shopify webhook test, and a forgery fails."""
    # tests/sql_test_files/data/hmac_shopify_webhook.sql in sqlpage/SQLPage
    body = b'{"id":1234567890,"email":"customer@example.com","total_price":"123.45"}'
    expected = "QNyObTlKbMx2qDlPF/ZOZcBqg5OgPg+2oky3zldc0Gw="
    assert sign_webhook(body, "test-webhook-secret") == expected
    assert verify_webhook(body, expected, "test-webhook-secret")
    assert not verify_webhook(body.replace(b"123.45", b"1.00"), expected, "test-webhook-secret")
    assert not verify_webhook(body, expected, "another-secret")
    assert not verify_webhook(body, None, "test-webhook-secret")


def test_authorization_code_is_exchanged_once_for_a_stable_offline_token() -> None:
    """A code redeems once; re-authorizing offline returns the same non-expiring token."""
    shop = Shop()
    app = shop.app

    def exchange(code: str) -> httpx.Response:
        form = {"client_id": app["client_id"], "client_secret": app["client_secret"], "code": code}
        return shop.client.post("/admin/oauth/access_token", data=form)

    code = shop.client.post(f"/_sandbox/apps/{app['client_id']}/code").json()["code"]
    first = exchange(code)
    assert first.status_code == 200
    assert "expires_in" not in first.json()
    assert exchange(code).json()["error"] == "invalid_request"
    again = exchange(shop.client.post(f"/_sandbox/apps/{app['client_id']}/code").json()["code"])
    assert again.json()["access_token"] == first.json()["access_token"]
    wrong = shop.client.post(
        "/admin/oauth/access_token",
        json={"client_id": app["client_id"], "client_secret": "nope", "code": "x"},
    )
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")


def test_authorize_redirects_with_a_code_and_a_verifiable_hmac() -> None:
    """The consent step redirects back with code, shop, state and an hmac over them."""
    shop = Shop()
    response = shop.client.get(
        "/admin/oauth/authorize",
        params={
            "client_id": shop.app["client_id"],
            "redirect_uri": "https://app.test/cb",
            "state": "s1",
        },
        follow_redirects=False,
    )
    assert response.status_code == 302
    params = {k: v[0] for k, v in parse_qs(urlparse(response.headers["location"]).query).items()}
    assert params["state"] == "s1"
    assert params["shop"] == shop.store.domain
    received = params.pop("hmac")
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    digest = hmac.new(shop.app["client_secret"].encode(), message.encode(), hashlib.sha256)
    assert received == digest.hexdigest()


def test_oauth_hmac_matches_the_published_example() -> None:
    """The redirect hmac agrees with the example in the exshopify/shopify_oauth docs."""
    # https://hexdocs.pm/exshopify/Shopify.HMAC.html
    params = {
        "code": "0907a61c0c8d55e99db179b68161bc00",
        "shop": "some-shop.myshopify.com",
        "timestamp": "1337178173",
    }
    expected = "4712bf92ffc2917d15a2f5a273e39f0116667419aa4b6ac0b3baaf26fa3c4d20"
    assert oauth_query_hmac(params, "hush") == expected


def test_missing_unknown_and_revoked_tokens_get_shopifys_401() -> None:
    """Admin calls without a live token answer 401 with Shopify's error body."""
    shop = Shop()
    query = "{ shop { name } }"
    assert shop.client.post(GRAPHQL, json={"query": query}).status_code == 401
    unknown = shop.graphql(query, token="shpat_unknown")  # noqa: S106  a made-up token on purpose
    assert unknown.status_code == 401
    assert unknown.json()["errors"].startswith("[API] Invalid API key or access token")
    assert shop.graphql(query).status_code == 200
    shop.client.post("/_sandbox/tokens/revoke", json={"access_token": shop.token["access_token"]})
    assert shop.graphql(query).status_code == 401


def test_expiring_token_lasts_an_hour_and_its_refresh_token_rotates() -> None:
    """An expiring offline token dies after 3600 s; refreshing issues new tokens."""
    shop = Shop()
    app = shop.app
    grant = shop.client.post(
        f"/_sandbox/apps/{app['client_id']}/token", json={"expiring": True}
    ).json()
    assert (grant["expires_in"], grant["refresh_token_expires_in"]) == (3600, 7776000)
    assert shop.graphql("{ shop { name } }", token=grant["access_token"]).status_code == 200
    shop.clock.advance(timedelta(seconds=3600))
    assert shop.graphql("{ shop { name } }", token=grant["access_token"]).status_code == 401
    form = {
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
        "grant_type": "refresh_token",
        "refresh_token": grant["refresh_token"],
    }
    fresh = shop.client.post("/admin/oauth/access_token", data=form).json()
    assert fresh["refresh_token"] != grant["refresh_token"]
    # Until the new token is used, the old refresh token still works (lost-response safety).
    retried = shop.client.post("/admin/oauth/access_token", data=form).json()
    assert shop.graphql("{ shop { name } }", token=retried["access_token"]).status_code == 200
    spent = shop.client.post("/admin/oauth/access_token", data=form)
    assert (spent.status_code, spent.json()["error"]) == (400, "invalid_grant")


def test_orders_page_by_cursor_without_gaps_or_repeats_while_orders_change() -> None:
    """Paging by updated_at sees every order; only one edited mid-way shows up again."""
    shop = Shop(activity_days=1)
    since = (START - timedelta(minutes=1)).isoformat()
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = shop.data(ORDERS_PAGE, after=after, query=f"updated_at:>'{since}'")
        orders = page["data"]["orders"]
        seen += [e["node"]["id"] for e in orders["edges"]]
        pages += 1
        if pages == 2:
            edited = shop.store.data.orders[int(seen[0].rsplit("/", 1)[1])]
            shop.activity.sales.edit(edited)
            shop.activity.sales.new_order(list(shop.store.data.customers.values()))
        if not orders["pageInfo"]["hasNextPage"]:
            break
        after = orders["pageInfo"]["endCursor"]
    assert pages > 3
    assert set(seen) == {f"gid://shopify/Order/{o}" for o in shop.store.data.orders}
    assert Counter(seen) - Counter(set(seen)) == Counter([seen[0]])


def test_created_at_range_and_sort_filter_orders() -> None:
    """``created_at`` bounds select exactly the orders created in the window."""
    shop = Shop(activity_days=2)
    low, high = START + timedelta(hours=6), START + timedelta(hours=30)
    query = f"created_at:>={low.isoformat()} created_at:<{high.isoformat()}"
    nodes = shop.data(
        "query($q: String) { orders(first: 250, query: $q, sortKey: CREATED_AT) "
        "{ nodes { id createdAt } } }",
        q=query,
    )["data"]["orders"]["nodes"]
    expected = {o.id for o in shop.store.data.orders.values() if low <= o.created_at < high}
    assert {int(n["id"].rsplit("/", 1)[1]) for n in nodes} == expected
    assert [n["createdAt"] for n in nodes] == sorted(n["createdAt"] for n in nodes)


def test_connections_need_first_or_last_and_at_most_250() -> None:
    """A connection without first/last, or with more than 250, is an error."""
    shop = Shop()
    missing = shop.graphql("{ orders { nodes { id } } }").json()
    assert "first or last" in missing["errors"][0]["message"]
    too_many = shop.graphql("{ customers(first: 251) { nodes { id } } }").json()
    assert "cannot exceed 250" in too_many["errors"][0]["message"]


def test_every_answer_reports_cost_and_an_empty_bucket_throttles_until_refill() -> None:
    """Requested cost is charged, unused cost refunded; THROTTLED until the clock refills."""
    shop = Shop(activity_days=0.2)
    query = "{ orders(first: 100) { nodes { id lineItems(first: 2) { nodes { sku } } } } }"
    answer = shop.data(query)
    cost = answer["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 2 + 100 * (1 + 2 + 2 * 1)
    assert cost["actualQueryCost"] < cost["requestedQueryCost"]
    status = cost["throttleStatus"]
    assert (status["maximumAvailable"], status["restoreRate"]) == (2000.0, 100.0)
    assert status["currentlyAvailable"] == 2000 - cost["actualQueryCost"]
    for _ in range(100):
        throttled = shop.graphql(query).json()
        if "errors" in throttled:
            break
    assert throttled["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert "data" not in throttled
    spent = throttled["extensions"]["cost"]
    assert spent["actualQueryCost"] is None
    wait = (spent["requestedQueryCost"] - spent["throttleStatus"]["currentlyAvailable"]) / 100
    shop.clock.advance(timedelta(seconds=wait - 0.5))
    assert shop.graphql(query).json()["errors"][0]["extensions"]["code"] == "THROTTLED"
    shop.clock.advance(timedelta(seconds=0.5))
    assert "errors" not in shop.graphql(query).json()


def test_a_single_query_over_1000_points_is_refused_uncharged() -> None:
    """MAX_COST_EXCEEDED for a query whose requested cost is over 1000."""
    shop = Shop()
    answer = shop.graphql(
        "{ orders(first: 250) { nodes { lineItems(first: 5) { nodes { id } } } } }"
    ).json()
    assert answer["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert shop.store.graphql_buckets.get(shop.app["client_id"]).level == 0


def test_scopes_gate_fields_and_old_orders_need_read_all_orders() -> None:
    """Missing scopes give ACCESS_DENIED; without read_all_orders only 60 days show."""
    shop = Shop(["read_orders"], activity_days=1)
    denied = shop.graphql("{ customers(first: 1) { nodes { id } } }").json()
    assert denied["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"
    count = len(shop.store.data.orders)
    shop.clock.advance(timedelta(days=60) - timedelta(hours=12))
    visible = shop.data("{ orders(first: 250) { nodes { id } } }")["data"]["orders"]["nodes"]
    assert 0 < len(visible) < count


def test_rest_shop_reports_call_limit_and_answers_429_with_retry_after() -> None:
    """shop.json fills a 40-call bucket draining 2/s, then 429 with Retry-After."""
    shop = Shop()
    headers = {"X-Shopify-Access-Token": shop.token["access_token"]}
    first = shop.client.get("/admin/api/2026-01/shop.json", headers=headers)
    assert first.headers["X-Shopify-Shop-Api-Call-Limit"] == "1/40"
    assert first.json()["shop"]["myshopify_domain"] == shop.store.domain
    for _ in range(39):
        shop.client.get("/admin/api/2026-01/shop.json", headers=headers)
    limited = shop.client.get("/admin/api/2026-01/shop.json", headers=headers)
    assert limited.status_code == 429
    assert float(limited.headers["Retry-After"]) > 0
    shop.clock.advance(timedelta(seconds=1))
    assert shop.client.get("/admin/api/2026-01/shop.json", headers=headers).status_code == 200


def test_retired_versions_fall_forward_and_malformed_ones_are_not_found() -> None:
    """An unsupported version is served as the oldest supported; a bad one is 404."""
    shop = Shop()
    headers = {"X-Shopify-Access-Token": shop.token["access_token"]}
    old = shop.client.post(
        "/admin/api/2020-01/graphql.json", json={"query": "{ shop { name } }"}, headers=headers
    )
    assert old.headers["X-Shopify-API-Version"] == "2025-04"
    bad = shop.client.post("/admin/api/latest/graphql.json", json={"query": "{ shop { name } }"})
    assert bad.status_code == 404


def subscribe(shop: Shop, receiver: Receiver, topic: str = "ORDERS_CREATE") -> str:
    created = shop.data(
        """mutation($topic: WebhookSubscriptionTopic!, $uri: String!) {
          webhookSubscriptionCreate(topic: $topic, webhookSubscription: {uri: $uri}) {
            webhookSubscription { id topic uri } userErrors { message }
          }
        }""",
        topic=topic,
        uri="http://testserver/hooks",
    )["data"]["webhookSubscriptionCreate"]
    assert created["userErrors"] == []
    shop.store.deliveries.use_client(TestClient(receiver.app))
    subscription_id: str = created["webhookSubscription"]["id"]
    return subscription_id


def test_webhooks_are_signed_with_the_documented_headers_and_rest_payload() -> None:
    """A delivery carries topic, shop, version, ids, trigger time and a valid HMAC."""
    shop, receiver = Shop(), Receiver()
    subscribe(shop, receiver)
    shop.activity.setup()
    order = shop.activity.sales.new_order(list(shop.store.data.customers.values()))
    shop.activity.announce_order(order, created=True)
    attempts = shop.store.deliveries.deliver_due()
    assert [a.status for a in attempts] == [200]
    headers, body = receiver.received[0]
    assert headers["x-shopify-topic"] == "orders/create"
    assert headers["x-shopify-shop-domain"] == shop.store.domain
    assert headers["x-shopify-api-version"] == "2026-01"
    assert headers["x-shopify-event-id"]
    assert headers["x-shopify-webhook-id"]
    assert datetime.fromisoformat(headers["x-shopify-triggered-at"]) == START
    assert verify_webhook(body, headers["x-shopify-hmac-sha256"], shop.app["client_secret"])
    payload = json.loads(body)
    assert payload["id"] == order.id
    assert payload["total_price"] == f"{order.total_price:.2f}"
    assert payload["line_items"][0]["sku"] == order.line_items[0].sku


def test_failed_deliveries_retry_on_the_clock_then_the_subscription_is_removed() -> None:
    """Non-2xx answers are retried 8 times over about 4 hours, then the subscription goes."""
    shop, receiver = Shop(), Receiver()
    subscribe(shop, receiver, "CUSTOMERS_CREATE")
    receiver.status = 500
    shop.activity.setup()
    event_ids = {m.event_id for _, m, _ in shop.store.deliveries.pending()}
    assert len(event_ids) == 6
    assert len(shop.store.deliveries.deliver_due()) == 6
    assert shop.store.deliveries.deliver_due() == []
    shop.clock.advance(timedelta(seconds=59))
    assert shop.store.deliveries.deliver_due() == []
    for minutes in (1, 2, 4, 8, 16, 32, 64, 128):
        shop.clock.advance(timedelta(minutes=minutes))
        assert len(shop.store.deliveries.deliver_due()) == 6
    assert {h["x-shopify-event-id"] for h, _ in receiver.received} == event_ids
    assert len(receiver.received) == 6 * 9
    assert shop.store.deliveries.pending() == []
    assert shop.store.data.subscriptions == {}


def test_retry_succeeds_once_the_receiver_recovers() -> None:
    """A delivery that failed is resent with the same event id and body, then stops."""
    shop, receiver = Shop(), Receiver()
    subscribe(shop, receiver, "CUSTOMERS_CREATE")
    receiver.status = 503
    shop.activity.add_customer("Kai", "Lee")
    shop.store.deliveries.deliver_due()
    receiver.status = 200
    shop.clock.advance(timedelta(minutes=1))
    attempts = shop.store.deliveries.deliver_due()
    assert [(a.attempt, a.status) for a in attempts] == [(2, 200)]
    (first_headers, first_body), (second_headers, second_body) = receiver.received
    assert first_body == second_body
    assert first_headers["x-shopify-event-id"] == second_headers["x-shopify-event-id"]
    assert shop.store.deliveries.pending() == []


def test_duplicates_drops_and_reordering_can_be_forced() -> None:
    """Forced chaos: a duplicate shares its event id, a drop never arrives, a delay reorders."""
    shop, receiver = Shop(), Receiver()
    subscribe(shop, receiver, "CUSTOMERS_CREATE")
    shop.client.post(
        "/_sandbox/webhooks/chaos",
        json={"duplicate_next": 1, "drop_next": 0, "delay_next": 0},
    )
    shop.activity.add_customer("Ada", "One")
    shop.store.deliveries.drop_next(1)
    shop.activity.add_customer("Bo", "Two")
    shop.store.deliveries.delay_next(1, timedelta(minutes=5))
    shop.activity.add_customer("Cy", "Three")
    shop.activity.add_customer("Di", "Four")
    shop.store.deliveries.deliver_due()
    shop.clock.advance(timedelta(minutes=5))
    shop.store.deliveries.deliver_due()
    names = [json.loads(body)["first_name"] for _, body in receiver.received]
    assert names == ["Ada", "Ada", "Di", "Cy"]
    ids = [h["x-shopify-event-id"] for h, _ in receiver.received]
    assert ids[0] == ids[1]
    assert [json.loads(m.body)["first_name"] for m in shop.store.deliveries.dropped] == ["Bo"]


@pytest.mark.parametrize(
    ("fault", "status", "header"),
    [
        (Fault(FaultKind.SERVER_ERROR, status=502), 502, None),
        (Fault(FaultKind.RATE_LIMITED, retry_after=2.0), 429, "2.0"),
        (Fault(FaultKind.UNAUTHORIZED), 401, None),
    ],
)
def test_before_faults_answer_like_shopify_without_doing_the_work(
    fault: Fault, status: int, header: str | None
) -> None:
    """5xx, 429 (with Retry-After) and 401 faults stop the request with Shopify's body."""
    shop = Shop()
    shop.store.faults.arm("graphql.webhookSubscriptionCreate", fault)
    response = shop.graphql(
        "mutation { webhookSubscriptionCreate(topic: ORDERS_CREATE, webhookSubscription: "
        '{uri: "https://x.test/h"}) { userErrors { message } } }'
    )
    assert response.status_code == status
    assert isinstance(response.json()["errors"], str)
    assert response.headers.get("Retry-After") == header
    assert shop.store.data.subscriptions == {}


def test_lost_response_commits_the_work_then_drops_the_connection() -> None:
    """After a lost response the subscription exists although the client got no answer."""
    shop = Shop()
    shop.client.post("/_sandbox/faults", json={"operation": "graphql", "kind": "lost_response"})
    with pytest.raises(httpx.RemoteProtocolError):
        shop.graphql(
            "mutation { webhookSubscriptionCreate(topic: ORDERS_PAID, webhookSubscription: "
            '{uri: "https://x.test/h"}) { userErrors { message } } }'
        )
    assert [s.topic for s in shop.store.data.subscriptions.values()] == ["orders/paid"]


def test_malformed_and_slow_faults_do_the_work_and_spoil_or_delay_the_answer() -> None:
    """A malformed answer is cut short JSON; a slow one arrives intact."""
    shop = Shop()
    shop.store.faults.arm("graphql.shop", Fault(FaultKind.MALFORMED))
    shop.store.faults.arm("graphql.shop", Fault(FaultKind.SLOW, delay=0.05))
    broken = shop.graphql("{ shop { name } }")
    assert broken.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        broken.json()
    assert shop.graphql("{ shop { name } }").json()["data"]["shop"]["name"] == shop.store.name
    assert [kind for _, kind in shop.store.faults.fired] == [FaultKind.MALFORMED, FaultKind.SLOW]


def balance_rows(shop: Shop, search: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    after = None
    while True:
        page = shop.data(
            """query($q: String, $after: String) { shopifyPaymentsAccount {
                 balanceTransactions(first: 200, after: $after, query: $q) {
                   pageInfo { hasNextPage endCursor }
                   nodes { type amount { amount } fee { amount } net { amount } } } } }""",
            q=search,
            after=after,
        )["data"]["shopifyPaymentsAccount"]["balanceTransactions"]
        rows += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return rows
        after = page["pageInfo"]["endCursor"]


def test_generated_payouts_equal_charges_minus_refunds_minus_fees_plus_adjustments() -> None:
    """Every payout's net is its rows' net, matches its summary, and its transfer zeroes it."""
    shop = Shop(activity_days=4)
    payouts = shop.data(
        """{ shopifyPaymentsAccount { payouts(first: 50) { nodes { id legacyResourceId
             net { amount } transactionType summary { chargesGross { amount }
             chargesFee { amount } refundsFeeGross { amount } refundsFee { amount }
             adjustmentsGross { amount } adjustmentsFee { amount } } } } } }"""
    )["data"]["shopifyPaymentsAccount"]["payouts"]["nodes"]
    assert len(payouts) >= 3
    for payout in payouts:
        rows = balance_rows(shop, f"payments_transfer_id:{payout['legacyResourceId']}")
        net = {kind: Decimal(0) for kind in ("CHARGE", "REFUND", "ADJUSTMENT", "TRANSFER")}
        for row in rows:
            assert Decimal(row["net"]["amount"]) == Decimal(row["amount"]["amount"]) - Decimal(
                row["fee"]["amount"]
            )
            net[row["type"]] += Decimal(row["net"]["amount"])
        summary = {k: Decimal(v["amount"]) for k, v in payout["summary"].items()}
        from_summary = (
            summary["chargesGross"] - summary["chargesFee"] + summary["refundsFeeGross"]
            - summary["refundsFee"] + summary["adjustmentsGross"] - summary["adjustmentsFee"]
        )  # fmt: skip
        swept = net["CHARGE"] + net["REFUND"] + net["ADJUSTMENT"]
        sign = 1 if payout["transactionType"] == "DEPOSIT" else -1
        assert swept == from_summary == sign * Decimal(payout["net"]["amount"])
        assert net["TRANSFER"] == -swept
        assert net["CHARGE"] > 0


def test_generated_orders_balance_and_cover_the_variety_a_sync_must_handle() -> None:
    """Orders add up (tenders = total) and include POS, web, refunds, tips, splits, gifts."""
    shop = Shop(activity_days=5)
    orders = list(shop.store.data.orders.values())
    for order in orders:
        sales = sum((t.amount for t in order.transactions if t.kind == "SALE"), Decimal(0))
        line_total = sum((li.discounted_total for li in order.line_items), Decimal(0))
        assert sales == order.total_price
        assert line_total == order.subtotal
        assert order.total_refunded <= order.total_received
    assert {o.source_name for o in orders} == {"web", "pos"}
    assert any(o.refunds and o.financial_status == "PARTIALLY_REFUNDED" for o in orders)
    assert any(o.financial_status == "REFUNDED" for o in orders)
    assert any(o.tip > 0 for o in orders)
    assert any(len({t.gateway for t in o.transactions}) > 1 for o in orders)
    assert any(li.is_gift_card for o in orders for li in o.line_items)
    assert any(t.gateway == "gift_card" for o in orders for t in o.transactions)
    assert any(o.discount_applications for o in orders)
    assert any(len({t.rate for li in o.line_items for t in li.tax_lines}) > 1 for o in orders)
    assert any(o.updated_at > o.created_at and not o.refunds for o in orders)


def test_the_same_seed_generates_the_same_shop() -> None:
    """Two shops driven with one seed over one period hold identical orders."""

    def totals(seed: int) -> list[tuple[str, Decimal]]:
        clock = ManualClock(START)
        store = ShopifyStore(clock=clock)
        ShopifyActivity(store, seed).run_until(START + timedelta(hours=12), clock)
        return [(o.name, o.total_price) for o in store.data.orders.values()]

    assert totals(5) == totals(5)
    assert totals(5) != totals(6)


def test_over_real_http_activity_fires_signed_webhooks_to_a_served_receiver() -> None:
    """Under uvicorn: OAuth, GraphQL, admin-driven activity and a real webhook POST."""
    clock = ManualClock(START)
    store = ShopifyStore(clock=clock)
    receiver = Receiver()
    with serving(create_app(store)) as base, serving(receiver.app) as hook_base:
        admin = httpx.Client(base_url=base)
        app = admin.post("/_sandbox/apps", json={}).json()
        code = admin.post(f"/_sandbox/apps/{app['client_id']}/code").json()["code"]
        token = admin.post(
            "/admin/oauth/access_token",
            data={
                "client_id": app["client_id"],
                "client_secret": app["client_secret"],
                "code": code,
            },
        ).json()["access_token"]
        admin.post(
            "/_sandbox/webhooks",
            json={
                "client_id": app["client_id"],
                "topic": "orders/create",
                "uri": f"{hook_base}/hooks",
            },
        )
        steps = admin.post("/_sandbox/activity", json={"advance_seconds": 3600, "seed": 3}).json()
        assert steps["steps"] > 0
        attempts = admin.post("/_sandbox/webhooks/deliver").json()
        assert attempts
        assert {a["status"] for a in attempts} == {200}
        headers = {"X-Shopify-Access-Token": token}
        orders = admin.post(
            GRAPHQL, json={"query": "{ orders(first: 250) { nodes { id } } }"}, headers=headers
        ).json()["data"]["orders"]["nodes"]
        assert len(receiver.received) == len(orders) == len(attempts)
        for sent_headers, body in receiver.received:
            assert verify_webhook(body, sent_headers["x-shopify-hmac-sha256"], app["client_secret"])
        admin.post("/_sandbox/faults", json={"operation": "graphql", "kind": "lost_response"})
        with pytest.raises(httpx.RemoteProtocolError):
            admin.post(GRAPHQL, json={"query": "{ shop { name } }"}, headers=headers)
        admin.close()
