"""The support side of the dashboard: the ticket queue and each ticket with what can be
done about it.

Staff (``view_tickets`` across tenants) see every tenant's tickets at
``/staff/tickets``, filtered by owner, state, tenant and kind, with missed SLA times
marked; a ticket's page at ``/staff/tickets/{id}`` has its redacted incidents, its
timeline, the documents it affected, whether they are in the books as the source has
them (``TicketDesk.verify``), the developer time logged on it, and forms for what the
viewer's role allows: take, assign, comment, wait on the merchant and record their
reply, retry, replay, resolve, close, log developer time, and for a mapping gap the
one-click mapping fix.

A merchant's users see their own tenant's tickets at ``/app/{tenant_id}/tickets`` in
their own words (what happened, its state, what they can do) without the developer's
context. How fast the support loop works is the ``measures`` section.

Everything shown from incidents and the timeline goes through the redactor once more:
it was redacted when recorded, and this is the last guard before a person reads it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import Request, Response
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from salesync.accounts.roles import Action
from salesync.accounts.users import Users
from salesync.api.dashboard.billing import MINUTES, log_time, logged
from salesync.api.dashboard.fixes import Fix, fixes, publish
from salesync.api.dashboard.shell import Dashboard, NavItem, Viewer
from salesync.domain.errors import ErrorKind
from salesync.domain.redaction import Redactor
from salesync.domain.tickets import TicketState
from salesync.monitor.desk import DeskError, TicketDesk, Verification, render_span
from salesync.store.tables import TenantRow, TicketRow
from salesync.support.hours import HoursError
from salesync.support.service import SupportService
from salesync.views.held import suggestions

NAV = (
    NavItem("Ticket queue", "/staff/tickets", Action.VIEW_TICKETS, staff=True),
    NavItem("Tickets", "/app/{tenant_id}/tickets", Action.VIEW_TICKETS),
)

PAGE_SIZE = 100
UNASSIGNED = "unassigned"
STATES = ("active", *(s.value for s in TicketState), "all")
"""The queue's state filter: ``active`` (not yet resolved) unless asked otherwise."""
ACTIONS = {
    "take": "take the ticket",
    "assign": "assign the ticket",
    "comment": "add the comment",
    "wait": "mark the ticket as waiting on the merchant",
    "replied": "record the merchant's reply",
    "retry": "retry the ticket",
    "replay": "replay the ticket",
    "resolve": "resolve the ticket",
    "close": "close the ticket",
    "time": "log the time",
}
"""The ticket's forms, by the last part of their address, with what each does."""
NEEDS = {"retry": Action.REPLAY, "replay": Action.REPLAY, "time": Action.LOG_TIME}
"""What a form needs beyond the default, ``act_on_tickets``."""


@dataclass(frozen=True, slots=True)
class Due:
    """The SLA time a ticket must meet next, and whether it has passed unmet."""

    label: str
    at: datetime
    breached: bool


@dataclass(frozen=True, slots=True)
class QueueRow:
    ticket: TicketRow
    tenant_name: str
    due: Due | None


def due(ticket: TicketRow, now: datetime) -> Due | None:
    """The next SLA time of an active ticket: a first response until someone starts on
    it, then the resolution. Resolved and closed tickets have none left to meet."""
    if not TicketState(ticket.state).active:
        return None
    if ticket.resolve_by is not None and ticket.resolve_by < now:
        return Due("resolve", ticket.resolve_by, True)
    if ticket.acknowledged_at is None and ticket.respond_by is not None:
        return Due("respond", ticket.respond_by, ticket.respond_by < now)
    if ticket.resolve_by is not None:
        return Due("resolve", ticket.resolve_by, False)
    return None


def pretty(value: Any) -> str:
    """Stored JSON (an HTTP exchange, details) laid out for reading."""
    return json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False)


