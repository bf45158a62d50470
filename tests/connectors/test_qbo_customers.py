"""QuickBooks Online records each sale on the customer the mapping's customer policy
decides: found by the buyer's email, else named, created, or held."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from destination_contract import BROOKLYN, MERCHANT, START
from qbo_harness import QboHarness
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.connectors.destination import Posting
from salesync.domain.documents import (
    Customer,
    DocumentKind,
    Payment,
    Sale,
    SaleLine,
    TaxMode,
    document_id,
)
from salesync.domain.errors import ErrorKind
from salesync.domain.money import Money
from salesync.domain.planning import plan_per_order
from salesync.rules.customers import CustomerIntent, CustomerPolicy, CustomerRule
from salesync.sandbox.qbo.entities import save
from salesync.store.database import make_engine, migrate, session_factory
from salesync.store.repositories import Locations, Tenants

TENANT = MERCHANT.tenant.id
ADA = Customer("c-ada", TENANT, "Ada Lovelace", "ada@example.com")
GRACE = Customer("c-grace", TENANT, "Grace Hopper", "grace@example.com")
WALK_IN = CustomerPolicy(CustomerRule.MATCH_BY_EMAIL, "Walk-in Customer")
CREATE = CustomerPolicy(CustomerRule.CREATE)
WEB_STORE = CustomerPolicy(CustomerRule.NAMED_CUSTOMER, "Web store")
ERROR = CustomerPolicy(CustomerRule.ERROR)


def buying(
    external_id: str, buyer: Customer | None, policy: CustomerPolicy, *, intent: bool = True
) -> Posting:
    """A card sale by ``buyer``, its posting carrying the intent ``policy`` decides by."""
    price = Money(Decimal("20.00"), "USD")
    sale = Sale(
        id=document_id(TENANT, "pos", DocumentKind.SALE, external_id),
        tenant_id=TENANT,
        location_id=BROOKLYN.id,
        source="pos",
        external_id=external_id,
        occurred_at=datetime(2026, 3, 5, 15, 0, tzinfo=UTC),
        currency="USD",
        tax_mode=TaxMode.EXCLUSIVE,
        lines=(SaleLine("SKU-1", "Apparel", "Apparel", Decimal(1), price),),
        payments=(Payment("card", price),),
        customer_id=buyer.id if buyer is not None else None,
    )
    planned = plan_per_order(sale, BROOKLYN)
    customers = {sale.id: CustomerIntent(policy, 3, buyer)} if intent else {}
    return Posting(planned.key, planned.mode, planned.entry, (sale,), customers=customers)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database with the merchant, copied for each test."""
    path = tmp_path_factory.mktemp("qbo-customers") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    with session_factory(engine)() as session, session.begin():
        Tenants(session).add(MERCHANT.tenant)
        Locations(session, TENANT).add(BROOKLYN)
    engine.dispose()
    return path


@pytest.fixture
def qbo(template: Path, tmp_path: Path) -> Iterator[QboHarness]:
    path = tmp_path / "salesync.db"
    shutil.copy(template, path)
    engine = make_engine(f"sqlite:///{path}")
    factory: sessionmaker[Session] = session_factory(engine)
    harness = QboHarness.start(factory, ManualClock(START), TENANT)
    yield harness
    harness.close()
    engine.dispose()


class EmailLookups(httpx.BaseTransport):
    """The sandbox, keeping the calls and queries that look a customer up by email."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.seen: list[str] = []
        self.calls = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        statements = [request.url.params.get("query", "")]
        if request.url.path.endswith("/batch"):
            request.read()
            items = json.loads(request.content or b"{}").get("BatchItemRequest", [])
            statements = [str(i.get("Query", "")) for i in items if isinstance(i, dict)]
        found = [s for s in statements if "PrimaryEmailAddr" in s]
        self.seen.extend(found)
        self.calls += bool(found)
        return self.inner.handle_request(request)


def post(
    qbo: QboHarness, postings: list[Posting], transport: httpx.BaseTransport | None = None
) -> list[str]:
    """Post and return the references, failing on any refusal."""
    written = qbo.open(transport=transport).post(postings)
    assert all(w.ref for w in written), [w.error for w in written]
    return [str(w.ref) for w in written]


def customer_of(receipt: dict[str, object]) -> str:
    ref = receipt["CustomerRef"]
    assert isinstance(ref, dict)
    return str(ref["value"])


def test_a_buyer_whose_email_a_customer_has_is_recorded_on_that_customer(
    qbo: QboHarness,
) -> None:
    """The company's customer holding the buyer's email is the sale's, whatever its name."""
    ada = save(
        qbo.company,
        "Customer",
        {"DisplayName": "A. Lovelace", "PrimaryEmailAddr": {"Address": "ada@example.com"}},
    )
    post(qbo, [buying("S-1", ADA, WALK_IN), buying("S-2", ADA, CREATE)])
    assert [customer_of(r) for r in qbo.stored("SalesReceipt")] == [ada["Id"], ada["Id"]]
    assert len(qbo.stored("Customer")) == 2  # the seeded walk-in customer and Ada


