"""Shopify's search syntax and Relay cursor pagination over in-memory records.

Search: space-separated terms are ANDed; a term is ``field:value`` with an optional
comparator (``:>``, ``:>=``, ``:<``, ``:<=``) and an optional ``-`` to negate; unknown fields
are ignored, as Shopify does (https://shopify.dev/docs/api/usage/search-syntax).

Pagination: cursors are opaque and encode the position (sort value, id), not an offset, so
records inserted or updated while a client pages never make it skip or repeat one
(https://shopify.dev/docs/api/usage/pagination-graphql).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal, TypeVar

from graphql import GraphQLError

T = TypeVar("T")
Primary = str | int | float
Kind = Literal["time", "string", "id", "bool"]

MAX_PAGE = 250
_TERM = re.compile(r"^(?P<neg>-)?(?P<field>[a-z_]+):(?P<op><=|>=|<|>)?(?P<value>.*)$")


@dataclass(frozen=True, slots=True)
class SearchField:
    kind: Kind
    value: Callable[[Any], object]


@dataclass(frozen=True, slots=True)
class _Term:
    field: str
    op: str
    value: str
    negate: bool


def _parse_time(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        parsed = datetime.combine(date.fromisoformat(text), datetime.min.time())
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _compare(left: Any, op: str, right: Any) -> bool:
    if op == ">":
        return bool(left > right)
    if op == ">=":
        return bool(left >= right)
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    return bool(left == right)


def _parse_terms(query: str) -> list[_Term]:
    try:
        words = shlex.split(query)
    except ValueError as exc:
        raise GraphQLError(f"Invalid search query: {exc}") from exc
    terms: list[_Term] = []
    for word in words:
        if word in ("AND", "and"):
            continue
        match = _TERM.match(word)
        if match is not None:
            terms.append(
                _Term(match["field"], match["op"] or "", match["value"], bool(match["neg"]))
            )
    return terms


def _matches(record: object, term: _Term, spec: SearchField) -> bool:
    actual = spec.value(record)
    if actual is None:
        return term.negate
    expected: object
    if spec.kind == "time":
        expected = _parse_time(term.value)
    elif spec.kind == "id":
        expected = int(term.value.rsplit("/", 1)[-1])
    elif spec.kind == "bool":
        expected = term.value.lower() == "true"
    else:
        actual, expected = str(actual).lower(), term.value.lower()
    try:
        result = _compare(actual, term.op, expected)
    except TypeError:
        result = False
    return result != term.negate


def search(records: Sequence[T], query: str | None, fields: dict[str, SearchField]) -> list[T]:
    """The records that satisfy every known term of ``query``."""
    if not query:
        return list(records)
    try:
        terms = [t for t in _parse_terms(query) if t.field in fields]
        return [r for r in records if all(_matches(r, t, fields[t.field]) for t in terms)]
    except ValueError as exc:
        raise GraphQLError(f"Invalid search query: {exc}") from exc


def sort_value(value: object) -> Primary:
    """A JSON-safe, orderable form of a sort field."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str | int | float):
        return value
    return str(value)


def encode_cursor(primary: Primary, record_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([primary, record_id]).encode()).decode()


def decode_cursor(cursor: str) -> tuple[Primary, int]:
    try:
        primary, record_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError, binascii.Error) as exc:
        raise GraphQLError("Invalid cursor for current pagination sort.") from exc
    return primary, int(record_id)


def paginate(
    records: Sequence[T],
    *,
    key: Callable[[T], tuple[Primary, int]],
    node: Callable[[T], dict[str, Any]],
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    reverse: bool = False,
) -> dict[str, Any]:
    """A Relay connection (``edges``, ``nodes``, ``pageInfo``) over ``records``."""
    if first is None and last is None:
        raise GraphQLError("you must provide one of first or last")
    for name, size in (("first", first), ("last", last)):
        if size is not None and not 0 <= size <= MAX_PAGE:
            raise GraphQLError(f"{name} cannot exceed {MAX_PAGE} (nor be negative).")
    ordered = sorted(records, key=key, reverse=reverse)
    window = ordered
    if after is not None:
        mark = decode_cursor(after)
        window = [r for r in window if (key(r) < mark if reverse else key(r) > mark)]
    if before is not None:
        mark = decode_cursor(before)
        window = [r for r in window if (key(r) > mark if reverse else key(r) < mark)]
    page = window
    if first is not None:
        page = page[:first]
    if last is not None:
        page = page[-last:] if last else []
    has_next = (first is not None and len(window) > len(page)) or (
        last is not None and before is not None
    )
    has_previous = (last is not None and len(window) > len(page)) or (
        first is not None and after is not None
    )
    edges = [{"cursor": encode_cursor(*key(r)), "node": node(r)} for r in page]
    return {
        "edges": edges,
        "nodes": [e["node"] for e in edges],
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_previous,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }
