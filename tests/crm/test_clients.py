"""Clients in the CRM: merged by email and phone across sources, with field-level
direction rules (a CRM edit wins; a new contact method is added, not swapped in)."""

from __future__ import annotations

import pytest

from salesync.crm.clients import Clients
from salesync.crm.contacts import ContactKind, ContactMethod
from salesync.domain.documents import Customer, Tenant
from salesync.domain.errors import ValidationError
from salesync.store.repositories import Directory, Tenants
from salesync.store.tables import CrmClientRow

from .world import TENANT, Shop


def bring(crm: Clients, customer: Customer) -> CrmClientRow:
    """The customer as a source lists it, then brought into the CRM."""
    Directory(crm.session, crm.tenant_id).put_customer(customer)
    return crm.from_source(customer)


def email(value: str) -> ContactMethod:
    return ContactMethod(ContactKind.EMAIL, value)


def phone(value: str) -> ContactMethod:
    return ContactMethod(ContactKind.PHONE, value)


def test_two_records_of_one_client_merge_by_email_keeping_every_contact_method(
    shop: Shop,
) -> None:
    """Square and Shopify each know Ada, with the same email typed differently and a
    phone of their own: she is one client with the email and both phones."""
    with shop.db() as session, session.begin():
        crm = Clients(session, TENANT, shop.clock)
        bring(crm, Customer("square:A", TENANT, "Ada Lovelace", "ada@example.com", "212 555 0100"))
        bring(crm, Customer("shopify:7", TENANT, "Ada L.", " ADA@Example.com ", "(646) 555-0111"))
        [ada] = crm.all()
    assert ada.customers == ("shopify:7", "square:A")
    assert set(ada.contacts) == {email("ada@example.com"), phone("2125550100"), phone("6465550111")}
    assert (ada.email, ada.phone) == ("ada@example.com", "2125550100")


def test_a_record_naming_two_clients_contact_methods_merges_them_with_their_sales(
    shop: Shop,
) -> None:
    """One client known by email, another by phone; a record with both reveals one person:
    the older client keeps the other's contacts and source customers, and the other
    resolves to it."""
    with shop.db() as session, session.begin():
        crm = Clients(session, TENANT, shop.clock)
        first = bring(crm, Customer("square:A", TENANT, "Ada", "ada@example.com")).id
        second = bring(crm, Customer("square:B", TENANT, "A. Lovelace", None, "2125550100")).id
        bring(crm, Customer("shopify:9", TENANT, "Ada", "ada@example.com", "212-555-0100"))
        assert crm.resolve(second).id == first
        [ada] = crm.all()
    assert ada.customers == ("shopify:9", "square:A", "square:B")
    assert set(ada.contacts) == {email("ada@example.com"), phone("2125550100")}


def test_a_name_edited_in_the_crm_is_never_overwritten_by_the_pos(shop: Shop) -> None:
    """The POS renames a client it still owns; once someone edits the name in the CRM,
    later POS renames leave it alone."""
    with shop.db() as session, session.begin():
        crm = Clients(session, TENANT, shop.clock)
        client = bring(crm, Customer("square:A", TENANT, "Ada", "ada@example.com"))
        bring(crm, Customer("square:A", TENANT, "Ada Lovelace", "ada@example.com"))
        assert crm.get(client.id).name == "Ada Lovelace"
        crm.edit(client.id, name="Augusta Ada King")
        bring(crm, Customer("square:A", TENANT, "Ada K.", "ada@example.com"))
        found = crm.get(client.id)
    assert (found.name, found.origins["name"]) == ("Augusta Ada King", "crm")


def test_a_new_email_from_the_pos_is_added_not_swapped_in(shop: Shop) -> None:
    """The POS changes a client's email: the new address is added to the client's
    contacts and the preferred one stays, so no way of reaching her is lost."""
    with shop.db() as session, session.begin():
        crm = Clients(session, TENANT, shop.clock)
        client = bring(crm, Customer("square:A", TENANT, "Ada", "ada@example.com"))
        bring(crm, Customer("square:A", TENANT, "Ada", "ada@newmail.example"))
        found = crm.get(client.id)
    assert found.email == "ada@example.com"
    assert found.contacts == (email("ada@example.com"), email("ada@newmail.example"))


def test_an_edit_in_the_crm_sets_the_preferred_email_and_a_source_keeps_it(shop: Shop) -> None:
    """An email given in the CRM becomes where messages go, and a source's later value
    is only added beside it."""
    with shop.db() as session, session.begin():
        crm = Clients(session, TENANT, shop.clock)
        client = bring(crm, Customer("square:A", TENANT, "Ada", "ada@example.com"))
        crm.edit(client.id, email="ada@home.example")
        bring(crm, Customer("square:A", TENANT, "Ada", "ada@work.example"))
        found = crm.get(client.id)
    assert (found.email, found.origins["email"]) == ("ada@home.example", "crm")
    assert len(found.contacts) == 3


def test_a_crm_edit_with_another_clients_email_or_a_bad_phone_says_what_to_fix(
    shop: Shop,
) -> None:
    """An edit that gives an email another client has, and a phone that is no number, is
    refused with a problem for each field."""
    with shop.db() as session, session.begin():
        crm = Clients(session, TENANT, shop.clock)
        bring(crm, Customer("square:A", TENANT, "Ada", "ada@example.com"))
        grace = bring(crm, Customer("square:G", TENANT, "Grace", "grace@example.com"))
        with pytest.raises(ValidationError) as caught:
            crm.edit(grace.id, email="ADA@example.com", phone="ext. 12", name=" ")
    problems = {p.path: p.code for p in caught.value.problems}
    assert problems == {"email": "email_taken", "phone": "bad_phone", "name": "empty_name"}


def test_clients_of_two_merchants_never_merge_though_they_share_an_email(shop: Shop) -> None:
    """Ada shops at two merchants with the same email: each merchant's CRM has its own
    client, and neither finds the other's."""
    with shop.db() as session, session.begin():
        Tenants(session).add(Tenant("other", "Other Shop"))
        mine = bring(
            Clients(session, TENANT, shop.clock),
            Customer("square:A", TENANT, "Ada", "ada@example.com"),
        )
        theirs = bring(
            Clients(session, "other", shop.clock),
            Customer("square:A", "other", "Ada L.", "ada@example.com"),
        )
        assert mine.id != theirs.id
        assert [c.id for c in Clients(session, TENANT, shop.clock).all()] == [mine.id]
        found = Clients(session, "other", shop.clock).find("ada@example.com")
        assert found is not None
        assert found.id == theirs.id
        with pytest.raises(ValidationError):
            Clients(session, "other", shop.clock).resolve(mine.id)
