"""What every route of the API reads the same way: ``limit`` and ``cursor`` pagination,
whole numbers, choices, days, identifiers in the path and JSON bodies.

A list answers one page and the ``next_cursor`` to ask for the next (null on the last
page). The cursor is the last key shown, so rows added meanwhile never shift a page.
Every refusal here is raised as ``Refused`` in the API's error shape, naming the parameter
or field and what it takes: 400 for a query parameter, 422 for a body.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any, Protocol, TypeVar

import pydantic
from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy import Select
from sqlalchemy.orm import Session

from salesync.api.answers import answer
from salesync.api.auth import Refused
from salesync.api.body import BadLengthError, BodyTooLargeError, read_body
from salesync.domain.validation import Problem

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_ID = 2**63 - 1
"""The largest id either database stores; a cursor or id past it names nothing."""
MAX_KEY = 200
"""The longest text key (an id, a name) a cursor or path may carry."""
MAX_JSON_BYTES = 256 * 1024
"""Large enough for a mapping with thousands of rules; a settings change is far less."""

BAD_PARAMETER = {400: "A query parameter is outside what it takes (`bad_parameter`)."}
BAD_BODY = {
    400: "The body is not JSON (`unreadable_body`) or its Content-Length is not a number "
    "(`bad_content_length`).",
    413: "The body is over the size cap (`body_too_large`).",
    422: "The body does not say what it must (`invalid_body`); `problems` names every "
    "problem and its field.",
}

_Row = TypeVar("_Row")
_Model = TypeVar("_Model", bound=pydantic.BaseModel)


def query_parameter(
    name: str, description: str, schema: dict[str, Any], *, required: bool = False
) -> dict[str, Any]:
    """One query parameter as the OpenAPI document declares it."""
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema,
    }


def paging(*, text: bool = False) -> list[dict[str, Any]]:
    """The ``limit`` and ``cursor`` parameters of a list: a whole-number cursor for lists
    newest first by id, a text one for lists in the order of their (text) ids."""
    cursor: dict[str, Any] = (
        {"type": "string", "minLength": 1, "maxLength": MAX_KEY}
        if text
        else {"type": "integer", "minimum": 1, "maximum": MAX_ID}
    )
    return [
        query_parameter(
            "limit",
            "How many to show at a time.",
            {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        ),
        query_parameter("cursor", "The `next_cursor` of the page before.", cursor),
    ]


PAGING = paging()
TEXT_PAGING = paging(text=True)


def limit_of(request: Request) -> int:
    return number("limit", request.query_params.get("limit", str(DEFAULT_LIMIT)), MAX_LIMIT)


def page(
    session: Session, query: Select[_Row], key: Any, request: Request
) -> tuple[list[_Row], str | None]:
    """One page of ``query``, highest (newest) whole-number ``key`` first, and the cursor
    of the next page (None on the last)."""
    limit = limit_of(request)
    cursor = request.query_params.get("cursor")
    if cursor is not None:
        query = query.where(key < number("cursor", cursor))
    rows = list(session.scalars(query.order_by(key.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, str(getattr(rows[-1], key.key)) if more else None


class _Numbered(Protocol):
    @property
    def id(self) -> int: ...


_Item = TypeVar("_Item", bound=_Numbered)


def list_page(items: Sequence[_Item], request: Request) -> tuple[list[_Item], str | None]:
    """One page of ``items`` (newest, highest ``id`` first, already read), and the cursor
    of the next page (None on the last): for lists a service gives whole, as ``page``
    does for queries."""
    limit = limit_of(request)
    cursor = request.query_params.get("cursor")
    if cursor is not None:
        below = number("cursor", cursor)
        items = [i for i in items if i.id < below]
    found = list(items[:limit])
    return found, str(found[-1].id) if len(items) > limit else None


def text_page(
    session: Session, query: Select[_Row], key: Any, request: Request
) -> tuple[list[_Row], str | None]:
    """One page of ``query`` in the order of its text ``key``, and the cursor of the next
    page (None on the last)."""
    limit = limit_of(request)
    cursor = request.query_params.get("cursor")
    if cursor is not None:
        query = query.where(key > text("cursor", cursor))
    rows = list(session.scalars(query.order_by(key).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, str(getattr(rows[-1], key.key)) if more else None


def number(name: str, value: str, most: int = MAX_ID) -> int:
    """``value`` as a whole number from 1 up to ``most``, or a 400 saying what it must be."""
    try:
        found = int(value)
    except ValueError:
        found = 0
    if found < 1 or found > most:
        raise Refused(
            answer(400, "bad_parameter", f"{name} must be a whole number from 1 up to {most}.")
        )
    return found


def choice(name: str, value: str, allowed: Iterable[str]) -> str:
    """``value`` if it is one of ``allowed``, or a 400 listing them."""
    choices = [str(a) for a in allowed]
    if value not in choices:
        raise Refused(answer(400, "bad_parameter", f"{name} must be one of: {', '.join(choices)}."))
    return value


def text(name: str, value: str) -> str:
    """``value`` if a database can compare it (not too long, no NUL), or a 400."""
    if not value or len(value) > MAX_KEY or "\x00" in value:
        raise Refused(
            answer(
                400,
                "bad_parameter",
                f"{name} must be 1 to {MAX_KEY} characters, with no NUL character.",
            )
        )
    return value


def day(name: str, value: str) -> date:
    """``value`` as a calendar day written YYYY-MM-DD, or a 400 saying so."""
    try:
        if len(value) == len("2026-01-31"):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise Refused(
        answer(400, "bad_parameter", f"{name} must be a day written YYYY-MM-DD, not {value!r}.")
    )


def days(request: Request, first: str = "from", last: str = "to") -> tuple[date, date]:
    """The ``from`` and ``to`` days of a report (both needed, in order), or a 400."""
    params = request.query_params
    missing = [name for name in (first, last) if params.get(name) is None]
    if missing:
        raise Refused(
            answer(
                400,
                "bad_parameter",
                f"Give the days to cover as {first} and {last}, such as "
                f"?{first}=2026-01-01&{last}=2026-01-31 (missing: {', '.join(missing)}).",
            )
        )
    start, end = day(first, params[first]), day(last, params[last])
    if end < start:
        raise Refused(answer(400, "bad_parameter", f"{last} must not be before {first}."))
    return start, end


def known(value: str) -> bool:
    """Whether a path's identifier could name a stored row (a database can look it up);
    a route answers 404 for one that cannot."""
    return 0 < len(value) <= MAX_KEY and "\x00" not in value


async def json_data(request: Request) -> Any:
    """The request's body parsed as JSON, or a refusal: 400 for what is not JSON, 413 past
    the size cap."""
    try:
        raw = await read_body(request, MAX_JSON_BYTES)
    except BodyTooLargeError as exc:
        raise Refused(
            answer(413, "body_too_large", f"The body is over {exc.limit} bytes.")
        ) from None
    except BadLengthError as exc:
        raise Refused(answer(400, "bad_content_length", str(exc))) from None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise Refused(
            answer(400, "unreadable_body", 'The body must be JSON, such as {"key": "value"}.')
        ) from None


async def json_body(request: Request, model: type[_Model]) -> _Model:
    """The request's JSON body read into ``model``; a refusal as ``json_data`` gives one,
    or 422 listing every field that is wrong."""
    return validated(await json_data(request), model)


def validated(data: Any, model: type[_Model]) -> _Model:
    """``data`` read into ``model``, or a 422 listing every field that is wrong."""
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        problems = [
            Problem(e["type"], e["msg"], _field(e["loc"])) for e in exc.errors(include_url=False)
        ]
        raise Refused(invalid_body(problems)) from None


def invalid_body(problems: Sequence[Problem]) -> JSONResponse:
    """The 422 answer naming every problem of a body and its field."""
    listed = "; ".join(f"{p.path or 'body'}: {p.message}" for p in problems)
    return answer(422, "invalid_body", f"The body was not accepted: {listed}.", problems=problems)


def _field(loc: tuple[int | str, ...]) -> str:
    found = ""
    for part in loc:
        found += f"[{part}]" if isinstance(part, int) else f".{part}" if found else part
    return found
