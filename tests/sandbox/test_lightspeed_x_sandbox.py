"""The simulated X-Series retailer speaks X-Series' protocol: its token endpoint rotates
refresh tokens, collections page by version, the rate limit grows with registers and
answers 429 with a Retry-After date, webhooks are signed form posts, faults fire, and its
week of trading holds what a retailer's does."""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs

import httpx
import pytest
from fastapi.testclient import TestClient

from salesync.clock import ManualClock
from salesync.sandbox.lightspeed_x import (
    App,
    LightspeedActivity,
    LightspeedRetailer,
    RateLimit,
    create_app,
)
from salesync.sandbox.webhooks import WebhookMessage

START = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)


class Store:
    """A retailer, its app, an add-on's tokens and a client on its API."""

    def __init__(self, rate_limit: RateLimit | None = None) -> None:
        self.clock = ManualClock(START)
        self.retailer = LightspeedRetailer(clock=self.clock, rate_limit=rate_limit)
        self.activity = LightspeedActivity(self.retailer, seed=2)
        self.activity.setup()
        self.app: App = self.retailer.register_app()
        issued = self.retailer.authority.issue_tokens(self.app.client_id, self.retailer.id)
        self.access, self.refresh = issued.access_token, issued.refresh_token
        self.http = TestClient(
            create_app(self.retailer), base_url="https://kowhai.retail.lightspeed.app"
        )

    def get(self, path: str, **params: str) -> httpx.Response:
        return self.http.get(
            path, params=params, headers={"Authorization": f"Bearer {self.access}"}
        )

    def token(self, **form: str) -> httpx.Response:
        fields = {"client_id": self.app.client_id, "client_secret": self.app.client_secret}
        return self.http.post("/api/1.0/token", data=fields | form)


@pytest.fixture
def store() -> Iterator[Store]:
    made = Store()
    with made.http:
        yield made


def test_a_refresh_hands_out_a_new_refresh_token_and_revokes_the_used_one(store: Store) -> None:
    """Each refresh returns a new refresh token with a day-long access token; the one used
    is refused from then on."""
    first = store.token(grant_type="refresh_token", refresh_token=store.refresh)
    body = first.json()
    assert first.status_code == 200
    assert body["refresh_token"] != store.refresh
    assert body["expires_in"] == 86_400
    assert body["token_type"] == "Bearer"  # noqa: S105  the scheme's name
    assert body["domain_prefix"] == "kowhai"
    again = store.token(grant_type="refresh_token", refresh_token=store.refresh)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    wrong = store.token(grant_type="refresh_token", refresh_token=body["refresh_token"])
    assert wrong.status_code == 200
    bad_client = store.http.post(
        "/api/1.0/token",
        data={"client_id": store.app.client_id, "client_secret": "nope", "grant_type": "x"},
    )
    assert bad_client.status_code == 401
    assert bad_client.json()["error"] == "invalid_client"


def test_a_consented_code_is_redeemed_once_at_the_token_endpoint(store: Store) -> None:
    """The consent redirect brings a code and the domain prefix; the code buys one token
    pair, and a declined consent brings access_denied."""
    redirect = "https://salesync.example/oauth/lightspeed"
    asked = store.http.get(
        "/connect",
        params={"response_type": "code", "client_id": store.app.client_id,
                "redirect_uri": redirect, "state": "s1"},
        follow_redirects=False,
    )  # fmt: skip
    assert asked.status_code == 302
    back = parse_qs(asked.headers["location"].split("?", 1)[1])
    assert back["domain_prefix"] == ["kowhai"]
    assert back["state"] == ["s1"]
    code = back["code"][0]
    grant = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect}
    first = store.token(**grant)
    assert first.status_code == 200
    assert first.json()["refresh_token"]
    assert store.token(**grant).json()["error"] == "invalid_grant"
    store.http.post("/_sandbox/consent", json={"decline_next": 1})
    declined = store.http.get(
        "/connect",
        params={"client_id": store.app.client_id, "redirect_uri": redirect},
        follow_redirects=False,
    )
    assert "error=access_denied" in declined.headers["location"]


