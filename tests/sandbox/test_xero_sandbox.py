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
from salesync.sandbox.delivery import ConnectionDroppedError
from salesync.sandbox.faults import Fault, FaultKind, FaultPlan
from salesync.sandbox.server import serving
from salesync.sandbox.xero import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    XeroOrganisation,
    create_app,
)
from salesync.sandbox.xero.seed import stable_id

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BASIC = (
    "Basic " + base64.b64encode(f"{DEFAULT_CLIENT_ID}:{DEFAULT_CLIENT_SECRET}".encode()).decode()
)
WALK_IN = stable_id("contact", "WALKIN")
API = "/api.xro/2.0"


class Xero:
    """A sandbox organisation, its app, an in-process client and a valid token set."""

    def __init__(self) -> None:
        self.clock = ManualClock(START)
        self.faults = FaultPlan()
        self.org = XeroOrganisation(clock=self.clock)
        self.app: FastAPI = create_app(self.org, faults=self.faults)
        self.client = TestClient(self.app)
        self.tokens = self.client.post(
            "/_sandbox/tokens", json={"client_id": DEFAULT_CLIENT_ID}
        ).json()
        self.tenant = self.org.tenant_id

    def headers(
        self, token: str | None = None, tenant: str | None = "", key: str | None = None
    ) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {token or self.tokens['access_token']}"}
        if tenant is not None:
            headers["xero-tenant-id"] = tenant or self.tenant
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers

    def put(self, path: str, body: Any, key: str | None = None, **params: str) -> httpx.Response:
        return self.client.put(
            f"{API}/{path}", json=body, params=params, headers=self.headers(key=key)
        )

    def post(self, path: str, body: Any, key: str | None = None, **params: str) -> httpx.Response:
        return self.client.post(
            f"{API}/{path}", json=body, params=params, headers=self.headers(key=key)
        )

    def get(self, path: str, **params: str) -> httpx.Response:
        return self.client.get(f"{API}/{path}", params=params, headers=self.headers())

    def found(self, path: str, collection: str, **params: str) -> list[dict[str, Any]]:
        response = self.get(path, **params)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()[collection]
        return items


@pytest.fixture
def xero() -> Xero:
    return Xero()


def invoice(number: str | None = "POS-1001", amount: float = 20.0, **extra: Any) -> dict[str, Any]:
    line = {
        "Description": "Daily sales",
        "Quantity": 2,
        "UnitAmount": amount / 2,
        "AccountCode": "200",
        "TaxType": "OUTPUT",
        "Tracking": [{"Name": "Store", "Option": "Downtown"}],
    }
    body: dict[str, Any] = {
        "Type": "ACCREC",
        "Contact": {"ContactID": WALK_IN},
        "Status": "AUTHORISED",
        "Reference": "salesync:day-1",
        "LineItems": [line],
        **extra,
    }
    if number is not None:
        body["InvoiceNumber"] = number
    return body


def messages(element: dict[str, Any]) -> list[str]:
    return [e["Message"] for e in element["ValidationErrors"]]


def failed_messages(response: httpx.Response) -> list[str]:
    assert response.status_code == 400, response.text
    body = response.json()
    assert (body["ErrorNumber"], body["Type"]) == (10, "ValidationException")
    return [m for element in body["Elements"] for m in messages(element)]


def token_request(client: TestClient, **form: str) -> httpx.Response:
    return client.post("/connect/token", data=form, headers={"Authorization": BASIC})


# --- OAuth and connections -----------------------------------------------------------


def test_consent_redirects_with_a_code_that_buys_one_30_minute_token_set(xero: Xero) -> None:
    """Consent redirects with code and state; the code buys one 1800 s token set, once."""
    redirect = "https://app.example/xero/callback"
    consent = xero.client.get(
        "/identity/connect/authorize",
        params={
            "response_type": "code",
            "client_id": DEFAULT_CLIENT_ID,
            "redirect_uri": redirect,
            "scope": "offline_access",
            "state": "s1",
        },
        follow_redirects=False,
    )
    assert consent.status_code == 302
    query = parse_qs(urlparse(consent.headers["location"]).query)
    assert query["state"] == ["s1"]
    form = {"grant_type": "authorization_code", "code": query["code"][0], "redirect_uri": redirect}
    first = token_request(xero.client, **form)
    assert first.status_code == 200
    assert (first.json()["expires_in"], first.json()["token_type"]) == (1800, "Bearer")
    again = token_request(xero.client, **form)
    assert (again.status_code, again.json()) == (400, {"error": "invalid_grant"})
    missing_client = xero.client.post("/connect/token", data=form)
    assert missing_client.json()["error"] == "invalid_client"


def test_access_token_expires_after_30_minutes_with_the_gateway_401_body(xero: Xero) -> None:
    """An access token works for 30 minutes; then 401 with a TokenExpired problem body."""
    xero.clock.advance(timedelta(minutes=29))
    assert xero.get("Accounts").status_code == 200
    xero.clock.advance(timedelta(minutes=1))
    expired = xero.get("Accounts")
    assert expired.status_code == 401
    body = expired.json()
    assert (body["Title"], body["Status"]) == ("Unauthorized", 401)
    assert body["Detail"].startswith("TokenExpired: token expired at 03/02/2026 09:30:00")
    junk = xero.client.get(f"{API}/Accounts", headers=xero.headers("not-a-token"))
    assert junk.json()["Detail"] == "AuthenticationUnsuccessful"


