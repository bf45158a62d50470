"""Refusing a record with every problem found, in the words the inbox shows a merchant."""

from __future__ import annotations

from collections.abc import Sequence

import pydantic

from salesync.domain.errors import ValidationError
from salesync.domain.validation import Problem

SOURCE = "shopify"


def refused(what: str, problems: Sequence[Problem]) -> ValidationError:
    """The error for a record that cannot be read: ``what`` names it, ``problems`` say
    what to fix."""
    return ValidationError(
        f"{what} cannot be read: " + "; ".join(str(p) for p in problems),
        user_message=f"salesync could not read {what} from Shopify: "
        + "; ".join(str(p) for p in problems),
        code=problems[0].code if problems else "malformed_payload",
        provider=SOURCE,
        operation="translate",
        problems=tuple(problems),
    )


def _path(location: Sequence[int | str]) -> str:
    out = ""
    for part in location:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def from_pydantic(error: pydantic.ValidationError) -> list[Problem]:
    """One problem per field pydantic refused, with the field's path in the payload."""
    problems = []
    for item in error.errors(include_url=False):
        path = _path(item["loc"])
        if item["type"] == "missing":
            problems.append(Problem("missing_field", "is required but missing", path))
        else:
            given = repr(item.get("input"))[:60]
            problems.append(Problem("invalid_field", f"{item['msg']} (got {given})", path))
    return problems
