"""``salesync``: set up, run the demo, read the books and export them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from salesync.cli import locations, operate, pos, serve, sources, support, tickets, users, worker
from salesync.cli.common import console, database, err, parse_day, require_tenant, settings
from salesync.cli.demo import run_demo
from salesync.cli.demo_live import LiveOptions
from salesync.cli.tables import balance_table
from salesync.clock import system_clock
from salesync.connectors.ledger.books import LedgerBooks
from salesync.engine.recovery import DEFAULT_WINDOW, ReadBack
from salesync.engine.wiring import tenant_redactor
from salesync.runtime import settle_heap
from salesync.store.database import make_engine
from salesync.store.repositories import rekey_connections
from salesync.store.schema import status as schema_status
from salesync.store.vault import new_key

app = typer.Typer(
    help="salesync: sales from where they happen into where they are counted, exactly once.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
operate.register(app)
locations.register(app)
app.add_typer(pos.pos_app, name="pos")
sources.register(app)
serve.register(app)
support.register(app)
tickets.register(app)
users.register(app)
worker.register(app)


class ExportFormat(StrEnum):
    BEANCOUNT = "beancount"
    HLEDGER = "hledger"


@app.command()
def keygen() -> None:
    """Print a new secret key for SALESYNC_SECRET_KEYS."""
    typer.echo(new_key())


@app.command()
def rekey() -> None:
    """Re-encrypt every connection's credentials under the newest secret key (the first
    of SALESYNC_SECRET_KEYS), so older keys can then be removed."""
    cfg = settings()
    with database(cfg) as factory:
        done = rekey_connections(factory, cfg.vault())
    console.print(f"{done.rotated} connection(s) now sealed with the newest key.")
    if done.unreadable:
        err.print(
            "[red]Not readable with any configured key (keep the old key, or reconnect "
            f"these):[/red] {', '.join(done.unreadable)}"
        )
        raise typer.Exit(1)


@app.command()
def restored(
    days: Annotated[
        float,
        typer.Option(min=0.01, help="how long every posting is looked up before it is written"),
    ] = DEFAULT_WINDOW / timedelta(days=1),
    end: Annotated[
        bool, typer.Option("--end", help="close the read-back window now instead")
    ] = False,
    note: Annotated[str, typer.Option(help="why, for the record (which backup)")] = "",
) -> None:
    """After restoring the database from a backup, run this before starting any worker:
    for a while every posting is looked up in the books by its key before it is written,
    so what was posted after the backup's moment is recognised, not written again."""
    cfg = settings()
    with database(cfg) as factory:
        windows = ReadBack(factory, system_clock)
        if end:
            closed = windows.end()
            console.print("Read-back window closed." if closed else "No read-back window was open.")
            return
        until = windows.start(timedelta(days=days), note)
    console.print(
        f"Until {until:%Y-%m-%d %H:%M} UTC every posting is looked up in the books before it "
        "is written. Start the workers; the sweeps bring back what came in after the backup."
    )


@app.command()
def init(
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="only say where the schema stands: exit 1 when migrations are pending, "
            "2 when the database is newer than this release can run on",
        ),
    ] = False,
) -> None:
    """Create or upgrade the database schema (safe while other processes run)."""
    cfg = settings()
    if check:
        engine = make_engine(cfg.database)
        try:
            found = schema_status(engine)
        finally:
            engine.dispose()
        (console if found.usable else err).print(found.describe())
        if not found.usable:
            raise typer.Exit(1 if found.pending else 2)
        return
    with database(cfg):
        console.print(f"Database ready: {cfg.database}")


@app.command()
def demo(
    start: Annotated[
        str | None,
        typer.Option(
            help="the day salesync is connected, YYYY-MM-DD (default: last month's first)"
        ),
    ] = None,
    days: Annotated[int, typer.Option(min=1, help="days of live trading once connected")] = 3,
    history: Annotated[
        int, typer.Option(min=0, help="days of trading before connecting, brought by a backfill")
    ] = 90,
    seed: Annotated[int, typer.Option(help="sandbox seed: same seed, same sales")] = 7,
    orders_per_day: Annotated[
        int, typer.Option(min=1, max=40, help="about how many orders each shop takes a day")
    ] = 4,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve/--no-serve",
            help="after the narrated run, keep serving the dashboard while the shops trade",
        ),
    ] = True,
    port: Annotated[
        int,
        typer.Option(
            min=0, max=65535, help="the dashboard's port; 0, or a port in use, means a free one"
        ),
    ] = 8000,
    speed: Annotated[
        float, typer.Option(min=1, help="simulated seconds per real second while serving")
    ] = 60.0,
) -> None:
    """Connect a merchant's Shopify store and Square seller (sandboxes) to salesync and sync
    their history and live trading into the built-in ledger, over HTTP; then keep serving
    the dashboard while the shops go on trading, until Ctrl-C."""
    cfg = settings()
    connected = parse_day(start) if start else _last_month()
    with database(cfg) as factory:
        run_demo(
            console,
            cfg,
            factory,
            connected=connected,
            days=days,
            history=history,
            seed=seed,
            orders_per_day=orders_per_day,
            serve=LiveOptions(port=port, speed=speed) if serve else None,
        )


@app.command("trial-balance")
def trial_balance(
    tenant: Annotated[str, typer.Option(help="tenant id")] = "demo",
    as_of: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
) -> None:
    """Print every account's balance."""
    cfg = settings()
    with database(cfg) as factory, factory() as session:
        require_tenant(session, tenant)
        rows = LedgerBooks(session, tenant).trial_balance(parse_day(as_of) if as_of else None)
        console.print(balance_table(rows, f"Trial balance: {tenant}"))


@app.command()
def ledger(
    account: Annotated[str, typer.Argument(help="account name, e.g. Assets:Bank")],
    tenant: Annotated[str, typer.Option(help="tenant id")] = "demo",
    currency: Annotated[str | None, typer.Option(help="only this currency")] = None,
) -> None:
    """Print every line posted to one account, with its running balance."""
    cfg = settings()
    with database(cfg) as factory, factory() as session:
        require_tenant(session, tenant)
        lines = LedgerBooks(session, tenant).account_ledger(account, currency)
        if not lines:
            err.print(f"[yellow]Nothing posted to {account}.[/yellow]")
            raise typer.Exit(1)
        table = Table(title=account)
        for column in ("Date", "Narration", "Memo", "Amount", "Balance"):
            table.add_column(column, justify="right" if column in ("Amount", "Balance") else "left")
        for line in lines:
            table.add_row(
                str(line.date), line.narration, line.memo, str(line.amount), str(line.running)
            )
        console.print(table)


@app.command()
def export(
    fmt: Annotated[ExportFormat, typer.Option("--format", help="beancount or hledger")],
    out: Annotated[Path, typer.Option(help="file to write")],
    tenant: Annotated[str, typer.Option(help="tenant id")] = "demo",
) -> None:
    """Export the built-in ledger for Beancount or hledger."""
    cfg = settings()
    with database(cfg) as factory, factory() as session:
        require_tenant(session, tenant)
        scrub = tenant_redactor(cfg, session, tenant)
        count = LedgerBooks(session, tenant).export(fmt.value, out, redactor=scrub)
    console.print(f"Wrote {count} entries to {out}")


def _last_month() -> date:
    today = datetime.now(UTC).astimezone().date()
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


def main() -> None:
    settle_heap()
    app()
