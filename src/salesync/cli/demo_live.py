"""``salesync demo``, once the narrated run is over: the demo kept running as a live server.

Salesync's whole server (the API, the dashboard, sign-in, the runner and the support loop,
as ``salesync serve`` wires them) listens on 127.0.0.1, while the sandboxes go on trading
on an accelerated clock: ``speed`` simulated seconds pass each real second, the sandboxes
POST their signed webhooks every step, salesync sweeps both accounts every few simulated
hours, and the runner ticks the engine and the support loop, so live sales come in and
sync windows open while someone watches. Sign-in sessions keep real time.

Two failures are there to be found: the broken order of the narrated run, quarantined
with its ticket; and, from now on, a mapping that leaves Square's Bakery category
unmapped, so the Bakery sales are held at their sync window and a ticket asks for the
mapping, which the visitor can add in the dashboard.
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import structlog
import uvicorn
from fastapi import FastAPI
from rich.console import Console
from sqlalchemy.orm import Session, sessionmaker

from salesync.accounts.roles import Role
from salesync.accounts.users import Users
from salesync.api import create_app
from salesync.api.session import SignIn
from salesync.cli.worker import stopped_by_signals
from salesync.clock import system_clock
from salesync.config import Settings
from salesync.domain.postings import AccountPlan
from salesync.engine.inbox import Inbox, RecordState
from salesync.engine.mappings import Mappings
from salesync.engine.policies import DEFAULT_WINDOWS, next_window
from salesync.engine.runner import InProcessRunner
from salesync.engine.wiring import (
    monitor,
    reconnect,
    redactor,
    support_service,
    token_manager,
)
from salesync.rules import Mapping, Rule, Target, retail_default
from salesync.rules.conditions import literal
from salesync.sandbox.shopify.activity import CATALOGUE as SHOPIFY_CATALOGUE
from salesync.sandbox.square.seed import CATALOG as SQUARE_CATALOG
from salesync.sandbox.stage import PROVIDERS, Stage

log = structlog.get_logger("salesync.demo")

UNMAPPED = "Bakery"
"""The Square category the live demo's mapping leaves out (Shopify sells no Bakery)."""
CATEGORIES = tuple(
    dict.fromkeys(
        [kind for _, kind, *_ in SHOPIFY_CATALOGUE] + [category for category, *_ in SQUARE_CATALOG]
    )
)
"""Every category the two sandboxes' catalogues sell."""
LEAD = timedelta(hours=3)
"""The live clock starts this long before the Bay Area's next sync window, so a watcher
sees one open within a few real minutes."""
BAY_AREA = ZoneInfo("America/Los_Angeles")
OWNER_EMAIL = "owner@harborandpine.test"
ADMIN_EMAIL = "admin@salesync.test"


@dataclass(frozen=True, slots=True)
class LiveOptions:
    """How the demo runs on after its narrated part."""

    port: int = 8000
    """The port to listen on (0: any free one); a taken port is replaced by a free one."""
    speed: float = 60.0
    """Simulated seconds per real second."""
    interval: float = 1.0
    """Real seconds between the sandboxes' steps and between the runner's passes."""
    sweep_every: timedelta = timedelta(hours=1)
    """Simulated time between salesync's sweeps of both accounts: Square's order
    notifications only name the order, so its sales arrive by sweep."""


@dataclass(frozen=True, slots=True)
class Login:
    role: str
    email: str
    password: str


# -- the injected mapping --------------------------------------------------------------


def demo_mapping(version: int, *, unmapped: str | None = UNMAPPED) -> Mapping:
    """The built-in chart as rules (``retail_default``), except that income is mapped one
    category at a time, every catalogue category but ``unmapped``: its sales are held
    until someone adds a rule for it. Lines without a category (Shopify's order lines
    carry none) go where the built-in chart puts them."""
    base = retail_default(version)
    plan = AccountPlan()
    income = tuple(
        Rule(Target.INCOME, f"category == {literal(c)}", plan.income(c))
        for c in ("", *CATEGORIES)
        if c != unmapped
    )
    return replace(base, rules=(*income, *(r for r in base.rules if r.target is not Target.INCOME)))


