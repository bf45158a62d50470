"""What is waiting for a person: documents held for a mapping, and quarantined records.

A held document's stored problems keep the mapping target, the field and the value the
mapping missed (``rules.mapping.Unmapped``), so each can be offered as a one-click fix: a
``Suggestion`` names the rule to add, and ``account_choices`` the accounts a person may
pick for it. ``Mappings.add_rule`` publishes the pick, which releases the held documents.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from salesync.domain.documents import Payout, Refund, Sale
from salesync.domain.journal import AccountType
from salesync.domain.money import Money
from salesync.domain.redaction import Redactor
from salesync.domain.validation import Problem
from salesync.engine.inbox import UNREADABLE, RecordState
from salesync.engine.mappings import Mappings
from salesync.rules import Target
from salesync.rules.mapping import unmapped
from salesync.store import codec
from salesync.store.tables import (
    AccountRow,
    DocumentRow,
    InboxRecordRow,
    QueuedDocumentRow,
    owned_by,
)

DEFAULT_LIMIT = 200
"""How many held documents or quarantined records a page shows at most."""

ACCOUNT_TYPES: dict[Target, AccountType | None] = {
    Target.INCOME: AccountType.INCOME,
    Target.TAX: AccountType.LIABILITIES,
    Target.TENDER: AccountType.ASSETS,
    Target.LOCATION: None,
}
"""The type of ledger account that fits each target; a location rule sets a class instead."""

_REDACTOR = Redactor.of()


@dataclass(frozen=True)
class Suggestion:
    """A rule that would let held documents post: ``condition`` on ``target`` rules,
    matching ``field`` equal to ``value``; only the account is left to choose."""

    target: str
    field: str
    value: str
    condition: str
    documents: tuple[str, ...]


@dataclass(frozen=True)
class HeldDocument:
    """A document the published mapping cannot place, with what is missing and the fixes."""

    document_id: str
    kind: str
    external_id: str
    location_id: str
    occurred_at: datetime
    total: Money
    currency: str
    problems: list[Problem]
    suggestions: list[Suggestion]


@dataclass(frozen=True)
class QuarantinedRecord:
    """A received record that could not be taken in, with what to do about it."""

    record_id: int
    source: str
    record_type: str
    received_at: datetime
    problems: list[Problem]
    what_to_fix: str
    replayable: bool


def problem_of(row: dict[str, str]) -> Problem:
    """A stored problem row as the merchant reads it: in their words when it has them."""
    message = row.get("user_message") or row.get("message", "")
    return Problem(row.get("code", ""), _REDACTOR.text(message), row.get("path", ""))


def _suggest(rows: Iterable[tuple[str, list[dict[str, str]]]]) -> list[Suggestion]:
    """One suggestion per (target, field, value), in the order first met, with every
    document that needs it."""
    found: dict[tuple[str, str, str], tuple[str, list[str]]] = {}
    for document_id, problems in rows:
        for p in problems:
            if not all(p.get(k) for k in ("target", "field", "suggested_rule")) or "value" not in p:
                continue  # held before the fix details were kept: no one-click fix offered
            key = (p["target"], p["field"], p["value"])
            _, documents = found.setdefault(key, (p["suggested_rule"], []))
            if document_id not in documents:
                documents.append(document_id)
    return [
        Suggestion(target, field, value, condition, tuple(documents))
        for (target, field, value), (condition, documents) in found.items()
    ]


def suggestions(
    session: Session, tenant_id: str, document_ids: Sequence[str] | None = None
) -> list[Suggestion]:
    """The rules that would release the tenant's held documents (all, or those of
    ``document_ids``), one per missing value, with the documents each would release."""
    if document_ids is not None and not document_ids:
        return []
    query = select(QueuedDocumentRow.document_id, QueuedDocumentRow.problems).where(
        QueuedDocumentRow.tenant_id == tenant_id, QueuedDocumentRow.held
    )
    if document_ids is not None:
        query = query.where(QueuedDocumentRow.document_id.in_(list(document_ids)))
    rows = session.execute(query.order_by(QueuedDocumentRow.document_id)).all()
    return _suggest((document_id, problems or []) for document_id, problems in rows)


def account_choices(session: Session, tenant_id: str, target: str) -> list[str]:
    """The accounts a person may pick for a new ``target`` rule: those the published
    mapping already sends that target to, and the ledger chart's accounts of the fitting
    type (income, liabilities for taxes, assets for tenders); for location rules, the
    classes already in use. Sorted, each once."""
    which = Target(target)
    choices: set[str] = set()
    latest = Mappings(session, tenant_id).latest()
    if latest is not None:
        for rule in latest.rules_for(which):
            chosen = rule.klass if which is Target.LOCATION else rule.account
            if chosen and "{" not in chosen:  # a template is a pattern, not one account
                choices.add(chosen)
    kind = ACCOUNT_TYPES[which]
    if kind is not None:
        choices.update(
            session.scalars(
                select(AccountRow.name).where(
                    AccountRow.tenant_id == tenant_id, AccountRow.type == kind.value
                )
            )
        )
    return sorted(choices)


def placeable(session: Session, tenant_id: str, document_ids: Sequence[str]) -> int:
    """How many of ``document_ids`` the tenant's latest mapping now places in full: after
    a fix, the released documents that post, rather than wait again for another value."""
    mapping = Mappings(session, tenant_id).latest()
    if mapping is None or not document_ids:
        return 0
    ids = list(dict.fromkeys(document_ids))
    count = 0
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(DocumentRow.kind, DocumentRow.body).where(
                owned_by(DocumentRow.tenant_id, tenant_id),
                DocumentRow.id.in_(ids[start : start + 500]),
            )
        )
        for kind, body in rows:
            document = codec.decode(kind, body)
            if isinstance(document, Sale | Refund | Payout) and not unmapped(mapping, document):
                count += 1
    return count


def held_documents(
    session: Session, tenant_id: str, *, limit: int = DEFAULT_LIMIT
) -> list[HeldDocument]:
    """The tenant's documents held for a mapping, oldest first, with their fixes."""
    query = (
        select(QueuedDocumentRow, DocumentRow)
        .join(
            DocumentRow,
            (DocumentRow.id == QueuedDocumentRow.document_id)
            & (DocumentRow.tenant_id == QueuedDocumentRow.tenant_id),
        )
        .where(QueuedDocumentRow.tenant_id == tenant_id, QueuedDocumentRow.held)
        .order_by(DocumentRow.occurred_at, DocumentRow.id)
        .limit(limit)
    )
    held: list[HeldDocument] = []
    for queued, document in session.execute(query):
        problems = list(queued.problems or [])
        held.append(
            HeldDocument(
                document_id=document.id,
                kind=document.kind,
                external_id=document.external_id,
                location_id=document.location_id,
                occurred_at=document.occurred_at,
                total=Money.from_minor(document.total_minor, document.currency),
                currency=document.currency,
                problems=[problem_of(p) for p in problems],
                suggestions=_suggest([(document.id, problems)]),
            )
        )
    return held


