"""Where a sweep of one WooCommerce stream stands, as the opaque string the engine stores.

Orders and products are read oldest change first, each request asking for what changed
after the newest change read so far (``modified_after``, ``orderby=modified``): a key
set rather than page numbers, so an order changed while the sweep runs (and so moved to
the end of the list) never pushes an unread one onto a page already read. WooCommerce's
times have whole seconds and ``modified_after`` is exclusive, so each request starts a
second early and ``known`` (id and change time) keeps what was already given at the
newest second from being given again.

More than a page changed within one second (a bulk action in wp-admin) would have every
such request answer the same full page: then the sweep pages through that second alone,
by id (a unique order, where ties on the change time may come back in any order) and
WooCommerce's ``offset``; ``offset`` is how far it has gone and ``after_id`` the highest
id it has read there. Once the second is read the sweep goes on from the next one.

Customers cannot be filtered by change (the endpoint has no ``modified_after``): a pass
pages through them all by id, keeping those changed since the last pass; ``page`` is the
page a pass is on, ``high`` the newest change it has seen.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from salesync.connectors.woocommerce.problems import PROVIDER
from salesync.domain.errors import BugError

VERSION = 2
READABLE = (1, 2)


@dataclass(frozen=True, slots=True)
class SweepCursor:
    since: datetime | None = None
    known: frozenset[str] = frozenset()
    page: int = 0
    """The page a customers pass is on; 0 between passes."""
    high: datetime | None = None
    offset: int | None = None
    """How many of the changes in the second ``since`` were paged past by id; None when
    the sweep is not paging through one second."""
    after_id: int = 0
    """The highest id read while paging through the second ``since``."""

    def advanced(self, seen: list[tuple[str, datetime]]) -> SweepCursor:
        """A key-set cursor after the changes ``(key, instant)`` were read."""
        if not seen:
            return self
        newest = max(t for _, t in seen)
        if self.since is not None and newest < self.since:
            return self
        known = {k for k, t in seen if t == newest}
        if newest == self.since:
            known |= self.known
        return replace(self, since=newest, known=frozenset(known))

    def encode(self) -> str:
        body: dict[str, Any] = {"v": VERSION}
        if self.since is not None:
            body["since"] = self.since.isoformat()
        if self.known:
            body["known"] = sorted(self.known)
        if self.page:
            body["page"] = self.page
        if self.high is not None:
            body["high"] = self.high.isoformat()
        if self.offset is not None:
            body["offset"] = self.offset
            body["after_id"] = self.after_id
        return json.dumps(body, separators=(",", ":"))

    @classmethod
    def decode(cls, text: str | None) -> SweepCursor:
        if not text:
            return cls()
        try:
            body = json.loads(text)
            version = body.get("v")
            if version not in READABLE:
                raise ValueError(f"version {version!r}")
            page = _count(body, "page")
            # Version 1 (before paging through one second) never has an offset.
            offset = _count(body, "offset") if version > 1 and "offset" in body else None
            return cls(
                since=_instant(body.get("since")),
                known=frozenset(str(k) for k in body.get("known", ())),
                page=page,
                high=_instant(body.get("high")),
                offset=offset,
                after_id=_count(body, "after_id"),
            )
        except (ValueError, TypeError, AttributeError) as exc:
            raise BugError(
                f"a stored WooCommerce sweep cursor cannot be read ({exc}): {text[:200]!r}",
                code="woocommerce_cursor_unreadable",
                provider=PROVIDER,
                operation="fetch",
            ) from exc


def _instant(value: object) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no offset")
    return moment


def _count(body: dict[str, Any], name: str) -> int:
    value = int(body.get(name, 0))
    if value < 0:
        raise ValueError(f"{name} {value}")
    return value
