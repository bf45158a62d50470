"""How the API answers when something is wrong: JSON a person and a provider can read,
never a stack trace."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fastapi.responses import JSONResponse

from salesync.domain.validation import Problem

RETRY_AFTER_SECONDS = 30


def problem_rows(problems: Iterable[Problem]) -> list[dict[str, str]]:
    return [{"code": p.code, "message": p.message, "path": p.path} for p in problems]


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
