"""Developer-hour entitlements: a ledger per tenant and subscription year.

Rules, as the ledger applies them:

- **Grants.** A year that starts on a metered plan (``developer_hours`` set) gets a
  ``grant`` of those hours, dated at its start (the renewal). A move onto a metered plan
  during the year (from a plan that is not metered) grants the catalog's
  ``short_period_hours`` when the renewal comes sooner than ``short_period_months``
  calendar months after the change, else the plan's full hours. One grant per year:
  granting again changes nothing, so ``renew_all`` is safe on every scheduler tick.
- **No rollover.** When a year ends, whatever is left of it is written off by a ``lapse``
  entry dated at the year's end; the next year starts from its own grant only.
- **Logging time** against a ticket of the tenant, in steps of the catalog's increment
  (15 minutes). Time on a regression (a salesync release caused it) or on a plan that is
  not metered but reaches developers is recorded as ``included``: kept for the audit and
  reports, never taken from the balance. On a metered plan a ``use`` takes from the
  balance and is refused when the balance is short. A plan that does not reach
  developers (support tier 1) cannot log time, regressions aside.
- **Extra time** is bought in blocks (``extra_time_block``, $250 per 30 minutes on
  Platinum) only on a plan with an ``extra_time_price`` and only once the balance is used
  up; a ``purchase`` adds the minutes and stores the invoice that billed them. A retried
  purchase with the same ``request_key`` returns the first one.
- Entries are only added, never changed: the ledger is the audit trail. Changes to one
  tenant's ledger lock its subscription row first, so two developers logging at once
  cannot overspend.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal, cast

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from salesync.store.tables import HourEntryRow, SubscriptionRow, TenantRow, TicketRow
from salesync.support.periods import Period, local_day, period_at, shift_months
from salesync.support.plans import Catalog, Plan
from salesync.support.subscriptions import PlanChange, SubscriptionError, Subscriptions

log = structlog.get_logger("salesync.support")

EntryKind = Literal["grant", "use", "included", "purchase", "lapse"]
Bill = Callable[[Session, str, int, datetime, str, str], int]
"""``bill(session, tenant_id, blocks, at, actor, key) -> invoice id``: issues the invoice
for extra developer time, once per ``key``."""


class HoursError(ValueError):
    """Developer time that cannot be logged or bought; the message says what to do."""


@dataclass(frozen=True, slots=True)
class HourEntry:
    """One line of the ledger; ``minutes`` is signed (+grant/+purchase, -use/-lapse) but
    positive for ``included`` time, which never counts against the balance."""

    id: int
    tenant_id: str
    year_start: datetime
    at: datetime
    entry: EntryKind
    minutes: int
    ticket_id: int | None
    invoice_id: int | None
    actor: str
    note: str


@dataclass(frozen=True, slots=True)
class Balance:
    """A subscription year's developer time, in minutes."""

    year: Period
    metered: bool
    granted: int
    used: int
    purchased: int
    lapsed: int
    remaining: int
    included: int = 0
    """Time logged that did not count (regressions, unmetered plans)."""

    @property
    def hours(self) -> Decimal:
        """``remaining`` in hours."""
        return Decimal(self.remaining) / 60


