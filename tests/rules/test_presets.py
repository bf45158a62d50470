"""Presets: ready-made mappings, one that maps anything and one that maps only what it lists."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from salesync.domain.documents import Payout, Refund, Sale
from salesync.domain.errors import MappingError
from salesync.domain.postings import DEFAULT_PLAN, journal_for
from salesync.domain.simulate import CATALOGUE, DemoMerchant, demo_merchant, simulate, tokyo_store
from salesync.rules import Target, problems, retail_default, strict_retail

from .builders import card, line, sale

MERCHANT = demo_merchant(orders_per_day=20)
MERCHANT = DemoMerchant(MERCHANT.tenant, (*MERCHANT.stores, tokyo_store()))
LOCATIONS = {loc.id: loc for loc in MERCHANT.locations}
CATEGORIES = sorted({category for _, _, category, _ in CATALOGUE})
TAX_NAMES = sorted({store.tax_name for store in MERCHANT.stores})


def a_month() -> Iterator[Sale | Refund | Payout]:
    return simulate(MERCHANT, date(2024, 2, 1), 29)


def test_retail_default_places_a_month_exactly_as_the_built_in_plan() -> None:
    """Every simulated document of a month (three stores, three currencies) maps without a
    problem and posts the very entry AccountPlan would."""
    mapping = retail_default()
    count = 0
    for document in a_month():
        assert problems(mapping, document) == []
        location = LOCATIONS[document.location_id]
        mapped = journal_for(document, location, mapping.placement_for(document))
        assert mapped == journal_for(document, location, DEFAULT_PLAN)
        count += 1
    assert count > 1000


def test_retail_default_has_a_catch_all_for_each_target_it_maps() -> None:
    """Its catch-alls are explicit `true` rules, visible in the mapping, not hidden defaults."""
    mapping = retail_default()
    for target in (Target.INCOME, Target.TAX, Target.TENDER):
        assert mapping.rules_for(target)[-1].condition.is_catch_all
    assert mapping.rules_for(Target.LOCATION) == ()


def test_strict_retail_has_no_catch_alls() -> None:
    """Every rule of the strict preset names the one value it maps."""
    mapping = strict_retail(categories=CATEGORIES, taxes=TAX_NAMES)
    assert not any(rule.condition.is_catch_all for rule in mapping.rules)
    assert not any("{" in str(rule.account) for rule in mapping.rules)


def test_strict_retail_places_a_month_when_everything_is_listed() -> None:
    """Listing the shop's categories, taxes and tenders is enough to post a whole month."""
    mapping = strict_retail(categories=CATEGORIES, taxes=TAX_NAMES)
    for document in a_month():
        assert problems(mapping, document) == []
        location = LOCATIONS[document.location_id]
        mapped = journal_for(document, location, mapping.placement_for(document))
        assert mapped == journal_for(document, location, DEFAULT_PLAN)


def test_strict_retail_refuses_an_unlisted_category_by_name() -> None:
    """A category nobody listed holds the sale, naming the category to map."""
    mapping = strict_retail(categories=["Coffee"], taxes=TAX_NAMES)
    document = sale((line("HOOD-002", "Apparel"),), (card("10.00"),))
    with pytest.raises(MappingError, match="category 'Apparel' has no income account"):
        journal_for(document, LOCATIONS["brooklyn"], mapping.placement_for(document))
    [problem] = problems(mapping, document)
    assert problem.path == "lines[0].category"
    assert "add a rule for category 'Apparel'" in problem.message


def test_strict_retail_refuses_unlisted_taxes_and_tenders() -> None:
    """The strict preset knows only the tenders and taxes it was given."""
    mapping = strict_retail(categories=CATEGORIES, taxes=[], tenders=["cash"])
    found = [
        (problem.path, problem.message)
        for document in simulate(MERCHANT, date(2024, 2, 1), 2)
        for problem in problems(mapping, document)
    ]
    assert any("tax 'NY sales tax'" in message for _, message in found)
    assert any("tender 'card'" in message for _, message in found)
    assert any(path == "gross" for path, _ in found)
