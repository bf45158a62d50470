"""The support loop over HTTP: Prometheus metrics, a merchant's tickets, measures and
notices, and the unsubscribe page its emails link to.

``GET /metrics`` serves the support measures (``monitor.measures``) in Prometheus' text
format, read from the database on each scrape; with a ``metrics_token`` it wants that
token as a bearer credential.

Under ``/api/v1/tenants/{tenant_id}``, for callers who may view that tenant's tickets
(``view_tickets``: its API token, its users, and staff; see ``api.auth``): ``tickets``
(filtered by ``state``, ``kind``, ``provider``; newest first, ``limit`` at a time, the
next page from ``cursor``), ``tickets/{id}`` (the ticket,
its affected documents, its timeline and its latest incidents with their redacted HTTP
exchanges), ``measures`` (that tenant's measures; ``days`` sets the window) and
``notices`` (what salesync told or will tell the merchant, without the letters' bodies,
which carry each contact's unsubscribe link).

``GET /unsubscribe/{token}`` (a contact's, or a client's of the built-in CRM) shows a page
asking to confirm; ``POST`` to the same address opts the contact out. Mail clients that
offer one-click unsubscribe (RFC 8058) post ``List-Unsubscribe=One-Click`` there, as the
``List-Unsubscribe`` headers of every notice and CRM message say. A GET never
unsubscribes: mail scanners open links on their own.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.accounts.roles import Action
from salesync.api.answers import AUTH_REFUSALS, answer, declared
from salesync.api.auth import Refused, admit, bearer, refused
from salesync.api.paging import (
    BAD_PARAMETER,
    MAX_ID,
    PAGING,
    choice,
    number,
    page,
    query_parameter,
    text,
)
from salesync.crm.mail import opt_out
from salesync.domain.errors import ErrorKind
from salesync.domain.redaction import Redactor
from salesync.domain.tickets import TicketState
from salesync.monitor.desk import TicketDesk
from salesync.monitor.measures import DEFAULT_WINDOW, SYSTEM, MeasuresCollector, measure
from salesync.monitor.notify import unsubscribe
from salesync.monitor.notify.notices import NoticeState
from salesync.store.tables import (
    ContactRow,
    CrmClientRow,
    IncidentRow,
    NoticeRow,
    TenantRow,
    TicketEventRow,
    TicketRow,
)

MAX_DAYS = 366
LATEST_INCIDENTS = 20
"""How many of a ticket's incidents its detail shows, newest first."""

