"""Customer policy: which customer in the books a sale is recorded against."""

from __future__ import annotations

import dataclasses

import pytest

from salesync.domain.documents import Customer
from salesync.domain.errors import ErrorKind, MappingError
from salesync.rules import (
    CustomerDecision,
    CustomerPolicy,
    CustomerRule,
    ExistingCustomer,
    NamedCustomer,
    NewCustomer,
    customer_for,
    email_key,
)

from .builders import card, line, sale
from .strategies import mapping_of

KNOWN = {email_key("Ana@Example.com"): "qbo-17"}
ANA = Customer("cust-1", "harbor", "Ana Ruiz", " ana@example.COM ")
BEN = Customer("cust-2", "harbor", "Ben Okafor", "ben@example.com")
CHLOE = Customer("cust-3", "harbor", "Chloe", None)
WALK_IN = sale((line("MUG-005", "Homeware"),), (card("10.00"),))


def decide(rule: CustomerRule, customer: Customer | None, name: str | None = None) -> object:
    mapping = dataclasses.replace(mapping_of(version=4), customer_policy=CustomerPolicy(rule, name))
    document = WALK_IN
    if customer is not None:
        document = dataclasses.replace(WALK_IN, customer_id=customer.id)
    return customer_for(mapping, document, KNOWN, customer)


@pytest.mark.parametrize(
    ("rule", "name", "customer", "decision"),
    [
        (CustomerRule.MATCH_BY_EMAIL, "Walk-in", ANA, ExistingCustomer("qbo-17")),
        (CustomerRule.MATCH_BY_EMAIL, "Walk-in", BEN, NamedCustomer("Walk-in")),
        (CustomerRule.MATCH_BY_EMAIL, "Walk-in", CHLOE, NamedCustomer("Walk-in")),
        (CustomerRule.MATCH_BY_EMAIL, "Walk-in", None, NamedCustomer("Walk-in")),
        (CustomerRule.CREATE, None, ANA, ExistingCustomer("qbo-17")),
        (CustomerRule.CREATE, None, BEN, NewCustomer("Ben Okafor", "ben@example.com")),
        (CustomerRule.CREATE, None, CHLOE, NewCustomer("Chloe", None)),
        (CustomerRule.NAMED_CUSTOMER, "Web store", ANA, NamedCustomer("Web store")),
        (CustomerRule.NAMED_CUSTOMER, "Web store", None, NamedCustomer("Web store")),
        (CustomerRule.ERROR, None, ANA, ExistingCustomer("qbo-17")),
    ],
)
def test_policies_decide_the_customer(
    rule: CustomerRule, name: str | None, customer: Customer | None, decision: CustomerDecision
) -> None:
    """Email first (case and spaces aside), then the policy's own answer for no match."""
    assert decide(rule, customer, name) == decision


@pytest.mark.parametrize(
    ("rule", "customer", "message"),
    [
        (CustomerRule.ERROR, BEN, "names buyer ben@example.com, who matches no customer"),
        (CustomerRule.ERROR, CHLOE, "names buyer cust-3, who has no email to match"),
        (CustomerRule.ERROR, None, "names no buyer"),
        (CustomerRule.CREATE, None, "names no buyer"),
    ],
)
def test_a_sale_with_no_customer_to_match_or_create_is_held(
    rule: CustomerRule, customer: Customer | None, message: str
) -> None:
    """With nothing to match or create, the sale is held with a mapping error, not guessed."""
    with pytest.raises(MappingError, match=message) as caught:
        decide(rule, customer)
    assert caught.value.kind is ErrorKind.MAPPING
    assert caught.value.code == "unmatched_customer"
    assert "in the mapping (version 4)" in str(caught.value)


def test_the_buyer_record_must_be_the_sales_customer() -> None:
    """A sale naming a customer needs that customer's record, and no other one."""
    named = dataclasses.replace(WALK_IN, customer_id=ANA.id)
    mapping = mapping_of()
    with pytest.raises(ValueError, match="names customer cust-1; pass it"):
        customer_for(mapping, named, KNOWN)
    with pytest.raises(ValueError, match="customer cust-2 is not the buyer"):
        customer_for(mapping, named, KNOWN, BEN)


@pytest.mark.parametrize(
    ("rule", "name", "message"),
    [
        (CustomerRule.NAMED_CUSTOMER, None, "needs the name of a customer"),
        (CustomerRule.MATCH_BY_EMAIL, "", "needs the name of a customer"),
        (CustomerRule.CREATE, "Walk-in", "uses no named customer"),
        (CustomerRule.ERROR, "Walk-in", "uses no named customer"),
    ],
)
def test_a_policy_names_a_customer_exactly_when_it_uses_one(
    rule: CustomerRule, name: str | None, message: str
) -> None:
    """A missing fallback name, or one that would be ignored, is refused."""
    with pytest.raises(ValueError, match=message):
        CustomerPolicy(rule, name)
