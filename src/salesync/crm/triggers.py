"""Sales triggers: automations "N days after the sale".

A trigger is due at the start of the sale's local date plus N days, in the time zone of
the sale's location, and it fires only once the sale is in the CRM: a "0 days after"
trigger for a sale that arrives in a later sync window fires when the sale arrives; a
"3 days after" trigger fires on that day whenever the sale synced before it. Each
decision about a sale is one ``crm_firings`` row, unique per (trigger, sale), so no
trigger fires twice for one sale, whichever worker or pass gets there first. A trigger
due longer ago than the horizon (the sale arrived very late, or nothing ran for days) is
skipped and recorded, not fired late. Sales of the initial import (``historical``) and
sales that reached the CRM before the trigger existed are never considered.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from salesync.domain.documents import Location
from salesync.domain.errors import ValidationError
from salesync.domain.validation import Problem
from salesync.store.repositories import TenantScoped
from salesync.store.tables import CrmFiringRow, CrmSaleRow, CrmTriggerRow

DEFAULT_HORIZON = timedelta(days=2)
MAX_DAYS = 366


class TriggerAction(enum.StrEnum):
    THANK_YOU = "thank_you"
    FOLLOW_UP = "follow_up"
    REVIEW_REQUEST = "review_request"


class FiringState(enum.StrEnum):
    FIRED = "fired"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Trigger:
    id: int
    name: str
    action: TriggerAction
    days: int
    active: bool
    created_at: datetime

    @classmethod
    def of(cls, row: CrmTriggerRow) -> Trigger:
        action = TriggerAction(row.action)
        return cls(row.id, row.name, action, row.days, row.active, row.created_at)


Act = Callable[[Trigger, CrmSaleRow, CrmFiringRow], None]
"""What a fired trigger does (a message, a task), in the firing's transaction."""


def due_at(business_day: date, days: int, zone: ZoneInfo) -> datetime:
    """The instant a trigger "``days`` after the sale" is due: the start of the sale's
    local date plus ``days``, in its location's zone."""
    local = datetime.combine(business_day + timedelta(days=days), time(0), tzinfo=zone)
    return local.astimezone(ZoneInfo("UTC"))


