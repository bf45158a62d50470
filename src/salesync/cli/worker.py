"""The runner without the HTTP API: ``salesync worker``; and the merchant's "sync now"
from the command line: ``salesync sync now``.

A worker runs the passes ``salesync serve`` runs beside its API (take in, plan, send;
then the support loop), so it can run beside ``serve`` or on another machine against the
same database: the database is the truth, so two runners never double a posting.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Annotated

import typer
from rich.table import Table

from salesync.cli.common import console, database, err, require_tenant, settings
from salesync.cli.sources import connection_id
from salesync.clock import system_clock
from salesync.config import Settings
from salesync.domain.errors import SyncError
from salesync.engine import wiring
from salesync.engine.runner import Engine, SyncNowReport, Ticking, TickReport
from salesync.engine.sweep import SweepReport
from salesync.engine.wiring import configured_engine, monitor
from salesync.scale.dispatch import Queue
from salesync.store.repositories import Connections

sync_app = typer.Typer(
    help="Sync a tenant's sales now, without waiting for a window.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.command()(worker)
    app.add_typer(sync_app, name="sync")


@dataclass(slots=True)
class Passes:
    """What a worker did while it ran."""

    passes: int = 0
    work: TickReport = field(default_factory=TickReport)
    errors: int = 0
    last_error: BaseException | None = None

    def summary(self, seconds: float) -> str:
        """One line: passes, records taken in, postings made, errors."""
        work = self.work
        line = (
            f"salesync worker stopped after {self.passes} pass(es) in {seconds:.1f} s: "
            f"{work.normalized} record(s) taken in, {work.quarantined} quarantined, "
            f"{work.planned} posting(s) planned, {work.sent.posted} posted, "
            f"{work.sent.held} held, {work.sent.failed} failed"
        )
        if self.errors:
            line += f"; {self.errors} pass(es) failed, the last with: {self.last_error}"
        return line + "."


def run_passes(
    engine: Engine,
    support: Ticking | None,
    interval: float,
    stop: threading.Event,
    *,
    once: bool,
    sweeps: Ticking | None = None,
) -> Passes:
    """Pass after pass until ``stop`` is set (or one pass, ``once``): the sources' due
    sweeps, the engine over every tenant, then the support loop. A pass that fails is
    counted and the next one runs: what failed is in the runs table and the incidents, and
    the work is still in the database."""
    done = Passes()
    while not stop.is_set():
        done.passes += 1
        if sweeps is not None:
            try:
                sweeps.tick()
            except Exception as exc:  # each sweep's failure is an incident already
                done.errors += 1
                done.last_error = exc
        try:
            done.work.add(engine.tick())
        except Exception as exc:  # recorded by the run; the next pass retries
            done.errors += 1
            done.last_error = exc
        if support is not None:
            try:
                support.tick()
            except Exception as exc:  # each part logs its own; keep going
                done.errors += 1
                done.last_error = exc
        if once:
            break
        stop.wait(interval)
    return done


@contextmanager
def stopped_by_signals(stop: threading.Event) -> Iterator[None]:
    """While the block runs, SIGINT (Ctrl-C) and SIGTERM set ``stop`` instead of
    interrupting: the work under way finishes, and whoever waits on ``stop`` ends cleanly."""
    signals = (signal.SIGINT, signal.SIGTERM)

    def handle(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    before = {s: signal.signal(s, handle) for s in signals}
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)


def worker(
    interval: Annotated[float, typer.Option(min=0.05, help="seconds between passes")] = 1.0,
    once: Annotated[
        bool, typer.Option("--once", help="run one pass, then exit (for cron and tests)")
    ] = False,
    celery: Annotated[
        bool,
        typer.Option("--celery", help="run as a Celery worker on broker_url (SALESYNC_BROKER_URL)"),
    ] = False,
    concurrency: Annotated[
        int, typer.Option(min=1, help="with --celery: tasks run at once in this process")
    ] = 2,
    queues: Annotated[
        str,
        typer.Option(
            help="with --celery: the queues to take tasks from, comma-separated (realtime, "
            "scheduled, backfill); give backfills workers of their own with --queues backfill"
        ),
    ] = "realtime,scheduled,backfill",
) -> None:
    """Run the engine and the support loop without the HTTP API: beside `salesync serve`
    or on another machine on the same database. Ctrl-C or SIGTERM stops it between
    passes. With --celery, a Celery worker takes each tenant's work from Redis, and the
    worker holding the dispatcher's lease sends what is due."""
    cfg = settings()  # logging is set up there, redacted (salesync.logs)
    if celery:
        celery_worker(cfg, interval, concurrency, queues)
        return
    stop = threading.Event()
    started = time.monotonic()
    with stopped_by_signals(stop), database(cfg) as factory:
        engine = configured_engine(cfg, factory, system_clock)
        if not once:
            console.print(
                f"salesync worker: a pass every {interval:g} s (sweep what is due, take in, "
                "plan, send, then the support loop); Ctrl-C or SIGTERM stops it."
            )
        done = run_passes(
            engine,
            monitor(cfg, factory, system_clock),
            interval,
            stop,
            once=once,
            sweeps=wiring.due_sweeps(cfg, factory, system_clock),
        )
    console.print(done.summary(time.monotonic() - started))