def test_every_refresh_rotates_and_the_old_token_works_only_for_the_grace_period(
    xero: Xero,
) -> None:
    """Each refresh rotates the refresh token; the old one works 30 minutes more, then not."""
    original = xero.tokens["refresh_token"]
    first = token_request(xero.client, grant_type="refresh_token", refresh_token=original).json()
    assert first["refresh_token"] != original
    xero.clock.advance(timedelta(minutes=29))
    retried = token_request(xero.client, grant_type="refresh_token", refresh_token=original)
    assert retried.status_code == 200
    assert retried.json()["refresh_token"] == first["refresh_token"]
    xero.clock.advance(timedelta(minutes=1))
    refused = token_request(xero.client, grant_type="refresh_token", refresh_token=original)
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")
    newest = token_request(
        xero.client, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    assert newest.status_code == 200
    fresh = xero.client.get(f"{API}/Accounts", headers=xero.headers(newest.json()["access_token"]))
    assert fresh.status_code == 200


def test_unused_refresh_token_dies_after_60_days_and_revocation_ends_the_token_set(
    xero: Xero,
) -> None:
    """A refresh token unused 60 days is invalid_grant; a revoked one too, and its access 401s."""
    other = xero.client.post("/_sandbox/tokens", json={"client_id": DEFAULT_CLIENT_ID}).json()
    revoked = xero.client.post(
        "/connect/revocation",
        data={"token": other["refresh_token"]},
        headers={"Authorization": BASIC},
    )
    assert revoked.status_code == 200
    after_revoke = token_request(
        xero.client, grant_type="refresh_token", refresh_token=other["refresh_token"]
    )
    assert after_revoke.json()["error"] == "invalid_grant"
    gone = xero.client.get(f"{API}/Accounts", headers=xero.headers(other["access_token"]))
    assert gone.status_code == 401
    xero.clock.advance(timedelta(days=60))
    stale = token_request(
        xero.client, grant_type="refresh_token", refresh_token=xero.tokens["refresh_token"]
    )
    assert (stale.status_code, stale.json()["error"]) == (400, "invalid_grant")


def test_connections_name_the_tenant_and_the_tenant_header_is_required(xero: Xero) -> None:
    """GET /connections lists the tenant; a missing or wrong xero-tenant-id header is 403."""
    listed = xero.client.get("/connections", headers=xero.headers(tenant=None)).json()
    assert [c["tenantId"] for c in listed] == [xero.tenant]
    assert listed[0]["tenantType"] == "ORGANISATION"
    missing = xero.client.get(f"{API}/Accounts", headers=xero.headers(tenant=None))
    wrong = xero.client.get(f"{API}/Accounts", headers=xero.headers(tenant=stable_id("x", "y")))
    for refused in (missing, wrong):
        assert refused.status_code == 403
        assert (refused.json()["Title"], refused.json()["Detail"]) == (
            "Forbidden",
            "AuthenticationUnsuccessful",
        )


def test_a_disconnected_tenant_is_403_while_the_token_set_still_refreshes(xero: Xero) -> None:
    """Deleting the connection makes calls 403 and empties /connections; refreshing still works."""
    connection = xero.client.get("/connections", headers=xero.headers(tenant=None)).json()[0]
    deleted = xero.client.delete(
        f"/connections/{connection['id']}", headers=xero.headers(tenant=None)
    )
    assert deleted.status_code == 204
    assert xero.get("Accounts").status_code == 403
    assert xero.client.get("/connections", headers=xero.headers(tenant=None)).json() == []
    refreshed = token_request(
        xero.client, grant_type="refresh_token", refresh_token=xero.tokens["refresh_token"]
    )
    assert refreshed.status_code == 200
    xero.client.get(
        "/identity/connect/authorize",
        params={"client_id": DEFAULT_CLIENT_ID, "redirect_uri": "https://app.example/cb"},
        follow_redirects=False,
    )
    assert xero.get("Accounts").status_code == 200


# --- documents -----------------------------------------------------------------------


def test_server_computes_line_tax_and_totals_and_resolves_tracking(xero: Xero) -> None:
    """2 x 10.00 at 10% GST exclusive is 20 + 2 = 22; inclusive 22 is 20 + 2; tracking gets ids."""
    created = xero.put("Invoices", {"Invoices": [invoice(Total=999)]})
    assert created.status_code == 200, created.text
    saved = created.json()["Invoices"][0]
    assert (saved["SubTotal"], saved["TotalTax"], saved["Total"]) == (20.0, 2.0, 22.0)
    assert saved["AmountDue"] == 22.0
    assert saved["LineItems"][0]["TaxAmount"] == 2.0
    tracking = saved["LineItems"][0]["Tracking"][0]
    assert tracking["TrackingOptionID"] == stable_id("option", "Store/Downtown")
    assert saved["Date"].startswith("/Date(")
    assert saved["DateString"] == "2026-03-02T00:00:00"
    inclusive = xero.put("Invoices", invoice("POS-1002", 22.0, LineAmountTypes="Inclusive"))
    body = inclusive.json()["Invoices"][0]
    assert (body["SubTotal"], body["TotalTax"], body["Total"]) == (20.0, 2.0, 22.0)
    numbered = xero.put("Invoices", invoice(None)).json()["Invoices"][0]
    assert numbered["InvoiceNumber"] == "INV-0001"


def test_invalid_element_answers_a_validation_exception_listing_every_problem(
    xero: Xero,
) -> None:
    """A bad invoice is 400 ValidationException (ErrorNumber 10) with all its ValidationErrors."""
    refused = xero.put("Invoices", {"Invoices": [{"Reference": "nothing else"}]})
    assert refused.json()["Message"] == "A validation exception occurred"
    assert failed_messages(refused) == [
        "Invoice Type must be specified",
        "A Contact must be specified for this type of transaction",
        "One or more line items must be specified",
    ]
    bad_codes = invoice(
        LineItems=[{"Quantity": 1, "UnitAmount": 5, "AccountCode": "499", "TaxType": "GST"}]
    )
    assert failed_messages(xero.put("Invoices", bad_codes)) == [
        "Account code '499' is not a valid code for this document.",
        "The TaxType code 'GST' is not valid",
    ]
    mismatch = invoice(
        LineItems=[{"Quantity": 2, "UnitAmount": 5, "LineAmount": 11, "AccountCode": "200"}]
    )
    assert (
        "does not match the expected line total 10.00"
        in failed_messages(xero.put("Invoices", mismatch))[0]
    )


def test_put_refuses_a_repeated_invoice_number_and_post_updates_it(xero: Xero) -> None:
    """PUT with an existing ACCREC number is refused as not unique; POST updates that invoice."""
    first = xero.put("Invoices", invoice(Status="DRAFT")).json()["Invoices"][0]
    assert failed_messages(xero.put("Invoices", invoice())) == ["Invoice # must be unique."]
    updated = xero.post("Invoices", invoice(Reference="salesync:day-1b")).json()["Invoices"][0]
    assert updated["InvoiceID"] == first["InvoiceID"]
    assert (updated["Reference"], updated["Status"]) == ("salesync:day-1b", "AUTHORISED")
    assert len(xero.org.all("Invoices")) == 1
    by_id = xero.post(f"Invoices/{first['InvoiceID']}", {"Reference": "salesync:day-1c"})
    assert by_id.json()["Invoices"][0]["Reference"] == "salesync:day-1c"


def test_summarize_errors_false_answers_200_with_per_element_status(xero: Xero) -> None:
    """With summarizeErrors=false a mixed batch is 200, each element OK or ERROR; valid saved."""
    batch = {"Invoices": [invoice("B-1"), invoice("B-2", Contact={}), invoice("B-3")]}
    response = xero.put("Invoices", batch, summarizeErrors="false")
    assert response.status_code == 200
    results = response.json()["Invoices"]
    assert [r["StatusAttributeString"] for r in results] == ["OK", "ERROR", "OK"]
    assert messages(results[1]) == ["A Contact must be specified for this type of transaction"]
    assert results[0]["InvoiceID"]
    assert "InvoiceID" not in results[1]
    assert sorted(i["InvoiceNumber"] for i in xero.org.all("Invoices")) == ["B-1", "B-3"]


def test_default_summarized_errors_hide_the_elements_that_were_saved(xero: Xero) -> None:
    """By default a mixed batch is 400 listing only failures, yet the valid elements are saved."""
    batch = {"Invoices": [invoice("S-1"), invoice("S-1"), invoice("S-2")]}
    response = xero.put("Invoices", batch)
    assert failed_messages(response) == ["Invoice # must be unique."]
    assert len(response.json()["Elements"]) == 1
    assert sorted(i["InvoiceNumber"] for i in xero.org.all("Invoices")) == ["S-1", "S-2"]


def test_payments_go_to_a_bank_account_against_authorised_invoices_only(xero: Xero) -> None:
    """A payment needs an AUTHORISED invoice, a bank account, at most AmountDue; then PAID."""
    draft = xero.put("Invoices", invoice("D-1", Status="DRAFT")).json()["Invoices"][0]
    sale = xero.put("Invoices", invoice("P-1")).json()["Invoices"][0]

    def payment(target: dict[str, Any], amount: float, code: str = "090") -> dict[str, Any]:
        return {
            "Invoice": {"InvoiceID": target["InvoiceID"]},
            "Account": {"Code": code},
            "Amount": amount,
            "Date": "2026-03-02",
        }

    assert failed_messages(xero.put("Payments", payment(draft, 5))) == [
        "Payments can only be made against Authorised documents."
    ]
    assert "a bank account" in failed_messages(xero.put("Payments", payment(sale, 5, "200")))[0]
    assert xero.put("Payments", payment(sale, 12)).status_code == 200
    assert xero.found(f"Invoices/{sale['InvoiceID']}", "Invoices")[0]["AmountDue"] == 10.0
    assert failed_messages(xero.put("Payments", payment(sale, 10.01))) == [
        "Payment amount exceeds the amount outstanding on this document."
    ]
    xero.put("Payments", payment(sale, 10))
    paid = xero.found("Invoices/P-1", "Invoices")[0]
    assert (paid["Status"], paid["AmountPaid"], paid["AmountDue"]) == ("PAID", 22.0, 0.0)
    edit = xero.post("Invoices", {**invoice("P-1"), "Reference": "changed"})
    assert "payment or credit note allocated" in failed_messages(edit)[0]


def test_credit_note_allocation_reduces_the_invoice_and_the_remaining_credit(xero: Xero) -> None:
    """An allocated credit note lowers the invoice's AmountDue; over-allocation is refused."""
    sale = xero.put("Invoices", invoice("R-1")).json()["Invoices"][0]
    refund = {**invoice(None), "Type": "ACCRECCREDIT", "Reference": "refund R-1"}
    refund["LineItems"][0]["UnitAmount"] = 3.0
    credit = xero.put("CreditNotes", refund).json()["CreditNotes"][0]
    assert (credit["CreditNoteNumber"], credit["Total"], credit["RemainingCredit"]) == (
        "CN-0001",
        6.6,
        6.6,
    )
    path = f"CreditNotes/{credit['CreditNoteID']}/Allocations"
    allocation = {"Allocations": [{"Invoice": {"InvoiceID": sale["InvoiceID"]}, "Amount": 6.6}]}
    assert xero.put(path, allocation).status_code == 200
    after = xero.found(f"Invoices/{sale['InvoiceID']}", "Invoices")[0]
    assert (after["AmountCredited"], after["AmountDue"]) == (6.6, 15.4)
    assert (
        xero.found(f"CreditNotes/{credit['CreditNoteID']}", "CreditNotes")[0]["RemainingCredit"]
        == 0.0
    )
    again = xero.put(path, allocation)
    assert "exceeds the remaining credit" in failed_messages(again)[-1]


def test_manual_journal_lines_must_balance_and_avoid_bank_accounts(xero: Xero) -> None:
    """Journal lines must net to zero and avoid bank and system accounts; a balanced one posts."""

    def journal(*lines: tuple[str, float]) -> dict[str, Any]:
        return {
            "Narration": "salesync:summary 2026-03-01",
            "Status": "POSTED",
            "JournalLines": [{"AccountCode": c, "LineAmount": a} for c, a in lines],
        }

    unbalanced = xero.put("ManualJournals", journal(("615", 110), ("200", -99.99)))
    assert failed_messages(unbalanced) == [
        "The total debits (110.00) must equal total credits (99.99)"
    ]
    bank = xero.put("ManualJournals", journal(("090", 10), ("200", -10)))
    assert "bank or system account" in failed_messages(bank)[0]
    posted = xero.put("ManualJournals", journal(("615", 110), ("200", -100), ("820", 0)))
    assert "bank or system account" in failed_messages(posted)[0]
    saved = xero.put("ManualJournals", journal(("615", 110), ("200", -100), ("826", -10)))
    assert saved.status_code == 200
    assert saved.json()["ManualJournals"][0]["LineAmountTypes"] == "NoTax"
    found = xero.found(
        "ManualJournals", "ManualJournals", where='Narration=="salesync:summary 2026-03-01"'
    )
    assert len(found) == 1


def test_contact_names_are_unique_on_put_and_post_updates_the_match(xero: Xero) -> None:
    """PUT with an existing contact name (any case) is refused; POST updates the same contact."""
    created = xero.put("Contacts", {"Name": "Ada Lovelace", "ContactNumber": "C-1"})
    contact = created.json()["Contacts"][0]
    duplicate = xero.put("Contacts", {"Name": "ada lovelace"})
    assert failed_messages(duplicate) == [
        "The contact name ada lovelace is already assigned to another contact. "
        "The contact name must be unique across all active contacts."
    ]
    number_taken = xero.put("Contacts", {"Name": "Grace Hopper", "ContactNumber": "C-1"})
    assert failed_messages(number_taken) == [
        "The contact number C-1 is already assigned to another contact."
    ]
    upserted = xero.post("Contacts", {"Name": "Ada Lovelace", "EmailAddress": "ada@example.com"})
    assert upserted.json()["Contacts"][0]["ContactID"] == contact["ContactID"]
    found = xero.found("Contacts", "Contacts", where='Name=="ADA LOVELACE"')
    assert [c["EmailAddress"] for c in found] == ["ada@example.com"]


def test_item_codes_are_unique_and_an_item_code_fills_in_the_line(xero: Xero) -> None:
    """A repeated item Code is refused on PUT and updated on POST; ItemCode supplies the account."""
    item = {
        "Code": "TEE",
        "Name": "T-shirt",
        "SalesDetails": {"UnitPrice": 25, "AccountCode": "200", "TaxType": "OUTPUT"},
    }
    assert xero.put("Items", item).status_code == 200
    assert failed_messages(xero.put("Items", item)) == ["Item code 'TEE' already exists"]
    renamed = xero.post("Items", {**item, "Name": "Tee"}).json()["Items"][0]
    assert (renamed["Name"], len(xero.found("Items", "Items", where='Code=="TEE"'))) == ("Tee", 1)
    line = {"ItemCode": "TEE", "Quantity": 1, "UnitAmount": 25}
    sold = xero.put("Invoices", invoice("I-1", LineItems=[line])).json()["Invoices"][0]
    assert sold["LineItems"][0]["AccountCode"] == "200"
    assert sold["TotalTax"] == 2.5
    assert xero.put("TaxRates", {"Name": "New", "TaxType": "X"}).status_code == 501


def test_lookups_by_number_reference_where_and_pages(xero: Xero) -> None:
    """Invoices are found by number, Reference, where and page; a junk where is a 400."""
    for n in range(1, 6):
        xero.put("Invoices", invoice(f"L-{n}", Reference=f"salesync:key-{n}"))
    by_reference = xero.found("Invoices", "Invoices", where='Reference=="salesync:key-3"')
    assert [i["InvoiceNumber"] for i in by_reference] == ["L-3"]
    both = xero.found(
        "Invoices",
        "Invoices",
        where=f'Type=="ACCREC" AND (InvoiceNumber=="L-1" OR InvoiceNumber=="L-4") '
        f'AND Contact.ContactID==guid("{WALK_IN}") AND Date>=DateTime(2026,03,02)',
        order="InvoiceNumber DESC",
    )
    assert [i["InvoiceNumber"] for i in both] == ["L-4", "L-1"]
    listed = xero.found("Invoices", "Invoices", InvoiceNumbers="L-2,L-5")
    assert {i["InvoiceNumber"] for i in listed} == {"L-2", "L-5"}
    page = xero.get("Invoices", page="2", pageSize="2").json()
    assert [i["InvoiceNumber"] for i in page["Invoices"]] == ["L-3", "L-4"]
    assert page["pagination"] == {"page": 2, "pageSize": 2, "pageCount": 3, "itemCount": 5}
    assert xero.found("Invoices/L-2", "Invoices")[0]["Reference"] == "salesync:key-2"
    missing = xero.get(f"Invoices/{stable_id('x', 'nope')}")
    assert (missing.status_code, missing.text) == (
        404,
        "The resource you're looking for cannot be found",
    )
    broken = xero.get("Invoices", where='Reference=="x" AND')
    assert (broken.status_code, broken.json()["Type"]) == (400, "QueryParseException")


# --- bank transactions ---------------------------------------------------------------


def bank_transaction(
    kind: str = "RECEIVE", bank: str = "090", amount: float = 20.0, **extra: Any
) -> dict[str, Any]:
    line = {
        "Description": "Sale",
        "Quantity": 1,
        "UnitAmount": amount,
        "AccountCode": "200",
        "TaxType": "OUTPUT",
        "Tracking": [{"Name": "Store", "Option": "Downtown"}],
    }
    return {
        "Type": kind,
        "Contact": {"ContactID": WALK_IN},
        "BankAccount": {"Code": bank},
        "Date": "2026-03-02",
        "Reference": "SS-1 order:pos:sale:1",
        "LineItems": [line],
        **extra,
    }


def test_receive_and_spend_money_compute_totals_in_their_bank_account(xero: Xero) -> None:
    """RECEIVE and SPEND price their lines as invoices do (20 + 10% GST exclusive = 22,
    inclusive 22 = 20 + 2), keep the Reference, are AUTHORISED in the bank account's
    currency, and a contact named by Name alone is created."""
    created = xero.put("BankTransactions", {"BankTransactions": [bank_transaction()]})
    assert created.status_code == 200, created.text
    saved = created.json()["BankTransactions"][0]
    assert (saved["SubTotal"], saved["TotalTax"], saved["Total"]) == (20.0, 2.0, 22.0)
    assert (saved["Type"], saved["Status"], saved["CurrencyCode"]) == (
        "RECEIVE",
        "AUTHORISED",
        "AUD",
    )
    assert saved["Reference"] == "SS-1 order:pos:sale:1"
    assert saved["BankAccount"]["AccountID"] == stable_id("account", "090")
    assert saved["LineItems"][0]["Tracking"][0]["TrackingOptionID"]
    spent = xero.put(
        "BankTransactions",
        bank_transaction(
            "SPEND", amount=22.0, LineAmountTypes="Inclusive", Contact={"Name": "Till float"}
        ),
    ).json()["BankTransactions"][0]
    assert (spent["SubTotal"], spent["TotalTax"], spent["Total"]) == (20.0, 2.0, 22.0)
    assert [c["Name"] for c in xero.org.all("Contacts")][-1] == "Till float"
    assert (
        xero.found(f"BankTransactions/{saved['BankTransactionID']}", "BankTransactions")[0]["Total"]
        == 22.0
    )


def test_a_bank_transaction_needs_a_bank_account_lines_and_a_total_not_below_zero(
    xero: Xero,
) -> None:
    """Missing parts are listed together; the account must be of type BANK and active; a
    line may not be on a bank account; a currency other than the account's, another
    type than RECEIVE or SPEND, and a negative total are refused."""
    assert failed_messages(xero.put("BankTransactions", {"BankTransactions": [{}]})) == [
        "Bank Transaction Type must be RECEIVE or SPEND",
        "A Contact must be specified for this type of transaction",
        "A BankAccount must be specified for a bank transaction",
        "One or more line items must be specified",
    ]
    assert failed_messages(xero.put("BankTransactions", bank_transaction(bank="615"))) == [
        "Account '615' is not a bank account; a bank transaction can only be made in an "
        "account of type BANK"
    ]
    transfer = bank_transaction(LineItems=[{"Quantity": 1, "UnitAmount": 5, "AccountCode": "091"}])
    assert (
        "is a bank account and cannot be used on a line item"
        in (failed_messages(xero.put("BankTransactions", transfer))[0])
    )
    assert (
        "bank account's currency"
        in (failed_messages(xero.put("BankTransactions", bank_transaction(CurrencyCode="USD")))[0])
    )
    assert (
        "not supported"
        in (failed_messages(xero.put("BankTransactions", bank_transaction("SPEND-TRANSFER")))[0])
    )
    negative = bank_transaction(
        LineItems=[
            {"Quantity": 1, "UnitAmount": 5, "AccountCode": "200"},
            {"Quantity": 1, "UnitAmount": -8, "AccountCode": "405"},
        ]
    )
    assert failed_messages(xero.put("BankTransactions", negative)) == [
        "The total of a bank transaction must not be negative"
    ]
    fee_netted = bank_transaction(
        LineAmountTypes="NoTax",
        LineItems=[
            {"Quantity": 1, "UnitAmount": 10, "AccountCode": "200"},
            {"Quantity": 1, "UnitAmount": -3, "AccountCode": "405"},
        ],
    )
    saved = xero.put("BankTransactions", fee_netted).json()["BankTransactions"][0]
    assert (saved["TotalTax"], saved["Total"]) == (0.0, 7.0)
    assert len(xero.org.all("BankTransactions")) == 1


def test_bank_transactions_batch_replay_and_are_found_by_reference(xero: Xero) -> None:
    """An array with summarizeErrors=false answers element by element; the same keyed
    request is replayed, creating nothing twice; where filters on Reference and Type find
    them; POST deletes one."""
    batch = {
        "BankTransactions": [
            bank_transaction(Reference="SSA order:1"),
            bank_transaction(bank="200", Reference="SSB order:2"),
            bank_transaction("SPEND", Reference="SSC order:3"),
        ]
    }
    first = xero.put("BankTransactions", batch, key="bank-1", summarizeErrors="false")
    assert [t["StatusAttributeString"] for t in first.json()["BankTransactions"]] == [
        "OK",
        "ERROR",
        "OK",
    ]
    again = xero.put("BankTransactions", batch, key="bank-1", summarizeErrors="false")
    assert again.json() == first.json()
    assert len(xero.org.all("BankTransactions")) == 2
    found = xero.found(
        "BankTransactions",
        "BankTransactions",
        where='Reference.StartsWith("SSA ") OR Reference.StartsWith("SSC ")',
    )
    assert [t["Reference"] for t in found] == ["SSA order:1", "SSC order:3"]
    spent = xero.found("BankTransactions", "BankTransactions", where='Type=="SPEND"')
    assert [t["Reference"] for t in spent] == ["SSC order:3"]
    deleted = xero.post(f"BankTransactions/{spent[0]['BankTransactionID']}", {"Status": "DELETED"})
    assert deleted.json()["BankTransactions"][0]["Status"] == "DELETED"
    edit = xero.post(f"BankTransactions/{spent[0]['BankTransactionID']}", {"Reference": "x"})
    assert failed_messages(edit) == ["A deleted bank transaction cannot be edited"]


# --- idempotency ---------------------------------------------------------------------


def test_same_idempotency_key_replays_the_first_answer_and_creates_once(xero: Xero) -> None:
    """A repeat with the same key and body gets the first answer; one invoice exists."""
    first = xero.put("Invoices", invoice(), key="sale-1001")
    xero.clock.advance(timedelta(seconds=30))
    second = xero.put("Invoices", invoice(), key="sale-1001")
    assert second.json() == first.json()
    assert len(xero.org.all("Invoices")) == 1
    log = xero.client.get("/_sandbox/requests").json()
    assert [entry["replayed"] for entry in log] == [False, True]
    looked_up = xero.client.get(f"{API}/Invoices", headers=xero.headers(key="sale-1001"))
    assert looked_up.status_code == 200


def test_same_key_with_a_different_request_is_refused_and_long_keys_too(xero: Xero) -> None:
    """A key reused for another body or URL is 400, as is a key of 129 characters."""
    xero.put("Invoices", invoice(), key="k-1")
    changed = xero.put("Invoices", invoice(amount=30.0), key="k-1")
    assert changed.status_code == 400
    assert changed.json()["Detail"] == "Idempotency Key: k-1 is used with a different request."
    other_url = xero.post("Invoices", invoice(), key="k-1")
    assert other_url.status_code == 400
    too_long = xero.put("Invoices", invoice("T-1"), key="k" * 129)
    assert too_long.status_code == 400
    assert "128" in too_long.json()["Detail"]
    assert xero.put("Invoices", invoice("T-2"), key="k" * 128).status_code == 200


def test_errors_are_replayed_too_until_the_key_expires_after_six_minutes(xero: Xero) -> None:
    """A cached error comes back even once the cause is fixed; after 6 minutes the key is new."""
    taken = xero.put("Invoices", invoice("E-1")).json()["Invoices"][0]
    refused = xero.put("Invoices", invoice("E-1"), key="e-1")
    assert failed_messages(refused) == ["Invoice # must be unique."]
    xero.post(f"Invoices/{taken['InvoiceID']}", {"InvoiceNumber": "E-1-old"})
    xero.clock.advance(timedelta(minutes=5, seconds=59))
    assert xero.put("Invoices", invoice("E-1"), key="e-1").json() == refused.json()
    xero.clock.advance(timedelta(seconds=1))
    assert xero.put("Invoices", invoice("E-1"), key="e-1").status_code == 200


# --- limits --------------------------------------------------------------------------


def test_minute_limit_is_60_in_a_fixed_window_with_headers_and_retry_after(xero: Xero) -> None:
    """60 calls count X-MinLimit-Remaining down; the 61st is 429 'minute' with Retry-After."""
    first = xero.get("Accounts")
    assert first.headers["X-MinLimit-Remaining"] == "59"
    assert first.headers["X-DayLimit-Remaining"] == "4999"
    assert first.headers["X-AppMinLimit-Remaining"] == "9999"
    xero.clock.advance(timedelta(seconds=20))
    remaining = [xero.get("Accounts").headers["X-MinLimit-Remaining"] for _ in range(59)]
    assert remaining[-1] == "0"
    throttled = xero.get("Accounts")
    assert throttled.status_code == 429
    assert throttled.headers["X-Rate-Limit-Problem"] == "minute"
    assert throttled.headers["Retry-After"] == "40"
    xero.clock.advance(timedelta(seconds=40))
    assert xero.get("Accounts").headers["X-MinLimit-Remaining"] == "59"


def test_day_limit_refuses_with_day_problem_until_the_window_resets(xero: Xero) -> None:
    """With a 70-call day (set like a Starter tier) the 71st call is 429 'day' until 24 h pass."""
    assert xero.client.patch("/_sandbox/limits", json={"day_limit": 70}).json()["day_limit"] == 70
    for _ in range(60):
        xero.get("Accounts")
    xero.clock.advance(timedelta(minutes=1))
    for _ in range(10):
        last = xero.get("Accounts")
    assert last.headers["X-DayLimit-Remaining"] == "0"
    refused = xero.get("Accounts")
    assert (refused.status_code, refused.headers["X-Rate-Limit-Problem"]) == (429, "day")
    assert int(refused.headers["Retry-After"]) == 24 * 3600 - 60
    xero.clock.advance(timedelta(hours=24))
    form = {"grant_type": "refresh_token", "refresh_token": xero.tokens["refresh_token"]}
    access = token_request(xero.client, **form).json()["access_token"]
    after = xero.client.get(f"{API}/Accounts", headers=xero.headers(access))
    assert (after.status_code, after.headers["X-DayLimit-Remaining"]) == (200, "69")


def test_app_minute_limit_is_shared_and_its_429_has_no_retry_after(xero: Xero) -> None:
    """When the app-wide minute budget runs out the answer is 429 'appminute', no Retry-After."""
    xero.client.patch("/_sandbox/limits", json={"app_minute_limit": 3})
    statuses = [xero.get("Accounts").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = xero.get("Accounts")
    assert refused.headers["X-Rate-Limit-Problem"] == "appminute"
    assert refused.headers["X-AppMinLimit-Remaining"] == "0"
    assert "Retry-After" not in refused.headers


def test_a_body_over_3_5_mb_is_413_whatever_its_elements_and_more_than_50_are_fine(
    xero: Xero,
) -> None:
    """Xero limits a request's size, not its elements: 120 receive money transactions in
    one PUT are all saved; a body over 3.5 MB is refused whole with 413
    RequestEntityTooLarge, saving nothing, and still counts as a call."""
    many = [bank_transaction(Reference=f"SS{n} order:{n}") for n in range(120)]
    saved = xero.put("BankTransactions", {"BankTransactions": many}, summarizeErrors="false")
    assert saved.status_code == 200, saved.text
    assert len(xero.org.all("BankTransactions")) == 120
    long_line = {"Description": "x" * 3900, "Quantity": 1, "UnitAmount": 1, "AccountCode": "200"}
    large = [bank_transaction(LineItems=[long_line] * 20) for _ in range(50)]
    refused = xero.put("BankTransactions", {"BankTransactions": large}, key="large")
    assert refused.status_code == 413
    body = refused.json()
    assert (body["Title"], body["Status"], body["Detail"]) == (
        "RequestEntityTooLarge",
        413,
        "PayloadTooLarge",
    )
    assert refused.headers["X-MinLimit-Remaining"] == "58"
    assert len(xero.org.all("BankTransactions")) == 120


# --- injected faults -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status"),
    [
        (Fault(FaultKind.SERVER_ERROR, status=503), 503),
        (Fault(FaultKind.SERVER_ERROR, status=500), 500),
        (Fault(FaultKind.RATE_LIMITED, retry_after=7), 429),
        (Fault(FaultKind.UNAUTHORIZED), 401),
    ],
)
def test_before_work_faults_answer_without_creating_or_caching(
    xero: Xero, fault: Fault, status: int
) -> None:
    """5xx, 429 (with Retry-After) and 401 faults create nothing; the keyed retry then works."""
    xero.faults.arm("put:Invoices", fault)
    response = xero.put("Invoices", invoice(), key="f-1")
    assert response.status_code == status
    assert response.json()["Status"] == status
    if status == 429:
        assert response.headers["Retry-After"] == "7"
        assert response.headers["X-Rate-Limit-Problem"] == "minute"
    assert xero.org.all("Invoices") == []
    assert xero.put("Invoices", invoice(), key="f-1").status_code == 200


def test_lost_response_commits_then_drops_and_the_keyed_retry_finds_it(xero: Xero) -> None:
    """LOST_RESPONSE saves the invoice, drops the connection; the same key replays the answer."""
    xero.faults.arm("put:Invoices", FaultKind.LOST_RESPONSE)
    with pytest.raises(ConnectionDroppedError):
        xero.put("Invoices", invoice(), key="lost-1")
    saved = xero.org.all("Invoices")
    assert len(saved) == 1
    retry = xero.put("Invoices", invoice(), key="lost-1")
    assert retry.json()["Invoices"][0]["InvoiceID"] == saved[0]["InvoiceID"]


def test_lost_response_can_come_back_as_a_gateway_timeout(xero: Xero) -> None:
    """Armed with status 504, a lost response is an HTML 504 after the contact was created."""
    xero.faults.arm("put:Contacts", Fault(FaultKind.LOST_RESPONSE, status=504))
    response = xero.put("Contacts", {"Name": "Grace Hopper"})
    assert response.status_code == 504
    assert "Gateway" in response.text
    assert "already assigned" in failed_messages(xero.put("Contacts", {"Name": "Grace Hopper"}))[0]


def test_slow_and_malformed_answers_still_commit(xero: Xero) -> None:
    """SLOW answers late and MALFORMED answers a broken body; both have done the work."""
    xero.faults.arm("post:ManualJournals", Fault(FaultKind.SLOW, delay=0.05))
    xero.faults.arm("post:ManualJournals", FaultKind.MALFORMED)
    journal = {
        "Narration": "n",
        "JournalLines": [
            {"AccountCode": "615", "LineAmount": 1},
            {"AccountCode": "200", "LineAmount": -1},
        ],
    }
    assert xero.post("ManualJournals", journal).status_code == 200
    broken = xero.post("ManualJournals", {**journal, "Narration": "m"})
    with pytest.raises(ValueError, match=r"."):
        broken.json()
    assert len(xero.org.all("ManualJournals")) == 2
    assert [kind for _, kind in xero.faults.fired] == [FaultKind.SLOW, FaultKind.MALFORMED]


def test_token_and_read_faults_are_armed_by_operation_name(xero: Xero) -> None:
    """'token' hits the token endpoint once; 'get:Invoices' hits reads of invoices only."""
    xero.faults.arm("token", FaultKind.SERVER_ERROR)
    form = {"grant_type": "refresh_token", "refresh_token": xero.tokens["refresh_token"]}
    assert token_request(xero.client, **form).status_code == 503
    assert token_request(xero.client, **form).status_code == 200
    xero.faults.arm("get:Invoices", Fault(FaultKind.SERVER_ERROR, status=500))
    assert xero.get("Contacts").status_code == 200
    assert xero.get("Invoices").status_code == 500


def test_admin_endpoints_arm_faults_move_time_and_show_state(xero: Xero) -> None:
    """Over HTTP the demo can arm faults, advance the clock, list objects and disconnect."""
    armed = xero.client.post(
        "/_sandbox/faults", json={"operation": "get:Organisation", "kind": "server_error"}
    )
    assert armed.json() == {"pending": 1}
    assert xero.get("Organisation").status_code == 503
    organisation = xero.found("Organisation", "Organisations")[0]
    assert (organisation["OrganisationID"], organisation["BaseCurrency"]) == (xero.tenant, "AUD")
    xero.put("Contacts", {"Name": "Demo Buyer"})
    names = [c["Name"] for c in xero.client.get("/_sandbox/entities/contacts").json()]
    assert "Demo Buyer" in names
    state = xero.client.get("/_sandbox/state").json()
    assert (state["connected"], state["limits"]["minute_limit"]) == (True, 60)
    moved = xero.client.post("/_sandbox/clock/advance", json={"seconds": 1800})
    assert moved.json()["now"].startswith("2026-03-02T09:30")
    assert xero.get("Accounts").status_code == 401
    assert xero.client.post("/_sandbox/disconnect").json() == {"connected": False}
    assert xero.client.get("/_sandbox/faults").json()["fired"] == [
        {"operation": "get:Organisation", "kind": "server_error"}
    ]


# --- real HTTP -----------------------------------------------------------------------


def test_over_real_http_a_lost_response_is_a_broken_connection_and_the_retry_finds_it() -> None:
    """Under uvicorn httpx sees the connection drop; the keyed retry returns the one invoice."""
    xero = Xero()
    xero.faults.arm("put:Invoices", FaultKind.LOST_RESPONSE)
    headers = xero.headers(key="http-1")
    with serving(xero.app) as base, httpx.Client(base_url=base, headers=headers) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.put(f"{API}/Invoices", json=invoice())
        retry = client.put(f"{API}/Invoices", json=invoice())
        assert retry.status_code == 200
        assert retry.json()["Invoices"][0]["InvoiceID"] == xero.org.all("Invoices")[0]["InvoiceID"]
        found = client.get(f"{API}/Invoices", params={"where": 'InvoiceNumber=="POS-1001"'})
        assert len(found.json()["Invoices"]) == 1


def test_over_real_http_a_sixth_concurrent_request_gets_429_concurrent() -> None:
    """Five requests in flight fill the tenant's slots; one more at once is 429 'concurrent'."""
    xero = Xero()
    xero.faults.arm("get:Accounts", Fault(FaultKind.SLOW, delay=1.0), times=6)
    answers: list[httpx.Response] = []
    barrier = threading.Barrier(6)
    with serving(xero.app) as base:

        def call() -> None:
            with httpx.Client(base_url=base, headers=xero.headers(), timeout=10) as client:
                barrier.wait()
                answers.append(client.get(f"{API}/Accounts"))

        threads = [threading.Thread(target=call) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(a.status_code for a in answers) == [200] * 5 + [429]
    refused = next(a for a in answers if a.status_code == 429)
    assert refused.headers["X-Rate-Limit-Problem"] == "concurrent"
    assert "Retry-After" not in refused.headers
