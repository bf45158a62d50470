"""A QuickBooks Desktop connection's Web Connector, for the merchant:

- ``/app/{tenant_id}/connections/{connection_id}/web-connector``: how it stands (when it
  last checked in, the company file it opened), the steps to add it to the QuickBooks
  Web Connector, the .qwc file to download, and the form that sets its user name and
  password (needs the right to manage connections).
"""

from __future__ import annotations

from fastapi import Request, Response
from sqlalchemy.orm import Session

from salesync.accounts.errors import WeakPasswordError
from salesync.accounts.roles import Action
from salesync.api.dashboard.shell import Dashboard, NavItem, Viewer
from salesync.connectors.qbd.companies import QbdCompanies
from salesync.domain.errors import ValidationError
from salesync.store.tables import ConnectionRow, QbdCompanyFileRow

NAV: tuple[NavItem, ...] = ()
PROVIDER = "qbd"


def page(
    dash: Dashboard,
    request: Request,
    viewer: Viewer,
    connection_id: str,
    *,
    problem: str | None = None,
    status_code: int = 200,
) -> Response:
    with dash.factory() as session:
        connection = _connection(dash, session, viewer, connection_id)
        company = session.get(QbdCompanyFileRow, connection_id)
        return dash.render(
            request,
            viewer,
            "dashboard/web_connector.html",
            title=f"Web Connector for {connection.name}",
            status_code=status_code,
            connection=connection,
            company=company,
            may_manage=viewer.can(Action.MANAGE_CONNECTIONS),
            problem=problem,
        )


async def set_up(dash: Dashboard, request: Request, tenant_id: str, connection_id: str) -> Response:
    """Set the user name and password the Web Connector signs in with."""
    viewer = dash.viewer(request, tenant_id, Action.MANAGE_CONNECTIONS)
    fields = await dash.form(request, viewer)
    username, password = fields.get("username", "").strip(), fields.get("password", "")

    def save() -> str | None:
        with dash.factory() as session, session.begin():
            _connection(dash, session, viewer, connection_id)
            try:
                QbdCompanies(session).register(tenant_id, connection_id, username, password)
            except WeakPasswordError as exc:
                return " ".join(exc.problems)
            except ValidationError as exc:
                return exc.user_message
        return None

    problem = await dash.blocking(save)
    if problem is not None:
        return page(dash, request, viewer, connection_id, problem=problem, status_code=422)
    return dash.redirect(
        f"/app/{tenant_id}/connections/{connection_id}/web-connector",
        notice="Saved. Download the .qwc file and enter this password in the Web Connector.",
    )


def _connection(
    dash: Dashboard, session: Session, viewer: Viewer, connection_id: str
) -> ConnectionRow:
    row = session.get(ConnectionRow, connection_id)
    if row is None or row.tenant_id != viewer.tenant_id or row.provider != PROVIDER:
        raise dash.refuse(viewer, 404, "There is no such QuickBooks Desktop connection.")
    return row


def register(dash: Dashboard) -> None:
    """Add the Web Connector page to the dashboard."""

    @dash.get("/app/{tenant_id}/connections/{connection_id}/web-connector")
    def web_connector_page(request: Request, tenant_id: str, connection_id: str) -> Response:
        return page(dash, request, dash.viewer(request, tenant_id), connection_id)

    @dash.post("/app/{tenant_id}/connections/{connection_id}/web-connector")
    async def web_connector_set_up(
        request: Request, tenant_id: str, connection_id: str
    ) -> Response:
        return await set_up(dash, request, tenant_id, connection_id)
