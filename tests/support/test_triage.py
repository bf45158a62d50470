"""Triage: placing a request in the scope of work from its words."""

from __future__ import annotations

import pytest

from salesync.support.plans import Catalog, ScopeCategory
from salesync.support.triage import classify, specificity, words


@pytest.mark.parametrize(
    ("subject", "body", "category", "in_scope"),
    [
        (
            "Web Connector",
            "Can you reinstall the Web Connector for me?",
            "quickbooks_desktop_install",
            False,
        ),
        ("Sync stuck", "my security plugin blocks the sync", "website_changes", False),
        ("How do I map a new tax rate?", "", "common_rules", True),
        ("Please change our QuickBooks settings", "", "quickbooks_settings", False),
        ("", "Our ANTI-VIRUS keeps blocking salesync!", "firewall_antivirus", False),
        ("Missing sales", "Yesterday's sales never arrived.", "error_log", True),
    ],
)
def test_requests_fall_in_their_category(
    tiered: Catalog, subject: str, body: str, category: str, in_scope: bool
) -> None:
    """Each request lands in the category its most specific phrase names."""
    triage = classify(tiered, subject, body)
    assert triage.category is not None
    assert (triage.category.code, triage.in_scope) == (category, in_scope)


def test_a_multi_word_phrase_beats_a_single_word(tiered: Catalog) -> None:
    """The phrase "security plugin" (website changes) beats "plugin" (channel plugins)."""
    triage = classify(tiered, "", "my security plugin blocks the sync")
    assert triage.category is not None
    assert triage.category.code == "website_changes"
    assert triage.matched == ("security plugin",)


def test_question_words_do_not_outweigh_the_subject(tiered: Catalog) -> None:
    """The words "how do i" shape the question; "map" says what it is about."""
    assert specificity("how do i") < specificity("map")
    triage = classify(tiered, "How do I map a new tax rate?", "")
    assert triage.category is not None
    assert triage.category.code == "common_rules"


def test_gibberish_is_a_general_question_for_tier_1(tiered: Catalog) -> None:
    """A request that matches no keyword is in scope, with no category."""
    triage = classify(tiered, "qwzx", "plorb fendle snark")
    assert (triage.category, triage.in_scope, triage.matched) == (None, True, ())


def test_keywords_match_whole_words_only(tiered: Catalog) -> None:
    """The words "plugins" and "remapped" are not the keywords "plugin" and "map"."""
    assert classify(tiered, "", "plugins got remapped").category is None


def test_a_tie_goes_to_the_category_listed_first() -> None:
    """Two categories matching equally specific phrases: the earlier one wins."""
    catalog = Catalog.model_validate(
        {
            "name": "mine",
            "model": "tiered",
            "default_plan": "basic",
            "plans": {
                "basic": {
                    "name": "Basic",
                    "location_price": "5",
                    "term": "monthly",
                    "support_tier": 1,
                    "sla": {"respond": "1h", "resolve": "2h"},
                }
            },
            "scope": [
                {
                    "code": "outside",
                    "title": "Out",
                    "in_scope": False,
                    "keywords": ["printer"],
                    "answer": "No.",
                },
                {"code": "inside", "title": "In", "in_scope": True, "keywords": ["printer"]},
            ],
        }
    )
    triage = classify(catalog, "", "The printer is offline")
    assert isinstance(triage.category, ScopeCategory)
    assert (triage.category.code, triage.in_scope) == ("outside", False)


def test_words_drop_punctuation_and_case() -> None:
    """Text is reduced to lower-case words separated by single spaces."""
    assert words("  Third-PARTY\tplug-in!\n(QBWC)  ") == "third party plug in qbwc"
