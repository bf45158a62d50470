"""``salesync plan``, ``invoice`` and ``hours``: the plan catalog in force, each tenant's
plan and bills, and the developer hours its plan grants."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.markup import escape
from rich.table import Table

from salesync.cli.common import console, database, err, fail, require_tenant, settings
from salesync.clock import system_clock
from salesync.domain.money import Money
from salesync.engine.wiring import support_service
from salesync.monitor.routing.schedule import render_duration
from salesync.support.billing import BillingError, Invoice
from salesync.support.hours import Balance, HoursError, describe
from salesync.support.periods import Period, local_day
from salesync.support.plans import Catalog, Plan, Term
from salesync.support.service import Account, SupportService

plan_app = typer.Typer(
    help="Plans: the catalog in force (setting `catalog`), and each tenant's plan.",
    no_args_is_help=True,
)
invoice_app = typer.Typer(
    help="Invoices: what tenants are billed for their plans and for extra developer time.",
    no_args_is_help=True,
)
hours_app = typer.Typer(
    help="Developer hours: what a tenant's plan grants, and the time logged and bought.",
    no_args_is_help=True,
)

Tenant = Annotated[str, typer.Option(help="tenant id")]
Actor = Annotated[str, typer.Option("--as", help="who does it (an e-mail or a name)")]


def register(app: typer.Typer) -> None:
    app.add_typer(plan_app, name="plan")
    app.add_typer(invoice_app, name="invoice")
    app.add_typer(hours_app, name="hours")


@contextmanager
def support_desk(tenant: str | None = None) -> Iterator[SupportService]:
    """The support service on the configured database and catalog; with ``tenant``, only
    once that tenant is known to exist."""
    cfg = settings()
    with database(cfg) as factory:
        if tenant is not None:
            with factory() as session:
                require_tenant(session, tenant)
        yield support_service(cfg, factory, system_clock)


def refuse(error: Exception) -> typer.Exit:
    """A change the rules refuse: the reason, which says what to do, and exit code 1."""
    err.print(f"[red]{escape(str(error))}[/red]")
    return typer.Exit(1)


def stamp(at: datetime) -> str:
    return f"{at:%Y-%m-%d %H:%M}"


def money(amount: Decimal | Money, currency: str) -> str:
    return str(amount if isinstance(amount, Money) else Money(amount, currency))


def days(period: Period) -> str:
    return f"{period.first_day} to {period.last_day}"


def plans_table(catalog: Catalog) -> Table:
    """Every plan of ``catalog``, lowest rank first."""
    default = catalog.plan(None)
    table = Table(title=f"Plans of the {catalog.name} catalog (new tenants: {default.name})")
    columns = ("Code", "Name", "Location/month", "Base/month", "Term", "Support")
    for column in (*columns, "Developer hours", "Extra time", "Respond", "Resolve", "SLA hours"):
        table.add_column(column, justify="right" if "/" in column else "left")
    for plan in sorted(catalog.plans.values(), key=lambda p: (p.rank, p.code)):
        extra = (
            f"{money(plan.extra_time_price, catalog.currency)} per "
            f"{describe(int(plan.extra_time_block / timedelta(minutes=1)))}"
            if plan.extra_time_price is not None
            else "-"
        )
        table.add_row(
            plan.code,
            escape(plan.name),
            money(plan.location_price, catalog.currency),
            money(plan.base_price, catalog.currency),
            plan.term.value,
            "tier 2 (developers)" if plan.support_tier == 2 else "tier 1 (agents)",
            _granted(plan),
            extra,
            render_duration(plan.sla.respond),
            render_duration(plan.sla.resolve),
            str(plan.sla.hours) if plan.sla.hours else "around the clock",
        )
    return table


def _granted(plan: Plan) -> str:
    if plan.developer_hours is not None:
        return f"{plan.developer_hours:g} a year"
    return "included, unmetered" if plan.support_tier == 2 else "none"


@plan_app.command("list")
def list_plans() -> None:
    """The plans of the catalog in force: prices, term, support tier, developer hours,
    extra time and SLA (first response, resolution, the business hours they count in)."""
    console.print(plans_table(settings().plan_catalog()))


@plan_app.command("show")
def show_plan(tenant: Tenant = "demo") -> None:
    """A tenant's plan: since when, the billing period, the renewal, its active locations,
    its developer hours, and what each upgrade costs now."""
    with support_desk(tenant) as desk:
        account = desk.account(tenant)
        currency = desk.catalog.currency
    plan = account.plan
    renewal = account.year.last_day + timedelta(days=1)
    billed = "in advance" if plan.term is Term.ANNUAL else "in arrears"
    since = stamp(account.plan_since)
    console.print(f"[bold]{tenant}: {escape(plan.name)}[/bold] ({plan.code}) since {since}")
    console.print(f"Billing period: {days(account.period)} ({plan.term.value}, billed {billed})")
    console.print(f"Renewal: {renewal} (subscription year {days(account.year)})")
    console.print(
        f"Active locations: {account.locations}, "
        f"{money(plan.monthly_price(account.locations), currency)} a month"
    )
    console.print(f"Developer hours: {_balance(plan, account.hours)}")
    console.print(f"Invoices: {len(account.invoices)} (salesync invoice list --tenant {tenant})")
    if not account.upgrades:
        console.print(f"No upgrade to quote: nothing above {escape(plan.name)} can be taken now.")
        return
    console.print(_upgrades(account))


def _balance(plan: Plan, balance: Balance) -> str:
    renewal = balance.year.last_day + timedelta(days=1)
    if not balance.metered:
        included = f"; {describe(balance.included)} logged" if balance.included else ""
        if plan.support_tier == 2:
            return f"included without a meter on {escape(plan.name)}{included}"
        return f"not part of {escape(plan.name)}{included}"
    return (
        f"{describe(balance.remaining)} left until {renewal} (granted "
        f"{describe(balance.granted)}, used {describe(balance.used)}, bought "
        f"{describe(balance.purchased)})"
    )


def _upgrades(account: Account) -> Table:
    table = Table(title=f"Upgrades for {account.tenant_id}, prorated from today")
    for column in ("Plan", "Term", "Price", "Covers", "Billed"):
        table.add_column(column, justify="right" if column == "Price" else "left")
    for quote in account.upgrades:
        table.add_row(
            f"{escape(quote.plan.name)} ({quote.plan.code})",
            quote.plan.term.value,
            str(quote.total),
            days(quote.period),
            "at once" if quote.plan.term is Term.ANNUAL else "with the period's invoice",
        )
    return table


@plan_app.command("set")
def set_plan(
    plan: Annotated[str, typer.Argument(help="the plan's code (see `salesync plan list`)")],
    actor: Actor,
    tenant: Tenant = "demo",
) -> None:
    """Move a tenant to another plan now. An annual plan is invoiced at once for the rest
    of the subscription year; leaving one waits for its renewal."""
    with support_desk(tenant) as desk:
        try:
            changed = desk.change_plan(tenant, plan, actor)
        except BillingError as exc:
            raise refuse(exc) from None
        chosen = desk.catalog.plan(changed.change.plan)
    was = f" (was {changed.change.previous})" if changed.change.previous else ""
    console.print(
        f"Tenant {tenant} is on [bold]{escape(chosen.name)}[/bold] from "
        f"{stamp(changed.change.at)}{was}."
    )
    if changed.invoice is None:
        console.print("No invoice now: the period's invoice bills the days on each plan.")
        return
    console.print(f"Invoice issued: {changed.invoice.number}, {changed.invoice.total}")
    console.print(invoice_table(changed.invoice))


def invoice_table(invoice: Invoice) -> Table:
    table = Table(title=f"Invoice {invoice.number} ({invoice.kind}, {invoice.plan})")
    for column in ("Description", "Quantity", "Unit price", "Amount"):
        table.add_column(column, justify="left" if column == "Description" else "right")
    for line in invoice.lines:
        table.add_row(
            escape(line.description), f"{line.quantity:f}", str(line.unit_price), str(line.amount)
        )
    table.add_row("[bold]Total[/bold]", "", "", f"[bold]{invoice.total}[/bold]")
    return table


@invoice_app.command("list")
def list_invoices(tenant: Tenant = "demo") -> None:
    """A tenant's invoices, newest first."""
    with support_desk(tenant) as desk:
        found = desk.invoices(tenant)
        zone = ZoneInfo(desk.catalog.timezone)
    if not found:
        console.print(
            f"No invoices for {tenant} yet: they are issued when a billing period ends "
            "(salesync invoice issue) and when an annual plan is taken up."
        )
        return
    table = Table(title=f"Invoices of {tenant}")
    for column in ("#", "Number", "Kind", "Plan", "Period", "Issued", "Total"):
        table.add_column(
            column,
            justify="right" if column in ("#", "Total") else "left",
            no_wrap=column in ("#", "Number", "Total"),
        )
    for invoice in found:
        table.add_row(
            str(invoice.id),
            invoice.number,
            invoice.kind,
            invoice.plan,
            _billed_days(invoice, zone),
            stamp(invoice.issued_at),
            str(invoice.total),
        )
    console.print(table)


