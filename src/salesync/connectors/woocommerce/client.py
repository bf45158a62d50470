"""A WooCommerce shop opened for reading: sweeps by cursor, history by window, and the
webhooks that keep salesync told.

Streams (see ``cursor.py`` for how each is paged):

- ``orders``: every order, ``status=any``, oldest change first; each comes as an ``order``
  record, and each of its refunds (read from ``/orders/{id}/refunds``, since the order
  only names them) as an ``order_refund`` record;
- ``customers``: the customers changed since the last pass;
- ``products``: the products changed since the last pass.

``history(start, end)`` lists the orders paid (or, never paid, created) in the window and
the refunds made in it, oldest first.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from salesync.connectors.source import Page, SourceConnection, SourceRecord, SubscriptionRepair
from salesync.connectors.woocommerce.api import PER_PAGE, WooApi, items
from salesync.connectors.woocommerce.cursor import SweepCursor
from salesync.connectors.woocommerce.problems import PROVIDER
from salesync.connectors.woocommerce.subscriptions import keep_webhooks
from salesync.connectors.woocommerce.translate import CUSTOMER, ORDER, ORDER_REFUND, PRODUCT
from salesync.domain.errors import BugError

Json = dict[str, Any]
STREAMS = ("orders", "customers", "products")
SECOND = timedelta(seconds=1)
PAY_SLACK = timedelta(days=14)
"""How long before it was paid an order in a history window is looked for by its creation
date (a bank transfer waits on hold); one placed earlier is found among the changed ones."""
OVERLAP = 10
"""How many changes of the previous page a page through one second reads again: one of
them changed again meanwhile leaves that second, moving each one after it a place forward,
and the overlap keeps those from slipping behind the offset."""


def dumps(value: Any) -> str:
    """One canonical form, so an unchanged resource read twice is the same payload."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def gmt(resource: Json, name: str) -> datetime | None:
    value = resource.get(f"date_{name}_gmt")
    if not isinstance(value, str) or not value:
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def wc_param(moment: datetime) -> str:
    """An instant as the ``after``/``modified_after`` parameters take it with
    ``dates_are_gmt``."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


def _id(resource: Json) -> int:
    value = resource.get("id")
    return value if isinstance(value, int) else 0


def _key(resource: Json) -> str:
    return f"{resource.get('id')}@{resource.get('date_modified_gmt')}"


class WooClient:
    """One connection's WooCommerce shop; ``since`` bounds a sweep with no cursor yet."""

    name = PROVIDER

    def __init__(
        self, api: WooApi, connection: SourceConnection, *, since: datetime | None = None
    ) -> None:
        self.api = api
        self._connection = connection
        self._since = since
        self._readers: dict[str, Callable[[SweepCursor], Page]] = {
            "orders": lambda at: self._changed("orders", at, self._order_records),
            "products": lambda at: self._changed("products", at, self._as(PRODUCT)),
            "customers": self._customers,
        }

    @property
    def connection_id(self) -> str | None:
        return self._connection.connection_id

    def close(self) -> None:
        self.api.close()

    def fetch(self, stream: str, cursor: str | None) -> Page:
        read = self._readers.get(stream)
        if read is None:
            raise BugError(
                f"woocommerce has no stream {stream!r} (streams: {', '.join(STREAMS)})",
                code="unknown_stream",
                provider=PROVIDER,
                operation="fetch",
            )
        at = SweepCursor.decode(cursor)
        if cursor is None and self._since is not None:
            at = SweepCursor(since=self._since)
        return read(at)

    # -- streams -------------------------------------------------------------------------

    def _changed(
        self, path: str, at: SweepCursor, records: Callable[[list[Json]], list[list[SourceRecord]]]
    ) -> Page:
        if at.offset is not None and at.since is not None:
            return self._crowded(path, at, at.offset, at.since, records)
        params = self._list_params(path, "modified")
        if at.since is not None:
            params["modified_after"] = wc_param(at.since - SECOND)
        found = items(self.api.get(f"/{path}", f"{path}.list", params))
        fresh = [r for r in found if _key(r) not in at.known]
        given = [record for batch in records(fresh) for record in batch]
        seen = [(_key(r), moment) for r in found if (moment := gmt(r, "modified")) is not None]
        after = at.advanced(seen)
        full = len(found) >= PER_PAGE
        # A full page all changed in the second it started from: asking again from that
        # second would bring the same page, so page through that second alone.
        if full and after.since is not None and after.since == at.since:
            after = replace(after, offset=0, after_id=0)
        return Page(tuple(given), after.encode(), more=full)

    def _crowded(
        self,
        path: str,
        at: SweepCursor,
        offset: int,
        second: datetime,
        records: Callable[[list[Json]], list[list[SourceRecord]]],
    ) -> Page:
        """A page of the changes made in the one second ``second``, in id order."""
        params = self._list_params(path, "id")
        params |= {
            "modified_after": wc_param(second - SECOND),
            "modified_before": wc_param(second + SECOND),
            "offset": str(offset),
        }
        found = items(self.api.get(f"/{path}", f"{path}.list", params))
        if offset and (not found or min(map(_id, found)) > at.after_id):
            # Nothing of the last page again: more than the overlap left the second since,
            # moving what was behind them past the offset. Read again from further back.
            back = replace(at, offset=max(0, offset - (PER_PAGE - OVERLAP)))
            return Page((), back.encode(), more=True)
        fresh = [r for r in found if _id(r) > at.after_id and _key(r) not in at.known]
        given = [record for batch in records(fresh) for record in batch]
        if len(found) < PER_PAGE:
            # The second is read; what changed later is asked for from the next one.
            return Page(tuple(given), SweepCursor(since=second + SECOND).encode(), more=True)
        after = replace(
            at, offset=offset + len(found) - OVERLAP, after_id=max([at.after_id, *map(_id, found)])
        )
        return Page(tuple(given), after.encode(), more=True)

    @staticmethod
    def _list_params(path: str, orderby: str) -> dict[str, str]:
        params = {
            "orderby": orderby,
            "order": "asc",
            "per_page": str(PER_PAGE),
            "dates_are_gmt": "true",
        }
        if path == "orders":
            params["status"] = "any"
        return params

    def _customers(self, at: SweepCursor) -> Page:
        page = at.page or 1
        params = {
            "orderby": "id",
            "order": "asc",
            "per_page": str(PER_PAGE),
            "page": str(page),
            "role": "all",
        }
        answer = self.api.get("/customers", "customers.list", params)
        found = items(answer)
        # Changes in the watermark's own second are read again (a customer saved later in
        # that second would be lost otherwise); an unchanged one is the same payload, which
        # the inbox keeps once.
        changed = [
            c for c in found if at.since is None or (gmt(c, "modified") or at.since) >= at.since
        ]
        stamps = [m for c in found if (m := gmt(c, "modified")) is not None]
        high = max([*stamps, *([at.high] if at.high else [])], default=None)
        if page < answer.total_pages:
            after = SweepCursor(since=at.since, page=page + 1, high=high)
            return Page(tuple(self._as(CUSTOMER)(changed)[0]), after.encode(), more=True)
        done = SweepCursor(since=high or at.since)
        return Page(tuple(self._as(CUSTOMER)(changed)[0]), done.encode(), more=False)

    @staticmethod
    def _as(record_type: str) -> Callable[[list[Json]], list[list[SourceRecord]]]:
        return lambda found: [[SourceRecord(record_type, dumps(r)) for r in found]]

    def _order_records(self, orders: list[Json]) -> list[list[SourceRecord]]:
        out: list[list[SourceRecord]] = []
        for order in orders:
            records = [SourceRecord(ORDER, dumps(order))]
            records += [SourceRecord(ORDER_REFUND, dumps(r)) for r in self._refunds(order)]
            out.append(records)
        return out

    def _refunds(self, order: Json) -> list[Json]:
        if not order.get("refunds"):
            return []
        listed = self.api.listed(f"/orders/{order['id']}/refunds", "refunds.list", {})
        return [{"refund": r, "order": order} for r in sorted(listed, key=lambda r: r["id"])]

    # -- history -------------------------------------------------------------------------

    def history(self, start: datetime, end: datetime) -> Iterator[SourceRecord]:
        """Orders paid in ``[start, end)`` (created, when never paid) and refunds made in
        it, oldest first."""
        params = {
            "status": "any",
            "after": wc_param(start - PAY_SLACK - SECOND),
            "before": wc_param(end),
            "dates_are_gmt": "true",
            "orderby": "date",
            "order": "asc",
        }
        found: list[tuple[datetime, SourceRecord]] = []
        listed: set[object] = set()
        for order in self.api.listed("/orders", "orders.list", params):
            listed.add(order.get("id"))
            when = gmt(order, "paid") or gmt(order, "created")
            if when is not None and start <= when < end:
                found.append((when, SourceRecord(ORDER, dumps(order))))
            found += self._refunds_made(order, start, end)
        # An order placed before that may still have been paid in the window (on hold a
        # long while), and a refund in the window may belong to an order placed long before
        # it: either changed the order, so it is among the orders modified since the window
        # opened. (The two lists part at a creation date, which wp-admin can edit between
        # the two requests: an order is taken from the first list it is in.)
        older = {k: v for k, v in params.items() if k != "after"}
        older |= {"before": wc_param(start - PAY_SLACK), "modified_after": wc_param(start - SECOND)}
        for order in self.api.listed("/orders", "orders.list", older):
            if order.get("id") in listed:
                continue
            paid = gmt(order, "paid")
            if paid is not None and start <= paid < end:
                found.append((paid, SourceRecord(ORDER, dumps(order))))
            found += self._refunds_made(order, start, end)
        found.sort(key=lambda pair: pair[0])
        return iter([record for _, record in found])

    def _refunds_made(
        self, order: Json, start: datetime, end: datetime
    ) -> list[tuple[datetime, SourceRecord]]:
        made = [(gmt(r["refund"], "created"), r) for r in self._refunds(order)]
        return [
            (m, SourceRecord(ORDER_REFUND, dumps(r))) for m, r in made if m and start <= m < end
        ]

    # -- webhooks ------------------------------------------------------------------------

    def keep_subscriptions(self) -> tuple[SubscriptionRepair, ...]:
        """Repair salesync's webhooks in the shop (see ``subscriptions.py``); nothing when
        the connection names no ``webhook_url``."""
        url = self._connection.settings.get("webhook_url")
        secret = self._connection.credentials.get("webhook_secret")
        if not url or not isinstance(secret, str) or not secret:
            return ()
        return keep_webhooks(self.api, str(url), secret)
