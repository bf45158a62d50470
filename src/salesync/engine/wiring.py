"""An engine built from settings: the installed sources, each tenant's books, the token
manager that keeps OAuth destinations connected, and the support loop around them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
from sqlalchemy.orm import Session, sessionmaker

from salesync.api.reconnect import OAuthApp, Reconnect
from salesync.clock import system_clock
from salesync.config import Settings
from salesync.connectors.registry import DestinationRegistry, SourceRegistry
from salesync.connectors.tokens import TokenManager
from salesync.crm.feed import CrmFeed
from salesync.crm.mail import CrmMail
from salesync.domain.errors import AuthError
from salesync.domain.redaction import Redactor
from salesync.engine.destinations import DestinationBooks
from salesync.engine.incidents import Failure, IncidentLog
from salesync.engine.refreshers import Refreshers
from salesync.engine.runner import Engine
from salesync.engine.sender import RetryPolicy
from salesync.engine.sweep import DueSweeps, Sweeper
from salesync.monitor.desk import TicketDesk, resolved_hook
from salesync.monitor.loop import Monitor, notice_hook
from salesync.monitor.notify.mailer import Mailer
from salesync.monitor.trackers import GitHubTracker, JiraTracker, Tracker
from salesync.support.service import SupportService
from salesync.support.sla import SlaPolicy


def known_secrets(cfg: Settings) -> list[str]:
    """Secrets salesync holds outside the tenants' credentials: the OAuth apps' client
    secrets (books and sources), the Clover app's webhook code, the SMTP password, the
    trackers' tokens, the metrics token."""
    found = [c[2] for p in ("qbo", "xero") if (c := cfg.oauth_client(p)) is not None]
    found += [
        secret
        for p in ("square", "lightspeed_x", "lightspeed_r", "clover")
        if (app := cfg.source_app(p)) is not None and (secret := app[1])
    ]
    held = [
        cfg.mail.password if cfg.mail else None,
        cfg.github.token if cfg.github else None,
        cfg.jira.api_token if cfg.jira else None,
        cfg.metrics_token,
        cfg.clover_webhook_auth_code,
    ]
    return found + [s.get_secret_value() for s in held if s is not None]


def redactor(cfg: Settings) -> Redactor:
    return Redactor.of().with_secrets(known_secrets(cfg))


def tenant_redactor(cfg: Settings, session: Session, tenant_id: str) -> Redactor:
    """The redactor for what leaves salesync about one tenant (exports): every secret
    ``known_secrets`` names and the tenant's own connection credentials."""
    return IncidentLog(system_clock, vault=cfg.vault(), secrets=known_secrets(cfg)).redactor_for(
        session, tenant_id
    )


def incident_log(cfg: Settings, clock: Callable[[], datetime]) -> IncidentLog:
    """Incidents with every secret salesync holds removed: each tenant's connection
    credentials (through the vault) and ``known_secrets``. A ticket opening or reopening
    queues the merchant's notice in the same transaction; its SLA clocks follow the
    tenant's plan in the configured catalog."""
    return IncidentLog(
        clock,
        vault=cfg.vault(),
        secrets=known_secrets(cfg),
        on_ticket=notice_hook(clock, cfg.mail_settings(), redactor=redactor(cfg)),
        sla=SlaPolicy(cfg.plan_catalog()),
    )


def monitor(
    cfg: Settings,
    factory: sessionmaker[Session],
    clock: Callable[[], datetime],
    transport: httpx.BaseTransport | None = None,
) -> Monitor:
    """The support loop's timed work under the configured teams, mail server and trackers."""
    trackers: list[Tracker] = []
    if cfg.github is not None:
        trackers.append(GitHubTracker(cfg.github, transport=transport, clock=clock))
    if cfg.jira is not None:
        trackers.append(JiraTracker(cfg.jira, transport=transport))
    desk = support_service(cfg, factory, clock)
    return Monitor(
        factory,
        clock,
        support=cfg.support,
        tiers=desk.escalations(),
        upkeep=desk.run_due,
        mail=cfg.mail_settings() if cfg.mail is not None else None,
        trackers=trackers,
        redactor=redactor(cfg),
        incidents=incident_log(cfg, clock),
    )


def support_service(
    cfg: Settings, factory: sessionmaker[Session], clock: Callable[[], datetime]
) -> SupportService:
    """Plans, billing, developer hours, support requests and the knowledge base under the
    configured catalog."""
    return SupportService(factory, cfg.plan_catalog(), clock, public_url=cfg.public_url)


def ticket_desk(
    cfg: Settings,
    factory: sessionmaker[Session],
    clock: Callable[[], datetime],
    *,
    tenant_id: str | None = None,
) -> TicketDesk:
    """The ticket desk: verifies against each tenant's books, its resolutions tell the
    merchant, with links to ``public_url``, and a wait on the merchant pauses the SLA
    clocks in the catalog's business hours and e-mails the merchant what is asked."""
    books = DestinationBooks(factory, cfg.vault(), clock)
    return TicketDesk(
        factory,
        clock,
        tenant_id=tenant_id,
        destination=books.name_for,
        resolved=resolved_hook(clock, cfg.mail_settings(), redactor=redactor(cfg)),
        sla=SlaPolicy(cfg.plan_catalog()),
        asked=support_service(cfg, factory, clock).asked,
    )