class DeveloperHours:
    """The developer-hour ledger of every tenant under one catalog."""

    def __init__(self, session: Session, catalog: Catalog, bill: Bill | None = None) -> None:
        self.session = session
        self.catalog = catalog
        self.bill = bill
        self.subscriptions = Subscriptions(session, catalog)
        self.step = int(catalog.entitlements.increment / timedelta(minutes=1))

    def balance(self, tenant_id: str, at: datetime) -> Balance:
        """The subscription year containing ``at``, as the ledger has it."""
        year = self.subscriptions.year(tenant_id, at)
        totals = dict.fromkeys(("grant", "use", "included", "purchase", "lapse"), 0)
        for entry in self.entries(tenant_id, year.start):
            totals[entry.entry] += entry.minutes
        return Balance(
            year=year,
            metered=self.subscriptions.plan_at(tenant_id, at).metered,
            granted=totals["grant"],
            used=-totals["use"],
            purchased=totals["purchase"],
            lapsed=-totals["lapse"],
            remaining=totals["grant"] + totals["purchase"] + totals["use"] + totals["lapse"],
            included=totals["included"],
        )

    def entries(self, tenant_id: str, year_start: datetime | None = None) -> list[HourEntry]:
        """The tenant's ledger (or one year of it), oldest first."""
        query = select(HourEntryRow).where(HourEntryRow.tenant_id == tenant_id)
        if year_start is not None:
            query = query.where(HourEntryRow.year_start == year_start)
        rows = self.session.scalars(query.order_by(HourEntryRow.at, HourEntryRow.id))
        return [_entry(row) for row in rows]

    def renew(self, tenant_id: str, at: datetime) -> list[HourEntry]:
        """Lapse what is left of finished years and grant the current year where due;
        returns the entries written (none when the ledger is up to date)."""
        self._lock(tenant_id)
        written = self._lapse(tenant_id, at)
        year = self.subscriptions.year(tenant_id, at)
        if not self._has(tenant_id, year.start, "grant"):
            due = self._grant_due(tenant_id, year, at)
            if due is not None:
                minutes, granted_at, note = due
                written.append(
                    self._add(
                        tenant_id, year, granted_at, "grant", minutes, actor="salesync", note=note
                    )
                )
        return written

    def renew_all(self, at: datetime) -> int:
        """``renew`` every tenant; returns how many entries were written. A tenant whose
        plan the catalog no longer has is reported and skipped, the others go on."""
        tenants = self.session.scalars(select(TenantRow.id).order_by(TenantRow.id)).all()
        written = 0
        for tenant in tenants:
            try:
                with self.session.begin_nested():
                    written += len(self.renew(tenant, at))
            except SubscriptionError as error:
                log.error("hours_not_renewed", tenant=tenant, error=str(error))
        return written

    def on_plan_change(self, change: PlanChange) -> list[HourEntry]:
        """Grant the hours due when ``change`` moved the tenant onto a metered plan."""
        return self.renew(change.tenant_id, change.at)

    def log(
        self,
        tenant_id: str,
        ticket_id: int,
        minutes: int,
        actor: str,
        at: datetime,
        *,
        note: str = "",
    ) -> HourEntry:
        """Record ``minutes`` of developer time on a ticket of the tenant."""
        if minutes <= 0 or minutes % self.step:
            steps = ", ".join(str(self.step * n) for n in (1, 2, 3))
            raise HoursError(f"log time in {self.step}-minute steps: {steps}, ...")
        ticket = self.session.get(TicketRow, ticket_id)
        if ticket is None or ticket.tenant_id != tenant_id:
            raise HoursError(f"ticket {ticket_id} is not one of {tenant_id}'s tickets")
        self.renew(tenant_id, at)
        year = self.subscriptions.year(tenant_id, at)
        plan = self.subscriptions.plan_at(tenant_id, at)
        kind: EntryKind = "included"
        if ticket.regression:
            note = note or f"regression in {ticket.regression}: included"
        elif plan.support_tier < 2:
            upgrade = next(
                (p for p in self.catalog.upgrades(plan.code) if p.support_tier >= 2), None
            )
            hint = f"; it comes with {upgrade.name}" if upgrade else ""
            raise HoursError(f"developer time is not part of the {plan.name} plan{hint}")
        elif plan.metered:
            left = self.balance(tenant_id, at).remaining
            if left < minutes:
                raise HoursError(self._short(plan, minutes, left, year))
            kind, minutes = "use", -minutes
        return self._add(
            tenant_id, year, at, kind, minutes, actor=actor, note=note, ticket_id=ticket_id
        )

    def buy(
        self,
        tenant_id: str,
        blocks: int,
        actor: str,
        at: datetime,
        request_key: str | None = None,
    ) -> HourEntry:
        """Buy ``blocks`` of extra developer time, billed at once; a retry with the same
        ``request_key`` returns the earlier purchase."""
        if blocks <= 0:
            raise HoursError("buy at least one block of extra time")
        if request_key is not None and not 0 < len(request_key) <= 100:
            raise HoursError("a request key is 1 to 100 characters")
        self.renew(tenant_id, at)
        if request_key is not None:
            earlier = self.session.scalar(
                select(HourEntryRow).where(
                    HourEntryRow.tenant_id == tenant_id,
                    HourEntryRow.request_key == request_key,
                )
            )
            if earlier is not None:
                return _entry(earlier)
        plan = self.subscriptions.plan_at(tenant_id, at)
        if plan.extra_time_price is None:
            offers = [p.name for p in self.catalog.plans.values() if p.extra_time_price is not None]
            where = f"; it is offered on {', '.join(offers)}" if offers else ""
            raise HoursError(
                f"extra developer time cannot be bought on the {plan.name} plan{where}"
            )
        left = self.balance(tenant_id, at).remaining
        if left > 0:
            raise HoursError(
                f"{_verb(left, 'still available')}; extra time can be bought once they are used"
            )
        if self.bill is None:
            raise HoursError("extra time cannot be bought here: no billing is set up")
        key = f"hours:{request_key or uuid.uuid4().hex}"
        invoice_id = self.bill(self.session, tenant_id, blocks, at, actor, key)
        block = int(plan.extra_time_block / timedelta(minutes=1))
        year = self.subscriptions.year(tenant_id, at)
        return self._add(
            tenant_id,
            year,
            at,
            "purchase",
            blocks * block,
            actor=actor,
            note="",
            invoice_id=invoice_id,
            request_key=request_key,
        )

    def _lock(self, tenant_id: str) -> None:
        # Serializes changes to one tenant's ledger (a no-op on SQLite, whose writers are
        # serialized anyway); a tenant without a subscription row is on the default plan.
        self.session.get(SubscriptionRow, tenant_id, with_for_update=True)

    def _grant_due(
        self, tenant_id: str, year: Period, at: datetime
    ) -> tuple[int, datetime, str] | None:
        # The first year begins at the local midnight of the day the subscription started,
        # which is before the subscription (and its first recorded plan) existed.
        begins = max(year.start, self.subscriptions.get(tenant_id).started_at)
        plan = self.subscriptions.plan_at(tenant_id, begins)
        if plan.developer_hours is not None:
            return _minutes(plan.developer_hours), begins, f"{plan.name} renewal"
        for change in self.subscriptions.changes(tenant_id):
            if not year.start <= change.at <= at:
                continue
            moved = self.catalog.plans.get(change.plan)
            before = self.catalog.plans.get(change.previous or "")
            if moved is None or moved.developer_hours is None or (before and before.metered):
                continue
            policy = self.catalog.entitlements
            months_later = shift_months(
                local_day(change.at, self.subscriptions.zone), policy.short_period_months
            )
            if months_later > year.last_day + timedelta(days=1):
                hours = min(policy.short_period_hours, moved.developer_hours)
                note = f"{moved.name} taken up with under {policy.short_period_months} months to go"
                return _minutes(hours), change.at, note
            return _minutes(moved.developer_hours), change.at, f"{moved.name} taken up"
        return None

    def _lapse(self, tenant_id: str, at: datetime) -> list[HourEntry]:
        current = self.subscriptions.year(tenant_id, at)
        starts = self.session.scalars(
            select(HourEntryRow.year_start)
            .where(HourEntryRow.tenant_id == tenant_id, HourEntryRow.year_start < current.start)
            .distinct()
        ).all()
        anchor = self.subscriptions.get(tenant_id).anchor(self.subscriptions.zone)
        written = []
        for start in sorted(starts):
            if self._has(tenant_id, start, "lapse"):
                continue
            year = period_at(anchor, 12, start, self.subscriptions.zone)
            left = self.balance(tenant_id, start).remaining
            if left > 0:
                note = "unused hours do not roll over"
                written.append(
                    self._add(
                        tenant_id, year, year.end, "lapse", -left, actor="salesync", note=note
                    )
                )
        return written

    def _has(self, tenant_id: str, year_start: datetime, entry: EntryKind) -> bool:
        found = self.session.scalar(
            select(HourEntryRow.id)
            .where(
                HourEntryRow.tenant_id == tenant_id,
                HourEntryRow.year_start == year_start,
                HourEntryRow.entry == entry,
            )
            .limit(1)
        )
        return found is not None

    def _add(
        self,
        tenant_id: str,
        year: Period,
        at: datetime,
        entry: EntryKind,
        minutes: int,
        *,
        actor: str,
        note: str,
        ticket_id: int | None = None,
        invoice_id: int | None = None,
        request_key: str | None = None,
    ) -> HourEntry:
        row = HourEntryRow(
            tenant_id=tenant_id,
            year_start=year.start,
            at=at,
            entry=entry,
            minutes=minutes,
            ticket_id=ticket_id,
            invoice_id=invoice_id,
            request_key=request_key,
            actor=actor,
            note=note,
        )
        self.session.add(row)
        self.session.flush()
        return _entry(row)

    def _short(self, plan: Plan, minutes: int, left: int, year: Period) -> str:
        renewal = (year.last_day + timedelta(days=1)).isoformat()
        if left == 0:
            message = f"the developer hours of this subscription year (until {renewal}) are used up"
        else:
            message = (
                f"{describe(minutes)} asked but only {_verb(left, 'left')} until {renewal}; "
                f"log {describe(left)} first"
            )
        if plan.extra_time_price is None:
            return f"{message}; the {plan.name} plan offers no extra time"
        return f"{message}; extra time can then be bought (buy)"


def describe(minutes: int) -> str:
    """``135`` -> ``"2 hours 15 minutes"``."""
    hours, rest = divmod(minutes, 60)
    parts = [f"{hours} hour{'s' * (hours != 1)}"] if hours else []
    if rest or not hours:
        parts.append(f"{rest} minute{'s' * (rest != 1)}")
    return " ".join(parts)


def _verb(minutes: int, state: str) -> str:
    """``"30 minutes are left"``, ``"1 hour is left"``."""
    return f"{describe(minutes)} {'is' if minutes in {1, 60} else 'are'} {state}"


def _minutes(hours: Decimal) -> int:
    return int(hours * 60)


def _entry(row: HourEntryRow) -> HourEntry:
    return HourEntry(
        id=row.id,
        tenant_id=row.tenant_id,
        year_start=row.year_start,
        at=row.at,
        entry=cast(EntryKind, row.entry),
        minutes=row.minutes,
        ticket_id=row.ticket_id,
        invoice_id=row.invoice_id,
        actor=row.actor,
        note=row.note,
    )
