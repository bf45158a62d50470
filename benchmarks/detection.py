"""Detection latency: failures of mixed kinds injected through the QuickBooks Online
sandbox, and the real time from each failure until its ticket can be seen.

One tenant with a Brooklyn store posts its sales per order, synced in real time, through
salesync's engine (receive, take in, plan, send) into a sandbox company reached in
process, wired as ``salesync.engine.wiring`` wires it (redacted incidents, merchant
notices queued as a ticket opens, a token manager that pauses a refused connection). The
engine runs on the real clock; the sandbox's rate limits and the connector's pacing share
a simulated one, so pacing never sleeps for real; retry waits are cut to milliseconds.

Rounds of fresh sales go through with a fault armed for each, until ``--failures``
failures have been recorded:

- healed: the next batch calls answer 503, 429 or lose their answer after committing;
  the retry succeeds and the transient incidents are marked healed, with no ticket;
- exhausted: every attempt answers 503 until the retry budget is spent; the last one
  opens (or joins) a ticket;
- refused: the sales income accounts are mapped to an inactive QuickBooks account, so
  the postings are held;
- auth: the merchant revokes salesync in QuickBooks; the refused token refresh pauses
  the connection and holds the postings; then the merchant reconnects and they post;
- quarantined: records that are not JSON, taken in and quarantined.

A watcher thread with its own database session polls the incidents, joined to their
tickets, every ``--poll-ms`` and notes when each is first seen. A failure's moment is the
real time of the HTTP answer behind it (the last one before the engine recorded it), or,
for a record at intake, the moment the engine recorded it. Prints the latency from
failure to ticket visible (p50, p99, max) by kind, tickets against incidents, the
transient failures that healed without a ticket, and whether p99 is within 1 s.

    python benchmarks/detection.py [--failures 1000] [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import bisect
import json
import logging
import random
import statistics
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import structlog
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock, system_clock
from salesync.config import Settings
from salesync.connectors.pacing import forget_budgets
from salesync.connectors.qbo import QboDestination
from salesync.connectors.registry import DestinationRegistry
from salesync.connectors.tokens import Grant
from salesync.domain.documents import Location, Sale
from salesync.domain.planning import PostingMode
from salesync.domain.simulate import SalesSimulator, demo_merchant
from salesync.engine.destinations import DestinationBooks
from salesync.engine.outbox import Outbox, PostingState
from salesync.engine.planner import Planner
from salesync.engine.runner import Engine
from salesync.engine.sender import RetryPolicy
from salesync.engine.wiring import incident_log, token_manager
from salesync.sandbox import qbo
from salesync.sandbox.faults import Fault, FaultKind, FaultPlan
from salesync.sandbox.qbo.entities import save
from salesync.store import codec
from salesync.store.database import make_engine, migrate, session_factory
from salesync.store.repositories import Connections, Locations, Tenants
from salesync.store.tables import IncidentRow, PostingRow, SyncPolicyRow, TicketRow
from salesync.store.vault import new_key

QBO_BASE = "https://quickbooks.api.intuit.com"
TENANT = "harbor"
RETRY = RetryPolicy(base=timedelta(milliseconds=20), cap=timedelta(milliseconds=200))
"""The engine's budget of attempts, with waits short enough to exhaust it in a second."""
TARGET = timedelta(seconds=1)
BUSY = (PostingState.PENDING.value, PostingState.RETRYING.value, PostingState.SENDING.value)
HEALING = (FaultKind.SERVER_ERROR, FaultKind.RATE_LIMITED, FaultKind.LOST_RESPONSE)


class Stamped(httpx.BaseTransport):
    """A sandbox app in process, noting the real time of every answer (a dropped
    connection included, which reaches the caller as httpx raises it over a socket)."""

    def __init__(self, app: Any) -> None:
        self._client = TestClient(app)
        self._client.__enter__()
        self.answered: list[datetime] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            answer = self._client.send(request)
        except ConnectionError as exc:
            self.answered.append(system_clock())
            raise httpx.RemoteProtocolError(str(exc), request=request) from exc
        self.answered.append(system_clock())
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    def close(self) -> None:
        """Kept open for the next client; see ``shutdown``."""

    def shutdown(self) -> None:
        self._client.__exit__(None, None, None)


