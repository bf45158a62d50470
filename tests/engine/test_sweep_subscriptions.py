"""The sweep asks clients that keep webhook subscriptions to repair them first, reports
what was found stopped, and records it as an incident that tells the merchant."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.connectors.registry import SourceRegistry
from salesync.connectors.source import (
    Page,
    SourceCapabilities,
    SourceClient,
    SourceConnection,
    SourceContext,
    SourceRecord,
    SubscriptionRepair,
    Translated,
    Webhook,
    WebhookRequest,
)
from salesync.domain.documents import DocumentKind
from salesync.domain.simulate import DemoMerchant
from salesync.engine.incidents import IncidentLog
from salesync.engine.sweep import WEBHOOK_STOPPED, Sweeper
from salesync.monitor.loop import notice_hook
from salesync.monitor.notify import Contacts
from salesync.store.repositories import Connections
from salesync.store.tables import IncidentRow, NoticeRow
from salesync.store.vault import Vault, new_key

NAME = "hooked"
STOPPED = SubscriptionRepair(
    "order.created", "disabled", "reactivated", "The order webhook was off; it is on again."
)


@dataclass
class HookedClient:
    """A client whose provider had stopped ``repairs``; it notes the order of calls."""

    repairs: tuple[SubscriptionRepair, ...]
    calls: list[str] = field(default_factory=list)
    connection_id: str | None = None
    name: str = NAME

    def keep_subscriptions(self) -> tuple[SubscriptionRepair, ...]:
        self.calls.append("keep")
        return self.repairs

    def fetch(self, stream: str, cursor: str | None) -> Page:
        self.calls.append("fetch")
        return Page((), "end", more=False)

    def history(self, start: datetime, end: datetime) -> Iterator[SourceRecord]:
        return iter(())

    def close(self) -> None:
        pass


class HookedSource:
    name = NAME
    capabilities = SourceCapabilities(
        kinds=frozenset({DocumentKind.SALE}), webhooks=True, streams=("orders",)
    )

    def __init__(self, client: HookedClient) -> None:
        self.client = client

    def verify(self, request: WebhookRequest, connection: SourceConnection) -> Webhook:
        raise NotImplementedError

    def translate(self, record_type: str, payload: str, context: SourceContext) -> Translated:
        raise NotImplementedError

    def connect(
        self, connection: SourceConnection, transport: httpx.BaseTransport | None = None
    ) -> SourceClient:
        self.client.connection_id = connection.connection_id
        return self.client


def sweep(
    db: sessionmaker[Session],
    clock: ManualClock,
    merchant: DemoMerchant,
    client: HookedClient,
    incidents: IncidentLog | None,
) -> tuple[str, list[SubscriptionRepair]]:
    registry = SourceRegistry(points=[])
    registry.add(HookedSource(client))
    vault = Vault([new_key()])
    tenant = merchant.tenant.id
    with db() as session, session.begin():
        connection = Connections(session, tenant, vault).add(NAME, "source", "Shop", {}, {})
        Contacts(session, tenant).add("owner@acme.test", name="Olive")
    sweeper = Sweeper(db, clock, vault, registry=registry, incidents=incidents)
    return connection, list(sweeper.sweep(tenant, connection).repairs)


@pytest.mark.parametrize("told", [True, False])
def test_stopped_subscriptions_are_repaired_before_reading_and_told(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant, told: bool
) -> None:
    """Repairs come before the first page and are reported; with an incident log, one
    incident for the connection queues the merchant's notice."""
    client = HookedClient((STOPPED,))
    incidents = IncidentLog(clock, on_ticket=notice_hook(clock)) if told else None
    connection, repairs = sweep(db, clock, merchant, client, incidents)
    assert repairs == [STOPPED]
    assert client.calls == ["keep", "fetch"]
    with db() as session:
        recorded = session.scalars(select(IncidentRow)).all()
        notices = session.scalars(select(NoticeRow)).all()
    if not told:
        assert (recorded, notices) == ([], [])
        return
    [incident] = recorded
    assert (incident.code, incident.subject) == (WEBHOOK_STOPPED, f"connection:{connection}")
    [notice] = notices
    assert "it is on again" in notice.body


def test_nothing_is_recorded_when_every_subscription_is_running(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """A healthy set of subscriptions opens no incident."""
    client = HookedClient(())
    _, repairs = sweep(db, clock, merchant, client, IncidentLog(clock))
    assert repairs == []
    with db() as session:
        assert session.scalars(select(IncidentRow)).all() == []
