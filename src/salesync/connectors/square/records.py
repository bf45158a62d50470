"""Square objects packed as inbox records (the envelopes ``payloads.py`` reads back).

Payloads are canonical JSON (sorted keys, no spaces), so the same content is the same
bytes and the inbox's hash catches a repeat. Orders and payouts also carry an event id
naming the object's version: their envelopes hold facts looked up when they were read (a
catalog SKU, a payout's orders) that may change later without the object changing, and a
new read of an unchanged version must stay a duplicate, not become an edit. An envelope
whose lookups came back incomplete gets no event id, so a later, complete read of the same
version is taken in on its own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from salesync.connectors.source import SourceRecord
from salesync.connectors.square.translate import (
    CUSTOMER,
    ITEM_VARIATION,
    ORDER,
    ORDER_RETURN,
    PAYOUT,
)

Json = dict[str, Any]


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def listed(obj: Json, name: str) -> list[Json]:
    found = obj.get(name)
    return [o for o in found if isinstance(o, dict)] if isinstance(found, list) else []


def instant(obj: Json, name: str) -> datetime | None:
    """A timestamp field of a Square object, or None when it is missing or unreadable."""
    value = obj.get(name)
    if not isinstance(value, str):
        return None
    try:
        found = datetime.fromisoformat(value)
    except ValueError:
        return None
    return found if found.tzinfo is not None else None


def version_key(obj: Json) -> str:
    """The id and version of an object: what a sweep remembers it gave."""
    return f"{obj.get('id')}:v{obj.get('version', 0)}"


def returned_from(order: Json) -> set[str]:
    """The orders whose tenders a return order refunds."""
    found = {str(r["transaction_id"]) for r in listed(order, "refunds") if r.get("transaction_id")}
    found |= {
        str(r["source_order_id"]) for r in listed(order, "returns") if r.get("source_order_id")
    }
    return found


def _catalog(facts: Mapping[str, Json], lines: list[Json]) -> Json:
    ids = {str(li["catalog_object_id"]) for li in lines if li.get("catalog_object_id")}
    return {i: facts[i] for i in sorted(ids) if i in facts}


def order_records(
    order: Json, facts: Mapping[str, Json], tenders: Mapping[str, Json]
) -> list[SourceRecord]:
    """The records of one order: ``order`` for what it sells (or for an order that
    neither sells nor returns, to say why it is skipped), ``order_return`` for what it
    returns; an exchange gives both."""
    lines = listed(order, "line_items")
    returns = listed(order, "returns")
    key = version_key(order) if order.get("id") else None
    records: list[SourceRecord] = []
    if lines or not returns:
        body = {"order": order, "catalog": _catalog(facts, lines)}
        records.append(SourceRecord(ORDER, dumps(body), f"{ORDER}:{key}" if key else None))
    if returns:
        returned = [li for r in returns for li in listed(r, "return_line_items")]
        refunded = {str(r.get("tender_id")) for r in listed(order, "refunds")}
        found = {t: tenders[t] for t in sorted(refunded) if t in tenders}
        complete = key is not None and len(found) == len(refunded)
        body = {"order": order, "catalog": _catalog(facts, returned), "source_tenders": found}
        event_id = f"{ORDER_RETURN}:{key}" if complete else None
        records.append(SourceRecord(ORDER_RETURN, dumps(body), event_id))
    return records


def customer_record(customer: Json) -> SourceRecord:
    return SourceRecord(CUSTOMER, dumps(customer))


def variation_records(
    item: Json, variations: list[Json], category: str, currency: str
) -> list[SourceRecord]:
    """One ``item_variation`` record per variation; the item travels without its list of
    variations, each of which has a record of its own."""
    found = item.get("item_data")
    data: Json = found if isinstance(found, dict) else {}
    bare = {**item, "item_data": {k: v for k, v in data.items() if k != "variations"}}
    return [
        SourceRecord(
            ITEM_VARIATION,
            dumps({"item": bare, "variation": v, "category": category, "currency": currency}),
        )
        for v in variations
    ]


def payout_record(payout: Json, entries: list[Json], orders: Mapping[str, str]) -> SourceRecord:
    settled = [settled_by(e) for e in entries]
    complete = all(ref is None or ref in orders for ref in settled)
    body = {"payout": payout, "entries": entries, "orders": dict(sorted(orders.items()))}
    event_id = f"{PAYOUT}:{version_key(payout)}" if complete and payout.get("id") else None
    return SourceRecord(PAYOUT, dumps(body), event_id)


def settled_by(entry: Json) -> str | None:
    """The payment a charge entry settles, or the refund a refund entry takes back."""
    if entry.get("type") == "CHARGE":
        details = entry.get("type_charge_details")
        return str(details.get("payment_id")) if isinstance(details, dict) else None
    if entry.get("type") == "REFUND":
        details = entry.get("type_refund_details")
        return str(details.get("refund_id")) if isinstance(details, dict) else None
    return None
