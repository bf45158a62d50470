"""The simulated Clover speaks Clover's protocol: its token checks and error bodies, its
list parameters, its rate and concurrency limits, its expiring tokens and its webhooks."""

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from fastapi.testclient import TestClient

from salesync.clock import ManualClock
from salesync.sandbox.clover import CloverActivity, CloverPlatform, RateLimits, create_app
from salesync.sandbox.clover.till import Sold, Tendered, price, refund_lines, ring_up
from salesync.sandbox.faults import Fault, FaultKind
from salesync.sandbox.server import serving

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
HOOK_URL = "https://hooks.example/clover"
ROOMY = RateLimits(10**6, 10**6, 100, 100)


class Clover:
    """A platform on a manual clock, one merchant that traded a day, an app token."""

    def __init__(self, limits: RateLimits = ROOMY, *, sales: int = 12) -> None:
        self.clock = ManualClock(START)
        self.platform = CloverPlatform(clock=self.clock, limits=limits)
        self.hooks: list[httpx.Request] = []
        self.platform.use_webhook_client(httpx.Client(transport=httpx.MockTransport(self._hook)))
        self.merchant = self.platform.add_merchant("Uptown", "America/New_York")
        self.activity = CloverActivity(self.platform, self.merchant, seed=4)
        self.activity.setup()
        self.activity.trade_day(self.clock(), sales, self._move)
        self.pair = self.platform.install(self.merchant.id)
        self.client = TestClient(create_app(self.platform))

    def _hook(self, request: httpx.Request) -> httpx.Response:
        self.hooks.append(request)
        return httpx.Response(200)

    def _move(self, moment: datetime) -> None:
        self.clock.set(max(moment, self.clock()))

    def get(self, path: str, token: str | None = None, **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.pair.access_token}"}
        return self.client.get(
            f"/v3/merchants/{self.merchant.id}{path}", params=params, headers=headers
        )


@pytest.fixture
def clover() -> Iterator[Clover]:
    made = Clover()
    yield made
    made.client.close()


def test_tokens_are_checked_for_the_merchant_in_the_path(clover: Clover) -> None:
    """No token, an unknown one, an expired one or another merchant's: 401 with a message."""
    other = clover.platform.add_merchant("Harbor", "America/New_York")
    theirs = clover.platform.install(other.id).access_token
    answers = [
        clover.client.get(f"/v3/merchants/{clover.merchant.id}/orders"),
        clover.get("/orders", token="forged"),  # noqa: S106  a token nobody issued
        clover.get("/orders", token=theirs),
    ]
    clover.clock.advance(timedelta(hours=1, seconds=1))
    answers.append(clover.get("/orders"))
    assert [(a.status_code, a.json()) for a in answers] == [
        (401, {"message": "401 Unauthorized"})
    ] * 4


def test_lists_page_with_offset_and_limit_and_link_each_element(clover: Clover) -> None:
    """Pages follow offset and limit (100 by default, never above 1000), each with href."""
    everything = clover.get("/orders", limit=1000).json()["elements"]
    assert len(everything) == len(clover.merchant.orders) == 12
    first = clover.get("/orders", limit=5).json()["elements"]
    rest = clover.get("/orders", limit=5, offset=5).json()["elements"]
    assert [o["id"] for o in first + rest] == [o["id"] for o in everything[:10]]
    assert everything[0]["href"].endswith(
        f"/v3/merchants/{clover.merchant.id}/orders/{everything[0]['id']}"
    )
    # Newest first unless asked otherwise.
    created = [o["createdTime"] for o in everything]
    assert created == sorted(created, reverse=True)
    assert clover.get("/orders", limit="many").status_code == 400