class Watcher(threading.Thread):
    """Polls the incidents with their tickets from its own session; notes when each
    incident is first seen and whether its ticket already counted it."""

    def __init__(self, factory: sessionmaker[Session], interval: float) -> None:
        super().__init__(name="detection-watcher", daemon=True)
        self.factory = factory
        self.interval = interval
        self.seen: dict[int, datetime] = {}
        self.uncounted = 0
        """Incidents seen before their ticket's count included them (expected: none)."""
        self.polls = 0
        self._counted: Counter[int] = Counter()
        self._last = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.poll()
            self._done.wait(self.interval)
        self.poll()

    def poll(self) -> None:
        query = (
            select(IncidentRow.id, IncidentRow.ticket_id, TicketRow.occurrences)
            .outerjoin(TicketRow, TicketRow.id == IncidentRow.ticket_id)
            .where(IncidentRow.id > self._last)
            .order_by(IncidentRow.id)
        )
        with self.factory() as session:
            rows = session.execute(query).all()
        now = system_clock()
        self.polls += 1
        for incident, ticket, occurrences in rows:
            self.seen[incident] = now
            if ticket is not None:
                self._counted[ticket] += 1
                if occurrences is None or occurrences < self._counted[ticket]:
                    self.uncounted += 1
            self._last = incident

    def stop(self) -> None:
        self._done.set()
        self.join()


@dataclass
class Company:
    """The tenant's QuickBooks company in the sandbox, and the knobs that fail it."""

    clock: ManualClock
    company: qbo.QboCompany
    app: Any
    faults: FaultPlan
    transport: Stamped
    retired: str
    """The Id of an inactive income account, for refusals."""

    @classmethod
    def start(cls) -> Company:
        clock = ManualClock(system_clock())
        company, faults = qbo.QboCompany(clock=clock), FaultPlan()
        app = qbo.create_app(company, faults=faults)
        retired = save(
            company, "Account", {"Name": "Retired Sales", "AccountType": "Income", "Active": False}
        )
        return cls(clock, company, app, faults, Stamped(app), str(retired["Id"]))

    def grant(self, now: datetime) -> Grant:
        issued = self.app.state.sandbox.authority.issue_tokens(
            qbo.DEFAULT_CLIENT_ID, self.company.realm_id
        )
        return Grant(
            issued.access_token, issued.refresh_token, now + timedelta(seconds=issued.expires_in)
        )

    def destination(self) -> QboDestination:
        return QboDestination(
            clock=lambda: self.clock().timestamp(),
            sleep=lambda seconds: self.clock.advance(timedelta(seconds=seconds)),
        )

    def settings(self) -> dict[str, Any]:
        return {"realm_id": self.company.realm_id, "base_url": QBO_BASE}

    def arm(self, kind: FaultKind, times: int) -> None:
        """Fail the next ``times`` batch calls (writes, and reads back by key)."""
        self.faults.arm("batch", Fault(kind, retry_after=0.0), times)

    def revoke(self) -> None:
        self.app.state.sandbox.authority.revoke_subject(self.company.realm_id)