def _billed_days(invoice: Invoice, zone: ZoneInfo) -> str:
    """The local days an invoice bills: its period ends at the midnight after its last."""
    last = local_day(invoice.period_end - timedelta(microseconds=1), zone)
    return f"{local_day(invoice.period_start, zone)} to {last}"


@invoice_app.command("show")
def show_invoice(
    invoice_id: Annotated[int, typer.Argument(help="the invoice's # (see `invoice list`)")],
    tenant: Tenant = "demo",
) -> None:
    """An invoice's lines."""
    with support_desk(tenant) as desk:
        invoice = desk.invoice(tenant, invoice_id)
    if invoice is None:
        raise fail(
            f"No invoice {invoice_id} for tenant {tenant}.",
            [f"`salesync invoice list --tenant {tenant}` lists its invoices."],
        )
    console.print(f"Issued {stamp(invoice.issued_at)}")
    console.print(invoice_table(invoice))


@invoice_app.command("issue")
def issue_invoices() -> None:
    """Issue every invoice due now for every tenant (ended months, started years) and
    bring the developer-hour ledgers up to date (grants at renewal, unused hours lapsed)."""
    with support_desk() as desk:
        entries, issued = desk.run_due()
    console.print(
        f"Issued {issued} invoice{'s' * (issued != 1)} due now; wrote {entries} "
        f"developer-hour ledger entr{'ies' if entries != 1 else 'y'} (grants, lapses)."
    )