def test_filters_and_order_by_narrow_and_sort(clover: Clover) -> None:
    """Repeated filters are ANDed; orderBy sorts; an unknown field is a 400 message."""
    times = sorted(o["modifiedTime"] for o in clover.merchant.orders.values())
    middle = times[len(times) // 2]
    found = clover.get(
        "/orders",
        filter=[f"modifiedTime>={middle}", f"modifiedTime<{times[-1]}"],
        orderBy="modifiedTime ASC",
    ).json()["elements"]
    assert [o["modifiedTime"] for o in found] == [t for t in times if middle <= t < times[-1]]
    bad = clover.get("/orders", filter="colour=blue")
    assert (bad.status_code, bad.json()) == (
        400,
        {"message": "400 Bad Request: Unknown filter field: colour"},
    )


def test_nested_collections_come_only_when_expanded(clover: Clover) -> None:
    """An order's line items, payments and refunds are left out unless expanded."""
    order_id = next(iter(clover.merchant.orders))
    bare = clover.get(f"/orders/{order_id}").json()
    full = clover.get(f"/orders/{order_id}", expand="lineItems,payments").json()
    assert "lineItems" not in bare
    assert "payments" not in bare
    assert full["lineItems"]["elements"]
    assert full["payments"]["elements"]
    assert "refunds" not in full
    missing = clover.get("/orders/NOPE")
    assert (missing.status_code, missing.json()["message"]) == (404, "404 Not Found: orders NOPE")


def test_orders_add_up_and_refunds_never_exceed_their_payment(clover: Clover) -> None:
    """Each paid order's total is what its payments cover; a refund marks its lines
    refunded and is never more than the payment it goes back to."""
    settled = [o for o in clover.merchant.orders.values() if o["paymentState"] == "PAID"]
    assert settled
    for order in settled:
        paid = order["payments"]["elements"]
        assert sum(p["amount"] for p in paid) == order["total"] == price(order)[0]
    order = settled[0]
    line = order["lineItems"]["elements"][0]["id"]
    refund = refund_lines(clover.platform, clover.merchant, order["id"], [line])
    assert refund is not None
    assert 0 < refund["amount"] <= max(p["amount"] for p in order["payments"]["elements"])
    assert order["paymentState"] in ("REFUNDED", "PARTIALLY_REFUNDED")
    assert refund_lines(clover.platform, clover.merchant, order["id"], [line]) is None


def test_a_refund_moves_its_orders_modified_time_on(clover: Clover) -> None:
    """A refund changes its order, and the order is served with modifiedTime at the
    refund: what tells a connector an edit from a late copy."""
    order = next(o for o in clover.merchant.orders.values() if o["paymentState"] == "PAID")
    before = clover.get(f"/orders/{order['id']}").json()["modifiedTime"]
    clover.clock.advance(timedelta(minutes=5))
    line = order["lineItems"]["elements"][0]["id"]
    refund = refund_lines(clover.platform, clover.merchant, order["id"], [line])
    assert refund is not None
    after = clover.get(f"/orders/{order['id']}").json()["modifiedTime"]
    assert after == refund["createdTime"] == clover.platform.now_ms() > before


def test_the_token_limit_refuses_the_seventeenth_request_in_a_second() -> None:
    """Sixteen requests a second per token; the next is 429 naming tokenLimit with
    Retry-After, and a second later requests pass again."""
    clover = Clover(RateLimits(app_concurrent=100, token_concurrent=100))
    answers = [clover.get("/devices") for _ in range(17)]
    assert [a.status_code for a in answers] == [200] * 16 + [429]
    refused = answers[-1]
    assert refused.json() == {"message": "429 Too Many Requests"}
    assert refused.headers["x-ratelimit-tokenlimit"] == "16"
    assert refused.headers["retry-after"] == "1"
    clover.clock.advance(timedelta(seconds=1))
    assert clover.get("/devices").status_code == 200


def test_the_app_limit_spans_every_token() -> None:
    """Fifty requests a second per app, whatever the token: the next names crossTokenLimit."""
    clover = Clover(RateLimits(app_concurrent=100, token_concurrent=100))
    tokens = [clover.platform.install(clover.merchant.id).access_token for _ in range(4)]
    statuses = [clover.get("/devices", token=tokens[i % 4]).status_code for i in range(50)]
    assert statuses == [200] * 50
    refused = clover.get("/devices", token=tokens[0])
    assert refused.status_code == 429
    assert refused.headers["x-ratelimit-crosstokenlimit"] == "50"


def test_a_sixth_request_in_flight_on_a_token_is_refused_not_queued() -> None:
    """With five slow requests running on a token, more at once are 429 tokenConcurrentLimit."""
    clover = Clover(RateLimits(app_per_second=10**6, token_per_second=10**6))
    clover.platform.faults.arm("devices.list", Fault(FaultKind.SLOW, delay=0.4), times=8)
    statuses: list[tuple[int, str | None]] = []
    with serving(create_app(clover.platform)) as url:

        def call() -> None:
            answer = httpx.get(
                f"{url}/v3/merchants/{clover.merchant.id}/devices",
                headers={"Authorization": f"Bearer {clover.pair.access_token}"},
                timeout=10,
            )
            statuses.append(
                (answer.status_code, answer.headers.get("x-ratelimit-tokenconcurrentlimit"))
            )

        threads = [threading.Thread(target=call) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(statuses) == [(200, None)] * 5 + [(429, "5")] * 3
    assert clover.platform.peak.in_flight[clover.pair.access_token] == 5


def test_oauth_codes_become_expiring_pairs_and_refresh_tokens_are_single_use(
    clover: Clover,
) -> None:
    """The v2 flow: authorize redirects with a code and the merchant id; the code is
    exchanged once for a pair with expirations; a refresh token works exactly once."""
    app = clover.platform.app
    answer = clover.client.get(
        "/oauth/v2/authorize",
        params={"client_id": app.id, "redirect_uri": HOOK_URL, "merchant_id": clover.merchant.id},
        follow_redirects=False,
    )
    query = parse_qs(urlparse(answer.headers["location"]).query)
    assert query["merchant_id"] == [clover.merchant.id]
    body = {
        "client_id": app.id,
        "client_secret": app.secret,
        "code": query["code"][0],
        "redirect_uri": HOOK_URL,
    }
    pair = clover.client.post("/oauth/v2/token", json=body).json()
    now = int(clover.clock().timestamp())
    assert pair["access_token_expiration"] == now + 3600
    assert pair["refresh_token_expiration"] > pair["access_token_expiration"]
    assert clover.client.post("/oauth/v2/token", json=body).status_code == 400
    assert clover.get("/devices", token=pair["access_token"]).status_code == 200
    refresh = {"client_id": app.id, "refresh_token": pair["refresh_token"]}
    renewed = clover.client.post("/oauth/v2/refresh", json=refresh)
    assert renewed.status_code == 200
    assert renewed.json()["refresh_token"] != pair["refresh_token"]
    again = clover.client.post("/oauth/v2/refresh", json=refresh)
    assert again.status_code == 401


def test_webhooks_start_after_verification_and_carry_the_auth_code(clover: Clover) -> None:
    """Setting the URL POSTs a verification code; until it is entered nothing is sent,
    then each message carries X-Clover-Auth and the updates by merchant."""
    clover.platform.notify()
    clover.platform.deliveries.deliver_due()
    assert clover.hooks == []
    set_up = clover.client.post("/_sandbox/webhook", json={"url": HOOK_URL})
    assert set_up.status_code == 200
    (verification,) = clover.hooks
    code = json.loads(verification.content)["verificationCode"]
    assert "x-clover-auth" not in verification.headers
    wrong = clover.client.post("/_sandbox/webhook/verify", json={"code": "guess"})
    assert wrong.status_code == 400
    auth = clover.client.post("/_sandbox/webhook/verify", json={"code": code}).json()["authCode"]
    clover.activity.sale()
    clover.platform.notify()
    sent = clover.client.post("/_sandbox/webhooks/deliver").json()
    assert [a["status"] for a in sent] == [200]
    message = clover.hooks[-1]
    assert message.headers["x-clover-auth"] == auth
    body = json.loads(message.content)
    assert body["appId"] == clover.platform.app.id
    (update,) = body["merchants"][clover.merchant.id]
    assert update["objectId"].startswith("O:")
    assert update["type"] == "CREATE"
    assert update["ts"] == int(clover.clock().timestamp() * 1000)


def test_an_order_nobody_paid_stays_open(clover: Clover) -> None:
    """Rung up without a tender, an order is open and unpaid, with no payments."""
    item = next(iter(clover.merchant.items))
    order = ring_up(
        clover.platform,
        clover.merchant,
        [Sold(item)],
        (),
        device_id=next(iter(clover.merchant.devices)),
    )
    shown = clover.get(f"/orders/{order['id']}", expand="payments").json()
    assert (shown["state"], shown["paymentState"], shown["payments"]["elements"]) == (
        "open",
        "OPEN",
        [],
    )


def test_merchants_are_added_and_install_the_app_through_the_controls(clover: Clover) -> None:
    """``/_sandbox/merchants`` sets a merchant up; installing gives a pair that reads it."""
    made = clover.client.post("/_sandbox/merchants", json={"name": "Harbor Kiosk"}).json()
    pair = clover.client.post(f"/_sandbox/merchants/{made['id']}/install").json()
    items = clover.client.get(
        f"/v3/merchants/{made['id']}/items",
        headers={"Authorization": f"Bearer {pair['access_token']}"},
    )
    assert len(items.json()["elements"]) == 7
    assert clover.client.post("/_sandbox/merchants/NOPE/install").status_code == 404


def test_faults_answer_in_clovers_shapes(clover: Clover) -> None:
    """Armed faults: a 503 message, a 401, a 429 with Retry-After; then normal answers."""
    for kind in (FaultKind.SERVER_ERROR, FaultKind.UNAUTHORIZED):
        clover.client.post("/_sandbox/faults", json={"operation": "items.list", "kind": kind.value})
    clover.client.post(
        "/_sandbox/faults",
        json={"operation": "items.list", "kind": "rate_limited", "retry_after": 7},
    )
    answers = [clover.get("/items") for _ in range(4)]
    assert [a.status_code for a in answers] == [503, 401, 429, 200]
    assert answers[0].json() == {"message": "503 Service Unavailable"}
    assert answers[2].headers["retry-after"] == "7"
    assert len(answers[3].json()["elements"]) == 7


def test_an_expanded_order_holds_its_first_hundred_line_items_only(clover: Clover) -> None:
    """Nested lists stop at 100 elements; the order's own line_items list pages them all."""
    item = next(iter(clover.merchant.items))
    cash = next(iter(clover.merchant.tenders))
    order = ring_up(
        clover.platform,
        clover.merchant,
        [Sold(item, quantity=120)],
        [Tendered(cash, Decimal(1))],
        device_id=next(iter(clover.merchant.devices)),
    )
    expanded = clover.get(f"/orders/{order['id']}", expand="lineItems").json()
    assert len(expanded["lineItems"]["elements"]) == 100
    first = clover.get(f"/orders/{order['id']}/line_items", limit=100).json()["elements"]
    rest = clover.get(f"/orders/{order['id']}/line_items", limit=100, offset=100).json()
    assert len(first) + len(rest["elements"]) == 120
