"""Clover's list parameters: ``filter`` (repeatable, ANDed), ``expand``, ``orderBy``,
``offset`` and ``limit``.

A filter is ``field<op>value`` with ``op`` one of ``>=``, ``<=``, ``!=``, ``>``, ``<``,
``=`` (e.g. ``filter=modifiedTime>=1700000000000``). Collections nested in an object
(an order's ``lineItems``, ``payments``, ``refunds``, ``discounts``, ``customers``) are
left out unless named in ``expand``, and an expanded one holds its first 100 elements
only. ``limit`` defaults to 100 and is at most 1000
(https://docs.clover.com/docs/paginating-elements).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
NESTED_LIMIT = 100
_FILTER = re.compile(r"^([A-Za-z.]+)\s*(>=|<=|!=|>|<|=)\s*(.*)$")
_ORDER = re.compile(r"^([A-Za-z.]+)(?:\s+(ASC|DESC))?$", re.IGNORECASE)


class QueryError(ValueError):
    """A list parameter Clover would refuse with 400."""


@dataclass(frozen=True, slots=True)
class Query:
    filters: tuple[tuple[str, str, str], ...] = ()
    expand: frozenset[str] = frozenset()
    order_by: tuple[str, bool] | None = None
    """The field and whether it is descending."""
    offset: int = 0
    limit: int = DEFAULT_LIMIT


def _number(name: str, raw: str | None, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise QueryError(f"{name} must be a whole number, not {raw!r}") from None
    if value < 0:
        raise QueryError(f"{name} must not be negative")
    return value


def parse_query(
    filters: Iterable[str],
    expand: str | None,
    order_by: str | None,
    offset: str | None,
    limit: str | None,
) -> Query:
    parsed = []
    for raw in filters:
        match = _FILTER.match(raw.strip())
        if match is None:
            raise QueryError(f"Invalid filter: {raw}")
        parsed.append((match.group(1), match.group(2), match.group(3)))
    order = None
    if order_by:
        found = _ORDER.match(order_by.strip())
        if found is None:
            raise QueryError(f"Invalid orderBy: {order_by}")
        order = (found.group(1), (found.group(2) or "ASC").upper() == "DESC")
    return Query(
        filters=tuple(parsed),
        expand=frozenset(e.strip() for e in (expand or "").split(",") if e.strip()),
        order_by=order,
        offset=_number("offset", offset, 0),
        limit=min(_number("limit", limit, DEFAULT_LIMIT), MAX_LIMIT),
    )


def _field(obj: Json, path: str) -> Any:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _compare(value: Any, op: str, raw: str) -> bool:
    if value is None:
        return op == "!="
    target: Any = raw
    if isinstance(value, bool):
        target = raw.lower() == "true"
    elif isinstance(value, int):
        try:
            target = int(raw)
        except ValueError:
            raise QueryError(f"{raw!r} is not a number") from None
    else:
        value = str(value)
    if op == "=":
        return bool(value == target)
    if op == "!=":
        return bool(value != target)
    if op == ">=":
        return bool(value >= target)
    if op == "<=":
        return bool(value <= target)
    if op == ">":
        return bool(value > target)
    return bool(value < target)


def shown(obj: Json, expandable: frozenset[str], query: Query) -> Json:
    """A copy of ``obj`` with the collections not expanded left out."""
    out = copy.deepcopy(obj)
    for name in expandable - query.expand:
        out.pop(name, None)
    for name in expandable & query.expand:
        nested = out.get(name)
        if isinstance(nested, dict) and isinstance(nested.get("elements"), list):
            nested["elements"] = nested["elements"][:NESTED_LIMIT]
    return out


def listing(objects: Iterable[Json], query: Query, allowed: frozenset[str]) -> list[Json]:
    """The objects the filters keep, in order, one page of them."""
    for name, _, _ in query.filters:
        if name not in allowed:
            raise QueryError(f"Unknown filter field: {name}")
    kept = [o for o in objects if all(_compare(_field(o, f), op, v) for f, op, v in query.filters)]
    if query.order_by is not None:
        name, descending = query.order_by
        if name not in allowed:
            raise QueryError(f"Unknown orderBy field: {name}")
        kept.sort(key=lambda o: (_field(o, name) or 0, o["id"]), reverse=descending)
    else:
        kept.sort(key=lambda o: (o.get("createdTime") or 0, o["id"]), reverse=True)
    return kept[query.offset : query.offset + query.limit]
