import base64
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from salesync.clock import ManualClock
from salesync.sandbox.faults import Fault, FaultKind, FaultPlan
from salesync.sandbox.qbo import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, QboCompany, create_app
from salesync.sandbox.qbo.delivery import ConnectionDroppedError
from salesync.sandbox.server import serving

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BASIC = (
    "Basic " + base64.b64encode(f"{DEFAULT_CLIENT_ID}:{DEFAULT_CLIENT_SECRET}".encode()).decode()
)


class Qbo:
    """A sandbox company, its app, an in-process client and a valid access token."""

    def __init__(self) -> None:
        self.clock = ManualClock(START)
        self.faults = FaultPlan()
        self.company = QboCompany(clock=self.clock)
        self.app: FastAPI = create_app(self.company, faults=self.faults)
        self.client = TestClient(self.app)
        self.tokens = self.client.post(
            "/_sandbox/tokens", json={"client_id": DEFAULT_CLIENT_ID}
        ).json()
        self.realm = self.company.realm_id

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.tokens['access_token']}"}

    def url(self, path: str) -> str:
        return f"/v3/company/{self.realm}/{path}"

    def post(self, path: str, body: Any, **params: str) -> httpx.Response:
        return self.client.post(self.url(path), json=body, params=params, headers=self.headers())

    def get(self, path: str, **params: str) -> httpx.Response:
        return self.client.get(self.url(path), params=params, headers=self.headers())

    def query(self, statement: str) -> dict[str, Any]:
        response = self.get("query", query=statement)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()["QueryResponse"]
        return result


@pytest.fixture
def qbo() -> Qbo:
    return Qbo()


def receipt(doc_number: str = "S-1001", amount: float = 20.0, **extra: Any) -> dict[str, Any]:
    line = {
        "Amount": amount,
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 2, "UnitPrice": amount / 2},
    }
    return {"DocNumber": doc_number, "Line": [line], **extra}


def fault_of(response: httpx.Response) -> dict[str, Any]:
    fault: dict[str, Any] = response.json()["Fault"]
    return fault


def error_code(response: httpx.Response) -> str:
    return str(fault_of(response)["Error"][0]["code"])


def token_request(client: TestClient, **form: str) -> httpx.Response:
    return client.post(
        "/oauth2/v1/tokens/bearer",
        data=form,
        headers={"Authorization": BASIC, "Accept": "application/json"},
    )


# --- OAuth ---------------------------------------------------------------------------


def test_authorization_code_flow_redirects_with_realm_and_code_works_once(qbo: Qbo) -> None:
    """Consent redirects with code and realmId; the code buys one token pair, then invalid_grant."""
    redirect = "https://app.example/callback"
    consent = qbo.client.get(
        "/connect/oauth2",
        params={"client_id": DEFAULT_CLIENT_ID, "redirect_uri": redirect, "state": "s1"},
        follow_redirects=False,
    )
    assert consent.status_code == 302
    query = parse_qs(urlparse(consent.headers["location"]).query)
    assert query["realmId"] == [qbo.realm]
    assert query["state"] == ["s1"]
    form = {"grant_type": "authorization_code", "code": query["code"][0], "redirect_uri": redirect}
    first = token_request(qbo.client, **form)
    assert first.status_code == 200
    assert first.json()["expires_in"] == 3600
    assert first.json()["token_type"] == "bearer"  # noqa: S105 - the OAuth token type
    again = token_request(qbo.client, **form)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_token_endpoint_refuses_missing_or_wrong_client_credentials(qbo: Qbo) -> None:
    """The token endpoint needs HTTP Basic client auth; without it the answer is invalid_client."""
    form = {"grant_type": "refresh_token", "refresh_token": qbo.tokens["refresh_token"]}
    missing = qbo.client.post("/oauth2/v1/tokens/bearer", data=form)
    wrong = qbo.client.post(
        "/oauth2/v1/tokens/bearer",
        data=form,
        headers={"Authorization": "Basic " + base64.b64encode(b"x:y").decode()},
    )
    assert (missing.status_code, missing.json()["error"]) == (401, "invalid_client")
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")


def test_access_token_expires_after_an_hour_with_an_authentication_fault(qbo: Qbo) -> None:
    """An access token works for 3600 s; after that the API answers 401 AuthenticationFault."""
    qbo.clock.advance(timedelta(minutes=59))
    assert qbo.get("account/4").status_code == 200
    qbo.clock.advance(timedelta(minutes=1))
    expired = qbo.get("account/4")
    assert expired.status_code == 401
    assert fault_of(expired)["type"] == "AuthenticationFault"
    assert error_code(expired) == "3200"
    assert "time" in expired.json()


