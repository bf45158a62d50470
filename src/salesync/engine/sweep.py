"""The sweep: each connection's streams read by cursor, catching what webhooks missed.

Webhooks are hints (DESIGN.md §2): a delivery can be lost, disabled or refused. A sweep
asks the provider for everything changed since the last cursor, page by page. Each page's
records go into the inbox in the same transaction that saves the cursor after them, so a
crash resumes at the first page not committed and a page read twice finds duplicates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import httpx
import structlog
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from salesync.connectors.registry import SourceRegistry, sources
from salesync.connectors.source import Page, SourceClient, SubscriptionKeeper, SubscriptionRepair
from salesync.connectors.tokens import ConnectionTokens, TokenManager
from salesync.domain.errors import ErrorKind, SyncError
from salesync.engine.inbox import Inbox
from salesync.engine.incidents import Failure, IncidentLog
from salesync.engine.runs import recorded
from salesync.store.repositories import Connections
from salesync.store.tables import ConnectionRow, SourceCursorRow
from salesync.store.vault import Vault

WEBHOOK_STOPPED = "webhook_stopped"
"""Subscriptions found stopped that only the merchant can turn on again."""
WEBHOOK_RESTORED = "webhook_restored"
"""Subscriptions found stopped and switched on again by salesync: nothing for the merchant
to do; the ticket is resolved once the sweep has read what they missed, and the merchant
hears that it is fixed."""
SWEEP_EVERY = timedelta(minutes=15)
"""How often the background runner sweeps each source connection by default."""

log = structlog.get_logger("salesync.sweep")


@dataclass(slots=True)
class SweepReport:
    pages: int = 0
    records: int = 0
    duplicates: int = 0
    cursors: dict[str, str | None] = field(default_factory=dict)
    repairs: tuple[SubscriptionRepair, ...] = ()
    """Webhook subscriptions found stopped at the provider before the streams were read."""


def _restored(repairs: tuple[SubscriptionRepair, ...]) -> bool:
    """Whether salesync switched every one of ``repairs`` on again by itself."""
    return bool(repairs) and all(r.action != "none" for r in repairs)


class Sweeper:
    def __init__(
        self,
        factory: sessionmaker[Session],
        clock: Callable[[], datetime],
        vault: Vault,
        *,
        registry: SourceRegistry | None = None,
        transport: Callable[[str], httpx.BaseTransport | None] | None = None,
        incidents: IncidentLog | None = None,
        tokens: TokenManager | None = None,
        settle: Callable[[int, str], object] | None = None,
    ) -> None:
        """``transport`` gives the HTTP transport for a provider name (a sandbox in process
        for tests and the demo); by default connectors open real connections.
        ``incidents`` records the webhook subscriptions a sweep found stopped, which tells
        the merchant. ``settle(ticket_id, explanation)`` resolves the ticket of
        subscriptions salesync switched on again, once the sweep has read what they
        missed (the ticket desk's ``resolve``: the merchant is told it is fixed). With
        ``tokens``, connectors refresh (and persist) a connection's rotating tokens."""
        self.settle = settle
        self.tokens = tokens
        self.factory = factory
        self.clock = clock
        self.vault = vault
        self.registry = registry
        self.transport = transport or (lambda provider: None)
        self.incidents = incidents

    def client(self, tenant_id: str, connection_id: str) -> SourceClient:
        """An open client on the connection's account (the caller closes it)."""
        with self.factory() as session:
            connections = Connections(session, tenant_id, self.vault)
            info = connections.info(connection_id)
            opened = connections.opened(connection_id)
        if self.tokens is not None:
            opened = replace(opened, token=ConnectionTokens(self.tokens, tenant_id, connection_id))
        source = (self.registry or sources()).get(info.provider)
        return source.connect(opened, self.transport(info.provider))

    def cursor(self, connection_id: str, stream: str) -> str | None:
        with self.factory() as session:
            row = session.get(SourceCursorRow, (connection_id, stream))
            return row.cursor if row is not None else None

    def sweep(
        self,
        tenant_id: str,
        connection_id: str,
        streams: tuple[str, ...] | None = None,
        *,
        max_pages: int | None = None,
    ) -> SweepReport:
        """Read every stream (or ``streams``) from its saved cursor until the source has
        no more, or ``max_pages`` per stream; provider errors propagate as ``SyncError``
        with everything before them kept."""
        report = SweepReport()
        ticket_id: int | None = None
        with recorded(self.factory, self.clock, "sweep", tenant_id) as run:
            client = self.client(tenant_id, connection_id)
            try:
                source = (self.registry or sources()).get(client.name)
                if isinstance(client, SubscriptionKeeper):
                    report.repairs = client.keep_subscriptions()
                    ticket_id = self._tell(tenant_id, connection_id, client.name, report.repairs)
                for stream in streams or source.capabilities.streams:
                    self._stream(tenant_id, client, stream, report, max_pages)
            finally:
                client.close()
            run.update(pages=report.pages, records=report.records, duplicates=report.duplicates)
        if ticket_id is not None and _restored(report.repairs) and self.settle is not None:
            self._settle(self.settle, ticket_id, report)
        return report

    @staticmethod
    def _settle(settle: Callable[[int, str], object], ticket_id: int, report: SweepReport) -> None:
        topics = ", ".join(sorted(r.topic for r in report.repairs))
        explanation = (
            f"salesync switched the stopped webhooks ({topics}) back on and read your "
            f"store's recent activity again ({report.records} record(s)), so nothing they "
            "missed is lost. New activity arrives as it happens again."
        )
        try:
            settle(ticket_id, explanation)
        except Exception:  # the ticket stays open for a person; the sweep itself succeeded
            log.exception("webhook_ticket_not_settled", ticket=ticket_id)

    def _tell(
        self,
        tenant_id: str,
        connection_id: str,
        provider: str,
        repairs: tuple[SubscriptionRepair, ...],
    ) -> int | None:
        """One incident for the subscriptions found stopped, and its ticket's id. When one
        of them only the merchant can turn on, the ticket asks them to; when salesync
        switched them all on again, it is resolved after the sweep (see ``_settle``).
        The sweep that follows brings in what the lost deliveries carried."""
        if not repairs or self.incidents is None:
            return None
        topics = ", ".join(sorted(r.topic for r in repairs))
        error = SyncError(
            f"{provider} webhook subscriptions were found stopped: {topics}",
            user_message=" ".join(r.message for r in repairs)
            + " salesync's sweep fetches anything they missed.",
            kind=ErrorKind.TRANSIENT,
            code=WEBHOOK_RESTORED if _restored(repairs) else WEBHOOK_STOPPED,
            provider=provider,
            operation="webhooks.keep",
            connection=connection_id,
            details={
                "repairs": [
                    {"topic": r.topic, "found": r.found, "action": r.action} for r in repairs
                ]
            },
        )
        with self.factory() as session, session.begin():
            incident = self.incidents.record(
                session,
                tenant_id,
                Failure(
                    error=error,
                    stage="connector",
                    subject=f"connection:{connection_id}",
                    failed_at=self.clock(),
                    connection_id=connection_id,
                ),
            )
            return incident.ticket_id

    def _stream(
        self,
        tenant_id: str,
        client: SourceClient,
        stream: str,
        report: SweepReport,
        max_pages: int | None,
    ) -> None:
        connection_id = client.connection_id or ""
        cursor = self.cursor(connection_id, stream)
        pages = 0
        while max_pages is None or pages < max_pages:
            page = client.fetch(stream, cursor)
            self._store(tenant_id, client, stream, page, report)
            pages += 1
            cursor = page.cursor
            if not page.more:
                break
        report.cursors[stream] = cursor

    def _store(
        self, tenant_id: str, client: SourceClient, stream: str, page: Page, report: SweepReport
    ) -> None:
        with self.factory() as session, session.begin():
            inbox = Inbox(session, tenant_id, self.clock)
            for record in page.records:
                received = inbox.receive(
                    client.name,
                    record.record_type,
                    record.payload,
                    event_id=record.event_id,
                    connection_id=client.connection_id,
                )
                report.duplicates += received.is_duplicate
                report.records += not received.is_duplicate
            connection_id = client.connection_id or ""
            row = session.get(SourceCursorRow, (connection_id, stream))
            if row is None:
                row = SourceCursorRow(
                    connection_id=connection_id, stream=stream, tenant_id=tenant_id, records=0
                )
                session.add(row)
            row.cursor = page.cursor
            row.records += len(page.records)
            row.swept_at = self.clock()
            report.pages += 1

    def sweep_all(self, tenant_id: str) -> dict[str, SweepReport]:
        """Sweep every active source connection of the tenant whose source can sweep."""
        with self.factory() as session:
            query = select(ConnectionRow.id, ConnectionRow.provider).where(
                ConnectionRow.tenant_id == tenant_id,
                ConnectionRow.role == "source",
                ConnectionRow.status == "active",
            )
            wanted = [(r.id, r.provider) for r in session.execute(query)]
        out: dict[str, SweepReport] = {}
        for connection_id, provider in wanted:
            if (self.registry or sources()).get(provider).capabilities.streams:
                out[connection_id] = self.sweep(tenant_id, connection_id)
        return out


class DueSweeps:
    """The background share of the sweep: every active source connection whose source
    reads streams is swept every ``every``, so a sale whose webhook was lost, or that has
    none (a polling-only source), still arrives without anyone running `salesync sweep`.

    A connection is due when a stream of it was last swept ``every`` ago (or never), and
    not tried in the last ``every`` (a failing sweep is not asked again every pass). A
    sweep that fails becomes an incident of its connection; the others go on.
    """

    def __init__(self, sweeper: Sweeper, every: timedelta = SWEEP_EVERY) -> None:
        self.sweeper = sweeper
        self.every = every
        self._tried: dict[str, datetime] = {}

    def due(self) -> list[tuple[str, str]]:
        """(tenant, connection) pairs to sweep now, the longest unswept first."""
        now = self.sweeper.clock()
        last = (
            select(
                SourceCursorRow.connection_id,
                func.min(SourceCursorRow.swept_at).label("swept_at"),
            )
            .group_by(SourceCursorRow.connection_id)
            .subquery()
        )
        query = (
            select(
                ConnectionRow.tenant_id, ConnectionRow.id, ConnectionRow.provider, last.c.swept_at
            )
            .outerjoin(last, last.c.connection_id == ConnectionRow.id)
            .where(ConnectionRow.role == "source", ConnectionRow.status == "active")
            .order_by(last.c.swept_at.is_not(None), last.c.swept_at, ConnectionRow.id)
        )
        registry = self.sweeper.registry or sources()
        installed = set(registry.names())
        with self.sweeper.factory() as session:
            rows = session.execute(query).all()
        found = []
        for tenant_id, connection_id, provider, swept_at in rows:
            if provider not in installed or not registry.get(provider).capabilities.streams:
                continue
            tried = self._tried.get(connection_id)
            if (swept_at is None or now - swept_at >= self.every) and (
                tried is None or now - tried >= self.every
            ):
                found.append((tenant_id, connection_id))
        return found

    def tried(self, connection_id: str) -> None:
        """Count ``connection_id`` as tried now (a sweep sent to a worker, or begun)."""
        self._tried[connection_id] = self.sweeper.clock()

    def sweep(self, tenant_id: str, connection_id: str) -> SweepReport | None:
        """Sweep one connection; a failure is recorded as an incident and ``None``."""
        self.tried(connection_id)
        try:
            return self.sweeper.sweep(tenant_id, connection_id)
        except SyncError as exc:
            log.warning("sweep_failed", connection=connection_id, reason=exc.message)
            if self.sweeper.incidents is None:
                return None
            with self.sweeper.factory() as session, session.begin():
                self.sweeper.incidents.record(
                    session,
                    tenant_id,
                    Failure(
                        error=exc,
                        stage="connector",
                        subject=f"connection:{connection_id}",
                        failed_at=self.sweeper.clock(),
                        connection_id=connection_id,
                    ),
                )
            return None

    def tick(self) -> dict[str, SweepReport | None]:
        """Sweep every connection due now."""
        return {c: self.sweep(t, c) for t, c in self.due()}
