import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from fastapi.testclient import TestClient

from salesync.clock import ManualClock
from salesync.sandbox.delivery import ConnectionDroppedError
from salesync.sandbox.faults import Fault, FaultKind
from salesync.sandbox.server import serving
from salesync.sandbox.square import (
    RateLimit,
    SquareActivity,
    SquareSeller,
    create_app,
    pkce_challenge,
    sign_webhook,
    verify_webhook,
)
from salesync.sandbox.square.sales import TenderPlan

from .receiver import Receiver

START = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
HOOK_URL = "http://testserver/hooks"


class Seller:
    """A sandbox seller on a manual clock, a connected app, and an in-process client."""

    def __init__(self, *, activity_days: float = 0, rate_limit: RateLimit | None = None) -> None:
        self.clock = ManualClock(START)
        # The manual clock never drains a bucket by itself, so tests that are not about the
        # rate limit get a bucket they cannot fill.
        self.seller = SquareSeller(
            clock=self.clock, rate_limit=rate_limit or RateLimit(10_000, 100)
        )
        self.activity = SquareActivity(self.seller, seed=11)
        self.activity.setup()
        if activity_days:
            self.activity.run_until(START + timedelta(days=activity_days), self.clock)
        self.client = TestClient(create_app(self.seller))
        self.app = self.client.post("/_sandbox/apps", json={}).json()
        self.token = self.client.post(
            f"/_sandbox/apps/{self.app['client_id']}/token", json={}
        ).json()

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token['access_token']}"}

    def get(self, path: str, token: str | None = None, **params: Any) -> httpx.Response:
        return self.client.get(path, params=params, headers=self.headers(token))

    def post(self, path: str, body: dict[str, Any], token: str | None = None) -> httpx.Response:
        return self.client.post(path, json=body, headers=self.headers(token))

    def obtain(self, **fields: Any) -> httpx.Response:
        return self.client.post(
            "/oauth2/token", json={"client_id": self.app["client_id"], **fields}
        )

    @property
    def location_ids(self) -> list[str]:
        return list(self.seller.data.locations)

    def search(self, **body: Any) -> dict[str, Any]:
        response = self.post("/v2/orders/search", {"location_ids": self.location_ids, **body})
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    def all_orders(self, query: dict[str, Any], limit: int = 500) -> list[dict[str, Any]]:
        orders: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = self.search(query=query, limit=limit, cursor=cursor)
            orders += page.get("orders", [])
            cursor = page.get("cursor")
            if cursor is None:
                return orders


def subscribe(shop: Seller, receiver: Receiver, *events: str) -> dict[str, Any]:
    made = shop.post(
        "/v2/webhooks/subscriptions",
        {
            "idempotency_key": "sub-1",
            "subscription": {
                "name": "sync",
                "notification_url": HOOK_URL,
                "event_types": list(events or ("customer.created",)),
            },
        },
    )
    assert made.status_code == 200, made.text
    shop.seller.deliveries.use_client(TestClient(receiver.app))
    subscription: dict[str, Any] = made.json()["subscription"]
    return subscription


