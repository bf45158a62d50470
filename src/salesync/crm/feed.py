"""The CRM's pass in each engine tick, per tenant.

Customers and products first (they move in real time, and history never delays them),
then live sales whose sync window has come, then at most ``backfill_batch`` sales of the
initial import (a throttle: a large history is spread over many ticks), then the source's
later edits of sales already in the CRM (at their window too), then triggers that have
come due, then the messages they wrote. Each part commits on its own, so a failure in one
leaves the others' work in place, and every part is keyed so running it twice changes
nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, union
from sqlalchemy.orm import Session, sessionmaker

from salesync.crm.actions import TriggerActions
from salesync.crm.catalog import Catalog
from salesync.crm.clients import Clients
from salesync.crm.destination import CrmSales
from salesync.crm.mail import PENDING, SENT, CrmMail
from salesync.crm.triggers import DEFAULT_HORIZON, Triggers
from salesync.domain.documents import Customer
from salesync.engine.incidents import IncidentLog
from salesync.engine.runs import recorded
from salesync.store.repositories import Locations
from salesync.store.tables import CrmLinkRow, CrmMessageRow, CrmTriggerRow, CustomerRow, RunRow

PASS_EVERY = timedelta(minutes=15)
"""How often a tenant with timed CRM work gets a CRM pass when nothing else ticks it."""


def due_for_a_pass(session: Session, now: datetime, every: timedelta = PASS_EVERY) -> list[str]:
    """Tenants whose CRM has work that comes due with time alone (active N-days-after
    triggers, messages waiting to be sent) and whose CRM pass last ran ``every`` ago or
    never, the longest waiting first. A runner that ticks only tenants with work in the
    database (the Celery dispatcher) ticks these too, so a quiet shop's follow-ups still
    go out on their day."""
    timed = union(
        select(CrmTriggerRow.tenant_id).where(CrmTriggerRow.active.is_(True)),
        select(CrmMessageRow.tenant_id).where(
            CrmMessageRow.state == PENDING, CrmMessageRow.due_at <= now
        ),
    ).subquery()
    last = (
        select(RunRow.tenant_id, func.max(RunRow.started_at).label("at"))
        .where(RunRow.step == "crm", RunRow.tenant_id.in_(select(timed.c.tenant_id)))
        .group_by(RunRow.tenant_id)
        .subquery()
    )
    rows = session.execute(
        select(timed.c.tenant_id, last.c.at).outerjoin(last, last.c.tenant_id == timed.c.tenant_id)
    ).all()
    waiting = [(at, tenant) for tenant, at in rows if at is None or now - at >= every]
    return [tenant for at, tenant in sorted(waiting, key=lambda w: (w[0] is not None, w[0], w[1]))]


@dataclass(slots=True)
class CrmPass:
    """What one pass moved."""

    clients: int = 0
    products: int = 0
    sales: int = 0
    historical: int = 0
    triggers: int = 0
    messages: int = 0
    edited: int = 0


class CrmFeed:
    """Keeps the built-in CRM current; give it to ``Engine(after=...)``."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        clock: Callable[[], datetime],
        *,
        horizon: timedelta = DEFAULT_HORIZON,
        batch: int = 500,
        backfill_batch: int = 100,
        incidents: IncidentLog | None = None,
        mail: CrmMail | None = None,
    ) -> None:
        """``mail`` sends the messages fired triggers write (they wait unsent without
        it)."""
        if batch < 1 or backfill_batch < 1:
            raise ValueError("the CRM's batch sizes are 1 or more")
        self.factory = factory
        self.clock = clock
        self.horizon = horizon
        self.batch = batch
        self.backfill_batch = backfill_batch
        self.incidents = incidents
        self.mail = mail

    def __call__(self, tenant_id: str) -> CrmPass:
        done = CrmPass()
        with recorded(self.factory, self.clock, "crm", tenant_id, incidents=self.incidents) as run:
            with self.factory() as session, session.begin():
                done.clients = self._customers(session, tenant_id)
                done.products = Catalog(session, tenant_id, self.clock).sync(self.batch)
            done.sales = self._sales(tenant_id, historical=False, limit=self.batch)
            done.historical = self._sales(tenant_id, historical=True, limit=self.backfill_batch)
            with self.factory() as session, session.begin():
                done.edited = CrmSales(session, tenant_id, self.clock).edited(self.batch)
            with self.factory() as session, session.begin():
                locations = Locations(session, tenant_id).all()
                done.triggers += self._triggers(session, tenant_id).due_pass(locations, self.batch)
            if self.mail is not None:
                done.messages = self.mail.deliver_due(tenant_id, self.batch)[SENT]
            run.update(
                messages=done.messages,
                clients=done.clients,
                products=done.products,
                sales=done.sales,
                historical=done.historical,
                edited=done.edited,
                triggers=done.triggers,
            )
        return done

    def _triggers(self, session: Session, tenant_id: str) -> Triggers:
        clients = Clients(session, tenant_id, self.clock)
        return Triggers(
            session, tenant_id, self.clock, horizon=self.horizon, act=TriggerActions(clients)
        )

    def _customers(self, session: Session, tenant_id: str) -> int:
        """Bring in the directory's customers that are new or changed since last seen."""
        link = CrmLinkRow
        changed = session.scalars(
            select(CustomerRow)
            .outerjoin(
                link,
                and_(link.tenant_id == CustomerRow.tenant_id, link.customer_id == CustomerRow.id),
            )
            .where(
                CustomerRow.tenant_id == tenant_id,
                or_(
                    link.customer_id.is_(None),
                    link.name != CustomerRow.name,
                    link.email.is_distinct_from(CustomerRow.email),
                    link.phone.is_distinct_from(CustomerRow.phone),
                ),
            )
            .order_by(CustomerRow.id)
            .limit(self.batch)
        ).all()
        clients = Clients(session, tenant_id, self.clock)
        for row in changed:
            clients.from_source(Customer(row.id, tenant_id, row.name, row.email, row.phone))
        return len(changed)

    def _sales(self, tenant_id: str, *, historical: bool, limit: int) -> int:
        with self.factory() as session, session.begin():
            sales = CrmSales(session, tenant_id, self.clock)
            locations = {loc.id: loc for loc in Locations(session, tenant_id).all()}
            triggers = self._triggers(session, tenant_id)
            delivered = 0
            for row in sales.waiting(historical=historical, limit=limit):
                entry = sales.deliver(row, historical=historical)
                if entry is None:
                    continue
                delivered += 1
                triggers.on_delivery(entry, locations[row.location_id])
            return delivered
