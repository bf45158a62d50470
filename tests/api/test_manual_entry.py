"""Manual entry: a sale or refund keyed in through the API is kept, validated and posted
in the same request; a bad one is kept and refused with every problem named."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from hooksource import sales
from people import accounts_app, add_user, csrf_of, key_of, sign_in
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.accounts.roles import Role
from salesync.api.tokens import ApiTokens
from salesync.clock import ManualClock
from salesync.connectors.registry import SourceRegistry
from salesync.domain.documents import Payment, Sale, Tenant
from salesync.domain.money import Money
from salesync.store import codec
from salesync.store.repositories import Journal, Tenants
from salesync.store.tables import DocumentRow, InboxRecordRow
from salesync.store.vault import Vault

SALES = "/api/v1/tenants/demo/sales"


def entry(sale: Sale, external_id: str = "TILL-0001") -> dict[str, Any]:
    """A sale as a person keys it in: no id, tenant or source, salesync fills those."""
    body = codec.encode(replace(sale, external_id=external_id))
    for field in ("id", "tenant_id", "source"):
        del body[field]
    return body


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def inbox(db: sessionmaker[Session]) -> list[InboxRecordRow]:
    with db() as session:
        return list(session.scalars(select(InboxRecordRow).order_by(InboxRecordRow.id)))


def journal_count(db: sessionmaker[Session]) -> int:
    with db() as session:
        return Journal(session, "demo").count()


def test_a_manual_sale_is_posted_at_once(
    client: TestClient, db: sessionmaker[Session], token: Callable[[str], str]
) -> None:
    """A sale entered by hand is normalized, planned and posted to the built-in ledger
    within the request, and the answer names its posting key and state."""
    response = client.post(SALES, json=entry(sales()[0]), headers=bearer(token("demo")))
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["record"]["state"] == "normalized"
    assert answer["problems"] == []
    [posting] = answer["document"]["postings"]
    assert (posting["destination"], posting["state"]) == ("ledger", "posted")
    assert posting["key"]
    assert journal_count(db) == 1
    with db() as session:
        stored = session.get(DocumentRow, answer["document"]["id"])
        assert stored is not None
        assert (stored.source, stored.external_id) == ("manual", "TILL-0001")


def test_the_same_entry_twice_posts_once(
    client: TestClient, db: sessionmaker[Session], token: Callable[[str], str]
) -> None:
    """Sending an entry again (a client retry) answers 200 with the first outcome and
    posts nothing new."""
    headers = bearer(token("demo"))
    body = entry(sales()[0])
    first = client.post(SALES, json=body, headers=headers)
    again = client.post(SALES, json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["record"]["duplicate_of"] == first.json()["record"]["id"]
    assert again.json()["document"] == first.json()["document"]
    assert journal_count(db) == 1


def test_a_refund_of_a_manual_sale_is_posted(
    client: TestClient, db: sessionmaker[Session], token: Callable[[str], str]
) -> None:
    """A refund entered against a manual sale's id posts at once; one whose sale is not
    known yet is parked (202) until the sale arrives."""
    headers = bearer(token("demo"))
    sale = sales()[0]
    sold = client.post(SALES, json=entry(sale), headers=headers).json()
    line = sale.lines[0]
    refund = {
        "external_id": "TILL-0001-R1",
        "sale_id": sold["document"]["id"],
        "location_id": sale.location_id,
        "occurred_at": sale.occurred_at.isoformat(),
        "currency": sale.currency,
        "tax_mode": sale.tax_mode.value,
        "lines": [
            {
                "sku": line.sku,
                "quantity": "1",
                "amount": {"amount": str(line.unit_price.amount), "currency": sale.currency},
                "category": line.category,
            }
        ],
        "payments": [
            {
                "tender": "cash",
                "amount": {"amount": str(line.unit_price.amount), "currency": sale.currency},
            }
        ],
    }
    refunds = "/api/v1/tenants/demo/refunds"
    response = client.post(refunds, json=refund, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["document"]["postings"][0]["state"] == "posted"
    orphan = {**refund, "external_id": "TILL-9-R1", "sale_id": "no-such-sale"}
    parked = client.post(refunds, json=orphan, headers=headers)
    assert parked.status_code == 202
    assert parked.json()["record"]["state"] == "parked"
    assert journal_count(db) == 2


def test_a_bad_sale_is_refused_with_every_problem_and_kept(
    client: TestClient, db: sessionmaker[Session], token: Callable[[str], str]
) -> None:
    """A sale whose tenders do not cover it, at a location the merchant lacks, answers
    422 naming each field; the entry is kept in the inbox, quarantined, and nothing posts."""
    sale = sales()[0]
    short = (Payment("cash", Money(Decimal("1.00"), sale.currency)),)
    body = entry(replace(sale, payments=short))
    body["location_id"] = "atlantis"
    response = client.post(SALES, json=body, headers=bearer(token("demo")))
    assert response.status_code == 422
    answer = response.json()
    assert answer["error"] == "invalid_entry"
    paths = {p["path"] for p in answer["problems"]}
    assert "location_id" in paths
    assert any(p.startswith("payments") for p in paths)
    [row] = inbox(db)
    assert row.state == "quarantined"
    assert json.loads(row.payload)["location_id"] == "atlantis"
    assert journal_count(db) == 0


def test_a_body_that_is_not_a_document_is_kept_as_sent(
    client: TestClient, db: sessionmaker[Session], token: Callable[[str], str]
) -> None:
    """Text that is not JSON, or JSON missing required fields, answers 422 with the
    problem and the field; the raw body is kept byte for byte."""
    headers = {**bearer(token("demo")), "Content-Type": "application/json"}
    broken = client.post(SALES, content=b'{"external_id": "X-1",', headers=headers)
    assert broken.status_code == 422
    assert broken.json()["problems"][0]["code"] == "malformed_json"
    partial = client.post(SALES, json={"external_id": "X-2"}, headers=headers)
    assert partial.status_code == 422
    assert "location_id" in {p["path"] for p in partial.json()["problems"]}
    rows = inbox(db)
    assert rows[0].payload == '{"external_id": "X-1",'
    assert [r.state for r in rows] == ["quarantined", "quarantined"]


def test_an_entry_cannot_pose_as_another_source(
    client: TestClient, db: sessionmaker[Session], token: Callable[[str], str]
) -> None:
    """An entry calling itself a Shopify order, or carrying an id of its own choosing, is
    refused on those fields, so it can never revise another source's document."""
    body = {**entry(sales()[0]), "source": "shopify", "id": "1d0f1c9e-0000-4000-8000-000000000000"}
    response = client.post(SALES, json=body, headers=bearer(token("demo")))
    assert response.status_code == 422
    assert {p["path"] for p in response.json()["problems"]} == {"source", "id"}
    with db() as session:
        assert session.scalars(select(DocumentRow)).all() == []


