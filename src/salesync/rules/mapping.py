"""Versioned mapping rules: which account, item, tax code or class each source value goes to.

A ``Mapping`` is an ordered list of rules per target plus the accounts of the fixed roles.
The first rule whose condition holds decides; when none does, the value is unmapped and
the document is held with a ``mapping`` error naming the value and where to map it. There
is no fallback unless the mapping itself has a catch-all rule (condition ``true``).

A rule's account may name fields in braces, ``Income:Sales:{category}``: each is filled
with the fact's value made into an account name part, as ``AccountPlan`` does.
"""

from __future__ import annotations

import enum
import re
from collections import abc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from functools import partial

from salesync.domain.documents import (
    LineKind,
    Payment,
    Payout,
    Refund,
    RefundLine,
    Sale,
    SaleLine,
    TaxLine,
)
from salesync.domain.errors import MappingError
from salesync.domain.journal import account_component, check_account_name
from salesync.domain.postings import Placement
from salesync.domain.validation import Problem
from salesync.rules.conditions import Condition, FieldType, Value, literal, parse
from salesync.rules.customers import CustomerPolicy

UNMAPPED = "unmapped_value"


class Target(enum.StrEnum):
    """What a rule maps: a line's income account, a tax, a tender, or a location's class."""

    INCOME = "income"
    TAX = "tax"
    TENDER = "tender"
    LOCATION = "location"


_TEXT = FieldType.TEXT
_CONTEXT = {"location": _TEXT, "currency": _TEXT, "source": _TEXT}
FIELDS: abc.Mapping[Target, abc.Mapping[str, FieldType]] = {
    Target.INCOME: {"sku": _TEXT, "name": _TEXT, "category": _TEXT, "kind": _TEXT} | _CONTEXT,
    Target.TAX: {"tax_name": _TEXT, "rate": FieldType.NUMBER} | _CONTEXT,
    Target.TENDER: {"tender": _TEXT, "card_brand": _TEXT} | _CONTEXT,
    Target.LOCATION: {"location": _TEXT},
}
"""The facts a rule of each target may test."""

_PLACEHOLDER = re.compile(r"\{([A-Za-z_]*)\}")


def _check_template(account: str, target: Target) -> None:
    for name in _PLACEHOLDER.findall(account):
        if name not in FIELDS[target]:
            known = ", ".join(sorted(FIELDS[target]))
            raise ValueError(
                f"account {account!r}: {{{name}}} is not a field of {target.value} rules "
                f"(known fields: {known})"
            )
    # A filled placeholder is always a valid name part, as "X" is.
    check_account_name(_PLACEHOLDER.sub("X", account))


def _render(account: str, facts: abc.Mapping[str, Value]) -> str:
    return _PLACEHOLDER.sub(lambda m: account_component(str(facts[m.group(1)])), account)


_ONLY_ON = {"item": Target.INCOME, "tax_code": Target.TAX, "klass": Target.LOCATION}


@dataclass(frozen=True, slots=True)
class Rule:
    """When ``when`` holds for a value of ``target``, map it to these destination values.

    Income, tax and tender rules need an account; location rules set a class (``klass``)
    and no account. ``item``, ``tax_code`` and ``klass`` belong to one target each, and are
    refused elsewhere rather than silently ignored.
    """

    target: Target
    when: str
    account: str | None = None
    item: str | None = None
    tax_code: str | None = None
    klass: str | None = None
    condition: Condition = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        target = Target(self.target)
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "condition", parse(self.when, FIELDS[target]))
        what = f"{target.value} rule {self.when!r}"
        if target is Target.LOCATION:
            if self.account is not None:
                raise ValueError(f"{what}: a location rule sets a class (klass), not an account")
            if not self.klass:
                raise ValueError(f"{what}: name the class or department in klass")
        elif self.account is None:
            raise ValueError(f"{what}: name the account, such as 'Income:Sales'")
        else:
            _check_template(self.account, target)
        for name, owner in _ONLY_ON.items():
            value = getattr(self, name)
            if value is not None and owner is not target:
                raise ValueError(f"{what}: {name} belongs on {owner.value} rules only")
            if value == "":
                raise ValueError(f"{what}: {name} is empty; name one or leave it out")


@dataclass(frozen=True, slots=True)
class FixedAccounts:
    """The accounts of the roles that do not depend on a source value."""

    discounts: str
    returns: str
    shipping: str
    service_charges: str
    tips: str
    gift_cards: str
    bank: str
    fees: str
    payout_adjustments: str
    rounding: str

    def __post_init__(self) -> None:
        for role in fields(self):
            try:
                check_account_name(getattr(self, role.name))
            except ValueError as error:
                raise ValueError(f"fixed account for {role.name}: {error}") from None