def what_to_fix(source: str, record_type: str, problems: Sequence[Problem]) -> str:
    """One plain sentence saying what a merchant should do about a quarantined record."""
    codes = {p.code for p in problems}
    if record_type == UNREADABLE:
        return (
            f"Nothing to do: salesync could not read what {source} sent, and fetches it "
            f"again from {source} by itself. Contact support if this keeps happening."
        )
    if "unknown_location" in codes:
        return (
            f"Add the location in salesync (or map it on the {source} connection), then "
            "replay this record."
        )
    if "unknown_connection" in codes:
        return f"Reconnect {source}, then replay this record."
    if codes & {"unknown_source", "unknown_record_type", "malformed_json", "malformed_field"}:
        return (
            f"Nothing to fix in {source}: this is a problem on our side and our developers "
            "are on it; the record is replayed once it is fixed."
        )
    return (
        f"Correct the {record_type} in {source} (see the problems listed); salesync takes "
        "the corrected version in, or replay this record once it is fixed."
    )


def quarantined_records(
    session: Session, tenant_id: str, *, limit: int = DEFAULT_LIMIT
) -> list[QuarantinedRecord]:
    """The tenant's quarantined records, newest first, each with what to fix."""
    query = (
        select(InboxRecordRow)
        .where(
            InboxRecordRow.tenant_id == tenant_id,
            InboxRecordRow.state == RecordState.QUARANTINED.value,
        )
        .order_by(InboxRecordRow.received_at.desc(), InboxRecordRow.id.desc())
        .limit(limit)
    )
    records: list[QuarantinedRecord] = []
    for row in session.scalars(query):
        problems = [problem_of(p) for p in row.problems or []]
        records.append(
            QuarantinedRecord(
                record_id=row.id,
                source=row.source,
                record_type=row.record_type,
                received_at=row.received_at,
                problems=problems,
                what_to_fix=what_to_fix(row.source, row.record_type, problems),
                replayable=row.record_type != UNREADABLE,
            )
        )
    return records
