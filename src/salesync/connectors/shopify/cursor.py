"""The sweep's cursor: where one stream's reading stands, as an opaque string.

A pass reads everything changed since the watermark, oldest change first, page by page
(``after`` is GraphQL's page cursor). When a pass ends, the newest change it saw becomes
the next watermark. The next pass starts a little before it: Shopify's search index can
lag a write, and a record read twice is only a duplicate in the inbox.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from salesync.connectors.shopify.problems import SOURCE
from salesync.domain.errors import ValidationError
from salesync.domain.validation import Problem

OVERLAP = timedelta(minutes=5)
_VERSION = "s1."


def search_time(instant: datetime) -> str:
    """An instant as Shopify's search syntax takes it (UTC, seconds)."""
    return instant.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _instant(text: object) -> datetime | None:
    if text is None:
        return None
    parsed = datetime.fromisoformat(str(text))
    if parsed.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset")
    return parsed


@dataclass(frozen=True, slots=True)
class SweepCursor:
    since: datetime | None = None
    """The watermark of the last finished pass (None: read from the beginning)."""
    after: str | None = None
    """The page cursor inside the current pass."""
    newest: datetime | None = None
    """The newest change seen so far in the current pass."""

    def encode(self) -> str:
        body = {
            "since": None if self.since is None else self.since.isoformat(),
            "after": self.after,
            "newest": None if self.newest is None else self.newest.isoformat(),
        }
        raw = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
        return _VERSION + base64.urlsafe_b64encode(raw).decode()

    @classmethod
    def decode(cls, text: str | None) -> SweepCursor:
        if text is None:
            return cls()
        try:
            if not text.startswith(_VERSION):
                raise ValueError("not a Shopify sweep cursor")
            body = json.loads(base64.urlsafe_b64decode(text[len(_VERSION) :].encode()))
            after = body["after"]
            return cls(
                _instant(body["since"]),
                None if after is None else str(after),
                _instant(body["newest"]),
            )
        except (ValueError, TypeError, KeyError, binascii.Error) as exc:
            raise ValidationError(
                f"Shopify sweep cursor {text[:40]!r} cannot be read: {exc}",
                user_message="salesync's bookmark in this Shopify store is damaged; reset "
                "the connection's sweep to read it again from the start.",
                code="bad_cursor",
                provider=SOURCE,
                problems=(Problem("bad_cursor", str(exc), "cursor"),),
            ) from None

    def search(self, field: str) -> str | None:
        """The search that reads this pass: changes since the watermark, less the overlap."""
        if self.since is None:
            return None
        return f"{field}:>='{search_time(self.since - OVERLAP)}'"

    def next(self, seen: list[datetime], after: str | None, more: bool) -> SweepCursor:
        """Where to go on after a page that saw changes at ``seen``."""
        newest = max([*seen, *([self.newest] if self.newest else [])], default=None)
        if more:
            return SweepCursor(self.since, after, newest)
        return SweepCursor(newest or self.since, None, None)
