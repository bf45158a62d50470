"""Registries of connectors, filled from entry point groups.

A third party adds a source by publishing a package with an entry point in the
``salesync.sources`` group (a destination: ``salesync.destinations``) naming an object, or
a no-argument factory, that satisfies ``Source`` (``Destination``); salesync's own
connectors are registered the same way, in its pyproject.toml.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Generic, Protocol, TypeVar

from salesync.connectors.destination import Destination
from salesync.connectors.source import Source
from salesync.domain.errors import BugError, ValidationError
from salesync.domain.validation import Problem

GROUP = "salesync.sources"
DESTINATIONS_GROUP = "salesync.destinations"


class _Named(Protocol):
    @property
    def name(self) -> str: ...


T = TypeVar("T", bound=_Named)


class Registry(Generic[T]):
    """Connectors by name; loaded lazily so a broken third-party plugin only fails its own
    name, with an error that says which package to fix."""

    def __init__(
        self, group: str, kind: type[Any], noun: str, points: Iterable[EntryPoint] | None = None
    ) -> None:
        self.group = group
        self._kind = kind
        self._noun = noun
        self._points = {
            p.name: p for p in (entry_points(group=group) if points is None else points)
        }
        self._loaded: dict[str, T] = {}

    def names(self) -> list[str]:
        return sorted({*self._points, *self._loaded})

    def add(self, connector: T) -> None:
        """Register ``connector`` directly (tests, embedded use)."""
        self._loaded[connector.name] = connector

    def get(self, name: str) -> T:
        known = self._loaded.get(name)
        if known is not None:
            return known
        point = self._points.get(name)
        noun = self._noun
        if point is None:
            raise ValidationError(
                f"no {noun} named {name!r} is installed (installed: {', '.join(self.names())})",
                user_message=f"salesync has no connector called {name!r}.",
                code=f"unknown_{noun}",
                problems=(Problem(f"unknown_{noun}", f"no {noun} {name!r}", noun),),
            )
        broken = f"the {noun} plugin {name!r} ({point.value})"
        try:
            loaded = point.load()
            connector = loaded() if self._is_factory(loaded) else loaded
        except Exception as exc:
            raise BugError(f"{broken} failed to load: {exc}", code=f"{noun}_plugin_broken") from exc
        if not isinstance(connector, self._kind):
            raise BugError(
                f"{broken} does not provide a {self._kind.__name__}",
                code=f"{noun}_plugin_broken",
            )
        if connector.name != name:
            raise BugError(
                f"the {noun} plugin registered as {name!r} calls itself {connector.name!r}",
                code=f"{noun}_plugin_broken",
            )
        self._loaded[name] = connector
        return connector  # type: ignore[no-any-return]

    def _is_factory(self, loaded: object) -> bool:
        return isinstance(loaded, type) or (
            isinstance(loaded, Callable) and not isinstance(loaded, self._kind)  # type: ignore[arg-type]
        )


class SourceRegistry(Registry[Source]):
    def __init__(self, points: Iterable[EntryPoint] | None = None) -> None:
        super().__init__(GROUP, Source, "source", points)


class DestinationRegistry(Registry[Destination]):
    def __init__(self, points: Iterable[EntryPoint] | None = None) -> None:
        super().__init__(DESTINATIONS_GROUP, Destination, "destination", points)


_DEFAULT: SourceRegistry | None = None
_DESTINATIONS: DestinationRegistry | None = None


def sources() -> SourceRegistry:
    """The process-wide registry of installed sources."""
    global _DEFAULT  # noqa: PLW0603 -- one registry per process, built on first use
    if _DEFAULT is None:
        _DEFAULT = SourceRegistry()
    return _DEFAULT


def destinations() -> DestinationRegistry:
    """The process-wide registry of installed destinations."""
    global _DESTINATIONS  # noqa: PLW0603 -- one registry per process, built on first use
    if _DESTINATIONS is None:
        _DESTINATIONS = DestinationRegistry()
    return _DESTINATIONS
