"""Listing a resource as the R-Series API does: query operators, sorting and pages.

A field is matched with ``field=value`` or ``field=<op>,value`` where the operator is one of
``=, !=, <, <=, >, >=`` plus ``><,low,high`` (between, both ends included) and
``IN,[a,b]`` (https://developers.lightspeedhq.com/retail/introduction/queryoperators/);
timestamps compare as instants. Pages hold at most 100 objects. The cursor style links
pages through ``@attributes.next`` and ``previous`` (full URLs with an opaque ``after`` or
``before``); the older ``offset`` style is still answered, with ``count``, ``offset`` and
``limit`` in ``@attributes``
(https://developers.lightspeedhq.com/retail/introduction/pagination/).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from salesync.sandbox.lightspeed_r.errors import bad_request
from salesync.sandbox.lightspeed_r.records import Json

MAX_LIMIT = 100
CONTROL = frozenset({"limit", "offset", "after", "before", "sort", "load_relations", "orderby"})
Comparable = tuple[int, Any]


def _value(text: str) -> Comparable:
    """A query or field value made comparable: instants, then numbers, then text."""
    if "T" in text and len(text) >= 19:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            if moment.tzinfo is not None:
                return (0, moment)
    try:
        return (1, Decimal(text))
    except InvalidOperation:
        return (2, text)


def _matcher(field: str, raw: str) -> Callable[[Comparable], bool]:
    op, _, rest = raw.partition(",")
    if not rest and op not in ("IN",):
        op, rest = "=", raw
    if op == "IN":
        listed = rest.strip()
        if not (listed.startswith("[") and listed.endswith("]")):
            raise bad_request(f"Invalid IN list for {field}: {raw}")
        wanted = {_value(v.strip().strip('"')) for v in listed[1:-1].split(",") if v.strip()}
        return lambda v: v in wanted
    if op == "><":
        low, _, high = rest.partition(",")
        lo, hi = _value(low), _value(high)
        return lambda v: v[0] == lo[0] and lo <= v <= hi
    target = _value(rest)
    tests: dict[str, Callable[[Comparable], bool]] = {
        "=": lambda v: v == target,
        "!=": lambda v: v != target,
        "<": lambda v: v[0] == target[0] and v < target,
        "<=": lambda v: v[0] == target[0] and v <= target,
        ">": lambda v: v[0] == target[0] and v > target,
        ">=": lambda v: v[0] == target[0] and v >= target,
    }
    if op not in tests:
        raise bad_request(f"Invalid query operator {op!r} for {field}")
    return tests[op]


def relations(params: Mapping[str, str]) -> set[str]:
    raw = params.get("load_relations")
    if not raw:
        return set()
    if raw == "all":
        return {"all"}
    try:
        found = json.loads(raw)
    except ValueError:
        raise bad_request(f"load_relations must be a JSON list of relations: {raw}") from None
    if not isinstance(found, list) or not all(isinstance(r, str) for r in found):
        raise bad_request(f"load_relations must be a JSON list of relations: {raw}")
    return set(found)


@dataclass(frozen=True, slots=True)
class Listing:
    """One page: the objects, and the query strings of the next and previous pages."""

    objects: list[Json]
    attributes: dict[str, str]


def _token(key: Comparable, object_id: str) -> str:
    value = key[1]
    raw = json.dumps([value.isoformat() if isinstance(value, datetime) else str(value), object_id])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _untoken(token: str) -> tuple[str, str]:
    try:
        padded = token + "=" * (-len(token) % 4)
        sort_value, object_id = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, TypeError):
        raise bad_request(f"Invalid pagination cursor: {token}") from None
    return str(sort_value), str(object_id)


def _mark(token: str) -> tuple[Comparable, Comparable]:
    value, object_id = _untoken(token)
    return (_value(value), _value(object_id))


def _beyond(
    key: tuple[Comparable, Comparable], mark: tuple[Comparable, Comparable], descending: bool
) -> bool:
    """Whether ``key`` comes after ``mark`` in the listing's order."""
    return key < mark if descending else key > mark


def list_objects(
    objects: list[Json],
    id_field: str,
    params: Mapping[str, str],
    page_url: Callable[[dict[str, str]], str],
) -> Listing:
    """The page ``params`` ask for of ``objects`` (views already carrying relations)."""
    for name, raw in params.items():
        if name in CONTROL:
            continue
        if objects and name not in objects[0]:
            raise bad_request(f"Invalid field for query: {name}")
        test = _matcher(name, raw)
        objects = [o for o in objects if isinstance(o.get(name), str) and test(_value(o[name]))]
    sort = params.get("sort") or params.get("orderby") or id_field
    descending = sort.startswith("-")
    sort = sort.lstrip("-")

    def key(o: Json) -> tuple[Comparable, Comparable]:
        return (_value(str(o.get(sort, ""))), _value(str(o[id_field])))

    objects.sort(key=key, reverse=descending)
    try:
        limit = int(params.get("limit", MAX_LIMIT))
    except ValueError:
        raise bad_request(f"Invalid limit: {params.get('limit')}") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise bad_request(f"limit must be between 1 and {MAX_LIMIT}")
    if "offset" in params:
        return _offset_page(objects, params, limit)
    start, end = 0, len(objects)
    if params.get("after"):
        mark = _mark(params["after"])
        start = sum(1 for o in objects if not _beyond(key(o), mark, descending))
        end = len(objects)
    elif params.get("before"):
        mark = _mark(params["before"])
        end = sum(1 for o in objects if _beyond(mark, key(o), descending))
        start = max(end - limit, 0)
    page = objects[start : min(start + limit, end)]
    kept = {k: v for k, v in params.items() if k not in ("after", "before", "offset")}
    attributes = {"next": "", "previous": ""}
    if start + len(page) < len(objects) and page:
        last = key(page[-1])
        attributes["next"] = page_url({**kept, "after": _token(last[0], str(page[-1][id_field]))})
    if start > 0 and page:
        first = key(page[0])
        attributes["previous"] = page_url(
            {**kept, "before": _token(first[0], str(page[0][id_field]))}
        )
    return Listing(page, attributes)


def _offset_page(objects: list[Json], params: Mapping[str, str], limit: int) -> Listing:
    try:
        offset = int(params["offset"])
    except ValueError:
        raise bad_request(f"Invalid offset: {params['offset']}") from None
    if offset < 0:
        raise bad_request("offset must not be negative")
    page = objects[offset : offset + limit]
    return Listing(page, {"count": str(len(objects)), "offset": str(offset), "limit": str(limit)})
