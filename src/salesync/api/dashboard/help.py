"""Help: the knowledge base, open to everyone, and the merchant's support requests.

- ``/help``: search the articles (``?q=``), or every article by title;
- ``/help/{slug}``: one article. Both are public, since the error log and the e-mails
  link to them: without a session they are shown in a plain frame with a sign-in link,
  with one in the dashboard's layout and the viewer's navigation;
- ``/app/{tenant_id}/requests`` (``view_tickets``): the tenant's support requests, and
  the form that sends a new one (``request_support``);
- ``/app/{tenant_id}/requests/{request_id}``: one request with its answer when it is
  outside the scope of work, or the link to the ticket Tier 1 works it in.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from salesync.accounts.roles import Action
from salesync.api.auth import signed_in
from salesync.api.dashboard.shell import Dashboard, NavItem, Viewer
from salesync.store.tables import TenantRow
from salesync.support.requests import RequestError
from salesync.support.service import SupportService

NAV = (
    NavItem("Requests", "/app/{tenant_id}/requests", Action.VIEW_TICKETS),
    NavItem("Help", "/help"),
    NavItem("Help", "/help", staff=True),
)
MAX_QUERY = 200
SUBJECT_LIMIT = 300


class HelpPages:
    """The pages of this section over one dashboard."""

    def __init__(self, dash: Dashboard) -> None:
        self.dash = dash
        self.support: SupportService = dash.services["support"]

    # -- the knowledge base ----------------------------------------------------------

    def index(self, request: Request) -> Response:
        """Search results for ``q``, or every article by title without one."""
        query = request.query_params.get("q", "").strip()[:MAX_QUERY]
        hits = self.support.search(query) if query else []
        return self.public(
            request,
            "dashboard/help_index.html",
            title="Help",
            query=query,
            hits=hits,
            articles=[] if query else self.support.knowledge.all(),
        )

    def article(self, request: Request, slug: str) -> Response:
        """One article, or a 404 page with the search box."""
        found = self.support.knowledge.get(slug)
        if found is None:
            return self.public(
                request,
                "dashboard/help_missing.html",
                title="No such article",
                status_code=404,
                query="",
            )
        return self.public(
            request, "dashboard/help_article.html", title=found.title, article=found, query=""
        )

    def public(
        self, request: Request, template: str, *, title: str, status_code: int = 200, **context: Any
    ) -> Response:
        """A page anyone may read: with the viewer's navigation when signed in, else
        with a link to sign in."""
        opened = signed_in(self.dash.factory, self.dash.clock, request)
        if opened is not None:
            who = opened.principal
            name = None
            if who.tenant_id is not None:
                with self.dash.factory() as session:
                    name = session.scalar(
                        select(TenantRow.name).where(TenantRow.id == who.tenant_id)
                    )
            viewer = Viewer(who, opened, who.tenant_id, name)
            return self.dash.render(
                request, viewer, template, title=title, status_code=status_code, **context
            )
        html = self.dash.env.get_template(template).render(
            title=title,
            viewer=None,
            csrf_token="",
            nav=[{"label": "Help", "path": "/help", "group": "public"}],
            path=request.url.path,
            notice=None,
            now=self.dash.clock(),
            **context,
        )
        return HTMLResponse(html, status_code=status_code)

    # -- support requests ------------------------------------------------------------

    def requests(
        self,
        request: Request,
        tenant_id: str,
        *,
        viewer: Viewer | None = None,
        problems: tuple[str, ...] = (),
        form: dict[str, str] | None = None,
    ) -> Response:
        """The tenant's requests, newest first, with the form for a new one; refused
        ``problems`` are shown above the form, which keeps what was typed."""
        viewer = viewer or self.dash.viewer(request, tenant_id, Action.VIEW_TICKETS)
        return self.dash.render(
            request,
            viewer,
            "dashboard/requests_list.html",
            title="Support requests",
            status_code=400 if problems else 200,
            requests=self.support.requests(tenant_id),
            may_send=viewer.can(Action.REQUEST_SUPPORT),
            problems=problems,
            form=form or {},
            subject_limit=SUBJECT_LIMIT,
        )

    async def send(self, request: Request, tenant_id: str) -> Response:
        """Open a request from the form: it is answered at once when it is outside the
        scope of work, else a ticket goes to Tier 1."""
        viewer = self.dash.viewer(request, tenant_id, Action.REQUEST_SUPPORT)
        fields = await self.dash.form(request, viewer)
        subject = fields.get("subject", "").strip()
        body = fields.get("body", "").strip()
        try:
            if len(subject) > SUBJECT_LIMIT:
                raise RequestError([f"the subject is longer than {SUBJECT_LIMIT} characters"])
            opened = await self.dash.blocking(
                lambda: self.support.open_request(
                    tenant_id,
                    channel="dashboard",
                    sender=viewer.principal.email,
                    subject=subject,
                    body=body,
                )
            )
        except RequestError as refused:
            problems = refused.problems
            page: Response = await self.dash.blocking(
                lambda: self.requests(
                    request, tenant_id, viewer=viewer, problems=problems, form=fields
                )
            )
            return page
        notice = (
            "Your request was sent and Tier 1 support has it."
            if opened.ticket_id is not None
            else "Your request was sent; the answer is below and on its way by e-mail."
        )
        return self.dash.redirect(f"/app/{tenant_id}/requests/{opened.id}", notice=notice)

    def one(self, request: Request, tenant_id: str, request_id: str) -> Response:
        """One request: what was asked, and the answer or the ticket working on it."""
        viewer = self.dash.viewer(request, tenant_id, Action.VIEW_TICKETS)
        number = int(request_id) if request_id.isdigit() and len(request_id) < 19 else None
        found = self.support.request(tenant_id, number) if number is not None else None
        if found is None:
            raise self.dash.refuse(viewer, 404, "There is no such request.")
        article = self.support.knowledge.get(found.article) if found.article else None
        return self.dash.render(
            request,
            viewer,
            "dashboard/requests_detail.html",
            title=found.subject or "Support request",
            found=found,
            article=article,
        )


def register(dash: Dashboard) -> None:
    """Add the help pages and the support requests."""
    pages = HelpPages(dash)

    @dash.get("/help")
    def index(request: Request) -> Response:
        return pages.index(request)

    @dash.get("/help/{slug}")
    def article(request: Request, slug: str) -> Response:
        return pages.article(request, slug)

    @dash.get("/app/{tenant_id}/requests")
    def requests(request: Request, tenant_id: str) -> Response:
        return pages.requests(request, tenant_id)

    @dash.post("/app/{tenant_id}/requests")
    async def send(request: Request, tenant_id: str) -> Response:
        return await pages.send(request, tenant_id)

    @dash.get("/app/{tenant_id}/requests/{request_id}")
    def one(request: Request, tenant_id: str, request_id: str) -> Response:
        return pages.one(request, tenant_id, request_id)
