"""Reconciliation: per location and business day, what the source took against what the
books hold, and for one day every document with the reason it differs.

Postings marked posted are read back from the tenant's books where they can be opened;
when they cannot (the books wait for the merchant to reconnect), the comparison stands on
salesync's own records and the answer says why in ``books_unread``.
"""

from __future__ import annotations

from datetime import date, datetime

from fastapi import FastAPI, Request
from pydantic import BaseModel, Field

from salesync.accounts.roles import Action
from salesync.api.answers import answer
from salesync.api.auth import Refused
from salesync.api.paging import BAD_PARAMETER, days, known, query_parameter
from salesync.api.paging import day as parse_day
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
from salesync.connectors.destination import Books
from salesync.connectors.ledger.destination import LedgerDestination
from salesync.domain.errors import SyncError
from salesync.views.freshness import State
from salesync.views.reconciliation import (
    DayRow,
    DocumentLine,
    UnknownLocationError,
    day_detail,
    reconciliation,
)

MAX_DAYS = 92
"""The longest range compared at once, a quarter: each day is read back from the books."""
_DAY = {"type": "string", "format": "date"}
_QUERIES = [
    query_parameter("from", "The first business day (YYYY-MM-DD).", _DAY, required=True),
    query_parameter("to", "The last business day (YYYY-MM-DD).", _DAY, required=True),
    LOCATION_FILTER,
]


class DayRowOut(BaseModel):
    """One location's business day in one currency: takings at the source against the
    books, and the measures that differ."""

    location_id: str
    location_name: str
    day: date
    currency: str
    documents: int
    source_total: MoneyOut
    books_total: MoneyOut
    difference: MoneyOut = Field(description="Source minus books.")
    differing: list[str] = Field(description="The measures that differ, such as `tax: VAT`.")
    differing_documents: int
    clean: bool


class ReconciliationOut(BaseModel):
    first: date
    last: date
    summary: str
    clean_days: int
    days_with_differences: int
    days: list[DayRowOut]
    books_unread: str | None = Field(
        description="Why the books could not be read back, when they could not."
    )


class DocumentLineOut(BaseModel):
    """One document of the day: the source's amount against the books', and why they
    differ."""

    document_id: str
    kind: str
    external_id: str
    occurred_at: datetime
    local_time: datetime
    currency: str
    source_amount: MoneyOut
    books_amount: MoneyOut
    difference: MoneyOut
    differences: dict[str, str] = Field(
        description="Source minus books per measure, as decimal strings; empty when it agrees."
    )
    reason: str | None
    state: State
    reference: str | None
    clean: bool


class DayDetailOut(BaseModel):
    location_id: str
    location_name: str
    day: date
    clean: bool
    rows: list[DayRowOut]
    documents: list[DocumentLineOut]
    books_unread: str | None


class Reconciliation:
    """``GET .../reconciliation`` and ``GET .../reconciliation/{location_id}/{day}``."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts

    def register(self, app: FastAPI) -> None:
        route(
            app,
            "GET",
            TENANT + "/reconciliation",
            self.days,
            summary="Source against books per location and business day",
            tag="reconciliation",
            model=ReconciliationOut,
            refused=refusals(BAD_PARAMETER),
            parameters=_QUERIES,
        )
        route(
            app,
            "GET",
            TENANT + "/reconciliation/{location_id}/{day}",
            self.day,
            summary="One location's business day, document by document",
            tag="reconciliation",
            model=DayDetailOut,
            refused=refusals(
                {400: "The day is not written YYYY-MM-DD (`bad_parameter`)."},
                {
                    404: "There is no such tenant (`unknown_tenant`), or it has no such "
                    "location (`unknown_location`)."
                },
            ),
        )

    def days(self, tenant_id: str, request: Request) -> ReconciliationOut:
        """Every location-day from ``from`` to ``to`` with its takings on both sides."""
        self.parts.admit(tenant_id, request, Action.VIEW_TENANT)
        first, last = days(request)
        if (last - first).days >= MAX_DAYS:
            raise Refused(
                answer(
                    400,
                    "bad_parameter",
                    f"Reconcile at most {MAX_DAYS} days at a time, a quarter.",
                )
            )
        books, unread = self._books(tenant_id)
        with self.parts.factory() as session:
            location = location_filter(session, tenant_id, request)
            found = reconciliation(session, tenant_id, first, last, books, location=location)
        return ReconciliationOut(
            first=found.first,
            last=found.last,
            summary=found.summary,
            clean_days=found.clean_days,
            days_with_differences=found.days_with_differences,
            days=[_day_row(r) for r in found.days],
            books_unread=unread,
        )

    def day(self, tenant_id: str, location_id: str, day: str, request: Request) -> DayDetailOut:
        """Every document of the location's business day, each on both sides."""
        self.parts.admit(tenant_id, request, Action.VIEW_TENANT)
        when = parse_day("day", day)
        unknown = Refused(
            answer(404, "unknown_location", f"{tenant_id} has no location {location_id!r}.")
        )
        if not known(location_id):
            raise unknown
        books, unread = self._books(tenant_id)
        with self.parts.factory() as session:
            try:
                found = day_detail(session, tenant_id, location_id, when, books)
            except UnknownLocationError:
                raise unknown from None
        return DayDetailOut(
            location_id=found.location.id,
            location_name=found.location.name,
            day=found.day,
            clean=found.clean,
            rows=[_day_row(r) for r in found.rows],
            documents=[_line(d) for d in found.documents],
            books_unread=unread,
        )

    def _books(self, tenant_id: str) -> tuple[Books | None, str | None]:
        """The tenant's books to read postings back from (the built-in ledger without a
        destination connection); when they cannot be opened, None and why."""
        opener = self.parts.engine.books
        if opener is None:
            return LedgerDestination(self.parts.factory, tenant_id), None
        try:
            return opener(tenant_id, opener.name_for(tenant_id)), None
        except SyncError as exc:
            return None, exc.user_message


def _day_row(row: DayRow) -> DayRowOut:
    return DayRowOut(
        location_id=row.location_id,
        location_name=row.location_name,
        day=row.day,
        currency=row.currency,
        documents=row.documents,
        source_total=money(row.source_total),
        books_total=money(row.books_total),
        difference=money(row.difference),
        differing=list(row.differing),
        differing_documents=row.differing_documents,
        clean=row.clean,
    )


def _line(line: DocumentLine) -> DocumentLineOut:
    return DocumentLineOut(
        document_id=line.document_id,
        kind=line.kind,
        external_id=line.external_id,
        occurred_at=line.occurred_at,
        local_time=line.local_time,
        currency=line.currency,
        source_amount=money(line.source_amount),
        books_amount=money(line.books_amount),
        difference=money(line.difference),
        differences={name: format(gap, "f") for name, gap in line.differences.items()},
        reason=line.reason,
        state=line.state,
        reference=line.reference,
        clean=line.clean,
    )
