"""Adjustments: an edit at the source after a document was posted becomes new entries that
take the books from the posted version to the edited one; nothing posted is ever changed.

A document may have been posted alone or inside a summary or a payout; either way its own
legs went into the books (every mode adds the same per-document legs), so reversing the
posted version's legs and adding the edited version's legs is exact in every mode.
"""

from __future__ import annotations

from collections.abc import Iterable

from salesync.domain.documents import Location, Payout, Refund, Sale, business_day
from salesync.domain.journal import JournalEntry, JournalLine, compact
from salesync.domain.planning import PlannedPosting, PlanningError, PostingMode
from salesync.domain.postings import Placement, payout_lines, refund_lines, sale_lines

Postable = Sale | Refund | Payout


def document_legs(document: Postable, placement: Placement) -> list[JournalLine]:
    """The rounded legs one document contributes to the books, in any posting mode."""
    if isinstance(document, Sale):
        return sale_lines(document, placement)
    if isinstance(document, Refund):
        return refund_lines(document, placement)
    return payout_lines(document, placement)


def _reversed(lines: Iterable[JournalLine]) -> list[JournalLine]:
    return [JournalLine(ln.account, -ln.amount, ln.memo) for ln in lines]


def adjustment_key(document: Postable, revision: int) -> str:
    return f"adjust:{document.source}:{document.kind.value}:{document.external_id}:r{revision}"


def plan_adjustment(
    posted: Postable,
    edited: Postable,
    revision: int,
    location: Location,
    *,
    posted_placement: Placement,
    placement: Placement,
) -> list[PlannedPosting]:
    """The entries that turn ``posted`` (as it was placed then) into ``edited`` (revision
    ``revision``, placed by today's rules); none when the edit changes no amount.

    On the same business day this is one entry of the differences. An edit that moves the
    document to another day reverses it on the old day and books it on the new one, so
    each day's books match that day's sales.
    """
    if posted.id != edited.id:
        raise PlanningError(f"{posted.id} and {edited.id} are different documents")
    if edited.currency != posted.currency:
        raise PlanningError(
            f"{edited.kind.value} {edited.external_id} changed currency from "
            f"{posted.currency} to {edited.currency}; refund it and record a new sale"
        )
    key = adjustment_key(edited, revision)
    was_day = business_day(posted.occurred_at, location.zone)
    day = business_day(edited.occurred_at, location.zone)
    before = _reversed(document_legs(posted, posted_placement))
    after = document_legs(edited, placement)
    what = f"{edited.kind.value} {edited.external_id}"
    if was_day == day:
        parts = [(key, day, before + after, f"Adjustment: {what} edited (revision {revision})")]
    else:
        parts = [
            (f"{key}:reverse", was_day, before, f"Adjustment: {what} moved to {day.isoformat()}"),
            (key, day, after, f"Adjustment: {what} moved from {was_day.isoformat()}"),
        ]
    planned = []
    for part_key, part_day, lines, narration in parts:
        # Only the entry that books the edited version covers the revision; a reversal
        # names the document in its entry but covers nothing, so each revision of a
        # document is covered by exactly one posting.
        covers = (edited.id,) if part_key == key else ()
        kept = compact(lines)
        if not kept:
            continue
        entry = JournalEntry(
            key=part_key,
            tenant_id=edited.tenant_id,
            location_id=edited.location_id,
            date=part_day,
            narration=narration,
            lines=kept,
            documents=(edited.id,),
        )
        planned.append(PlannedPosting(part_key, PostingMode.PER_ORDER, entry, covers))
    return planned
