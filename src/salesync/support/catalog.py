"""Loading a plan catalog: a built-in one by name (``proactive``, ``tiered``) or a TOML file."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from salesync.monitor.routing.config import describe_problems
from salesync.support.plans import Catalog

BUILT_IN = ("proactive", "tiered")


class CatalogError(ValueError):
    """A catalog that cannot be read; the message names every bad entry and what to write."""


def load_catalog(name_or_path: str) -> Catalog:
    """The built-in catalog ``name_or_path`` names, or the one in that TOML file."""
    if name_or_path in BUILT_IN:
        return _built_in(name_or_path)
    path = Path(name_or_path)
    if not path.is_file():
        raise CatalogError(
            f"catalog {name_or_path!r} is neither a built-in catalog ({', '.join(BUILT_IN)}) "
            "nor a TOML file"
        )
    return parse_catalog(path.read_text(encoding="utf-8"), source=str(path))


@cache
def _built_in(name: str) -> Catalog:
    text = resources.files("salesync.support").joinpath(f"catalogs/{name}.toml").read_text("utf-8")
    return parse_catalog(text, source=f"built-in catalog {name}")


def _shared_scope() -> list[dict[str, Any]]:
    text = resources.files("salesync.support").joinpath("catalogs/scope.toml").read_text("utf-8")
    scope: list[dict[str, Any]] = tomllib.loads(text)["scope"]
    return scope


def parse_catalog(text: str, *, source: str = "catalog") -> Catalog:
    """Validate a catalog document; without ``[[scope]]`` it takes the shared scope of work."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{source}: not valid TOML: {exc}") from None
    document.setdefault("scope", _shared_scope())
    try:
        return Catalog.model_validate(document)
    except ValidationError as exc:
        lines = [f"{source}: {exc.error_count()} problem(s)"]
        lines.extend(f"- {problem}" for problem in describe_problems(exc))
        raise CatalogError("\n".join(lines)) from None
