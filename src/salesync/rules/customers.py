"""Customer policy: which customer in the books a sale is recorded against.

Every policy but ``named_customer`` first looks the buyer up by email; they differ in what
happens when that finds no one:

- ``match_by_email``: the one named customer (``name``), such as "Walk-in";
- ``create``: a new customer from the buyer's name and email;
- ``error``: nothing; the sale is held with a ``mapping`` error until the customer exists;
- ``named_customer``: no lookup; every sale goes to ``name``, such as "Web store".
"""

from __future__ import annotations

import enum
from collections import abc
from dataclasses import dataclass
from typing import TYPE_CHECKING

from salesync.domain.documents import Customer, Sale
from salesync.domain.errors import MappingError

if TYPE_CHECKING:
    from salesync.rules.mapping import Mapping


class CustomerRule(enum.StrEnum):
    MATCH_BY_EMAIL = "match_by_email"
    CREATE = "create"
    NAMED_CUSTOMER = "named_customer"
    ERROR = "error"


_NEEDS_NAME = frozenset({CustomerRule.MATCH_BY_EMAIL, CustomerRule.NAMED_CUSTOMER})


@dataclass(frozen=True, slots=True)
class CustomerPolicy:
    """A customer rule, with the named customer for the rules that fall back to one."""

    rule: CustomerRule
    name: str | None = None

    def __post_init__(self) -> None:
        rule = CustomerRule(self.rule)
        object.__setattr__(self, "rule", rule)
        if rule in _NEEDS_NAME and not self.name:
            raise ValueError(f"customer policy {rule.value} needs the name of a customer")
        if rule not in _NEEDS_NAME and self.name is not None:
            raise ValueError(f"customer policy {rule.value} uses no named customer")


@dataclass(frozen=True, slots=True)
class ExistingCustomer:
    """Record the sale against this customer, already in the books."""

    customer_id: str


@dataclass(frozen=True, slots=True)
class NewCustomer:
    """Create this customer in the books, then record the sale against them."""

    name: str
    email: str | None


@dataclass(frozen=True, slots=True)
class NamedCustomer:
    """Record the sale against the one customer of this name."""

    name: str


CustomerDecision = ExistingCustomer | NewCustomer | NamedCustomer


def email_key(email: str) -> str:
    """An email as customer lookups compare it: trimmed, case folded."""
    return email.strip().casefold()


@dataclass(frozen=True, slots=True)
class CustomerIntent:
    """What one sale asks of the books' customers: the mapping's policy, under the version
    the sale's posting was planned with, and the source's record of the buyer (None when
    the sale names none, or its source never sent the record)."""

    policy: CustomerPolicy
    mapping_version: int
    buyer: Customer | None = None

    @property
    def email(self) -> str | None:
        """The buyer's email, when there is one to look up (not under ``named_customer``)."""
        if self.policy.rule is CustomerRule.NAMED_CUSTOMER or self.buyer is None:
            return None
        return self.buyer.email or None

    def decide(
        self, sale: Sale, known_customers_by_email: abc.Mapping[str, str]
    ) -> CustomerDecision:
        """Decide the customer of ``sale`` by the policy; see ``customer_for``."""
        policy, customer = self.policy, self.buyer
        if policy.rule is CustomerRule.NAMED_CUSTOMER:
            return NamedCustomer(str(policy.name))
        email = self.email
        if email:
            found = known_customers_by_email.get(email_key(email))
            if found is not None:
                return ExistingCustomer(found)
        if policy.rule is CustomerRule.MATCH_BY_EMAIL:
            return NamedCustomer(str(policy.name))
        if policy.rule is CustomerRule.CREATE and customer is not None:
            return NewCustomer(customer.name, customer.email)
        if customer is None:
            reason = "names no buyer"
        elif not email:
            reason = f"names buyer {customer.id}, who has no email to match"
        else:
            reason = f"names buyer {email}, who matches no customer in the books"
        raise MappingError(
            f"sale {sale.external_id} {reason}; add the customer to the books, or choose "
            f"another customer policy than {policy.rule.value} in the mapping (version "
            f"{self.mapping_version})",
            user_message=f"Sale {sale.external_id} has no customer in your books to record it on.",
            code="unmatched_customer",
            location=sale.location_id,
            documents=(sale.id,),
            details={"email": email or "", "policy": policy.rule.value},
        )


def customer_for(
    mapping: Mapping,
    sale: Sale,
    known_customers_by_email: abc.Mapping[str, str],
    customer: Customer | None = None,
) -> CustomerDecision:
    """Decide the customer of ``sale`` by the mapping's policy.

    ``known_customers_by_email`` maps emails, written by ``email_key``, to customer ids in
    the books (indexed once by the caller, not per sale); ``customer`` is the source's record
    of the buyer the sale names, if it names one.
    """
    if customer is None and sale.customer_id is not None:
        raise ValueError(f"sale {sale.external_id} names customer {sale.customer_id}; pass it")
    if customer is not None and customer.id != sale.customer_id:
        raise ValueError(f"customer {customer.id} is not the buyer of sale {sale.external_id}")
    intent = CustomerIntent(mapping.customer_policy, mapping.version, customer)
    return intent.decide(sale, known_customers_by_email)