class StaffPages:
    """The pages of this section over one dashboard."""

    def __init__(self, dash: Dashboard) -> None:
        self.dash = dash
        self.redactor: Redactor = dash.services.get("redactor") or Redactor.of()
        self.desk: Callable[..., TicketDesk] = dash.services["desks"]
        """The ticket desk (of one tenant, or every tenant's), as ``create_app`` builds it."""
        self.support: SupportService = dash.services["support"]

    # -- the queue ---------------------------------------------------------------------

    def queue(self, request: Request) -> Response:
        """Every tenant's tickets, filtered, with the owners' workloads beside."""
        viewer = self.dash.viewer(request, None, Action.VIEW_TICKETS)
        params = request.query_params
        chosen = {k: params.get(k, "") for k in ("owner", "tenant", "kind")}
        chosen["state"] = params.get("state", "active")
        if chosen["state"] not in STATES:
            raise self.dash.refuse(viewer, 400, f"There is no ticket state {chosen['state']!r}.")
        page = max(_int(params.get("page")) or 1, 1)
        now = self.dash.clock()
        with self.dash.factory() as session:
            names = {
                tenant: name or tenant
                for tenant, name in session.execute(select(TenantRow.id, TenantRow.name))
            }
            query = _filtered(chosen)
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = list(
                session.scalars(
                    query.order_by(TicketRow.last_seen.desc(), TicketRow.id.desc())
                    .offset((page - 1) * PAGE_SIZE)
                    .limit(PAGE_SIZE)
                )
            )
            owners = _workloads(session)
            kinds = [k.value for k in ErrorKind]
        items = [QueueRow(t, names.get(t.tenant_id, t.tenant_id), due(t, now)) for t in rows]
        more = page * PAGE_SIZE < total
        next_url = f"/staff/tickets?{urlencode({**chosen, 'page': page + 1})}" if more else None
        return self.dash.render(
            request,
            viewer,
            "dashboard/staff_tickets.html",
            title="Ticket queue",
            items=items,
            total=total,
            chosen=chosen,
            tenants=sorted(names.items(), key=lambda item: item[1]),
            owners=owners,
            kinds=kinds,
            states=STATES,
            next_url=next_url,
            query_of=lambda **change: urlencode({**chosen, **change}),
        )

    def merchant_tickets(self, request: Request, tenant_id: str) -> Response:
        """The tenant's tickets in the merchant's words, newest first."""
        viewer = self.dash.viewer(request, tenant_id, Action.VIEW_TICKETS)
        state = request.query_params.get("state", "active")
        if state not in STATES:
            raise self.dash.refuse(viewer, 400, f"There is no ticket state {state!r}.")
        tickets = self.desk(tenant_id).tickets(
            state=None if state == "all" else state, limit=PAGE_SIZE
        )
        return self.dash.render(
            request,
            viewer,
            "dashboard/ticket_list.html",
            title="Problems and fixes",
            tickets=tickets,
            state=state,
            states=STATES,
        )

    # -- one ticket ------------------------------------------------------------------

    def ticket(self, request: Request, ticket_id: str) -> Response:
        viewer = self.dash.viewer(request, None, Action.VIEW_TICKETS)
        return self.detail_page(request, viewer, ticket_id)

    def merchant_ticket(self, request: Request, tenant_id: str, ticket_id: str) -> Response:
        """One of the tenant's tickets for its users: what happened, its state, what they
        can do (the mapping fix, when it is theirs to make), and which sales it holds."""
        viewer = self.dash.viewer(request, tenant_id, Action.VIEW_TICKETS)
        number = self._number(viewer, ticket_id)
        try:
            detail = self.desk(tenant_id).detail(number, incidents=0)
        except KeyError:
            raise self.dash.refuse(viewer, 404, "There is no such ticket.") from None
        offered = self._fixes(viewer, detail.ticket, detail.documents)
        return self.dash.render(
            request,
            viewer,
            "dashboard/ticket_merchant.html",
            title="A problem with your sync",
            ticket=detail.ticket,
            documents=detail.documents,
            fixes=offered,
            fix_action=_fix_action(detail.ticket),
        )

    def detail_page(
        self,
        request: Request,
        viewer: Viewer,
        ticket_id: str,
        *,
        error: tuple[str, str] | None = None,
        status_code: int = 200,
        form: dict[str, str] | None = None,
    ) -> Response:
        """The staff's page of a ticket; ``error`` names the form that was refused and
        why, and the page is shown again with what was typed in that form kept."""
        number = self._number(viewer, ticket_id)
        desk = self.desk()
        try:
            detail = desk.detail(number)
        except KeyError:
            raise self.dash.refuse(viewer, 404, "There is no such ticket.") from None
        ticket = detail.ticket
        with self.dash.factory() as session:
            tenant_name = session.scalar(
                select(TenantRow.name).where(TenantRow.id == ticket.tenant_id)
            )
            staff = [u.email for u in Users(session, self.dash.clock).staff() if not u.disabled_at]
        verification: Verification = desk.verify(number)
        r = self.redactor
        incidents = [
            {
                "row": i,
                "message": r.text(i.message),
                "user_message": r.text(i.user_message),
                "http": [pretty(r.value(e)) for e in i.http or []],
                "details": pretty(r.value(i.details)) if i.details else "",
            }
            for i in detail.incidents
        ]
        # An assignment's text is the staff member it went to, typed on this page: the
        # redactor would take that address for a merchant's customer's and hide it.
        events = [
            {"row": e, "text": e.text if e.event == "assigned" else r.text(e.text)}
            for e in detail.events
        ]
        return self.dash.render(
            request,
            viewer,
            "dashboard/ticket_detail.html",
            title=f"Ticket {ticket.id}",
            status_code=status_code,
            ticket=ticket,
            headline=r.text(ticket.title),
            tenant_name=tenant_name or ticket.tenant_id,
            incidents=incidents,
            events=events,
            documents=detail.documents,
            verification=verification,
            due=due(ticket, self.dash.clock()),
            fixes=self._fixes(viewer, ticket, detail.documents),
            fix_action=_fix_action(ticket),
            staff=staff,
            active=TicketState(ticket.state).active,
            error=error[1] if error else None,
            failed=error[0] if error else None,
            form=form or {},
            can_act=viewer.can(Action.ACT_ON_TICKETS, ticket.tenant_id),
            can_replay=viewer.can(Action.REPLAY, ticket.tenant_id),
            can_log=viewer.can(Action.LOG_TIME, ticket.tenant_id),
            minutes=MINUTES,
            logged=logged(self.support.ticket_time(ticket.tenant_id, ticket.id)),
        )

    # -- actions -------------------------------------------------------------------

    async def act(self, request: Request, ticket_id: str, action: str) -> Response:
        """A form on the ticket's page (``ACTIONS``). A refused action shows the page
        again with the reason, never an error."""
        viewer = self.dash.viewer(request, None, NEEDS.get(action, Action.ACT_ON_TICKETS))
        fields = await self.dash.form(request, viewer)
        number = self._number(viewer, ticket_id)
        who = viewer.principal.email
        desk = self.desk()
        try:
            if action == "time":
                notice = await self.dash.blocking(self._log, desk, number, who, fields)
            else:
                notice = await self.dash.blocking(self._do, desk, number, who, action, fields)
        except KeyError:
            raise self.dash.refuse(viewer, 404, "There is no such ticket.") from None
        except (DeskError, HoursError) as refused:
            reason = f"Could not {ACTIONS[action]}: {refused}."
        else:
            return self.dash.redirect(f"/staff/tickets/{number}", notice=notice)
        page: Response = await self.dash.blocking(
            lambda: self.detail_page(
                request, viewer, ticket_id, error=(action, reason), status_code=409, form=fields
            )
        )
        return page

    def _log(self, desk: TicketDesk, number: int, who: str, fields: dict[str, str]) -> str:
        tenant_id = desk.detail(number, incidents=0).ticket.tenant_id
        return log_time(self.support, tenant_id, number, who, fields)

    @staticmethod
    def _do(desk: TicketDesk, number: int, who: str, action: str, fields: dict[str, str]) -> str:
        text = fields.get("text", "").strip()
        if action == "take":
            owner = desk.detail(number, incidents=0).ticket.assignee
            if owner not in (None, who):
                desk.assign(number, who, who)
            desk.start(number, who)
            return "You own this ticket now; it is marked as being fixed."
        if action == "assign":
            member = fields.get("member", "").strip()
            if not member:
                raise DeskError("choose who should own it")
            desk.assign(number, member, who, team=fields.get("team", "").strip() or None)
            return f"Assigned to {member}."
        if action == "comment":
            desk.comment(number, who, text)
            return "Comment added."
        if action == "wait":
            desk.wait_on_merchant(number, who, text)
            return "Waiting on the merchant: the SLA clocks are paused until they reply."
        if action == "replied":
            paused = desk.merchant_replied(number, who, text)
            if paused is None:
                return "The ticket was not waiting on the merchant; nothing changed."
            return f"The merchant replied: the SLA times moved {render_span(paused)} later."
        if action == "close":
            desk.close(number, who, text)
            return "Ticket closed."
        if action == "resolve":
            checked = desk.resolve(number, who, text)
            return (
                f"Resolved: {checked.documents} document(s) verified in the books; "
                "the merchant is told what was fixed."
            )
        retry = action == "retry"
        report = desk.replay(number, who, retry_only=retry)
        moved = (
            f"{report.postings} posting(s), {report.records} record(s) and "
            f"{report.documents} held document(s) sent through again"
        )
        waiting = (
            f"; waiting on the merchant to reconnect {', '.join(report.waiting_on_merchant)}"
            if report.waiting_on_merchant
            else ""
        )
        return f"{'Retried' if retry else 'Replayed'}: {moved}{waiting}. Check the books below."

    async def fix_mapping(self, request: Request, tenant_id: str, ticket_id: str) -> Response:
        """The one-click fix of a mapping ticket: publish a mapping version with the rule
        its held documents need, which releases them to post."""
        viewer = self.dash.viewer(request, tenant_id)
        number = self._number(viewer, ticket_id)

        def the_tenants() -> None:
            try:
                self.desk(tenant_id).detail(number, incidents=0)
            except KeyError:
                raise self.dash.refuse(viewer, 404, "There is no such ticket.") from None

        viewer, notice = await publish(self.dash, request, tenant_id, check=the_tenants)
        back = f"/staff/tickets/{number}" if viewer.staff else f"/app/{tenant_id}/tickets/{number}"
        return self.dash.redirect(back, notice=notice)

    # -- helpers -----------------------------------------------------------------------

    def _number(self, viewer: Viewer, ticket_id: str) -> int:
        number = _int(ticket_id)
        if number is None or not 1 <= number < 2**62:
            raise self.dash.refuse(viewer, 404, "There is no such ticket.")
        return number

    def _fixes(self, viewer: Viewer, ticket: TicketRow, documents: list[str]) -> list[Fix]:
        """The one-click mapping fixes for a mapping ticket whose documents are held,
        when the viewer may change the tenant's mappings."""
        if ticket.kind != ErrorKind.MAPPING.value or not documents:
            return []
        if not viewer.can(Action.EDIT_MAPPINGS, ticket.tenant_id):
            return []
        with self.dash.factory() as session:
            return fixes(
                session, ticket.tenant_id, suggestions(session, ticket.tenant_id, documents)
            )


