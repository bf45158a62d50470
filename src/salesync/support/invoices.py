"""Invoices in the database: each billing period's invoice issued once it is due, upgrades
billed when the plan changes, extra developer time billed when it is bought, and a
tenant's invoices read back.

The amounts come from ``billing`` (which documents the billing model); this module gathers
the facts they are computed from (the plans in force, when each location was active) and
keeps every invoice unique per (tenant, kind, key), so issuing is safe to repeat on every
scheduler tick and from concurrent workers. An invoice is a snapshot of the facts when it
is issued: a fact dated into an already invoiced period later is not billed again.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any, cast
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from salesync.domain.money import Money
from salesync.store.tables import (
    InvoiceLineRow,
    InvoiceRow,
    LocationPeriodRow,
    LocationRow,
    TenantRow,
)
from salesync.support.billing import (
    BillingError,
    Invoice,
    InvoiceLine,
    Kind,
    LocationActivity,
    PlanSpan,
    Quote,
    adjustment_lines,
    arrears_lines,
    check_plan_change,
    extra_time_line,
    invoice_number,
    invoice_total,
    period_key,
    term_lines,
    upgrade_quote,
)
from salesync.support.periods import Period, local_day, period_at, period_number
from salesync.support.plans import Catalog, Plan, Term
from salesync.support.subscriptions import PlanChange, SubscriptionError, Subscriptions

__all__ = [
    "BillingError",
    "Invoice",
    "InvoiceLine",
    "Invoices",
    "PlanChanged",
    "Quote",
    "bill_extra_time",
    "change_plan",
    "quote_upgrade",
    "quote_upgrades",
]
_NUMBERING_ATTEMPTS = 5
log = structlog.get_logger("salesync.support")


@dataclass(frozen=True, slots=True)
class PlanChanged:
    """A plan change made, with the invoice it issued at once (an annual plan's)."""

    change: PlanChange
    invoice: Invoice | None


@dataclass(frozen=True, slots=True)
class _Draft:
    kind: Kind
    key: str
    plan: str
    period: Period
    lines: Sequence[InvoiceLine]
    due: datetime
    data: dict[str, Any] = field(default_factory=dict)


class Invoices:
    """Tenants' invoices under one catalog."""

    def __init__(self, session: Session, catalog: Catalog) -> None:
        self.session = session
        self.catalog = catalog
        self.subscriptions = Subscriptions(session, catalog)
        self.zone = ZoneInfo(catalog.timezone)
        self.currency = catalog.currency

    def list(self, tenant_id: str) -> list[Invoice]:
        """The tenant's invoices, oldest first."""
        rows = self.session.scalars(
            select(InvoiceRow)
            .where(InvoiceRow.tenant_id == tenant_id)
            .order_by(InvoiceRow.issued_at, InvoiceRow.id)
        )
        return [self._invoice(row) for row in rows]

    def get(self, tenant_id: str, invoice_id: int) -> Invoice | None:
        """The tenant's invoice ``invoice_id``; None for another tenant's."""
        row = self.session.get(InvoiceRow, invoice_id)
        return self._invoice(row) if row is not None and row.tenant_id == tenant_id else None

    def issue_due(self, tenant_id: str, at: datetime) -> builtins.list[Invoice]:
        """Issue every period invoice due by ``at`` that is not issued yet (each ended month
        of a monthly plan, each started year of an annual one, an annual plan taken up
        mid-year) and return those newly issued. A period with nothing to bill gets none."""
        spans, change_ids = self._spans(tenant_id)
        locations = self._locations(tenant_id)
        issued = set(
            self.session.scalars(
                select(InvoiceRow.key).where(
                    InvoiceRow.tenant_id == tenant_id, InvoiceRow.kind.in_(("period", "upgrade"))
                )
            )
        )
        anchor = self.subscriptions.get(tenant_id).anchor(self.zone)
        drafts = []
        for index, span in enumerate(spans):
            if span.plan.term is not Term.ANNUAL:
                continue
            for number in count(_year_number(anchor, span.since, self.zone)):
                year = period_number(anchor, 12, number, self.zone)
                billed_at = max(year.start, span.since)
                if billed_at > at or (span.until is not None and billed_at >= span.until):
                    break
                draft = self._term_draft(spans, change_ids, index, year, locations=locations)
                if draft.key not in issued:
                    drafts.append(draft)
        for number in count():
            month = period_number(anchor, 1, number, self.zone)
            if month.end > at:
                break
            if period_key(month) not in issued:
                drafts.extend(self._month_draft(anchor, month, spans, locations))
        drafts.sort(key=lambda d: (d.due, d.period.start))
        fresh = []
        for draft in drafts:
            invoice, created = self._issue(tenant_id, draft, at)
            if created:
                fresh.append(invoice)
        return fresh

    def issue_all_due(self, at: datetime) -> int:
        """Issue every tenant's due period invoices; how many were issued. A tenant whose
        plan the catalog no longer has is reported and not billed (at no price rather
        than a wrong one); the others are."""
        tenants = self.session.scalars(select(TenantRow.id).order_by(TenantRow.id)).all()
        issued = 0
        for tenant_id in tenants:
            try:
                with self.session.begin_nested():
                    issued += len(self.issue_due(tenant_id, at))
            except (SubscriptionError, BillingError) as error:
                log.error("invoices_not_issued", tenant=tenant_id, error=str(error))
        return issued

    def _month_draft(
        self,
        anchor: date,
        month: Period,
        spans: Sequence[PlanSpan],
        locations: Sequence[LocationActivity],
    ) -> builtins.list[_Draft]:
        lines = arrears_lines(
            month, spans, locations=locations, zone=self.zone, currency=self.currency
        )
        year = period_at(anchor, 12, month.start, self.zone)
        for span in spans:
            if span.plan.term is Term.ANNUAL:
                lines += adjustment_lines(
                    month, year, span, locations=locations, zone=self.zone, currency=self.currency
                )
        if not lines:
            return []
        last = month.end - timedelta(microseconds=1)
        plan = next(s.plan for s in reversed(spans) if s.since <= last)
        return [_Draft("period", period_key(month), plan.code, month, lines, due=month.end)]

    def _term_draft(
        self,
        spans: Sequence[PlanSpan],
        change_ids: Sequence[int | None],
        index: int,
        year: Period,
        *,
        locations: Sequence[LocationActivity],
    ) -> _Draft:
        """The invoice of annual ``spans[index]`` for ``year``: the whole year ahead when the
        plan starts with the year, the rest of it as an upgrade when taken up during one."""
        plan = spans[index].plan
        billed_at = max(year.start, spans[index].since)
        if local_day(billed_at, self.zone) == year.first_day:
            active = [loc for loc in locations if loc.active_at(billed_at)]
            lines = term_lines(plan, year, year.first_day, locations=active, currency=self.currency)
            return _Draft("period", period_key(year), plan.code, year, lines, due=billed_at)
        previous = spans[index - 1].plan if index else plan
        quote = upgrade_quote(
            previous,
            plan,
            year,
            billed_at,
            locations=locations,
            zone=self.zone,
            currency=self.currency,
        )
        key = f"plan-change-{change_ids[index]}"
        return _Draft("upgrade", key, plan.code, quote.period, quote.lines, due=billed_at)

    def _spans(self, tenant_id: str) -> tuple[builtins.list[PlanSpan], builtins.list[int | None]]:
        """The plans the tenant was on, in order, with the plan change that began each."""
        changes = self.subscriptions.changes(tenant_id)
        if not changes:
            subscription = self.subscriptions.get(tenant_id)
            return [PlanSpan(subscription.plan, subscription.started_at, None)], [None]
        ends = [c.at for c in changes[1:]] + [None]
        spans = [
            PlanSpan(self._plan(c.plan), c.at, end) for c, end in zip(changes, ends, strict=True)
        ]
        return spans, [c.id for c in changes]

    def _locations(self, tenant_id: str) -> builtins.list[LocationActivity]:
        rows = self.session.execute(
            select(LocationPeriodRow, LocationRow.name)
            .join(
                LocationRow,
                (LocationRow.tenant_id == LocationPeriodRow.tenant_id)
                & (LocationRow.id == LocationPeriodRow.location_id),
            )
            .where(LocationPeriodRow.tenant_id == tenant_id)
            .order_by(LocationPeriodRow.location_id, LocationPeriodRow.active_from)
        )
        grouped: dict[str, tuple[str, builtins.list[tuple[datetime, datetime | None]]]] = {}
        for period, name in rows:
            grouped.setdefault(period.location_id, (name, []))[1].append(
                (period.active_from, period.active_until)
            )
        return [
            LocationActivity(location_id, name, tuple(intervals))
            for location_id, (name, intervals) in grouped.items()
        ]

    def _plan(self, code: str) -> Plan:
        try:
            return self.catalog.plan(code)
        except KeyError as error:
            raise BillingError(error.args[0]) from None

    def _issue(self, tenant_id: str, draft: _Draft, at: datetime) -> tuple[Invoice, bool]:
        """The invoice for ``draft``'s kind and key: the one issued already, or a new one."""
        existing = self._find(tenant_id, draft.kind, draft.key)
        if existing is not None:
            return existing, False
        issued = self.session.scalar(
            select(func.count()).select_from(InvoiceRow).where(InvoiceRow.tenant_id == tenant_id)
        )
        for attempt in range(_NUMBERING_ATTEMPTS):
            sequence = (issued or 0) + 1 + attempt
            number = invoice_number(tenant_id, local_day(at, self.zone), sequence)
            try:
                with self.session.begin_nested():
                    row = self._insert(tenant_id, draft, number, at)
            except IntegrityError:
                # A concurrent writer issued the same invoice (return it) or took the
                # number (take the next one).
                winner = self._find(tenant_id, draft.kind, draft.key)
                if winner is not None:
                    return winner, False
                continue
            return self._invoice(row), True
        raise BillingError(
            f"could not number an invoice for tenant {tenant_id}: "
            f"{_NUMBERING_ATTEMPTS} numbers were taken concurrently; issue it again"
        )

    def _insert(self, tenant_id: str, draft: _Draft, number: str, at: datetime) -> InvoiceRow:
        row = InvoiceRow(
            tenant_id=tenant_id,
            number=number,
            kind=draft.kind,
            key=draft.key,
            plan=draft.plan,
            period_start=draft.period.start,
            period_end=draft.period.end,
            currency=self.currency,
            total_minor=invoice_total(draft.lines, self.currency).to_minor(),
            issued_at=at,
        )
        self.session.add(row)
        self.session.flush()
        self.session.add_all(
            InvoiceLineRow(
                invoice_id=row.id,
                tenant_id=tenant_id,
                line_no=line_no,
                description=line.description,
                quantity=str(line.quantity),
                unit_price_minor=line.unit_price.to_minor(),
                amount_minor=line.amount.to_minor(),
                data=draft.data,
            )
            for line_no, line in enumerate(draft.lines, start=1)
        )
        self.session.flush()
        return row

    def _find(self, tenant_id: str, kind: str, key: str) -> Invoice | None:
        row = self.session.scalar(
            select(InvoiceRow).where(
                InvoiceRow.tenant_id == tenant_id, InvoiceRow.kind == kind, InvoiceRow.key == key
            )
        )
        return self._invoice(row) if row is not None else None

    def _invoice(self, row: InvoiceRow) -> Invoice:
        lines = self.session.scalars(
            select(InvoiceLineRow)
            .where(InvoiceLineRow.invoice_id == row.id)
            .order_by(InvoiceLineRow.line_no)
        )
        return Invoice(
            id=row.id,
            tenant_id=row.tenant_id,
            number=row.number,
            kind=cast(Kind, row.kind),
            key=row.key,
            plan=row.plan,
            period_start=row.period_start,
            period_end=row.period_end,
            total=Money.from_minor(row.total_minor, row.currency),
            issued_at=row.issued_at,
            lines=tuple(
                InvoiceLine(
                    description=line.description,
                    quantity=Decimal(line.quantity),
                    unit_price=Money.from_minor(line.unit_price_minor, row.currency),
                    amount=Money.from_minor(line.amount_minor, row.currency),
                )
                for line in lines
            ),
        )


def change_plan(
    session: Session,
    catalog: Catalog,
    tenant_id: str,
    plan: str,
    at: datetime,
    *,
    actor: str,
    note: str = "",
) -> PlanChanged:
    """Put the tenant on ``plan`` from ``at`` and bill it: an annual plan is invoiced at once
    for the rest of the subscription year; monthly plans are split by the period invoice.
    Leaving an annual plan other than for a higher annual one waits for the renewal."""
    invoices = Invoices(session, catalog)
    subscriptions = invoices.subscriptions
    current = subscriptions.get(tenant_id).plan
    target = invoices._plan(plan)
    year = subscriptions.year(tenant_id, at)
    check_plan_change(current, target, year, at)
    try:
        change = subscriptions.change(tenant_id, target.code, at, actor=actor, note=note)
    except SubscriptionError as error:
        raise BillingError(str(error)) from None
    if target.term is not Term.ANNUAL:
        return PlanChanged(change, None)
    spans, change_ids = invoices._spans(tenant_id)
    locations = invoices._locations(tenant_id)
    draft = invoices._term_draft(spans, change_ids, len(spans) - 1, year, locations=locations)
    invoice, _ = invoices._issue(tenant_id, draft, at)
    return PlanChanged(change, invoice)


def quote_upgrade(
    session: Session, catalog: Catalog, tenant_id: str, plan: str, at: datetime
) -> Quote:
    """What moving up to ``plan`` at ``at`` would bill, computed as ``change_plan`` would
    and writing nothing."""
    invoices = Invoices(session, catalog)
    subscription = invoices.subscriptions.get(tenant_id)
    current, target = subscription.plan, invoices._plan(plan)
    if target.rank <= current.rank:
        above = ", ".join(p.name for p in catalog.upgrades(current.code)) or "none"
        raise BillingError(
            f"{target.name} is not above {current.name}; the plans above it: {above}"
        )
    year = invoices.subscriptions.year(tenant_id, at)
    check_plan_change(current, target, year, at)
    anchor = subscription.anchor(invoices.zone)
    term = year if target.term is Term.ANNUAL else period_at(anchor, 1, at, invoices.zone)
    locations = invoices._locations(tenant_id)
    zone, currency = invoices.zone, invoices.currency
    return upgrade_quote(
        current, target, term, at, locations=locations, zone=zone, currency=currency
    )


def quote_upgrades(session: Session, catalog: Catalog, tenant_id: str, at: datetime) -> list[Quote]:
    """A quote for every plan above the tenant's that it can move to now, cheapest first."""
    current = Subscriptions(session, catalog).get(tenant_id).plan
    quotes = []
    for plan in catalog.upgrades(current.code):
        try:
            quotes.append(quote_upgrade(session, catalog, tenant_id, plan.code, at))
        except BillingError:
            continue
    return quotes


def bill_extra_time(  # noqa: PLR0917 - the signature the developer-hours module calls
    session: Session,
    catalog: Catalog,
    tenant_id: str,
    blocks: int,
    at: datetime,
    actor: str,
    key: str,
) -> Invoice:
    """Invoice ``blocks`` of extra developer time at the price of the plan in force; the
    same ``key`` returns the invoice issued already. Entitlements are the caller's to check."""
    invoices = Invoices(session, catalog)
    plan = invoices.subscriptions.plan_at(tenant_id, at)
    line = extra_time_line(plan, blocks, invoices.currency)
    year = invoices.subscriptions.year(tenant_id, at)
    draft = _Draft("extra_time", key, plan.code, year, (line,), due=at, data={"actor": actor})
    invoice, _ = invoices._issue(tenant_id, draft, at)
    return invoice


def _year_number(anchor: date, at: datetime, zone: ZoneInfo) -> int:
    """The number of the subscription year containing ``at`` (0 for the first)."""
    return period_at(anchor, 12, at, zone).first_day.year - anchor.year
