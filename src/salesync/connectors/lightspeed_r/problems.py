"""Reading a record: every problem found in it, with the path to the field, never just the
first, raised together as one ``ValidationError``."""

from __future__ import annotations

import json
from typing import TypeVar

import pydantic

from salesync.connectors.source import SourceContext
from salesync.domain.errors import ValidationError
from salesync.domain.validation import Problem

M = TypeVar("M", bound=pydantic.BaseModel)
PROVIDER = "lightspeed_r"


def field_path(loc: tuple[int | str, ...]) -> str:
    """``("sale", "SaleLines", 0, "unitPrice")`` as ``sale.SaleLines[0].unitPrice``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse(model: type[M], record_type: str, payload: str) -> M:
    """``payload`` read as ``model``, or a ``ValidationError`` naming every bad field."""
    try:
        body = json.loads(payload)
    except json.JSONDecodeError as exc:
        problem = Problem("malformed_json", f"not JSON: {exc.msg} at character {exc.pos}", "")
        raise refused(record_type, [problem]) from None
    try:
        return model.model_validate(body)
    except pydantic.ValidationError as exc:
        problems = [
            Problem("malformed_field", str(error["msg"]), field_path(tuple(error["loc"])))
            for error in exc.errors()
        ]
        raise refused(record_type, problems) from None


def refused(record_type: str, problems: list[Problem]) -> ValidationError:
    """The error for a Lightspeed record salesync cannot read, listing ``problems``."""
    listed = "; ".join(str(p) for p in problems)
    return ValidationError(
        f"lightspeed_r {record_type} record has {len(problems)} problem(s): {listed}",
        user_message=f"A Lightspeed {record_type.replace('_', ' ')} could not be read: {listed}",
        code="lightspeed_record_unreadable",
        provider=PROVIDER,
        operation="translate",
        problems=tuple(problems),
    )


class Problems:
    """Collects what is wrong while a record is translated."""

    def __init__(self, record_type: str) -> None:
        self.record_type = record_type
        self.found: list[Problem] = []

    def add(self, code: str, message: str, path: str) -> None:
        self.found.append(Problem(code, message, path))

    def location(self, context: SourceContext, shop_id: str | None, path: str) -> str:
        """The salesync location of a Lightspeed shop id; an unmapped one is a problem."""
        try:
            return context.location_for(shop_id, path)
        except ValidationError as exc:
            self.found += [p for p in exc.problems if isinstance(p, Problem)]
            return ""

    def check(self) -> None:
        """Raise every problem found so far, if there is one."""
        if self.found:
            raise refused(self.record_type, self.found)
