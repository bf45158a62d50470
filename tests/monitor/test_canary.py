"""A canary secret planted in credentials and payloads never appears in any ticket, log,
export or e-mail.

One string is the QuickBooks app's client secret, a field of the connection's stored
credentials, and part of a sale and a customer sent in by a source, next to a card
number, an e-mail address and a phone number. Then everything fails that can: a record
quarantined at intake, a destination answering 5xx (echoing the request's headers and
body) until the retry budget is spent, a mapping refused by QuickBooks, the grant
revoked. The only places the canary may be are the raw inbox record (kept for replay)
and the sealed credentials.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from salesync import logs
from salesync.clock import ManualClock
from salesync.config import Settings, load_settings
from salesync.connectors.ledger.books import LedgerBooks
from salesync.connectors.registry import DestinationRegistry
from salesync.domain.documents import Sale
from salesync.domain.simulate import demo_merchant, simulate
from salesync.engine.runner import Engine
from salesync.engine.wiring import (
    configured_engine,
    known_secrets,
    monitor,
    redactor,
    tenant_redactor,
)
from salesync.monitor.notify import Contacts
from salesync.monitor.trackers import GitHubSettings
from salesync.monitor.trackers.content import content_of
from salesync.sandbox import github as github_sandbox
from salesync.sandbox.qbo import DEFAULT_CLIENT_ID
from salesync.store import codec
from salesync.store.repositories import Connections, Locations, Tenants
from salesync.store.tables import IncidentRow, TicketRow
from salesync.store.vault import new_key

from .smtp import SmtpServer, smtp_server

# The QuickBooks harness lives with the connector tests, which import it top-level.
sys.path.insert(0, str(Path(__file__).parents[1] / "connectors"))
from qbo_harness import BASE, QboHarness
from shopify_harness import SandboxTransport

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

CANARY = "CANARY-7f3a9c2e51b84d06"
CARD = "4111 1111 1111 1111"
EMAIL = "canary.7f3a@buyer.test"
PHONE = "+1 212 555 0199"
PLANTED = (CANARY, CARD, CARD.replace(" ", ""), EMAIL)
"""What must appear nowhere (the phone is checked where it is a field: see ``_phone``)."""

MERCHANT = demo_merchant(orders_per_day=3)
TENANT = MERCHANT.tenant.id
GITHUB = "https://github.sandbox.test"
OWNER_EMAIL = "owner@demo.test"
CATEGORIES = ("Accessories", "Apparel", "Coffee", "Homeware", "Stationery")
SCANNED_TABLES = ("incidents", "tickets", "ticket_events", "notices")


class Router(httpx.BaseTransport):
    """QuickBooks and GitHub in process; QuickBooks' batch calls answered 5xx with the
    request's Authorization header and body echoed back while ``echo`` is on."""

    def __init__(self, qbo: httpx.BaseTransport, github: httpx.BaseTransport) -> None:
        self.qbo, self.github = qbo, github
        self.echo = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "github.sandbox.test":
            return self.github.handle_request(request)
        if self.echo and request.url.path.endswith("/batch"):
            auth = request.headers.get("Authorization", "")
            body = request.read().decode()
            return httpx.Response(
                500,
                headers={"X-Echo-Authorization": auth, "intuit_tid": "tid-1"},
                json={
                    "Fault": {
                        "Error": [
                            {
                                "Message": f"internal error handling {auth}",
                                "Detail": f"request was: {body}",
                                "code": "10000",
                            }
                        ],
                        "type": "SERVICE",
                    }
                },
            )
        return self.qbo.handle_request(request)


