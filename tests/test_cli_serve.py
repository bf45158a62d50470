"""``salesync serve`` and ``salesync api-token``: the API runs from the command line with
its runner, and a manual sale keyed in through it lands in the books at once."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from salesync.cli.app import app
from salesync.clock import system_clock
from salesync.config import load_settings
from salesync.domain.documents import Sale
from salesync.domain.simulate import demo_merchant, simulate
from salesync.engine.inbox import RecordState
from salesync.engine.runner import Engine
from salesync.store import codec
from salesync.store.database import make_engine, migrate, session_factory
from salesync.store.repositories import Journal, Locations, Tenants
from salesync.store.tables import InboxRecordRow

MERCHANT = demo_merchant(orders_per_day=4)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _merchant() -> None:
    engine = make_engine(load_settings().database)
    migrate(engine)
    with session_factory(engine)() as session, session.begin():
        Tenants(session).add(MERCHANT.tenant)
        for location in MERCHANT.locations:
            Locations(session, "demo").add(location)
    engine.dispose()


def _wait_for(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail(f"salesync serve did not answer at {url}")


def test_tokens_are_issued_listed_and_revoked(cli_home: Path) -> None:
    """A token is printed once at creation, listed without its secret, and revoked."""
    _merchant()
    cli = CliRunner()
    created = cli.invoke(app, ["api-token", "create", "front till"])
    assert created.exit_code == 0, created.output
    secret = created.output.strip().splitlines()[-1]
    assert secret.startswith("ssk_")
    listed = cli.invoke(app, ["api-token", "list"])
    assert "front till" in listed.output
    assert secret not in listed.output
    token_id = created.output.split("API token ")[1].split()[0]
    assert cli.invoke(app, ["api-token", "revoke", token_id]).exit_code == 0
    assert cli.invoke(app, ["api-token", "revoke", "no-such-token"]).exit_code == 2


def test_serve_takes_a_manual_sale_into_the_books(cli_home: Path) -> None:
    """Under `salesync serve`, a manual sale with a token answers 201 posted, a webhook to
    an unknown connection 404; behind the named proxy a request it forwarded over https
    gets Secure cookies; Ctrl-C stops the server cleanly."""
    _merchant()
    secret = CliRunner().invoke(app, ["api-token", "create", "till"]).output.split()[-1]
    port = _free_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "salesync", "serve", "--port", str(port)),
            *("--interval", "0.2", "--forwarded-allow-ips", "127.0.0.1"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "SALESYNC_LOG_LEVEL": "WARNING"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{base}/docs", process)
        sale = next(
            d for d in simulate(MERCHANT, date(2026, 3, 2), 1, seed=2) if isinstance(d, Sale)
        )
        body = {k: v for k, v in codec.encode(sale).items() if k not in ("id", "source")}
        entered = httpx.post(
            f"{base}/api/v1/tenants/demo/sales",
            json=body,
            headers={"Authorization": f"Bearer {secret}"},
        )
        assert entered.status_code == 201, entered.text
        assert entered.json()["document"]["postings"][0]["state"] == "posted"
        assert httpx.post(f"{base}/webhooks/nobody", content=b"{}").status_code == 404
        proxied = httpx.get(f"{base}/login", headers={"X-Forwarded-Proto": "https"})
        direct = httpx.get(f"{base}/login")
        assert "secure" in proxied.headers["set-cookie"].lower()
        assert "secure" not in direct.headers["set-cookie"].lower()
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert "listening on" in output
    assert "Traceback" not in output
    engine = make_engine(load_settings().database)
    with session_factory(engine)() as session:
        assert Journal(session, "demo").count() == 1
    engine.dispose()


def test_serve_without_a_runner_leaves_the_work_to_a_worker(cli_home: Path) -> None:
    """Under `serve --no-runner` a received record stays received while the API answers;
    `salesync worker --once` beside it takes the record in; Ctrl-C stops the server with
    exit code 0."""
    _merchant()
    sale = next(d for d in simulate(MERCHANT, date(2026, 3, 2), 1, seed=2) if isinstance(d, Sale))
    engine = make_engine(load_settings().database)
    Engine(session_factory(engine), system_clock).receive(
        "demo", "simulator", "sale", json.dumps(codec.encode(sale))
    )
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "salesync", "serve", "--port", str(port), "--no-runner"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "SALESYNC_LOG_LEVEL": "WARNING"},
    )
    try:
        _wait_for(f"http://127.0.0.1:{port}/docs", process)
        time.sleep(0.5)
        with session_factory(engine)() as session:
            states = session.scalars(select(InboxRecordRow.state)).all()
        assert states == [RecordState.RECEIVED.value]
        worked = CliRunner().invoke(app, ["worker", "--once"])
        assert worked.exit_code == 0, worked.output
        assert "1 record(s) taken in" in worked.output
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    engine.dispose()
    assert process.returncode == 0, output
    assert "no runner here" in output
    assert "Traceback" not in output
