"""Cursor pagination the way Square's list and search endpoints do it.

A cursor is opaque and only valid with the query that produced it; a page may hold fewer
results than the limit (https://developer.squareup.com/docs/build-basics/common-api-patterns/pagination).
Cursors here remember the sort key of the last result rather than an offset, so results
added or changed while a client pages never shift a page: nothing is skipped, and only a
result whose sort key moved past the cursor is seen again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from salesync.sandbox.square.errors import invalid

T = TypeVar("T")
SortKey = tuple[str, str]


def rfc3339(instant: datetime) -> str:
    """Square's timestamp form: UTC with milliseconds, e.g. ``2026-03-02T14:00:00.000Z``."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def sort_key(instant: datetime, object_id: str) -> SortKey:
    """A key that sorts as the instant does, ties broken by id."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f"), object_id


def fingerprint(query: Any) -> str:
    """A short digest of the query a cursor belongs to."""
    text = json.dumps(query, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _decode(cursor: str, query: str) -> SortKey:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor.encode() + b"=" * (-len(cursor) % 4)))
        after = raw["after"]
        if raw["q"] != query or not isinstance(after, list) or len(after) != 2:
            raise ValueError(cursor)
        return str(after[0]), str(after[1])
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError) as error:
        raise invalid(
            "INVALID_CURSOR", "The cursor is invalid or belongs to another query.", "cursor"
        ) from error


def _encode(key: SortKey, query: str) -> str:
    raw = json.dumps({"q": query, "after": list(key)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def paginate(
    items: Sequence[T],
    key: Callable[[T], SortKey],
    *,
    descending: bool,
    limit: int,
    cursor: str | None,
    query: str,
) -> tuple[list[T], str | None]:
    """One page of ``items`` in key order after ``cursor``, and the cursor for the next."""
    ordered = sorted(items, key=key, reverse=descending)
    if cursor:
        after = _decode(cursor, query)
        ordered = [i for i in ordered if (key(i) < after if descending else key(i) > after)]
    page = ordered[:limit]
    more = len(ordered) > limit
    return page, (_encode(key(page[-1]), query) if more and page else None)


def bounded_limit(raw: object, default: int, maximum: int, field: str = "limit") -> int:
    """``raw`` as a page size, or Square's error for one out of range."""
    if raw is None or raw == "":
        return default
    try:
        value = int(str(raw))
    except ValueError as error:
        raise invalid("EXPECTED_INTEGER", f"Expected an integer for '{field}'.", field) from error
    if value < 1:
        raise invalid("VALUE_TOO_LOW", f"'{field}' must be at least 1.", field)
    if value > maximum:
        raise invalid("VALUE_TOO_HIGH", f"'{field}' must be at most {maximum}.", field)
    return value
