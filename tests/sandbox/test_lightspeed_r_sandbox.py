"""The simulated Lightspeed R-Series account speaks R-Series' protocol: OAuth with hour-long
access tokens, API V3 listings with load_relations, query operators and next-link pages,
the per-app leaky bucket with its headers and 429s, its error bodies, and faults."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from fastapi.testclient import TestClient

from salesync.clock import ManualClock
from salesync.sandbox.faults import Fault, FaultKind
from salesync.sandbox.lightspeed_r import Bucket, LightspeedAccount, LightspeedActivity, create_app

START = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)
ROOMY = Bucket(1e9, 1e6)


class Retailer:
    """An account on a manual clock with a week of trading, an app, and a client."""

    def __init__(self, *, bucket: Bucket = ROOMY, days: float = 2) -> None:
        self.clock = ManualClock(START)
        self.account = LightspeedAccount(clock=self.clock, bucket=bucket)
        LightspeedActivity(self.account, seed=5).run_until(START + timedelta(days=days), self.clock)
        self.client = TestClient(create_app(self.account), base_url="https://api.lightspeedapp.com")
        self.app = self.client.post("/_sandbox/apps").json()
        self.grant = self.client.post("/_sandbox/tokens", json=self.app).json()

    @property
    def base(self) -> str:
        return f"/API/V3/Account/{self.account.account_id}"

    def get(self, path: str, token: str | None = None, **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.grant['access_token']}"}
        # A next link carries its own query: passing none keeps it.
        return self.client.get(path, params=params or None, headers=headers)

    def token(self, **fields: str) -> httpx.Response:
        return self.client.post("/auth/oauth/token", data={**self.app, **fields})


@pytest.fixture
def retailer() -> Iterator[Retailer]:
    found = Retailer()
    with found.client:
        yield found


def listed(body: dict[str, Any], resource: str) -> list[dict[str, Any]]:
    found = body.get(resource)
    return [found] if isinstance(found, dict) else list(found or [])


# -- auth ----------------------------------------------------------------------------------


def test_calls_without_a_good_token_are_refused_in_r_series_error_shape(retailer: Retailer) -> None:
    """No token, a made-up token and an expired one are 401s with httpCode, message and
    errorClass, all strings."""
    bare = retailer.client.get(f"{retailer.base}/Sale.json")
    made_up = retailer.get(f"{retailer.base}/Sale.json", token="nope")  # noqa: S106  a made-up token
    for answer in (bare, made_up):
        assert answer.status_code == 401
        assert answer.json() == {
            "httpCode": "401",
            "httpMessage": "Unauthorized",
            "message": "Invalid access token.",
            "errorClass": "Exception",
        }
    retailer.clock.advance(timedelta(hours=1))
    expired = retailer.get(f"{retailer.base}/Sale.json")
    assert expired.status_code == 401
    assert expired.json()["message"] == "Expired access token."


def test_a_refresh_gives_an_hour_long_token_and_keeps_the_refresh_token(
    retailer: Retailer,
) -> None:
    """The refresh_token grant (client id and secret in the form) answers a new access token
    for 3600 seconds and the same refresh token; the old access token still works until it
    expires."""
    answer = retailer.token(
        grant_type="refresh_token", refresh_token=retailer.grant["refresh_token"]
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["expires_in"] == 3600
    assert body["token_type"] == "bearer"  # noqa: S105  a token type, not a secret
    assert body["refresh_token"] == retailer.grant["refresh_token"]
    assert body["access_token"] != retailer.grant["access_token"]
    assert retailer.get(f"{retailer.base}/Shop.json", token=body["access_token"]).status_code == 200


def test_the_token_endpoint_refuses_in_oauth_shape(retailer: Retailer) -> None:
    """A wrong secret is invalid_client; an unknown refresh token is invalid_grant; an
    unknown grant type says so."""
    wrong = retailer.client.post(
        "/auth/oauth/token",
        data={"client_id": retailer.app["client_id"], "client_secret": "x",
              "grant_type": "refresh_token", "refresh_token": retailer.grant["refresh_token"]},
    )  # fmt: skip
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    unknown = retailer.token(grant_type="refresh_token", refresh_token="never-issued")  # noqa: S106
    assert (unknown.status_code, unknown.json()["error"]) == (400, "invalid_grant")
    odd = retailer.token(grant_type="password")
    assert odd.json()["error"] == "unsupported_grant_type"


def test_the_authorization_code_flow_redirects_with_a_code_that_works_once(
    retailer: Retailer,
) -> None:
    """Consent redirects back with a code and the state; the code buys one grant."""
    redirect = "https://salesync.example/oauth/lightspeed"
    answer = retailer.client.get(
        "/auth/oauth/authorize",
        params={"client_id": retailer.app["client_id"], "redirect_uri": redirect,
                "response_type": "code", "scope": "employee:all", "state": "s1"},
        follow_redirects=False,
    )  # fmt: skip
    assert answer.status_code == 302
    query = parse_qs(urlparse(answer.headers["location"]).query)
    assert query["state"] == ["s1"]
    fields = {
        "grant_type": "authorization_code",
        "code": query["code"][0],
        "redirect_uri": redirect,
    }
    assert retailer.token(**fields).status_code == 200
    assert retailer.token(**fields).json()["error"] == "invalid_grant"


def test_another_accounts_data_is_forbidden(retailer: Retailer) -> None:
    """A token reads only the account it was granted for."""
    answer = retailer.get("/API/V3/Account/1/Sale.json")
    assert answer.status_code == 403
    assert answer.json()["httpCode"] == "403"
    accounts = retailer.get("/API/V3/Account.json").json()
    assert accounts["Account"]["accountID"] == retailer.account.account_id


# -- listings ------------------------------------------------------------------------------


def test_pages_link_to_the_next_and_previous_and_cover_everything_once(
    retailer: Retailer,
) -> None:
    """Following @attributes.next reads every sale once, in order; previous goes back."""
    first = retailer.get(f"{retailer.base}/Sale.json", limit="25", sort="timeStamp").json()
    seen = [s["saleID"] for s in listed(first, "Sale")]
    answer = first
    while answer["@attributes"]["next"]:
        answer = retailer.get(answer["@attributes"]["next"]).json()
        seen += [s["saleID"] for s in listed(answer, "Sale")]
    assert sorted(seen, key=int) == sorted((str(i) for i in retailer.account.data.sales), key=int)
    assert len(seen) == len(set(seen))
    second = retailer.get(first["@attributes"]["next"]).json()
    back = retailer.get(second["@attributes"]["previous"]).json()
    assert [s["saleID"] for s in listed(back, "Sale")] == [
        s["saleID"] for s in listed(first, "Sale")
    ]
    assert first["@attributes"]["previous"] == ""


def test_the_older_offset_pages_still_answer_with_count(retailer: Retailer) -> None:
    """``offset`` pages answer count, offset and limit instead of links."""
    body = retailer.get(f"{retailer.base}/Customer.json", offset="2", limit="3").json()
    total = len(retailer.account.data.customers)
    assert body["@attributes"] == {"count": str(total), "offset": "2", "limit": "3"}
    assert len(listed(body, "Customer")) == 3


def test_query_operators_filter_on_timestamps_and_ids(retailer: Retailer) -> None:
    """``>,iso`` and ``><,a,b`` compare instants; ``IN,[...]`` picks ids."""
    cut = START + timedelta(days=1)
    later = retailer.get(f"{retailer.base}/Sale.json", timeStamp=f">,{cut.isoformat()}").json()
    wanted = {str(s.id) for s in retailer.account.data.sales.values() if s.time_stamp > cut}
    assert {s["saleID"] for s in listed(later, "Sale")} == wanted
    window = f"><,{START.isoformat()},{(START + timedelta(hours=6)).isoformat()}"
    inside = listed(retailer.get(f"{retailer.base}/Sale.json", completeTime=window).json(), "Sale")
    assert inside
    assert all(
        START <= datetime.fromisoformat(s["completeTime"]) <= START + timedelta(hours=6)
        for s in inside
    )
    ids = sorted(retailer.account.data.items)[:2]
    picked = retailer.get(f"{retailer.base}/Item.json", itemID=f"IN,[{ids[0]},{ids[1]}]").json()
    assert {i["itemID"] for i in listed(picked, "Item")} == {str(i) for i in ids}


def test_a_change_to_a_finished_sale_moves_its_timestamp(retailer: Retailer) -> None:
    """A completed sale put on another customer's account is served with the change and a
    later ``timeStamp``, so a sweep from its old one finds it again."""
    sale = next(s for s in retailer.account.data.sales.values() if s.completed)
    before = retailer.get(f"{retailer.base}/Sale/{sale.id}.json").json()["Sale"]
    other = next(c for c in retailer.account.data.customers if c != sale.customer_id)
    retailer.clock.advance(timedelta(minutes=5))
    LightspeedActivity(retailer.account).change_customer_of(sale, other)
    after = retailer.get(f"{retailer.base}/Sale/{sale.id}.json").json()["Sale"]
    assert after["customerID"] == str(other) != before["customerID"]
    assert datetime.fromisoformat(after["timeStamp"]) == retailer.clock()
    assert datetime.fromisoformat(after["timeStamp"]) > datetime.fromisoformat(before["timeStamp"])
    since = retailer.get(f"{retailer.base}/Sale.json", timeStamp=f">,{before['timeStamp']}")
    assert str(sale.id) in {s["saleID"] for s in listed(since.json(), "Sale")}


def test_relations_come_only_when_asked_and_one_object_is_not_a_list(retailer: Retailer) -> None:
    """Without load_relations a sale holds ids only; with them its lines, payments and tax
    category, a relation of one being that object, and values are strings."""
    sale = next(s for s in retailer.account.data.sales.values() if len(s.lines) == 1)
    path = f"{retailer.base}/Sale/{sale.id}.json"
    bare = retailer.get(path).json()["Sale"]
    assert "SaleLines" not in bare
    assert bare["completed"] in ("true", "false")
    full = retailer.get(
        path, load_relations=json.dumps(["SaleLines", "SalePayments", "TaxCategory"])
    ).json()["Sale"]
    assert isinstance(full["SaleLines"]["SaleLine"], dict)
    assert full["TaxCategory"]["tax1Name"]
    assert isinstance(full["calcTotal"], str)


def test_empty_pages_leave_the_resource_out_and_bad_queries_are_400s(retailer: Retailer) -> None:
    """Nothing found is just @attributes; a bad limit, field or load_relations is refused."""
    future = (START + timedelta(days=30)).isoformat()
    empty = retailer.get(f"{retailer.base}/Sale.json", timeStamp=f">,{future}").json()
    assert empty == {"@attributes": {"next": "", "previous": ""}}
    for params in ({"limit": "101"}, {"noSuchField": "1"}, {"load_relations": "SaleLines"}):
        answer = retailer.get(f"{retailer.base}/Sale.json", **params)
        assert answer.status_code == 400, params
        assert answer.json()["httpCode"] == "400"
    assert retailer.get(f"{retailer.base}/Payout.json").status_code == 404


# -- the leaky bucket ----------------------------------------------------------------------


def test_the_bucket_reports_its_level_and_overflows_into_a_429_with_retry_after() -> None:
    """Reads pour 1, a write 10, into a 60 bucket dripping 1 a second; the overflowing call
    is a 429 with Retry-After and the bucket's headers; time drains it."""
    retailer = Retailer(bucket=Bucket(), days=0.1)
    with retailer.client:
        first = retailer.get(f"{retailer.base}/Shop.json")
        assert first.headers["X-LS-API-Bucket-Level"] == "1/60"
        assert first.headers["X-LS-API-Drip-Rate"] == "1"
        write = retailer.client.post(
            f"{retailer.base}/Customer.json",
            json={"firstName": "Ines"},
            headers={"Authorization": f"Bearer {retailer.grant['access_token']}"},
        )
        assert write.headers["X-LS-API-Bucket-Level"] == "11/60"
        for _ in range(49):
            assert retailer.get(f"{retailer.base}/Shop.json").status_code == 200
        refused = retailer.get(f"{retailer.base}/Shop.json")
        assert refused.status_code == 429
        assert refused.json()["errorClass"] == "RateLimitException"
        assert refused.headers["X-LS-API-Bucket-Level"] == "60/60"
        assert float(refused.headers["Retry-After"]) >= 1
        retailer.clock.advance(timedelta(seconds=5))
        assert (
            retailer.get(f"{retailer.base}/Shop.json").headers["X-LS-API-Bucket-Level"] == "56/60"
        )