def test_the_api_wants_a_live_bearer_token(store: Store) -> None:
    """No token, an unknown one, or one past its day is answered 401."""
    assert store.http.get("/api/2.0/sales").status_code == 401
    assert store.get("/api/2.0/retailer").status_code == 200
    store.clock.advance(timedelta(days=1, seconds=1))
    expired = store.get("/api/2.0/retailer")
    assert expired.status_code == 401
    assert expired.json() == {"error": "Unauthorized", "details": "token expired"}


def test_collections_page_by_version_and_end_with_an_empty_page(store: Store) -> None:
    """``after`` gives what changed since a version, oldest first; a change comes again
    under a higher version; an empty page ends the collection."""
    first = store.get("/api/2.0/customers", page_size="3").json()
    assert len(first["data"]) == 3
    versions = [c["version"] for c in first["data"]]
    assert versions == sorted(versions)
    assert first["version"] == {"min": versions[0], "max": versions[-1]}
    rest = store.get("/api/2.0/customers", after=str(versions[-1])).json()["data"]
    assert len(rest) == len(store.retailer.customers) - 3
    end = store.get("/api/2.0/customers", after=str(rest[-1]["version"])).json()
    assert end == {"data": [], "version": None}
    store.activity.change_customer()
    changed = store.get("/api/2.0/customers", after=str(rest[-1]["version"])).json()["data"]
    assert len(changed) == 1
    assert changed[0]["version"] > rest[-1]["version"]
    assert store.get("/api/2.0/customers", page_size="0").status_code == 400
    assert store.get("/api/2.0/customers", after="v1").status_code == 400
    assert store.get("/api/2.0/consignments").status_code == 404
    assert store.get("/api/2.0/customers/none").json() == {
        "error": "Not Found",
        "details": "no customers with id none",
    }


def test_a_sale_changed_after_it_closed_is_stamped_updated_and_versioned_again(
    store: Store,
) -> None:
    """A closed sale saved again with another customer is served with a later
    ``updated_at`` and a higher version, its sale date unchanged."""
    sale = store.activity.sell("CLOSED")
    before = store.get(f"/api/2.0/sales/{sale.id}").json()["data"]
    other = next(c for c in store.retailer.customers if c != sale.customer_id)
    store.clock.advance(timedelta(minutes=5))
    sale.customer_id = other
    store.retailer.save_sale(sale)
    after = store.get(f"/api/2.0/sales/{sale.id}").json()["data"]
    assert after["customer_id"] == other != before["customer_id"]
    assert datetime.fromisoformat(after["updated_at"]) == store.clock()
    assert datetime.fromisoformat(before["updated_at"]) == START
    assert after["version"] > before["version"]
    assert after["sale_date"] == before["sale_date"]


def test_the_limit_is_300_per_register_plus_50_and_429s_name_when_to_return() -> None:
    """Every answer states the limit and what is left; past it comes a 429 whose
    Retry-After date is when the five-minute window reopens."""
    store = Store(rate_limit=RateLimit(per_register=1, base=1))
    with store.http:
        assert Store().retailer.limit == 300 * 4 + 50
        limit = store.retailer.limit
        assert limit == 5
        answers = [store.get("/api/2.0/outlets") for _ in range(limit)]
        assert [a.headers["x-ratelimit-remaining"] for a in answers] == ["4", "3", "2", "1", "0"]
        assert {a.headers["x-ratelimit-limit"] for a in answers} == {"5"}
        store.clock.advance(timedelta(minutes=2))
        refused = store.get("/api/2.0/outlets")
        assert refused.status_code == 429
        reopens = email.utils.parsedate_to_datetime(refused.headers["retry-after"])
        assert reopens == START + timedelta(minutes=5)
        assert email.utils.parsedate_to_datetime(refused.headers["date"]) == store.clock()
        store.clock.set(reopens)
        assert store.get("/api/2.0/outlets").status_code == 200


