"""The HTTP application over one database: webhook ingress, manual entry, the tickets,
notices and measures of the support loop, Prometheus metrics, unsubscribe links, the
merchants' reconnect flow, sign-in and the dashboard."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session, sessionmaker

from salesync.api.answers import answer, database_unavailable
from salesync.api.body import MAX_BODY_BYTES
from salesync.api.clover import CloverIngress
from salesync.api.connections import TTL_SECONDS, ConnectionCache
from salesync.api.dashboard import SECTIONS, Dashboard
from salesync.api.health import Health
from salesync.api.ingress import Ingress
from salesync.api.manual import ManualEntry
from salesync.api.reconnect import Reconnect
from salesync.api.rest import Rest
from salesync.api.session import SignIn
from salesync.api.support import Support
from salesync.api.writer import GroupWriter
from salesync.connectors.qbd import soap as web_connector
from salesync.connectors.qbd.service import WebConnectorService
from salesync.connectors.registry import SourceRegistry, sources
from salesync.domain.redaction import Redactor
from salesync.engine.runner import Engine
from salesync.monitor.desk import TicketDesk, resolved_hook
from salesync.monitor.notify import MailSettings
from salesync.store.failures import unavailable
from salesync.store.vault import Vault
from salesync.support.catalog import load_catalog
from salesync.support.service import SupportService
from salesync.support.sla import SlaPolicy
from salesync.support.subscriptions import SubscriptionError

log = structlog.get_logger("salesync.api")


def create_app(
    factory: sessionmaker[Session],
    clock: Callable[[], datetime],
    vault: Vault,
    *,
    registry: SourceRegistry | None = None,
    engine: Engine | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    connection_ttl: float = TTL_SECONDS,
    metrics_token: str | None = None,
    redactor: Redactor | None = None,
    reconnect: Reconnect | None = None,
    sign_in: SignIn | None = None,
    mail: MailSettings | None = None,
    support: SupportService | None = None,
    clover_auth_code: str | None = None,
) -> FastAPI:
    """The salesync API on ``factory``'s database.

    ``registry`` holds the sources webhooks are verified with (the installed ones by
    default); ``engine`` processes manual entries (one on the same database by default).
    ``metrics_token`` guards ``/metrics``; ``redactor`` is the last guard on what the
    ticket routes show; ``reconnect`` serves the merchants' reconnect links (see
    ``wiring.reconnect``) and the sign-ins that connect new books, absent when no provider
    app is configured. ``sign_in`` serves the sign-in pages and sessions (one with the
    default password cost by default).
    ``mail`` is what the dashboard's and the REST API's resolution notices are sent with
    (their links start at its ``public_url``). ``support`` is the plan catalog, billing,
    developer hours, support requests and knowledge base (``wiring.support_service``; the
    proactive catalog by default), whose SLA policy the ticket desk keeps.
    ``clover_auth_code`` is the Clover app's auth code, which ``POST /webhooks/clover``
    checks (the route answers 503 without it).
    """
    registry = registry or sources()
    engine = engine or Engine(factory, clock, registry=registry)
    support = support or SupportService(
        factory,
        load_catalog("proactive"),
        clock,
        public_url=(mail or MailSettings()).public_url,
    )
    sla = SlaPolicy(support.catalog)
    writer = GroupWriter(factory, clock)
    connections = ConnectionCache(factory, vault, ttl=connection_ttl)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        writer.start()
        try:
            yield
        finally:
            writer.stop()

    app = FastAPI(
        title="salesync",
        summary="Sales from where they happen into the books, exactly once.",
        lifespan=lifespan,
    )
    app.state.connections = connections
    app.state.writer = writer
    # Connecting new books starts from the dashboard and the REST API alike.
    app.state.connect = reconnect.connect if reconnect is not None else None

    def desks(tenant_id: str | None = None) -> TicketDesk:
        """The ticket desk the dashboard and the REST API act through, as
        ``wiring.ticket_desk`` builds it: verified against each tenant's books, and
        resolutions tell the merchant with ``mail``'s links."""
        books = engine.books
        return TicketDesk(
            factory,
            clock,
            tenant_id=tenant_id,
            destination=books.name_for if books is not None else None,
            resolved=resolved_hook(clock, mail, redactor=redactor),
            sla=sla,
            asked=support.asked,
        )

    Health(factory).register(app)
    CloverIngress(
        factory, connections, writer, clock, max_body_bytes, auth_code=clover_auth_code
    ).register(app)
    Ingress(
        connections, registry, writer, clock, max_body_bytes, incidents=engine.incidents
    ).register(app)
    ManualEntry(factory, clock, engine, registry, max_body_bytes).register(app)
    Support(factory, clock, metrics_token=metrics_token, redactor=redactor).register(app)
    Rest(
        factory, clock, engine, registry, redactor=redactor, desks=desks, support=support
    ).register(app)
    if reconnect is not None:
        reconnect.register(app)
    web_connector.register(app, WebConnectorService(factory, clock))
    (sign_in or SignIn(factory, clock)).register(app)
    Dashboard(
        factory,
        clock,
        services={
            "engine": engine,
            "redactor": redactor,
            "registry": registry,
            "desks": desks,
            "support": support,
            "connect": app.state.connect,
        },
    ).register(app, SECTIONS)

    @app.exception_handler(SubscriptionError)
    async def unknown_plan(request: Request, exc: SubscriptionError) -> JSONResponse:
        # A tenant left on a plan the catalog in force does not have (the operator
        # changed catalogs): say so instead of failing.
        return answer(
            409,
            "plan_not_in_catalog",
            f"{exc}. Run salesync with the catalog that has the tenant's plan.",
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The traceback goes to the log, never to the caller.
        if unavailable(exc):
            return database_unavailable()
        log.exception("request_failed", path=request.url.path, error=type(exc).__name__)
        return answer(
            500,
            "internal_error",
            "salesync failed to handle this request; it has been logged. Please try again.",
        )

    return app