_QUERIES: dict[str, list[dict[str, Any]]] = {
    "tickets": [
        query_parameter(
            "state",
            "Only tickets in this state; `active` for those not yet resolved.",
            {"type": "string", "enum": [*TicketState, "active"]},
        ),
        query_parameter(
            "kind", "Only tickets of this kind.", {"type": "string", "enum": [*ErrorKind]}
        ),
        query_parameter(
            "provider",
            f"Only tickets about this provider; `{SYSTEM}` for salesync's own.",
            {"type": "string"},
        ),
        *PAGING,
    ],
    "measures": [
        query_parameter(
            "days",
            "How many days back to look.",
            {"type": "integer", "minimum": 1, "maximum": MAX_DAYS},
        ),
    ],
    "notices": [
        query_parameter(
            "state", "Only notices in this state.", {"type": "string", "enum": [*NoticeState]}
        ),
        query_parameter(
            "ticket",
            "Only notices about this ticket.",
            {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        ),
        *PAGING,
    ],
}
_REFUSALS: dict[str, dict[int, str]] = {
    "tickets": {**BAD_PARAMETER, **AUTH_REFUSALS},
    "ticket": {
        **AUTH_REFUSALS,
        404: "There is no such tenant (`unknown_tenant`), or it has no such ticket "
        "(`unknown_ticket`).",
    },
    "measures": {**BAD_PARAMETER, **AUTH_REFUSALS},
    "notices": {**BAD_PARAMETER, **AUTH_REFUSALS},
}

_PAGES = Environment(
    loader=PackageLoader("salesync.monitor", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",)),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _at(instant: datetime | None) -> str | None:
    return instant.isoformat() if instant is not None else None


class Support:
    """The support endpoints and what they need."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        clock: Callable[[], datetime],
        *,
        metrics_token: str | None = None,
        window: timedelta = DEFAULT_WINDOW,
        redactor: Redactor | None = None,
    ) -> None:
        """``window`` is how far back the measures look unless a request says otherwise;
        ``redactor`` is the last guard on everything shown from incidents and notices,
        which were redacted when they were recorded."""
        self.factory = factory
        self.clock = clock
        self.metrics_token = metrics_token
        self.window = window
        self.redactor = redactor or Redactor.of()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(MeasuresCollector(factory, clock, window=window))

    def register(self, app: FastAPI) -> None:
        app.add_exception_handler(Refused, refused)
        app.add_api_route(
            "/metrics",
            self.metrics,
            methods=["GET"],
            summary="Support measures for Prometheus",
            tags=["support"],
            response_class=Response,
            responses={
                200: {
                    "description": "The measures in Prometheus' text exposition format.",
                    "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
                },
                **declared(
                    {401: "A metrics token is set and the request does not carry it."}
                    if self.metrics_token is not None
                    else {}
                ),
            },
        )
        prefix = "/api/v1/tenants/{tenant_id}"
        for path, endpoint, summary in (
            ("/tickets", self.tickets, "The tenant's tickets, newest first"),
            ("/tickets/{ticket_id}", self.ticket, "One ticket with its timeline and incidents"),
            ("/measures", self.measures, "How fast the tenant's failures were handled"),
            ("/notices", self.notices, "What the tenant's contacts were told"),
        ):
            name = endpoint.__name__
            app.add_api_route(
                prefix + path,
                endpoint,
                methods=["GET"],
                summary=summary,
                tags=["support"],
                response_class=JSONResponse,
                responses=declared(_REFUSALS[name]),
                openapi_extra={"parameters": _QUERIES[name]} if name in _QUERIES else None,
            )
        for method, shown in (("GET", self.unsubscribe_page), ("POST", self.unsubscribe)):
            app.add_api_route(
                "/unsubscribe/{token}",
                shown,
                methods=[method],
                response_class=HTMLResponse,
                include_in_schema=False,
            )

    # -- metrics -------------------------------------------------------------------

    def metrics(self, request: Request) -> Response:
        """The support measures in Prometheus' text format."""
        if self.metrics_token is not None:
            secret = bearer(request.headers.get("authorization"))
            if secret is None or not hmac.compare_digest(
                secret.encode(), self.metrics_token.encode()
            ):
                raise Refused(
                    answer(
                        401,
                        "unauthenticated",
                        "Send the metrics token: Authorization: Bearer <token>.",
                        headers={"WWW-Authenticate": "Bearer"},
                    )
                )
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

    # -- a tenant's tickets ----------------------------------------------------------

    def tickets(self, tenant_id: str, request: Request) -> JSONResponse:
        """The tenant's tickets, newest first, one page at a time."""
        self._authenticate(tenant_id, request)
        params = request.query_params
        query = select(TicketRow).where(TicketRow.tenant_id == tenant_id)
        state = params.get("state")
        if state == "active":
            query = query.where(TicketRow.state.in_([s.value for s in TicketState if s.active]))
        elif state is not None:
            query = query.where(TicketRow.state == choice("state", state, [*TicketState, "active"]))
        kind = params.get("kind")
        if kind is not None:
            query = query.where(TicketRow.kind == choice("kind", kind, ErrorKind))
        provider = params.get("provider")
        if provider == SYSTEM:
            query = query.where(TicketRow.provider.is_(None))
        elif provider is not None:
            query = query.where(TicketRow.provider == text("provider", provider))
        with self.factory() as session:
            rows, cursor = page(session, query, TicketRow.id, request)
            return JSONResponse(
                {"tickets": [_ticket(r) for r in rows], "next_cursor": cursor},
            )

    def ticket(self, tenant_id: str, ticket_id: str, request: Request) -> JSONResponse:
        """One ticket: its fields, affected documents, timeline and latest incidents."""
        self._authenticate(tenant_id, request)
        desk = TicketDesk(self.factory, self.clock, tenant_id=tenant_id)
        unknown = Refused(answer(404, "unknown_ticket", f"{tenant_id} has no ticket {ticket_id}."))
        try:
            number = int(ticket_id)
        except ValueError:
            raise unknown from None
        if not 1 <= number <= MAX_ID:  # past any stored id, and past what SQLite can compare
            raise unknown
        try:
            detail = desk.detail(number, incidents=LATEST_INCIDENTS)
        except KeyError:
            raise unknown from None
        return JSONResponse(
            {
                "ticket": _ticket(detail.ticket),
                "documents": detail.documents,
                "events": [self._event(e) for e in detail.events],
                "incidents": [self._incident(i) for i in detail.incidents],
            }
        )

    def measures(self, tenant_id: str, request: Request) -> JSONResponse:
        """How fast the tenant's failures were detected, ticketed, assigned and resolved."""
        self._authenticate(tenant_id, request)
        days = request.query_params.get("days")
        window = self.window if days is None else timedelta(days=number("days", days, MAX_DAYS))
        with self.factory() as session:
            found = measure(session, self.clock(), window=window, tenant_id=tenant_id)
        return JSONResponse(found.as_dict())

    def notices(self, tenant_id: str, request: Request) -> JSONResponse:
        """The notices about the tenant's tickets, newest first, without their bodies."""
        self._authenticate(tenant_id, request)
        params = request.query_params
        query = select(NoticeRow).where(NoticeRow.tenant_id == tenant_id)
        state = params.get("state")
        if state is not None:
            query = query.where(NoticeRow.state == choice("state", state, NoticeState))
        ticket = params.get("ticket")
        if ticket is not None:
            query = query.where(NoticeRow.ticket_id == number("ticket", ticket))
        with self.factory() as session:
            rows, cursor = page(session, query, NoticeRow.id, request)
            return JSONResponse(
                {"notices": [self._notice(r) for r in rows], "next_cursor": cursor},
            )

    # -- unsubscribing ---------------------------------------------------------------

    def unsubscribe_page(self, token: str) -> HTMLResponse:
        """The page an unsubscribe link opens: who would stop hearing from salesync."""
        with self.factory() as session:
            found = session.execute(
                select(ContactRow.email, TenantRow.name)
                .join(TenantRow, TenantRow.id == ContactRow.tenant_id)
                .where(ContactRow.unsubscribe_token == token)
            ).first()
        shown = (found[0], found[1]) if found is not None else self._crm_client(token)
        if shown is None:
            return _unknown_link()
        email, tenant = shown
        return _page_of("confirm", "Unsubscribe from salesync emails", email=email, tenant=tenant)

    def _crm_client(self, token: str) -> tuple[str, str] | None:
        """The address and shop of the CRM client whose messages carry ``token``."""
        with self.factory() as session:
            row = session.execute(
                select(CrmClientRow.email, TenantRow.name)
                .join(TenantRow, TenantRow.id == CrmClientRow.tenant_id)
                .where(CrmClientRow.unsubscribe_token == token)
            ).first()
        return (row[0] or "", row[1]) if row is not None else None

    def unsubscribe(self, token: str) -> HTMLResponse:
        """Opt the contact out: from the confirmation page, or a mail client's one-click
        post (whose body, ``List-Unsubscribe=One-Click``, says nothing more)."""
        with self.factory() as session, session.begin():
            contact = unsubscribe(session, token)
            tenant = (
                session.scalar(select(TenantRow.name).where(TenantRow.id == contact.tenant_id))
                if contact is not None
                else None
            )
            client = opt_out(session, token) if contact is None else None
            if client is not None:
                shop = session.scalar(
                    select(TenantRow.name).where(TenantRow.id == client.tenant_id)
                )
                return _page_of(
                    "done", "You are unsubscribed", email=client.email or "", tenant=shop or ""
                )
        if contact is None:
            return _unknown_link()
        return _page_of(
            "done",
            "You are unsubscribed",
            email=contact.email,
            tenant=tenant or contact.tenant_id,
        )

    # -- helpers ---------------------------------------------------------------------

    def _authenticate(self, tenant_id: str, request: Request) -> None:
        """Let the request through only from a caller who may see ``tenant_id``'s tickets."""
        admit(self.factory, self.clock, tenant_id, request, action=Action.VIEW_TICKETS)

    def _event(self, row: TicketEventRow) -> dict[str, Any]:
        return {
            "id": row.id,
            "at": _at(row.at),
            "actor": row.actor,
            "event": row.event,
            "text": self.redactor.text(row.text),
            "data": self.redactor.value(row.data),
        }

    def _incident(self, row: IncidentRow) -> dict[str, Any]:
        return {
            "id": row.id,
            "failed_at": _at(row.failed_at),
            "recorded_at": _at(row.recorded_at),
            "stage": row.stage,
            "subject": row.subject,
            "provider": row.provider,
            "operation": row.operation,
            "kind": row.kind,
            "code": row.code,
            "location_id": row.location_id,
            "connection_id": row.connection_id,
            "user_message": self.redactor.text(row.user_message),
            "message": self.redactor.text(row.message),
            "documents": row.documents,
            "http": self.redactor.value(row.http),
            "details": self.redactor.value(row.details),
            "transient": row.transient,
            "healed_at": _at(row.healed_at),
        }

    def _notice(self, row: NoticeRow) -> dict[str, Any]:
        return {
            "id": row.id,
            "ticket_id": row.ticket_id,
            "reason": row.reason,
            "recipient": row.recipient,
            "subject": self.redactor.text(row.subject),
            "state": row.state,
            "created_at": _at(row.created_at),
            "due_at": _at(row.due_at),
            "sent_at": _at(row.sent_at),
            "attempts": row.attempts,
            "error": self.redactor.text(row.error) if row.error is not None else None,
        }


def _ticket(row: TicketRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "title": row.title,
        "state": row.state,
        "kind": row.kind,
        "code": row.code,
        "provider": row.provider,
        "operation": row.operation,
        "entity": row.entity,
        "location_id": row.location_id,
        "connection_id": row.connection_id,
        "user_message": row.user_message,
        "help_url": row.help_url,
        "merchant_action": row.merchant_action,
        "occurrences": row.occurrences,
        "reopened": row.reopened,
        "first_failed_at": _at(row.first_failed_at),
        "first_seen": _at(row.first_seen),
        "last_seen": _at(row.last_seen),
        "opened_at": _at(row.opened_at),
        "team": row.team,
        "assignee": row.assignee,
        "assigned_at": _at(row.assigned_at),
        "acknowledged_at": _at(row.acknowledged_at),
        "escalations": row.escalations,
        "resolved_at": _at(row.resolved_at),
        "resolution": row.resolution,
        "plan": row.plan,
        "respond_by": _at(row.respond_by),
        "resolve_by": _at(row.resolve_by),
    }


def _page_of(state: str, title: str, **context: str) -> HTMLResponse:
    html = _PAGES.get_template("unsubscribe.html").render(state=state, title=title, **context)
    return HTMLResponse(html, status_code=404 if state == "unknown" else 200)


def _unknown_link() -> HTMLResponse:
    return _page_of("unknown", "This unsubscribe link does not work")