def test_entries_need_a_live_token_of_the_tenant(
    client: TestClient,
    db: sessionmaker[Session],
    clock: ManualClock,
    token: Callable[[str], str],
) -> None:
    """No token or an unknown one answers 401, another tenant's 403, a revoked one 401;
    none of them stores anything."""
    body = entry(sales()[0])
    missing = client.post(SALES, json=body)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert client.post(SALES, json=body, headers=bearer("ssk_guess")).status_code == 401
    with db() as session, session.begin():
        Tenants(session).add(Tenant("other", "Other merchant"))
    assert client.post(SALES, json=body, headers=bearer(token("other"))).status_code == 403
    with db() as session, session.begin():
        tokens = ApiTokens(session, "demo", clock)
        issued, secret = tokens.issue("till 2")
        tokens.revoke(issued.id)
    assert client.post(SALES, json=body, headers=bearer(secret)).status_code == 401
    assert inbox(db) == []


def test_entering_sales_follows_the_enter_sales_permission(
    db: sessionmaker[Session], clock: ManualClock, vault: Vault, registry: SourceRegistry
) -> None:
    """A bookkeeper keys in a sale; support staff may not put sales in a merchant's books
    (403, nothing kept); an admin may."""
    app = accounts_app(db, clock, vault, registry)
    keys = {
        name: key_of(db, clock, add_user(db, clock, f"{name}@example.com", role, tenant))
        for name, role, tenant in (
            ("bookkeeper", Role.BOOKKEEPER, "demo"),
            ("tier1", Role.TIER1, None),
            ("developer", Role.DEVELOPER, None),
            ("admin", Role.ADMIN, None),
        )
    }
    first, second = sales()[:2]
    with TestClient(app, raise_server_exceptions=False) as client:
        for staff in ("tier1", "developer"):
            refused = client.post(SALES, json=entry(first), headers=bearer(keys[staff]))
            assert refused.status_code == 403, refused.text
            assert refused.json()["error"] == "not_allowed"
        assert inbox(db) == []
        kept = client.post(SALES, json=entry(first), headers=bearer(keys["bookkeeper"]))
        assert kept.status_code == 201, kept.text
        admin = client.post(SALES, json=entry(second, "TILL-2"), headers=bearer(keys["admin"]))
        assert admin.status_code == 201, admin.text


def test_a_signed_in_owner_enters_a_sale_with_the_csrf_token(
    db: sessionmaker[Session], clock: ManualClock, vault: Vault, registry: SourceRegistry
) -> None:
    """From the dashboard, the session cookie alone is refused (403 csrf, nothing kept);
    with the page's CSRF token the sale is booked."""
    add_user(db, clock, "owner@example.com", Role.OWNER, "demo")
    app = accounts_app(db, clock, vault, registry)
    with TestClient(app, raise_server_exceptions=False) as browser:
        assert sign_in(browser, "owner@example.com") == 303
        body = entry(sales()[0])
        refused = browser.post(SALES, json=body)
        assert refused.status_code == 403
        assert refused.json()["error"] == "csrf"
        assert inbox(db) == []
        token = csrf_of(browser.get("/account").text)
        booked = browser.post(SALES, json=body, headers={"X-CSRF-Token": token})
        assert booked.status_code == 201, booked.text
