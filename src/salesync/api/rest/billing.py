"""Plans and billing: the catalog, the tenant's subscription and its upgrade prices, plan
changes, invoices, the developer-hour ledger, buying extra developer time, and developers
logging their time against tickets.

Reading needs ``view_billing`` (the merchant's owner and bookkeeper, and staff); changing
the plan and buying time need ``billing`` (the owner, admins); logging time needs
``log_time`` (developers, admins). A change the billing rules refuse (a downgrade before
the renewal, extra time while hours remain or off the plan that sells it, time not in
15-minute steps) is a 409 whose message says what is possible.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from fastapi import FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from salesync.accounts.roles import Action
from salesync.api.answers import answer
from salesync.api.auth import Refused
from salesync.api.paging import BAD_BODY, BAD_PARAMETER, MAX_ID, PAGING, json_body, list_page
from salesync.api.rest.common import TENANT, MoneyOut, Parts, money, refusals, route
from salesync.store.tables import TicketRow
from salesync.support.billing import BillingError, Invoice, Quote
from salesync.support.hours import Balance, HourEntry, HoursError
from salesync.support.plans import Plan
from salesync.support.service import Account, SupportService

_UNKNOWN = {404: "There is no such tenant (`unknown_tenant`), or no such invoice or ticket."}
_REFUSED = {
    409: "The billing rules do not allow it (`plan_change_refused`, `hours_refused`); the "
    "message says what is possible."
}


class PlanOut(BaseModel):
    code: str
    name: str
    location_price: MoneyOut = Field(description="Per active location per month.")
    base_price: MoneyOut = Field(description="Per account per month.")
    term: str = Field(description="`monthly` (billed after each month) or `annual` (ahead).")
    support_tier: int = Field(description="1: support agents; 2: developers too.")
    developer_hours: str | None = Field(
        description="Granted each subscription year; null when developer time is included."
    )
    extra_time_price: MoneyOut | None = Field(
        description="Per block of extra developer time, once the hours are used."
    )
    respond_within: str
    resolve_within: str
    business_hours: str | None


class CatalogOut(BaseModel):
    catalog: str
    model: str = Field(description="`proactive` or `tiered`.")
    current: str
    plans: list[PlanOut]


class LineOut(BaseModel):
    description: str
    quantity: str
    unit_price: MoneyOut
    amount: MoneyOut


class QuoteOut(BaseModel):
    """What moving up to ``plan`` now costs, prorated for the rest of the term."""

    plan: str
    name: str
    total: MoneyOut
    until: datetime
    lines: list[LineOut]


class BalanceOut(BaseModel):
    year_start: datetime
    renews_at: datetime
    metered: bool = Field(description="False when developer time is included in the plan.")
    granted_minutes: int
    used_minutes: int
    purchased_minutes: int
    lapsed_minutes: int
    remaining_minutes: int
    included_minutes: int


class SubscriptionOut(BaseModel):
    plan: PlanOut
    plan_since: datetime
    period_start: datetime
    period_end: datetime
    renews_at: datetime = Field(description="The end of the subscription year.")
    active_locations: int
    hours: BalanceOut
    upgrades: list[QuoteOut]


class PlanChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: str = Field(min_length=1, max_length=32, pattern=r"^[a-z0-9][a-z0-9_\-]*$")


class InvoiceOut(BaseModel):
    id: int
    number: str
    kind: str = Field(description="`period`, `upgrade` or `extra_time`.")
    plan: str
    period_start: datetime
    period_end: datetime
    issued_at: datetime
    total: MoneyOut
    lines: list[LineOut]


class InvoicePage(BaseModel):
    invoices: list[InvoiceOut]
    next_cursor: str | None


class PlanChangeOut(BaseModel):
    subscription: SubscriptionOut
    invoice: InvoiceOut | None = Field(description="Issued at once for an annual plan.")


class EntryOut(BaseModel):
    id: int
    at: datetime
    entry: str = Field(description="grant, use, included, purchase or lapse.")
    minutes: int
    ticket_id: int | None
    invoice_id: int | None
    actor: str
    note: str


class HoursOut(BaseModel):
    balance: BalanceOut
    entries: list[EntryOut]


class Purchase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    blocks: int = Field(ge=1, le=40, description="Blocks of extra time (30 minutes each).")
    request_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="The same key again buys nothing more: safe to retry.",
    )


class TimeLog(BaseModel):
    model_config = ConfigDict(extra="forbid")

    minutes: int = Field(ge=1, le=24 * 60, description="In 15-minute steps.")
    note: str = Field(default="", max_length=2000)


class Billing:
    """``GET .../plans``, ``GET|PUT .../subscription``, ``GET .../invoices[/{id}]``,
    ``GET .../hours``, ``POST .../hours/purchases`` and ``POST .../tickets/{id}/time``."""

    def __init__(self, parts: Parts, support: SupportService) -> None:
        self.parts = parts
        self.support = support

    def register(self, app: FastAPI) -> None:
        for method, path, endpoint, summary, model, refused, body, extra in (
            ("GET", "/plans", self.plans, "The plan catalog", CatalogOut, {}, None, None),
            (
                "GET",
                "/subscription",
                self.subscription,
                "The tenant's plan, billing period, hours and upgrade prices",
                SubscriptionOut,
                {},
                None,
                None,
            ),
            (
                "PUT",
                "/subscription",
                self.change,
                "Move to another plan now (owners)",
                PlanChangeOut,
                refusals(BAD_BODY, _REFUSED),
                PlanChoice,
                None,
            ),
            (
                "GET",
                "/invoices",
                self.invoices,
                "The tenant's invoices, newest first",
                InvoicePage,
                BAD_PARAMETER,
                None,
                PAGING,
            ),
            (
                "GET",
                "/invoices/{invoice_id}",
                self.invoice,
                "One invoice",
                InvoiceOut,
                _UNKNOWN,
                None,
                None,
            ),
            (
                "GET",
                "/hours",
                self.hours,
                "The developer-hour balance of the year and every ledger entry",
                HoursOut,
                {},
                None,
                None,
            ),
            (
                "POST",
                "/hours/purchases",
                self.buy,
                "Buy extra developer time once the hours are used (owners)",
                EntryOut,
                refusals(BAD_BODY, _REFUSED),
                Purchase,
                None,
            ),
            (
                "POST",
                "/tickets/{ticket_id}/time",
                self.log,
                "Log developer time against a ticket (developers)",
                EntryOut,
                refusals(BAD_BODY, _UNKNOWN, _REFUSED),
                TimeLog,
                None,
            ),
        ):
            route(
                app,
                method,
                TENANT + path,
                endpoint,
                summary=summary,
                tag="billing",
                model=model,
                refused=refusals(refused),
                body=body,
                parameters=extra,
            )

    def plans(self, tenant_id: str, request: Request) -> CatalogOut:
        """Every plan of the catalog in force, and the tenant's."""
        self.parts.admit(tenant_id, request, Action.VIEW_BILLING)
        catalog = self.support.catalog
        current = self.support.account(tenant_id).plan.code
        return CatalogOut(
            catalog=catalog.name,
            model=catalog.model,
            current=current,
            plans=[_plan(p, catalog.currency) for p in catalog.plans.values()],
        )

    def subscription(self, tenant_id: str, request: Request) -> SubscriptionOut:
        self.parts.admit(tenant_id, request, Action.VIEW_BILLING)
        return _subscription(self.support.account(tenant_id), self.support.catalog.currency)

    async def change(self, tenant_id: str, request: Request) -> PlanChangeOut:
        caller = await self.parts.admit_async(tenant_id, request, Action.BILLING)
        choice = await json_body(request, PlanChoice)

        def change() -> PlanChangeOut:
            try:
                changed = self.support.change_plan(tenant_id, choice.plan, caller.actor)
            except BillingError as error:
                raise Refused(answer(409, "plan_change_refused", f"{error}")) from None
            account = self.support.account(tenant_id)
            return PlanChangeOut(
                subscription=_subscription(account, self.support.catalog.currency),
                invoice=_invoice(changed.invoice) if changed.invoice else None,
            )

        return await run_in_threadpool(change)

    def invoices(self, tenant_id: str, request: Request) -> InvoicePage:
        self.parts.admit(tenant_id, request, Action.VIEW_BILLING)
        page, cursor = list_page(self.support.invoices(tenant_id), request)
        return InvoicePage(invoices=[_invoice(i) for i in page], next_cursor=cursor)

    def invoice(self, tenant_id: str, invoice_id: str, request: Request) -> InvoiceOut:
        self.parts.admit(tenant_id, request, Action.VIEW_BILLING)
        found = None
        if invoice_id.isdigit() and 0 < int(invoice_id) <= MAX_ID:
            found = self.support.invoice(tenant_id, int(invoice_id))
        if found is None:
            raise Refused(
                answer(404, "unknown_invoice", f"{tenant_id} has no invoice {invoice_id!r}.")
            )
        return _invoice(found)

    def hours(self, tenant_id: str, request: Request) -> HoursOut:
        self.parts.admit(tenant_id, request, Action.VIEW_BILLING)
        balance, entries = self.support.ledger(tenant_id)
        return HoursOut(balance=_balance(balance), entries=[_entry(e) for e in entries])

    async def buy(self, tenant_id: str, request: Request) -> EntryOut:
        caller = await self.parts.admit_async(tenant_id, request, Action.BILLING)
        purchase = await json_body(request, Purchase)

        def buy() -> EntryOut:
            try:
                entry = self.support.buy_time(
                    tenant_id, purchase.blocks, caller.actor, purchase.request_key
                )
            except HoursError as error:
                raise Refused(answer(409, "hours_refused", f"{error}")) from None
            return _entry(entry)

        return await run_in_threadpool(buy)

    async def log(self, tenant_id: str, ticket_id: str, request: Request) -> EntryOut:
        caller = await self.parts.admit_async(tenant_id, request, Action.LOG_TIME)
        body = await json_body(request, TimeLog)

        def log() -> EntryOut:
            number_ = _ticket(self.parts, tenant_id, ticket_id)
            try:
                entry = self.support.log_time(
                    tenant_id, number_, body.minutes, caller.actor, body.note
                )
            except HoursError as error:
                raise Refused(answer(409, "hours_refused", f"{error}")) from None
            return _entry(entry)

        return await run_in_threadpool(log)


