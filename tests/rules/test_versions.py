"""Mapping versions: plain data that round-trips, and a history no one can rewrite."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given

from salesync.domain.errors import ConflictError, ErrorKind
from salesync.rules import (
    CustomerPolicy,
    CustomerRule,
    Mapping,
    MappingDataError,
    MappingHistory,
    Rule,
    Target,
    mapping_from_dict,
    mapping_to_dict,
    retail_default,
    strict_retail,
)

from .strategies import Oracle, mapping_of, rule_lists

FULL = dataclasses.replace(
    mapping_of(
        Rule(Target.INCOME, 'category == "Coffee"', "Income:Coffee", item="Coffee beans"),
        Rule(Target.TAX, "rate >= 0.2", "Liabilities:VAT", tax_code="20.0% S"),
        Rule(Target.TENDER, 'tender == "card" and card_brand == "amex"', "Assets:Clearing:Amex"),
        Rule(Target.LOCATION, 'location == "brooklyn"', klass="East"),
        version=7,
    ),
    customer_policy=CustomerPolicy(CustomerRule.NAMED_CUSTOMER, "Web store"),
)


@pytest.mark.parametrize(
    "mapping",
    [FULL, retail_default(), strict_retail(categories=["Coffee"], taxes=["VAT"], version=2)],
)
def test_a_mapping_round_trips_through_json(mapping: Mapping) -> None:
    """To dict, through JSON text and back gives an equal mapping and the same data."""
    data = json.loads(json.dumps(mapping_to_dict(mapping)))
    assert mapping_from_dict(data) == mapping
    assert mapping_to_dict(mapping_from_dict(data)) == data


def test_the_stored_shape_is_plain_and_readable() -> None:
    """Rules are stored as their condition text; unset optional values are left out."""
    data = mapping_to_dict(FULL)
    assert data["format"] == 1
    assert data["version"] == 7
    assert data["customer_policy"] == {"rule": "named_customer", "name": "Web store"}
    assert data["rules"][0] == {
        "target": "income",
        "when": 'category == "Coffee"',
        "account": "Income:Coffee",
        "item": "Coffee beans",
    }
    assert data["rules"][3] == {
        "target": "location",
        "when": 'location == "brooklyn"',
        "class": "East",
    }


@given(rule_lists(Target.TENDER))
def test_any_rule_list_round_trips(rules: list[tuple[Rule, Oracle]]) -> None:
    """Whatever conditions a mapping holds, reading back its data gives the same mapping."""
    mapping = mapping_of(*(rule for rule, _ in rules))
    assert mapping_from_dict(json.loads(json.dumps(mapping_to_dict(mapping)))) == mapping


def _broken() -> dict[str, Any]:
    data = mapping_to_dict(FULL)
    data["rules"][0]["when"] = 'catgory == "Coffee"'
    data["rules"][1]["account"] = "VAT"
    del data["accounts"]["tips"]
    data["accounts"]["bonus"] = "Expenses:Bonus"
    data["customer_policy"] = {"rule": "create", "name": "Walk-in"}
    return data


def test_bad_data_is_refused_with_every_problem_named() -> None:
    """A bad condition, account, missing role and policy are all reported in one error."""
    with pytest.raises(MappingDataError) as caught:
        mapping_from_dict(_broken())
    problems = caught.value.problems
    assert len(problems) == 5
    assert problems[0].startswith("rules[0]: condition 'catgory == \"Coffee\"': column 1")
    assert problems[1].startswith("rules[1]: account 'VAT' must start with one of")
    assert "accounts.tips: missing" in problems
    assert "accounts.bonus: not a fixed role" in problems
    assert problems[4] == "customer_policy: customer policy create uses no named customer"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d.update(version="7"), "version: Input should be a valid integer"),
        (lambda d: d.update(format=2), "format: Input should be 1"),
        (lambda d: d["rules"][0].update(target="discount"), "rules[0].target: Input should be"),
        (lambda d: d["rules"][0].update(colour="red"), "rules[0].colour: Extra inputs"),
        (lambda d: d.pop("payout_tender"), "payout_tender: Field required"),
        (lambda d: d.update(version=0), "mapping versions start at 1"),
    ],
)
def test_malformed_data_names_the_field(
    change: Callable[[dict[str, Any]], object], expected: str
) -> None:
    """Wrong types, unknown keys and missing fields are refused with their path."""
    data = mapping_to_dict(FULL)
    change(data)
    with pytest.raises(MappingDataError, match=re.escape(expected)):
        mapping_from_dict(data)


def test_publishing_numbers_versions_one_after_another() -> None:
    """Each publish returns the previous version plus one; at() and latest find them."""
    history = MappingHistory()
    assert history.latest is None
    first = retail_default()
    assert history.publish(first) == 1
    second = dataclasses.replace(FULL, version=history.next_version)
    assert history.publish(second) == 2
    assert history.at(1) == first
    assert history.at(2) == second
    assert history.latest == second
    assert history.published == (first, second)


def test_a_published_version_cannot_be_altered() -> None:
    """Publishing other content under a taken number is a conflict; the old version stays."""
    history = MappingHistory([retail_default(), dataclasses.replace(FULL, version=2)])
    edited = dataclasses.replace(retail_default(), payout_tender="cash")
    with pytest.raises(ConflictError, match="version 1 is already published") as caught:
        history.publish(edited)
    assert caught.value.kind is ErrorKind.CONFLICT
    assert "publish the edit as version 3" in str(caught.value)
    assert history.at(1) == retail_default()
    assert history.publish(dataclasses.replace(edited, version=3)) == 3


def test_publishing_the_same_version_again_changes_nothing() -> None:
    """A retried publish of identical content is a no-op, so publishing is idempotent."""
    history = MappingHistory([retail_default()])
    assert history.publish(retail_default()) == 1
    assert len(history.published) == 1


def test_versions_cannot_skip_and_unknown_versions_are_not_found() -> None:
    """Versions are consecutive; asking for one never published is an error, not a guess."""
    history = MappingHistory([retail_default()])
    with pytest.raises(ValueError, match="the next mapping version is 2, not 5"):
        history.publish(dataclasses.replace(FULL, version=5))
    with pytest.raises(LookupError, match="version 3 was never published"):
        history.at(3)
    with pytest.raises(ValueError, match="the next mapping version is 1, not 2"):
        MappingHistory([dataclasses.replace(FULL, version=2)])
