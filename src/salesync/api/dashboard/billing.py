"""The merchant's plan and what it costs: the billing section, and the developer time
logged against tickets.

- ``/app/{tenant_id}/billing`` (``view_billing``): the plan in force, the billing period
  and the renewal, the active locations, the year's developer hours with their ledger,
  the upgrades with what each costs now, and the invoices;
- ``POST /app/{tenant_id}/billing/plan`` (``billing``): move up to the plan in the form;
- ``POST /app/{tenant_id}/billing/time`` (``billing``): buy extra developer time, on a
  plan that sells it once the year's hours are used;
- ``/app/{tenant_id}/billing/invoices/{invoice_id}``: one invoice with its lines.

A refused change shows the billing page again with the reason, never an error page. The
staff's ticket page logs developer time through ``log_time`` here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from fastapi import Request, Response

from salesync.accounts.roles import Action
from salesync.api.dashboard.shell import Dashboard, NavItem, Viewer
from salesync.support.billing import BillingError, Invoice
from salesync.support.hours import HourEntry, HoursError, describe
from salesync.support.periods import local_day
from salesync.support.service import SupportService

NAV = (NavItem("Billing", "/app/{tenant_id}/billing", Action.VIEW_BILLING),)
MINUTES = (15, 30, 45, 60, 90, 120)
"""The developer time a ticket's form offers, in minutes; nothing else is logged."""
MAX_BLOCKS = 100
FORMS = {"plan": "change the plan", "time": "buy extra developer time"}
"""The billing page's forms, by the last part of their address, with what each does."""


@dataclass(frozen=True, slots=True)
class Billed:
    """An invoice with the local days it bills (the period's end is exclusive)."""

    invoice: Invoice
    first_day: date
    last_day: date


@dataclass(frozen=True, slots=True)
class Logged:
    """A ledger entry as the pages show it: the time in words."""

    entry: HourEntry
    time: str


def logged(entries: list[HourEntry]) -> list[Logged]:
    """Ledger entries, newest first, with their time in words."""
    return [Logged(e, describe(abs(e.minutes))) for e in reversed(entries)]


def log_time(
    support: SupportService, tenant_id: str, ticket_id: int, actor: str, fields: dict[str, str]
) -> str:
    """Log the developer time of a ticket's form; ``HoursError`` says why not, a time
    the form does not offer included."""
    choices = ", ".join(str(m) for m in MINUTES[:-1]) + f" or {MINUTES[-1]}"
    raw = fields.get("minutes", "").strip()
    if not raw.isdigit() or int(raw) not in MINUTES:
        raise HoursError(f"choose {choices} minutes")
    entry = support.log_time(tenant_id, ticket_id, int(raw), actor, fields.get("note", "").strip())
    counted = "included in the plan" if entry.entry == "included" else "taken from the hours"
    return f"Logged {describe(int(raw))} on this ticket ({counted})."


