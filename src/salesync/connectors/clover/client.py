"""A Clover merchant opened for reading: sweeps by cursor, history by window, and the
objects webhook notifications name.

Streams, each read with ``filter=modifiedTime>=<since>`` and ``orderBy=modifiedTime ASC``
(Clover advises filtering on ``modifiedTime`` rather than re-polling,
https://docs.clover.com/docs/api-usage-rate-limits), pages of ``limit`` with ``offset``:

- ``orders``: orders with line items, discounts, payments, refunds and customers expanded
  (``expand=lineItems,...``); an order comes again whenever it changes (a refund);
  one ``order`` record and one ``refund`` record per refund;
- ``customers``: customers with their e-mail addresses and phone numbers;
- ``items``: inventory items with their categories and tax rates.

``history(start, end)`` lists the orders created in the window and the refunds made in
it (``/refunds`` by ``createdTime``, each with its order), oldest first. ``resolve``
turns notification records into the records of the objects they name, fetched one by one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from salesync.connectors.clover.api import CloverApi, listed
from salesync.connectors.clover.cursor import SweepCursor
from salesync.connectors.clover.translate import CUSTOMER, ITEM, NOTIFICATION, ORDER, REFUND
from salesync.connectors.source import Page, SourceConnection, SourceRecord
from salesync.domain.errors import BugError

Json = dict[str, Any]
STREAMS = ("orders", "customers", "items")
ORDER_EXPAND = "lineItems,discounts,payments,refunds,customers"
EXPAND = {
    "orders": ORDER_EXPAND,
    "customers": "emailAddresses,phoneNumbers",
    "items": "categories,taxRates",
}
PAGE = 100
NESTED_LIMIT = 100
"""An expanded collection holds its first 100 elements only
(https://docs.clover.com/docs/paginating-elements)."""
NESTED = (("lineItems", "line_items"), ("payments", "payments"))


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def dumps(body: Json) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


class CloverClient:
    """One connection's Clover merchant."""

    name = "clover"

    def __init__(
        self, api: CloverApi, connection: SourceConnection, *, since: datetime | None = None
    ) -> None:
        self._api = api
        self._connection = connection
        self._since = since
        self._facts: dict[str, Json] | None = None
        self._merchant: Json | None = None

    @property
    def connection_id(self) -> str | None:
        return self._connection.connection_id

    @property
    def merchant_id(self) -> str:
        return self._api.merchant_id

    def close(self) -> None:
        self._api.close()

    # -- merchant ------------------------------------------------------------------------

    def merchant(self) -> Json:
        """The merchant: its name, currency and time zone."""
        if self._merchant is None:
            self._merchant = self._api.get("", "merchant.get")
        return self._merchant

    def currency(self) -> str:
        found = self.merchant()
        properties = found.get("properties") or {}
        return str(found.get("currency") or properties.get("defaultCurrency") or "USD")

    def devices(self) -> list[Json]:
        """The merchant's devices (registers, handhelds) by id, name and model."""
        return list(self._api.elements("/devices", "devices.list"))

    # -- sweeps --------------------------------------------------------------------------

    def fetch(self, stream: str, cursor: str | None) -> Page:
        if stream not in STREAMS:
            raise BugError(
                f"clover has no stream {stream!r} (streams: {', '.join(STREAMS)})",
                code="unknown_stream",
                provider="clover",
                operation="fetch",
            )
        at = SweepCursor.decode(cursor)
        if cursor is None and self._since is not None:
            at = SweepCursor(since=ms(self._since))
        params: dict[str, str | list[str]] = {
            "expand": EXPAND[stream],
            "orderBy": "modifiedTime ASC",
            # Objects already given at ``since`` come again and are skipped; only a single
            # millisecond holding a whole page of them is stepped over by offset.
            "offset": str(len(at.seen) if len(at.seen) >= PAGE else 0),
            "limit": str(PAGE),
        }
        if at.since is not None:
            params["filter"] = [f"modifiedTime>={at.since}"]
        page = listed(self._api.get(f"/{stream}", f"{stream}.list", params))
        fresh = [o for o in page if not at.given(str(o.get("id")), _modified(o))]
        records = [r for o in fresh for r in self._records(stream, o)]
        after = at.after([(str(o.get("id")), _modified(o)) for o in page])
        return Page(tuple(records), after.encode(), more=len(page) == PAGE)

    def _records(self, stream: str, obj: Json) -> list[SourceRecord]:
        if stream == "orders":
            return self.order_records(obj)
        key = f"{obj.get('id')}:{_modified(obj)}"
        if stream == "customers":
            return [
                SourceRecord(
                    CUSTOMER,
                    dumps({"merchant_id": self.merchant_id, "customer": obj}),
                    f"customer:{key}",
                )
            ]
        body = {"merchant_id": self.merchant_id, "currency": self.currency(), "item": obj}
        return [SourceRecord(ITEM, dumps(body), f"item:{key}")]

    def order_records(self, order: Json) -> list[SourceRecord]:
        """An order's record (with the facts of the items it sold) and one per refund."""
        order = self._complete(order)
        facts = self._item_facts()
        sold = {str((li.get("item") or {}).get("id")) for li in _elements(order, "lineItems")}
        base = {
            "merchant_id": self.merchant_id,
            "order": order,
            "items": {k: v for k, v in facts.items() if k in sold},
        }
        records = [SourceRecord(ORDER, dumps(base), f"order:{order.get('id')}:{_modified(order)}")]
        for refund in _elements(order, "refunds"):
            records.append(
                SourceRecord(
                    REFUND, dumps({**base, "refund": refund}), f"refund:{refund.get('id')}"
                )
            )
        return records

    def _complete(self, order: Json) -> Json:
        """The order with every line item and payment, read from the order's own lists
        when the expanded ones may have been cut at 100."""
        for field, path in NESTED:
            if len(_elements(order, field)) >= NESTED_LIMIT:
                found = self._api.elements(f"/orders/{order.get('id')}/{path}", f"orders.{path}")
                order = {**order, field: {"elements": list(found)}}
        return order

    def _item_facts(self) -> dict[str, Json]:
        """SKU, name and category of every inventory item, read once per client."""
        if self._facts is None:
            self._facts = {}
            for item in self._api.elements("/items", "items.list", {"expand": "categories"}):
                categories = _elements(item, "categories")
                self._facts[str(item.get("id"))] = {
                    "sku": str(item.get("sku") or item.get("id")),
                    "name": str(item.get("name") or ""),
                    "category": str(categories[0].get("name") or "") if categories else "",
                }
        return self._facts

    # -- history -------------------------------------------------------------------------

    def history(self, start: datetime, end: datetime) -> Iterator[SourceRecord]:
        """Sales of orders created in ``[start, end)`` and refunds made in it, oldest first."""
        found: dict[str, tuple[int, SourceRecord]] = {}
        created = [f"createdTime>={ms(start)}", f"createdTime<{ms(end)}"]
        for order in self._api.elements(
            "/orders", "orders.list", {"filter": created, "expand": ORDER_EXPAND}
        ):
            for record in self.order_records(order):
                if record.record_type == ORDER:
                    found[record.record_type + str(order.get("id"))] = (
                        int(order.get("createdTime") or 0),
                        record,
                    )
        # Refunds are listed on their own by when they were made; each one's order is
        # read for the lines and tender it gives back.
        made = [f"createdTime>={ms(start)}", f"createdTime<{ms(end)}"]
        orders: dict[str, Json] = {}
        for refund in self._api.elements("/refunds", "refunds.list", {"filter": made}):
            order_id = str((refund.get("orderRef") or {}).get("id"))
            if order_id not in orders:
                orders[order_id] = self._api.get(
                    f"/orders/{order_id}", "orders.get", {"expand": ORDER_EXPAND}
                )
            for record in self.order_records(orders[order_id]):
                if record.event_id == f"refund:{refund.get('id')}":
                    found[REFUND + str(refund.get("id"))] = (int(refund["createdTime"]), record)
        return iter([record for _, record in sorted(found.values(), key=lambda pair: pair[0])])

    # -- notifications -------------------------------------------------------------------

    def resolve(self, records: Iterable[SourceRecord]) -> list[SourceRecord]:
        """The records of the objects notifications name, fetched from Clover: orders,
        customers and items; deletions and other objects bring nothing."""
        out: list[SourceRecord] = []
        for record in records:
            if record.record_type != NOTIFICATION:
                out.append(record)
                continue
            note = json.loads(record.payload)
            prefix, _, object_id = str(note.get("objectId")).partition(":")
            if note.get("merchant_id") != self.merchant_id or note.get("type") == "DELETE":
                continue
            if prefix == "O":
                order = self._api.get(
                    f"/orders/{object_id}", "orders.get", {"expand": ORDER_EXPAND}
                )
                out += self.order_records(order)
            elif prefix == "C":
                customer = self._api.get(
                    f"/customers/{object_id}", "customers.get", {"expand": EXPAND["customers"]}
                )
                out += self._records("customers", customer)
            elif prefix == "I":
                item = self._api.get(
                    f"/items/{object_id}", "items.get", {"expand": EXPAND["items"]}
                )
                out += self._records("items", item)
        return out


def _elements(obj: Json, name: str) -> list[Json]:
    found = obj.get(name)
    if isinstance(found, dict):
        found = found.get("elements")
    return [o for o in found if isinstance(o, dict)] if isinstance(found, list) else []


def _modified(obj: Json) -> int:
    value = obj.get("modifiedTime")
    return int(value) if isinstance(value, int) else 0
