"""Operating commands: backfill, reconcile, status, sync policies and mappings."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.cli.common import console, database, err, parse_day, require_tenant, settings
from salesync.cli.sources import connection_id
from salesync.clock import system_clock
from salesync.config import Settings
from salesync.connectors.ledger.destination import LedgerDestination
from salesync.connectors.registry import sources
from salesync.connectors.source import SourceClient
from salesync.domain.simulate import SOURCE as SIMULATOR
from salesync.domain.simulate import demo_merchant
from salesync.engine import wiring
from salesync.engine.backfill import (
    BackfillProgress,
    Backfills,
    BackfillState,
    HistorySource,
    SimulatedHistory,
)
from salesync.engine.history import SIMULATED_SEED, reopen
from salesync.engine.inbox import PARKED_TOO_LONG, Inbox, RecordState, as_problems
from salesync.engine.mappings import Mappings
from salesync.engine.outbox import Outbox
from salesync.engine.policies import DEFAULT_WINDOWS, SyncMode, SyncPolicy
from salesync.engine.reconcile import Reconciler
from salesync.engine.recovery import open_until
from salesync.engine.wiring import configured_engine
from salesync.rules import MappingDataError, mapping_to_dict, retail_default
from salesync.store.repositories import Connections, Locations
from salesync.store.tables import BackfillRow, QueuedDocumentRow, SyncPolicyRow

policy_app = typer.Typer(help="When each kind of document syncs.", no_args_is_help=True)
mapping_app = typer.Typer(help="Mapping rules: show, publish.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command()(backfill)
    app.command()(reconcile)
    app.command()(status)
    app.add_typer(policy_app, name="policy")
    app.add_typer(mapping_app, name="mapping")


def backfill(
    first: Annotated[str, typer.Option("--from", help="first day, YYYY-MM-DD")],
    last: Annotated[str, typer.Option("--to", help="last day, YYYY-MM-DD")],
    tenant: Annotated[str, typer.Option(help="tenant id")] = "demo",
    source: Annotated[str, typer.Option(help="where the history comes from")] = SIMULATOR,
    window_days: Annotated[int, typer.Option(min=1, help="days fetched per window")] = 1,
    rate: Annotated[float, typer.Option(min=0, help="records a second at most (0: no cap)")] = 0,
    resume: Annotated[int | None, typer.Option(help="id of a backfill to resume")] = None,
    seed: Annotated[int, typer.Option(help="simulator seed")] = SIMULATED_SEED,
    connection: Annotated[
        str | None, typer.Option(help="a source connection's name: its history is imported")
    ] = None,
) -> None:
    """Import history by date windows; a killed backfill resumes with --resume ID. With a
    broker (broker_url), the job is queued for the workers' backfill queue instead."""
    cfg = settings()
    start, end = parse_day(first), parse_day(last)
    if connection is None and source != SIMULATOR:
        err.print(
            f"[red]No history source {source!r}.[/red] Name a connection with --connection, "
            f"or use the {SIMULATOR}."
        )
        raise typer.Exit(2)
    if cfg.broker_url and (rate or seed != SIMULATED_SEED):
        err.print(
            "[red]--rate and --seed apply to a backfill run here, without a broker.[/red] "
            "On the workers the provider's shared call budget paces it, and the "
            f"{SIMULATOR} tells its history with seed {SIMULATED_SEED}."
        )
        raise typer.Exit(2)
    with database(cfg) as factory:
        with factory() as session:
            require_tenant(session, tenant)
            chosen = connection_id(session, tenant, connection) if connection else None
        if cfg.broker_url:
            _enqueue_backfill(cfg, factory, tenant, chosen, (start, end), window_days, resume)
            return
        history: HistorySource
        if chosen is not None:
            history = wiring.sweeper(cfg, factory, system_clock).client(tenant, chosen)
            if not sources().get(history.name).capabilities.history:
                err.print(f"[red]{history.name} cannot list its history.[/red]")
                raise typer.Exit(2)
            source = history.name
        else:
            history = SimulatedHistory(demo_merchant(tenant), start, end, seed=seed)
        backfills = Backfills(factory, system_clock)
        try:
            job = resume or backfills.start(
                tenant, source, start, end, window_days, connection_id=chosen
            )
        except ValueError as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
        engine = configured_engine(cfg, factory, system_clock)
        progress = backfills.progress(job)
        columns = (
            TextColumn("backfill {task.fields[job]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("days · {task.fields[records]} records"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console) as bar:
            task = bar.add_task(
                "", total=progress.days_total, completed=progress.days_done, job=job, records=0
            )

            def advance(p: BackfillProgress) -> None:
                # Take in and post each window as it lands: in per-order mode a window
                # is more postings than one tick sends.
                engine.run_until_idle(tenant)
                bar.update(task, completed=p.days_done, records=p.records)

            try:
                done = backfills.run(
                    job, history, max_records_per_second=rate or None, after_window=advance
                )
            finally:
                if isinstance(history, SourceClient):
                    history.close()
        engine.run_until_idle(tenant)
    if done.state is BackfillState.FAILED:
        err.print(f"[red]Backfill {job} stopped at {done.next_day}.[/red] Resume: --resume {job}")
        raise typer.Exit(1)
    console.print(
        f"Backfill {job}: {done.records} new records, {done.duplicates} already known, "
        f"{done.days_done} of {done.days_total} days."
    )


def _enqueue_backfill(
    cfg: Settings,
    factory: sessionmaker[Session],
    tenant: str,
    connection: str | None,
    days: tuple[date, date],
    window_days: int,
    resume: int | None,
) -> None:
    """Record the job (or set a failed one running again) for the workers: the dispatcher
    sends its windows, one at a time, to the backfill queue."""
    if resume is not None:
        reopened = reopen(factory, system_clock, resume)
        try:
            progress = Backfills(factory, system_clock).progress(resume)
        except KeyError:
            err.print(f"[red]No backfill {resume}.[/red] `salesync status` lists them.")
            raise typer.Exit(2) from None
        if reopened:
            console.print(
                f"Backfill {resume} runs again on the workers' backfill queue, from "
                f"{progress.next_day}."
            )
        else:
            console.print(f"Backfill {resume} is {progress.state.value}; nothing to resume.")
        return
    source = SIMULATOR
    if connection is not None:
        with factory() as session:
            source = Connections(session, tenant, cfg.vault()).info(connection).provider
        if not sources().get(source).capabilities.history:
            err.print(f"[red]{source} cannot list its history.[/red]")
            raise typer.Exit(2)
    try:
        job = Backfills(factory, system_clock).start(
            tenant, source, days[0], days[1], window_days, connection_id=connection
        )
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(
        f"Backfill {job} queued: the workers fetch {days[0]}..{days[1]} a window at a time "
        "on the backfill queue; `salesync status` shows how far it is."
    )


def reconcile(
    first: Annotated[str, typer.Option("--from", help="first day, YYYY-MM-DD")],
    last: Annotated[str, typer.Option("--to", help="last day, YYYY-MM-DD")],
    tenant: Annotated[str, typer.Option(help="tenant id")] = "demo",
    location: Annotated[str | None, typer.Option(help="only this location")] = None,
) -> None:
    """Compare source and books per location and day; list each document that differs."""
    cfg = settings()
    start, end = parse_day(first), parse_day(last)
    with database(cfg) as factory, factory() as session:
        require_tenant(session, tenant)
        locations = Locations(session, tenant).all()
        books = LedgerDestination(factory, tenant)
        days = Reconciler(session, tenant, locations, books=books).reconcile(start, end, location)
    table = Table(title=f"Reconciliation {start} to {end}")
    for column in ("Location", "Day", "Currency", "Documents", "Sales", "Tenders", "Result"):
        table.add_column(
            column, justify="right" if column in ("Sales", "Tenders") else "left", no_wrap=True
        )
    for day in days:
        tenders = sum(v for k, v in day.source.items() if k.startswith("tender: "))
        result = "clean" if day.clean else f"[red]{len(day.documents)} differ[/red]"
        table.add_row(
            day.location_id,
            str(day.day),
            day.currency,
            str(day.count),
            f"{day.source.get('sales', 0):,}",
            f"{tenders:,}",
            result,
        )
    console.print(table)
    dirty = [d for d in days if not d.clean]
    for day in dirty:
        console.print(f"[bold]{day.location_id} {day.day} {day.currency}[/bold]")
        for doc in day.documents:
            gaps = ", ".join(f"{k} {v:+}" for k, v in doc.differences.items())
            console.print(f"  {doc.kind} {doc.external_id}: {doc.reason} ({gaps})")
    if dirty:
        raise typer.Exit(1)


def status(tenant: Annotated[str, typer.Option(help="tenant id")] = "demo") -> None:
    """What is waiting, held, quarantined or parked, and how postings stand."""
    cfg = settings()
    with database(cfg) as factory, factory() as session:
        require_tenant(session, tenant)
        _print_status(session, tenant)


def _print_status(session: Session, tenant: str) -> None:
    inbox = Inbox(session, tenant, system_clock)
    waiting = session.scalars(
        select(QueuedDocumentRow).where(
            QueuedDocumentRow.tenant_id == tenant, QueuedDocumentRow.planned.is_(False)
        )
    ).all()
    held = Mappings(session, tenant).held()
    table = Table(title=f"Status: {tenant}")
    table.add_column("What")
    table.add_column("Count", justify="right")
    table.add_row("documents waiting for their window", str(len(waiting) - len(held)))
    table.add_row("documents held for a mapping", str(len(held)))
    for state in (RecordState.RECEIVED, RecordState.QUARANTINED, RecordState.PARKED):
        table.add_row(f"inbox records {state.value}", str(len(inbox.in_state(state))))
    for posting_state, count in sorted(Outbox(session, tenant).counts().items()):
        table.add_row(f"postings {posting_state}", str(count))
    console.print(table)
    read_back = open_until(session, system_clock())
    if read_back is not None:
        console.print(
            f"[yellow]read-back window open[/yellow] until {read_back:%Y-%m-%d %H:%M} UTC "
            "(after a restore): every posting is looked up in the books before it is written"
        )
    for row in held:
        for problem in row.problems:
            console.print(
                f"[yellow]held[/yellow] {row.kind} {row.document_id}: {problem['message']}"
            )
    for record in inbox.in_state(RecordState.QUARANTINED):
        reasons = "; ".join(p.message for p in as_problems(record.problems))
        console.print(
            f"[red]quarantined[/red] record {record.id} ({record.record_type}): {reasons}"
        )
    for record in inbox.parked_too_long(PARKED_TOO_LONG):
        console.print(
            f"[red]parked over {PARKED_TOO_LONG.total_seconds() / 3600:.0f} h[/red] record "
            f"{record.id}: waiting for {record.parent_ref}, which has not arrived"
        )
    for job in session.scalars(select(BackfillRow).where(BackfillRow.tenant_id == tenant)):
        if job.state != BackfillState.DONE.value:
            console.print(f"backfill {job.id} {job.state}: next day {job.next_day}")


@policy_app.command("set")
def policy_set(
    kind: Annotated[str, typer.Argument(help="sale, refund, payout, customer, product")],
    mode: Annotated[str, typer.Argument(help="realtime, scheduled or manual")],
    windows: Annotated[
        list[str] | None, typer.Option("--window", help="HH:MM local time; repeat for more")
    ] = None,
    tenant: Annotated[str, typer.Option(help="tenant id")] = "demo",
    source: Annotated[str, typer.Option(help="one source, or * for all")] = "*",
) -> None:
    """Set when a kind of document syncs, e.g. `policy set sale scheduled --window 07:00`."""
    cfg = settings()
    if mode == "scheduled" and not windows:
        windows = [w.strftime("%H:%M") for w in DEFAULT_WINDOWS]
    try:
        policy = SyncPolicy.parse_windows(mode, windows or [])
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    with database(cfg) as factory, factory() as session, session.begin():
        require_tenant(session, tenant)
        row = session.scalar(
            select(SyncPolicyRow).where(
                SyncPolicyRow.tenant_id == tenant,
                SyncPolicyRow.source == source,
                SyncPolicyRow.kind == kind,
            )
        )
        scheduled = policy.mode is SyncMode.SCHEDULED
        stored = [w.strftime("%H:%M") for w in policy.windows] if scheduled else []
        if row is None:
            session.add(
                SyncPolicyRow(
                    tenant_id=tenant,
                    source=source,
                    kind=kind,
                    mode=policy.mode.value,
                    windows=stored,
                )
            )
        else:
            row.mode, row.windows = policy.mode.value, stored
    shown = f" at {', '.join(stored)}" if stored else ""
    console.print(f"{kind} from {source}: {policy.mode.value}{shown} (new documents)")


@mapping_app.command("show")
def mapping_show(tenant: Annotated[str, typer.Option(help="tenant id")] = "demo") -> None:
    """Print the mapping in force as JSON (edit it and publish it as the next version)."""
    cfg = settings()
    with database(cfg) as factory, factory() as session:
        require_tenant(session, tenant)
        latest = Mappings(session, tenant).latest()
    if latest is None:
        console.print("No mapping published: the built-in chart places amounts. Preset:")
        latest = retail_default()
    typer.echo(json.dumps(mapping_to_dict(latest), indent=2))


@mapping_app.command("publish")
def mapping_publish(
    path: Annotated[Path, typer.Argument(help="mapping JSON, as `mapping show` prints it")],
    tenant: Annotated[str, typer.Option(help="tenant id")] = "demo",
) -> None:
    """Publish a mapping as the next version; held documents are released."""
    cfg = settings()
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        err.print(f"[red]Cannot read {path}: {exc}[/red]")
        raise typer.Exit(2) from None
    with database(cfg) as factory, factory() as session, session.begin():
        require_tenant(session, tenant)
        mappings = Mappings(session, tenant)
        held = len(mappings.held())
        try:
            version = mappings.publish_data(data, datetime.now(UTC))
        except MappingDataError as exc:
            err.print("[red]The mapping was not published:[/red]")
            for problem in exc.problems:
                err.print(f"  {problem}")
            raise typer.Exit(2) from None
    console.print(f"Published mapping version {version}; {held} held document(s) released.")
