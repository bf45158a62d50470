"""Xero names on each sale the contact the mapping's customer policy decides: found by
the buyer's email, else named, created, or held."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from destination_contract import MERCHANT, sample_postings
from xero_harness import XeroHarness

from salesync.connectors.destination import Posting
from salesync.connectors.xero.forms import number_for
from salesync.domain.documents import Customer, Sale
from salesync.domain.errors import ErrorKind
from salesync.domain.planning import plan_per_order
from salesync.rules.customers import CustomerIntent, CustomerPolicy, CustomerRule
from salesync.sandbox.xero.lists import build_contact

TENANT = MERCHANT.tenant.id
ADA = Customer("c-ada", TENANT, "Ada Lovelace", "ada@example.com")
GRACE = Customer("c-grace", TENANT, "Grace Hopper", "grace@example.com")
CASH_SALES = CustomerPolicy(CustomerRule.MATCH_BY_EMAIL, "Cash Sales")
CREATE = CustomerPolicy(CustomerRule.CREATE)
WEB_STORE = CustomerPolicy(CustomerRule.NAMED_CUSTOMER, "Web store")
ERROR = CustomerPolicy(CustomerRule.ERROR)


@pytest.fixture(scope="module")
def template_sale() -> Sale:
    """A one-tender Brooklyn sale: a receive money transaction by default."""
    first = sample_postings()[0].documents[0]
    assert isinstance(first, Sale)
    assert len(first.payments) == 1
    return first


@pytest.fixture
def buying(template_sale: Sale) -> Callable[..., Posting]:
    """A sale by a buyer, its posting carrying the intent a policy decides by."""

    def make(external_id: str, buyer: Customer | None, policy: CustomerPolicy) -> Posting:
        sale = replace(
            template_sale,
            id=f"{template_sale.id}-{external_id}",
            external_id=external_id,
            customer_id=buyer.id if buyer is not None else None,
        )
        planned = plan_per_order(sale, MERCHANT.locations[0])
        customers = {sale.id: CustomerIntent(policy, 2, buyer)}
        return Posting(planned.key, planned.mode, planned.entry, (sale,), customers=customers)

    return make


def contact_of(xero: XeroHarness, posting: Posting) -> dict[str, Any]:
    """The contact the posting's receive money transaction, or invoice, names."""
    number = number_for(posting.key)
    for found in xero.org.all("BankTransactions"):
        if found["Reference"].startswith(f"{number} "):
            return dict(found["Contact"])
    invoice = next(i for i in xero.org.all("Invoices") if i["InvoiceNumber"] == number)
    return dict(invoice["Contact"])


def post(xero: XeroHarness, postings: list[Posting]) -> None:
    written = xero.open().post(postings)
    assert all(w.ref for w in written), [w.error for w in written]


def contacts_named(xero: XeroHarness, name: str) -> list[dict[str, Any]]:
    return [c for c in xero.org.all("Contacts") if c["Name"] == name]


def test_a_buyer_whose_email_a_contact_has_is_named_on_the_sale(
    xero: XeroHarness, buying: Callable[..., Posting]
) -> None:
    """The organisation's contact holding the buyer's email (in any case) is the sale's,
    whatever its name, under match_by_email and create alike."""
    ada = build_contact(xero.org, {"Name": "A. Lovelace", "EmailAddress": "ADA@example.com"}, None)
    postings = [buying("S-1", ADA, CASH_SALES), buying("S-2", ADA, CREATE)]
    post(xero, postings)
    assert {contact_of(xero, p)["ContactID"] for p in postings} == {ada["ContactID"]}
    assert contacts_named(xero, "Ada Lovelace") == []


def test_under_create_a_new_buyer_is_created_once_with_their_email(
    xero: XeroHarness, buying: Callable[..., Posting]
) -> None:
    """The first sale creates the contact from the buyer's name and email; the buyer's
    later sales, in the same call or the next books opened, name it."""
    first = [buying("S-1", ADA, CREATE), buying("S-2", ADA, CREATE)]
    post(xero, first)
    later = buying("S-3", ADA, CREATE)
    post(xero, [later])
    [created] = contacts_named(xero, "Ada Lovelace")
    assert created["EmailAddress"] == "ada@example.com"
    named = {contact_of(xero, p)["ContactID"] for p in [*first, later]}
    assert named == {created["ContactID"]}


def test_under_named_customer_every_sale_names_the_named_contact(
    xero: XeroHarness, buying: Callable[..., Posting]
) -> None:
    """No buyer is looked up: sales with a buyer whose email a contact has, and without
    a buyer, all name "Web store", created once."""
    build_contact(xero.org, {"Name": "Ada Lovelace", "EmailAddress": "ada@example.com"}, None)
    postings = [buying("S-1", ADA, WEB_STORE), buying("S-2", None, WEB_STORE)]
    post(xero, postings)
    [web] = contacts_named(xero, "Web store")
    assert {contact_of(xero, p)["ContactID"] for p in postings} == {web["ContactID"]}


def test_under_error_a_buyer_no_contact_has_is_held_with_a_mapping_error(
    xero: XeroHarness, buying: Callable[..., Posting]
) -> None:
    """The sale is refused alone with a mapping error naming the buyer's email; the
    other sale of the call, whose buyer is a contact, is written."""
    build_contact(xero.org, {"Name": "Grace Hopper", "EmailAddress": "grace@example.com"}, None)
    held, written = xero.open().post([buying("S-1", ADA, ERROR), buying("S-2", GRACE, ERROR)])
    assert held.error is not None
    assert written.ref is not None
    assert held.error.kind is ErrorKind.MAPPING
    assert held.error.code == "unmatched_customer"
    assert "ada@example.com" in held.error.message
    assert contacts_named(xero, "Ada Lovelace") == []


def test_a_sale_naming_no_buyer_goes_to_the_named_fallback(
    xero: XeroHarness, buying: Callable[..., Posting]
) -> None:
    """Under match_by_email a sale without a buyer, and one whose buyer no contact
    matches, both name the fallback contact, created once."""
    postings = [buying("S-1", None, CASH_SALES), buying("S-2", GRACE, CASH_SALES)]
    post(xero, postings)
    [cash] = contacts_named(xero, "Cash Sales")
    assert {contact_of(xero, p)["ContactID"] for p in postings} == {cash["ContactID"]}
    assert contacts_named(xero, "Grace Hopper") == []


def test_every_email_of_a_call_is_looked_up_in_one_read(
    xero: XeroHarness, buying: Callable[..., Posting]
) -> None:
    """Four sales of two buyers cost one filtered read of contacts by email, then the
    read of contacts by name, however many sales each buyer has."""
    postings = [buying(f"S-{n}", buyer, CASH_SALES) for n, buyer in enumerate([ADA, GRACE] * 2)]
    before = len(xero.org.requests)
    post(xero, postings)
    seen = [r.operation for r in xero.org.requests[before:] if r.operation.endswith("Contacts")]
    assert seen == ["get:Contacts", "get:Contacts", "put:Contacts"]


def test_under_invoices_the_decided_contact_is_named_too(
    start: Callable[..., XeroHarness], buying: Callable[..., Posting]
) -> None:
    """The invoice sales form names the decided contact as the bank transaction does."""
    xero = start(sales_form="invoice", customers="each")
    posting = buying("S-1", ADA, CREATE)
    post(xero, [posting])
    [created] = contacts_named(xero, "Ada Lovelace")
    assert contact_of(xero, posting)["ContactID"] == created["ContactID"]
