"""The merchant's own pages: how the sync is doing and what needs them.

- ``/app/{tenant_id}``: the overview, with each connection's health, the problems open
  and the latest syncs;
- ``/app/{tenant_id}/connections`` and connecting new books: see ``connections``;
- ``POST /app/{tenant_id}/sync-now``: the "Sync now" button on both pages, which posts
  what waits for a sync window at once (needs the right to edit mappings, since it
  changes when sales are booked);
- ``/app/{tenant_id}/timeline``: what each sync did, newest first, page by page;
- ``/app/{tenant_id}/errors``: the error log in plain words, each with its fix and its
  knowledge-base article;
- ``/app/{tenant_id}/held``: documents held for a mapping, each missing value with a
  one-click fix (pick an account, publish; needs the right to edit mappings), and the
  records set aside with what to fix;
- ``/app/{tenant_id}/documents``: documents by kind, state and location, newest first;
- ``/app/{tenant_id}/documents/{document_id}``: where one document is and why.

All of it reads the ``salesync.views`` read models; nothing here counts or decides.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request, Response
from sqlalchemy import func, select

from salesync.accounts.roles import Action
from salesync.api.dashboard.fixes import fixes, publish
from salesync.api.dashboard.shell import Dashboard, NavItem, Viewer
from salesync.domain.tickets import TicketState
from salesync.engine.inbox import RecordState
from salesync.engine.runner import Engine, SyncNowReport
from salesync.store.tables import InboxRecordRow, LocationRow, QueuedDocumentRow, TicketRow
from salesync.views.documents import DocumentState, documents, explain
from salesync.views.errors import LogState, error_log
from salesync.views.health import connection_health
from salesync.views.held import (
    held_documents,
    quarantined_records,
    suggestions,
)
from salesync.views.timeline import timeline

NAV = (
    NavItem("Overview", "/app/{tenant_id}"),
    NavItem("Connections", "/app/{tenant_id}/connections"),
    NavItem("Sync timeline", "/app/{tenant_id}/timeline"),
    NavItem("Error log", "/app/{tenant_id}/errors"),
    NavItem("Held records", "/app/{tenant_id}/held"),
    NavItem("Documents", "/app/{tenant_id}/documents"),
)
PAGE = 50
MAX_ID = 2**63 - 1
SYNC_BACK = {"": "", "connections": "/connections"}
"""The pages the "Sync now" button sits on, by the ``back`` value its form sends."""


def _cursor(dash: Dashboard, viewer: Viewer, request: Request) -> int | None:
    """The ``before`` query parameter as a row id, or a 400 page saying what is wrong."""
    raw = request.query_params.get("before")
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or not 0 < int(raw) <= MAX_ID:
        raise dash.refuse(viewer, 400, "The page link is broken: 'before' must be a number.")
    return int(raw)


def _zones(dash: Dashboard, tenant_id: str) -> dict[str, str]:
    with dash.factory() as session:
        return dict(
            session.execute(
                select(LocationRow.id, LocationRow.timezone).where(
                    LocationRow.tenant_id == tenant_id
                )
            ).all()
        )


def overview(dash: Dashboard, request: Request, tenant_id: str) -> Response:
    """At a glance: connections' health, problems open, and the latest syncs."""
    viewer = dash.viewer(request, tenant_id)
    now = dash.clock()
    with dash.factory() as session:
        health = connection_health(session, tenant_id, now)
        active = [s.value for s in TicketState if s.active]
        open_problems = session.scalar(
            select(func.count()).where(
                TicketRow.tenant_id == tenant_id, TicketRow.state.in_(active)
            )
        )
        held = session.scalar(
            select(func.count()).where(
                QueuedDocumentRow.tenant_id == tenant_id, QueuedDocumentRow.held
            )
        )
        set_aside = session.scalar(
            select(func.count()).where(
                InboxRecordRow.tenant_id == tenant_id,
                InboxRecordRow.state == RecordState.QUARANTINED.value,
            )
        )
        recent = timeline(session, tenant_id, limit=5)
    return dash.render(
        request,
        viewer,
        "dashboard/merchant_overview.html",
        title="Overview",
        health=health,
        open_problems=open_problems or 0,
        held=held or 0,
        set_aside=set_aside or 0,
        recent=recent,
        may_sync=viewer.can(Action.EDIT_MAPPINGS),
    )


