"""Where a sweep of one Clover stream stands, as the opaque string the engine stores.

A page asks for objects modified at or after ``since``, oldest change first. Objects
that share the newest ``modifiedTime`` of a page are remembered in ``seen`` and skipped
on the next page, so a page boundary inside one millisecond neither repeats nor loses
an object; an object changed again moves past ``since`` and comes back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from salesync.domain.errors import BugError


@dataclass(frozen=True, slots=True)
class SweepCursor:
    since: int | None = None
    """Epoch milliseconds: objects modified at or after it are read; None reads all."""
    seen: frozenset[str] = frozenset()
    """Ids of objects modified exactly at ``since`` that were given already."""

    def given(self, key: str, modified: int) -> bool:
        """Whether the object ``key`` as modified at ``modified`` was given already."""
        return modified == self.since and key in self.seen

    def after(self, page: list[tuple[str, int]]) -> SweepCursor:
        """The cursor after a page of (id, modifiedTime), oldest first."""
        if not page:
            return self
        newest = max(when for _, when in page)
        at_newest = {key for key, when in page if when == newest}
        if newest == self.since:
            at_newest |= self.seen
        return SweepCursor(newest, frozenset(at_newest))

    def encode(self) -> str:
        return json.dumps({"since": self.since, "seen": sorted(self.seen)})

    @classmethod
    def decode(cls, raw: str | None) -> SweepCursor:
        if raw is None:
            return cls()
        try:
            body: Any = json.loads(raw)
            since = body["since"]
            seen = frozenset(str(s) for s in body["seen"])
        except (ValueError, KeyError, TypeError):
            raise BugError(
                f"clover sweep cursor {raw[:80]!r} cannot be read",
                code="bad_cursor",
                provider="clover",
                operation="fetch",
            ) from None
        if since is not None and not isinstance(since, int):
            raise BugError(
                f"clover sweep cursor has a bad since {since!r}",
                code="bad_cursor",
                provider="clover",
            )
        return cls(since, seen)