def test_refresh_token_keeps_its_value_for_a_day_then_rotates_and_the_old_one_dies(
    qbo: Qbo,
) -> None:
    """A refresh keeps the refresh token for 24 h, then rotates it; the old one is invalid_grant."""
    original = qbo.tokens["refresh_token"]
    qbo.clock.advance(timedelta(hours=2))
    same = token_request(qbo.client, grant_type="refresh_token", refresh_token=original).json()
    assert same["refresh_token"] == original
    fresh_access = qbo.client.get(qbo.url("account/4"), headers=qbo.headers(same["access_token"]))
    assert fresh_access.status_code == 200
    qbo.clock.advance(timedelta(hours=23))
    rotated = token_request(qbo.client, grant_type="refresh_token", refresh_token=original).json()
    assert rotated["refresh_token"] != original
    reused = token_request(qbo.client, grant_type="refresh_token", refresh_token=original)
    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")
    fresh = token_request(
        qbo.client, grant_type="refresh_token", refresh_token=rotated["refresh_token"]
    )
    assert fresh.status_code == 200


def test_refresh_token_unused_for_100_days_is_invalid_grant(qbo: Qbo) -> None:
    """The rolling refresh-token life is 100 days from last use."""
    qbo.clock.advance(timedelta(days=100))
    refused = token_request(
        qbo.client, grant_type="refresh_token", refresh_token=qbo.tokens["refresh_token"]
    )
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")


def test_revoking_a_token_ends_the_connection(qbo: Qbo) -> None:
    """After revoke, the refresh token is invalid_grant and the access token gets 401."""
    revoked = qbo.client.post(
        "/oauth2/v1/tokens/revoke",
        json={"token": qbo.tokens["refresh_token"]},
        headers={"Authorization": BASIC},
    )
    assert revoked.status_code == 200
    refused = token_request(
        qbo.client, grant_type="refresh_token", refresh_token=qbo.tokens["refresh_token"]
    )
    assert refused.json()["error"] == "invalid_grant"
    assert qbo.get("account/4").status_code == 401


# --- writes, validation, concurrency control ------------------------------------------


def test_server_computes_totals_and_checks_quantity_times_price(qbo: Qbo) -> None:
    """The server sums lines and tax into TotalAmt; Amount must equal Qty x UnitPrice (6070)."""
    created = qbo.post("salesreceipt", receipt(TxnTaxDetail={"TotalTax": 1.65}, TotalAmt=999))
    assert created.status_code == 200
    saved = created.json()["SalesReceipt"]
    assert saved["TotalAmt"] == 21.65
    assert saved["Line"][-1]["DetailType"] == "SubTotalLineDetail"
    assert saved["DepositToAccountRef"] == {"value": "4", "name": "Undeposited Funds"}
    wrong = receipt("S-1002")
    wrong["Line"][0]["Amount"] = 25
    refused = qbo.post("salesreceipt", wrong)
    assert (refused.status_code, error_code(refused)) == (400, "6070")


def test_doc_number_longer_than_21_characters_is_refused(qbo: Qbo) -> None:
    """DocNumber allows 21 characters; 22 gives 2050 naming the element."""
    assert qbo.post("salesreceipt", receipt("X" * 21)).status_code == 200
    refused = qbo.post("salesreceipt", receipt("X" * 22))
    assert refused.status_code == 400
    assert error_code(refused) == "2050"
    assert fault_of(refused)["Error"][0]["element"] == "DocNumber"
    assert fault_of(refused)["type"] == "ValidationFault"


def test_duplicate_doc_number_follows_the_company_setting(qbo: Qbo) -> None:
    """A reused DocNumber is 6140 while the company checks duplicates, allowed otherwise."""
    assert qbo.post("salesreceipt", receipt("S-7")).status_code == 200
    duplicate = qbo.post("invoice", {**receipt("S-7"), "CustomerRef": {"value": "1"}})
    assert error_code(duplicate) == "6140"
    assert "TxnType=Sales Receipt" in fault_of(duplicate)["Error"][0]["Detail"]
    allowed = qbo.post("salesreceipt", receipt("S-7"), include="allowduplicatedocnum")
    assert allowed.status_code == 200
    qbo.client.patch("/_sandbox/settings", json={"duplicate_doc_number_check": False})
    assert qbo.post("salesreceipt", receipt("S-7")).status_code == 200