def sync_notice(report: SyncNowReport) -> str:
    """What a "Sync now" did, in plain words: what it released and posted, and what still
    waits and why."""
    work = report.work
    sent = work.sent.posted + work.sent.found_on_read_back
    parts = [
        f"Synced now: {report.released} document(s) that were waiting for a sync window "
        f"were released, and {sent} entr{'y' if sent == 1 else 'ies'} posted to your books."
    ]
    if work.sent.retrying or work.sent.failed:
        parts.append(
            f"{work.sent.retrying} will be tried again and {work.sent.failed} failed; "
            "the error log says why."
        )
    if report.held:
        parts.append(
            f"{report.held} document(s) still wait for a mapping; Held records shows what to map."
        )
    if report.waiting:
        parts.append(
            f"{report.waiting} document(s) still wait: a daily summary posts once its "
            "business day has ended, and a sale booked per payout posts with its payout."
        )
    if len(parts) == 1 and not (report.released or sent):
        parts.append("Nothing was waiting.")
    return " ".join(parts)


async def sync_now(dash: Dashboard, request: Request, tenant_id: str) -> Response:
    """Post what waits for a sync window now, then show what it did on the page the
    button was pressed on."""
    viewer = dash.viewer(request, tenant_id, Action.EDIT_MAPPINGS)
    fields = await dash.form(request, viewer)
    back = SYNC_BACK.get(fields.get("back", ""), "")
    engine: Engine = dash.services["engine"]
    report = await dash.blocking(engine.sync_now, tenant_id)
    return dash.redirect(f"/app/{tenant_id}{back}", notice=sync_notice(report))


def sync_timeline(dash: Dashboard, request: Request, tenant_id: str) -> Response:
    """What each sync did, newest first, a page at a time."""
    viewer = dash.viewer(request, tenant_id)
    before = _cursor(dash, viewer, request)
    with dash.factory() as session:
        entries = timeline(session, tenant_id, limit=PAGE, before=before)
    next_url = (
        f"/app/{tenant_id}/timeline?before={entries[-1].id}" if len(entries) == PAGE else None
    )
    return dash.render(
        request,
        viewer,
        "dashboard/merchant_timeline.html",
        title="Sync timeline",
        entries=entries,
        next_url=next_url,
    )


def errors(dash: Dashboard, request: Request, tenant_id: str) -> Response:
    """The error log: active problems by default, or the resolved ones, or all."""
    viewer = dash.viewer(request, tenant_id)
    before = _cursor(dash, viewer, request)
    state = request.query_params.get("state") or LogState.ACTIVE.value
    if state not in {s.value for s in LogState}:
        known = ", ".join(s.value for s in LogState)
        raise dash.refuse(viewer, 400, f"Show which problems? Choose one of: {known}.")
    with dash.factory() as session:
        entries = error_log(
            session,
            tenant_id,
            state=state,
            limit=PAGE,
            before=before,
            redactor=dash.services.get("redactor"),
        )
    next_url = (
        f"/app/{tenant_id}/errors?state={state}&before={entries[-1].ticket_id}"
        if len(entries) == PAGE
        else None
    )
    return dash.render(
        request,
        viewer,
        "dashboard/merchant_errors.html",
        title="Error log",
        entries=entries,
        state=state,
        states=[s.value for s in LogState],
        next_url=next_url,
    )


def held(dash: Dashboard, request: Request, tenant_id: str) -> Response:
    """Documents held for a mapping with their one-click fixes, and quarantined records."""
    viewer = dash.viewer(request, tenant_id)
    with dash.factory() as session:
        documents = held_documents(session, tenant_id)
        offered = fixes(session, tenant_id, suggestions(session, tenant_id))
        records = quarantined_records(session, tenant_id)
    return dash.render(
        request,
        viewer,
        "dashboard/merchant_held.html",
        title="Held records",
        documents=documents,
        fixes=offered,
        fix_action=f"/app/{tenant_id}/held/fix",
        records=records,
        zones=_zones(dash, tenant_id),
        may_fix=viewer.can(Action.EDIT_MAPPINGS),
    )