class Triggers(TenantScoped):
    def __init__(
        self,
        session: Session,
        tenant_id: str,
        clock: Callable[[], datetime],
        *,
        horizon: timedelta = DEFAULT_HORIZON,
        act: Act | None = None,
    ) -> None:
        super().__init__(session, tenant_id)
        self.clock = clock
        self.horizon = horizon
        self.act = act

    def add(self, name: str, action: str, days: int) -> Trigger:
        """A new trigger; it applies to sales that reach the CRM from now on."""
        problems: list[Problem] = []
        if not name.strip():
            problems.append(Problem("empty_name", "give the trigger a name", "name"))
        elif self._named(name.strip()) is not None:
            problems.append(Problem("name_taken", f"a trigger is named {name!r}", "name"))
        if action not in set(TriggerAction):
            known = ", ".join(a.value for a in TriggerAction)
            problems.append(
                Problem("unknown_action", f"{action!r} is not one of {known}", "action")
            )
        if not 0 <= days <= MAX_DAYS:
            problems.append(
                Problem("bad_days", f"days after the sale is 0 to {MAX_DAYS}, not {days}", "days")
            )
        if problems:
            raise ValidationError(
                "trigger: " + "; ".join(str(p) for p in problems),
                code="invalid_trigger",
                problems=tuple(problems),
            )
        row = CrmTriggerRow(
            tenant_id=self.tenant_id,
            name=name.strip(),
            action=action,
            days=days,
            active=True,
            created_at=self.clock(),
        )
        self.session.add(row)
        self.session.flush()
        return Trigger.of(row)

    def set_active(self, trigger_id: int, active: bool) -> Trigger:
        row = self.session.get(CrmTriggerRow, trigger_id)
        if row is None or row.tenant_id != self.tenant_id:
            raise ValidationError(
                f"no trigger {trigger_id}",
                code="unknown_trigger",
                problems=(Problem("unknown_trigger", f"no trigger {trigger_id}", "trigger_id"),),
            )
        row.active = active
        self.session.flush()
        return Trigger.of(row)

    def all(self, *, active_only: bool = False) -> list[Trigger]:
        query = select(CrmTriggerRow).where(CrmTriggerRow.tenant_id == self.tenant_id)
        if active_only:
            query = query.where(CrmTriggerRow.active.is_(True))
        return [Trigger.of(r) for r in self.session.scalars(query.order_by(CrmTriggerRow.id))]

    def firings(self, document_id: str | None = None) -> list[CrmFiringRow]:
        query = select(CrmFiringRow).where(CrmFiringRow.tenant_id == self.tenant_id)
        if document_id is not None:
            query = query.where(CrmFiringRow.document_id == document_id)
        return list(self.session.scalars(query.order_by(CrmFiringRow.id)))

    def on_delivery(self, sale: CrmSaleRow, location: Location) -> int:
        """Decide every trigger already due for a sale that has just reached the CRM."""
        if sale.historical:
            return 0
        now = self.clock()
        decided = 0
        for trigger in self.all(active_only=True):
            due = due_at(sale.business_day, trigger.days, location.zone)
            if due <= now and trigger.created_at <= sale.synced_at:
                decided += self._decide(trigger, sale, due, now)
        return decided

    def due_pass(self, locations: Iterable[Location], limit: int = 500) -> int:
        """Decide the triggers that have come due for sales already in the CRM."""
        now = self.clock()
        decided = 0
        for trigger in self.all(active_only=True):
            for location in locations:
                latest = now.astimezone(location.zone).date() - timedelta(days=trigger.days)
                for sale in self._undecided(trigger, location.id, latest, limit - decided):
                    due = due_at(sale.business_day, trigger.days, location.zone)
                    decided += self._decide(trigger, sale, due, now)
                if decided >= limit:
                    return decided
        return decided

    def _undecided(
        self, trigger: Trigger, location_id: str, latest: date, limit: int
    ) -> list[CrmSaleRow]:
        return list(
            self.session.scalars(
                select(CrmSaleRow)
                .outerjoin(
                    CrmFiringRow,
                    and_(
                        CrmFiringRow.trigger_id == trigger.id,
                        CrmFiringRow.document_id == CrmSaleRow.document_id,
                    ),
                )
                .where(
                    CrmSaleRow.tenant_id == self.tenant_id,
                    CrmSaleRow.location_id == location_id,
                    CrmSaleRow.historical.is_(False),
                    CrmSaleRow.business_day <= latest,
                    CrmSaleRow.synced_at >= trigger.created_at,
                    CrmFiringRow.id.is_(None),
                )
                .order_by(CrmSaleRow.business_day, CrmSaleRow.document_id)
                .limit(max(limit, 0))
            )
        )

    def _decide(self, trigger: Trigger, sale: CrmSaleRow, due: datetime, now: datetime) -> int:
        """Record the one decision for (trigger, sale) and act on it; 0 when another pass
        recorded it first."""
        late = now - due
        state = FiringState.FIRED if late <= self.horizon else FiringState.SKIPPED
        reason = ""
        if state is FiringState.SKIPPED:
            reason = (
                f"due {due:%Y-%m-%d %H:%M} UTC, {_span(late)} before it could fire, beyond "
                f"the {_span(self.horizon)} horizon; not sent late"
            )
        row = CrmFiringRow(
            tenant_id=self.tenant_id,
            trigger_id=trigger.id,
            document_id=sale.document_id,
            state=state.value,
            due_at=due,
            at=now,
            reason=reason,
        )
        try:
            with self.session.begin_nested():
                self.session.add(row)
                self.session.flush()
                if state is FiringState.FIRED and self.act is not None:
                    self.act(trigger, sale, row)
        except IntegrityError:
            return 0
        return 1

    def _named(self, name: str) -> CrmTriggerRow | None:
        return self.session.scalar(
            select(CrmTriggerRow).where(
                CrmTriggerRow.tenant_id == self.tenant_id, CrmTriggerRow.name == name
            )
        )


def _span(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    if hours >= 48:
        return f"{hours // 24} days"
    return f"{hours} hours" if hours != 1 else "1 hour"
