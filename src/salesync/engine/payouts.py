"""Per-payout planning: a payout posts as one entry equal to its deposit, carrying the sales
and refunds it settles whole, once they have all arrived (or, after the planner's
``payout_wait``, without those that never did); a document paid only through the
payout's clearing account waits for its payout meanwhile.

``PayoutPlanner`` is the planner's part for this mode: it plans with the planner's
documents, outbox, mapping and clock, and records through it what it planned, held or
raised.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from salesync.domain.documents import DocumentKind, Location, Payout, Refund, Sale, document_id
from salesync.domain.errors import ConflictError, MappingError
from salesync.domain.planning import PlanningError, plan_per_payout, settled_by, settled_whole_by
from salesync.domain.validation import Problem, problem_rows
from salesync.store.tables import QueuedDocumentRow

if TYPE_CHECKING:
    from salesync.engine.planner import Planner

PAYOUT_RECHECK = timedelta(hours=1)
"""How soon a payout that waits for its documents, or does not add up, is looked at
again when nothing else happens; a sale or refund arriving at its location (the
documents it waits for, an edit that makes it add up) has it looked at by the next plan."""


class PayoutPlanner:
    """Plans a location's payouts in per-payout mode, and says which documents wait for
    theirs."""

    def __init__(self, host: Planner) -> None:
        self.host = host

    def awaits(self, document: Sale | Refund, row: QueuedDocumentRow, today: date) -> bool:
        """Whether a document in per-payout mode should keep waiting for its payout."""
        placement = self.host.placement_for(document)
        clearing = placement.settlement_account(document.currency)
        if not settled_whole_by(document, clearing, placement):
            return False  # cash, gift cards, split tenders: summarized daily
        if row.business_day + timedelta(days=self.host.payout_wait.days) < today:
            row.problems = problem_rows(
                [
                    Problem(
                        "payout_overdue",
                        f"no payout settled it within {self.host.payout_wait.days} days; posted "
                        "in its day's summary, and its payout will only empty the clearing "
                        "account",
                        "payments",
                    )
                ]
            )
            return False
        return True

    def plan(self, location: Location, row: QueuedDocumentRow, payout: Payout, today: date) -> int:
        """One entry for a payout and the documents it settles, once they have all arrived
        (or, after ``payout_wait``, without those that never did)."""
        wanted = {
            document_id(self.host.tenant_id, payout.source, kind, external_id): (kind, external_id)
            for kind, external_id in map(settled_by, payout.transactions)
        }
        ids = set(wanted)
        stored = {i: self.host.documents.get(i) for i in ids}
        settled = [d for d in stored.values() if isinstance(d, Sale | Refund)]
        absent = {wanted[i] for i, d in stored.items() if not isinstance(d, Sale | Refund)}
        if absent and row.business_day + timedelta(days=self.host.payout_wait.days) >= today:
            row.problems = problem_rows(
                [
                    Problem(
                        "payout_waiting",
                        f"payout {payout.external_id} settles {len(absent)} "
                        "document(s) salesync has not received yet; it posts once they arrive",
                        "transactions",
                    )
                ]
            )
            row.plannable_at = self.host.clock() + PAYOUT_RECHECK
            return 0
        elsewhere = set(self.host.outbox.coverage(self.host.destination, ids))
        try:
            planned = plan_per_payout(
                payout,
                settled,
                location,
                self.host.placement_for(payout),
                posted_elsewhere=elsewhere,
                absent=absent,
            )
        except MappingError as exc:
            # A document it carries is held for a mapping: the payout waits with it, and
            # goes once the mapping that releases it is published. Said once as an
            # incident too: the value may be one of a document posted before (no longer
            # mapped), which no held document names.
            if not any(p.get("code") == "payout_unmapped" for p in row.problems):
                self.host.incident(
                    MappingError(
                        f"payout {payout.external_id} waits for a mapping: {exc.message}",
                        user_message=f"Payout {payout.external_id} waits until the mapping "
                        f"places what it settles: {exc.user_message}",
                        code="payout_unmapped",
                        operation="plan:payout",
                        details=exc.details,
                    ),
                    row,
                )
            row.problems = problem_rows(
                [
                    Problem(
                        "payout_unmapped",
                        f"payout {payout.external_id} settles a document the mapping cannot "
                        f"place yet ({exc.message}); it posts once that is mapped",
                        "transactions",
                    )
                ]
            )
            row.plannable_at = self.host.clock() + PAYOUT_RECHECK
            return 0
        except PlanningError as exc:
            # An order edited after its payout (research: A2X "inconsistent payout"): a
            # person decides; the payout is tried again after each edit until it adds up.
            first = all(p.get("code") != "payout_inconsistent" for p in row.problems)
            row.problems = problem_rows([Problem("payout_inconsistent", str(exc), "")])
            row.plannable_at = self.host.clock() + PAYOUT_RECHECK
            if first:
                self.host.incident(
                    ConflictError(
                        f"payout does not add up: {exc}",
                        user_message=f"Payout {payout.external_id} does not match the sales "
                        f"and refunds it settles ({exc}); a person needs to look at it.",
                        code="payout_inconsistent",
                        operation="plan:payout",
                    ),
                    row,
                )
            return 0
        revisions = {i: self.host.documents.revision(i) for i in planned.documents}
        created = self.host.enqueue(self.host.posting(planned, location, revisions))
        self.host.mark_planned(row, revisions[payout.id])  # the payout is among its documents
        row.problems = []
        if absent:
            self._never_received(row, payout, absent)
        carried = [i for i in planned.documents if i != payout.id]
        if carried:
            for queued in self.host.session.scalars(
                select(QueuedDocumentRow).where(QueuedDocumentRow.document_id.in_(carried))
            ):
                self.host.mark_planned(queued, revisions[queued.document_id])
        return created

    def _never_received(
        self, row: QueuedDocumentRow, payout: Payout, absent: set[tuple[DocumentKind, str]]
    ) -> None:
        """Say that a payout posted without documents it settles that never arrived."""
        named = ", ".join(f"{kind.value} {external_id}" for kind, external_id in sorted(absent))
        message = (
            f"payout {payout.external_id} settles {named}, which never arrived within "
            f"{self.host.payout_wait.days} days; the deposit is posted, and the clearing account "
            "holds their part as a credit until they arrive and post in their day's summary"
        )
        row.problems = problem_rows([Problem("payout_documents_missing", message, "transactions")])
        self.host.incident(
            ConflictError(
                message,
                user_message=f"Payout {payout.external_id} was deposited for {named}, which "
                f"{payout.source} never sent to salesync. The deposit is in your books; "
                "import those sales (a backfill of their days) so the clearing account "
                "empties.",
                code="payout_documents_missing",
                operation="plan:payout",
            ),
            row,
        )
