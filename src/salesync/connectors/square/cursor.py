"""Where a sweep of one Square stream stands, as the opaque string the engine stores.

A sweep reads in passes. A pass reads one part at a time (a group of at most ten
locations for SearchOrders, one location for ListPayouts, the whole account for the other
streams), one Square page at a time; ``page`` is Square's cursor within the current part.

Each location (``all`` for the account-wide streams) has its own mark: changes at or after
it are read. A part's mark moves only by what that part read, because parts are read at
different times: a pass stopped by an outage after location A and resumed days later at
location B must not move A past the payouts A made meanwhile. A part reads from the
earliest mark among its locations and leaves out what is older than its own location's
mark, which matters only when the groups change because a location was added.

The next read of a part starts a little before the newest change it saw: Square's search
index can show a change a moment after a later one (and offline Point of Sale orders
arrive late, https://developer.squareup.com/reference/square/orders-api/search-orders), so
a short overlap is read again. What a pass already gave from that overlap is remembered by
key (object id and version) and not given again, so a sweep with nothing new gives nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from salesync.domain.errors import BugError

OVERLAP = timedelta(minutes=5)
VERSION = 2
"""1 kept one mark, ``since``, for every part of a stream; 2 keeps one per location."""


@dataclass(frozen=True, slots=True)
class SweepCursor:
    since: datetime | None = None
    """Where a location without a mark of its own starts; None reads from the beginning.

    The ``sweep_since`` setting, or the single mark of a version 1 cursor."""
    marks: tuple[tuple[str, datetime], ...] = ()
    """Per location: changes at or after the instant are read. Sorted by location."""
    known: frozenset[str] = frozenset()
    """Keys of changes at or after the marks that the previous pass gave already."""
    parts: tuple[str, ...] = ()
    """The parts of the pass, fixed when it starts; empty between passes."""
    part: int = 0
    page: str | None = None
    high: datetime | None = None
    """The newest change the current part has seen."""
    tail: tuple[tuple[str, datetime], ...] = ()
    """Changes the current part has seen within the overlap before ``high``: (key, instant)."""
    kept: frozenset[str] = frozenset()
    """Keys the finished parts of this pass read within their overlap, and the untimed
    changes it read (a failed payout listed again): the next ``known``."""

    @property
    def started(self) -> bool:
        return bool(self.parts)

    @property
    def current(self) -> str:
        return self.parts[self.part]

    @property
    def start(self) -> datetime | None:
        """Where the current part reads from: the earliest mark among its locations."""
        marks = [self.mark(unit) for unit in self.current.split(",")]
        return None if None in marks else min(m for m in marks if m is not None)

    def mark(self, unit: str) -> datetime | None:
        """Where ``unit`` (a location id, or ``all``) reads from."""
        return dict(self.marks).get(unit, self.since)

    def unread(self, key: str, unit: str, when: datetime | None) -> bool:
        """Whether a change read now was not given before: not remembered from the
        overlap, and not older than its location's mark (a part reading from an earlier
        mark of another location in its group)."""
        if key in self.known:
            return False
        mark = self.mark(unit)
        return when is None or mark is None or when >= mark

    def begin(self, parts: tuple[str, ...]) -> SweepCursor:
        return replace(self, parts=parts, part=0, page=None, high=None, tail=(), kept=frozenset())

    def saw(self, changes: list[tuple[str, datetime]]) -> SweepCursor:
        """The cursor after the changes ``(key, instant)`` were read, whether they were
        given or skipped."""
        high = max([t for _, t in changes] + ([self.high] if self.high else []), default=None)
        if high is None:
            return self
        tail = tuple((k, t) for k, t in (*self.tail, *changes) if t >= high - OVERLAP)
        return replace(self, high=high, tail=tail)

    def keep(self, keys: list[str]) -> SweepCursor:
        """The cursor remembering ``keys`` (changes with no time, which no mark can leave
        behind) into the next pass, so they are given once while they are read."""
        if not keys:
            return self
        return replace(self, kept=self.kept | frozenset(keys))

    def after_page(self, page: str | None) -> SweepCursor:
        """Where to go on once a page was read; ``page`` is Square's next cursor."""
        if page:
            return replace(self, page=page)
        done = self._part_done()
        if done.part + 1 < len(done.parts):
            return replace(done, part=done.part + 1, page=None)
        return done.finished()

    def _part_done(self) -> SweepCursor:
        """The current part read to its end: its locations' marks move to a little before
        the newest change it saw, never back."""
        if self.high is None:
            return self
        marks = dict(self.marks)
        for unit in self.current.split(","):
            prior = self.mark(unit)
            marks[unit] = self.high - OVERLAP if prior is None else max(self.high - OVERLAP, prior)
        low = min(marks[unit] for unit in self.current.split(","))
        # The tail holds every change the part read within its overlap, given now or before.
        kept = self.kept | {k for k, t in self.tail if t >= low}
        return replace(self, marks=tuple(sorted(marks.items())), high=None, tail=(), kept=kept)

    def finished(self) -> SweepCursor:
        """The start of the next pass."""
        return SweepCursor(since=self.since, marks=self.marks, known=self.kept)

    def encode(self) -> str:
        body: dict[str, Any] = {"v": VERSION}
        if self.since is not None:
            body["since"] = self.since.isoformat()
        if self.marks:
            body["marks"] = {unit: t.isoformat() for unit, t in self.marks}
        if self.known:
            body["known"] = sorted(self.known)
        if self.started:
            body.update(parts=list(self.parts), part=self.part)
            if self.page:
                body["page"] = self.page
            if self.high is not None:
                body["high"] = self.high.isoformat()
            body["tail"] = [[k, t.isoformat()] for k, t in self.tail]
            if self.kept:
                body["kept"] = sorted(self.kept)
        return json.dumps(body, separators=(",", ":"))

    @classmethod
    def decode(cls, text: str | None) -> SweepCursor:
        if not text:
            return cls()
        try:
            body = json.loads(text)
            version = body.get("v")
            if version not in (1, VERSION):
                raise ValueError(f"version {version!r}")
            parts = tuple(str(p) for p in body.get("parts", ()))
            part = int(body.get("part", 0))
            if parts and not 0 <= part < len(parts):
                raise ValueError(f"part {part} of {len(parts)}")
            tail = tuple((str(k), _moment(t)) for k, t in body.get("tail", ()))
            kept = frozenset(str(k) for k in body.get("kept", ()))
            if version == 1:
                # Version 1's single ``since`` becomes every location's mark (as the
                # default). Its ``high`` and ``tail`` were the pass's, not the current
                # part's; they are safe as the current part's, since that part reads up
                # to when its first page was asked for, after everything the pass saw.
                # Parts finished before it read again from ``since``: what they gave
                # beyond the overlap may be given once more, which is never a loss.
                kept = frozenset(k for k, _ in tail)
            return cls(
                since=_instant(body.get("since")),
                marks=tuple(sorted((str(u), _moment(t)) for u, t in body.get("marks", {}).items())),
                known=frozenset(str(k) for k in body.get("known", ())),
                parts=parts,
                part=part,
                page=str(body["page"]) if body.get("page") else None,
                high=_instant(body.get("high")),
                tail=tail,
                kept=kept if parts else frozenset(),
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
