"""``salesync demo`` keeps running as a live server after its narrated run: a visitor signs
in with the logins it prints, sees the tickets of what was injected, and Ctrl-C stops it
all cleanly."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from salesync.cli.demo_live import UNMAPPED, demo_mapping
from salesync.domain.documents import Refund, Sale
from salesync.rules import problems
from salesync.store import codec
from salesync.store.database import make_engine, session_factory
from salesync.store.tables import DocumentRow

DEMO = [
    *("demo", "--serve", "--port", "0", "--start", "2026-03-06"),
    *("--days", "1", "--history", "2", "--orders-per-day", "3", "--speed", "1200"),
]
READY = "Ctrl-C stops the demo."


@dataclass
class Live:
    process: subprocess.Popen[str]
    lines: list[str]
    home: Path

    @property
    def output(self) -> str:
        return "\n".join(self.lines)


def _read(process: subprocess.Popen[str], into: queue.Queue[str | None]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        into.put(line.rstrip("\n"))
    into.put(None)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """The demo started with small numbers in a folder of its own, read until it says it
    is live; stopped by the test that sends it Ctrl-C, else afterwards."""
    home = tmp_path_factory.mktemp("demo-live")
    env = {
        **os.environ,
        "SALESYNC_CONFIG": str(home / "none.toml"),
        "SALESYNC_LOG_LEVEL": "WARNING",
        "COLUMNS": "200",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("SALESYNC_DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "salesync", *DEMO],
        cwd=home,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_read, args=(process, lines), daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + 180
    while READY not in seen:
        left = deadline - time.monotonic()
        try:
            line = lines.get(timeout=max(left, 0.01))
        except queue.Empty:
            process.kill()
            pytest.fail("the demo did not go live in time:\n" + "\n".join(seen))
        if line is None:
            pytest.fail("the demo ended before going live:\n" + "\n".join(seen))
        seen.append(line)
    found = Live(process, seen, home)
    threading.Thread(target=_keep, args=(lines, seen), daemon=True).start()
    yield found
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        process.wait(30)
    assert process.stdout is not None
    process.stdout.close()


def _keep(lines: queue.Queue[str | None], seen: list[str]) -> None:
    while (line := lines.get()) is not None:
        seen.append(line)


def _url(live: Live) -> str:
    match = re.search(r"dashboard is at (http://127\.0\.0\.1:\d+)/", live.output)
    assert match, live.output
    return match.group(1)


def _login(live: Live, who: str) -> tuple[str, str]:
    match = re.search(rf"{re.escape(who)}: (\S+)  password: (\S+)", live.output)
    assert match, live.output
    return match.group(1), match.group(2)


@contextmanager
def _signed_in(base: str, email: str, password: str) -> Iterator[httpx.Client]:
    """A client signed in through the login form: its nonce, from the form's cookie, sent
    back as the form's field."""
    with httpx.Client(base_url=base, timeout=10) as client:
        form = client.get("/login")
        assert form.status_code == 200
        nonce = client.cookies.get("salesync_login")
        assert nonce
        done = client.post(
            "/login", data={"email": email, "password": password, "csrf_token": nonce}
        )
        assert done.status_code == 303, done.text
        yield client


def test_the_visitor_signs_in_and_sees_the_injected_failures(live: Live) -> None:
    """The printed owner login opens a session through /login (form nonce and cookie);
    /api/v1/me names the owner of the demo tenant, its tickets include the quarantined
    order, and the admin login works too. The narration says what was injected."""
    base = _url(live)
    assert "Injected: mapping version" in live.output
    assert repr(UNMAPPED) in live.output
    email, password = _login(live, "merchant (owner)")
    with _signed_in(base, email, password) as owner:
        me = owner.get("/api/v1/me").json()
        assert (me["email"], me["role"], me["tenant_id"]) == (email, "owner", "demo")
        tickets = owner.get("/api/v1/tenants/demo/tickets")
        assert tickets.status_code == 200, tickets.text
        messages = [t["user_message"] for t in tickets.json()["tickets"]]
        assert any("quantity -1" in m for m in messages), messages
    email, password = _login(live, "staff (admin)")
    with _signed_in(base, email, password) as admin:
        assert admin.get("/api/v1/me").json()["role"] == "admin"
    with httpx.Client(base_url=base, timeout=10) as wrong:
        wrong.get("/login")
        nonce = wrong.cookies["salesync_login"]
        refused = wrong.post(
            "/login", data={"email": email, "password": "x" * 16, "csrf_token": nonce}
        )
    assert refused.status_code == 401


def test_the_live_sales_arrive_and_the_bakery_ones_are_held(live: Live) -> None:
    """While it serves, the sandboxes keep trading: once the Bay Area's sync window has
    opened (at 1200x, seconds away, and the next one a minute later) the Bakery sales are
    held for a mapping and the ticket asking for it is open."""
    base = _url(live)
    email, password = _login(live, "merchant (owner)")
    deadline = time.monotonic() + 120
    with _signed_in(base, email, password) as owner:
        while True:
            tickets = owner.get("/api/v1/tenants/demo/tickets").json()["tickets"]
            held = [t for t in tickets if t["kind"] == "mapping"]
            if held or time.monotonic() > deadline:
                break
            time.sleep(1)
    assert held, [t["user_message"] for t in tickets]
    assert UNMAPPED in held[0]["user_message"]


def test_ctrl_c_stops_everything_cleanly(live: Live) -> None:
    """SIGINT ends the demo with exit code 0 within seconds, a closing line and no
    traceback; the mapping it injected holds exactly the sales with a Bakery line."""
    live.process.send_signal(signal.SIGINT)
    assert live.process.wait(20) == 0
    time.sleep(0.2)  # the reader thread takes the last lines
    assert "Stopped: the shops traded" in live.output
    assert "Traceback" not in live.output
    engine = make_engine(f"sqlite:///{live.home / 'var' / 'salesync.db'}")
    with session_factory(engine)() as session:
        rows = session.scalars(select(DocumentRow).where(DocumentRow.kind.in_(("sale", "refund"))))
        documents = [codec.decode(r.kind, r.body) for r in rows]
    engine.dispose()
    mapping = demo_mapping(1)
    verdicts = set()
    for document in documents:
        assert isinstance(document, Sale | Refund)
        bakery = any(line.category == UNMAPPED for line in document.lines)
        assert bool(problems(mapping, document)) == bakery, document
        verdicts.add(bakery)
    assert verdicts == {True, False}