def _ticket(parts: Parts, tenant_id: str, ticket_id: str) -> int:
    """The tenant's ticket ``ticket_id``, or the 404 a missing one gets."""
    if ticket_id.isdigit() and 0 < int(ticket_id) <= MAX_ID:
        with parts.factory() as session:
            row = session.get(TicketRow, int(ticket_id))
            if row is not None and row.tenant_id == tenant_id:
                return row.id
    raise Refused(answer(404, "unknown_ticket", f"{tenant_id} has no ticket {ticket_id!r}."))


def _plan(plan: Plan, currency: str) -> PlanOut:
    def price(value: Decimal) -> MoneyOut:
        return MoneyOut(amount=format(value, "f"), currency=currency)

    sla = plan.sla
    return PlanOut(
        code=plan.code,
        name=plan.name,
        location_price=price(plan.location_price),
        base_price=price(plan.base_price),
        term=plan.term.value,
        support_tier=plan.support_tier,
        developer_hours=format(plan.developer_hours, "f") if plan.metered else None,
        extra_time_price=price(plan.extra_time_price) if plan.extra_time_price else None,
        respond_within=str(sla.respond),
        resolve_within=str(sla.resolve),
        business_hours=str(sla.hours) if sla.hours else None,
    )


def _line(description: str, quantity: Decimal, unit: MoneyOut, amount: MoneyOut) -> LineOut:
    return LineOut(
        description=description, quantity=format(quantity, "f"), unit_price=unit, amount=amount
    )