def test_references_must_exist_and_be_active(qbo: Qbo) -> None:
    """A missing ItemRef is 2500 Invalid Reference Id; an inactive one is 610 Object Not Found."""
    missing = receipt()
    missing["Line"][0]["SalesItemLineDetail"]["ItemRef"] = {"value": "999"}
    assert error_code(qbo.post("salesreceipt", missing)) == "2500"
    item = qbo.get("item/2").json()["Item"]
    deactivated = qbo.post(
        "item", {"Id": "2", "SyncToken": item["SyncToken"], "sparse": True, "Active": False}
    )
    assert deactivated.json()["Item"]["Active"] is False
    inactive = receipt()
    inactive["Line"][0]["SalesItemLineDetail"]["ItemRef"] = {"value": "2"}
    refused = qbo.post("salesreceipt", inactive)
    assert (refused.status_code, error_code(refused)) == (400, "610")
    bad_account = qbo.post("salesreceipt", receipt(DepositToAccountRef={"value": "12345"}))
    assert error_code(bad_account) == "2500"


def test_duplicate_customer_display_name_is_6240(qbo: Qbo) -> None:
    """Customer display names are unique regardless of case; a repeat gets 6240."""
    assert qbo.post("customer", {"DisplayName": "Ada Lovelace"}).status_code == 200
    refused = qbo.post("customer", {"DisplayName": "ada lovelace"})
    assert (refused.status_code, error_code(refused)) == (400, "6240")
    nameless = qbo.post("customer", {"PrimaryEmailAddr": {"Address": "a@b.c"}})
    assert error_code(nameless) == "6080"


def test_stale_sync_token_is_refused_and_sparse_update_keeps_other_fields(qbo: Qbo) -> None:
    """An old SyncToken is 5010; a sparse update changes only what is sent and bumps the token."""
    created = qbo.post("salesreceipt", receipt(PrivateNote="salesync:k1")).json()["SalesReceipt"]
    update = {
        "Id": created["Id"],
        "SyncToken": "0",
        "sparse": True,
        "CustomerMemo": {"value": "thanks"},
    }
    first = qbo.post("salesreceipt", update)
    assert first.json()["SalesReceipt"]["SyncToken"] == "1"
    assert first.json()["SalesReceipt"]["PrivateNote"] == "salesync:k1"
    stale = qbo.post("salesreceipt", update)
    assert (stale.status_code, error_code(stale)) == (400, "5010")
    full = {**receipt("S-1001"), "Id": created["Id"], "SyncToken": "1"}
    replaced = qbo.post("salesreceipt", full).json()["SalesReceipt"]
    assert "PrivateNote" not in replaced
    assert replaced["SyncToken"] == "2"


def test_journal_entry_must_balance(qbo: Qbo) -> None:
    """Debits must equal credits; an Accounts Receivable line needs a customer."""

    def line(posting: str, amount: float, account: str, **detail: Any) -> dict[str, Any]:
        return {
            "Amount": amount,
            "DetailType": "JournalEntryLineDetail",
            "JournalEntryLineDetail": {
                "PostingType": posting,
                "AccountRef": {"value": account},
                **detail,
            },
        }

    unbalanced = {"Line": [line("Debit", 100, "4"), line("Credit", 99.99, "79")]}
    refused = qbo.post("journalentry", unbalanced)
    assert (refused.status_code, error_code(refused)) == (400, "6000")
    ar_without_name = {"Line": [line("Debit", 10, "84"), line("Credit", 10, "79")]}
    assert error_code(qbo.post("journalentry", ar_without_name)) == "6000"
    balanced = {
        "DocNumber": "JE-1",
        "Line": [line("Debit", 100, "4"), line("Credit", 92, "79"), line("Credit", 8, "89")],
    }
    saved = qbo.post("journalentry", balanced)
    assert saved.status_code == 200
    assert saved.json()["JournalEntry"]["TotalAmt"] == 100