def inject_unmapped_category(factory: sessionmaker[Session], tenant: str, now: datetime) -> int:
    """Publish ``demo_mapping`` for ``tenant`` unless it is in force already; returns the
    version in force."""
    with factory() as session, session.begin():
        mappings = Mappings(session, tenant)
        latest = mappings.latest()
        wanted = demo_mapping(latest.version + 1 if latest else 1)
        if latest is not None and replace(latest, version=wanted.version) == wanted:
            return latest.version
        return mappings.publish(wanted, now, by="salesync demo")


def map_every_category(factory: sessionmaker[Session], tenant: str, now: datetime) -> bool:
    """When the mapping in force is the one an earlier live demo injected, publish it with
    the missing category mapped, so the narrated run reconciles clean again; True if so."""
    with factory() as session, session.begin():
        mappings = Mappings(session, tenant)
        latest = mappings.latest()
        if latest is None or replace(latest, version=1) != demo_mapping(1):
            return False
        mappings.publish(demo_mapping(latest.version + 1, unmapped=None), now, by="salesync demo")
        return True


# -- who signs in ----------------------------------------------------------------------


def demo_logins(factory: sessionmaker[Session], tenant: str) -> list[Login]:
    """The demo tenant's owner and an admin, each with a fresh random password (set again
    on users an earlier run made, which also signs them out everywhere)."""
    wanted = (
        ("merchant (owner)", OWNER_EMAIL, Role.OWNER, tenant, "Harbor & Pine owner"),
        ("staff (admin)", ADMIN_EMAIL, Role.ADMIN, None, "salesync admin"),
    )
    logins = []
    with factory() as session, session.begin():
        users = Users(session, system_clock)
        for label, email, role, tenant_id, name in wanted:
            password = secrets.token_urlsafe(12)
            if users.by_email(email) is None:
                users.add(email, password, role, tenant_id, name)
            else:
                users.set_password(email, password)
            logins.append(Login(label, email, password))
    return logins


# -- the running parts -----------------------------------------------------------------


class Market:
    """The sandboxes trading on in a background thread, on a clock ``speed`` times real
    time: every ``interval`` both shops trade their share of the simulated time passed,
    then deliver their webhooks; salesync sweeps both accounts every ``sweep_every``."""

    def __init__(
        self, stage: Stage, *, speed: float, interval: float, sweep_every: timedelta
    ) -> None:
        self.stage = stage
        self.speed = speed
        self.interval = interval
        self.sweep_every = sweep_every
        self.steps = 0
        self.sweeps = 0
        self.failures = 0
        self.last_error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="demo-market", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        clock = self.stage.clock
        real, simulated = time.monotonic(), clock()
        next_sweep = simulated + self.sweep_every
        while not self._stop.wait(self.interval):
            target = simulated + timedelta(seconds=(time.monotonic() - real) * self.speed)
            try:
                self._step(target)
                if clock() >= next_sweep:
                    self.stage.sweep()
                    self.sweeps += 1
                    next_sweep = clock() + self.sweep_every
            except Exception as exc:  # a step that failed is tried again at the next one
                self.failures += 1
                self.last_error = exc
                log.warning("demo_market_step_failed", error=f"{type(exc).__name__}: {exc}")

    def _step(self, target: datetime) -> None:
        """Both shops trade in turn up to ``target`` (they share one clock), then send."""
        share = (target - self.stage.clock()).total_seconds() / len(PROVIDERS)
        if share > 0:
            for provider in PROVIDERS:
                self.stage.run_shop(provider, share)
        self.stage.deliver()
        self.steps += 1


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the demo stops on its own signals
        pass


