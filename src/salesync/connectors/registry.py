"""The registry of sources, filled from the ``salesync.sources`` entry point group.

A third party adds a source by publishing a package with an entry point in that group
naming an object (or a no-argument factory) that satisfies ``Source``; salesync's own
sources are registered the same way, in its pyproject.toml.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib.metadata import EntryPoint, entry_points

from salesync.connectors.source import Source
from salesync.domain.errors import BugError, ValidationError
from salesync.domain.validation import Problem

GROUP = "salesync.sources"


class SourceRegistry:
    """Sources by name; loaded lazily so a broken third-party plugin only fails its own
    name, with an error that says which package to fix."""

    def __init__(self, points: Iterable[EntryPoint] | None = None) -> None:
        self._points = {
            p.name: p for p in (entry_points(group=GROUP) if points is None else points)
        }
        self._loaded: dict[str, Source] = {}

    def names(self) -> list[str]:
        return sorted({*self._points, *self._loaded})

    def add(self, source: Source) -> None:
        """Register ``source`` directly (tests, embedded use)."""
        self._loaded[source.name] = source

    def get(self, name: str) -> Source:
        known = self._loaded.get(name)
        if known is not None:
            return known
        point = self._points.get(name)
        if point is None:
            raise ValidationError(
                f"no source named {name!r} is installed (installed: {', '.join(self.names())})",
                user_message=f"salesync has no connector called {name!r}.",
                code="unknown_source",
                problems=(Problem("unknown_source", f"no source {name!r}", "source"),),
            )
        try:
            loaded = point.load()
            source = loaded() if _is_factory(loaded) else loaded
        except Exception as exc:
            raise BugError(
                f"the source plugin {name!r} ({point.value}) failed to load: {exc}",
                code="source_plugin_broken",
            ) from exc
        if not isinstance(source, Source):
            raise BugError(
                f"the source plugin {name!r} ({point.value}) does not provide a Source",
                code="source_plugin_broken",
            )
        if source.name != name:
            raise BugError(
                f"the source plugin registered as {name!r} calls itself {source.name!r}",
                code="source_plugin_broken",
            )
        self._loaded[name] = source
        return source


def _is_factory(loaded: object) -> bool:
    return isinstance(loaded, type) or (
        isinstance(loaded, Callable) and not isinstance(loaded, Source)  # type: ignore[arg-type]
    )


_DEFAULT: SourceRegistry | None = None


def sources() -> SourceRegistry:
    """The process-wide registry of installed sources."""
    global _DEFAULT  # noqa: PLW0603 -- one registry per process, built on first use
    if _DEFAULT is None:
        _DEFAULT = SourceRegistry()
    return _DEFAULT