def test_payment_reduces_invoice_balance_and_deposit_takes_it_once(qbo: Qbo) -> None:
    """A payment lowers the invoice Balance; a deposit takes it from Undeposited Funds only once."""
    invoice = qbo.post("invoice", {**receipt("INV-1", 50.0), "CustomerRef": {"value": "1"}}).json()[
        "Invoice"
    ]
    assert invoice["Balance"] == 50
    payment_body = {
        "CustomerRef": {"value": "1"},
        "TotalAmt": 30,
        "Line": [{"Amount": 30, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}],
    }
    payment = qbo.post("payment", payment_body).json()["Payment"]
    assert qbo.get(f"invoice/{invoice['Id']}").json()["Invoice"]["Balance"] == 20
    too_much = {**payment_body, "TotalAmt": 25, "Line": [{**payment_body["Line"][0], "Amount": 25}]}
    assert error_code(qbo.post("payment", too_much)) == "6000"
    deposit = {
        "DepositToAccountRef": {"value": "35"},
        "Line": [
            {
                "Amount": 30,
                "LinkedTxn": [{"TxnId": payment["Id"], "TxnType": "Payment", "TxnLineId": "0"}],
            }
        ],
    }
    assert qbo.post("deposit", deposit).json()["Deposit"]["TotalAmt"] == 30
    assert error_code(qbo.post("deposit", deposit)) == "6000"
    assert error_code(qbo.post("deposit", {"Line": deposit["Line"]})) == "2020"


# --- idempotency ----------------------------------------------------------------------


def test_same_requestid_replays_the_original_response_and_creates_once(qbo: Qbo) -> None:
    """A retry with the same requestid gets the first answer byte for byte; one receipt exists."""
    first = qbo.post("salesreceipt", receipt(), requestid="order-1001")
    qbo.clock.advance(timedelta(seconds=5))
    second = qbo.post("salesreceipt", receipt(amount=999.0), requestid="order-1001")
    assert second.json() == first.json()
    assert qbo.query("select count(*) from SalesReceipt") == {"totalCount": 1}
    failed = qbo.post("salesreceipt", receipt("Y" * 30), requestid="order-1002")
    assert qbo.post("salesreceipt", receipt("S-9"), requestid="order-1002").json() == failed.json()
    too_long = qbo.post("salesreceipt", receipt("S-10"), requestid="r" * 51)
    assert error_code(too_long) == "2050"


def test_requestid_replays_can_be_aged_out_by_setting(qbo: Qbo) -> None:
    """With a retention set on the company, a requestid older than it runs again."""
    qbo.client.patch("/_sandbox/settings", json={"requestid_ttl_seconds": 60})
    qbo.post("salesreceipt", receipt("A-1"), requestid="k")
    qbo.clock.advance(timedelta(seconds=61))
    again = qbo.post("salesreceipt", receipt("A-2"), requestid="k")
    assert again.json()["SalesReceipt"]["DocNumber"] == "A-2"


# --- query and batch ------------------------------------------------------------------


def test_query_finds_by_doc_number_and_private_note_and_pages(qbo: Qbo) -> None:
    """WHERE on DocNumber/PrivateNote, IN, LIKE, ORDERBY, STARTPOSITION and MAXRESULTS work."""
    for n in range(1, 6):
        qbo.post("salesreceipt", receipt(f"S-{n}", PrivateNote=f"salesync:key-{n}"))
    found = qbo.query("select * from SalesReceipt where PrivateNote = 'salesync:key-3'")
    assert [r["DocNumber"] for r in found["SalesReceipt"]] == ["S-3"]
    several = qbo.query(
        "SELECT * FROM salesreceipt WHERE DocNumber IN ('S-1', 'S-4') ORDERBY DocNumber DESC"
    )
    assert [r["DocNumber"] for r in several["SalesReceipt"]] == ["S-4", "S-1"]
    page = qbo.query(
        "select * from SalesReceipt where DocNumber like 'S-%' startposition 2 maxresults 2"
    )
    assert [r["DocNumber"] for r in page["SalesReceipt"]] == ["S-2", "S-3"]
    assert (page["startPosition"], page["maxResults"]) == (2, 2)
    assert qbo.query("select * from SalesReceipt where DocNumber = 'nope'") == {}
    broken = qbo.get("query", query="select * from SalesReceipt wher DocNumber = 'x'")
    assert (broken.status_code, error_code(broken)) == (400, "4000")
    unknown = qbo.get("query", query="select * from SalesReceipt where Colour = 'red'")
    assert error_code(unknown) == "4001"