@dataclass(frozen=True, slots=True)
class Mapping:
    """One published version of a tenant's mapping rules."""

    version: int
    rules: tuple[Rule, ...]
    accounts: FixedAccounts
    customer_policy: CustomerPolicy
    payout_tender: str
    """The tender whose clearing account a payout empties into the bank."""

    def __post_init__(self) -> None:
        if isinstance(self.version, bool) or not isinstance(self.version, int):
            raise TypeError(f"mapping version must be an int, not {self.version!r}")
        if self.version < 1:
            raise ValueError(f"mapping versions start at 1, not {self.version}")
        if not self.payout_tender:
            raise ValueError("name the tender a payout settles, such as 'card'")
        object.__setattr__(self, "rules", tuple(self.rules))
        catch_all: dict[Target, int] = {}
        for i, rule in enumerate(self.rules):
            if rule.target in catch_all:
                raise ValueError(
                    f"rules[{i}] ({rule.when!r}) can never match: rules[{catch_all[rule.target]}]"
                    f" before it matches every {rule.target.value} value"
                )
            if rule.condition.is_catch_all:
                catch_all[rule.target] = i

    def rules_for(self, target: Target) -> tuple[Rule, ...]:
        return tuple(rule for rule in self.rules if rule.target is target)

    def match(self, target: Target, facts: abc.Mapping[str, Value]) -> Rule | None:
        """The first rule of ``target`` whose condition holds for ``facts``, if any."""
        for rule in self.rules:
            if rule.target is target and rule.condition.evaluate(facts):
                return rule
        return None

    def class_for(self, location_id: str) -> str | None:
        """The class of a location; None when the mapping tracks no classes (no location rules).

        Once any location rule exists, a location none of them matches is unmapped.
        """
        if not self.rules_for(Target.LOCATION):
            return None
        rule = self.match(Target.LOCATION, {"location": location_id})
        if rule is None:
            raise _unmapped(
                self,
                Target.LOCATION,
                "location",
                location_id,
                f"location {location_id!r} has no class",
                location=location_id,
            )
        return rule.klass

    def placement_for(self, document: Sale | Refund | Payout) -> MappedPlacement:
        """A placement for ``document``: rules may test its location and source."""
        return MappedPlacement(self, document.location_id, document.source, (document.id,))


def _unmapped(
    mapping: Mapping,
    target: Target,
    fact: str,
    value: Value,
    what: str,
    *,
    location: str,
    documents: tuple[str, ...] = (),
) -> MappingError:
    kind = "a location rule" if target is Target.LOCATION else "a rule"
    message = f"{what}; add {kind} for {fact} {value!r} in the mapping (version {mapping.version})"
    return MappingError(
        message,
        user_message=f"{what[:1].upper()}{what[1:]}. Add it to your mappings to post the held "
        "records.",
        code=UNMAPPED,
        location=location,
        documents=documents,
        details={
            "target": target.value,
            "field": fact,
            "value": str(value),
            "mapping_version": mapping.version,
            "suggested_rule": f"{fact} == {literal(value)}",
        },
    )


@dataclass(frozen=True, slots=True)
class MappedPlacement(Placement):
    """Places a document's amounts by a mapping; refuses any value the mapping does not know."""

    mapping: Mapping
    location: str
    source: str
    documents: tuple[str, ...] = ()

    @property
    def discounts(self) -> str:
        return self.mapping.accounts.discounts

    @property
    def returns(self) -> str:
        return self.mapping.accounts.returns

    @property
    def shipping(self) -> str:
        return self.mapping.accounts.shipping

    @property
    def service_charges(self) -> str:
        return self.mapping.accounts.service_charges

    @property
    def tips(self) -> str:
        return self.mapping.accounts.tips

    @property
    def gift_cards(self) -> str:
        return self.mapping.accounts.gift_cards

    @property
    def bank(self) -> str:
        return self.mapping.accounts.bank

    @property
    def fees(self) -> str:
        return self.mapping.accounts.fees

    @property
    def payout_adjustments(self) -> str:
        return self.mapping.accounts.payout_adjustments

    @property
    def rounding(self) -> str:
        return self.mapping.accounts.rounding

    def _facts(self, currency: str, **values: Value) -> dict[str, Value]:
        return {**values, "location": self.location, "currency": currency, "source": self.source}

    def _rule(
        self, target: Target, facts: dict[str, Value], fact: str, what: str
    ) -> tuple[Rule, dict[str, Value]]:
        rule = self.mapping.match(target, facts)
        if rule is None:
            raise _unmapped(
                self.mapping,
                target,
                fact,
                facts[fact],
                what,
                location=self.location,
                documents=self.documents,
            )
        return rule, facts

    def _line(self, line: SaleLine | RefundLine) -> tuple[Rule, dict[str, Value]]:
        facts = self._facts(
            line.unit_price.currency if isinstance(line, SaleLine) else line.amount.currency,
            sku=line.sku,
            name=line.name if isinstance(line, SaleLine) else "",
            category=line.category,
            kind=line.kind.value,
        )
        if line.category:
            what = f"SKU {line.sku} in category {line.category!r} has no income account"
            return self._rule(Target.INCOME, facts, "category", what)
        what = f"SKU {line.sku} has no category and no income account"
        return self._rule(Target.INCOME, facts, "sku", what)

    def _tax(self, tax: TaxLine) -> tuple[Rule, dict[str, Value]]:
        facts = self._facts(tax.amount.currency, tax_name=tax.name, rate=tax.rate)
        what = f"tax {tax.name!r} at rate {tax.rate} has no tax account"
        return self._rule(Target.TAX, facts, "tax_name", what)

    def _tender(self, payment: Payment) -> tuple[Rule, dict[str, Value]]:
        brand = payment.card_brand or ""
        facts = self._facts(payment.amount.currency, tender=payment.tender, card_brand=brand)
        what = f"tender {payment.tender!r}" + (f" (card brand {brand!r})" if brand else "")
        return self._rule(Target.TENDER, facts, "tender", what + " has no account")

    def income_for(self, line: SaleLine | RefundLine) -> str:
        rule, facts = self._line(line)
        return _render(str(rule.account), facts)

    def item_for(self, line: SaleLine | RefundLine) -> str | None:
        """The destination item for a line, when its rule names one."""
        return self._line(line)[0].item

    def tax_for(self, tax: TaxLine) -> str:
        rule, facts = self._tax(tax)
        return _render(str(rule.account), facts)

    def tax_code_for(self, tax: TaxLine) -> str | None:
        """The destination tax code for a tax line, when its rule names one."""
        return self._tax(tax)[0].tax_code

    def tender_for(self, payment: Payment) -> str:
        rule, facts = self._tender(payment)
        return _render(str(rule.account), facts)

    def payout_clearing(self, payout: Payout) -> str:
        return self.settlement_account(payout.currency)

    def settlement_account(self, currency: str) -> str:
        tender = self.mapping.payout_tender
        facts = self._facts(currency, tender=tender, card_brand="")
        what = f"payouts settle tender {tender!r}, which has no clearing account"
        rule, facts = self._rule(Target.TENDER, facts, "tender", what)
        return _render(str(rule.account), facts)


