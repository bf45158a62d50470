"""The subset of the QuickBooks Online query language connectors use.

``SELECT * | COUNT(*) FROM Entity [WHERE a = 'x' AND b IN ('y', 'z') ...]
[ORDERBY f [ASC|DESC], ...] [STARTPOSITION n] [MAXRESULTS n]`` with ``= != < > <= >=
LIKE IN``; no OR, as in QBO. Paging is 1-based with at most 1000 rows a page:
https://developer.intuit.com/app/developer/qbo/docs/learn/explore-the-quickbooks-online-api/data-queries
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from salesync.sandbox.qbo import errors
from salesync.sandbox.qbo.company import QboCompany
from salesync.sandbox.qbo.entities import ENTITIES

MAX_RESULTS = 1000
DEFAULT_RESULTS = 100
COMMON_FIELDS = frozenset(
    {
        "id",
        "docnumber",
        "txndate",
        "privatenote",
        "metadata.createtime",
        "metadata.lastupdatedtime",
        "displayname",
        "name",
        "active",
        "customerref",
        "totalamt",
        "synctoken",
        "primaryemailaddr",
    }
)

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^'\\]|\\.)*')|(?P<number>-?\d+(?:\.\d+)?)|"
    r"(?P<op><=|>=|!=|=|<|>)|(?P<punct>[(),*])|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))"
)


@dataclass(frozen=True, slots=True)
class Condition:
    field: str
    op: str
    values: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Query:
    entity: str
    count: bool
    conditions: tuple[Condition, ...]
    order: tuple[tuple[str, bool], ...]
    start: int
    max_results: int


def _parse_error(text: str, position: int) -> errors.QboError:
    return errors.QboError(
        "4000",
        "Error parsing query",
        f'QueryParserError: Encountered "{text}" at line 1, column {position + 1}.',
    )


class _Tokens:
    def __init__(self, source: str) -> None:
        self.items: list[tuple[str, Any, int]] = []
        pos = 0
        source = source.rstrip().rstrip(";")
        while pos < len(source):
            match = _TOKEN.match(source, pos)
            if match is None or match.end() == pos:
                raise _parse_error(source[pos:].strip()[:20], pos)
            kind = match.lastgroup or ""
            raw = match.group(kind)
            value: Any = raw
            if kind == "string":
                value = re.sub(r"\\(.)", r"\1", raw[1:-1])
            elif kind == "number":
                value = float(raw) if "." in raw else int(raw)
            self.items.append((kind, value, match.start(kind)))
            pos = match.end()
        self.index = 0

    def peek_word(self) -> str:
        if self.index < len(self.items) and self.items[self.index][0] == "word":
            return str(self.items[self.index][1]).upper()
        return ""

    def take(self, kind: str, word: str | None = None) -> Any:
        if self.index >= len(self.items):
            raise _parse_error("<EOF>", 0)
        got_kind, value, pos = self.items[self.index]
        if got_kind != kind or (word is not None and str(value).upper() != word):
            raise _parse_error(str(value), pos)
        self.index += 1
        return value

    def take_literal(self) -> Any:
        kind, value, pos = self.items[self.index] if self.index < len(self.items) else ("", "", 0)
        if kind in ("string", "number"):
            self.index += 1
            return value
        if kind == "word" and str(value).lower() in ("true", "false"):
            self.index += 1
            return str(value).lower() == "true"
        raise _parse_error(str(value) or "<EOF>", pos)

    def done(self) -> bool:
        return self.index >= len(self.items)


def parse(source: str) -> Query:
    """Parse one query; raises QboError 4000 on anything outside the supported subset."""
    tokens = _Tokens(source)
    tokens.take("word", "SELECT")
    count = tokens.peek_word() == "COUNT"
    if count:
        tokens.take("word")
        tokens.take("punct")
        tokens.take("punct")
        tokens.take("punct")
    else:
        tokens.take("punct")
    tokens.take("word", "FROM")
    entity_word = str(tokens.take("word"))
    entity = ENTITIES.get(entity_word.lower())
    if entity is None:
        raise errors.QboError(
            "4001",
            "Invalid query",
            f"QueryValidationError: Invalid entity name: {entity_word}",
        )
    conditions: list[Condition] = []
    if tokens.peek_word() == "WHERE":
        tokens.take("word")
        while True:
            conditions.append(_condition(tokens))
            if tokens.peek_word() != "AND":
                break
            tokens.take("word")
    order = _order(tokens) if tokens.peek_word() == "ORDERBY" else []
    start, max_results = 1, DEFAULT_RESULTS
    while tokens.peek_word() in ("STARTPOSITION", "MAXRESULTS"):
        keyword = tokens.take("word").upper()
        value = int(tokens.take("number"))
        if keyword == "STARTPOSITION":
            start = max(1, value)
        else:
            max_results = min(max(1, value), MAX_RESULTS)
    if not tokens.done():
        _, value, pos = tokens.items[tokens.index]
        raise _parse_error(str(value), pos)
    return Query(entity, count, tuple(conditions), tuple(order), start, max_results)


def _order(tokens: _Tokens) -> list[tuple[str, bool]]:
    tokens.take("word")
    order: list[tuple[str, bool]] = []
    while True:
        field = str(tokens.take("word"))
        descending = tokens.peek_word() == "DESC"
        if tokens.peek_word() in ("ASC", "DESC"):
            tokens.take("word")
        order.append((field, descending))
        if tokens.done() or tokens.items[tokens.index][1] != ",":
            return order
        tokens.take("punct")


def _condition(tokens: _Tokens) -> Condition:
    field = str(tokens.take("word"))
    if tokens.peek_word() == "IN":
        tokens.take("word")
        tokens.take("punct")
        values = [tokens.take_literal()]
        while not tokens.done() and tokens.items[tokens.index][1] == ",":
            tokens.take("punct")
            values.append(tokens.take_literal())
        tokens.take("punct")
        return Condition(field, "IN", tuple(values))
    if tokens.peek_word() == "LIKE":
        tokens.take("word")
        return Condition(field, "LIKE", (tokens.take_literal(),))
    op = str(tokens.take("op"))
    return Condition(field, op, (tokens.take_literal(),))


def _lookup(obj: dict[str, Any], field: str) -> Any:
    current: Any = obj
    for part in field.split("."):
        if not isinstance(current, dict):
            return None
        matches = [v for k, v in current.items() if k.lower() == part.lower()]
        current = matches[0] if matches else None
    if isinstance(current, dict) and "value" in current:
        return current["value"]
    if isinstance(current, dict) and "Address" in current:
        # An email (PrimaryEmailAddr) is filtered by its address:
        # https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/customer
        return current["Address"]
    return current


def _matches(obj: dict[str, Any], condition: Condition) -> bool:
    actual = _lookup(obj, condition.field)
    if actual is None:
        return False
    if isinstance(actual, bool) or isinstance(condition.values[0], bool):
        wanted_bool = [
            v if isinstance(v, bool) else str(v).lower() == "true" for v in condition.values
        ]
        return (actual in wanted_bool) == (condition.op != "!=")
    wanted = condition.values
    if isinstance(actual, int | float):
        actual_cmp: Any = float(actual)
        wanted = tuple(float(v) for v in wanted)
    else:
        actual_cmp = str(actual)
        wanted = tuple(str(v) for v in wanted)
    op = condition.op
    if op == "IN":
        return actual_cmp in wanted
    if op == "LIKE":
        pattern = "^" + re.escape(str(wanted[0])).replace("%", ".*") + "$"
        return re.match(pattern, str(actual), re.IGNORECASE | re.DOTALL) is not None
    target = wanted[0]
    comparisons = {
        "=": actual_cmp == target,
        "!=": actual_cmp != target,
        "<": actual_cmp < target,
        ">": actual_cmp > target,
        "<=": actual_cmp <= target,
        ">=": actual_cmp >= target,
    }
    return bool(comparisons[op])


def run(company: QboCompany, source: str) -> dict[str, Any]:
    """Run a query and build the ``QueryResponse`` object QBO returns."""
    query = parse(source)
    rows = company.all(query.entity)
    known = COMMON_FIELDS | {key.lower() for row in rows for key in row}
    for condition in query.conditions:
        if condition.field.lower() not in known and "." not in condition.field:
            raise errors.QboError(
                "4001",
                "Invalid query",
                f"QueryValidationError: property '{condition.field}' is not queryable",
            )
    selected = [row for row in rows if all(_matches(row, c) for c in query.conditions)]
    if query.count:
        return {"totalCount": len(selected)}
    order = query.order or (("Id", False),)
    for field, descending in reversed(order):
        selected.sort(key=_sorter(field), reverse=descending)
    page = selected[query.start - 1 : query.start - 1 + query.max_results]
    if not page:
        return {}
    return {query.entity: page, "startPosition": query.start, "maxResults": len(page)}


def _sorter(field: str) -> Callable[[dict[str, Any]], tuple[int, Any]]:
    def key(row: dict[str, Any]) -> tuple[int, Any]:
        return _sort_key(_lookup(row, field))

    return key


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (1, float(value))
    text = str(value)
    return (1, float(text)) if text.isdigit() else (2, text)
