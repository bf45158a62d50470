"""The merchant's sales and reconciliation pages.

``/app/{tenant_id}/sales`` is the sales log (filters by location and business day, older
pages by cursor) with the freshness line on top, because windows make the books lag on
purpose. ``/app/{tenant_id}/reports/sales`` is the sales report per day, location and
category, charted and tabled. ``/app/{tenant_id}/reconciliation`` compares the source
with the books per location-day, and ``/app/{tenant_id}/reconciliation/{location}/{day}``
drills into one day, document by document, saying why each difference exists.

The pages only read: every figure comes from ``salesync.views``, scoped to the tenant the
shell has already let the viewer see.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from fastapi import Request, Response
from markupsafe import Markup

from salesync.api.dashboard.charts import bars, columns
from salesync.api.dashboard.shell import Dashboard, NavItem, Viewer
from salesync.connectors.destination import Books
from salesync.connectors.ledger.destination import LedgerDestination
from salesync.domain.errors import SyncError
from salesync.engine.destinations import DestinationBooks
from salesync.store.repositories import Locations
from salesync.views.reconciliation import UnknownLocationError, day_detail, reconciliation
from salesync.views.sales import CursorError, sales_log
from salesync.views.sales_report import SalesReport, sales_report

NAV = (
    NavItem("Sales log", "/app/{tenant_id}/sales"),
    NavItem("Sales report", "/app/{tenant_id}/reports/sales"),
    NavItem("Reconciliation", "/app/{tenant_id}/reconciliation"),
)

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
DEFAULT_DAYS = 7
MAX_DAYS = 92
"""The longest range a page reports or reconciles at once: a quarter."""


def register(dash: Dashboard) -> None:
    """Add the sales log, sales report and reconciliation pages."""
    pages = _Pages(dash)
    dash.get("/app/{tenant_id}/sales")(pages.log)
    dash.get("/app/{tenant_id}/reports/sales")(pages.report)
    dash.get("/app/{tenant_id}/reconciliation")(pages.reconciliation)
    dash.get("/app/{tenant_id}/reconciliation/{location_id}/{day}")(pages.day)


class _Pages:
    def __init__(self, dash: Dashboard) -> None:
        self.dash = dash

    def log(self, request: Request, tenant_id: str) -> Response:
        """The sales log, newest first."""
        viewer = self.dash.viewer(request, tenant_id)
        params = request.query_params
        since = self._day(viewer, params.get("since"), "from")
        until = self._day(viewer, params.get("until"), "to")
        size = self._size(viewer, params.get("per_page"))
        with self.dash.factory() as session:
            locations = Locations(session, tenant_id).all()
            location = self._location(viewer, params.get("location"), [x.id for x in locations])
            try:
                page = sales_log(
                    session,
                    tenant_id,
                    location=location,
                    since=since,
                    until=until,
                    limit=size,
                    before=params.get("before") or None,
                )
            except CursorError as exc:
                raise self.dash.refuse(viewer, 400, str(exc)) from None
        filters = {"location": location or "", "since": since or "", "until": until or ""}
        if size != PAGE_SIZE:
            filters["per_page"] = str(size)
        older = None
        if page.next_cursor is not None:
            older = f"?{urlencode({**filters, 'before': page.next_cursor})}"
        return self.dash.render(
            request,
            viewer,
            "dashboard/reports_sales_log.html",
            title="Sales log",
            page=page,
            locations=locations,
            zones={x.id: x.timezone for x in locations},
            location=location,
            since=since,
            until=until,
            per_page=size,
            default_per_page=PAGE_SIZE,
            older=older,
            newest=f"?{urlencode(filters)}" if params.get("before") else None,
        )

    def report(self, request: Request, tenant_id: str) -> Response:
        """Sales per day, location and category over a range of business days."""
        viewer = self.dash.viewer(request, tenant_id)
        first, last = self._range(viewer, request)
        with self.dash.factory() as session:
            locations = Locations(session, tenant_id).all()
            location = self._location(
                viewer, request.query_params.get("location"), [x.id for x in locations]
            )
            report = sales_report(session, tenant_id, first, last, location=location)
        return self.dash.render(
            request,
            viewer,
            "dashboard/reports_sales_report.html",
            title="Sales report",
            report=report,
            charts=_charts(report),
            locations=locations,
            location=location,
            first=first,
            last=last,
        )

    def reconciliation(self, request: Request, tenant_id: str) -> Response:
        """Source against books per location-day."""
        viewer = self.dash.viewer(request, tenant_id)
        first, last = self._range(viewer, request)
        books, unread = self._books(tenant_id)
        with self.dash.factory() as session:
            locations = Locations(session, tenant_id).all()
            location = self._location(
                viewer, request.query_params.get("location"), [x.id for x in locations]
            )
            view = reconciliation(session, tenant_id, first, last, books, location=location)
        return self.dash.render(
            request,
            viewer,
            "dashboard/reports_reconciliation.html",
            title="Reconciliation",
            view=view,
            locations=locations,
            location=location,
            first=first,
            last=last,
            unread=unread,
        )

    def day(self, request: Request, tenant_id: str, location_id: str, day: str) -> Response:
        """One location's business day, document by document."""
        viewer = self.dash.viewer(request, tenant_id)
        when = self._day(viewer, day, "day")
        assert when is not None  # a path segment is never empty
        books, unread = self._books(tenant_id)
        with self.dash.factory() as session:
            try:
                detail = day_detail(session, tenant_id, location_id, when, books)
            except UnknownLocationError:
                raise self.dash.refuse(viewer, 404, "There is no such location.") from None
        return self.dash.render(
            request,
            viewer,
            "dashboard/reports_reconciliation_day.html",
            title=f"Reconciliation: {detail.location.name}, {when:%a %d %b %Y}",
            detail=detail,
            unread=unread,
            back=f"/app/{tenant_id}/reconciliation?"
            + urlencode({"first": when, "last": when, "location": location_id}),
        )

    # -- reading the request --------------------------------------------------------------

    def _day(self, viewer: Viewer, raw: str | None, name: str) -> date | None:
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise self.dash.refuse(
                viewer, 400, f"The {name} date {raw[:40]!r} is not a date such as 2026-11-02."
            ) from None

    def _size(self, viewer: Viewer, raw: str | None) -> int:
        if not raw:
            return PAGE_SIZE
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE_SIZE:
            raise self.dash.refuse(
                viewer, 400, f"Show between 1 and {MAX_PAGE_SIZE} entries on a page."
            )
        return int(raw)

    def _range(self, viewer: Viewer, request: Request) -> tuple[date, date]:
        params = request.query_params
        today = self.dash.clock().date()
        last = self._day(viewer, params.get("last"), "last") or today
        first = self._day(viewer, params.get("first"), "first") or last - timedelta(
            days=DEFAULT_DAYS - 1
        )
        if last < first:
            raise self.dash.refuse(viewer, 400, "The last day comes before the first day.")
        if (last - first).days >= MAX_DAYS:
            raise self.dash.refuse(
                viewer, 400, f"Choose at most {MAX_DAYS} days at a time, a quarter."
            )
        return first, last

    def _location(self, viewer: Viewer, raw: str | None, known: list[str]) -> str | None:
        if not raw:
            return None
        if raw not in known:
            raise self.dash.refuse(viewer, 404, "There is no such location.")
        return raw

    def _books(self, tenant_id: str) -> tuple[Books | None, str | None]:
        """The tenant's books, to read postings back from; when they cannot be opened,
        None and why, and the comparison stands on salesync's own records alone."""
        engine = self.dash.services.get("engine")
        opener = getattr(engine, "books", None)
        if not isinstance(opener, DestinationBooks):
            return LedgerDestination(self.dash.factory, tenant_id), None
        try:
            return opener(tenant_id, opener.name_for(tenant_id)), None
        except SyncError as exc:
            return None, exc.user_message


