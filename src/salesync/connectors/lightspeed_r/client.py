"""An R-Series account opened for reading: sweeps by ``timeStamp`` and history by window.

Streams (each listed oldest change first, ``sort=timeStamp``, from a ``timeStamp=>,<since>``
filter once a first pass is done):

- ``sales``: ``Sale.json`` with its lines and their items, its payments and their types
  and its tax category (``load_relations``); a sale comes again whenever it changes (a
  parked sale completed, a sale voided). A return travels with the sales its lines came
  from, looked up by ``SaleLine.json?saleLineID=IN,[...]``;
- ``customers``: ``Customer.json`` with the contact;
- ``items``: ``Item.json`` with the category and prices.

``history(start, end)`` lists the sales completed in the window (``completeTime``, which is
when salesync dates a sale or refund), oldest first.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from salesync.connectors.lightspeed_r.api import LightspeedApi, next_link, objects
from salesync.connectors.lightspeed_r.cursor import SweepCursor
from salesync.connectors.lightspeed_r.translate import CUSTOMER, ITEM, SALE, SALE_RETURN
from salesync.connectors.source import Page, SourceConnection, SourceRecord
from salesync.domain.errors import BugError

Json = dict[str, object]
PAGE = 100
SALE_RELATIONS = (
    "SaleLines",
    "SaleLines.Item",
    "SaleLines.Item.Category",
    "SalePayments",
    "SalePayments.PaymentType",
    "TaxCategory",
)


@dataclass(frozen=True, slots=True)
class LightspeedShop:
    """A shop of the account, for mapping shops to salesync locations."""

    id: str
    name: str
    time_zone: str
    archived: bool


@dataclass(frozen=True, slots=True)
class Stream:
    resource: str
    id_field: str
    record_type: str
    relations: tuple[str, ...]


STREAMS_BY_NAME = {
    "sales": Stream("Sale", "saleID", SALE, SALE_RELATIONS),
    "customers": Stream("Customer", "customerID", CUSTOMER, ("Contact",)),
    "items": Stream("Item", "itemID", ITEM, ("Category", "ItemPrices")),
}
STREAMS = tuple(STREAMS_BY_NAME)


def dumps(value: object) -> str:
    """Canonical JSON: the same content is the same bytes, so the inbox sees a repeat."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _instant(obj: Json, name: str) -> datetime | None:
    value = obj.get(name)
    if not isinstance(value, str) or not value:
        return None
    try:
        found = datetime.fromisoformat(value)
    except ValueError:
        return None
    return found if found.tzinfo is not None else None


def _listed(value: object, name: str) -> list[Json]:
    """A relation's objects whether R-Series gave one, several or none."""
    inner = value.get(name) if isinstance(value, dict) else None
    if isinstance(inner, dict):
        return [inner]
    return [o for o in inner if isinstance(o, dict)] if isinstance(inner, list) else []


def _parent_ids(sale: Json) -> set[str]:
    return {
        str(line["parentSaleLineID"])
        for line in _listed(sale.get("SaleLines"), "SaleLine")
        if str(line.get("parentSaleLineID") or "0") != "0"
    }


def _is_exchange(sale: Json) -> bool:
    """Whether a sale both sells and takes back goods."""
    signs = set()
    for line in _listed(sale.get("SaleLines"), "SaleLine"):
        quantity = str(line.get("unitQuantity") or "0")
        signs.add(quantity.startswith("-"))
    return signs == {True, False}