def listening_socket(port: int) -> tuple[socket.socket, bool]:
    """A socket bound to 127.0.0.1:``port``, or to a free port when that one is taken;
    True when it is the port asked for (or any, for 0)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
        asked = True
    except OSError:
        sock.bind(("127.0.0.1", 0))
        asked = False
    sock.listen(128)
    sock.set_inheritable(True)
    return sock, asked


@contextmanager
def served(app: FastAPI, sock: socket.socket, log_level: str) -> Iterator[threading.Thread]:
    """``app`` under uvicorn on ``sock`` in a background thread, until the block ends;
    yields the thread, which ends early only if the server fails."""
    # No log set-up of uvicorn's own: its lines go through salesync's (redacted, JSON off
    # a terminal), like every other line of the demo.
    config = uvicorn.Config(
        app, log_level=log_level.lower(), log_config=None, access_log=False, lifespan="on"
    )
    server = _Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="demo-server", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the demo's server did not start")
        time.sleep(0.02)
    try:
        yield thread
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def serve_live(console: Console, cfg: Settings, stage: Stage, options: LiveOptions) -> None:
    """Serve salesync beside the trading sandboxes until Ctrl-C or SIGTERM."""
    factory, clock, tenant = stage.factory, stage.clock, stage.tenant
    stop = threading.Event()
    with stopped_by_signals(stop):
        window = next_window(clock(), BAY_AREA, DEFAULT_WINDOWS)
        clock.set(max(clock(), window - LEAD))
        version = inject_unmapped_category(factory, tenant, clock())
        logins = demo_logins(factory, tenant)
        with factory() as session:
            quarantined = len(Inbox(session, tenant, clock).in_state(RecordState.QUARANTINED))
        tokens = token_manager(cfg, factory, clock, incidents=stage.engine.incidents)
        app = create_app(
            factory,
            clock,
            stage.vault,
            registry=stage.registry,
            engine=stage.engine,
            metrics_token=cfg.metrics_token.get_secret_value() if cfg.metrics_token else None,
            redactor=redactor(cfg),
            reconnect=reconnect(cfg, factory, clock, tokens),
            sign_in=SignIn(factory, system_clock),
            mail=cfg.mail_settings(),
            support=support_service(cfg, factory, clock),
        )
        sock, asked = listening_socket(options.port)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        runner = InProcessRunner(stage.engine, options.interval, monitor(cfg, factory, clock))
        market = Market(
            stage,
            speed=options.speed,
            interval=options.interval,
            sweep_every=options.sweep_every,
        )
        # uvicorn's start and stop lines would only repeat what the narration says.
        quiet = "DEBUG" if cfg.log_level == "DEBUG" else "WARNING"
        with served(app, sock, quiet) as server:
            began = clock()
            runner.start()
            market.start()
            _announce(
                console,
                url,
                logins,
                options,
                asked=asked,
                version=version,
                quarantined=quarantined,
                start=began,
                window=window,
            )
            try:
                while server.is_alive() and not stop.wait(0.2):
                    pass
            finally:
                market.stop()
                runner.stop()
            if not stop.is_set():
                console.print("[red]The demo's server stopped by itself; stopping the rest.[/red]")
    traded = timedelta(seconds=round((clock() - began).total_seconds()))
    console.print(
        f"Stopped: the shops traded {traded} of simulated time in {market.steps} steps, "
        f"with {market.sweeps} sweeps; the server and the runner are down, the sandboxes "
        "and the database close next."
    )
    for what, error in (("sandboxes", market.last_error), ("runner", runner.last_error)):
        if error is not None:
            console.print(f"[yellow]The last error of the {what}: {error}[/yellow]")


def _announce(
    console: Console,
    url: str,
    logins: list[Login],
    options: LiveOptions,
    *,
    asked: bool,
    version: int,
    quarantined: int,
    start: datetime,
    window: datetime,
) -> None:
    if not asked:
        console.print(f"[yellow]Port {options.port} is taken; listening on {url} instead.[/]")
    console.print(f"\n[bold]Live:[/bold] the dashboard is at {url}/ (sign in at {url}/login)")
    for login in logins:
        console.print(f"  {login.role}: {login.email}  password: {login.password}")
    wait = (window - start).total_seconds() / options.speed / 60
    console.print(
        f"The shops keep trading from {start:%Y-%m-%d %H:%M} UTC, {options.speed:g} simulated "
        f"seconds each real second: webhooks every {options.interval:g} s, a sweep every "
        f"{options.sweep_every.total_seconds() / 3600:g} simulated hour(s), sync windows "
        f"at 06:00 and 18:00 local (the Bay Area's next in about {max(wait, 0):.0f} real "
        "minute(s))."
    )
    kept = (
        f" The {quarantined} quarantined record(s) of the narrated run stay set aside, "
        "with their ticket."
        if quarantined
        else ""
    )
    console.print(
        f"Injected: mapping version {version} maps every category but Square's "
        f"{UNMAPPED!r}, so Bakery sales are held at their sync window and a ticket asks "
        f"for the mapping: add it in the dashboard.{kept}"
    )
    console.print("Ctrl-C stops the demo.")