def celery_worker(cfg: Settings, interval: float, concurrency: int, queues: str) -> None:
    """A Celery worker on the configured broker, with the dispatch loop beside it; the
    worker that dispatches also runs the support loop's timed work."""
    if not cfg.broker_url:
        err.print(
            "[red]--celery needs a broker:[/red] set broker_url in salesync.toml or "
            "SALESYNC_BROKER_URL, e.g. redis://127.0.0.1:6379/0"
        )
        raise typer.Exit(2)
    wanted = [q.strip() for q in queues.split(",") if q.strip()]
    known = [q.value for q in Queue]
    if not wanted or (unknown := [q for q in wanted if q not in known]):
        err.print(
            f"[red]No queue {', '.join(unknown) or queues!r}.[/red] Queues: {', '.join(known)}"
        )
        raise typer.Exit(2)
    from salesync.scale import tasks  # noqa: PLC0415 -- Celery loads only for --celery

    with database(cfg):  # migrated before any worker takes a task
        pass
    support = monitor(cfg, tasks.process().factory, system_clock)
    stop = threading.Event()
    dispatching = threading.Thread(
        target=tasks.dispatch_loop,
        args=(stop, interval, support),
        name="dispatch",
        daemon=True,
    )
    dispatching.start()
    try:
        tasks.app.worker_main(
            [
                "worker",
                "--pool=threads",
                f"--concurrency={concurrency}",
                f"--queues={','.join(wanted)}",
                "--loglevel=WARNING",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ]
        )
    except SystemExit:
        pass  # how Celery's command line ends
    finally:
        stop.set()
        dispatching.join(timeout=10)
    if not tasks.asked_to_stop.is_set():
        # Celery can end its worker on its own when the broker goes away; nobody asked
        # it to stop, so this process starts over as it was started.
        err.print("salesync worker: the Celery worker ended unasked; starting it again.")
        time.sleep(1)
        os.execv(sys.executable, [sys.executable, "-m", "salesync", *sys.argv[1:]])  # noqa: S606


@sync_app.command("now")
def sync_now(
    tenant: Annotated[str, typer.Option(help="tenant id")] = "demo",
    connection: Annotated[
        list[str] | None,
        typer.Option(help="a source connection's name or id; repeatable (default: every one)"),
    ] = None,
) -> None:
    """Sweep the tenant's source connections, make every sale waiting for a sync window
    due now, and post until nothing moves: the "sync now" button."""
    cfg = settings()
    with database(cfg) as factory:
        with factory() as session:
            require_tenant(session, tenant)
            chosen = [connection_id(session, tenant, name) for name in connection or []]
            infos = {c.id: c for c in Connections(session, tenant, cfg.vault()).all()}
        sweeper = wiring.sweeper(cfg, factory, system_clock)
        try:
            if chosen:
                swept = {c: sweeper.sweep(tenant, c) for c in chosen}
            else:
                swept = sweeper.sweep_all(tenant)
        except SyncError as exc:
            err.print(f"[red]The sweep stopped:[/red] {exc.user_message}")
            raise typer.Exit(1) from None
        engine = configured_engine(cfg, factory, system_clock)
        providers = {infos[c].provider for c in chosen} if chosen else None
        report = engine.sync_now(tenant, sources=providers)
    _print_sweeps(swept, {c: i.name for c, i in infos.items()})
    _print_sync(report)


def _print_sweeps(swept: dict[str, SweepReport], names: dict[str, str]) -> None:
    if not swept:
        console.print("No connection of this tenant sweeps; synced what was received.")
        return
    table = Table(title="Swept")
    for column in ("Connection", "Pages", "New records", "Already known"):
        table.add_column(column, justify="left" if column == "Connection" else "right")
    for connection, report in swept.items():
        table.add_row(
            names.get(connection, connection),
            f"{report.pages:,}",
            f"{report.records:,}",
            f"{report.duplicates:,}",
        )
    console.print(table)


def _print_sync(report: SyncNowReport) -> None:
    work = report.work
    console.print(
        f"Taken in: {work.normalized:,} record(s), {work.quarantined:,} quarantined, "
        f"{work.parked:,} waiting for their sale."
    )
    console.print(
        f"Made due now: {report.released:,} document(s) that were waiting for a sync window."
    )
    sent = work.sent
    console.print(
        f"Posted: {sent.posted + sent.found_on_read_back:,} posting(s) of {work.planned:,} "
        f"planned; {sent.retrying:,} to retry, {sent.failed:,} failed, {sent.held:,} held."
    )
    if report.held:
        console.print(
            f"[yellow]{report.held:,} document(s) wait for a mapping[/yellow] "
            "(`salesync ticket list` names what to map)."
        )
    if report.waiting:
        console.print(
            f"{report.waiting:,} document(s) still wait: a daily summary posts once its "
            "business day has ended, a per-payout sale with its payout."
        )
