"""The crash-safety campaign: Celery workers posting a merchant's sales into a simulated
QuickBooks Online company while they are killed, Redis and PostgreSQL are restarted and
the company answers with faults; after every run the books are checked against the
source.

A campaign starts its own PostgreSQL and Redis servers and serves the QuickBooks sandbox
over HTTP, then starts ``workers`` processes of ``salesync worker --celery``. Each run
brings a new day of trading into the inbox and does, at random, some of:

- arm faults on the company's batch calls: a lost response after the write committed,
  5xx, 429 with Retry-After, 401 (the access token refused, so it is refreshed);
- kill a worker with SIGKILL at a random moment and start another;
- restart Redis (it keeps nothing: queued tasks, markers and shared budgets are lost);
- restart PostgreSQL as if the machine lost power.

Then it waits until every document is in a posting and every posting is posted, and
checks: every document in exactly one posting, and the company holding exactly one
transaction per posting key: a missing key is a loss, a key twice a duplicate.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import func, select

from salesync.clock import system_clock
from salesync.connectors.tokens import Grant
from salesync.domain.simulate import DemoMerchant, SalesSimulator, demo_merchant
from salesync.engine.inbox import Inbox
from salesync.sandbox.faults import Fault, FaultKind, FaultPlan
from salesync.sandbox.qbo import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, QboCompany, create_app
from salesync.sandbox.server import serving
from salesync.sandbox.servers import PostgresServer, RedisServer, WorkerProcesses
from salesync.store import codec
from salesync.store.database import make_engine, migrate, session_factory
from salesync.store.repositories import Connections, Locations, Tenants
from salesync.store.tables import PostingDocumentRow, PostingRow, QueuedDocumentRow, SyncPolicyRow
from salesync.store.vault import Vault, new_key

KEY_NOTE = "salesync key: "
TRANSACTIONS = ("SalesReceipt", "RefundReceipt", "Invoice", "JournalEntry", "Deposit")
ACCOUNTS = {
    "Assets:Bank": "35",  # the sandbox company's Checking account
    "Liabilities:Tips-Payable": "Tips Payable",
    "Expenses:Payment-Fees": "Merchant Fees",
}
ACTIONS = ("none", "kill", "redis", "postgres")


@dataclass
class Outcome:
    """One run: what was done, and what the books said afterwards."""

    run: int
    documents: int
    faults: list[str]
    action: str
    settled: bool
    losses: int
    duplicates: int
    seconds: float
    stuck: list[str] = field(default_factory=list)
    """For a run that did not settle: what the unposted postings say (state, error)."""
    seed: int = 0
    """The campaign's seed (runs of several campaigns can be reported together)."""

    @property
    def clean(self) -> bool:
        return self.settled and not self.losses and not self.duplicates


