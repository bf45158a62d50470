"""Request and response bodies shared by the endpoints: JSON in, Square's list shape out."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from salesync.sandbox.square import errors
from salesync.sandbox.square.credentials import Bearer

Json = dict[str, Any]
Work = Callable[[Bearer], tuple[int, Json]]
Serve = Callable[[Request, str, Work], Awaitable[Response]]
"""Runs one operation's work behind the gateway for a request."""


def parse_json(raw: bytes) -> Json:
    """The request body as a JSON object, or Square's error for anything else."""
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError) as error:
        raise errors.invalid("EXPECTED_JSON_BODY", "The request body is not valid JSON.") from error
    if not isinstance(body, dict):
        raise errors.invalid("EXPECTED_JSON_BODY", "The request body is not a JSON object.")
    return body


def listing(name: str, rows: Sequence[Json], cursor: str | None) -> tuple[int, Json]:
    """A list answer; an empty list is left out of the body, as Square leaves it out."""
    body: Json = {name: list(rows)} if rows else {}
    if cursor:
        body["cursor"] = cursor
    return 200, body