def _quote(quote: Quote) -> QuoteOut:
    return QuoteOut(
        plan=quote.plan.code,
        name=quote.plan.name,
        total=money(quote.total),
        until=quote.period.end,
        lines=[
            _line(x.description, x.quantity, money(x.unit_price), money(x.amount))
            for x in quote.lines
        ],
    )


def _invoice(invoice: Invoice) -> InvoiceOut:
    return InvoiceOut(
        id=invoice.id,
        number=invoice.number,
        kind=invoice.kind,
        plan=invoice.plan,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        issued_at=invoice.issued_at,
        total=money(invoice.total),
        lines=[
            _line(x.description, x.quantity, money(x.unit_price), money(x.amount))
            for x in invoice.lines
        ],
    )


def _balance(balance: Balance) -> BalanceOut:
    return BalanceOut(
        year_start=balance.year.start,
        renews_at=balance.year.end,
        metered=balance.metered,
        granted_minutes=balance.granted,
        used_minutes=balance.used,
        purchased_minutes=balance.purchased,
        lapsed_minutes=balance.lapsed,
        remaining_minutes=balance.remaining,
        included_minutes=balance.included,
    )


def _entry(entry: HourEntry) -> EntryOut:
    return EntryOut(
        id=entry.id,
        at=entry.at,
        entry=entry.entry,
        minutes=entry.minutes,
        ticket_id=entry.ticket_id,
        invoice_id=entry.invoice_id,
        actor=entry.actor,
        note=entry.note,
    )


def _subscription(account: Account, currency: str) -> SubscriptionOut:
    return SubscriptionOut(
        plan=_plan(account.plan, currency),
        plan_since=account.plan_since,
        period_start=account.period.start,
        period_end=account.period.end,
        renews_at=account.year.end,
        active_locations=account.locations,
        hours=_balance(account.hours),
        upgrades=[_quote(q) for q in account.upgrades],
    )
