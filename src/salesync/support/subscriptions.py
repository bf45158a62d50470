"""Which plan a tenant is on, since when, and every change: the facts billing, developer
hours, escalation and the SLA clocks read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from salesync.store.tables import PlanChangeRow, SubscriptionRow, TenantRow
from salesync.support.periods import Period, local_day, period_at
from salesync.support.plans import Catalog, Plan


class SubscriptionError(ValueError):
    """A plan change that cannot be made; the message says why and what is possible."""


@dataclass(frozen=True, slots=True)
class Subscription:
    tenant_id: str
    plan: Plan
    started_at: datetime
    """Anchors the billing periods and the subscription years."""
    plan_since: datetime

    def anchor(self, zone: ZoneInfo) -> date:
        return local_day(self.started_at, zone)


@dataclass(frozen=True, slots=True)
class PlanChange:
    id: int
    tenant_id: str
    at: datetime
    plan: str
    previous: str | None
    actor: str
    note: str


class Subscriptions:
    """Tenants' subscriptions under one catalog; a tenant without one is on the catalog's
    default plan since it was created."""

    def __init__(self, session: Session, catalog: Catalog) -> None:
        self.session = session
        self.catalog = catalog
        self.zone = ZoneInfo(catalog.timezone)

    def get(self, tenant_id: str) -> Subscription:
        row = self.session.get(SubscriptionRow, tenant_id)
        if row is not None:
            return Subscription(tenant_id, self._plan(row.plan), row.started_at, row.plan_since)
        tenant = self.session.get(TenantRow, tenant_id)
        if tenant is None:
            raise KeyError(f"no tenant {tenant_id!r}")
        plan = self.catalog.plan(None)
        return Subscription(tenant_id, plan, tenant.created_at, tenant.created_at)

    def subscribe(self, tenant_id: str, plan: str, at: datetime, actor: str) -> Subscription:
        """Start a subscription on ``plan`` at ``at``; a tenant subscribes once, then changes."""
        chosen = self._plan(plan)
        if self.session.get(SubscriptionRow, tenant_id) is not None:
            raise SubscriptionError(
                f"tenant {tenant_id} is subscribed already; change its plan instead"
            )
        self.session.add(
            SubscriptionRow(
                tenant_id=tenant_id, plan=chosen.code, started_at=at, plan_since=at, updated_at=at
            )
        )
        self._record(tenant_id, at, chosen.code, None, actor=actor, note="subscribed")
        self.session.flush()
        return self.get(tenant_id)

    def change(
        self, tenant_id: str, plan: str, at: datetime, actor: str, note: str = ""
    ) -> PlanChange:
        """Put the tenant on ``plan`` from ``at``; the billing anchor stays where it was."""
        chosen = self._plan(plan)
        row = self.session.get(SubscriptionRow, tenant_id, with_for_update=True)
        if row is None:
            current = self.get(tenant_id)
            row = SubscriptionRow(
                tenant_id=tenant_id,
                plan=current.plan.code,
                started_at=current.started_at,
                plan_since=current.plan_since,
                updated_at=at,
            )
            self.session.add(row)
            self._record(
                tenant_id, current.started_at, current.plan.code, None, actor="salesync", note=""
            )
        if row.plan == chosen.code:
            raise SubscriptionError(f"tenant {tenant_id} is on {chosen.name} already")
        if at < row.plan_since:
            raise SubscriptionError(
                f"the plan changed last at {row.plan_since.isoformat()}; "
                "a change cannot be dated before that"
            )
        previous = row.plan
        row.plan, row.plan_since, row.updated_at = chosen.code, at, at
        change = self._record(tenant_id, at, chosen.code, previous, actor=actor, note=note)
        self.session.flush()
        return change

    def plan_at(self, tenant_id: str, at: datetime) -> Plan:
        """The plan in force at ``at``; before the first recorded plan, that first plan
        (a subscription starting at 01:00 is on it from its day's midnight)."""
        history = select(PlanChangeRow.plan).where(PlanChangeRow.tenant_id == tenant_id)
        found = self.session.scalar(
            history.where(PlanChangeRow.at <= at)
            .order_by(PlanChangeRow.at.desc(), PlanChangeRow.id.desc())
            .limit(1)
        ) or self.session.scalar(history.order_by(PlanChangeRow.at, PlanChangeRow.id).limit(1))
        return self._plan(found) if found is not None else self.get(tenant_id).plan

    def changes(self, tenant_id: str) -> list[PlanChange]:
        rows = self.session.scalars(
            select(PlanChangeRow)
            .where(PlanChangeRow.tenant_id == tenant_id)
            .order_by(PlanChangeRow.at, PlanChangeRow.id)
        )
        return [_change(r) for r in rows]

    def period(self, tenant_id: str, at: datetime) -> Period:
        """The billing period containing ``at``: a month, or a year on an annual plan."""
        subscription = self.get(tenant_id)
        months = self.plan_at(tenant_id, at).term.months
        return period_at(subscription.anchor(self.zone), months, at, self.zone)

    def year(self, tenant_id: str, at: datetime) -> Period:
        """The subscription year containing ``at``: it ends at the next renewal."""
        return period_at(self.get(tenant_id).anchor(self.zone), 12, at, self.zone)

    def _plan(self, code: str) -> Plan:
        try:
            return self.catalog.plan(code)
        except KeyError as error:
            raise SubscriptionError(error.args[0]) from None

    def _record(
        self,
        tenant_id: str,
        at: datetime,
        plan: str,
        previous: str | None,
        *,
        actor: str,
        note: str,
    ) -> PlanChange:
        row = PlanChangeRow(
            tenant_id=tenant_id, at=at, plan=plan, previous=previous, actor=actor, note=note
        )
        self.session.add(row)
        self.session.flush()
        return _change(row)


def _change(row: PlanChangeRow) -> PlanChange:
    return PlanChange(row.id, row.tenant_id, row.at, row.plan, row.previous, row.actor, row.note)
