"""Planning: documents whose window has come become postings in the outbox.

Each location posts in its chosen mode. Only documents no posting to the destination
covers yet are planned, so changing the mode never posts a document twice. A daily
summary waits until its business day has closed in the location's time zone; a document
that arrives for a day already summarized gets a supplementary summary of its own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from salesync.connectors.ledger.destination import NAME as LEDGER
from salesync.domain.documents import Document, Location, Refund, Sale
from salesync.domain.planning import (
    PlannedPosting,
    PostingMode,
    plan_daily_summary,
    plan_per_order,
)
from salesync.domain.postings import DEFAULT_PLAN, Placement
from salesync.engine.outbox import Outbox
from salesync.store.repositories import Documents
from salesync.store.tables import LocationSettingsRow, PostingRow, QueuedDocumentRow


class Planner:
    def __init__(
        self,
        session: Session,
        tenant_id: str,
        locations: Iterable[Location],
        clock: Callable[[], datetime],
        *,
        placement: Placement = DEFAULT_PLAN,
        destination: str = LEDGER,
    ) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.locations = {loc.id: loc for loc in locations}
        self.clock = clock
        self.placement = placement
        self.destination = destination
        self.outbox = Outbox(session, tenant_id)
        self.documents = Documents(session, tenant_id)

    def mode_for(self, location_id: str) -> PostingMode:
        row = self.session.get(LocationSettingsRow, (self.tenant_id, location_id))
        return PostingMode(row.posting_mode) if row else PostingMode.PER_ORDER

    def set_mode(self, location_id: str, mode: PostingMode) -> None:
        if location_id not in self.locations:
            raise KeyError(f"no location {location_id!r} for tenant {self.tenant_id}")
        if mode is PostingMode.PER_PAYOUT:
            # The planner (domain.planning.plan_per_payout) exists; holding documents until
            # their payout arrives is not wired into the engine yet, and guessing is worse.
            raise ValueError(
                "per-payout posting is not available in the engine yet; "
                "choose per_order or daily_summary"
            )
        row = self.session.get(LocationSettingsRow, (self.tenant_id, location_id))
        if row is None:
            self.session.add(
                LocationSettingsRow(
                    tenant_id=self.tenant_id, location_id=location_id, posting_mode=mode.value
                )
            )
        else:
            row.posting_mode = mode.value
        self.session.flush()

    def due(self) -> list[QueuedDocumentRow]:
        query = select(QueuedDocumentRow).where(
            QueuedDocumentRow.tenant_id == self.tenant_id,
            QueuedDocumentRow.planned.is_(False),
            QueuedDocumentRow.due_at <= self.clock(),
        )
        return list(self.session.scalars(query.order_by(QueuedDocumentRow.document_id)))

    def plan_due(self) -> int:
        """Turn every due document into postings; returns how many postings were created."""
        by_location: dict[str, list[QueuedDocumentRow]] = defaultdict(list)
        for row in self.due():
            by_location[row.location_id].append(row)
        created = 0
        for location_id, rows in sorted(by_location.items()):
            created += self._plan_location(self.locations[location_id], rows)
        return created

    def _plan_location(self, location: Location, rows: list[QueuedDocumentRow]) -> int:
        covered = self.outbox.covered(self.destination, [r.document_id for r in rows])
        for row in rows:
            if row.document_id in covered:
                row.planned = True  # already in the books under an earlier mode
        waiting = [r for r in rows if r.document_id not in covered]
        mode = self.mode_for(location.id)
        today = self.clock().astimezone(location.zone).date()
        created = 0
        summary_days: dict[date, list[QueuedDocumentRow]] = defaultdict(list)
        for row in waiting:
            if mode is PostingMode.DAILY_SUMMARY and row.kind in ("sale", "refund"):
                if row.business_day < today:
                    summary_days[row.business_day].append(row)
                continue
            document = self._document(row)
            created += self._enqueue(plan_per_order(document, location, self.placement), location)
            row.planned = True
        for day, day_rows in sorted(summary_days.items()):
            docs = [self._document(r) for r in day_rows]
            sales_and_refunds = [d for d in docs if isinstance(d, Sale | Refund)]
            for planned in plan_daily_summary(sales_and_refunds, location, day, self.placement):
                created += self._enqueue(planned, location)
            for row in day_rows:
                row.planned = True
        self.session.flush()
        return created

    def _document(self, row: QueuedDocumentRow) -> Document:
        document = self.documents.get(row.document_id)
        if document is None:
            raise LookupError(f"queued document {row.document_id} is not stored")
        return document

    def _enqueue(self, planned: PlannedPosting, location: Location) -> int:
        key = planned.key
        taken = self.session.scalar(
            select(func.count()).where(
                PostingRow.tenant_id == self.tenant_id,
                PostingRow.destination == self.destination,
                (PostingRow.key == key) | PostingRow.key.like(f"{key}:late-%"),
            )
        )
        if taken:
            # The day was summarized already: late documents get a supplement, never a
            # second entry under the first one's key.
            key = f"{key}:late-{taken}"
        self.outbox.enqueue(
            destination=self.destination,
            key=key,
            mode=planned.mode.value,
            location_id=location.id,
            entry=planned.entry,
            documents=planned.documents,
            now=self.clock(),
        )
        return 1