def test_batch_answers_200_with_a_fault_per_failed_item(qbo: Qbo) -> None:
    """Batch items run in order; a failed item carries its own Fault while the call is HTTP 200."""
    items = [
        {"bId": "b1", "operation": "create", "SalesReceipt": receipt("B-1")},
        {"bId": "b2", "operation": "create", "SalesReceipt": receipt("B-1")},
        {"bId": "b3", "operation": "create", "Customer": {"DisplayName": "Batch Buyer"}},
        {"bId": "b4", "Query": "select * from SalesReceipt where DocNumber = 'B-1'"},
    ]
    response = qbo.post("batch", {"BatchItemRequest": items}, requestid="batch-1")
    assert response.status_code == 200
    by_bid = {item["bId"]: item for item in response.json()["BatchItemResponse"]}
    assert by_bid["b1"]["SalesReceipt"]["DocNumber"] == "B-1"
    assert by_bid["b2"]["Fault"]["Error"][0]["code"] == "6140"
    assert by_bid["b2"]["Fault"]["type"] == "ValidationFault"
    assert by_bid["b3"]["Customer"]["DisplayName"] == "Batch Buyer"
    assert len(by_bid["b4"]["QueryResponse"]["SalesReceipt"]) == 1
    assert (
        qbo.post("batch", {"BatchItemRequest": items}, requestid="batch-1").json()
        == response.json()
    )


def test_batch_of_more_than_30_items_is_refused(qbo: Qbo) -> None:
    """30 items pass, 31 get 400 code 1040; with a requestid a bId may have 10 characters."""
    items = [{"bId": str(n), "Query": "select count(*) from Item"} for n in range(31)]
    assert qbo.post("batch", {"BatchItemRequest": items[:30]}).status_code == 200
    refused = qbo.post("batch", {"BatchItemRequest": items})
    assert (refused.status_code, error_code(refused)) == (400, "1040")
    long_bid = [{"bId": "b" * 11, "Query": "select * from Item"}]
    assert error_code(qbo.post("batch", {"BatchItemRequest": long_bid}, requestid="r1")) == "2050"


def customer_batch(*names: str) -> dict[str, Any]:
    return {
        "BatchItemRequest": [
            {"bId": str(n), "operation": "create", "Customer": {"DisplayName": name}}
            for n, name in enumerate(names)
        ]
    }


def test_a_batch_of_customer_operations_only_takes_faults_armed_as_batch_customer(
    qbo: Qbo,
) -> None:
    """Faults for a batch whose every item is a Customer operation are armed as
    "batch:Customer"; a batch with anything else takes those armed as "batch". The
    request log calls both "batch"."""
    mixed = customer_batch("Mixed Buyer")
    mixed["BatchItemRequest"].append({"bId": "q", "Query": "select * from Customer"})
    qbo.faults.arm("batch", Fault(FaultKind.SERVER_ERROR, status=503))
    qbo.faults.arm("batch:Customer", Fault(FaultKind.SERVER_ERROR, status=502))
    assert qbo.post("batch", customer_batch("Ada", "Grace")).status_code == 502
    assert qbo.post("batch", mixed).status_code == 503
    assert qbo.post("batch", customer_batch("Ada", "Grace")).status_code == 200
    assert qbo.faults.fired == [
        ("batch:Customer", FaultKind.SERVER_ERROR),
        ("batch", FaultKind.SERVER_ERROR),
    ]
    assert [r.operation for r in qbo.company.requests] == ["batch"] * 3


def test_a_lost_answer_to_a_customers_batch_is_replayed_to_its_requestid(qbo: Qbo) -> None:
    """Armed as "batch:Customer", a lost response commits the customers; the same batch
    sent again under its requestid gets the first answer, not 6240s."""
    qbo.faults.arm("batch:Customer", FaultKind.LOST_RESPONSE)
    with pytest.raises(ConnectionDroppedError):
        qbo.post("batch", customer_batch("Ada", "Grace"), requestid="c-1")
    retry = qbo.post("batch", customer_batch("Ada", "Grace"), requestid="c-1")
    assert [sorted(a) for a in retry.json()["BatchItemResponse"]] == [["Customer", "bId"]] * 2
    assert len(qbo.company.all("Customer")) == 3  # the seeded walk-in customer, Ada, Grace


# --- limits ---------------------------------------------------------------------------


