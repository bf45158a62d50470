"""Intake: validate a document, store it and post it to the built-in ledger, all or nothing.

A document with problems is refused with every problem listed and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from salesync.connectors.ledger.books import LedgerBooks
from salesync.domain.documents import Document, Location, Payout, Refund, Sale
from salesync.domain.errors import ValidationError
from salesync.domain.postings import DEFAULT_PLAN, Placement, journal_for
from salesync.domain.validation import Problem, validate_payout, validate_refund, validate_sale
from salesync.store.repositories import Documents, Stored


@dataclass(frozen=True, slots=True)
class Rejected:
    document: Document
    problems: tuple[Problem, ...]

    def explain(self) -> str:
        what = f"{self.document.kind.value} {self.document.external_id}"
        return f"{what}: " + "; ".join(str(p) for p in self.problems)


@dataclass(slots=True)
class IntakeReport:
    stored: int = 0
    duplicates: int = 0
    posted: int = 0
    already_posted: int = 0
    rejected: list[Rejected] = field(default_factory=list)


class Intake:
    """Takes documents for one tenant into the store and the built-in ledger."""

    def __init__(
        self,
        session: Session,
        tenant_id: str,
        locations: Iterable[Location],
        *,
        plan: Placement = DEFAULT_PLAN,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.locations = {loc.id: loc for loc in locations}
        self.plan = plan
        self.clock = clock
        self.documents = Documents(session, tenant_id)
        self.books = LedgerBooks(session, tenant_id, plan)

    def problems(self, document: Document) -> list[Problem]:
        """Everything wrong with ``document``, judged against what is already stored."""
        now = self.clock() if self.clock else None
        problems: list[Problem] = []
        if document.tenant_id != self.tenant_id:
            problems.append(
                Problem("wrong_tenant", f"belongs to tenant {document.tenant_id}", "tenant_id")
            )
        if document.location_id not in self.locations:
            problems.append(
                Problem(
                    "unknown_location",
                    f"location {document.location_id!r} is not set up for this merchant",
                    "location_id",
                )
            )
        if isinstance(document, Sale):
            problems += validate_sale(document, now=now)
        elif isinstance(document, Payout):
            problems += validate_payout(document, now=now)
        elif isinstance(document, Refund):
            sale = self.documents.get(document.sale_id)
            if not isinstance(sale, Sale):
                problems.append(
                    Problem(
                        "unknown_sale",
                        f"refunds sale {document.sale_id}, which salesync has not received",
                        "sale_id",
                    )
                )
            else:
                earlier = [r for r in self.documents.refunds_of(sale.id) if r.id != document.id]
                problems += validate_refund(document, sale, earlier, now=now)
        return problems

    def accept(self, document: Document) -> tuple[Stored, bool]:
        """Store and post one document; returns (stored, newly posted).

        Raises ``ValidationError`` listing every problem, having written nothing.
        """
        problems = self.problems(document)
        if problems:
            raise ValidationError(
                f"{document.kind.value} {document.external_id} has {len(problems)} problem(s)",
                user_message="; ".join(str(p) for p in problems),
                problems=tuple(problems),
                tenant=self.tenant_id,
                location=document.location_id,
                documents=(document.id,),
                operation="intake",
            )
        location = self.locations[document.location_id]
        with self.session.begin_nested():
            stored = self.documents.add(document, location)
            posted = self.books.post_entry(journal_for(document, location, self.plan))
        return stored, posted.created

    def take(self, documents: Iterable[Document]) -> IntakeReport:
        """Accept many documents; each is all-or-nothing, refusals are collected."""
        report = IntakeReport()
        for document in documents:
            try:
                stored, created = self.accept(document)
            except ValidationError as exc:
                report.rejected.append(Rejected(document, tuple(exc.problems)))
                continue
            if stored is Stored.NEW:
                report.stored += 1
            else:
                report.duplicates += 1
            if created:
                report.posted += 1
            else:
                report.already_posted += 1
        return report
