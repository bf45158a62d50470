"""Where a sweep of one Square stream stands, as the opaque string the engine stores.

A sweep reads in passes. A pass asks for everything changed at or after ``since``, one
part at a time (a group of at most ten locations for SearchOrders, one location for
ListPayouts), one Square page at a time; ``page`` is Square's cursor within the current
part, and ``high`` the newest change the pass has seen.

The next pass starts a little before ``high``: Square's search index can show a change a
moment after a later one (and offline Point of Sale orders arrive late,
https://developer.squareup.com/reference/square/orders-api/search-orders), so a short
overlap is read again. What the pass already gave from that overlap is remembered by key
(object id and version) and not given again, so a sweep with nothing new gives nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from salesync.domain.errors import BugError

OVERLAP = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class SweepCursor:
    since: datetime | None = None
    """Changes at or after this instant are read; None reads from the beginning."""
    known: frozenset[str] = frozenset()
    """Keys of changes after ``since`` that the previous pass gave already."""
    parts: tuple[str, ...] = ()
    """The parts of the pass, fixed when it starts; empty between passes."""
    part: int = 0
    page: str | None = None
    high: datetime | None = None
    """The newest change this pass has seen."""
    tail: tuple[tuple[str, datetime], ...] = ()
    """Changes this pass has seen within the overlap before ``high``: (key, instant)."""

    @property
    def started(self) -> bool:
        return bool(self.parts)

    @property
    def current(self) -> str:
        return self.parts[self.part]

    def begin(self, parts: tuple[str, ...]) -> SweepCursor:
        return replace(self, parts=parts, part=0, page=None, high=None, tail=())

    def saw(self, changes: list[tuple[str, datetime]]) -> SweepCursor:
        """The cursor after the changes ``(key, instant)`` were read, whether they were
        given or skipped as known."""
        high = max([t for _, t in changes] + ([self.high] if self.high else []), default=None)
        if high is None:
            return self
        tail = tuple((k, t) for k, t in (*self.tail, *changes) if t >= high - OVERLAP)
        return replace(self, high=high, tail=tail)

    def after_page(self, page: str | None) -> SweepCursor:
        """Where to go on once a page was read; ``page`` is Square's next cursor."""
        if page:
            return replace(self, page=page)
        if self.part + 1 < len(self.parts):
            return replace(self, part=self.part + 1, page=None)
        return self.finished()

    def finished(self) -> SweepCursor:
        """The start of the next pass."""
        if self.high is None:
            return SweepCursor(since=self.since, known=self.known)
        since = self.high - OVERLAP
        if self.since is not None and self.since > since:
            since = self.since
        # The tail holds every change read within the overlap, given now or before.
        return SweepCursor(since=since, known=frozenset(k for k, t in self.tail if t >= since))

    def encode(self) -> str:
        body: dict[str, Any] = {"v": 1}
        if self.since is not None:
            body["since"] = self.since.isoformat()
        if self.known:
            body["known"] = sorted(self.known)
        if self.started:
            body.update(parts=list(self.parts), part=self.part)
            if self.page:
                body["page"] = self.page
            if self.high is not None:
                body["high"] = self.high.isoformat()
            body["tail"] = [[k, t.isoformat()] for k, t in self.tail]
        return json.dumps(body, separators=(",", ":"))

    @classmethod
    def decode(cls, text: str | None) -> SweepCursor:
        if not text:
            return cls()
        try:
            body = json.loads(text)
            if body.get("v") != 1:
                raise ValueError(f"version {body.get('v')!r}")
            parts = tuple(str(p) for p in body.get("parts", ()))
            part = int(body.get("part", 0))
            if parts and not 0 <= part < len(parts):
                raise ValueError(f"part {part} of {len(parts)}")
            return cls(
                since=_instant(body.get("since")),
                known=frozenset(str(k) for k in body.get("known", ())),
                parts=parts,
                part=part,
                page=str(body["page"]) if body.get("page") else None,
                high=_instant(body.get("high")),
                tail=tuple((str(k), _moment(t)) for k, t in body.get("tail", ())),
            )
        except (ValueError, TypeError, AttributeError) as exc:
            raise BugError(
                f"a stored Square sweep cursor cannot be read ({exc}): {text[:200]!r}",
                code="square_cursor_unreadable",
                provider="square",
                operation="fetch",
            ) from exc


def _moment(value: object) -> datetime:
    instant = datetime.fromisoformat(str(value))
    if instant.tzinfo is None:
        raise ValueError(f"{value!r} has no offset")
    return instant


def _instant(value: object) -> datetime | None:
    return None if value is None else _moment(value)
