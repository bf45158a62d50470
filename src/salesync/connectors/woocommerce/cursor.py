"""Where a sweep of one WooCommerce stream stands, as the opaque string the engine stores.

Orders and products are read oldest change first, each request asking for what changed
after the newest change read so far (``modified_after``, ``orderby=modified``): a key
set rather than page numbers, so an order changed while the sweep runs (and so moved to
the end of the list) never pushes an unread one onto a page already read. WooCommerce's
times have whole seconds and ``modified_after`` is exclusive, so each request starts a
second early and ``known`` (id and change time) keeps what was already given at the
newest second from being given again.

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


@dataclass(frozen=True, slots=True)
class SweepCursor:
    since: datetime | None = None
    known: frozenset[str] = frozenset()
    page: int = 0
    """The page a customers pass is on; 0 between passes."""
    high: datetime | None = None

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
        body: dict[str, Any] = {"v": 1}
        if self.since is not None:
            body["since"] = self.since.isoformat()
        if self.known:
            body["known"] = sorted(self.known)
        if self.page:
            body["page"] = self.page
        if self.high is not None:
            body["high"] = self.high.isoformat()
        return json.dumps(body, separators=(",", ":"))

    @classmethod
    def decode(cls, text: str | None) -> SweepCursor:
        if not text:
            return cls()
        try:
            body = json.loads(text)
            if body.get("v") != 1:
                raise ValueError(f"version {body.get('v')!r}")
            page = int(body.get("page", 0))
            if page < 0:
                raise ValueError(f"page {page}")
            return cls(
                since=_instant(body.get("since")),
                known=frozenset(str(k) for k in body.get("known", ())),
                page=page,
                high=_instant(body.get("high")),
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