def test_the_bucket_can_be_resized_for_more_registers(retailer: Retailer) -> None:
    """A bigger account's bucket holds more and drips faster, as its headers say."""
    retailer.client.put("/_sandbox/bucket", json={"size": 180, "drip_rate": 3})
    answer = retailer.get(f"{retailer.base}/Shop.json")
    assert answer.headers["X-LS-API-Bucket-Level"] == "1/180"
    assert answer.headers["X-LS-API-Drip-Rate"] == "3"


# -- faults --------------------------------------------------------------------------------


def test_armed_faults_answer_as_r_series_would(retailer: Retailer) -> None:
    """A 5xx, a forced 429 with its Retry-After and an expired token, in R-Series' shape."""
    for kind, status in ((FaultKind.SERVER_ERROR, 503), (FaultKind.UNAUTHORIZED, 401)):
        retailer.account.faults.arm("sale.list", kind)
        answer = retailer.get(f"{retailer.base}/Sale.json")
        assert answer.status_code == status
        assert answer.json()["httpCode"] == str(status)
    retailer.client.post(
        "/_sandbox/faults",
        json={"operation": "sale.list", "kind": "rate_limited", "retry_after": 9},
    )
    limited = retailer.get(f"{retailer.base}/Sale.json")
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "9")
    assert retailer.get(f"{retailer.base}/Sale.json").status_code == 200