class LightspeedClient:
    """One connection's R-Series account; ``since`` bounds a sweep that has no cursor yet."""

    name = "lightspeed_r"

    def __init__(
        self, api: LightspeedApi, connection: SourceConnection, *, since: datetime | None = None
    ) -> None:
        self._api = api
        self._connection = connection
        self._since = since

    @property
    def connection_id(self) -> str | None:
        return self._connection.connection_id

    @property
    def api(self) -> LightspeedApi:
        return self._api

    def close(self) -> None:
        self._api.close()

    # -- sweeps --------------------------------------------------------------------------

    def fetch(self, stream: str, cursor: str | None) -> Page:
        kind = STREAMS_BY_NAME.get(stream)
        if kind is None:
            raise BugError(
                f"lightspeed_r has no stream {stream!r} (streams: {', '.join(STREAMS)})",
                code="unknown_stream",
                provider="lightspeed_r",
                operation="fetch",
            )
        at = SweepCursor.decode(cursor)
        if cursor is None and self._since is not None:
            at = replace(at, since=self._since)
        operation = f"{kind.resource.lower()}.list"
        if at.next:
            answer = self._api.follow(at.next, operation)
        else:
            params = {"sort": "timeStamp", "limit": str(PAGE)}
            if kind.relations:
                params["load_relations"] = json.dumps(list(kind.relations))
            if at.since is not None:
                params["timeStamp"] = f">,{iso(at.since)}"
            answer = self._api.get(kind.resource, operation, params)
        found = objects(answer, kind.resource)
        records = self._records(kind, found)
        changes: list[tuple[str, datetime]] = []
        given: list[SourceRecord] = []
        for obj, mine in zip(found, records, strict=True):
            stamp = _instant(obj, "timeStamp")
            key = f"{obj.get(kind.id_field)}@{obj.get('timeStamp')}"
            if key not in at.known:
                given += mine
            if stamp is not None:
                changes.append((key, stamp))
        seen = at.saw(changes)
        following = next_link(answer)
        after = replace(seen, next=following) if following else seen.finished()
        return Page(tuple(given), after.encode(), more=following is not None)

    def _records(self, kind: Stream, found: list[Json]) -> list[list[SourceRecord]]:
        """The records of each object found."""
        if kind.record_type != SALE:
            return [[SourceRecord(kind.record_type, dumps(obj))] for obj in found]
        return self._sale_records(found)

    def _sale_records(self, sales: list[Json]) -> list[list[SourceRecord]]:
        """The records of each sale: its envelope, with the sale of every line a return gives
        back, and for an exchange a second envelope marked ``given_back`` for its refund
        (a different body, so the inbox does not take it for a repeat)."""
        wanted = sorted({p for s in sales for p in _parent_ids(s)}, key=lambda v: (len(v), v))
        parents: dict[str, str] = {}
        for i in range(0, len(wanted), PAGE):
            params = {"saleLineID": f"IN,[{','.join(wanted[i : i + PAGE])}]", "limit": str(PAGE)}
            for line in self._api.pages("SaleLine", "saleline.list", params):
                parents[str(line.get("saleLineID"))] = str(line.get("saleID"))
        records: list[list[SourceRecord]] = []
        for sale in sales:
            mine = {p: parents[p] for p in sorted(_parent_ids(sale)) if p in parents}
            complete = len(mine) == len(_parent_ids(sale))
            version = f"{sale.get('saleID')}@{sale.get('timeStamp')}"
            body = {"sale": sale, "parents": mine}
            found = [SourceRecord(SALE, dumps(body), f"{SALE}:{version}" if complete else None)]
            if _is_exchange(sale):
                event_id = f"{SALE_RETURN}:{version}" if complete else None
                given_back = dumps({**body, "part": "given_back"})
                found.append(SourceRecord(SALE_RETURN, given_back, event_id))
            records.append(found)
        return records

    # -- the account ---------------------------------------------------------------------

    def shops(self) -> tuple[LightspeedShop, ...]:
        """Every shop of the account, archived ones included, by id."""
        return tuple(
            LightspeedShop(
                str(shop.get("shopID")),
                str(shop.get("name") or ""),
                str(shop.get("timeZone") or ""),
                shop.get("archived") == "true",
            )
            for shop in self._api.pages("Shop", "shop.list", {"limit": str(PAGE)})
        )

    # -- history -------------------------------------------------------------------------

    def history(self, start: datetime, end: datetime) -> Iterator[SourceRecord]:
        """The sales completed in ``[start, end)``, oldest first."""
        params = {
            "completed": "true",
            "completeTime": f"><,{iso(start)},{iso(end)}",
            "sort": "completeTime",
            "limit": str(PAGE),
            "load_relations": json.dumps(list(SALE_RELATIONS)),
        }
        kept: list[Json] = []
        for sale in self._api.pages("Sale", "sale.list", params):
            # R-Series' between includes its end; a window excludes it.
            done = _instant(sale, "completeTime")
            if done is not None and start <= done < end:
                kept.append(sale)
        return iter([r for found in self._sale_records(kept) for r in found])
