"""The dashboard's shell: who may see a page, the layout and its navigation, forms that
carry the session's CSRF token, one-time notices after a change, and the page formats.

Pages are server-rendered HTML that work without JavaScript. A merchant's pages live
under ``/app/{tenant_id}/...``, the staff's under ``/staff/...``; ``/`` sends each user to
their home. Every page asks ``Dashboard.viewer`` first: without a session it redirects to
the sign-in page (and back afterwards), a tenant the user may not see is refused with the
same 404 page as one that does not exist, and an action the role does not allow is a 403
page. The permission grid of ``salesync.accounts.roles`` decides; nothing here does.

Adding a section
----------------
Write a module with ``NAV`` (a tuple of ``NavItem``) and ``register(dash: Dashboard)``,
and add the module to ``SECTIONS`` in ``salesync.api.dashboard``. In ``register``::

    @dash.get("/app/{tenant_id}/held")
    def held(request: Request, tenant_id: str) -> Response:
        viewer = dash.viewer(request, tenant_id)  # Action.VIEW_TENANT by default
        with dash.factory() as session:
            items = held_documents(session, tenant_id)
        return dash.render(request, viewer, "dashboard/merchant_held.html",
                           title="Held records", items=items)

    @dash.post("/app/{tenant_id}/held/fix")
    async def fix(request: Request, tenant_id: str) -> Response:
        viewer = dash.viewer(request, tenant_id, Action.EDIT_MAPPINGS)
        fields = await dash.form(request, viewer)  # refuses a missing CSRF token
        ...  # blocking work: fastapi.concurrency.run_in_threadpool
        return dash.redirect(f"/app/{tenant_id}/held", notice="Mapped; 3 released.")

Templates extend ``dashboard/layout.html`` and fill ``content``; every form posts
``<input type="hidden" name="csrf_token" value="{{ csrf_token }}">``. Macros for badges,
empty states and pagination are in ``dashboard/_macros.html``; charts come from
``salesync.api.dashboard.charts`` (SVG with a table beside it). Filters: ``money``
(``{{ amount | money(currency) }}``), ``local`` (``{{ instant | local(zone) }}``), ``ago``
(``{{ instant | ago(now) }}``) and ``day``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, quote
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.accounts.roles import Action, Principal
from salesync.accounts.sessions import OpenSession
from salesync.api.auth import CSRF_FIELD, csrf_matches, signed_in
from salesync.store.tables import TenantRow

NOTICE_COOKIE = "salesync_notice"
"""Carries the one-time notice of a change to the page the browser is sent to next."""
PRIVATE = {"Cache-Control": "no-store"}
MAX_FORM_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class NavItem:
    """A link in the navigation: ``path`` may name ``{tenant_id}``; ``action`` is what the
    viewer must be allowed there to see the link. Tenant links show on a tenant's pages,
    staff links (``staff=True``) to staff users everywhere."""

    label: str
    path: str
    action: Action = Action.VIEW_TENANT
    staff: bool = False


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking at a page, and at which tenant (None on staff pages)."""

    principal: Principal
    session: OpenSession
    tenant_id: str | None
    tenant_name: str | None

    @property
    def csrf_token(self) -> str:
        return self.session.csrf_token

    @property
    def staff(self) -> bool:
        return self.principal.tenant_id is None

    def can(self, action: Action, tenant_id: str | None = None) -> bool:
        return self.principal.can(action, tenant_id or self.tenant_id)


class PageRefused(Exception):  # noqa: N818 -- an answer carried to the handler, not a fault
    """A page that is not shown: ``response`` says why (a redirect or an error page)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _page_refused(_: Request, exc: Exception) -> Response:
    if not isinstance(exc, PageRefused):
        raise exc
    return exc.response


def money(value: Decimal | int | float | str | None, currency: str = "") -> str:
    """``1234.5`` as ``1,234.50`` with the currency after it; negative amounts keep the
    sign in front."""
    if value is None:
        return ""
    amount = Decimal(str(value)).quantize(Decimal("0.01"))
    text = f"{amount:,.2f}"
    return f"{text} {currency}".strip()


def local(instant: datetime | None, zone: str | ZoneInfo | None = None) -> str:
    """An instant as local date and time in ``zone`` (UTC when none), with the zone's
    abbreviation, so two locations' times are never confused."""
    if instant is None:
        return ""
    tz = ZoneInfo(zone) if isinstance(zone, str) else zone or ZoneInfo("UTC")
    at = instant.astimezone(tz)
    return f"{at:%Y-%m-%d %H:%M} {at.tzname()}"