def test_a_cut_short_answer_is_not_json(retailer: Retailer) -> None:
    """A malformed answer arrives half sent, after the work was done."""
    retailer.account.faults.arm("shop.list", Fault(FaultKind.MALFORMED))
    answer = retailer.get(f"{retailer.base}/Shop.json")
    with pytest.raises(json.JSONDecodeError):
        answer.json()


# -- trading -------------------------------------------------------------------------------


def test_trading_gives_sales_returns_exchanges_parked_and_voided_sales_at_both_shops() -> None:
    """A week holds completed sales at both shops, returns linked to earlier lines,
    exchanges, sales left open and voided ones, tips, and totals that add up."""
    retailer = Retailer(days=7)
    sales = list(retailer.account.data.sales.values())
    assert {s.shop_id for s in sales} == set(retailer.account.data.shops)
    returns = [s for s in sales if s.lines and all(li.quantity < 0 for li in s.lines)]
    assert returns
    lines = {li.id: li for s in sales for li in s.lines}
    assert all(lines[li.parent_line_id].quantity > 0 for r in returns for li in r.lines)
    exchanges = [s for s in sales if {li.quantity > 0 for li in s.lines} == {True, False}]
    assert exchanges
    assert any(not s.completed and not s.voided for s in sales)
    assert any(s.voided for s in sales)
    assert any(s.tips for s in sales)
    for sale in sales:
        if sale.completed:
            paid = sum((p.amount for p in sale.payments), start=sale.total - sale.total)
            assert paid == sale.total + sale.tips, sale.id