@dataclass
class Campaign:
    """Servers, the company and the workers; ``run`` plays one randomized run."""

    home: Path
    workers: int = 2
    orders_per_day: int = 3
    seed: int = 1
    settle_seconds: float = 120.0
    rng: random.Random = field(init=False)
    merchant: DemoMerchant = field(init=False)
    _stack: ExitStack = field(default_factory=ExitStack)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.merchant = demo_merchant("chaos", orders_per_day=self.orders_per_day)
        self.simulator = SalesSimulator(self.merchant, seed=self.seed)
        self.first_day = datetime.now(UTC).date() - timedelta(days=3 * 365)
        self.days = 0
        self.documents = 0
        """Documents received so far."""

    # -- setting up ------------------------------------------------------------------------

    def __enter__(self) -> Campaign:
        self.postgres = PostgresServer()
        self._stack.callback(self.postgres.destroy)
        self.postgres.create()
        self.redis = RedisServer()
        self._stack.callback(self.redis.destroy)
        self.redis.start()
        self.faults = FaultPlan()
        self.company = QboCompany(clock=system_clock)
        qbo = create_app(self.company, faults=self.faults)
        self.qbo_url = self._stack.enter_context(serving(qbo, log_level="critical"))
        self.database_url = self._database()
        self.key = new_key()
        engine = make_engine(self.database_url)
        self._stack.callback(engine.dispose)
        migrate(engine)
        self.factory = session_factory(engine)
        self._merchant(qbo.state.sandbox.authority.issue_tokens)
        self._processes = WorkerProcesses(self._environment(), self.home)
        self._stack.callback(self._processes.stop)
        for _ in range(self.workers):
            self._start_worker()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _database(self) -> str:
        name = f"chaos_{uuid.uuid4().hex[:8]}"
        admin = self.postgres.url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.postgres.url.rsplit("/", 1)[0] + f"/{name}"

    def _merchant(self, issue: Any) -> None:
        tenant = self.merchant.tenant.id
        issued = issue(DEFAULT_CLIENT_ID, self.company.realm_id)
        grant = Grant(
            issued.access_token,
            issued.refresh_token,
            system_clock() + timedelta(seconds=issued.expires_in),
        )
        with self.factory() as session, session.begin():
            Tenants(session).add(self.merchant.tenant)
            for location in self.merchant.locations:
                Locations(session, tenant).add(location)
            for kind in ("sale", "refund", "payout"):
                session.add(
                    SyncPolicyRow(
                        tenant_id=tenant, source="*", kind=kind, mode="realtime", windows=[]
                    )
                )
            settings = {
                "realm_id": self.company.realm_id,
                "base_url": self.qbo_url,
                "accounts": ACCOUNTS,
            }
            Connections(session, tenant, Vault([self.key])).add(
                "qbo", "destination", "QuickBooks", grant.into({}), settings
            )

    def _environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "SALESYNC_DATABASE_URL": self.database_url,
            "SALESYNC_BROKER_URL": self.redis.url,
            "SALESYNC_DATA_DIR": str(self.home),
            "SALESYNC_SECRET_KEYS": self.key,
            "SALESYNC_CONFIG": str(self.home / "none.toml"),
            "SALESYNC_QBO_CLIENT_ID": DEFAULT_CLIENT_ID,
            "SALESYNC_QBO_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
            "SALESYNC_QBO_TOKEN_URL": f"{self.qbo_url}/oauth2/v1/tokens/bearer",
            "SALESYNC_SEND_LEASE_SECONDS": "5",
            "SALESYNC_RETRY_BASE_SECONDS": "0.2",
            "SALESYNC_RETRY_MAX_SECONDS": "2",
            "SALESYNC_LOG_LEVEL": "ERROR",
        }

    def _start_worker(self) -> None:
        self._processes.start("--celery", "--interval", "0.2")

    # -- one run ---------------------------------------------------------------------------

    def run(self, number: int, action: str | None = None) -> Outcome:
        """One run; ``action`` forces the disruption (one of ``ACTIONS``), else drawn."""
        started = time.monotonic()
        documents = self._trade()
        faults = self._arm()
        action = action or self.rng.choice(ACTIONS)
        time.sleep(self.rng.uniform(0, 1.0))
        self._disrupt(action)
        settled = self._settle(documents)
        losses, duplicates = self._check()
        return Outcome(
            number,
            documents,
            faults,
            action,
            settled,
            losses,
            duplicates,
            time.monotonic() - started,
            [] if settled else self._stuck(),
            self.seed,
        )

    def _stuck(self) -> list[str]:
        with self.factory() as session:
            rows = session.execute(
                select(PostingRow.state, PostingRow.attempts, PostingRow.last_error).where(
                    PostingRow.state != "posted"
                )
            ).all()
            waiting = session.scalar(
                select(func.count())
                .select_from(QueuedDocumentRow)
                .where(QueuedDocumentRow.planned.is_(False))
            )
        found = [f"{waiting} documents not planned"]
        for state, attempts, error in rows[:5]:
            said = (error or {}).get("code"), str((error or {}).get("message", ""))[:200]
            found.append(f"{state} after {attempts} attempt(s): {said}")
        return found

    def _trade(self) -> int:
        """The next day of trading into the inbox; the total of documents so far."""
        day: date = self.first_day + timedelta(days=self.days)
        self.days += 1
        tenant = self.merchant.tenant.id
        with self.factory() as session, session.begin():
            inbox = Inbox(session, tenant, system_clock)
            for document in self.simulator.run(day, 1):
                payload = json.dumps(codec.encode(document))
                inbox.receive("simulator", document.kind.value, payload, event_id=document.id)
                self.documents += 1
        return self.documents

    def _arm(self) -> list[str]:
        armed = []
        for kind in (
            FaultKind.LOST_RESPONSE,
            FaultKind.SERVER_ERROR,
            FaultKind.RATE_LIMITED,
            FaultKind.UNAUTHORIZED,
        ):
            if self.rng.random() < 0.4:
                # A 401 twice running is a revoked grant (held for the merchant to
                # reconnect), not an expired token: at most one a run.
                times = 1 if kind is FaultKind.UNAUTHORIZED else self.rng.randint(1, 2)
                self.faults.arm("batch", Fault(kind, retry_after=0.5), times)
                armed += [kind.value] * times
        return armed

    def _disrupt(self, action: str) -> None:
        if action == "kill":
            live = self._processes.live()
            victim = self.rng.choice(live)
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            self._start_worker()
        elif action == "redis":
            self.redis.stop()
            time.sleep(0.2)
            self.redis.start()
        elif action == "postgres":
            self.postgres.stop("immediate")
            time.sleep(0.2)
            self.postgres.start()

    def _settle(self, documents: int) -> bool:
        """Wait until the inbox is taken in and every posting is posted."""
        deadline = time.monotonic() + self.settle_seconds
        while time.monotonic() < deadline:
            try:
                with self.factory() as session:
                    planned = session.scalar(
                        select(func.count())
                        .select_from(QueuedDocumentRow)
                        .where(QueuedDocumentRow.planned)
                    )
                    unposted = session.scalar(
                        select(func.count())
                        .select_from(PostingRow)
                        .where(PostingRow.state != "posted")
                    )
            except Exception:  # the database is restarting: ask again
                time.sleep(0.2)
                continue
            if planned == documents and unposted == 0:
                return True
            time.sleep(0.2)
        return False

    def _check(self) -> tuple[int, int]:
        """Losses (posting keys the company lacks, documents in no posting) and
        duplicates (keys the company holds twice, documents in two postings)."""
        with self.factory() as session:
            keys = set(session.scalars(select(PostingRow.key)))
            linked = Counter(session.scalars(select(PostingDocumentRow.document_id)))
            queued = set(session.scalars(select(QueuedDocumentRow.document_id)))
        held = Counter(
            str(txn.get("PrivateNote", "")).split(KEY_NOTE, 1)[1].split()[0]
            for form in TRANSACTIONS
            for txn in self.company.all(form)
            if KEY_NOTE in str(txn.get("PrivateNote", ""))
        )
        losses = len(keys - set(held)) + len(queued - set(linked))
        duplicates = sum(n - 1 for n in held.values() if n > 1)
        duplicates += sum(n - 1 for n in linked.values() if n > 1)
        return losses, duplicates