def ago(instant: datetime | None, now: datetime) -> str:
    """How long before ``now`` an instant was, in the largest whole unit."""
    if instant is None:
        return "never"
    seconds = int((now - instant).total_seconds())
    if seconds < 0:
        return "in the future"
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


def day(value: date | datetime | None) -> str:
    return "" if value is None else f"{value:%a %d %b %Y}"


def environment() -> Environment:
    """The dashboard's templates, autoescaped and strict about missing names."""
    env = Environment(
        loader=PackageLoader("salesync.api", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(money=money, local=local, ago=ago, day=day)
    return env


class Dashboard:
    """The dashboard's pages over one database and clock; sections add their pages with
    ``get``/``post`` and render them with ``render``."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        clock: Callable[[], datetime],
        *,
        services: dict[str, Any] | None = None,
    ) -> None:
        """``services`` holds what sections need beyond the database (the engine, the
        ticket desk factory, the redactor), by name."""
        self.factory = factory
        self.clock = clock
        self.services = dict(services or {})
        self.env = environment()
        self.nav: list[NavItem] = []
        self._routes: list[tuple[str, str, Callable[..., Any]]] = []

    # -- building ------------------------------------------------------------------

    def get(self, path: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self._route("GET", path)

    def post(self, path: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self._route("POST", path)

    def _route(self, method: str, path: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def add(handler: Callable[..., Any]) -> Callable[..., Any]:
            self._routes.append((method, path, handler))
            return handler

        return add

    def register(self, app: FastAPI, sections: Sequence[Any]) -> None:
        """Add every section's pages and links to ``app``, then the home redirect."""
        app.add_exception_handler(PageRefused, _page_refused)
        for section in sections:
            self.nav.extend(section.NAV)
            section.register(self)
        self.get("/")(self.home)
        self.get("/staff")(self.staff_home)
        for method, path, handler in self._routes:
            app.add_api_route(
                path,
                handler,
                methods=[method],
                response_class=HTMLResponse,
                include_in_schema=False,
            )

    # -- who is looking ----------------------------------------------------------------

    def viewer(
        self, request: Request, tenant_id: str | None = None, action: Action = Action.VIEW_TENANT
    ) -> Viewer:
        """The signed-in viewer of a page about ``tenant_id`` (None: a staff page), who
        must be allowed ``action`` there; otherwise ``PageRefused`` with a redirect to
        sign in, or the refusal page."""
        opened = signed_in(self.factory, self.clock, request)
        if opened is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise PageRefused(
                RedirectResponse(f"/login?next={quote(target, safe='/?=&')}", status_code=303)
            )
        who = opened.principal
        name: str | None = None
        if tenant_id is not None:
            with self.factory() as session:
                name = session.scalar(select(TenantRow.name).where(TenantRow.id == tenant_id))
            if name is None or not who.can(Action.VIEW_TENANT, tenant_id):
                raise PageRefused(self._error(opened, 404, "There is no such page."))
        elif who.tenant_id is not None:
            raise PageRefused(self._error(opened, 404, "There is no such page."))
        if not who.can(action, tenant_id):
            raise PageRefused(
                self._error(
                    opened,
                    403,
                    f"As {who.role.value} you may not {action.value.replace('_', ' ')} here. "
                    "Ask the account owner or salesync support if you need to.",
                )
            )
        return Viewer(who, opened, tenant_id, name)

    async def form(self, request: Request, viewer: Viewer) -> dict[str, str]:
        """The fields of a url-encoded form, once its CSRF token proves it came from a
        salesync page; a form without it is refused (403)."""
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            raise PageRefused(self._error(viewer.session, 413, "That form is too large."))
        fields = {
            key: values[0]
            for key, values in parse_qs(
                body.decode("utf-8", errors="replace"), keep_blank_values=True
            ).items()
        }
        if not csrf_matches(viewer.session, fields.get(CSRF_FIELD)):
            raise PageRefused(
                self._error(
                    viewer.session,
                    403,
                    "This form has expired or did not come from salesync. Reload the page "
                    "and try again.",
                )
            )
        return fields

    # -- answering -----------------------------------------------------------------------

    def render(
        self,
        request: Request,
        viewer: Viewer,
        template: str,
        *,
        title: str,
        status_code: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        """A page in the layout, with the viewer's navigation and any one-time notice."""
        notice = _read_notice(request.cookies.get(NOTICE_COOKIE))
        html = self.env.get_template(template).render(
            title=title,
            viewer=viewer,
            csrf_token=viewer.csrf_token,
            nav=self._links(viewer),
            path=request.url.path,
            notice=notice,
            now=self.clock(),
            **context,
        )
        response = HTMLResponse(html, status_code=status_code, headers=PRIVATE)
        if notice is not None:
            response.delete_cookie(NOTICE_COOKIE, path="/")
        return response

    def redirect(self, target: str, *, notice: str | None = None) -> RedirectResponse:
        """After a change: to ``target`` (a path on this site), showing ``notice`` once."""
        response = RedirectResponse(target, status_code=303)
        if notice:
            encoded = base64.urlsafe_b64encode(notice[:500].encode()).decode()
            response.set_cookie(NOTICE_COOKIE, encoded, max_age=60, path="/", httponly=True)
        return response

    def refuse(self, viewer: Viewer, status_code: int, message: str) -> PageRefused:
        """A refusal page to raise from a section (a missing ticket, a bad form)."""
        return PageRefused(self._error(viewer.session, status_code, message))

    async def blocking(self, work: Callable[..., Any], *args: Any) -> Any:
        """Run database or network work off the event loop."""
        return await run_in_threadpool(work, *args)

    # -- the shell's own pages -------------------------------------------------------

    def home(self, request: Request) -> Response:
        """Each user's start: the merchant's overview, or the staff's tenant list."""
        opened = signed_in(self.factory, self.clock, request)
        if opened is None:
            return RedirectResponse("/login?next=/", status_code=303)
        who = opened.principal
        if who.tenant_id is not None:
            return RedirectResponse(f"/app/{who.tenant_id}", status_code=303)
        return RedirectResponse("/staff", status_code=303)

    def staff_home(self, request: Request) -> Response:
        """Every tenant, for staff to open; with each one's open tickets."""
        viewer = self.viewer(request)
        from salesync.store.tables import TicketRow  # noqa: PLC0415 -- only this page

        with self.factory() as session:
            tenants = list(session.scalars(select(TenantRow).order_by(TenantRow.name)))
            open_tickets: dict[str, int] = {}
            for tenant_id, state in session.execute(select(TicketRow.tenant_id, TicketRow.state)):
                if state not in ("resolved", "closed"):
                    open_tickets[tenant_id] = open_tickets.get(tenant_id, 0) + 1
        return self.render(
            request,
            viewer,
            "dashboard/staff_home.html",
            title="Merchants",
            tenants=tenants,
            open_tickets=open_tickets,
        )

    # -- helpers -------------------------------------------------------------------------

    def _links(self, viewer: Viewer) -> list[dict[str, str]]:
        links: list[dict[str, str]] = []
        for item in self.nav:
            if item.staff:
                if viewer.staff and viewer.principal.can(item.action, None):
                    links.append({"label": item.label, "path": item.path, "group": "staff"})
            elif viewer.tenant_id is not None and viewer.can(item.action):
                path = item.path.format(tenant_id=viewer.tenant_id)
                links.append({"label": item.label, "path": path, "group": "tenant"})
        # A page every reader shares (help) is listed once, where it first appears.
        unique: dict[str, dict[str, str]] = {}
        for link in links:
            unique.setdefault(link["path"], link)
        return list(unique.values())

    def _error(self, opened: OpenSession, status_code: int, message: str) -> HTMLResponse:
        titles = {403: "Not allowed", 404: "Not found", 409: "Cannot do that now"}
        viewer = Viewer(opened.principal, opened, None, None)
        html = self.env.get_template("dashboard/refused.html").render(
            title=titles.get(status_code, "Cannot do that"),
            viewer=viewer,
            csrf_token=opened.csrf_token,
            nav=self._links(viewer),
            path="",
            notice=None,
            now=self.clock(),
            message=message,
        )
        return HTMLResponse(html, status_code=status_code, headers=PRIVATE)


def _read_notice(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return base64.urlsafe_b64decode(value.encode()).decode()[:500] or None
    except (ValueError, UnicodeDecodeError):
        return None
