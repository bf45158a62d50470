"""The merchant's connections: their health, and connecting new books.

- ``/app/{tenant_id}/connections``: every connection's health, with the reconnect link
  when only the merchant can bring it back, links to connect new books, and what each
  source salesync can connect offers (webhooks or polling, history, payouts, posting
  modes);
- ``/app/{tenant_id}/connections/new``: the form that connects QuickBooks Online or Xero
  books; sending it goes to the provider's consent screen (``salesync.api.connect``;
  needs the right to manage connections).

The navigation link is the merchant section's (``merchant.NAV``), in its place there.
"""

from __future__ import annotations

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from salesync.accounts.roles import Action
from salesync.api.connect import Connect, ConnectRefusedError
from salesync.api.dashboard.shell import Dashboard, NavItem
from salesync.connectors.offer import offers
from salesync.connectors.registry import SourceRegistry
from salesync.views.health import connection_health

NAV: tuple[NavItem, ...] = ()


def connections(dash: Dashboard, request: Request, tenant_id: str) -> Response:
    """Every connection's health, with the reconnect link where the merchant must act."""
    viewer = dash.viewer(request, tenant_id)
    with dash.factory() as session:
        health = connection_health(session, tenant_id, dash.clock())
    connect: Connect | None = dash.services.get("connect")
    offered = connect.offered() if connect and viewer.can(Action.MANAGE_CONNECTIONS) else []
    registry: SourceRegistry = dash.services["registry"]
    sources = offers(registry)
    return dash.render(
        request,
        viewer,
        "dashboard/merchant_connections.html",
        title="Connections",
        health=health,
        may_sync=viewer.can(Action.EDIT_MAPPINGS),
        offered=offered,
        sources=sources,
        arrivals={o.name: o.arrival for o in sources},
    )


def _connection_form(
    dash: Dashboard,
    request: Request,
    tenant_id: str,
    *,
    provider: str,
    name: str = "",
    problem: str | None = None,
    status_code: int = 200,
) -> Response:
    viewer = dash.viewer(request, tenant_id, Action.MANAGE_CONNECTIONS)
    connect: Connect | None = dash.services.get("connect")
    offered = connect.offered() if connect is not None else []
    names = [p.name for p in offered]
    chosen = provider if provider in names else (names[0] if names else "")
    return dash.render(
        request,
        viewer,
        "dashboard/connection_new.html",
        title="Connect your books",
        status_code=status_code,
        offered=offered,
        chosen=chosen,
        name=name,
        problem=problem,
    )


def new_connection(dash: Dashboard, request: Request, tenant_id: str) -> Response:
    """The form that connects QuickBooks Online or Xero books, and what will happen."""
    return _connection_form(
        dash, request, tenant_id, provider=request.query_params.get("provider", "")
    )


async def start_connection(dash: Dashboard, request: Request, tenant_id: str) -> Response:
    """Seal the sign-in for the new books and send the browser to the provider's consent
    screen, holding the nonce the callback asks it for."""
    viewer = dash.viewer(request, tenant_id, Action.MANAGE_CONNECTIONS)
    fields = await dash.form(request, viewer)
    provider, name = fields.get("provider", ""), fields.get("name", "")
    connect: Connect | None = dash.services.get("connect")
    if connect is None:
        raise dash.refuse(
            viewer,
            503,
            "Connecting books is not set up on this server: it has no QuickBooks Online or "
            "Xero app to sign in with. The person running salesync can set one up.",
        )
    try:
        started = await dash.blocking(
            lambda: connect.begin(tenant_id, provider, name, viewer.principal, browser=True)
        )
    except ConnectRefusedError as refused:
        return _connection_form(
            dash,
            request,
            tenant_id,
            provider=provider,
            name=name,
            problem=refused.message,
            status_code=refused.status,
        )
    response = RedirectResponse(started.authorize_url, status_code=303)
    connect.consent.hold_nonce(response, started.nonce)
    return response


def register(dash: Dashboard) -> None:
    """Add the connections pages to the dashboard."""

    @dash.get("/app/{tenant_id}/connections")
    def connections_page(request: Request, tenant_id: str) -> Response:
        return connections(dash, request, tenant_id)

    @dash.get("/app/{tenant_id}/connections/new")
    def new_connection_page(request: Request, tenant_id: str) -> Response:
        return new_connection(dash, request, tenant_id)

    @dash.post("/app/{tenant_id}/connections/new")
    async def start_connection_page(request: Request, tenant_id: str) -> Response:
        return await start_connection(dash, request, tenant_id)
