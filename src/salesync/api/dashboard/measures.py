"""How fast the support loop works: the measures of ``salesync.monitor.measures``.

Staff (``view_tickets`` across tenants) see every tenant's measures at
``/staff/measures``; a merchant's users see their own tenant's at
``/app/{tenant_id}/measures``. Both chart time to detect, ticket, assign and resolve per
provider and kind, with the healed failures and missed SLA times, over ``?days=``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import Request, Response

from salesync.accounts.roles import Action
from salesync.api.dashboard.charts import bars
from salesync.api.dashboard.shell import Dashboard, NavItem
from salesync.monitor.measures import DEFAULT_WINDOW, Measures, Span, measure

NAV = (
    NavItem("Support measures", "/staff/measures", Action.VIEW_TICKETS, staff=True),
    NavItem("Support times", "/app/{tenant_id}/measures", Action.VIEW_TICKETS),
)

MAX_DAYS = 366
SPAN_TITLES = {
    Span.DETECT: "Time to detect",
    Span.TICKET: "Time to ticket",
    Span.ASSIGN: "Time to assign",
    Span.RESOLVE: "Time to resolve",
}


def duration(seconds: float) -> str:
    """Seconds in the unit a person reads them in: ``42 s``, ``3.5 min``, ``2.0 h``."""
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def register(dash: Dashboard) -> None:
    """Add the staff's measures of every tenant and each tenant's own."""

    @dash.get("/staff/measures")
    def staff_measures(request: Request) -> Response:
        return measures(dash, request)

    @dash.get("/app/{tenant_id}/measures")
    def merchant_measures(request: Request, tenant_id: str) -> Response:
        return measures(dash, request, tenant_id)


def measures(dash: Dashboard, request: Request, tenant_id: str | None = None) -> Response:
    """Time to detect, ticket, assign and resolve, per provider and kind, with the
    healed failures and missed SLA times: of every tenant, or of one."""
    viewer = dash.viewer(request, tenant_id, Action.VIEW_TICKETS)
    raw = request.query_params.get("days")
    days = _days(raw) if raw is not None else DEFAULT_WINDOW.days
    if days is None or not 1 <= days <= MAX_DAYS:
        raise dash.refuse(viewer, 400, f"Days must be a whole number from 1 to {MAX_DAYS}.")
    with dash.factory() as session:
        found = measure(session, dash.clock(), window=timedelta(days=days), tenant_id=tenant_id)
    return dash.render(
        request,
        viewer,
        "dashboard/staff_measures.html",
        title="Support measures" if tenant_id is None else "How fast problems are handled",
        found=found,
        days=days,
        charts=_charts(found),
        spans=SPAN_TITLES,
        duration=duration,
    )


def _days(text: str) -> int | None:
    try:
        return int(text) if text.strip().isdigit() else None
    except ValueError:
        return None


def _charts(found: Measures) -> list[Any]:
    """A chart per span (the median per provider and kind, in minutes), then the
    tickets by state, the healed failures and the missed SLA times."""
    made = []
    for span, title in SPAN_TITLES.items():
        points = [
            (f"{t.provider} / {t.kind}", round(t.durations.quantiles["0.5"] / 60, 2))
            for t in found.timings
            if t.span is span
        ]
        made.append(bars(points, title=f"{title}, median", unit="min", heading="Provider / kind"))
    made.append(bars(list(found.tickets.items()), title="Tickets by state", heading="State"))
    healed = [(f"{p} / {k}", n) for (p, k), n in sorted(found.healed.items())]
    made.append(
        bars(healed, title="Failures healed by retrying, no ticket", heading="Provider / kind")
    )
    made.append(bars(list(found.breaches.items()), title="Missed SLA times", heading="SLA clock"))
    return made