def test_webhooks_are_signed_form_posts_of_the_object(store: Store) -> None:
    """A subscription is made once per type and URL; each change is posted as a form whose
    payload is the object, signed with the app's client secret over the raw body."""
    url = "https://hooks.example/lsx"
    made = store.http.post(
        "/api/2.0/webhooks",
        json={"url": url, "type": "sale.update", "active": True},
        headers={"Authorization": f"Bearer {store.access}"},
    )
    assert made.status_code == 201
    assert made.json()["data"]["type"] == "sale.update"
    duplicate = store.http.post(
        "/api/2.0/webhooks",
        json={"url": url, "type": "sale.update", "active": True},
        headers={"Authorization": f"Bearer {store.access}"},
    )
    assert duplicate.status_code == 409
    sale = store.activity.sell("CLOSED")
    [(_, message, _)] = store.retailer.notifier.deliveries.pending()
    assert isinstance(message, WebhookMessage)
    assert message.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    form = {k: v[0] for k, v in parse_qs(message.body.decode()).items()}
    payload = json.loads(form["payload"])
    assert payload["id"] == sale.id
    assert "register_sale_products" in payload
    digest = hmac.new(store.app.client_secret.encode(), message.body, hashlib.sha256)
    assert message.headers["X-Signature"] == (
        f"signature={digest.hexdigest()}, algorithm=HMAC-SHA256"
    )


def test_faults_fire_before_or_after_the_work(store: Store) -> None:
    """An armed 503 answers without work; a malformed answer arrives cut short."""
    store.http.post("/_sandbox/faults", json={"operation": "sales.list", "kind": "server_error"})
    assert store.get("/api/2.0/sales").status_code == 503
    store.http.post("/_sandbox/faults", json={"operation": "sales.list", "kind": "malformed"})
    cut = store.get("/api/2.0/sales")
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut.content)
    assert store.get("/api/2.0/sales").status_code == 200


def test_a_week_of_trading_holds_what_a_retailers_does() -> None:
    """Two outlets trade a week: closed sales whose payments equal their totals, returns of
    earlier sales and exchanges, tips, discounts, split tenders, paid-off accounts and laybys, and
    register closures every night."""
    store = Store()
    store.activity.trade(7, 12, store.clock.set)
    sales = list(store.retailer.sales.values())
    statuses = Counter(s.status for s in sales)
    assert statuses["CLOSED"] > 40
    assert statuses["ONACCOUNT_CLOSED"] + statuses["LAYBY_CLOSED"] > 0
    assert {s.outlet_id for s in sales} == set(store.retailer.outlets)
    for sale in sales:
        if sale.status in ("CLOSED", "ONACCOUNT_CLOSED", "LAYBY_CLOSED"):
            assert sale.paid == sale.total, sale.invoice_number
    returns = [s for s in sales if s.return_for]
    assert returns
    assert all(store.retailer.sales[r.return_for].status == "CLOSED" for r in returns)
    # Each gives goods back; an exchange also takes new ones.
    assert all(any(li.quantity < 0 for li in r.line_items) for r in returns)
    assert any(all(li.quantity < 0 for li in r.line_items) for r in returns)
    assert any(any(li.quantity > 0 for li in r.line_items) for r in returns)
    lines = [li for s in sales for li in s.line_items]
    assert any(li.unit_discount > 0 for li in lines)
    assert any(store.retailer.products[li.product_id].sku == "tip" for li in lines)
    assert any(len(s.payments) > 1 for s in sales)
    assert {li.rate for li in lines} == {Decimal("0.15"), Decimal(0)}
    assert len(store.retailer.register_closures) == 7 * len(store.retailer.registers)


def test_a_sale_moves_stock_once_and_a_return_puts_it_back(store: Store) -> None:
    """A closed sale lowers its outlet's stock and says so in inventory.update; paying off
    an account moves nothing again, and a return adds the goods back."""
    retailer = store.retailer
    retailer.subscribe(store.app.client_id, "https://hooks.example/inv", "inventory.update")
    account = store.activity.sell("ONACCOUNT")
    line = account.line_items[0]
    key = (line.product_id, account.outlet_id)
    assert retailer.inventory[key] == 100 - line.quantity
    store.activity.settle()
    assert retailer.inventory[key] == 100 - line.quantity
    sold = store.activity.sell("CLOSED")
    levels = dict(retailer.inventory)
    back = store.activity.give_back()
    assert back is not None
    [returned] = back.line_items
    where = (returned.product_id, back.outlet_id)
    assert retailer.inventory[where] == levels[where] - returned.quantity > levels[where]
    pending = retailer.notifier.deliveries.pending()
    updates = [m for _, m, _ in pending if m.topic == "inventory.update"]
    assert len(updates) == len(account.line_items) + len(sold.line_items) + 1
    payload = json.loads(parse_qs(updates[-1].body.decode())["payload"][0])
    assert (payload["product_id"], payload["outlet_id"]) == where
    assert Decimal(str(payload["count"])) == retailer.inventory[where]
