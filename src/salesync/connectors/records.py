"""Reading a provider's record: every problem found in it, with the path to the field,
never just the first, raised together as one ``ValidationError``.

Each source names its reader once (``RecordReader("square", "Square")``) and subclasses
``Problems`` with it; translation then collects problems as it goes and raises them all.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import pydantic

from salesync.connectors.source import SourceContext
from salesync.domain.errors import ValidationError
from salesync.domain.validation import Problem

M = TypeVar("M", bound=pydantic.BaseModel)


def field_path(loc: tuple[int | str, ...]) -> str:
    """``("order", "line_items", 0, "quantity")`` as ``order.line_items[0].quantity``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass(frozen=True, slots=True)
class RecordReader:
    """How one provider's records are read and refused."""

    provider: str
    """The provider's name in salesync (``square``)."""
    title: str
    """Its name as a merchant knows it (``Square``)."""
    code: str = ""
    """The refusal's code; ``<provider>_record_unreadable`` when empty."""
    parse_float: Callable[[str], Any] | None = None
    """How JSON numbers with a fraction are read (``Decimal`` where amounts are numbers)."""

    def parse(self, model: type[M], record_type: str, payload: str) -> M:
        """``payload`` read as ``model``, or a ``ValidationError`` naming every bad field."""
        try:
            body = json.loads(payload, parse_float=self.parse_float)
        except json.JSONDecodeError as exc:
            problem = Problem("malformed_json", f"not JSON: {exc.msg} at character {exc.pos}", "")
            raise self.refused(record_type, [problem]) from None
        try:
            return model.model_validate(body)
        except pydantic.ValidationError as exc:
            problems = [
                Problem("malformed_field", str(error["msg"]), field_path(tuple(error["loc"])))
                for error in exc.errors()
            ]
            raise self.refused(record_type, problems) from None

    def refused(self, record_type: str, problems: list[Problem]) -> ValidationError:
        """The error for a record salesync cannot read, listing ``problems``."""
        listed = "; ".join(str(p) for p in problems)
        what = record_type.replace("_", " ")
        return ValidationError(
            f"{self.provider} {record_type} record has {len(problems)} problem(s): {listed}",
            user_message=f"A {self.title} {what} could not be read: {listed}",
            code=self.code or f"{self.provider}_record_unreadable",
            provider=self.provider,
            operation="translate",
            problems=tuple(problems),
        )


class Problems:
    """Collects what is wrong while a record is translated; a source subclasses it with
    its ``reader``."""

    reader: ClassVar[RecordReader]

    def __init__(self, record_type: str) -> None:
        self.record_type = record_type
        self.found: list[Problem] = []

    def add(self, code: str, message: str, path: str) -> None:
        self.found.append(Problem(code, message, path))

    def location(self, context: SourceContext, provider_location: str | None, path: str) -> str:
        """The salesync location of the provider's location (a shop, an outlet, a
        merchant); an unmapped one is a problem."""
        try:
            return context.location_for(provider_location, path)
        except ValidationError as exc:
            self.found += [p for p in exc.problems if isinstance(p, Problem)]
            return ""

    def check(self) -> None:
        """Raise every problem found so far, if there is one."""
        if self.found:
            raise self.reader.refused(self.record_type, self.found)
