"""An X-Series retailer opened for reading: sweeps by version and history by window.

Every API 2.0 collection pages by ``version``, a retailer-wide number that grows whenever
a record changes: ``after=<version>`` gives what changed since, oldest first, and an empty
page means the end (https://x-series-api.lightspeedhq.com/docs/pagination). A stream's
cursor is the last version seen, so a sale comes again whenever it changes (an account
paid off, a parked sale finished), and a sweep from the cursor catches every change a
webhook never brought.

Streams: ``sales`` (each with the currency, its products' facts and its taxes; an
exchange also as a ``sale_return`` record of its goods given back),
``customers``, ``products`` and ``register_closures``. ``history(start, end)`` reads the
sales by version and keeps the closed ones dated in the window (X-Series has no date
filter on its sale pages).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from salesync.connectors.lightspeed_x.api import LightspeedApi
from salesync.connectors.lightspeed_x.errors import PROVIDER
from salesync.connectors.lightspeed_x.sales import SALE_RETURN, is_exchange
from salesync.connectors.lightspeed_x.standing import Standing, standing
from salesync.connectors.source import Page, SourceConnection, SourceRecord
from salesync.domain.errors import BugError

Json = dict[str, Any]
STREAMS = ("sales", "customers", "products", "register_closures")
PAGE_SIZE = 200
RECORD_TYPE = {
    "sales": "sale",
    "customers": "customer",
    "products": "product",
    "register_closures": "register_closure",
}


def _rows(answer: Json) -> list[Json]:
    found = answer.get("data")
    return [r for r in found if isinstance(r, dict)] if isinstance(found, list) else []


def _instant(raw: object) -> datetime | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None


def _standing(sale: Json) -> Standing:
    attributes = sale.get("attributes")
    return standing(
        str(sale.get("state") or ""),
        [str(a) for a in attributes] if isinstance(attributes, list) else (),
        str(sale.get("status") or ""),
    )


def occurred(sale: Json) -> datetime | None:
    """When a closed sale counts: its sale date, or the day an account or layby was paid
    off."""
    if not _standing(sale).paid_off:
        return _instant(sale.get("sale_date"))
    paid = [t for t in (_instant(p.get("payment_date")) for p in sale.get("payments") or []) if t]
    return max(paid, default=_instant(sale.get("updated_at")) or _instant(sale.get("sale_date")))


class LightspeedXClient:
    """One connection's retailer."""

    name = PROVIDER

    def __init__(
        self, api: LightspeedApi, connection: SourceConnection, *, page_size: int = PAGE_SIZE
    ) -> None:
        self._api = api
        self._connection = connection
        self._page_size = page_size
        self._currency: str | None = None
        self._taxes: dict[str, Json] | None = None
        self._products: dict[str, Json] | None = None
        self._closed: list[tuple[datetime, Json]] | None = None

    @property
    def connection_id(self) -> str | None:
        return self._connection.connection_id

    def close(self) -> None:
        self._api.close()

    def fetch(self, stream: str, cursor: str | None) -> Page:
        if stream not in RECORD_TYPE:
            raise BugError(
                f"lightspeed_x has no stream {stream!r} (streams: {', '.join(STREAMS)})",
                code="unknown_stream",
                provider=PROVIDER,
                operation="fetch",
            )
        after = self._after(cursor)
        rows = self._page(stream, after)
        if not rows:
            return Page((), str(after), more=False)
        last = max(int(r.get("version") or after) for r in rows)
        return Page(
            tuple(found for r in rows for found in self._records(stream, r)), str(last), more=True
        )

    def history(self, start: datetime, end: datetime) -> Iterator[SourceRecord]:
        """Closed sales dated in ``[start, end)``, oldest first.

        The sales are read once per client and kept by date, so a backfill's windows
        (one client, many days) cost one pass over the retailer's sales, not one each."""
        if self._closed is None:
            self._closed = sorted(
                (
                    (when, sale)
                    for sale in self._all("sales")
                    if _standing(sale).closed and (when := occurred(sale)) is not None
                ),
                key=lambda pair: pair[0],
            )
        return iter(
            [
                found
                for when, sale in self._closed
                if start <= when < end
                for found in self._records("sales", sale)
            ]
        )

    # -- reading -----------------------------------------------------------------------

    def _after(self, cursor: str | None) -> int:
        if cursor is None:
            return 0
        try:
            return int(cursor)
        except ValueError:
            raise BugError(
                f"lightspeed_x cursor {cursor!r} is not a version",
                code="bad_cursor",
                provider=PROVIDER,
                operation="fetch",
            ) from None

    def _page(self, stream: str, after: int) -> list[Json]:
        params = {"after": str(after), "page_size": str(self._page_size)}
        return _rows(self._api.get(f"/api/2.0/{stream}", f"{stream}.list", params))

    def _records(self, stream: str, row: Json) -> tuple[SourceRecord, ...]:
        """The record of ``row``; for an exchange, a second one of its goods given back
        (a body of its own, so the inbox does not take it for a repeat)."""
        record = self._record(stream, row)
        if stream != "sales" or not _exchange(row):
            return (record,)
        body = {**json.loads(record.payload), "part": "given_back"}
        given_back = SourceRecord(
            SALE_RETURN,
            json.dumps(body, sort_keys=True),
            f"{SALE_RETURN}:{row.get('id')}:{row.get('version')}",
        )
        return (record, given_back)

    def _record(self, stream: str, row: Json) -> SourceRecord:
        record_type = RECORD_TYPE[stream]
        event_id = f"{record_type}:{row.get('id')}:{row.get('version')}"
        body: Json = row
        if stream == "sales":
            ids = {str(li.get("product_id")) for li in row.get("line_items") or []}
            body = {
                "sale": row,
                "currency": self._retailer_currency(),
                "products": {
                    i: facts for i in sorted(ids) if i and (facts := self._product_facts(i))
                },
                "taxes": self._tax_facts(),
            }
        elif stream == "products":
            body = {
                "product": row,
                "currency": self._retailer_currency(),
                "taxes": self._tax_facts(),
            }
        return SourceRecord(record_type, json.dumps(body, sort_keys=True), event_id)

    def _retailer_currency(self) -> str:
        if self._currency is None:
            retailer = self._api.get("/api/2.0/retailer", "retailer.get").get("data") or {}
            currency = retailer.get("currency") if isinstance(retailer, dict) else None
            self._currency = str((currency or {}).get("code") or "")
        return self._currency

    def _all(self, stream: str) -> list[Json]:
        rows: list[Json] = []
        after = 0
        while page := self._page(stream, after):
            rows += page
            after = max(int(r.get("version") or after) for r in page)
        return rows

    def _tax_facts(self) -> dict[str, Json]:
        if self._taxes is None:
            self._taxes = {
                str(t["id"]): {"name": t.get("name") or "Tax", "rate": t.get("rate", 0)}
                for t in self._all("taxes")
                if t.get("id")
            }
        return self._taxes

    def _product_facts(self, product_id: str) -> Json | None:
        """A product's SKU, name and category; None when X-Series has no such product (the
        sale is then refused naming the line, never posted under a made-up SKU)."""
        if self._products is None:
            self._products = {str(p["id"]): _facts(p) for p in self._all("products") if p.get("id")}
        if product_id not in self._products:
            try:
                answer = self._api.get(f"/api/2.0/products/{product_id}", "products.get")
            except BugError as exc:
                if exc.code != "HTTP_404":
                    raise
                return None
            product = answer.get("data")
            if isinstance(product, dict):
                self._products[product_id] = _facts(product)
        return self._products.get(product_id)


def _exchange(sale: Json) -> bool:
    """Whether a sale as the API lists it both sells and takes back goods."""
    quantities = []
    for line in sale.get("line_items") or []:
        try:
            quantities.append(Decimal(str(line.get("quantity") or 0)))
        except InvalidOperation:
            return False  # unreadable: its sale record is refused naming the line
    return is_exchange(quantities)


def _facts(product: Json) -> Json:
    kind = product.get("product_type")
    return {
        "sku": product.get("sku") or product.get("id"),
        "name": product.get("name") or "",
        "category": kind.get("name") or "" if isinstance(kind, dict) else "",
    }
