"""The merchant's clienteling page: ``/app/{tenant_id}/crm``.

It shows how current the CRM is (sales reach it in their sync windows, so it lags the
tills on purpose), how each integration's sales reach it (batched or streamed), its
newest sales with when each happened and synced, a week's sales by associate, the
triggers and their latest decisions, and the clients. It only reads: every figure comes
from ``salesync.crm``, scoped to the tenant the shell lets the viewer see.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import Request, Response

from salesync.api.dashboard.shell import Dashboard, NavItem
from salesync.crm.clients import Clients
from salesync.crm.log import crm_sales_log, crm_sales_report
from salesync.crm.paths import sales_paths
from salesync.crm.triggers import Triggers
from salesync.store.repositories import Locations

NAV = (NavItem("Clienteling", "/app/{tenant_id}/crm"),)

NEWEST = 50
FIRINGS = 20
REPORT_DAYS = 7


def register(dash: Dashboard) -> None:
    """Add the clienteling page."""

    @dash.get("/app/{tenant_id}/crm")
    def crm(request: Request, tenant_id: str) -> Response:
        """The CRM at a glance."""
        viewer = dash.viewer(request, tenant_id)
        today = dash.clock().date()
        with dash.factory() as session:
            locations = Locations(session, tenant_id).all()
            log = crm_sales_log(session, tenant_id, limit=NEWEST)
            report = crm_sales_report(
                session, tenant_id, today - timedelta(days=REPORT_DAYS - 1), today
            )
            triggers = Triggers(session, tenant_id, dash.clock)
            rules = {t.id: t for t in triggers.all()}
            firings = triggers.firings()[-FIRINGS:][::-1]
            clients = Clients(session, tenant_id, dash.clock).all()
            paths = sales_paths(session, tenant_id)
        return dash.render(
            request,
            viewer,
            "dashboard/crm.html",
            title="Clienteling",
            log=log,
            report=report,
            rules=rules,
            firings=firings,
            clients=clients,
            paths=paths,
            zones={x.id: x.timezone for x in locations},
        )