class BillingPages:
    """The pages of this section over one dashboard."""

    def __init__(self, dash: Dashboard) -> None:
        self.dash = dash
        self.support: SupportService = dash.services["support"]

    def billing(self, request: Request, tenant_id: str) -> Response:
        """The plan, the year's developer time, the upgrades and the invoices."""
        viewer = self.dash.viewer(request, tenant_id, Action.VIEW_BILLING)
        return self.page(request, viewer)

    def page(
        self,
        request: Request,
        viewer: Viewer,
        *,
        error: tuple[str, str] | None = None,
        status_code: int = 200,
        form: dict[str, str] | None = None,
    ) -> Response:
        """The billing page; ``error`` names the form that was refused and why."""
        tenant_id = viewer.tenant_id or ""
        account = self.support.account(tenant_id)
        _, entries = self.support.ledger(tenant_id)
        catalog = self.support.catalog
        zone = ZoneInfo(catalog.timezone)
        year_entries = [e for e in entries if e.year_start == account.year.start]
        return self.dash.render(
            request,
            viewer,
            "dashboard/billing_account.html",
            title="Plan and billing",
            status_code=status_code,
            account=account,
            plan=account.plan,
            since=local_day(account.plan_since, zone),
            currency=catalog.currency,
            renews=account.year.last_day + timedelta(days=1),
            hours={
                key: describe(value)
                for key, value in (
                    ("granted", account.hours.granted),
                    ("used", account.hours.used),
                    ("purchased", account.hours.purchased),
                    ("remaining", account.hours.remaining),
                    ("included", account.hours.included),
                )
            },
            entries=logged(year_entries),
            invoices=[_billed(i, zone) for i in account.invoices],
            may_change=viewer.can(Action.BILLING),
            buy_key=uuid.uuid4().hex,
            block=describe(int(account.plan.extra_time_block / timedelta(minutes=1))),
            max_blocks=MAX_BLOCKS,
            error=error[1] if error else None,
            failed=error[0] if error else None,
            form=form or {},
        )

    async def change(self, request: Request, tenant_id: str, name: str) -> Response:
        """A form on the billing page: move up a plan, or buy extra developer time."""
        viewer = self.dash.viewer(request, tenant_id, Action.BILLING)
        fields = await self.dash.form(request, viewer)
        who = viewer.principal.email
        try:
            if name == "plan":
                notice = await self.dash.blocking(self._plan, tenant_id, fields, who)
            else:
                notice = await self.dash.blocking(self._buy, tenant_id, fields, who)
        except (BillingError, HoursError) as refused:
            reason = f"Could not {FORMS[name]}: {refused}."
        else:
            return self.dash.redirect(f"/app/{tenant_id}/billing", notice=notice)
        page: Response = await self.dash.blocking(
            lambda: self.page(request, viewer, error=(name, reason), status_code=409, form=fields)
        )
        return page

    def _plan(self, tenant_id: str, fields: dict[str, str], who: str) -> str:
        code = fields.get("plan", "").strip()
        if code not in self.support.catalog.plans:
            raise BillingError(f"there is no plan {code!r}; choose one of the upgrades below")
        changed = self.support.change_plan(tenant_id, code, who)
        plan = self.support.catalog.plan(code)
        if changed.invoice is None:
            return f"You are on {plan.name} now; the rest of this period is billed at it."
        bill = changed.invoice.total
        return (
            f"You are on {plan.name} now. Invoice {changed.invoice.number} "
            f"for {bill.amount:,.2f} {bill.currency} covers the rest of the year."
        )

    def _buy(self, tenant_id: str, fields: dict[str, str], who: str) -> str:
        raw = fields.get("blocks", "").strip()
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_BLOCKS:
            raise HoursError(f"buy 1 to {MAX_BLOCKS} blocks")
        key = fields.get("request_key", "").strip() or None
        entry = self.support.buy_time(tenant_id, int(raw), who, key)
        return f"Bought {describe(entry.minutes)} of developer time; it is on a new invoice."

    def invoice(self, request: Request, tenant_id: str, invoice_id: str) -> Response:
        """One invoice: its number, the period it bills, its lines and total."""
        viewer = self.dash.viewer(request, tenant_id, Action.VIEW_BILLING)
        number = int(invoice_id) if invoice_id.isdigit() and len(invoice_id) < 19 else None
        found = self.support.invoice(tenant_id, number) if number is not None else None
        if found is None:
            raise self.dash.refuse(viewer, 404, "There is no such invoice.")
        zone = ZoneInfo(self.support.catalog.timezone)
        return self.dash.render(
            request,
            viewer,
            "dashboard/billing_invoice.html",
            title=f"Invoice {found.number}",
            billed=_billed(found, zone),
            plan=self.support.catalog.plans.get(found.plan),
        )


def _billed(invoice: Invoice, zone: ZoneInfo) -> Billed:
    last = local_day(invoice.period_end, zone) - timedelta(days=1)
    return Billed(invoice, local_day(invoice.period_start, zone), last)


def register(dash: Dashboard) -> None:
    """Add the billing pages and their forms."""
    pages = BillingPages(dash)

    @dash.get("/app/{tenant_id}/billing")
    def billing(request: Request, tenant_id: str) -> Response:
        return pages.billing(request, tenant_id)

    @dash.post("/app/{tenant_id}/billing/plan")
    async def change_plan(request: Request, tenant_id: str) -> Response:
        return await pages.change(request, tenant_id, "plan")

    @dash.post("/app/{tenant_id}/billing/time")
    async def buy_time(request: Request, tenant_id: str) -> Response:
        return await pages.change(request, tenant_id, "time")

    @dash.get("/app/{tenant_id}/billing/invoices/{invoice_id}")
    def invoice(request: Request, tenant_id: str, invoice_id: str) -> Response:
        return pages.invoice(request, tenant_id, invoice_id)
