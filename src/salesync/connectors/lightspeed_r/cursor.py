"""Where a sweep of one R-Series stream stands, as the opaque string the engine stores.

A sweep reads in passes. A pass lists everything whose ``timeStamp`` is after ``since``,
oldest change first, following ``@attributes.next`` links page by page (``next`` is the
link still to follow), and ``high`` is the newest change it has seen.

The next pass starts a little before ``high``: a change committed while a pass was reading
can carry a timestamp just before the newest one the pass saw, so a short overlap is read
again. What the pass already gave from that overlap is remembered by key (object id and
timestamp) and not given again, so a sweep with nothing new gives nothing.
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
    """Changes after this instant are read; None reads from the beginning."""
    known: frozenset[str] = frozenset()
    """Keys of changes after ``since`` that the previous pass gave already."""
    next: str | None = None
    """The link to the pass's next page; None before a pass starts and after it ends."""
    high: datetime | None = None
    tail: tuple[tuple[str, datetime], ...] = ()
    """Changes this pass has seen within the overlap before ``high``: (key, instant)."""

    def saw(self, changes: list[tuple[str, datetime]]) -> SweepCursor:
        """The cursor after ``changes`` were read, given or skipped as known."""
        high = max([t for _, t in changes] + ([self.high] if self.high else []), default=None)
        if high is None:
            return self
        tail = tuple((k, t) for k, t in (*self.tail, *changes) if t >= high - OVERLAP)
        return replace(self, high=high, tail=tail)

    def finished(self) -> SweepCursor:
        """The start of the next pass."""
        if self.high is None:
            return SweepCursor(since=self.since, known=self.known)
        since = self.high - OVERLAP
        if self.since is not None and self.since > since:
            since = self.since
        return SweepCursor(since=since, known=frozenset(k for k, t in self.tail if t >= since))

    def encode(self) -> str:
        body: dict[str, Any] = {"v": 1}
        if self.since is not None:
            body["since"] = self.since.isoformat()
        if self.known:
            body["known"] = sorted(self.known)
        if self.next:
            body["next"] = self.next
        if self.high is not None:
            body["high"] = self.high.isoformat()
        if self.tail:
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
            return cls(
                since=_instant(body.get("since")),
                known=frozenset(str(k) for k in body.get("known", ())),
                next=str(body["next"]) if body.get("next") else None,
                high=_instant(body.get("high")),
                tail=tuple((str(k), _moment(t)) for k, t in body.get("tail", ())),
            )
        except (ValueError, TypeError, AttributeError) as exc:
            raise BugError(
                f"a stored Lightspeed sweep cursor cannot be read ({exc}): {text[:200]!r}",
                code="lightspeed_cursor_unreadable",
                provider="lightspeed_r",
                operation="fetch",
            ) from exc


def _moment(value: object) -> datetime:
    instant = datetime.fromisoformat(str(value))
    if instant.tzinfo is None:
        raise ValueError(f"{value!r} has no offset")
    return instant


def _instant(value: object) -> datetime | None:
    return None if value is None else _moment(value)