@hours_app.command("show")
def show_hours(tenant: Tenant = "demo") -> None:
    """A tenant's developer-hour balance for this subscription year, and its ledger."""
    with support_desk(tenant) as desk:
        balance, entries = desk.ledger(tenant)
        plan = desk.account(tenant).plan
    console.print(f"Developer hours of {tenant}: {_balance(plan, balance)}")
    if not entries:
        console.print("No entries in the ledger yet.")
        return
    table = Table(title=f"Developer-hour ledger of {tenant}")
    for column in ("#", "At", "Entry", "Time", "Ticket", "Invoice", "By", "Note"):
        table.add_column(column, justify="right" if column == "Time" else "left")
    for entry in entries:
        sign = "-" if entry.minutes < 0 else ""
        table.add_row(
            str(entry.id),
            stamp(entry.at),
            entry.entry,
            f"{sign}{describe(abs(entry.minutes))}",
            f"#{entry.ticket_id}" if entry.ticket_id else "",
            str(entry.invoice_id or ""),
            escape(entry.actor),
            escape(entry.note),
        )
    console.print(table)


@hours_app.command("log")
def log_hours(
    ticket_id: Annotated[int, typer.Argument(metavar="TICKET", help="the ticket's number")],
    minutes: Annotated[int, typer.Argument(help="developer time spent, in 15-minute steps")],
    actor: Actor,
    note: Annotated[str, typer.Option(help="what the time went on")] = "",
    tenant: Tenant = "demo",
) -> None:
    """Log developer time against one of the tenant's tickets."""
    with support_desk(tenant) as desk:
        try:
            entry = desk.log_time(tenant, ticket_id, minutes, actor, note)
        except HoursError as exc:
            raise refuse(exc) from None
        balance, _ = desk.ledger(tenant)
    logged = f"Logged {describe(abs(entry.minutes))} on ticket #{ticket_id}"
    if entry.entry == "included":
        console.print(f"{logged}: included, not counted against the hours.")
    else:
        renewal = balance.year.last_day + timedelta(days=1)
        console.print(f"{logged}; {describe(balance.remaining)} left until {renewal}.")


@hours_app.command("buy")
def buy_hours(
    blocks: Annotated[int, typer.Argument(help="how many blocks of extra time (see plan list)")],
    actor: Actor,
    key: Annotated[
        str | None, typer.Option(help="a request key: buying again with it buys nothing twice")
    ] = None,
    tenant: Tenant = "demo",
) -> None:
    """Buy extra developer time once the plan's hours are used; it is invoiced at once."""
    with support_desk(tenant) as desk:
        try:
            entry = desk.buy_time(tenant, blocks, actor, request_key=key)
        except (HoursError, BillingError) as exc:
            raise refuse(exc) from None
        invoice = desk.invoice(tenant, entry.invoice_id) if entry.invoice_id else None
    billed = f"; invoice {invoice.number}, {invoice.total}" if invoice else ""
    console.print(f"Bought {describe(entry.minutes)} of developer time for {tenant}{billed}.")
