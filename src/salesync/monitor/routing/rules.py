"""Ownership rules: which team a ticket goes to, written as one line each.

    provider:qbo kind:mapping -> tier1
    provider:shopify kind:bug -> dev-shopify
    operation:post:* entity:SalesReceipt -> books
    kind:auth -> tier1
    * -> tier1

Each matcher is ``field:pattern``; the fields are the ticket's ``provider``, ``kind``,
``code``, ``operation``, ``entity`` and ``tenant``, and a pattern is a shell-style glob
(``*``, ``?``, ``[abc]``) compared case-sensitively. A rule matches when all its matchers
do; a matcher never matches a field the ticket does not have. ``*`` alone matches every
ticket. The first matching rule wins, so specific rules go first and a catch-all last.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from salesync.domain.errors import ErrorKind

FIELDS = ("provider", "kind", "code", "operation", "entity", "tenant")
TEAM_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
"""Team names: lower case letters, digits, ``_ . -``; they name teams in rules and timelines."""
_GLOB = re.compile(r"[*?\[]")
_KINDS = tuple(k.value for k in ErrorKind)

Facts = Mapping[str, str | None]
"""A ticket as the rules see it: each of ``FIELDS`` to its value, or None when missing."""


class RuleError(ValueError):
    """A rule that cannot be parsed: the message quotes the rule and says what to write."""

    def __init__(self, text: str, problem: str) -> None:
        super().__init__(f"{text!r}: {problem}")
        self.text = text
        self.problem = problem


class RulesError(ValueError):
    """Every bad rule of a list, each with its position (counted from 0)."""

    def __init__(self, problems: Sequence[tuple[int, RuleError]]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(f"rules[{i}]: {error}" for i, error in self.problems))


@dataclass(frozen=True, slots=True)
class Rule:
    """One parsed rule: all ``matchers`` (field, glob) must match for ``team`` to own it."""

    matchers: tuple[tuple[str, str], ...]
    team: str

    def matches(self, facts: Facts) -> bool:
        for field, pattern in self.matchers:
            value = facts.get(field)
            if value is None or not fnmatchcase(value, pattern):
                return False
        return True

    def __str__(self) -> str:
        left = " ".join(f"{f}:{p}" for f, p in self.matchers) or "*"
        return f"{left} -> {self.team}"


def parse_rule(text: str) -> Rule:
    """Parse one rule, or raise ``RuleError`` saying what is wrong and how to write it."""
    parts = text.split("->")
    if len(parts) != 2:
        found = "no" if len(parts) == 1 else str(len(parts) - 1)
        raise RuleError(
            text,
            f"has {found} '->'; write the matchers, one '->', then the team, "
            "as in 'kind:auth -> tier1'",
        )
    left, right = parts[0].split(), parts[1].split()
    if len(right) != 1:
        what = "no team" if not right else f"{len(right)} words ({' '.join(right)})"
        raise RuleError(text, f"names {what} after '->'; write exactly one team name")
    team = right[0]
    if not TEAM_NAME.match(team):
        raise RuleError(
            text, f"{team!r} is not a team name (lower case letters, digits, '_', '.', '-')"
        )
    if not left:
        raise RuleError(text, "has no matchers before '->'; write '* -> team' to match everything")
    if left == ["*"]:
        return Rule(matchers=(), team=team)
    if "*" in left:
        raise RuleError(text, "'*' matches every ticket and cannot be combined with matchers")
    return Rule(matchers=tuple(_matcher(text, token, left) for token in left), team=team)


def _matcher(text: str, token: str, tokens: list[str]) -> tuple[str, str]:
    field, colon, pattern = token.partition(":")
    if not colon:
        raise RuleError(
            text, f"{token!r} is not a matcher; write field:pattern, e.g. 'kind:mapping'"
        )
    if field not in FIELDS:
        close = difflib.get_close_matches(field, FIELDS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise RuleError(text, f"unknown field {field!r}{hint}; the fields are {', '.join(FIELDS)}")
    if not pattern:
        raise RuleError(text, f"{field!r} has no pattern; write e.g. '{field}:value'")
    if sum(1 for t in tokens if t.partition(":")[0] == field) > 1:
        raise RuleError(
            text, f"{field!r} appears twice; a ticket has one {field}, write two rules instead"
        )
    if field == "kind" and not _GLOB.search(pattern) and pattern not in _KINDS:
        close = difflib.get_close_matches(pattern, _KINDS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise RuleError(
            text, f"kind {pattern!r} is not a kind{hint}; the kinds are {', '.join(_KINDS)}"
        )
    return field, pattern


def parse_rules(texts: Iterable[str]) -> list[Rule]:
    """Parse every rule, or raise ``RulesError`` listing each bad one with its position."""
    rules: list[Rule] = []
    problems: list[tuple[int, RuleError]] = []
    for position, text in enumerate(texts):
        try:
            rules.append(parse_rule(text))
        except RuleError as error:
            problems.append((position, error))
    if problems:
        raise RulesError(problems)
    return rules


def route(rules: Iterable[Rule], facts: Facts) -> Rule | None:
    """The first rule that matches ``facts``, or None."""
    return next((rule for rule in rules if rule.matches(facts)), None)