@dataclass
class Bench:
    """The engine, its database and the company, and the sales still to send."""

    factory: sessionmaker[Session]
    engine: Engine
    company: Company
    connection_id: str
    location: Location
    sales: Iterator[Sale]
    rng: random.Random
    rounds: Counter[str] = field(default_factory=Counter)
    bad_records: int = 0

    def receive(self, count: int) -> None:
        for _, sale in zip(range(count), self.sales, strict=False):
            payload = json.dumps(codec.encode(sale))
            self.engine.receive(TENANT, sale.source, "sale", payload, event_id=f"sale/{sale.id}")

    def settle(self, limit: float = 60.0) -> None:
        """Tick until no posting waits to be sent; sleep until the next retry is due."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            self.engine.tick(TENANT)
            with self.factory() as session:
                due = session.scalar(
                    select(func.min(PostingRow.next_attempt_at)).where(
                        PostingRow.tenant_id == TENANT, PostingRow.state.in_(BUSY)
                    )
                )
            if due is None:
                return
            wait = (due - system_clock()).total_seconds()
            if wait > 0:
                time.sleep(min(wait, 0.5))
        raise RuntimeError(f"postings still waiting after {limit:.0f} s")

    def configure(self, **changes: Any) -> None:
        with self.factory() as session, session.begin():
            vault = self.engine.books.vault if self.engine.books else None
            assert vault is not None
            Connections(session, TENANT, vault).update_settings(self.connection_id, **changes)

    def recorded(self) -> int:
        with self.factory() as session:
            return session.scalar(select(func.count()).select_from(IncidentRow)) or 0

    # -- rounds: each injects at most ``budget`` failures and says how many it meant to --

    def healed(self, budget: int) -> int:
        times = self.rng.choice((1, 1, 2))
        count = min(5, budget // times)
        if count == 0:
            return 0
        self.company.arm(self.rng.choice(HEALING), times)
        self.receive(count)
        self.settle()
        return count * times

    def exhausted(self, budget: int) -> int:
        if budget < RETRY.max_attempts:
            return 0
        self.company.arm(FaultKind.SERVER_ERROR, RETRY.max_attempts)
        self.receive(1)
        self.settle()
        return RETRY.max_attempts

    def refused(self, budget: int) -> int:
        count = min(5, budget)
        held = self.held()
        categories = ("Accessories", "Apparel", "Coffee", "Homeware", "Stationery")
        self.configure(accounts={f"Income:Sales:{c}": self.company.retired for c in categories})
        self.receive(count)
        self.settle()
        self.configure(accounts={})
        self.release(self.held() - held)
        return count

    def auth(self, budget: int) -> int:
        count = min(4, budget - 1)
        if count < 1:
            return 0
        held = self.held()
        self.company.revoke()
        self.receive(count)
        self.settle()
        tokens = self.engine.books.tokens if self.engine.books else None
        assert tokens is not None
        tokens.reconnected(TENANT, self.connection_id, self.company.grant(system_clock()))
        self.release(self.held() - held)
        return count + 1

    def held(self) -> set[int]:
        with self.factory() as session:
            return set(
                session.scalars(
                    select(PostingRow.id).where(
                        PostingRow.tenant_id == TENANT,
                        PostingRow.state == PostingState.HELD.value,
                    )
                )
            )

    def release(self, postings: set[int]) -> None:
        """After the fix, the held postings go again, as the ticket desk releases them."""
        with self.factory() as session, session.begin():
            outbox = Outbox(session, TENANT)
            for posting_id in sorted(postings):
                outbox.retry_now(posting_id, system_clock())
        self.settle()

    def quarantined(self, budget: int) -> int:
        count = min(5, budget)
        for _ in range(count):
            self.bad_records += 1
            self.engine.receive(
                TENANT,
                "simulator",
                "sale",
                f'{{"id": "bad-{self.bad_records}", "total": ',
                event_id=f"bad/{self.bad_records}",
            )
        self.settle()
        return count


CYCLE = ("healed", "quarantined", "healed", "refused", "healed", "auth", "exhausted")


def start(url: str, tmp: Path, seed: int) -> tuple[Bench, Any]:
    forget_budgets()
    db = make_engine(url)
    migrate(db)
    factory = session_factory(db)
    key = new_key()
    cfg = Settings(
        data_dir=tmp,
        database_url=url,
        secret_keys=[key],
        qbo_client_id=qbo.DEFAULT_CLIENT_ID,
        qbo_client_secret=qbo.DEFAULT_CLIENT_SECRET,
    )
    company = Company.start()
    merchant = demo_merchant(TENANT, orders_per_day=60)
    location = merchant.stores[0].location
    with factory() as session, session.begin():
        Tenants(session).add(merchant.tenant)
        Locations(session, TENANT).add(location)
        Planner(session, TENANT, (location,), system_clock).set_mode(
            location.id, PostingMode.PER_ORDER
        )
        session.add(SyncPolicyRow(tenant_id=TENANT, source="*", kind="sale", mode="realtime"))
        connection_id = Connections(session, TENANT, cfg.vault()).add(
            "qbo",
            "destination",
            "QuickBooks",
            company.grant(system_clock()).into({}),
            company.settings(),
        )
    registry = DestinationRegistry(points=[])
    registry.add(company.destination())
    clock = system_clock
    incidents = incident_log(cfg, clock)
    books = DestinationBooks(
        factory,
        cfg.vault(),
        clock,
        registry=registry,
        tokens=token_manager(cfg, factory, clock, company.transport, incidents),
        transport=company.transport,
    )
    rng = random.Random(seed)
    engine = Engine(factory, clock, books=books, incidents=incidents, retry=RETRY, rng=rng)
    first = system_clock().date() - timedelta(days=120)
    sales = (
        d
        for d in SalesSimulator(merchant, seed=seed).run(first, 120)
        if isinstance(d, Sale) and d.location_id == location.id
    )
    return Bench(factory, engine, company, connection_id, location, sales, rng), db


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


def latency_line(label: str, values: list[float]) -> str:
    if not values:
        return f"  {label:<28} -"
    return (
        f"  {label:<28} {len(values):>5}  p50 {1000 * statistics.median(values):7.1f} ms"
        f"  p99 {1000 * percentile(values, 0.99):7.1f} ms  max {1000 * max(values):7.1f} ms"
    )


def kind_of(row: IncidentRow) -> str:
    """Which injected failure an incident stands for, from what salesync recorded."""
    if row.subject.startswith("record:"):
        return "quarantined at intake"
    if row.kind == "auth":
        return "auth (reconnect)"
    if row.transient and row.ticket_id is None:
        return "transient, healed" if row.healed_at is not None else "transient, budget left"
    if row.kind == "transient":
        return "transient, budget spent"
    return f"refused ({row.kind})"


def report(bench: Bench, watcher: Watcher, elapsed: float, target: int) -> None:
    answered = sorted(bench.company.transport.answered)
    with bench.factory() as session:
        rows = list(session.scalars(select(IncidentRow).order_by(IncidentRow.id)))
        opened = session.execute(select(TicketRow.kind, TicketRow.code, TicketRow.occurrences))
        tickets: Counter[str] = Counter()
        grouped: Counter[str] = Counter()
        for kind, code, occurrences in opened:
            tickets[f"{kind}/{code}"] += 1
            grouped[f"{kind}/{code}"] += occurrences
        session.expunge_all()
    ticketed: dict[str, list[float]] = defaultdict(list)
    untick: dict[str, list[float]] = defaultdict(list)
    codes: Counter[str] = Counter()
    unseen = 0
    for row in rows:
        seen = watcher.seen.get(row.id)
        if seen is None:
            unseen += 1
            continue
        failed = row.failed_at
        if row.http:
            at = bisect.bisect_right(answered, row.failed_at)
            failed = answered[at - 1] if at else row.failed_at
        latency = (seen - failed).total_seconds()
        (ticketed if row.ticket_id is not None else untick)[kind_of(row)].append(latency)
        codes[f"{row.kind}/{row.code}"] += 1
    every = [v for values in ticketed.values() for v in values]
    print(
        f"{len(rows)} failures recorded (asked for {target}) in {elapsed:.1f} s; rounds: "
        + ", ".join(f"{name} {n}" for name, n in sorted(bench.rounds.items()))
    )
    print("  by kind/code: " + ", ".join(f"{c} {n}" for c, n in codes.most_common()))
    print(
        "failure -> ticket visible (watcher polling every "
        f"{1000 * watcher.interval:.0f} ms, {watcher.polls} polls):"
    )
    for label, values in sorted(ticketed.items()):
        print(latency_line(label, values))
    print(latency_line("all with a ticket", every))
    print("failure -> incident visible, no ticket:")
    for label, values in sorted(untick.items()):
        print(latency_line(label, values))
    healed = len(untick.get("transient, healed", []))
    transient = sum(1 for r in rows if r.transient)
    print(
        f"tickets: {sum(tickets.values())} for {len(every)} ticketed incidents ("
        + ", ".join(f"{c} {n} for {grouped[c]}" for c, n in tickets.most_common())
        + ")"
    )
    print(
        f"transient failures healed without a ticket: {healed} of {transient} transient; "
        f"incidents seen before their ticket counted them: {watcher.uncounted}; "
        f"never seen: {unseen}"
    )
    if every:
        p99 = percentile(every, 0.99)
        met = "met" if p99 <= TARGET.total_seconds() else "NOT met"
        print(f"target p99 <= {TARGET.total_seconds():.0f} s: {met} (p99 {1000 * p99:.1f} ms)")


def run(failures: int, url: str | None, poll: float, seed: int, tmp: Path) -> None:
    bench, db = start(url or f"sqlite:///{tmp / 'detection.db'}", tmp, seed)
    bench.receive(5)  # the company's lists (accounts, products) are set up fault-free
    bench.settle()
    watcher = Watcher(bench.factory, poll)
    watcher.start()
    started = time.perf_counter()
    done = bench.recorded()
    rounds: dict[str, Callable[[int], int]] = {
        "healed": bench.healed,
        "quarantined": bench.quarantined,
        "refused": bench.refused,
        "auth": bench.auth,
        "exhausted": bench.exhausted,
    }
    step = 0
    while done < failures:
        name = CYCLE[step % len(CYCLE)]
        step += 1
        if rounds[name](failures - done):
            bench.rounds[name] += 1
            done = bench.recorded()
    elapsed = time.perf_counter() - started
    time.sleep(2 * poll)
    watcher.stop()
    report(bench, watcher, elapsed, failures)
    bench.company.transport.shutdown()
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--failures", type=int, default=1000)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--poll-ms", type=float, default=2.0, help="how often the watcher looks")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    # The notices queued as tickets open are logged at INFO; only warnings are shown.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory() as tmp:
        run(args.failures, args.database_url, args.poll_ms / 1000, args.seed, Path(tmp))


if __name__ == "__main__":
    main()
