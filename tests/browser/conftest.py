"""Browser fixtures: Debian's Chromium, headless and driven by Playwright, and salesync's
API under uvicorn on a migrated SQLite database.

One browser serves all the tests of this folder; each test gets a fresh context (no
cookies or storage from another test). A failing test leaves a screenshot of its page
in ``test-artifacts/browser/<test name>.png``; ``screenshot`` takes one on request.

``running_salesync`` is salesync as ``salesync serve`` runs it (the dashboard and an
in-process runner ticking the engine) on a database of the test's own, filled first by
the ``salesync_seed`` fixture, which a test module overrides.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy.orm import Session, sessionmaker

from salesync.accounts.passwords import Cost
from salesync.api import create_app
from salesync.api.reconnect import Reconnect
from salesync.api.session import SignIn
from salesync.clock import ManualClock
from salesync.connectors.registry import SourceRegistry
from salesync.connectors.tokens import TokenManager
from salesync.engine.runner import Engine, InProcessRunner
from salesync.sandbox.server import free_port, serving
from salesync.store.database import make_engine, migrate, session_factory
from salesync.store.vault import Vault, new_key

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium calls Google's services at start, and a closed network
    # refuses those connections.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
"""Chromium's switches; Playwright adds a new, empty ``--user-data-dir`` of its own at
every launch (and refuses one passed here) and removes it when the browser closes."""

NOW = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)

_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the test, so ``page`` knows whether the test failed."""
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


def _artifact(request: pytest.FixtureRequest, label: str = "") -> Path:
    """Where the test's screenshot goes: ``test-artifacts/browser/<test name>[-label].png``."""
    name = re.sub(r"[^\w.-]+", "-", request.node.name).strip("-")
    folder = request.config.rootpath / "test-artifacts" / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / (f"{name}-{label}.png" if label else f"{name}.png")


# Package scope, not session: while Playwright's sync API is open it marks its event loop
# as running in this thread, and asyncio.run() in any later test of the suite would fail.
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless; ``make test`` installs it (scripts/system-deps.sh)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests drive Debian's Chromium. "
            "`make test` installs it (scripts/system-deps.sh); by hand: "
            "apt-get install chromium. Leave these tests out with -m 'not browser'.",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS)
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A page in a context of its own; screenshotted if the test fails."""
    failed_shot = _artifact(request)
    failed_shot.unlink(missing_ok=True)
    context = browser.new_context(locale="en-US")
    opened = context.new_page()
    try:
        yield opened
    finally:
        call = request.node.stash.get(_REPORTS, {}).get("call")
        if call is not None and call.failed:
            opened.screenshot(path=failed_shot, full_page=True)
        context.close()


@pytest.fixture
def screenshot(page: Page, request: pytest.FixtureRequest) -> Callable[[str], Path]:
    """Save the page as it is now under ``test-artifacts/browser/``; returns the file."""

    def take(label: str = "") -> Path:
        path = _artifact(request, label)
        page.screenshot(path=path, full_page=True)
        return path

    return take


@pytest.fixture(scope="package")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sessionmaker[Session]]:
    """A migrated SQLite database the live server runs on; tests add what they need."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('browser') / 'salesync.db'}")
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture(scope="package")
def live_server(database: sessionmaker[Session]) -> Iterator[str]:
    """salesync's API, reconnect links included, under uvicorn on a free loopback port;
    yields its base URL."""
    clock = ManualClock(NOW)
    vault = Vault([new_key()])
    port = free_port()
    tokens = TokenManager(database, vault, clock, lambda _: pytest.fail("no token refresh"))
    reconnect = Reconnect(
        database,
        clock,
        vault,
        tokens,
        clients=lambda _: None,
        public_url=f"http://127.0.0.1:{port}",
    )
    app = create_app(database, clock, vault, reconnect=reconnect)
    with serving(app, port=port) as url:
        yield url


CHEAP = Cost(n=2**10)
"""A password cost for test users that signs in within milliseconds."""
TICK_SECONDS = 0.2
"""How often the live runner ticks: released work posts well within a second."""

Seed = Callable[[sessionmaker[Session], ManualClock], None]


@dataclass(frozen=True, slots=True)
class RunningSalesync:
    """A live salesync: its base URL, database and clock, and the runner ticking it."""

    url: str
    factory: sessionmaker[Session]
    clock: ManualClock
    runner: InProcessRunner


@pytest.fixture
def salesync_seed() -> Seed:
    """What goes into ``running_salesync``'s database before it starts (tenants, users
    with the ``CHEAP`` password cost, mappings, sales); a test module overrides it."""
    return lambda _factory, _clock: None


@pytest.fixture
def running_salesync(tmp_path: Path, salesync_seed: Seed) -> Iterator[RunningSalesync]:
    """salesync as ``salesync serve`` runs it, on a fresh migrated SQLite database: the API
    and dashboard under uvicorn on a free loopback port, and an in-process runner ticking
    the engine every ``TICK_SECONDS``. The clock stands where the seed left it, so sync
    windows and SLA times are the test's to set."""
    engine = make_engine(f"sqlite:///{tmp_path / 'live.db'}")
    migrate(engine)
    factory = session_factory(engine)
    clock = ManualClock(NOW)
    salesync_seed(factory, clock)
    registry = SourceRegistry(points=[])
    work = Engine(factory, clock, registry=registry)
    app = create_app(
        factory,
        clock,
        Vault([new_key()]),
        registry=registry,
        engine=work,
        sign_in=SignIn(factory, clock, cost=CHEAP),
    )
    runner = InProcessRunner(work, interval=TICK_SECONDS)
    runner.start()
    try:
        with serving(app) as url:
            yield RunningSalesync(url, factory, clock, runner)
    finally:
        runner.stop()
        engine.dispose()
    assert runner.last_error is None, f"the runner failed: {runner.last_error!r}"