def test_batch_requests_are_limited_to_40_a_minute(qbo: Qbo) -> None:
    """The 41st batch call within a minute gets 429, batches of customers counted with
    the others; once the clock moves a minute it passes."""
    body = {"BatchItemRequest": [{"bId": "1", "Query": "select count(*) from Item"}]}
    statuses = [qbo.post("batch", body).status_code for _ in range(20)]
    statuses += [qbo.post("batch", customer_batch(f"Buyer {n}")).status_code for n in range(20)]
    statuses.append(qbo.post("batch", customer_batch("Buyer 41")).status_code)
    assert statuses[:40] == [200] * 40
    assert statuses[40] == 429
    assert qbo.get("account/4").status_code == 200
    qbo.clock.advance(timedelta(seconds=60))
    assert qbo.post("batch", body).status_code == 200


def test_requests_are_limited_to_500_a_minute_per_realm(qbo: Qbo) -> None:
    """The 501st call in a minute gets a 429 fault; the window slides with the clock."""
    for _ in range(500):
        assert qbo.get("account/4").status_code == 200
    throttled = qbo.get("account/4")
    assert throttled.status_code == 429
    assert "ThrottleExceeded" in fault_of(throttled)["Error"][0]["Message"]
    qbo.clock.advance(timedelta(seconds=60))
    assert qbo.get("account/4").status_code == 200


def test_subscription_ended_gives_403_invalid_company_status(qbo: Qbo) -> None:
    """A company whose subscription ended answers every call with 403 code 6190."""
    qbo.client.patch("/_sandbox/settings", json={"subscription_active": False})
    refused = qbo.post("salesreceipt", receipt())
    assert (refused.status_code, error_code(refused)) == (403, "6190")


def test_minor_versions_below_75_are_served_as_75_and_junk_is_refused(qbo: Qbo) -> None:
    """A minorversion under 75 is served as 75 and recorded so; a non-number is refused (2010)."""
    assert qbo.get("account/4", minorversion="40").status_code == 200
    assert qbo.get("account/4", minorversion="75").status_code == 200
    assert error_code(qbo.get("account/4", minorversion="latest")) == "2010"
    log = qbo.client.get("/_sandbox/requests").json()
    assert [entry["minorversion"] for entry in log] == [75, 75, 75]


def test_a_token_for_another_company_is_forbidden(qbo: Qbo) -> None:
    """Calling another realm with this company's token gets 403 AuthorizationFault."""
    other = qbo.client.get("/v3/company/123/account/4", headers=qbo.headers())
    assert other.status_code == 403
    assert fault_of(other)["type"] == "AuthorizationFault"


# --- injected faults ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status"),
    [
        (Fault(FaultKind.SERVER_ERROR, status=503), 503),
        (Fault(FaultKind.RATE_LIMITED, retry_after=7), 429),
        (Fault(FaultKind.UNAUTHORIZED), 401),
    ],
)
def test_before_work_faults_answer_without_creating(qbo: Qbo, fault: Fault, status: int) -> None:
    """5xx, 429 (with Retry-After) and 401 faults answer in QBO's shape and create nothing."""
    qbo.faults.arm("create:SalesReceipt", fault)
    response = qbo.post("salesreceipt", receipt(), requestid="f-1")
    assert response.status_code == status
    assert fault_of(response)["Error"][0]["code"]
    if status == 429:
        assert response.headers["Retry-After"] == "7"
    assert qbo.company.all("SalesReceipt") == []
    assert qbo.post("salesreceipt", receipt(), requestid="f-1").status_code == 200


def test_lost_response_commits_then_drops_and_the_requestid_retry_finds_it(qbo: Qbo) -> None:
    """LOST_RESPONSE saves the receipt, then drops the connection; the retry replays the answer."""
    qbo.faults.arm("create:SalesReceipt", FaultKind.LOST_RESPONSE)
    with pytest.raises(ConnectionDroppedError):
        qbo.post("salesreceipt", receipt(PrivateNote="salesync:lost"), requestid="lost-1")
    assert len(qbo.company.all("SalesReceipt")) == 1
    retry = qbo.post("salesreceipt", receipt(PrivateNote="salesync:lost"), requestid="lost-1")
    assert retry.status_code == 200
    assert qbo.query("select count(*) from SalesReceipt") == {"totalCount": 1}