def _charts(report: SalesReport) -> dict[str, list[Markup]]:
    """Net sales per day, per location and per category, one chart per currency (money in
    two currencies never shares an axis)."""
    per_day: dict[str, list[tuple[str, Decimal]]] = defaultdict(list)
    for total in report.by_day:
        figures = total.figures
        per_day[figures.currency].append((f"{total.day:%a %d %b}", figures.net_sales.amount))
    per_location: dict[str, list[tuple[str, Decimal]]] = defaultdict(list)
    for place in report.by_location:
        figures = place.figures
        per_location[figures.currency].append((place.location_name, figures.net_sales.amount))
    per_category: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for group in report.groups:
        for row in group.categories:
            per_category[group.currency][row.category] += row.figures.net_sales.amount
    charts: dict[str, list[Markup]] = {"day": [], "location": [], "category": []}
    for cur, points in sorted(per_day.items()):
        charts["day"].append(
            columns(points, title=f"Net sales per day ({cur})", unit=cur, heading="Day")
        )
    for cur, points in sorted(per_location.items()):
        charts["location"].append(
            bars(points, title=f"Net sales per location ({cur})", unit=cur, heading="Location")
        )
    for cur, sums in sorted(per_category.items()):
        ranked: list[tuple[str, Any]] = sorted(sums.items(), key=lambda kv: -kv[1])
        charts["category"].append(
            bars(ranked, title=f"Net sales per category ({cur})", unit=cur, heading="Category")
        )
    return charts