def token_manager(
    cfg: Settings,
    factory: sessionmaker[Session],
    clock: Callable[[], datetime],
    transport: httpx.BaseTransport | None = None,
    incidents: IncidentLog | None = None,
) -> TokenManager:
    """Refreshes tokens of destinations and sources at each connection's token endpoint,
    with the OAuth apps configured for each provider (``Refreshers``); a connection paused
    for reconnection is an incident recorded as it is paused."""
    log = incidents or incident_log(cfg, clock)

    def paused(session: Session, error: AuthError) -> None:
        if error.tenant is None:
            return
        log.record(
            session,
            error.tenant,
            Failure(
                error=error,
                stage="connector",
                subject=f"connection:{error.connection}",
                failed_at=clock(),
                replay={"connection": error.connection},
                connection_id=error.connection,
            ),
        )

    return TokenManager(factory, cfg.vault(), clock, Refreshers(cfg, transport), paused=paused)


def sweeper(
    cfg: Settings,
    factory: sessionmaker[Session],
    clock: Callable[[], datetime],
    *,
    incidents: IncidentLog | None = None,
    tokens: TokenManager | None = None,
) -> Sweeper:
    """The sweep every command runs: sources' streams read with real HTTP, their expiring
    tokens renewed (and rotated refresh tokens stored) through the token manager, stopped
    webhook subscriptions and refused grants recorded as incidents (those salesync
    switched on again resolved after the sweep, which tells the merchant it is fixed)."""
    log = incidents or incident_log(cfg, clock)
    desk = ticket_desk(cfg, factory, clock)
    return Sweeper(
        factory,
        clock,
        cfg.vault(),
        incidents=log,
        tokens=tokens or token_manager(cfg, factory, clock, incidents=log),
        settle=lambda ticket, explanation: desk.resolve(ticket, "salesync", explanation),
    )


def due_sweeps(
    cfg: Settings, factory: sessionmaker[Session], clock: Callable[[], datetime]
) -> DueSweeps | None:
    """The runner's periodic sweeps (``sweep_every_minutes``), ``None`` when turned off."""
    if not cfg.sweep_every_minutes:
        return None
    return DueSweeps(sweeper(cfg, factory, clock), timedelta(minutes=cfg.sweep_every_minutes))


def configured_engine(
    cfg: Settings,
    factory: sessionmaker[Session],
    clock: Callable[[], datetime],
    *,
    sources: SourceRegistry | None = None,
    destinations: DestinationRegistry | None = None,
    transport: httpx.BaseTransport | None = None,
) -> Engine:
    """The engine every command runs: sources from the registry, postings to each
    tenant's books (its destination connection, else the built-in ledger), the built-in
    CRM kept current at the end of each tick, failures recorded as redacted incidents."""
    incidents = incident_log(cfg, clock)
    books = DestinationBooks(
        factory,
        cfg.vault(),
        clock,
        registry=destinations,
        tokens=token_manager(cfg, factory, clock, transport, incidents),
        transport=transport,
    )
    retry = RetryPolicy(
        base=timedelta(seconds=cfg.retry_base_seconds),
        cap=timedelta(seconds=max(cfg.retry_max_seconds, cfg.retry_base_seconds)),
        lease=timedelta(seconds=cfg.send_lease_seconds),
    )
    crm = cfg.crm
    after = (
        [
            CrmFeed(
                factory,
                clock,
                horizon=crm.horizon,
                backfill_batch=crm.backfill_batch,
                incidents=incidents,
                mail=(
                    CrmMail(
                        factory,
                        clock,
                        Mailer(cfg.mail_settings()),
                        public_url=cfg.mail_settings().public_url,
                    )
                    if cfg.mail is not None
                    else None
                ),
            )
        ]
        if crm.enabled
        else []
    )
    return Engine(
        factory,
        clock,
        registry=sources,
        books=books,
        incidents=incidents,
        retry=retry,
        after=after,
    )


def reconnect(
    cfg: Settings,
    factory: sessionmaker[Session],
    clock: Callable[[], datetime],
    tokens: TokenManager,
    transport: httpx.BaseTransport | None = None,
) -> Reconnect:
    """The reconnect link and OAuth callback, with the configured provider apps."""

    def clients(provider: str) -> OAuthApp | None:
        found = cfg.oauth_client(provider)
        return OAuthApp(*found) if found is not None else None

    return Reconnect(
        factory,
        clock,
        cfg.vault(),
        tokens,
        clients=clients,
        public_url=cfg.public_url,
        qbo_authorize_url=cfg.qbo_authorize_url,
        xero_authorize_url=cfg.xero_authorize_url,
        xero_connections_url=cfg.xero_connections_url,
        transport=transport,
    )
