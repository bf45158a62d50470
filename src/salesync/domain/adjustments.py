"""Adjustments: an edit at the source after a document was posted becomes new entries that
take the books from the posted version to the edited one; nothing posted is ever changed.

A document may have been posted alone or inside a summary or a payout; either way its own
legs went into the books (every mode adds the same per-document legs), so reversing the
posted version's legs and adding the edited version's legs is exact in every mode.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

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


def _failed(document: Postable) -> bool:
    return isinstance(document, Payout) and document.failed


def adjustment_key(document: Postable, revision: int) -> str:
    return f"adjust:{document.source}:{document.kind.value}:{document.external_id}:r{revision}"


@dataclass(frozen=True, slots=True)
class PlannedAdjustment:
    """The entries of one adjustment, each planned only when it moves an amount."""

    booking: PlannedPosting | None
    """The entry that brings the edited revision into the books: it covers that revision."""
    reversal: PlannedPosting | None = None
    """For an edit that moved the document to another day, the entry dated on the old day
    that takes the posted version out. It covers nothing (the revision in the books is the
    booking's to say) unless there is no booking, so it is linked to the document as a
    reversal of its own."""

    @property
    def postings(self) -> list[PlannedPosting]:
        """The entries to write, the reversal first."""
        return [p for p in (self.reversal, self.booking) if p is not None]


def plan_adjustment(
    posted: Postable,
    edited: Postable,
    revision: int,
    location: Location,
    *,
    posted_placement: Placement,
    placement: Placement,
) -> PlannedAdjustment:
    """The entries that turn ``posted`` (as it was placed then) into ``edited`` (revision
    ``revision``, placed by today's rules); none when the edit changes no amount.

    On the same business day this is one entry of the differences. An edit that moves the
    document to another day reverses it on the old day and books it on the new one, so
    each day's books match that day's sales. A payout that failed after it was posted is
    adjusted on the day it failed, and one said to have failed and then not, no earlier
    than that day (reconciliation still counts the difference on the payout's own day,
    where the source has it).
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
        narration = f"Adjustment: {what} edited (revision {revision})"
        on = day
        if isinstance(edited, Payout) and edited.failed_at and not _failed(posted):
            # A deposit returned by the bank leaves the bank on the day it came back, as
            # the bank statement shows, not on the day it was paid out.
            on = max(day, business_day(edited.failed_at, location.zone))
            narration = f"Adjustment: {what} failed; its deposit went back to the processor"
        elif isinstance(posted, Payout) and posted.failed_at and not _failed(edited):
            # Said failed, then not (the source corrected itself): the deposit comes back
            # no earlier than it was taken out, never into a day already past.
            on = max(day, business_day(posted.failed_at, location.zone))
            narration = f"Adjustment: {what} did not fail after all"
        parts = [(key, on, before + after, narration)]
    else:
        parts = [
            (f"{key}:reverse", was_day, before, f"Adjustment: {what} moved to {day.isoformat()}"),
            (key, day, after, f"Adjustment: {what} moved from {was_day.isoformat()}"),
        ]
    planned: dict[str, PlannedPosting] = {}
    for part_key, part_day, lines, narration in parts:
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
        # Only the booking covers the revision, so each revision of a document is covered
        # by exactly one posting; the reversal names the document in its entry only.
        covers = (edited.id,) if part_key == key else ()
        planned[part_key] = PlannedPosting(part_key, PostingMode.PER_ORDER, entry, covers)
    booking, reversal = planned.get(key), planned.get(f"{key}:reverse")
    if booking is None and reversal is not None:
        # Nothing to book on the new day (the edit leaves no amount): the reversal alone
        # brings the revision into the books, so it covers it. Else the books would go on
        # saying the old revision is in, and a later edit would take it out again.
        reversal = replace(reversal, documents=(edited.id,))
    return PlannedAdjustment(booking, reversal)
