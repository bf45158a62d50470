"""How the API answers when something is wrong: JSON a person and a provider can read,
never a stack trace."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from salesync.domain.validation import Problem, problem_rows

RETRY_AFTER_SECONDS = 30

AUTH_REFUSALS = {
    401: "No API token, user API key or dashboard session, or one unknown, revoked or "
    "ended (`unauthenticated`, `bad_token`, `session_ended`).",
    403: "The credential belongs to another tenant (`wrong_tenant`); the caller's role does "
    "not allow this there (`not_allowed`; a tenant's API token acts as its owner); or a "
    "change sent with the session cookie lacks the page's CSRF token (`csrf`).",
    404: "There is no such tenant (`unknown_tenant`).",
}
"""How a tenant's API refuses a caller, as its routes declare it."""


class ProblemRow(BaseModel):
    """One problem found in a request, and the field it is about (empty for the body)."""

    code: str
    message: str
    path: str


class ApiError(BaseModel):
    """The body of every refusal: a machine code, plain words, and every problem found.
    Some refusals add fields of their own (manual entry shows the record it kept)."""

    model_config = ConfigDict(extra="allow")

    error: str = Field(description="A machine-readable code, such as `bad_token`.")
    message: str = Field(description="What went wrong and what to do, in plain words.")
    problems: list[ProblemRow] = Field(default_factory=list)


def answer(
    status_code: int,
    error: str,
    message: str,
    *,
    problems: Iterable[Problem] = (),
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A JSON error: a machine code, plain words, and every problem with its field."""
    body: dict[str, Any] = {"error": error, "message": message}
    rows = problem_rows(problems)
    if rows:
        body["problems"] = rows
    body.update(extra)
    return JSONResponse(body, status_code=status_code, headers=dict(headers or {}))


def database_unavailable() -> JSONResponse:
    """503 with Retry-After: providers deliver again later, nothing is lost."""
    return answer(
        503,
        "database_unavailable",
        "salesync cannot store anything right now; please try again shortly.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def declared(refusals: Mapping[int, str]) -> dict[int | str, dict[str, Any]]:
    """A route's ``responses`` for its OpenAPI document: each refusal in ``refusals``
    (status: when) in the error shape, then the 503 every route answers while the database
    is unavailable, and the ``default`` that stands for an unexpected failure."""
    responses: dict[int | str, dict[str, Any]] = {
        status: {"model": ApiError, "description": when} for status, when in refusals.items()
    }
    responses.setdefault(
        503,
        {
            "model": ApiError,
            "description": "The database is unavailable (`database_unavailable`); nothing "
            "was stored, try again after Retry-After seconds.",
        },
    )
    responses[503]["headers"] = {
        "Retry-After": {
            "description": "Seconds to wait before trying again.",
            "required": True,
            "schema": {"type": "integer"},
        }
    }
    responses["default"] = {
        "model": ApiError,
        "description": "An unexpected failure (`internal_error`), logged on the server.",
    }
    return responses
