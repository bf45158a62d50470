"""Placing a support request in the scope of work, from its words alone.

Each category of the catalog's ``scope`` lists keyword phrases. The request's subject and
body are lower-cased and reduced to words (punctuation and runs of whitespace become one
space), and a phrase matches where its words appear together, on word boundaries: "plugin"
matches "the plugin." but not "plugins".

The category with the most specific match wins: the phrase with the most subject words,
then the most words ("security plugin" beats "plugin"). Words that only shape a question
("how", "do", "I", "the") are not subject words, so "How do I map a tax rate?" is about
mapping (``map``), not a general question (``how do i``). A tie goes to the category
listed first; the catalog lists the out-of-scope categories first, so they win ties. A
request that matches nothing is in scope: a general question for Tier 1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from salesync.support.plans import Catalog, ScopeCategory

FUNCTION_WORDS = frozenset(
    (  # noqa: SIM905 - one line of words reads better than forty quoted ones
        "a an and are at be can could do does for how i if in is it me my of on or our please "
        "should the this to us we what when where which who why will with would you your"
    ).split()
)
"""Words that shape a sentence or a question but say nothing of what it is about."""

_NOT_WORD = re.compile(r"[\W_]+")


@dataclass(frozen=True, slots=True)
class Triage:
    """Where a request falls: its category (None for a general question), whether it is
    in the scope of work, and the phrases that placed it there."""

    category: ScopeCategory | None
    in_scope: bool
    matched: tuple[str, ...] = ()


def words(text: str) -> str:
    """``text`` lower-cased as single-space-separated words, without punctuation."""
    return " ".join(_NOT_WORD.sub(" ", text.casefold()).split())


def specificity(phrase: str) -> tuple[int, int]:
    """How specific a keyword phrase is: its subject words, then all of its words."""
    found = words(phrase).split()
    return sum(w not in FUNCTION_WORDS for w in found), len(found)


def matches(category: ScopeCategory, text: str) -> tuple[str, ...]:
    """The category's keyword phrases found in ``text`` (already reduced by ``words``)."""
    padded = f" {text} "
    return tuple(
        phrase
        for phrase in category.keywords
        if (reduced := words(phrase)) and f" {reduced} " in padded
    )


def classify(catalog: Catalog, subject: str, body: str) -> Triage:
    """Place the request with ``subject`` and ``body`` in the catalog's scope of work."""
    text = words(f"{subject}\n{body}")
    best: tuple[tuple[int, int], ScopeCategory, tuple[str, ...]] | None = None
    for category in catalog.scope:
        found = matches(category, text)
        if not found:
            continue
        score = max(specificity(p) for p in found)
        if best is None or score > best[0]:
            best = (score, category, found)
    if best is None:
        return Triage(category=None, in_scope=True)
    _, category, found = best
    ranked = sorted(found, key=specificity, reverse=True)
    return Triage(category=category, in_scope=category.in_scope, matched=tuple(ranked))
