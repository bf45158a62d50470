"""Hypothesis strategies for conditions and rules, each condition with an oracle.

A generated condition comes as (text, oracle): the text is fed to the parser, the oracle
is the same predicate written directly in Python, so evaluation is checked against an
independent answer rather than against itself.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from salesync.rules import FIELDS, FieldType, FixedAccounts, Rule, Target
from salesync.rules.conditions import Value, literal
from salesync.rules.customers import CustomerPolicy, CustomerRule
from salesync.rules.mapping import Mapping as RuleMapping

Facts = Mapping[str, Value]
Oracle = Callable[[Facts], bool]
Case = tuple[str, Oracle]

WORDS = ("", "card", "cash", "amex", "visa", "Apparel", "GIFT-1", "USD", "GBP", "shopify")
texts = st.sampled_from(WORDS) | st.text(max_size=4)
numbers = st.decimals(
    min_value=Decimal(-100), max_value=Decimal(100), places=3, allow_nan=False
) | st.sampled_from((Decimal("0.2"), Decimal("0.20"), Decimal("0.05"), Decimal(0)))

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "startswith": str.startswith,
    "endswith": str.endswith,
    "contains": lambda fact, operand: operand in fact,
}
_ON_TEXT = ("==", "!=", "startswith", "endswith", "contains", "in", "not in")
_ON_NUMBERS = ("==", "!=", "<", "<=", ">", ">=", "in", "not in")


def values(kind: FieldType) -> st.SearchStrategy[Value]:
    return texts if kind is FieldType.TEXT else numbers


@st.composite
def _comparison(draw: st.DrawFn, fields: Mapping[str, FieldType]) -> Case:
    name = draw(st.sampled_from(sorted(fields)))
    kind = fields[name]
    op = draw(st.sampled_from(_ON_TEXT if kind is FieldType.TEXT else _ON_NUMBERS))
    if op in ("in", "not in"):
        items = draw(st.lists(values(kind), max_size=3))
        text = f"{name} {op} [{', '.join(literal(i) for i in items)}]"
        negate = op == "not in"
        return text, lambda f: (f[name] in items) is not negate
    operand = draw(values(kind))
    check = _OPS[op]
    return f"{name} {op} {literal(operand)}", lambda f: check(f[name], operand)


def _both(parts: tuple[Case, Case]) -> Case:
    (a, fa), (b, fb) = parts
    return f"({a}) and ({b})", lambda f: fa(f) and fb(f)


def _either(parts: tuple[Case, Case]) -> Case:
    (a, fa), (b, fb) = parts
    return f"({a}) or ({b})", lambda f: fa(f) or fb(f)


def _negated(case: Case) -> Case:
    text, oracle = case
    return f"not ({text})", lambda f: not oracle(f)


def conditions(fields: Mapping[str, FieldType]) -> st.SearchStrategy[Case]:
    """Conditions over ``fields``, with the answer each should give."""
    constants = st.sampled_from([("true", lambda f: True), ("false", lambda f: False)])
    base: st.SearchStrategy[Case] = _comparison(fields) | constants
    return st.recursive(
        base,
        lambda children: (
            st.tuples(children, children).map(_both)
            | st.tuples(children, children).map(_either)
            | children.map(_negated)
        ),
        max_leaves=6,
    )


def facts(fields: Mapping[str, FieldType]) -> st.SearchStrategy[dict[str, Value]]:
    return st.fixed_dictionaries({name: values(kind) for name, kind in fields.items()})


FIXED = FixedAccounts(
    discounts="Income:Discounts",
    returns="Income:Returns",
    shipping="Income:Shipping",
    service_charges="Income:Service-Charges",
    tips="Liabilities:Tips-Payable",
    gift_cards="Liabilities:Gift-Cards",
    bank="Assets:Bank",
    fees="Expenses:Payment-Fees",
    payout_adjustments="Expenses:Payout-Adjustments",
    rounding="Expenses:Rounding",
)


def mapping_of(*rules: Rule, version: int = 1) -> RuleMapping:
    """A mapping of ``rules`` with the built-in chart's fixed accounts."""
    return RuleMapping(
        version=version,
        rules=rules,
        accounts=FIXED,
        customer_policy=CustomerPolicy(CustomerRule.ERROR),
        payout_tender="card",
    )


@st.composite
def rule_lists(draw: st.DrawFn, target: Target) -> list[tuple[Rule, Oracle]]:
    """Up to five rules of ``target`` (the last may be a catch-all), with their oracles."""
    cases = draw(st.lists(conditions(FIELDS[target]), max_size=5))
    rules: list[tuple[Rule, Oracle]] = []
    for i, (text, oracle) in enumerate(cases):
        if text == "true" and i < len(cases) - 1:
            continue  # a catch-all before other rules is refused; tested on its own
        rules.append((Rule(target, text, f"Assets:Clearing:Rule-{i}"), oracle))
    return rules
