"""The sweep asks clients that keep webhook subscriptions to repair them first, reports
what was found stopped, and records it as an incident: one salesync repaired is resolved
after the sweep, one only the merchant can repair asks them to."""

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
from salesync.domain.tickets import TicketState
from salesync.engine.incidents import IncidentLog
from salesync.engine.sweep import WEBHOOK_RESTORED, WEBHOOK_STOPPED, Sweeper
from salesync.monitor.desk import TicketDesk, resolved_hook
from salesync.monitor.loop import notice_hook
from salesync.monitor.notify import Contacts
from salesync.store.repositories import Connections
from salesync.store.tables import IncidentRow, NoticeRow, TicketRow
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
    desk = TicketDesk(db, clock, resolved=resolved_hook(clock))
    sweeper = Sweeper(
        db,
        clock,
        vault,
        registry=registry,
        incidents=incidents,
        settle=lambda ticket, why: desk.resolve(ticket, "salesync", why),
    )
    return connection, list(sweeper.sweep(tenant, connection).repairs)


@pytest.mark.parametrize("told", [True, False])
def test_stopped_subscriptions_are_repaired_before_reading_and_the_ticket_settled(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant, told: bool
) -> None:
    """Repairs come before the first page and are reported; with an incident log, one
    incident for the connection, whose ticket is resolved after the sweep: the merchant
    hears once, that it is fixed, and nothing is asked of them."""
    client = HookedClient((STOPPED,))
    incidents = IncidentLog(clock, on_ticket=notice_hook(clock)) if told else None
    connection, repairs = sweep(db, clock, merchant, client, incidents)
    assert repairs == [STOPPED]
    assert client.calls == ["keep", "fetch"]
    with db() as session:
        recorded = session.scalars(select(IncidentRow)).all()
        notices = session.scalars(select(NoticeRow)).all()
        tickets = session.scalars(select(TicketRow)).all()
    if not told:
        assert (recorded, notices, tickets) == ([], [], [])
        return
    [incident] = recorded
    assert (incident.code, incident.subject) == (WEBHOOK_RESTORED, f"connection:{connection}")
    [ticket] = tickets
    assert (ticket.state, ticket.merchant_action) == (TicketState.RESOLVED.value, False)
    assert "switched the stopped webhooks (order.created) back on" in (ticket.resolution or "")
    [notice] = notices
    assert notice.reason == "resolved"
    assert "it is on again" in notice.body
    assert "No, nothing" in notice.body


def test_a_subscription_only_the_merchant_can_turn_on_asks_them_to(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """When one stopped subscription could not be switched on by salesync, the ticket
    stays open and the merchant is asked to act."""
    paused = SubscriptionRepair(
        "order.updated", "paused", "none", "The update webhook is paused; turn it on."
    )
    client = HookedClient((STOPPED, paused))
    sweep(db, clock, merchant, client, IncidentLog(clock, on_ticket=notice_hook(clock)))
    with db() as session:
        [incident] = session.scalars(select(IncidentRow)).all()
        [ticket] = session.scalars(select(TicketRow)).all()
        [notice] = session.scalars(select(NoticeRow)).all()
    assert incident.code == WEBHOOK_STOPPED
    assert (ticket.state, ticket.merchant_action) == (TicketState.OPEN.value, True)
    assert notice.reason == "action_needed"
    assert "turn it on" in notice.body


def test_a_ticket_that_cannot_be_settled_stays_open_and_the_sweep_succeeds(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """A resolve that fails leaves the ticket for a person; the sweep's records stand."""

    def refuse(ticket: int, explanation: str) -> None:
        raise RuntimeError("the desk is down")

    registry = SourceRegistry(points=[])
    client = HookedClient((STOPPED,))
    registry.add(HookedSource(client))
    vault = Vault([new_key()])
    tenant = merchant.tenant.id
    with db() as session, session.begin():
        connection = Connections(session, tenant, vault).add(NAME, "source", "Shop", {}, {})
    sweeper = Sweeper(
        db, clock, vault, registry=registry, incidents=IncidentLog(clock), settle=refuse
    )
    assert sweeper.sweep(tenant, connection).repairs == (STOPPED,)
    with db() as session:
        [ticket] = session.scalars(select(TicketRow)).all()
    assert ticket.state == TicketState.OPEN.value


def test_nothing_is_recorded_when_every_subscription_is_running(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """A healthy set of subscriptions opens no incident."""
    client = HookedClient(())
    _, repairs = sweep(db, clock, merchant, client, IncidentLog(clock))
    assert repairs == []
    with db() as session:
        assert session.scalars(select(IncidentRow)).all() == []
