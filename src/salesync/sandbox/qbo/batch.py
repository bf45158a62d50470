"""The batch endpoint: up to 30 operations answered by bId, each with its own Fault.

A batch whose items fail is still HTTP 200; the faults sit in ``BatchItemResponse``
(https://developer.intuit.com/app/developer/qbo/docs/develop/troubleshooting/error-codes).

Faults are armed for a batch as "batch", except for a batch whose every item is a
Customer operation: "batch:Customer" (``fault_name``). Connectors create a batch's new
customers in a batch of their own ahead of the postings, and a fault meant for the
postings must not land on it. Either way it is one batch call to the limits.
"""

from __future__ import annotations

import json
from typing import Any

from salesync.sandbox.qbo import errors, query
from salesync.sandbox.qbo.company import QboCompany
from salesync.sandbox.qbo.entities import WRITABLE, save

MAX_ITEMS = 30
"""https://developer.intuit.com/app/developer/qbo/docs/learn/limits-and-throttles"""
BID_MAX_WITH_REQUESTID = 10
"""https://blogs.intuit.com/2015/04/06/15346/"""
CUSTOMER_BATCH = "batch:Customer"


def fault_name(raw: bytes) -> str:
    """The name a batch's faults are armed under: "batch:Customer" when every item is a
    Customer operation, else "batch" (a body that is not a batch included)."""
    try:
        body = json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return "batch"
    items = body.get("BatchItemRequest") if isinstance(body, dict) else None
    if (
        isinstance(items, list)
        and items
        and all(isinstance(item, dict) and "Customer" in item for item in items)
    ):
        return CUSTOMER_BATCH
    return "batch"


def run_batch(company: QboCompany, raw: bytes, requestid: str | None) -> tuple[int, dict[str, Any]]:
    """Run every item in order; a whole-request problem raises QboError (HTTP 400)."""
    try:
        body = json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    items = body.get("BatchItemRequest") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise errors.required("BatchItemRequest")
    if len(items) > MAX_ITEMS:
        raise errors.QboError(
            "1040",
            "Batch size exceeds allowed limit",
            f"The batch size {len(items)} exceeds the allowed limit of {MAX_ITEMS}",
            element="BatchItemRequest",
        )
    seen: set[str] = set()
    for item in items:
        bid = str(item.get("bId", "")) if isinstance(item, dict) else ""
        if not bid:
            raise errors.required("BatchItemRequest.bId")
        if requestid and len(bid) > BID_MAX_WITH_REQUESTID:
            raise errors.too_long("bId", BID_MAX_WITH_REQUESTID, len(bid))
        if bid in seen:
            raise errors.QboError(
                "2010",
                "Request has invalid or unsupported property",
                f"Duplicate bId {bid} in the batch",
                element="bId",
            )
        seen.add(bid)
    responses = [_run_item(company, item) for item in items]
    return 200, {"BatchItemResponse": responses, "time": errors.qbo_time(company.now())}


def _run_item(company: QboCompany, item: dict[str, Any]) -> dict[str, Any]:
    bid = str(item["bId"])
    try:
        if "Query" in item:
            return {"bId": bid, "QueryResponse": query.run(company, str(item["Query"]))}
        operation = item.get("operation")
        entities = [key for key in item if key in WRITABLE]
        if len(entities) != 1:
            raise errors.required("BatchItemRequest entity")
        entity = entities[0]
        payload = item[entity]
        if operation not in ("create", "update") or not isinstance(payload, dict):
            raise errors.QboError(
                "500",
                "Unsupported Operation",
                f"Operation {operation} is not supported for {entity} in a batch.",
            )
        if operation == "create" and payload.get("Id"):
            raise errors.business_rule("A create operation cannot carry an Id.", "Id")
        if operation == "update" and not payload.get("Id"):
            raise errors.required("Id")
        return {"bId": bid, entity: save(company, entity, payload)}
    except errors.QboError as error:
        return {"bId": bid, "Fault": error.fault()}
