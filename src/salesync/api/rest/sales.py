"""The sales log and the sales report: what sold, where and when, and how far the books
have caught up (sales move in scheduled windows, so the books lag the tills on purpose;
each answer says how far). Money is a decimal string with its currency."""

from __future__ import annotations

import base64
import binascii
from datetime import date, datetime

from fastapi import FastAPI, Request
from pydantic import BaseModel, Field

from salesync.accounts.roles import Action
from salesync.api.answers import answer
from salesync.api.auth import Refused
from salesync.api.paging import (
    BAD_PARAMETER,
    DEFAULT_LIMIT,
    MAX_KEY,
    MAX_LIMIT,
    day,
    days,
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
from salesync.views.freshness import Freshness, State
from salesync.views.sales import CursorError, LogEntry, sales_log
from salesync.views.sales_report import Figures, SalesReport, sales_report

MAX_REPORT_DAYS = 366
"""The longest report: a year, read in bounded chunks whatever the number of sales."""
_DAY = {"type": "string", "format": "date"}
_LOG_QUERIES = [
    LOCATION_FILTER,
    query_parameter("from", "Only business days from this one (YYYY-MM-DD).", _DAY),
    query_parameter("to", "Only business days up to this one (YYYY-MM-DD).", _DAY),
    query_parameter(
        "limit",
        "How many to show at a time.",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    ),
    query_parameter(
        "cursor",
        "The `next_cursor` of the page before.",
        {"type": "string", "minLength": 1, "maxLength": MAX_KEY},
    ),
]
_REPORT_QUERIES = [
    query_parameter("from", "The first business day (YYYY-MM-DD).", _DAY, required=True),
    query_parameter("to", "The last business day (YYYY-MM-DD).", _DAY, required=True),
    LOCATION_FILTER,
]


class LocationFreshnessOut(BaseModel):
    location_id: str
    text: str
    synced_through: datetime | None = Field(
        description="When the newest sale or refund already in the books happened."
    )
    last_synced_at: datetime | None
    waiting_sales: int
    waiting_refunds: int
    next_window: datetime | None
    manual: int = Field(description="Sales and refunds waiting for someone to sync them.")
    held: int = Field(description="Sales and refunds held until a mapping is fixed.")


class FreshnessOut(BaseModel):
    """How far the books have caught up, in a sentence and per location."""

    text: str
    waiting: int
    held: int
    synced_through: datetime | None
    next_window: datetime | None
    locations: list[LocationFreshnessOut]


class LogEntryOut(BaseModel):
    """One sale or refund: what the customer paid (or got back) and where it stands."""

    document_id: str
    kind: str
    external_id: str
    number: str | None
    location_id: str
    location_name: str
    occurred_at: datetime
    local_time: datetime = Field(description="When it happened, in the location's time zone.")
    business_day: date
    total: MoneyOut
    customer: str | None
    state: State
    status: str = Field(description="Where it stands, in a sentence.")
    synced_at: datetime | None
    destination: str | None
    reference: str | None = Field(description="The books' own id for what was written.")
    sale_id: str | None = Field(description="For a refund: the sale it reverses.")


class SalesLogOut(BaseModel):
    entries: list[LogEntryOut]
    next_cursor: str | None
    freshness: FreshnessOut


class FiguresOut(BaseModel):
    """What a group of sales and refunds amounts to in one currency, as the books count
    it: sales and refunds without tax, discounts as given."""

    currency: str
    orders: int
    refund_count: int
    gross_sales: MoneyOut
    discounts: MoneyOut
    refunds: MoneyOut
    net_sales: MoneyOut
    tax: MoneyOut
    shipping: MoneyOut
    service_charges: MoneyOut
    tips: MoneyOut
    gift_cards: MoneyOut


class CategoryOut(BaseModel):
    category: str
    figures: FiguresOut


class DayGroupOut(BaseModel):
    """One location's business day in one currency, by category."""

    day: date
    location_id: str
    location_name: str
    currency: str
    totals: FiguresOut
    categories: list[CategoryOut]


class DayTotalOut(BaseModel):
    day: date
    figures: FiguresOut


class LocationTotalOut(BaseModel):
    location_id: str
    location_name: str
    figures: FiguresOut


class AssociateTotalOut(BaseModel):
    associate: str = Field(description="Who made the sales; refunds count against the sale's.")
    figures: FiguresOut


class CategoryTotalOut(BaseModel):
    category: str
    figures: FiguresOut


class SalesReportOut(BaseModel):
    """Sales per business day, location, associate and category, and the totals per
    currency."""

    first: date
    last: date
    location: str | None
    documents: int
    totals: list[FiguresOut]
    by_day: list[DayTotalOut]
    by_location: list[LocationTotalOut]
    groups: list[DayGroupOut]
    freshness: FreshnessOut
    by_associate: list[AssociateTotalOut] = Field(default_factory=list)
    by_category: list[CategoryTotalOut] = Field(default_factory=list)


class Sales:
    """``GET .../sales`` (the sales log) and ``GET .../reports/sales``."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts

    def register(self, app: FastAPI) -> None:
        route(
            app,
            "GET",
            TENANT + "/sales",
            self.log,
            summary="The sales log: sales and refunds, newest first, and how current it is",
            tag="sales",
            model=SalesLogOut,
            refused=refusals(BAD_PARAMETER),
            parameters=_LOG_QUERIES,
        )
        route(
            app,
            "GET",
            TENANT + "/reports/sales",
            self.report,
            summary="Sales per day, location and category between two days",
            tag="sales",
            model=SalesReportOut,
            refused=refusals(BAD_PARAMETER),
            parameters=_REPORT_QUERIES,
        )

    def log(self, tenant_id: str, request: Request) -> SalesLogOut:
        """Sales and refunds, newest first, ``limit`` at a time."""
        self.parts.admit(tenant_id, request, Action.VIEW_TENANT)
        params = request.query_params
        since = day("from", params["from"]) if "from" in params else None
        until = day("to", params["to"]) if "to" in params else None
        limit = limit_of(request)
        cursor = params.get("cursor")
        if cursor is not None:
            _check_cursor(cursor)
        with self.parts.factory() as session:
            location = location_filter(session, tenant_id, request)
            try:
                found = sales_log(
                    session,
                    tenant_id,
                    location=location,
                    since=since,
                    until=until,
                    limit=limit,
                    before=cursor,
                )
            except CursorError as exc:
                raise Refused(answer(400, "bad_parameter", f"cursor: {exc}.")) from None
        return SalesLogOut(
            entries=[_entry(e) for e in found.entries],
            next_cursor=found.next_cursor,
            freshness=freshness_out(found.freshness),
        )

    def report(self, tenant_id: str, request: Request) -> SalesReportOut:
        """The figures of every sale and refund from ``from`` to ``to``."""
        self.parts.admit(tenant_id, request, Action.VIEW_TENANT)
        first, last = report_days(request)
        with self.parts.factory() as session:
            location = location_filter(session, tenant_id, request)
            found = sales_report(session, tenant_id, first, last, location=location)
        return report_out(found)


def report_days(request: Request) -> tuple[date, date]:
    """The ``from`` and ``to`` days of a report, refused when over ``MAX_REPORT_DAYS``."""
    first, last = days(request)
    if (last - first).days >= MAX_REPORT_DAYS:
        raise Refused(
            answer(
                400,
                "bad_parameter",
                f"A report covers at most {MAX_REPORT_DAYS} days; ask for a shorter range.",
            )
        )
    return first, last


def _check_cursor(cursor: str) -> None:
    """Refuse a cursor no database could compare (too long, or hiding a NUL character):
    the log's cursors are base64 of a time and a document id."""
    text("cursor", cursor)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if b"\x00" in raw:
        raise Refused(
            answer(400, "bad_parameter", "cursor: that page link is not valid; start again.")
        )


def report_out(found: SalesReport) -> SalesReportOut:
    """A sales report as the API answers it."""
    return SalesReportOut(
        first=found.first,
        last=found.last,
        location=found.location,
        documents=found.documents,
        totals=[figures(f) for f in found.totals],
        by_day=[DayTotalOut(day=d.day, figures=figures(d.figures)) for d in found.by_day],
        by_location=[
            LocationTotalOut(
                location_id=t.location_id,
                location_name=t.location_name,
                figures=figures(t.figures),
            )
            for t in found.by_location
        ],
        groups=[
            DayGroupOut(
                day=g.day,
                location_id=g.location_id,
                location_name=g.location_name,
                currency=g.currency,
                totals=figures(g.totals),
                categories=[
                    CategoryOut(category=c.category, figures=figures(c.figures))
                    for c in g.categories
                ],
            )
            for g in found.groups
        ],
        freshness=freshness_out(found.freshness),
        by_associate=[
            AssociateTotalOut(associate=a.associate, figures=figures(a.figures))
            for a in found.by_associate
        ],
        by_category=[
            CategoryTotalOut(category=c.category, figures=figures(c.figures))
            for c in found.by_category
        ],
    )


def figures(found: Figures) -> FiguresOut:
    return FiguresOut(
        currency=found.currency,
        orders=found.orders,
        refund_count=found.refund_count,
        gross_sales=money(found.gross_sales),
        discounts=money(found.discounts),
        refunds=money(found.refunds),
        net_sales=money(found.net_sales),
        tax=money(found.tax),
        shipping=money(found.shipping),
        service_charges=money(found.service_charges),
        tips=money(found.tips),
        gift_cards=money(found.gift_cards),
    )


def _entry(entry: LogEntry) -> LogEntryOut:
    return LogEntryOut(
        document_id=entry.document_id,
        kind=entry.kind,
        external_id=entry.external_id,
        number=entry.number,
        location_id=entry.location_id,
        location_name=entry.location_name,
        occurred_at=entry.occurred_at,
        local_time=entry.local_time,
        business_day=entry.business_day,
        total=money(entry.total),
        customer=entry.customer,
        state=entry.state,
        status=entry.status,
        synced_at=entry.synced_at,
        destination=entry.destination,
        reference=entry.reference,
        sale_id=entry.sale_id,
    )


def freshness_out(found: Freshness) -> FreshnessOut:
    return FreshnessOut(
        text=found.text,
        waiting=found.waiting,
        held=found.held,
        synced_through=found.synced_through,
        next_window=found.next_window,
        locations=[
            LocationFreshnessOut(
                location_id=f.location.id,
                text=f.text,
                synced_through=f.synced_through,
                last_synced_at=f.last_synced_at,
                waiting_sales=f.waiting_sales,
                waiting_refunds=f.waiting_refunds,
                next_window=f.next_window,
                manual=f.manual,
                held=f.held,
            )
            for f in found.locations
        ],
    )