def test_under_create_a_new_buyer_is_created_once_with_their_email(qbo: QboHarness) -> None:
    """The first sale creates the customer from the buyer's name and email; the buyer's
    later sales, in the same call or the next, are recorded on it."""
    post(qbo, [buying("S-1", ADA, CREATE), buying("S-2", ADA, CREATE)])
    post(qbo, [buying("S-3", ADA, CREATE)])
    created = [c for c in qbo.stored("Customer") if c["DisplayName"] == "Ada Lovelace"]
    assert len(created) == 1
    assert created[0]["PrimaryEmailAddr"]["Address"] == "ada@example.com"
    receipts = qbo.stored("SalesReceipt")
    assert {customer_of(r) for r in receipts} == {created[0]["Id"]}
    assert len(receipts) == 3


def test_under_named_customer_every_sale_is_recorded_on_the_named_customer(
    qbo: QboHarness,
) -> None:
    """No buyer is looked up: every sale, with a buyer or without, names "Web store",
    created once."""
    save(
        qbo.company,
        "Customer",
        {"DisplayName": "Ada Lovelace", "PrimaryEmailAddr": {"Address": "ada@example.com"}},
    )
    lookups = EmailLookups(qbo.transport)
    post(qbo, [buying("S-1", ADA, WEB_STORE), buying("S-2", None, WEB_STORE)], lookups)
    post(qbo, [buying("S-3", GRACE, WEB_STORE)], lookups)
    [web] = [c for c in qbo.stored("Customer") if c["DisplayName"] == "Web store"]
    assert {customer_of(r) for r in qbo.stored("SalesReceipt")} == {web["Id"]}
    assert lookups.seen == []


def test_under_error_a_buyer_no_customer_has_is_held_with_a_mapping_error(
    qbo: QboHarness,
) -> None:
    """The sale is refused alone with a mapping error naming the buyer's email; the
    other sale of the call, whose buyer is a customer, is written."""
    save(
        qbo.company,
        "Customer",
        {"DisplayName": "Grace Hopper", "PrimaryEmailAddr": {"Address": "grace@example.com"}},
    )
    held, written = qbo.open().post([buying("S-1", ADA, ERROR), buying("S-2", GRACE, ERROR)])
    assert held.error is not None
    assert written.ref is not None
    assert held.error.kind is ErrorKind.MAPPING
    assert held.error.code == "unmatched_customer"
    assert "ada@example.com" in held.error.message
    assert held.error.details["email"] == "ada@example.com"
    assert len(qbo.stored("SalesReceipt")) == 1


def test_a_sale_naming_no_buyer_goes_to_the_named_fallback(qbo: QboHarness) -> None:
    """Under ``match_by_email`` a sale without a buyer, and one whose buyer no customer
    matches, are both recorded on the walk-in customer, which exists already."""
    post(qbo, [buying("S-1", None, WALK_IN), buying("S-2", GRACE, WALK_IN)])
    [walk_in] = qbo.stored("Customer")
    assert [customer_of(r) for r in qbo.stored("SalesReceipt")] == [walk_in["Id"]] * 2


def test_an_invoice_names_the_customer_the_mapping_decides(qbo: QboHarness) -> None:
    """Invoices name the decided customer rather than the walk-in customer of the
    connection's settings, which speak only for sales without an intent."""
    qbo.configure(sales_form="invoice", customers="each")
    post(qbo, [buying("S-1", ADA, CREATE), buying("S-2", ADA, CREATE, intent=False)])
    first, second = qbo.stored("Invoice")
    [ada] = [c for c in qbo.stored("Customer") if c["DisplayName"] == "Ada Lovelace"]
    assert customer_of(first) == ada["Id"]
    assert second["CustomerRef"]["name"] == "Pos customer c-ada"


def test_each_email_is_looked_up_once_per_call(qbo: QboHarness) -> None:
    """Three sales of one buyer and one of another in one call cost one batch call
    holding one lookup per email."""
    lookups = EmailLookups(qbo.transport)
    sales = [buying(f"S-{n}", ADA, WALK_IN) for n in range(3)]
    post(qbo, [*sales, buying("S-3", GRACE, WALK_IN)], lookups)
    assert lookups.calls == 1
    assert sorted(lookups.seen) == [
        "select * from Customer where PrimaryEmailAddr = 'ada@example.com'",
        "select * from Customer where PrimaryEmailAddr = 'grace@example.com'",
    ]


def test_the_sandbox_filters_customers_by_their_email(qbo: QboHarness) -> None:
    """``PrimaryEmailAddr = '...'`` answers the customers holding that address only."""
    ada = save(
        qbo.company,
        "Customer",
        {"DisplayName": "Ada", "PrimaryEmailAddr": {"Address": "ada@example.com"}},
    )
    client = qbo.open().client  # type: ignore[attr-defined]
    found = client.query("select * from Customer where PrimaryEmailAddr = 'ada@example.com'")
    assert [c["Id"] for c in found["Customer"]] == [ada["Id"]]
    assert client.query("select * from Customer where PrimaryEmailAddr = 'no@example.com'") == {}


def test_a_posting_without_intents_keeps_the_settings_behaviour(qbo: QboHarness) -> None:
    """Postings carrying no intent (planned without a mapping) name no customer by default."""
    post(qbo, [replace(buying("S-1", ADA, CREATE), customers={})])
    assert "CustomerRef" not in qbo.stored("SalesReceipt")[0]
    assert len(qbo.stored("Customer")) == 1
