"""A work unit's request going out, and its answer coming back.

An add is settled by its reply: done with the TxnID QuickBooks gave it, failed with the
status QuickBooks refused it with, or queued again when the refusal was transient. A
lookup finds the transaction only if one of its line memos carries the unit's full key:
a RefNumber is short and a person may reuse it, the key is salesync's own.
"""

from __future__ import annotations

from salesync.connectors.qbd.errors import status_error
from salesync.connectors.qbd.qbxml import reiterate
from salesync.connectors.qbd.queue import interrupted, restart, result
from salesync.connectors.qbd.responses import MalformedResponseError, Reply, parse_replies
from salesync.store.tables import QbdWorkRow

NO_MATCH = 1
NAME_IN_USE = 3100


def outgoing(unit: QbdWorkRow) -> str:
    """The qbXML the Web Connector takes to QuickBooks for ``unit``; its state moves on."""
    if unit.kind == "add" and unit.state == "verify":
        unit.state = "checking"
        return str(unit.result["lookup"])
    if unit.kind == "add":
        unit.state = "sent"
        return unit.request
    continuing = unit.state == "paging" and unit.iterator_id
    unit.state = "reading"
    if continuing:
        return reiterate(unit.request, "Continue", unit.iterator_id)
    return reiterate(unit.request, "Start")


def settle(unit: QbdWorkRow, response: str) -> str | None:
    """Apply QuickBooks' ``response`` to ``unit``; a message for the Web Connector's log
    when the response could not be read (the unit is then treated as interrupted)."""
    try:
        replies = parse_replies(response)
        if not replies:
            raise MalformedResponseError("the response holds no reply")
    except MalformedResponseError as exc:
        interrupted(unit)
        return f"salesync could not read QuickBooks' answer: {exc}"
    reply = replies[0]
    if unit.state == "checking":
        _looked_up(unit, reply)
    elif unit.state == "sent":
        _added(unit, reply)
    elif unit.state == "reading":
        _read(unit, reply)
    # Any other state: a later session already took the unit back (its request went out
    # in a session that was given up); this late answer must not settle it twice.
    return None


def _added(unit: QbdWorkRow, reply: Reply) -> None:
    if reply.status.ok:
        ids = [r.get("TxnID") or r.get("ListID") for r in reply.records]
        unit.state = "done"
        result(unit, ref=next((i for i in ids if i), ""))
        return
    if reply.status.code == NAME_IN_USE and reply.operation.startswith("Item"):
        unit.state = "done"  # the item is there already: what the receipts need
        return
    error = status_error(reply.status, reply.operation)
    if error.kind.retryable:
        unit.state = "queued"
        return
    unit.state = "failed"
    unit.error_code = str(reply.status.code)
    unit.error_message = reply.status.message


def _looked_up(unit: QbdWorkRow, reply: Reply) -> None:
    if reply.status.code == NO_MATCH:
        unit.state = "queued"
        return
    if not reply.status.ok:
        unit.state = "verify"
        return
    ours = [
        r
        for r in reply.records
        # The key as written, in its brackets: payout ``...:12`` is not payout ``...:123``
        # of the same day, nor a key's ``:late-1`` supplement.
        if any(f"[{unit.key}]" in memo for memo in r.memos)
        or (r.kind.startswith("Item") and r.get("FullName") == unit.reference)
    ]
    if ours:
        unit.state = "done"
        result(unit, ref=ours[0].get("TxnID") or ours[0].get("ListID") or "")
    else:
        unit.state = "queued"


def _read(unit: QbdWorkRow, reply: Reply) -> None:
    if not reply.status.ok:
        restart(unit)
        unit.state = "failed"
        unit.error_code = str(reply.status.code)
        unit.error_message = reply.status.message
        return
    records = [*unit.result.get("records", []), *(dict(r.fields) for r in reply.records)]
    result(unit, records=records)
    if reply.remaining:
        unit.state, unit.iterator_id = "paging", reply.iterator_id
    else:
        unit.state, unit.iterator_id = "done", None