async def fix(dash: Dashboard, request: Request, tenant_id: str) -> Response:
    """Publish the latest mapping plus the chosen rule, which releases what it held."""
    _, notice = await publish(dash, request, tenant_id)
    return dash.redirect(f"/app/{tenant_id}/held", notice=notice)


def document_list(dash: Dashboard, request: Request, tenant_id: str) -> Response:
    """The tenant's documents, newest first, filtered by kind, state and location."""
    viewer = dash.viewer(request, tenant_id)
    params = request.query_params
    kind = params.get("kind") or None
    state = params.get("state") or None
    location = params.get("location") or None
    before = params.get("before") or None
    if state is not None and state not in {s.value for s in DocumentState}:
        known = ", ".join(s.value.replace("_", " ") for s in DocumentState)
        raise dash.refuse(viewer, 400, f"Show documents in which state? One of: {known}.")
    zones = _zones(dash, tenant_id)
    with dash.factory() as session:
        try:
            found = documents(
                session,
                tenant_id,
                kind=kind,
                state=state,
                location=location,
                limit=PAGE,
                before=before,
            )
        except ValueError:
            raise dash.refuse(
                viewer, 400, "The page link is broken; start from the first page."
            ) from None
    chosen = {"kind": kind or "", "state": state or "", "location": location or ""}
    next_url = None
    if len(found) == PAGE:
        query = {k: v for k, v in chosen.items() if v} | {"before": found[-1].document_id}
        next_url = f"/app/{tenant_id}/documents?{urlencode(query)}"
    return dash.render(
        request,
        viewer,
        "dashboard/merchant_documents.html",
        title="Documents",
        found=found,
        chosen=chosen,
        kinds=["sale", "refund", "payout"],
        states=[s.value for s in DocumentState],
        locations=sorted(zones),
        zones=zones,
        next_url=next_url,
    )


def document(dash: Dashboard, request: Request, tenant_id: str, document_id: str) -> Response:
    """Where one document is and why."""
    viewer = dash.viewer(request, tenant_id)
    with dash.factory() as session:
        found = explain(session, tenant_id, document_id, dash.clock())
        offered = fixes(session, tenant_id, found.suggestions) if found is not None else []
    if found is None:
        raise dash.refuse(viewer, 404, "There is no such document.")
    summary = found.document
    return dash.render(
        request,
        viewer,
        "dashboard/merchant_document.html",
        title=f"{summary.kind.capitalize()} {summary.external_id}",
        found=found,
        fixes=offered,
        fix_action=f"/app/{tenant_id}/held/fix",
        zone=_zones(dash, tenant_id).get(summary.location_id, "UTC"),
        may_fix=viewer.can(Action.EDIT_MAPPINGS),
    )


def register(dash: Dashboard) -> None:
    """Add the merchant's pages to the dashboard."""

    @dash.get("/app/{tenant_id}")
    def overview_page(request: Request, tenant_id: str) -> Response:
        return overview(dash, request, tenant_id)

    @dash.post("/app/{tenant_id}/sync-now")
    async def sync_now_page(request: Request, tenant_id: str) -> Response:
        return await sync_now(dash, request, tenant_id)

    @dash.get("/app/{tenant_id}/timeline")
    def timeline_page(request: Request, tenant_id: str) -> Response:
        return sync_timeline(dash, request, tenant_id)

    @dash.get("/app/{tenant_id}/errors")
    def errors_page(request: Request, tenant_id: str) -> Response:
        return errors(dash, request, tenant_id)

    @dash.get("/app/{tenant_id}/held")
    def held_page(request: Request, tenant_id: str) -> Response:
        return held(dash, request, tenant_id)

    @dash.post("/app/{tenant_id}/held/fix")
    async def fix_page(request: Request, tenant_id: str) -> Response:
        return await fix(dash, request, tenant_id)

    @dash.get("/app/{tenant_id}/documents")
    def documents_page(request: Request, tenant_id: str) -> Response:
        return document_list(dash, request, tenant_id)

    @dash.get("/app/{tenant_id}/documents/{document_id}")
    def document_page(request: Request, tenant_id: str, document_id: str) -> Response:
        return document(dash, request, tenant_id, document_id)