def test_lost_response_can_come_back_as_a_gateway_timeout(qbo: Qbo) -> None:
    """Armed with status 504, a lost response is an HTML 504 from the gateway after the commit."""
    qbo.faults.arm("create:Customer", Fault(FaultKind.LOST_RESPONSE, status=504))
    response = qbo.post("customer", {"DisplayName": "Grace Hopper"})
    assert response.status_code == 504
    assert "Gateway" in response.text
    assert error_code(qbo.post("customer", {"DisplayName": "Grace Hopper"})) == "6240"


def test_slow_and_malformed_answers_still_commit(qbo: Qbo) -> None:
    """SLOW answers late and MALFORMED answers a broken body; both have done the work."""
    qbo.faults.arm("create:SalesReceipt", Fault(FaultKind.SLOW, delay=0.05))
    qbo.faults.arm("create:SalesReceipt", FaultKind.MALFORMED)
    assert qbo.post("salesreceipt", receipt("M-1")).status_code == 200
    broken = qbo.post("salesreceipt", receipt("M-2"))
    with pytest.raises(ValueError, match=r"."):
        broken.json()
    assert len(qbo.company.all("SalesReceipt")) == 2
    assert [kind for _, kind in qbo.faults.fired] == [FaultKind.SLOW, FaultKind.MALFORMED]


def test_token_endpoint_faults_are_armed_as_token(qbo: Qbo) -> None:
    """A 'token' fault hits the token endpoint: a 503 first, then the refresh succeeds."""
    qbo.faults.arm("token", FaultKind.SERVER_ERROR)
    form = {"grant_type": "refresh_token", "refresh_token": qbo.tokens["refresh_token"]}
    assert token_request(qbo.client, **form).status_code == 503
    assert token_request(qbo.client, **form).status_code == 200


def test_admin_endpoints_arm_faults_move_time_and_list_objects(qbo: Qbo) -> None:
    """Over HTTP the demo can arm faults, advance the clock and read what was created."""
    armed = qbo.client.post(
        "/_sandbox/faults", json={"operation": "query", "kind": "server_error", "status": 502}
    )
    assert armed.json() == {"pending": 1}
    assert qbo.get("query", query="select * from Item").status_code == 502
    assert qbo.client.get("/_sandbox/faults").json()["fired"] == [
        {"operation": "query", "kind": "server_error"}
    ]
    qbo.post("salesreceipt", receipt())
    assert len(qbo.client.get("/_sandbox/entities/SalesReceipt").json()) == 1
    moved = qbo.client.post("/_sandbox/clock/advance", json={"seconds": 3600})
    assert moved.json()["now"].startswith("2026-03-02T10:00")
    assert qbo.get("item/1").status_code == 401
    assert qbo.client.get("/_sandbox/state").json()["counts"]["SalesReceipt"] == 1
    assert qbo.client.post("/_sandbox/disconnect").json() == {"revoked": 1}


# --- real HTTP ------------------------------------------------------------------------


def test_over_real_http_a_lost_response_is_a_broken_connection_and_nothing_duplicates() -> None:
    """Under uvicorn httpx sees the connection drop; a requestid retry returns the one receipt."""
    qbo = Qbo()
    qbo.faults.arm("create:SalesReceipt", FaultKind.LOST_RESPONSE)
    with serving(qbo.app) as base, httpx.Client(base_url=base, headers=qbo.headers()) as client:
        url = qbo.url("salesreceipt")
        with pytest.raises(httpx.RemoteProtocolError):
            client.post(url, params={"requestid": "http-1"}, json=receipt())
        retry = client.post(url, params={"requestid": "http-1"}, json=receipt())
        assert retry.status_code == 200
        assert retry.json()["SalesReceipt"]["Id"] == qbo.company.all("SalesReceipt")[0]["Id"]
    assert len(qbo.company.all("SalesReceipt")) == 1


def test_over_real_http_an_eleventh_concurrent_request_gets_429() -> None:
    """Ten requests in flight fill the realm's slots; one more at the same time is throttled."""
    qbo = Qbo()
    qbo.faults.arm("read:Account", Fault(FaultKind.SLOW, delay=1.0), times=11)
    statuses: list[int] = []
    barrier = threading.Barrier(11)
    with serving(qbo.app) as base:

        def call() -> None:
            with httpx.Client(base_url=base, headers=qbo.headers(), timeout=10) as client:
                barrier.wait()
                statuses.append(client.get(qbo.url("account/4")).status_code)

        threads = [threading.Thread(target=call) for _ in range(11)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(statuses) == [200] * 10 + [429]