def report(outcomes: list[Outcome]) -> str:
    """The campaign's outcome in a few lines."""
    actions = Counter(o.action for o in outcomes)
    faults = Counter(f for o in outcomes for f in o.faults)
    unsettled = [f"{o.seed}:{o.run}" for o in outcomes if not o.settled]
    seeds = sorted({o.seed for o in outcomes})
    lines = [
        f"{len(outcomes)} runs, {sum(o.clean for o in outcomes)} clean: "
        f"{sum(o.duplicates for o in outcomes)} duplicates, {sum(o.losses for o in outcomes)} "
        f"losses, {len(unsettled)} not settled in time"
        + (f" (runs {', '.join(map(str, unsettled[:10]))})" if unsettled else ""),
        f"campaigns (seeds): {', '.join(map(str, seeds))}",
        "disruptions: " + ", ".join(f"{a} {n}" for a, n in sorted(actions.items())),
        "faults armed: " + (", ".join(f"{f} {n}" for f, n in sorted(faults.items())) or "none"),
    ]
    if outcomes:
        seconds = sorted(o.seconds for o in outcomes)
        # Each campaign's count of documents grows run by run: its last run has them all.
        documents = sum(max(o.documents for o in outcomes if o.seed == seed) for seed in seeds)
        lines.append(
            f"documents: {documents}; seconds per run: median "
            f"{seconds[len(seconds) // 2]:.1f}, max {seconds[-1]:.1f}"
        )
    return "\n".join(lines)
