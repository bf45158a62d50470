"""Ready-made mappings for common shops: plain functions that return a ``Mapping``.

Both use the built-in chart's account names (``AccountPlan``). ``retail_default`` maps
anything, by catch-all rules; ``strict_retail`` maps only what it is told, so a new
category, tax or tender holds its documents until someone maps it.
"""

from __future__ import annotations

from collections.abc import Iterable

from salesync.domain.postings import AccountPlan
from salesync.rules.conditions import literal
from salesync.rules.customers import CustomerPolicy, CustomerRule
from salesync.rules.mapping import FixedAccounts, Mapping, Rule, Target

_PLAN = AccountPlan()
STANDARD_TENDERS = ("cash", "card", "gift_card", "store_credit")
_WALK_IN = CustomerPolicy(CustomerRule.MATCH_BY_EMAIL, "Walk-in")
"""Shops sell to strangers: a buyer not found by email is recorded on one walk-in customer."""


def _fixed(plan: AccountPlan) -> FixedAccounts:
    return FixedAccounts(
        discounts=plan.discounts,
        returns=plan.returns,
        shipping=plan.shipping,
        service_charges=plan.service_charges,
        tips=plan.tips,
        gift_cards=plan.gift_cards,
        bank=plan.bank,
        fees=plan.fees,
        payout_adjustments=plan.payout_adjustments,
        rounding=plan.rounding,
    )


def _tender_rule(tender: str) -> Rule:
    return Rule(Target.TENDER, f"tender == {literal(tender)}", _PLAN.tender(tender))


def retail_default(version: int = 1) -> Mapping:
    """``AccountPlan``'s placement as rules: income by category, tax by name, tenders by
    tender (cash, gift cards and store credit to their own accounts), each with a catch-all."""
    special = ("cash", "gift_card", "store_credit")
    rules = (
        Rule(Target.INCOME, "true", f"{_PLAN.income_prefix}:{{category}}"),
        Rule(Target.TAX, "true", f"{_PLAN.tax_prefix}:{{tax_name}}"),
        *(_tender_rule(t) for t in special),
        Rule(Target.TENDER, "true", f"{_PLAN.clearing_prefix}:{{tender}}"),
    )
    return Mapping(
        version=version,
        rules=rules,
        accounts=_fixed(_PLAN),
        customer_policy=_WALK_IN,
        payout_tender=_PLAN.payout_tender,
    )


def strict_retail(
    *,
    categories: Iterable[str],
    taxes: Iterable[str],
    tenders: Iterable[str] = STANDARD_TENDERS,
    version: int = 1,
) -> Mapping:
    """One rule per listed category, tax name and tender, and no catch-all: anything not
    listed is unmapped. Accounts are named as ``AccountPlan`` names them."""
    rules = (
        *(
            Rule(Target.INCOME, f"category == {literal(c)}", _PLAN.income(c))
            for c in dict.fromkeys(categories)
        ),
        *(
            Rule(Target.TAX, f"tax_name == {literal(t)}", _PLAN.tax(t))
            for t in dict.fromkeys(taxes)
        ),
        *(_tender_rule(t) for t in dict.fromkeys(tenders)),
    )
    return Mapping(
        version=version,
        rules=rules,
        accounts=_fixed(_PLAN),
        customer_policy=_WALK_IN,
        payout_tender=_PLAN.payout_tender,
    )
