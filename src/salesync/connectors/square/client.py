"""A Square seller account opened for reading: sweeps by cursor and history by window.

Streams:

- ``orders``: SearchOrders over every location of the account (ten at a time, as Square
  allows), filtered on ``updated_at`` and sorted by ``UPDATED_AT``, so an order comes again
  whenever it changes (an online order paid later, a cancellation);
- ``customers``: SearchCustomers filtered on ``updated_at``;
- ``catalog``: the items, listed and kept when changed since the cursor (ListCatalog has
  no time filter), one ``item_variation`` record per variation;
- ``payouts``: ListPayouts of each location from ``begin_time``, each with its entries and
  the orders they settle; and, since a payout can fail days after it was created (the bank
  returns it), the location's ``FAILED`` payouts of the weeks before, so a failure of one
  already given comes as its new version.

``history(start, end)`` lists the orders completed in the window (closed_at, which is when
salesync dates a sale or refund) and the payouts created in it, oldest first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from salesync.connectors.source import Page, SourceConnection, SourceRecord
from salesync.connectors.square.api import SquareApi, objects
from salesync.connectors.square.catalog import SquareCatalog, variations
from salesync.connectors.square.cursor import SweepCursor
from salesync.connectors.square.records import (
    customer_record,
    instant,
    listed,
    order_records,
    payout_record,
    returned_from,
    settled_by,
    variation_records,
    version_key,
)
from salesync.domain.errors import BugError

Json = dict[str, Any]
STREAMS = ("orders", "customers", "catalog", "payouts")
ORDERS_PAGE = 200
LOCATIONS_PER_SEARCH = 10
BATCH_RETRIEVE = 100
SETTLE_SLACK = timedelta(days=1)
"""How long before a payout entry takes effect its refund may have been made."""
FAILURE_LOOKBACK = timedelta(days=30)
"""How long after it was created a payout may still fail: a bank may return a deposit days
after it arrived. Failed payouts are rare, so the one extra listing per location a pass
makes is usually an empty page."""
Change = tuple[str, str, datetime | None, list[SourceRecord]]
"""One object read by a sweep: its key, its location (``all`` for the account-wide
streams), when it changed (``None``: it moves no mark, and is remembered by key for as
long as it is read), and its records."""


def rfc3339(moment: datetime) -> str:
    """Square's timestamp form, in UTC with milliseconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class SquareClient:
    """One connection's Square account; ``since`` bounds a sweep that has no cursor yet."""

    name = "square"

    def __init__(
        self, api: SquareApi, connection: SourceConnection, *, since: datetime | None = None
    ) -> None:
        self._api = api
        self._connection = connection
        self._since = since
        self._catalog = SquareCatalog(api)
        self._locations: list[Json] | None = None
        self._readers: dict[str, Callable[[SweepCursor], tuple[list[Change], str | None]]] = {
            "orders": self._orders_page,
            "customers": self._customers_page,
            "catalog": self._catalog_page,
            "payouts": self._payouts_page,
        }

    @property
    def connection_id(self) -> str | None:
        return self._connection.connection_id

    def close(self) -> None:
        self._api.close()

    # -- sweeps --------------------------------------------------------------------------

    def fetch(self, stream: str, cursor: str | None) -> Page:
        read = self._readers.get(stream)
        if read is None:
            raise BugError(
                f"square has no stream {stream!r} (streams: {', '.join(STREAMS)})",
                code="unknown_stream",
                provider="square",
                operation="fetch",
            )
        at = SweepCursor.decode(cursor)
        if cursor is None and self._since is not None:
            at = replace(at, since=self._since)
        if not at.started:
            at = at.begin(self._parts(stream))
            if not at.started:
                return Page((), at.finished().encode(), more=False)
        changes, page = read(at)
        given = tuple(
            r for key, unit, when, records in changes if at.unread(key, unit, when) for r in records
        )
        seen = [(key, when) for key, _, when, _ in changes if when is not None]
        untimed = [key for key, _, when, _ in changes if when is None]
        after = at.saw(seen).keep(untimed).after_page(page)
        return Page(given, after.encode(), more=after.started)

    def _parts(self, stream: str) -> tuple[str, ...]:
        ids = self._location_ids()
        if stream == "orders":
            return tuple(
                ",".join(ids[i : i + LOCATIONS_PER_SEARCH])
                for i in range(0, len(ids), LOCATIONS_PER_SEARCH)
            )
        if stream == "payouts":
            return tuple(ids)
        return ("all",)

    def _orders_page(self, at: SweepCursor) -> tuple[list[Change], str | None]:
        # With no end_at, the updated_at range ends when the first page was asked for, and
        # every page of the cursor keeps that end; so a part's newest change says how far
        # that part, and only it, was read
        # (https://developer.squareup.com/reference/square/objects/SearchOrdersDateTimeFilter).
        query: Json = {"sort": {"sort_field": "UPDATED_AT", "sort_order": "ASC"}}
        if (start := at.start) is not None:
            query["filter"] = {"date_time_filter": {"updated_at": {"start_at": rfc3339(start)}}}
        body: Json = {"location_ids": at.current.split(","), "query": query, "limit": ORDERS_PAGE}
        if at.page:
            body["cursor"] = at.page
        answer = self._api.post("/v2/orders/search", "orders.search", body)
        orders = objects(answer, "orders")
        changes = [
            (
                version_key(order),
                str(order.get("location_id")),
                instant(order, "updated_at"),
                records,
            )
            for order, records in zip(orders, self._order_records(orders), strict=True)
        ]
        return changes, answer.get("cursor") or None

    def _customers_page(self, at: SweepCursor) -> tuple[list[Change], str | None]:
        query: Json = {"sort": {"field": "CREATED_AT", "order": "ASC"}}
        if (start := at.start) is not None:
            query["filter"] = {"updated_at": {"start_at": rfc3339(start)}}
        body: Json = {"query": query, "limit": 100}
        if at.page:
            body["cursor"] = at.page
        answer = self._api.post("/v2/customers/search", "customers.search", body)
        changes: list[Change] = [
            (version_key(c), at.current, instant(c, "updated_at"), [customer_record(c)])
            for c in objects(answer, "customers")
        ]
        return changes, answer.get("cursor") or None

    def _catalog_page(self, at: SweepCursor) -> tuple[list[Change], str | None]:
        params = {"types": "ITEM", **({"cursor": at.page} if at.page else {})}
        answer = self._api.get("/v2/catalog/list", "catalog.list", params)
        currency = self._currency()
        start = at.start
        changes: list[Change] = []
        for item in objects(answer, "objects"):
            sold = variations(item)
            stamps = [s for s in (instant(o, "updated_at") for o in (item, *sold)) if s]
            changed = max(stamps, default=None)
            if start is not None and changed is not None and changed < start:
                continue
            key = ";".join(version_key(o) for o in (item, *sold))
            category = self._catalog.category_of(item)
            records = variation_records(item, sold, category, currency)
            changes.append((key, at.current, changed, records))
        return changes, answer.get("cursor") or None

    def _payouts_page(self, at: SweepCursor) -> tuple[list[Change], str | None]:
        # begin_time is inclusive and bounds created_at, with end_time the time of asking
        # (https://developer.squareup.com/docs/payouts-api/list-payouts): a location's
        # payouts are read up to when its part was, which is why each keeps its own mark.
        params = {"location_id": at.current, "sort_order": "ASC", "limit": "100"}
        if (start := at.start) is not None:
            params["begin_time"] = rfc3339(start)
        if at.page:
            params["cursor"] = at.page
        answer = self._api.get("/v2/payouts", "payouts.list", params)
        # A payout the last pass gave from the overlap is not read whole again (its
        # entries, payments and refunds): it would not be given.
        changes: list[Change] = [
            (
                key,
                at.current,
                instant(p, "created_at"),
                [] if key in at.known else [self._payout_record(p)],
            )
            for p in objects(answer, "payouts")
            for key in (version_key(p),)
        ]
        # A payout failed already when first read is remembered as the failure listing
        # remembers one, so that listing does not give it again on later passes.
        failed = {version_key(p) for p in objects(answer, "payouts") if p.get("status") == "FAILED"}
        changes += [(key, at.current, None, []) for key in sorted(failed)]
        if not at.page:
            changes += self._failed_before(at)
        return changes, answer.get("cursor") or None

    def _failed_before(self, at: SweepCursor) -> list[Change]:
        """The location's payouts created in the weeks before where this pass reads from
        (its mark, or ``sweep_since`` on the first pass) that have failed: the listing from
        there no longer reads their status. That includes payouts from before
        ``sweep_since``, which a backfill may have imported. A failed payout carries no
        time, so it moves no mark; its key is remembered while it is listed, so each
        failure is read whole and given once."""
        location = at.current
        mark = at.mark(location)
        if mark is None:
            return []  # reading from the beginning: every payout comes with its status
        begin = mark - FAILURE_LOOKBACK
        params = {
            "location_id": location,
            "status": "FAILED",
            "begin_time": rfc3339(begin),
            "end_time": rfc3339(mark),
            "sort_order": "ASC",
        }
        changes: list[Change] = []
        for payout in self._api.pages("/v2/payouts", "payouts.list", "payouts", params):
            key = version_key(payout)
            records = [] if key in at.known else [self._payout_record(payout)]
            changes.append((key, location, None, records))
        return changes

    # -- history -------------------------------------------------------------------------

    def history(self, start: datetime, end: datetime) -> Iterator[SourceRecord]:
        """Orders completed and payouts created in ``[start, end)``, oldest first."""
        found: list[tuple[datetime, SourceRecord]] = []
        window = {"start_at": rfc3339(start), "end_at": rfc3339(end)}
        ids = self._location_ids()
        for i in range(0, len(ids), LOCATIONS_PER_SEARCH):
            body: Json = {
                "location_ids": ids[i : i + LOCATIONS_PER_SEARCH],
                "query": {
                    "filter": {
                        "state_filter": {"states": ["COMPLETED"]},
                        "date_time_filter": {"closed_at": window},
                    },
                    "sort": {"sort_field": "CLOSED_AT", "sort_order": "ASC"},
                },
                "limit": ORDERS_PAGE,
            }
            for orders in self._search_pages(body):
                # Square's time ranges include their end; a window excludes it.
                inside = [o for o in orders if _within(instant(o, "closed_at"), start, end)]
                for order, records in zip(inside, self._order_records(inside), strict=True):
                    found += [(instant(order, "closed_at") or start, r) for r in records]
        for location in ids:
            params = {
                "location_id": location,
                "begin_time": rfc3339(start),
                "end_time": rfc3339(end),
                "sort_order": "ASC",
            }
            for payout in self._api.pages("/v2/payouts", "payouts.list", "payouts", params):
                created = instant(payout, "created_at")
                if _within(created, start, end):
                    found.append((created or start, self._payout_record(payout)))
        found.sort(key=lambda pair: pair[0])
        return iter([record for _, record in found])

    def _search_pages(self, body: Json) -> Iterator[list[Json]]:
        cursor: str | None = None
        while True:
            answer = self._api.post(
                "/v2/orders/search",
                "orders.search",
                {**body, **({"cursor": cursor} if cursor else {})},
            )
            yield objects(answer, "orders")
            cursor = answer.get("cursor") or None
            if cursor is None:
                return

    # -- lookups -------------------------------------------------------------------------

    def _locations_listed(self) -> list[Json]:
        if self._locations is None:
            answer = self._api.get("/v2/locations", "locations.list")
            self._locations = sorted(
                (loc for loc in objects(answer, "locations") if loc.get("id")),
                key=lambda loc: str(loc["id"]),
            )
        return self._locations

    def _location_ids(self) -> list[str]:
        return [str(loc["id"]) for loc in self._locations_listed()]

    def _currency(self) -> str:
        """The account's currency: a Square account trades in its country's currency."""
        for location in self._locations_listed():
            if location.get("currency"):
                return str(location["currency"])
        return ""

    def _order_records(self, orders: list[Json]) -> list[list[SourceRecord]]:
        """Each order's records, with the catalog facts of its lines and the tenders its
        refunds name."""
        sources = sorted({s for o in orders if listed(o, "returns") for s in returned_from(o)})
        tenders: dict[str, Json] = {}
        for i in range(0, len(sources), BATCH_RETRIEVE):
            answer = self._api.post(
                "/v2/orders/batch-retrieve",
                "orders.batch_retrieve",
                {"order_ids": sources[i : i + BATCH_RETRIEVE]},
            )
            for source in objects(answer, "orders"):
                tenders.update((str(t["id"]), t) for t in listed(source, "tenders") if t.get("id"))
        needs_catalog = any(
            li.get("catalog_object_id")
            for o in orders
            for li in (*listed(o, "line_items"), *_returned_lines(o))
        )
        facts = self._catalog.facts() if needs_catalog else {}
        return [order_records(o, facts, tenders) for o in orders]

    def _payout_record(self, payout: Json) -> SourceRecord:
        entries = list(
            self._api.pages(
                f"/v2/payouts/{payout.get('id')}/payout-entries",
                "payouts.entries",
                "payout_entries",
                {"sort_order": "ASC", "limit": "100"},
            )
        )
        return payout_record(payout, entries, self._settled_orders(payout, entries))

    def _settled_orders(self, payout: Json, entries: list[Json]) -> dict[str, str]:
        """The order of every payment and refund the entries settle, by payment or refund
        id: read from the payments and refunds made around the entries' times, then any
        payment still missing one by one."""
        wanted = {ref for e in entries if (ref := settled_by(e)) is not None}
        times = [t for t in (instant(e, "effective_at") for e in entries) if t is not None]
        if not wanted or not times:
            return {}
        params = {
            "location_id": str(payout.get("location_id") or ""),
            "begin_time": rfc3339(min(times) - SETTLE_SLACK),
            "end_time": rfc3339(max(times) + timedelta(milliseconds=1)),
            "sort_order": "ASC",
        }
        charged = {settled_by(e) for e in entries if e.get("type") == "CHARGE"}
        found: dict[str, str] = {}
        if charged:
            found |= _order_ids(
                self._api.pages("/v2/payments", "payments.list", "payments", params)
            )
        if wanted - charged:
            found |= _order_ids(self._api.pages("/v2/refunds", "refunds.list", "refunds", params))
        for payment_id in sorted(ref for ref in charged if ref and ref not in found):
            answer = self._api.get(f"/v2/payments/{payment_id}", "payments.get")
            found |= _order_ids([answer.get("payment") or {}])
        return {ref: found[ref] for ref in sorted(wanted) if ref in found}


def _order_ids(objects_: Iterable[Json]) -> dict[str, str]:
    return {str(o["id"]): str(o["order_id"]) for o in objects_ if o.get("id") and o.get("order_id")}


def _returned_lines(order: Json) -> list[Json]:
    return [li for r in listed(order, "returns") for li in listed(r, "return_line_items")]


def _within(moment: datetime | None, start: datetime, end: datetime) -> bool:
    return moment is not None and start <= moment < end