def _checks(
    placement: MappedPlacement, document: Sale | Refund
) -> Iterator[tuple[str, Callable[[], object]]]:
    """Each value of a sale or refund the placement must map, with its path."""
    lines: tuple[SaleLine | RefundLine, ...] = document.lines
    for i, line in enumerate(lines):
        if line.kind is not LineKind.GIFT_CARD:
            field = "category" if line.category else "sku"
            yield f"lines[{i}].{field}", partial(placement.income_for, line)
        for j, tax in enumerate(line.taxes):
            yield f"lines[{i}].taxes[{j}].name", partial(placement.tax_for, tax)
    for j, tax in enumerate(document.shipping_taxes):
        yield f"shipping_taxes[{j}].name", partial(placement.tax_for, tax)
    if isinstance(document, Sale):
        for k, charge in enumerate(document.service_charges):
            for j, tax in enumerate(charge.taxes):
                path = f"service_charges[{k}].taxes[{j}].name"
                yield path, partial(placement.tax_for, tax)
    for i, payment in enumerate(document.payments):
        yield f"payments[{i}].tender", partial(placement.tender_for, payment)


@dataclass(frozen=True, slots=True)
class Unmapped:
    """A value the mapping does not map, with what a fix needs: the target whose rules
    miss it, the fact tested and its value, and a condition that would match it."""

    problem: Problem
    target: Target
    field: str
    value: str
    suggested_rule: str
    user_message: str
    """What is missing, in the merchant's words (the problem's message is for people who
    edit mappings, naming the rule to add and the version)."""

    def as_row(self) -> dict[str, str]:
        """The problem as stored on a held document, keeping what a one-click fix needs."""
        return {
            "code": self.problem.code,
            "message": self.problem.message,
            "path": self.problem.path,
            "target": self.target.value,
            "field": self.field,
            "value": self.value,
            "suggested_rule": self.suggested_rule,
            "user_message": self.user_message,
        }


def unmapped_by(error: MappingError, path: str) -> Unmapped:
    """What a placement's ``MappingError`` says is unmapped, at ``path`` of its document."""
    details = error.details
    return Unmapped(
        Problem(error.code or UNMAPPED, error.message, path),
        Target(str(details["target"])),
        str(details["field"]),
        str(details["value"]),
        str(details["suggested_rule"]),
        error.user_message,
    )


def unmapped(mapping: Mapping, document: Sale | Refund | Payout) -> list[Unmapped]:
    """Every value of ``document`` the mapping does not map, each with its path and what
    a rule mapping it would test.

    Gift card lines are skipped: they post to the fixed gift card account. A refund's lines
    are checked like a sale's, since a destination that posts items needs them mapped.
    """
    placement = mapping.placement_for(document)
    checks: list[tuple[str, Callable[[], object]]] = [
        ("location_id", partial(mapping.class_for, document.location_id))
    ]
    if isinstance(document, Payout):
        checks.append(("gross", partial(placement.payout_clearing, document)))
    else:
        checks += _checks(placement, document)
    found: list[Unmapped] = []
    for path, place in checks:
        try:
            place()
        except MappingError as error:
            found.append(unmapped_by(error, path))
    return found


def problems(mapping: Mapping, document: Sale | Refund | Payout) -> list[Problem]:
    """Every value of ``document`` the mapping does not map, each with its path."""
    return [u.problem for u in unmapped(mapping, document)]
