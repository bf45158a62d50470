"""Documents: the tenant's sales, refunds, payouts, customers and products as salesync
holds them, each with where it stands on its way to the books and, for one, why, in
plain words, with the one-click mapping fixes that would let a held document post."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import FastAPI, Request
from pydantic import BaseModel, Field

from salesync.accounts.roles import Action
from salesync.api.answers import ProblemRow, answer
from salesync.api.auth import Refused
from salesync.api.paging import (
    BAD_PARAMETER,
    TEXT_PAGING,
    choice,
    known,
    limit_of,
    query_parameter,
    text,
)
from salesync.api.rest.common import (
    LOCATION_FILTER,
    TENANT,
    MoneyOut,
    Parts,
    location_filter,
    money,
    refusals,
    route,
)
from salesync.domain.documents import DocumentKind
from salesync.views.documents import DocumentState, DocumentSummary, documents, explain

_QUERIES = [
    query_parameter(
        "kind", "Only documents of this kind.", {"type": "string", "enum": [*DocumentKind]}
    ),
    query_parameter(
        "state", "Only documents in this state.", {"type": "string", "enum": [*DocumentState]}
    ),
    LOCATION_FILTER,
    *TEXT_PAGING,
]


class DocumentOut(BaseModel):
    """A document and where it stands."""

    document_id: str
    kind: str
    source: str
    external_id: str
    location_id: str
    occurred_at: datetime
    business_day: date
    total: MoneyOut
    revision: int
    state: DocumentState


class DocumentPage(BaseModel):
    documents: list[DocumentOut]
    next_cursor: str | None


class SuggestionOut(BaseModel):
    """A rule that would let held documents post; only the account is left to choose
    (publish it with ``POST .../mappings/rules``)."""

    target: str
    field: str
    value: str
    condition: str
    documents: list[str]


class PostingOut(BaseModel):
    """A posting that carries the document."""

    id: int
    destination: str = Field(description="The books' name as the merchant knows them.")
    kind: str
    mode: str
    state: str
    remote_ref: str | None
    posted_at: datetime | None
    attempts: int
    next_attempt_at: datetime
    error: str | None


class ExplanationOut(BaseModel):
    """Where the document is and why: ``headline`` in one sentence, ``reasons`` the rest."""

    document: DocumentOut
    headline: str
    reasons: list[str]
    problems: list[ProblemRow]
    suggestions: list[SuggestionOut]
    postings: list[PostingOut]
    ticket_ids: list[int]


class Documents:
    """``GET .../documents`` and ``GET .../documents/{document_id}``."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts

    def register(self, app: FastAPI) -> None:
        route(
            app,
            "GET",
            TENANT + "/documents",
            self.documents,
            summary="The tenant's documents, newest first, with where each stands",
            tag="documents",
            model=DocumentPage,
            refused=refusals(BAD_PARAMETER),
            parameters=_QUERIES,
        )
        route(
            app,
            "GET",
            TENANT + "/documents/{document_id}",
            self.document,
            summary="Where one document is and why, with the fixes that would post it",
            tag="documents",
            model=ExplanationOut,
            refused=refusals(
                {
                    404: "There is no such tenant (`unknown_tenant`), or it has no such "
                    "document (`unknown_document`)."
                }
            ),
        )

    def documents(self, tenant_id: str, request: Request) -> DocumentPage:
        """The tenant's documents, newest first, ``limit`` at a time."""
        self.parts.admit(tenant_id, request, Action.VIEW_TENANT)
        params = request.query_params
        kind = params.get("kind")
        if kind is not None:
            choice("kind", kind, DocumentKind)
        state = params.get("state")
        if state is not None:
            choice("state", state, DocumentState)
        cursor = params.get("cursor")
        if cursor is not None:
            text("cursor", cursor)
        limit = limit_of(request)
        with self.parts.factory() as session:
            location = location_filter(session, tenant_id, request)
            try:
                found = documents(
                    session,
                    tenant_id,
                    kind=kind,
                    state=state,
                    location=location,
                    limit=limit + 1,
                    before=cursor,
                )
            except ValueError as exc:
                raise Refused(answer(400, "bad_parameter", f"{exc}.")) from None
        more = len(found) > limit
        found = found[:limit]
        return DocumentPage(
            documents=[_document(d) for d in found],
            next_cursor=found[-1].document_id if more else None,
        )

    def document(self, tenant_id: str, document_id: str, request: Request) -> ExplanationOut:
        """The document, where it stands, why, and what would let it post."""
        self.parts.admit(tenant_id, request, Action.VIEW_TENANT)
        found = None
        if known(document_id):
            with self.parts.factory() as session:
                found = explain(session, tenant_id, document_id, self.parts.clock())
        if found is None:
            raise Refused(
                answer(404, "unknown_document", f"{tenant_id} has no document {document_id!r}.")
            )
        return ExplanationOut(
            document=_document(found.document),
            headline=found.headline,
            reasons=found.reasons,
            problems=[
                ProblemRow(code=p.code, message=p.message, path=p.path) for p in found.problems
            ],
            suggestions=[
                SuggestionOut(
                    target=s.target,
                    field=s.field,
                    value=s.value,
                    condition=s.condition,
                    documents=list(s.documents),
                )
                for s in found.suggestions
            ],
            postings=[
                PostingOut(
                    id=p.id,
                    destination=p.destination,
                    kind=p.kind,
                    mode=p.mode,
                    state=p.state,
                    remote_ref=p.remote_ref,
                    posted_at=p.posted_at,
                    attempts=p.attempts,
                    next_attempt_at=p.next_attempt_at,
                    error=p.error,
                )
                for p in found.postings
            ],
            ticket_ids=found.ticket_ids,
        )


def _document(found: DocumentSummary) -> DocumentOut:
    return DocumentOut(
        document_id=found.document_id,
        kind=found.kind,
        source=found.source,
        external_id=found.external_id,
        location_id=found.location_id,
        occurred_at=found.occurred_at,
        business_day=found.business_day,
        total=money(found.total),
        revision=found.revision,
        state=found.state,
    )