def error_of(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["errors"][0]
    return error


def test_signature_matches_the_square_sdk_vector_and_a_forgery_fails() -> None:
    """The HMAC over URL + body agrees with square-python-sdk's published test vector."""
    # tests/utilities/test_webhooks_helper.py in square/square-python-sdk
    body = (
        b'{"merchant_id":"MLEFBHHSJGVHD","type":"webhooks.test_notification",'
        b'"event_id":"ac3ac95b-f97d-458c-a6e6-18981597e05f",'
        b'"created_at":"2022-07-13T20:30:59.037339943Z",'
        b'"data":{"type":"webhooks","id":"bc368e64-01aa-407e-b46e-3231809b1129"}}'
    )
    url = "https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9"
    key = "Ibxx_5AKakO-3qeNVR61Dw"
    expected = "GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4="
    assert sign_webhook(url, body, key) == expected
    assert verify_webhook(url, body, expected, key)
    assert not verify_webhook(url, body.replace(b"MLEF", b"XLEF"), expected, key)
    assert not verify_webhook(url + "/", body, expected, key)
    assert not verify_webhook(url, body, expected, "another-key")
    assert not verify_webhook(url, body, None, key)


def test_code_flow_code_works_once_and_refresh_keeps_the_refresh_token() -> None:
    """Authorize redirects with a single-use code; a code-flow refresh returns the same token."""
    shop = Seller()
    redirect = shop.client.get(
        "/oauth2/authorize",
        params={
            "client_id": shop.app["client_id"],
            "redirect_uri": "https://app.test/cb",
            "state": "s1",
        },
        follow_redirects=False,
    )
    assert redirect.status_code == 302
    query = {k: v[0] for k, v in parse_qs(urlparse(redirect.headers["location"]).query).items()}
    assert query["state"] == "s1"
    secret = shop.app["client_secret"]
    first = shop.obtain(grant_type="authorization_code", code=query["code"], client_secret=secret)
    assert first.status_code == 200, first.text
    grant = first.json()
    assert grant["token_type"] == "bearer"  # noqa: S105  the documented literal, not a secret
    assert grant["merchant_id"] == shop.seller.merchant_id
    assert datetime.fromisoformat(grant["expires_at"]) == START + timedelta(days=30)
    again = shop.obtain(grant_type="authorization_code", code=query["code"], client_secret=secret)
    assert (again.status_code, error_of(again)["code"]) == (401, "UNAUTHORIZED")
    shop.clock.advance(timedelta(days=400))
    refreshed = shop.obtain(
        grant_type="refresh_token", refresh_token=grant["refresh_token"], client_secret=secret
    ).json()
    assert refreshed["refresh_token"] == grant["refresh_token"]
    assert shop.get("/v2/locations", token=refreshed["access_token"]).status_code == 200
    wrong = shop.obtain(
        grant_type="refresh_token",
        refresh_token=grant["refresh_token"],
        client_secret="x",  # noqa: S106  a wrong secret on purpose
    )
    assert (wrong.status_code, error_of(wrong)["category"]) == (401, "AUTHENTICATION_ERROR")


def test_codes_expire_after_five_minutes() -> None:
    """An authorization code redeemed five minutes after consent is refused."""
    shop = Seller()
    code = shop.client.post(f"/_sandbox/apps/{shop.app['client_id']}/code", json={}).json()["code"]
    shop.clock.advance(timedelta(minutes=5))
    late = shop.obtain(
        grant_type="authorization_code", code=code, client_secret=shop.app["client_secret"]
    )
    assert late.status_code == 401


def test_access_tokens_expire_after_30_days_or_24_hours_when_short_lived() -> None:
    """Expired tokens get ACCESS_TOKEN_EXPIRED; short_lived ones die after a day."""
    shop = Seller()
    short = shop.client.post(
        f"/_sandbox/apps/{shop.app['client_id']}/token", json={"short_lived": True}
    ).json()
    assert short["short_lived"] is True
    shop.clock.advance(timedelta(hours=24))
    expired = shop.get("/v2/locations", token=short["access_token"])
    assert (expired.status_code, error_of(expired)["code"]) == (401, "ACCESS_TOKEN_EXPIRED")
    assert shop.get("/v2/locations").status_code == 200
    shop.clock.advance(timedelta(days=29))
    assert error_of(shop.get("/v2/locations"))["code"] == "ACCESS_TOKEN_EXPIRED"


def test_pkce_refresh_tokens_are_single_use_and_rotate() -> None:
    """With PKCE the verifier replaces the secret, and each refresh token works once."""
    shop = Seller()
    verifier = "a-long-random-code-verifier-of-at-least-43-characters-xyz"
    code = shop.client.post(
        f"/_sandbox/apps/{shop.app['client_id']}/code",
        json={"code_challenge": pkce_challenge(verifier)},
    ).json()["code"]
    assert (
        shop.obtain(grant_type="authorization_code", code=code, code_verifier="wrong").status_code
        == 401
    )
    code = shop.client.post(
        f"/_sandbox/apps/{shop.app['client_id']}/code",
        json={"code_challenge": pkce_challenge(verifier)},
    ).json()["code"]
    grant = shop.obtain(grant_type="authorization_code", code=code, code_verifier=verifier).json()
    assert datetime.fromisoformat(grant["refresh_token_expires_at"]) == START + timedelta(days=90)
    fresh = shop.obtain(grant_type="refresh_token", refresh_token=grant["refresh_token"]).json()
    assert fresh["refresh_token"] != grant["refresh_token"]
    spent = shop.obtain(grant_type="refresh_token", refresh_token=grant["refresh_token"])
    assert spent.status_code == 401
    assert shop.get("/v2/locations", token=fresh["access_token"]).status_code == 200


def test_missing_unknown_and_revoked_tokens_get_squares_401s() -> None:
    """No or unknown token is UNAUTHORIZED; after RevokeToken it is ACCESS_TOKEN_REVOKED."""
    shop = Seller()
    bare = shop.client.get("/v2/locations")
    assert (bare.status_code, error_of(bare)["code"]) == (401, "UNAUTHORIZED")
    unknown = shop.get("/v2/locations", token="EAAAl-made-up")  # noqa: S106  a made-up token on purpose
    assert error_of(unknown)["category"] == "AUTHENTICATION_ERROR"
    body = {"client_id": shop.app["client_id"], "access_token": shop.token["access_token"]}
    assert (
        shop.client.post(
            "/oauth2/revoke", json=body, headers={"Authorization": "Client nope"}
        ).status_code
        == 401
    )
    revoked = shop.client.post(
        "/oauth2/revoke",
        json=body,
        headers={"Authorization": f"Client {shop.app['client_secret']}"},
    )
    assert revoked.json() == {"success": True}
    gone = shop.get("/v2/locations")
    assert (gone.status_code, error_of(gone)["code"]) == (401, "ACCESS_TOKEN_REVOKED")
    refresh = shop.obtain(
        grant_type="refresh_token",
        refresh_token=shop.token["refresh_token"],
        client_secret=shop.app["client_secret"],
    )
    assert refresh.status_code == 401


def test_square_version_is_pinned_echoed_checked_and_retired_apis_are_gone() -> None:
    """Answers name their version; a bad one is refused; the Transactions API answers GONE."""
    shop = Seller()
    assert shop.get("/v2/locations").headers["Square-Version"] == shop.app["api_version"]
    older = shop.client.get(
        "/v2/locations", headers={**shop.headers(), "Square-Version": "2024-01-18"}
    )
    assert older.headers["Square-Version"] == "2024-01-18"
    bad = shop.client.get("/v2/locations", headers={**shop.headers(), "Square-Version": "latest"})
    assert (bad.status_code, error_of(bad)["code"]) == (400, "INVALID_SQUARE_VERSION_FORMAT")
    future = shop.client.get(
        "/v2/locations", headers={**shop.headers(), "Square-Version": "2999-01-01"}
    )
    assert future.status_code == 400
    old = shop.client.post(
        f"/v2/locations/{shop.location_ids[0]}/transactions",
        headers={**shop.headers(), "Square-Version": "2019-03-13"},
    )
    assert (old.status_code, error_of(old)["code"]) == (410, "GONE")


def test_search_pages_by_cursor_without_gaps_or_repeats_while_orders_change() -> None:
    """Paging by updated_at sees every order once; only one changed mid-way shows up again."""
    shop = Seller(activity_days=1)
    query = {"sort": {"sort_field": "UPDATED_AT", "sort_order": "ASC"}}
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = shop.search(query=query, limit=40, cursor=cursor)
        seen += [o["id"] for o in page.get("orders", [])]
        pages += 1
        if pages == 2:
            shop.clock.advance(timedelta(seconds=1))
            changed = shop.seller.data.orders[seen[0]]
            shop.activity.till.cancel(changed)
            shop.activity.sale()
        cursor = page.get("cursor")
        if cursor is None:
            break
    assert pages > 3
    assert set(seen) == set(shop.seller.data.orders)
    assert Counter(seen) - Counter(set(seen)) == Counter([seen[0]])


def test_every_change_to_an_order_moves_its_version_and_updated_at_on() -> None:
    """Paying or cancelling an open order serves it at the next version, updated_at the
    moment of the change: what tells a connector an edit from a late copy."""
    shop = Seller(activity_days=1)
    opened = [o for o in shop.seller.data.orders.values() if o.state == "OPEN"][:2]
    assert len(opened) == 2
    before = [shop.get(f"/v2/orders/{o.id}").json()["order"] for o in opened]
    shop.clock.advance(timedelta(minutes=5))
    shop.activity.till.pay(opened[0], [TenderPlan("CASH", opened[0].amounts.total)])
    shop.activity.till.cancel(opened[1])
    for was in before:
        now = shop.get(f"/v2/orders/{was['id']}").json()["order"]
        assert now["state"] in ("COMPLETED", "CANCELED")
        assert now["version"] == was["version"] + 1
        assert now["updated_at"] > was["updated_at"]
        assert datetime.fromisoformat(now["updated_at"]) == shop.clock()


def test_search_filters_by_state_time_and_customer_and_checks_its_query() -> None:
    """State, created_at window and customer filters select exactly; bad queries get 400s."""
    shop = Seller(activity_days=2)
    low, high = START + timedelta(hours=6), START + timedelta(hours=30)
    window = {"created_at": {"start_at": low.isoformat(), "end_at": high.isoformat()}}
    found = shop.all_orders(
        {
            "filter": {"date_time_filter": window, "state_filter": {"states": ["COMPLETED"]}},
            "sort": {"sort_field": "CREATED_AT", "sort_order": "ASC"},
        },
        limit=50,
    )
    expected = {
        o.id
        for o in shop.seller.data.orders.values()
        if low <= o.created_at < high and o.state == "COMPLETED"
    }
    assert {o["id"] for o in found} == expected
    assert [o["created_at"] for o in found] == sorted(o["created_at"] for o in found)
    customer = next(o.customer_id for o in shop.seller.data.orders.values() if o.customer_id)
    mine = shop.all_orders({"filter": {"customer_filter": {"customer_ids": [customer]}}})
    assert mine
    assert {o["customer_id"] for o in mine} == {customer}
    entries = shop.search(return_entries=True, limit=3)
    assert set(entries["order_entries"][0]) == {"order_id", "version", "location_id"}
    mismatch = shop.post(
        "/v2/orders/search",
        {
            "location_ids": shop.location_ids,
            "query": {"filter": {"date_time_filter": {"updated_at": window["created_at"]}}},
        },
    )
    assert (mismatch.status_code, error_of(mismatch)["field"]) == (400, "query.sort.sort_field")
    closed = shop.post(
        "/v2/orders/search",
        {"location_ids": shop.location_ids, "query": {"sort": {"sort_field": "CLOSED_AT"}}},
    )
    assert error_of(closed)["field"] == "query.filter.state_filter"
    missing = shop.post("/v2/orders/search", {})
    assert (error_of(missing)["code"], error_of(missing)["field"]) == (
        "MISSING_REQUIRED_PARAMETER",
        "location_ids",
    )
    cursor = shop.search(limit=2)["cursor"]
    other = shop.post(
        "/v2/orders/search",
        {"location_ids": shop.location_ids[:1], "cursor": cursor},
    )
    assert error_of(other)["code"] == "INVALID_CURSOR"


def test_create_order_prices_additive_and_inclusive_taxes_discounts_and_charges() -> None:
    """Discounts come off before tax; inclusive tax is carved out; charges add to the total."""
    shop = Seller()
    additive, inclusive = shop.location_ids
    usd = "USD"
    body = {
        "idempotency_key": "o-1",
        "order": {
            "location_id": additive,
            "line_items": [
                {
                    "name": "Beans",
                    "quantity": "2",
                    "base_price_money": {"amount": 1000, "currency": usd},
                    "applied_discounts": [{"discount_uid": "d1"}],
                },
                {
                    "name": "Mug",
                    "quantity": "1",
                    "base_price_money": {"amount": 500, "currency": usd},
                },
            ],
            "taxes": [{"uid": "t1", "name": "Tax", "percentage": "10", "type": "ADDITIVE"}],
            "discounts": [{"uid": "d1", "name": "20%", "percentage": "20", "scope": "LINE_ITEM"}],
            "service_charges": [
                {"uid": "s1", "name": "Delivery", "amount_money": {"amount": 300, "currency": usd}}
            ],
        },
    }
    order = shop.post("/v2/orders", body).json()["order"]
    beans, mug = order["line_items"]
    assert beans["total_discount_money"]["amount"] == 400
    assert beans["total_tax_money"]["amount"] == 160
    assert beans["total_money"]["amount"] == 1760
    assert mug["total_money"]["amount"] == 550
    assert order["total_money"]["amount"] == 1760 + 550 + 300
    assert order["total_tax_money"]["amount"] == 210
    assert (order["state"], order["version"], beans["quantity"]) == ("OPEN", 1, "2")
    variation = next(iter(shop.seller.data.items.values())).variations[0]
    tax = next(t for t in shop.seller.data.taxes.values() if t.inclusion_type == "INCLUSIVE")
    kiosk = shop.post(
        "/v2/orders",
        {
            "order": {
                "location_id": inclusive,
                "line_items": [{"catalog_object_id": variation.id, "quantity": "1"}],
                "taxes": [{"catalog_object_id": tax.id, "scope": "ORDER"}],
            }
        },
    ).json()["order"]
    included = kiosk["line_items"][0]
    assert kiosk["total_money"]["amount"] == variation.price
    assert 0 < included["total_tax_money"]["amount"] < variation.price * 11 // 100
    assert kiosk["taxes"][0]["type"] == "INCLUSIVE"
    bad = shop.post(
        "/v2/orders",
        {"order": {"location_id": additive, "line_items": [{"name": "x", "quantity": "two"}]}},
    )
    assert (bad.status_code, error_of(bad)["field"]) == (400, "order.line_items[0].quantity")
    assert shop.post("/v2/orders", {"order": {"location_id": "NOPE"}}).status_code == 404


def test_idempotency_key_replays_the_first_answer_and_refuses_another_request() -> None:
    """Same key and body returns the original order; a changed body gets IDEMPOTENCY_KEY_REUSED."""
    shop = Seller()
    tea = {"name": "Tea", "quantity": "1", "base_price_money": {"amount": 350, "currency": "USD"}}
    body = {
        "idempotency_key": "same-key",
        "order": {"location_id": shop.location_ids[0], "line_items": [tea]},
    }
    first = shop.post("/v2/orders", body).json()
    again = shop.post("/v2/orders", body).json()
    assert again == first
    assert len(shop.seller.data.orders) == 1
    tea["quantity"] = "2"
    reused = shop.post("/v2/orders", body)
    assert (reused.status_code, error_of(reused)["code"]) == (400, "IDEMPOTENCY_KEY_REUSED")
    assert len(shop.seller.data.orders) == 1


def test_returns_are_linked_orders_that_refund_the_original_tenders() -> None:
    """A return order points at its sale and lines; its refunds equal what it gives back."""
    shop = Seller(activity_days=2)
    orders = shop.seller.data.orders
    returns = [o for o in orders.values() if o.returns]
    assert any(not o.line_items for o in returns)
    assert any(o.line_items for o in returns)
    for returned in returns:
        body = shop.get(f"/v2/orders/{returned.id}").json()["order"]
        (entry,) = body["returns"]
        source = shop.post(
            "/v2/orders/batch-retrieve", {"order_ids": [entry["source_order_id"]]}
        ).json()["orders"][0]
        source_lines = {li["uid"]: li for li in source["line_items"]}
        for line in entry["return_line_items"]:
            assert line["source_line_item_uid"] in source_lines
            assert (
                line["catalog_object_id"]
                == source_lines[line["source_line_item_uid"]]["catalog_object_id"]
            )
        refunded = sum(r["amount_money"]["amount"] for r in body.get("refunds", []))
        paid = sum(t["amount_money"]["amount"] for t in body.get("tenders", []))
        assert paid - refunded == body["net_amounts"]["total_money"]["amount"]
        assert {r["transaction_id"] for r in body.get("refunds", [])} <= {source["id"]}
    for sale in orders.values():
        given_back = sum(
            o.return_amounts.total for o in returns if o.returns[0].source_order_id == sale.id
        )
        assert given_back <= sale.amounts.total - sale.amounts.tip - sale.amounts.service_charge
    assert shop.get("/v2/orders/NOPE").status_code == 404


def test_generated_orders_balance_and_cover_the_variety_a_sync_must_handle() -> None:
    """Tenders minus refunds equal net totals; splits, tips, brands, taxes and states all occur."""
    shop = Seller(activity_days=3)
    orders = list(shop.seller.data.orders.values())
    for order in orders:
        if order.state == "COMPLETED":
            paid = sum(t.amount for t in order.tenders) - sum(r.amount for r in order.refunds)
            assert paid == order.net_amounts.total
        assert (
            sum(li.total for li in order.line_items)
            + order.amounts.service_charge
            + order.amounts.tip
            == order.amounts.total
        )
    assert {o.state for o in orders} == {"OPEN", "COMPLETED", "CANCELED"}
    assert any({t.type for t in o.tenders} == {"CARD", "CASH"} for o in orders)
    assert {t.type for o in orders for t in o.tenders} == {"CARD", "CASH", "OTHER"}
    assert len({t.card_brand for o in orders for t in o.tenders if t.card_brand}) >= 3
    assert any(o.amounts.tip for o in orders)
    assert any(o.discounts for o in orders)
    assert any(o.service_charges for o in orders)
    assert {t.type for o in orders for t in o.taxes} == {"ADDITIVE", "INCLUSIVE"}
    assert any(o.version > 1 for o in orders)
    payments = shop.seller.data.payments
    assert all(payments[t.payment_id].total == t.amount for o in orders for t in o.tenders)


def test_payouts_equal_the_sum_of_their_entries() -> None:
    """Every payout's amount is its entries' net; entries are the location's card activity."""
    shop = Seller(activity_days=4)
    checked = 0
    for location in shop.location_ids:
        payouts = shop.get("/v2/payouts", location_id=location, sort_order="ASC").json()["payouts"]
        assert len(payouts) >= 3
        for payout in payouts:
            entries: list[dict[str, Any]] = []
            cursor = None
            while True:
                page = shop.get(
                    f"/v2/payouts/{payout['id']}/payout-entries", limit=25, cursor=cursor
                ).json()
                entries += page["payout_entries"]
                cursor = page.get("cursor")
                if cursor is None:
                    break
            for entry in entries:
                gross, fee = (
                    entry["gross_amount_money"]["amount"],
                    entry["fee_amount_money"]["amount"],
                )
                assert entry["net_amount_money"]["amount"] == gross - fee
            assert (
                sum(e["net_amount_money"]["amount"] for e in entries)
                == payout["amount_money"]["amount"]
            )
            charged = {
                e["type_charge_details"]["payment_id"] for e in entries if e["type"] == "CHARGE"
            }
            assert all(shop.seller.data.payments[p].source_type == "CARD" for p in charged)
            checked += 1
    assert checked >= 6
    swept = {e.payment_id for e in shop.seller.data.payout_entries.values() if e.type == "CHARGE"}
    cards = [p for p in shop.seller.data.payments.values() if p.source_type == "CARD"]
    assert len(swept) == len(
        [
            p
            for p in cards
            if p.created_at <= max(x.created_at for x in shop.seller.data.payouts.values())
        ]
    )


def test_customers_catalog_payments_and_refunds_list_with_cursors() -> None:
    """Customers, catalog objects by type, payments and refunds page without loss."""
    shop = Seller(activity_days=2)
    ids: list[str] = []
    cursor = None
    while True:
        page = shop.get("/v2/customers", limit=5, cursor=cursor, sort_field="CREATED_AT").json()
        ids += [c["id"] for c in page["customers"]]
        cursor = page.get("cursor")
        if cursor is None:
            break
    assert sorted(ids) == sorted(shop.seller.data.customers)
    anyone = shop.seller.data.customers[ids[0]]
    found = shop.post(
        "/v2/customers/search",
        {"query": {"filter": {"email_address": {"exact": anyone.email_address}}}},
    ).json()
    assert [c["id"] for c in found["customers"]] == [anyone.id]
    assert shop.post("/v2/customers/search", {"limit": 101}).status_code == 400
    objects = shop.get("/v2/catalog/list", types="CATEGORY,TAX").json()["objects"]
    assert {o["type"] for o in objects} == {"CATEGORY", "TAX"}
    assert {o["tax_data"]["inclusion_type"] for o in objects if o["type"] == "TAX"} == {
        "ADDITIVE",
        "INCLUSIVE",
    }
    begin = (START + timedelta(hours=12)).isoformat()
    payments: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = shop.get("/v2/payments", begin_time=begin, limit=50, cursor=cursor).json()
        payments += page["payments"]
        cursor = page.get("cursor")
        if cursor is None:
            break
    expected = [
        p for p in shop.seller.data.payments.values() if p.created_at >= START + timedelta(hours=12)
    ]
    assert len(payments) == len({p["id"] for p in payments}) == len(expected)
    refunds = shop.get("/v2/refunds", begin_time=START.isoformat()).json()["refunds"]
    assert len(refunds) == len(shop.seller.data.refunds)
    assert shop.get("/v2/payments", limit=500).status_code == 400


def test_webhooks_are_signed_over_url_and_body_and_carry_event_ids() -> None:
    """Each notification verifies with the subscription key and names its event."""
    shop, receiver = Seller(), Receiver()
    subscription = subscribe(shop, receiver, "order.created", "payment.created", "customer.created")
    shop.activity.sale()
    shop.activity.new_customer()
    attempts = shop.seller.deliveries.deliver_due()
    assert attempts
    assert {a.status for a in attempts} == {200}
    types = []
    for headers, body in receiver.received:
        assert verify_webhook(
            HOOK_URL, body, headers["x-square-hmacsha256-signature"], subscription["signature_key"]
        )
        event = json.loads(body)
        assert event["merchant_id"] == shop.seller.merchant_id
        assert event["event_id"]
        types.append(event["type"])
    assert types[0] == "order.created"
    assert "payment.created" in types
    assert types[-1] == "customer.created"
    created = json.loads(receiver.received[0][1])["data"]["object"]["order_created"]
    assert created["order_id"] in shop.seller.data.orders
    listed = shop.get("/v2/webhooks/subscriptions").json()["subscriptions"]
    assert [s["id"] for s in listed] == [subscription["id"]]
    assert "signature_key" not in listed[0]


def test_failed_deliveries_retry_on_squares_schedule_for_72_hours() -> None:
    """Non-2xx answers are retried after 1, 2, 4, 8, 16, 32 minutes, then hourly to 72 h."""
    shop, receiver = Seller(), Receiver()
    subscribe(shop, receiver)
    receiver.status = 500
    shop.activity.new_customer()
    deliveries = shop.seller.deliveries
    assert len(deliveries.deliver_due()) == 1
    shop.clock.advance(timedelta(seconds=59))
    assert deliveries.deliver_due() == []
    for minutes in (1, 2, 4, 8, 16, 32):
        shop.clock.advance(
            timedelta(minutes=minutes) - (timedelta(seconds=59) if minutes == 1 else timedelta(0))
        )
        assert len(deliveries.deliver_due()) == 1
    hourly = 0
    while deliveries.pending():
        shop.clock.advance(timedelta(hours=1))
        hourly += len(deliveries.deliver_due())
    assert shop.clock() - START <= timedelta(hours=73)
    assert hourly == 70
    assert len(receiver.received) == 1 + 6 + 70
    assert len({h["x-square-hmacsha256-signature"] for h, _ in receiver.received}) == 1
    assert len(deliveries.exhausted) == 1


def test_a_retry_succeeds_once_the_receiver_recovers_and_duplicates_share_an_event_id() -> None:
    """A failed notification is resent unchanged; forced duplicates and drops behave as asked."""
    shop, receiver = Seller(), Receiver()
    subscribe(shop, receiver)
    receiver.status = 503
    shop.activity.new_customer()
    shop.seller.deliveries.deliver_due()
    receiver.status = 200
    shop.clock.advance(timedelta(minutes=1))
    assert [(a.attempt, a.status) for a in shop.seller.deliveries.deliver_due()] == [(2, 200)]
    assert receiver.received[0][1] == receiver.received[1][1]
    receiver.received.clear()
    shop.client.post("/_sandbox/webhooks/chaos", json={"duplicate_next": 1, "drop_next": 1})
    shop.activity.new_customer()
    shop.activity.new_customer()
    shop.client.post("/_sandbox/webhooks/deliver")
    events = [json.loads(body)["event_id"] for _, body in receiver.received]
    assert len(events) == 2
    assert events[0] == events[1]
    assert len(shop.seller.deliveries.dropped) == 1


@pytest.mark.parametrize(
    ("fault", "status", "code", "retry_after"),
    [
        (Fault(FaultKind.SERVER_ERROR), 503, "SERVICE_UNAVAILABLE", None),
        (Fault(FaultKind.SERVER_ERROR, status=500), 500, "INTERNAL_SERVER_ERROR", None),
        (Fault(FaultKind.RATE_LIMITED, retry_after=2), 429, "RATE_LIMITED", "2"),
        (Fault(FaultKind.UNAUTHORIZED), 401, "ACCESS_TOKEN_EXPIRED", None),
    ],
)
def test_before_faults_answer_in_squares_shape_without_doing_the_work(
    fault: Fault, status: int, code: str, retry_after: str | None
) -> None:
    """5xx, 429 and 401 faults stop CreateOrder with Square's error body; nothing is created."""
    shop = Seller()
    shop.seller.faults.arm("orders.create", fault)
    response = shop.post("/v2/orders", {"order": {"location_id": shop.location_ids[0]}})
    assert (response.status_code, error_of(response)["code"]) == (status, code)
    assert response.headers.get("Retry-After") == retry_after
    assert shop.seller.data.orders == {}


def test_lost_response_commits_the_order_and_the_keyed_retry_returns_it() -> None:
    """After a dropped answer the order exists; retrying with the key returns that one order."""
    shop = Seller()
    shop.client.post(
        "/_sandbox/faults", json={"operation": "orders.create", "kind": "lost_response"}
    )
    body = {"idempotency_key": "lost-1", "order": {"location_id": shop.location_ids[0]}}
    with pytest.raises(ConnectionDroppedError):
        shop.post("/v2/orders", body)
    assert len(shop.seller.data.orders) == 1
    retry = shop.post("/v2/orders", body).json()
    assert retry["order"]["id"] in shop.seller.data.orders
    assert len(shop.seller.data.orders) == 1


def test_slow_and_malformed_faults_do_the_work_and_spoil_or_delay_the_answer() -> None:
    """A malformed answer is cut-short JSON; a slow one arrives intact; '*' matches any call."""
    shop = Seller()
    shop.seller.faults.arm("locations.list", Fault(FaultKind.MALFORMED))
    shop.seller.faults.arm("*", Fault(FaultKind.SLOW, delay=0.05))
    broken = shop.get("/v2/locations")
    assert broken.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        broken.json()
    assert len(shop.get("/v2/locations").json()["locations"]) == 2
    assert [k for _, k in shop.seller.faults.fired] == [FaultKind.MALFORMED, FaultKind.SLOW]


def test_token_endpoint_faults_and_rate_limits_per_token() -> None:
    """ObtainToken can fail with 503; a token's bucket answers RATE_LIMITED until it drains."""
    shop = Seller(rate_limit=RateLimit(capacity=5, per_second=1))
    shop.seller.faults.arm("oauth.token", FaultKind.SERVER_ERROR)
    failed = shop.obtain(grant_type="refresh_token", refresh_token=shop.token["refresh_token"])
    assert (failed.status_code, error_of(failed)["category"]) == (503, "API_ERROR")
    for _ in range(5):
        assert shop.get("/v2/locations").status_code == 200
    limited = shop.get("/v2/locations")
    assert (limited.status_code, error_of(limited)) == (
        429,
        {
            "category": "RATE_LIMIT_ERROR",
            "code": "RATE_LIMITED",
            "detail": error_of(limited)["detail"],
        },
    )
    other = shop.client.post(f"/_sandbox/apps/{shop.app['client_id']}/token", json={}).json()
    assert shop.get("/v2/locations", token=other["access_token"]).status_code == 200
    shop.clock.advance(timedelta(seconds=1))
    assert shop.get("/v2/locations").status_code == 200


def test_the_same_seed_generates_the_same_seller() -> None:
    """Two sellers driven with one seed over one period hold identical order totals."""

    def totals(seed: int) -> list[int]:
        clock = ManualClock(START)
        seller = SquareSeller(clock=clock)
        SquareActivity(seller, seed).run_until(START + timedelta(hours=12), clock)
        return [o.amounts.total for o in seller.data.orders.values()]

    assert totals(5) == totals(5)
    assert totals(5) != totals(6)


def test_over_real_http_oauth_activity_and_a_signed_webhook_reach_a_served_receiver() -> None:
    """Under uvicorn: ObtainToken, admin-driven activity, a real signed POST, a dropped answer."""
    clock = ManualClock(START)
    seller = SquareSeller(clock=clock)
    receiver = Receiver()
    with serving(create_app(seller)) as base, serving(receiver.app) as hook_base:
        admin = httpx.Client(base_url=base)
        app = admin.post("/_sandbox/apps", json={}).json()
        code = admin.post(f"/_sandbox/apps/{app['client_id']}/code", json={}).json()["code"]
        token = admin.post(
            "/oauth2/token",
            json={
                "client_id": app["client_id"],
                "client_secret": app["client_secret"],
                "grant_type": "authorization_code",
                "code": code,
            },
        ).json()["access_token"]
        url = f"{hook_base}/hooks"
        subscription = admin.post(
            "/_sandbox/webhooks",
            json={
                "client_id": app["client_id"],
                "notification_url": url,
                "event_types": ["order.created"],
            },
        ).json()
        steps = admin.post("/_sandbox/activity", json={"advance_seconds": 3600, "seed": 3}).json()
        assert steps["steps"] > 0
        attempts = admin.post("/_sandbox/webhooks/deliver").json()
        assert attempts
        assert {a["status"] for a in attempts} == {200}
        headers = {"Authorization": f"Bearer {token}"}
        assert len(receiver.received) == len(seller.data.orders) == len(attempts)
        for sent, body in receiver.received:
            assert verify_webhook(
                url, body, sent["x-square-hmacsha256-signature"], subscription["signature_key"]
            )
        admin.post(
            "/_sandbox/faults", json={"operation": "locations.list", "kind": "lost_response"}
        )
        with pytest.raises(httpx.RemoteProtocolError):
            admin.get("/v2/locations", headers=headers)
        assert len(admin.get("/v2/locations", headers=headers).json()["locations"]) == 2
        admin.close()
