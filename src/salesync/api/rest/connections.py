"""Connections: a tenant's links to its sources and books, with how each is doing and,
when the provider refused its authorization, the link the merchant reconnects from.
Credentials never leave the vault: no answer here carries them.

``POST .../sync-now`` is the merchant's "Sync now": what waits for a sync window is posted
at once, and the answer says what moved and what still waits.

``POST .../connections/authorizations`` starts connecting new books (``api.connect``): the
answer is the provider's consent URL, which a signed-in user finishes in their browser."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from salesync.accounts.roles import Action
from salesync.api.answers import answer
from salesync.api.auth import Refused
from salesync.api.connect import MAX_NAME, Connect, ConnectRefusedError
from salesync.api.paging import (
    BAD_BODY,
    BAD_PARAMETER,
    TEXT_PAGING,
    choice,
    json_body,
    known,
    text_page,
)
from salesync.api.rest.common import TENANT, Parts, refusals, route
from salesync.connectors.offer import SourceOffer, offers
from salesync.connectors.tokens import RECONNECT, default_reconnect_url
from salesync.domain.planning import PostingMode
from salesync.engine.runner import SyncNowReport
from salesync.store.tables import ConnectionRow
from salesync.views.health import ConnectionHealth, Health, connection_health

ROLES = ("source", "destination")
_QUERIES = [
    {
        "name": "role",
        "in": "query",
        "required": False,
        "description": "Only sources or only books.",
        "schema": {"type": "string", "enum": list(ROLES)},
    },
    *TEXT_PAGING,
]
_AUTHORIZING = {
    409: "The tenant has a connection of that name already (`name_taken`).",
    422: "The body does not say what it must (`invalid_body`), or the name cannot be a "
    "connection's (`bad_name`).",
    503: "Sign-in with this provider is not set up on this server (`oauth_app_missing`), or "
    "the database is unavailable.",
}
_UNKNOWN = {
    404: "There is no such tenant (`unknown_tenant`), or it has no such connection "
    "(`unknown_connection`)."
}


class HealthOut(BaseModel):
    """How the connection is doing, in one word and one sentence, and the counts behind."""

    health: Health
    sentence: str
    last_received_at: datetime | None
    last_posted_at: datetime | None
    failing: int = Field(description="Postings that failed and wait for a fix.")
    retrying: int = Field(description="Postings that will be tried again.")
    held: int = Field(description="Postings held until something is fixed.")
    open_tickets: list[int]


class ConnectionOut(BaseModel):
    """A connection, without its credentials."""

    id: str
    provider: str
    role: str
    name: str
    status: str = Field(description="`active`, or `reconnect` when the merchant must sign in.")
    created_at: datetime
    updated_at: datetime
    reconnect_url: str | None = Field(
        description="Where the merchant signs in to the provider again, when they must."
    )
    health: HealthOut | None


class SourceOut(BaseModel):
    """A kind of source salesync can connect, and what connecting it means."""

    name: str = Field(description="The provider name connections are made with.")
    title: str
    brings: list[str] = Field(description="What its records become: sales, refunds...")
    arrival: str = Field(
        description="How records arrive: `webhooks, with a sweep`, `webhooks`, `polling only`, "
        "`uploaded files`."
    )
    webhooks: bool
    polling: list[str] = Field(description="Streams salesync reads on a schedule.")
    history: bool = Field(description="Whether past sales can be imported (backfill).")
    payouts: bool
    posting_modes: list[PostingMode] = Field(
        description="The posting modes its sales can use: per-payout needs payouts."
    )
    explained: list[str] = Field(description="What connecting it means, a sentence each.")


class SourceList(BaseModel):
    sources: list[SourceOut]


class ConnectionPage(BaseModel):
    connections: list[ConnectionOut]
    next_cursor: str | None


class SyncNowOut(BaseModel):
    """What a "sync now" did and what still waits."""

    released: int = Field(description="Documents that waited for a sync window, made due.")
    taken_in: int = Field(description="Received records turned into documents.")
    quarantined: int = Field(description="Received records set aside as unreadable.")
    planned: int = Field(description="Postings planned from due documents.")
    posted: int = Field(description="Postings now in the books (found there on read-back too).")
    retrying: int = Field(description="Postings that will be tried again.")
    failed: int = Field(description="Postings that failed and wait for a fix.")
    held: int = Field(description="Documents still held until a mapping places them.")
    waiting: int = Field(
        description="Documents still not planned: a daily summary waits for its business "
        "day to end, a per-payout sale for its payout."
    )


class AuthorizationIn(BaseModel):
    """New books to connect: the provider and the name the connection will have."""

    model_config = ConfigDict(extra="forbid")

    provider: Literal["qbo", "xero"] = Field(description="`qbo` (QuickBooks Online) or `xero`.")
    name: str = Field(min_length=1, max_length=MAX_NAME, examples=["QuickBooks books"])


class AuthorizationOut(BaseModel):
    """Where the merchant signs in to the provider, and until when the sign-in may end."""

    authorize_url: str = Field(
        description="The provider's consent screen. Open it in the browser of a user "
        "signed in to salesync who may manage the tenant's connections (the user whose "
        "API key started it); the provider sends them back to salesync, which adds the "
        "connection."
    )
    expires_at: datetime


def sync_now_out(report: SyncNowReport) -> SyncNowOut:
    """The report of ``Engine.sync_now`` as the API answers it."""
    work, sent = report.work, report.work.sent
    return SyncNowOut(
        released=report.released,
        taken_in=work.normalized,
        quarantined=work.quarantined,
        planned=work.planned,
        posted=sent.posted + sent.found_on_read_back,
        retrying=sent.retrying,
        failed=sent.failed,
        held=report.held,
        waiting=report.waiting,
    )


class Connections:
    """``GET .../connections``, ``GET .../connections/{id}`` and ``POST .../sync-now``."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts

    def register(self, app: FastAPI) -> None:
        route(
            app,
            "GET",
            TENANT + "/connections",
            self.connections,
            summary="The tenant's connections with their health, in the order of their ids",
            tag="connections",
            model=ConnectionPage,
            refused=refusals(BAD_PARAMETER),
            parameters=_QUERIES,
        )
        route(
            app,
            "GET",
            TENANT + "/connections/{connection_id}",
            self.connection,
            summary="One connection with its health",
            tag="connections",
            model=ConnectionOut,
            refused=refusals(_UNKNOWN),
        )
        route(
            app,
            "GET",
            TENANT + "/sources",
            self.sources,
            summary="The sources salesync can connect, and what each offers",
            tag="connections",
            model=SourceList,
            refused=refusals(),
        )
        route(
            app,
            "POST",
            TENANT + "/sync-now",
            self.sync_now,
            summary="Post what waits for a sync window now; says what moved and what waits",
            tag="connections",
            model=SyncNowOut,
            refused=refusals(),
        )
        route(
            app,
            "POST",
            TENANT + "/connections/authorizations",
            self.authorize,
            summary="Start connecting QuickBooks Online or Xero books: the consent URL",
            tag="connections",
            model=AuthorizationOut,
            status_code=201,
            refused=refusals(BAD_BODY, _AUTHORIZING),
            body=AuthorizationIn,
        )

    def connections(self, tenant_id: str, request: Request) -> ConnectionPage:
        """The tenant's connections, ``limit`` at a time, sources or books only on ask."""
        self.parts.admit(tenant_id, request, Action.VIEW_TENANT)
        query = select(ConnectionRow).where(ConnectionRow.tenant_id == tenant_id)
        role = request.query_params.get("role")
        if role is not None:
            query = query.where(ConnectionRow.role == choice("role", role, ROLES))
        with self.parts.factory() as session:
            rows, cursor = text_page(session, query, ConnectionRow.id, request)
            health = self._health(session, tenant_id)
            return ConnectionPage(
                connections=[_connection(r, health.get(r.id)) for r in rows], next_cursor=cursor
            )

    def connection(self, tenant_id: str, connection_id: str, request: Request) -> ConnectionOut:
        """One of the tenant's connections."""
        self.parts.admit(tenant_id, request, Action.VIEW_TENANT)
        with self.parts.factory() as session:
            row = session.get(ConnectionRow, connection_id) if known(connection_id) else None
            if row is None or row.tenant_id != tenant_id:
                raise Refused(
                    answer(
                        404,
                        "unknown_connection",
                        f"{tenant_id} has no connection {connection_id!r}.",
                    )
                )
            return _connection(row, self._health(session, tenant_id).get(row.id))

    def sources(self, tenant_id: str, request: Request) -> SourceList:
        """Every installed source with what it offers: how its records arrive, history,
        payouts and the posting modes its sales can use."""
        self.parts.admit(tenant_id, request, Action.VIEW_TENANT)
        return SourceList(sources=[_source(o) for o in offers(self.parts.registry)])

    async def sync_now(self, tenant_id: str, request: Request) -> SyncNowOut:
        """Take in what was received, make what waits for a window due and post it."""
        await self.parts.admit_async(tenant_id, request, Action.EDIT_MAPPINGS)
        report = await run_in_threadpool(self.parts.engine.sync_now, tenant_id)
        return sync_now_out(report)

    async def authorize(self, tenant_id: str, request: Request) -> AuthorizationOut:
        """Seal the sign-in that connects new books; a tenant token's may be finished by
        any user who may manage the tenant's connections, a user's only by that user."""
        caller = await self.parts.admit_async(tenant_id, request, Action.MANAGE_CONNECTIONS)
        wanted = await json_body(request, AuthorizationIn)
        connect: Connect | None = getattr(request.app.state, "connect", None)
        if connect is None:
            raise Refused(
                answer(
                    503,
                    "oauth_app_missing",
                    "Connecting books through salesync is not set up on this server: "
                    "it has no QuickBooks Online or Xero app to sign in with.",
                )
            )
        user = caller.principal if caller.token_id is None else None
        try:
            started = await run_in_threadpool(
                lambda: connect.begin(tenant_id, wanted.provider, wanted.name, user, browser=False)
            )
        except ConnectRefusedError as refused:
            raise Refused(answer(refused.status, refused.code, refused.message)) from None
        return AuthorizationOut(authorize_url=started.authorize_url, expires_at=started.expires_at)

    def _health(self, session: Session, tenant_id: str) -> dict[str, ConnectionHealth]:
        return {
            h.connection_id: h
            for h in connection_health(session, tenant_id, self.parts.clock())
            if h.connection_id is not None
        }


def _source(offered: SourceOffer) -> SourceOut:
    return SourceOut(
        name=offered.name,
        title=offered.title,
        brings=list(offered.brings),
        arrival=offered.arrival,
        webhooks=offered.webhooks,
        polling=list(offered.polling),
        history=offered.history,
        payouts=offered.payouts,
        posting_modes=list(offered.posting_modes),
        explained=offered.lines(),
    )


def _connection(row: ConnectionRow, health: ConnectionHealth | None) -> ConnectionOut:
    reconnect = None
    if row.status == RECONNECT or (health is not None and health.reconnect_path):
        reconnect = default_reconnect_url(row.tenant_id, row.id)
    return ConnectionOut(
        id=row.id,
        provider=row.provider,
        role=row.role,
        name=row.name,
        status=row.status,
        created_at=row.created_at,
        updated_at=row.updated_at,
        reconnect_url=reconnect,
        health=None
        if health is None
        else HealthOut(
            health=health.health,
            sentence=health.sentence,
            last_received_at=health.last_received_at,
            last_posted_at=health.last_posted_at,
            failing=health.failing,
            retrying=health.retrying,
            held=health.held,
            open_tickets=list(health.open_tickets),
        ),
    )