@pytest.fixture
def isolated_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Whatever ``logs.configure`` changes is put back after the test."""
    config = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    factory = logging.getLogRecordFactory()
    monkeypatch.setattr(logs, "_redactor", logs.current())
    yield
    structlog.configure(**config)
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.setLogRecordFactory(factory)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


def _settings(database_url: str, smtp: SmtpServer) -> Settings:
    return load_settings(
        database_url=database_url,
        secret_keys=[new_key()],
        log_level="DEBUG",
        qbo_client_id=DEFAULT_CLIENT_ID,
        qbo_client_secret=CANARY,
        qbo_token_url=f"{BASE}/oauth2/v1/tokens/bearer",
        mail=smtp.settings(),
        github=GitHubSettings(
            api_url=GITHUB, owner="salesync-dev", repo="support", token=github_sandbox.DEFAULT_TOKEN
        ),
    )


def _merchant(factory: sessionmaker[Session]) -> None:
    with factory() as session, session.begin():
        Tenants(session).add(MERCHANT.tenant)
        for location in MERCHANT.locations:
            Locations(session, TENANT).add(location)
        Contacts(session, TENANT).add(OWNER_EMAIL)


def _planted_sale(at: date, external: str) -> Sale:
    """A simulated sale whose number carries the canary, a card and an e-mail, its
    customer known by their e-mail address (as some tills do)."""
    sale = next(d for d in simulate(MERCHANT, at, 1, seed=3) if isinstance(d, Sale))
    return replace(
        sale,
        id=f"{sale.id}-{external}",
        external_id=f"{external}-{sale.external_id}",
        number=f"{external} {CANARY} paid with {CARD} by {EMAIL}",
        customer_id=EMAIL,
    )


def _receive(engine: Engine, doc: Any, kind: str) -> None:
    engine.receive(TENANT, "simulator", kind, json.dumps(codec.encode(doc)))


def _rows(factory: sessionmaker[Session], table: str) -> list[dict[str, Any]]:
    with factory() as session:
        return [dict(r._mapping) for r in session.execute(text(f"SELECT * FROM {table}"))]  # noqa: S608 - fixed names


def _phone(rows: list[dict[str, Any]]) -> list[str]:
    return [f"phone in {r}" for r in rows if PHONE in json.dumps(r, default=str)]


def _ledger_stage(
    cfg: Settings, factory: sessionmaker[Session], clock: ManualClock, folder: Path
) -> dict[str, str]:
    """Before any destination: a planted sale into the ledger, a planted record
    quarantined; the ledger exported in both formats."""
    engine = configured_engine(cfg, factory, clock)
    _receive(engine, _planted_sale(date(2026, 10, 28), "L1"), "sale")
    bad = {"id": "broken", "number": f"{CANARY} {CARD} {EMAIL}", "phone": PHONE}
    engine.receive(TENANT, "simulator", "sale", json.dumps(bad))
    clock.advance(timedelta(days=1))
    engine.run_until_idle(TENANT)
    exports: dict[str, str] = {}
    with factory() as session:
        for fmt in ("beancount", "hledger"):
            path = folder / f"books.{fmt}"
            scrub = tenant_redactor(cfg, session, TENANT)
            LedgerBooks(session, TENANT).export(fmt, path, redactor=scrub)
            exports[fmt] = path.read_text()
    return exports


def test_the_canary_appears_in_no_ticket_log_export_or_email(
    factory: sessionmaker[Session],
    database_url: str,
    smtp: SmtpServer,
    tmp_path: Path,
    isolated_logging: None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Quarantine, 5xx to the end of the budget, a mapping refusal and a revoked grant,
    with tickets, e-mails, a GitHub issue and logs: the canary, the card, the e-mail
    address and the connection's tokens appear in none of them."""
    monkeypatch.setenv("SALESYNC_CONFIG", str(tmp_path / "none.toml"))
    cfg = _settings(database_url, smtp)
    logs.configure(cfg.log_level, secrets=known_secrets(cfg))
    _merchant(factory)
    clock = ManualClock(datetime(2026, 10, 29, 9, tzinfo=UTC))

    exports = _ledger_stage(cfg, factory, clock, tmp_path)
    assert "L1" in exports["beancount"], "the planted sale reached the ledger"

    # QuickBooks connected, its app's secret and a stored credential being the canary.
    qbo = QboHarness.start(factory, clock, TENANT, customers="each")
    qbo.sandbox.authority.register_client(DEFAULT_CLIENT_ID, CANARY)
    with factory() as session, session.begin():
        credentials = Connections(session, TENANT, qbo.vault).credentials(qbo.connection_id)
        Connections(session, TENANT, cfg.vault()).replace_credentials(
            qbo.connection_id, {**credentials, "webhook_verifier": CANARY}
        )
    tokens = (str(credentials["access_token"]), str(credentials["refresh_token"]))
    github = SandboxTransport(github_sandbox.create_app(clock=clock))
    router = Router(qbo.transport, github)
    registry = DestinationRegistry(points=[])
    registry.add(qbo.destination)
    engine = configured_engine(cfg, factory, clock, destinations=registry, transport=router)
    support = monitor(cfg, factory, clock, transport=router)

    def run(hours: int) -> None:
        for _ in range(hours):
            clock.advance(timedelta(hours=1))
            engine.tick(TENANT)
            support.tick()

    # 5xx echoing the token and the body, until the retry budget is spent.
    router.echo = True
    _receive(engine, _planted_sale(date(2026, 10, 29), "Q1"), "sale")
    run(12)
    router.echo = False
    # A mapping QuickBooks refuses: the sales accounts are inactive there.
    accounts = qbo.settings()["accounts"]
    retired = qbo.account_id("Retired Sales")
    qbo.configure(accounts={**accounts, **{f"Income:Sales:{c}": retired for c in CATEGORIES}})
    _receive(engine, _planted_sale(date(2026, 10, 30), "Q2"), "sale")
    run(3)
    qbo.configure(accounts=accounts)
    # The merchant disconnects salesync in QuickBooks.
    qbo.revoke()
    qbo.expire_access_token()
    _receive(engine, _planted_sale(date(2026, 10, 31), "Q3"), "sale")
    run(30)

    with factory() as session:
        kinds = set(session.scalars(select(TicketRow.kind)))
        incidents = session.scalars(select(IncidentRow)).all()
        tickets = session.scalars(select(TicketRow)).all()
        contents = [
            content_of(
                t,
                next((i for i in incidents if i.ticket_id == t.id), None),
                redactor(cfg),
            )
            for t in tickets
        ]
    assert {"validation", "mapping", "auth"} <= kinds, kinds
    assert any(i.kind == "transient" or i.transient for i in incidents), "5xx were recorded"
    qbo.close()

    stored = {t: _rows(factory, t) for t in SCANNED_TABLES}
    assert all(stored[t] for t in ("incidents", "tickets", "notices")), "all were written"
    mails = [m.raw.decode(errors="replace") for m in smtp.received]
    assert mails, "the merchant was e-mailed"
    issues = github.handle_request(httpx.Request("GET", f"{GITHUB}/_sandbox/issues")).json()
    assert issues, "the tickets were exported to GitHub"
    output = capsys.readouterr()
    captured = output.out + output.err

    forbidden = (*PLANTED, *tokens)
    everything = {
        **{f"table {t}": rows for t, rows in stored.items()},
        "logs": captured,
        "mail": mails,
        "github": issues,
        "tracker content": [repr(c) for c in contents],
    }
    leaks = [
        f"{where}: {value[:12]}..."
        for where, found in everything.items()
        for value in forbidden
        if value in (found if isinstance(found, str) else json.dumps(found, default=str))
    ]
    assert leaks == [], leaks
    assert _phone(stored["incidents"] + stored["tickets"] + stored["notices"]) == []
    with factory() as session:
        raw = session.execute(text("SELECT payload FROM inbox_records")).scalars().all()
    assert any(CANARY in str(p) for p in raw), "the raw record keeps what was received"


def test_the_ledger_exports_carry_no_canary(
    factory: sessionmaker[Session],
    database_url: str,
    smtp: SmtpServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The Beancount and hledger exports hold neither the canary, the card nor the
    e-mail address a source put in a sale's number."""
    monkeypatch.setenv("SALESYNC_CONFIG", str(tmp_path / "none.toml"))
    cfg = _settings(database_url, smtp)
    _merchant(factory)
    clock = ManualClock(datetime(2026, 10, 29, 9, tzinfo=UTC))
    exports = _ledger_stage(cfg, factory, clock, tmp_path)
    assert "L1" in exports["beancount"], "the planted sale reached the ledger"
    leaks = [(fmt, v) for fmt, body in exports.items() for v in PLANTED if v in body]
    assert leaks == []