def _fix_action(ticket: TicketRow) -> str:
    return f"/app/{ticket.tenant_id}/tickets/{ticket.id}/map"


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None and text.strip().isdigit() else None
    except ValueError:
        return None


def _filtered(chosen: dict[str, str]) -> Select[TicketRow]:
    query = select(TicketRow)
    state, owner = chosen["state"], chosen["owner"]
    if state == "active":
        query = query.where(TicketRow.state.in_([s.value for s in TicketState if s.active]))
    elif state != "all":
        query = query.where(TicketRow.state == state)
    if owner == UNASSIGNED:
        query = query.where(TicketRow.assignee.is_(None))
    elif owner:
        query = query.where(or_(TicketRow.assignee == owner, TicketRow.team == owner))
    if chosen["tenant"]:
        query = query.where(TicketRow.tenant_id == chosen["tenant"])
    if chosen["kind"]:
        query = query.where(TicketRow.kind == chosen["kind"])
    return query


def _workloads(session: Session) -> list[tuple[str, int]]:
    """Active tickets per owner (an assignee, else a team, else ``unassigned``), the
    busiest first: the queue grouped by who has to act."""
    active = [s.value for s in TicketState if s.active]
    counts: dict[str, int] = {}
    rows = session.execute(
        select(TicketRow.assignee, TicketRow.team, func.count())
        .where(TicketRow.state.in_(active))
        .group_by(TicketRow.assignee, TicketRow.team)
    )
    for assignee, team, n in rows:
        owner = assignee or team or UNASSIGNED
        counts[owner] = counts.get(owner, 0) + int(n)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def _acting(pages: StaffPages, action: str) -> Callable[[Request, str], Any]:
    """The handler of one ticket action; the action is fixed here, never read from the
    request, so a form cannot ask for more than its route's permission allows."""

    async def act(request: Request, ticket_id: str) -> Response:
        return await pages.act(request, ticket_id, action)

    return act


def register(dash: Dashboard) -> None:
    """Add the queue, the ticket pages and their actions."""
    pages = StaffPages(dash)

    @dash.get("/staff/tickets")
    def queue(request: Request) -> Response:
        return pages.queue(request)

    @dash.get("/staff/tickets/{ticket_id}")
    def ticket(request: Request, ticket_id: str) -> Response:
        return pages.ticket(request, ticket_id)

    for name in ACTIONS:
        dash.post(f"/staff/tickets/{{ticket_id}}/{name}")(_acting(pages, name))

    @dash.get("/app/{tenant_id}/tickets")
    def merchant_tickets(request: Request, tenant_id: str) -> Response:
        return pages.merchant_tickets(request, tenant_id)

    @dash.get("/app/{tenant_id}/tickets/{ticket_id}")
    def merchant_ticket(request: Request, tenant_id: str, ticket_id: str) -> Response:
        return pages.merchant_ticket(request, tenant_id, ticket_id)

    @dash.post("/app/{tenant_id}/tickets/{ticket_id}/map")
    async def fix_mapping(request: Request, tenant_id: str, ticket_id: str) -> Response:
        return await pages.fix_mapping(request, tenant_id, ticket_id)
