"""Posting a month of two stores to the QuickBooks Online and Xero sandboxes.

For each destination and posting mode, a month of simulated trading (two US stores) is
taken in, planned, and sent through salesync's real sender into a fresh sandbox company,
all at once, so the sender has a backlog and the provider's rate limit binds. Time is
simulated: the sandbox, the engine and the connector's pacing share one manual clock, and
a pause for the rate limit moves it. Prints, per run:

- API calls per 1,000 documents (every call: reads, writes, token refreshes);
- API calls per location-day (the daily-summary target);
- 429 answers received;
- utilisation of the binding rate limit while the sender had a backlog: calls in each
  full minute from the first call, over what the limit allows (the last, partial minute
  is left out); "not bound" when everything fitted in the first minute.

Each run also splits off the calls that set up the lists postings refer to (accounts,
products, contacts, tax rates, tracking), made once per company while they are new: the
rest is what every further month costs.

Destinations: ``qbo`` and ``xero`` with their default settings (for Xero, a sale settled
at the till by one tender is a receive-money bank transaction, a split-tender sale an
invoice with its payments), ``qbo-each`` with a QuickBooks customer per buyer,
``xero-invoice`` with every per-order sale an invoice and its payments (the
``sales_form`` "invoice" a connection may choose).

Targets (issue 5): per-order at most 1 call per 30 documents; daily summary at most 2
calls per location-day; utilisation at least 90% with no 429 storm.

    python benchmarks/posting.py [--days 31] [--orders-per-day 60] [--only qbo,xero-invoice]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from salesync.clock import ManualClock
from salesync.connectors.destination import Destination
from salesync.connectors.pacing import forget_budgets
from salesync.connectors.qbo import QboDestination
from salesync.connectors.registry import DestinationRegistry
from salesync.connectors.tokens import Grant, OAuthRefresher, TokenManager
from salesync.connectors.xero import XeroDestination
from salesync.domain.documents import Location
from salesync.domain.planning import PostingMode
from salesync.domain.simulate import DemoMerchant, SalesSimulator, demo_merchant
from salesync.engine.destinations import DestinationBooks
from salesync.engine.outbox import Outbox
from salesync.engine.planner import Planner
from salesync.engine.runner import Engine
from salesync.sandbox import qbo, xero
from salesync.sandbox.transport import InProcessTransport
from salesync.store import codec
from salesync.store.database import make_engine, migrate, session_factory
from salesync.store.repositories import Connections, Locations, Tenants
from salesync.store.vault import Vault, new_key

FIRST = date(2026, 3, 1)
QBO_BASE = "https://quickbooks.api.intuit.com"
XERO_IDENTITY = "https://identity.xero.com"


@dataclass(frozen=True, slots=True)
class Call:
    at: datetime
    operation: str
    status: int


@dataclass
class Sandbox:
    """One destination company in a sandbox, reached in process."""

    name: str
    destination: Destination
    transport: InProcessTransport
    grant: Grant
    settings: dict[str, Any]
    token_url: str
    client: tuple[str, str]
    calls: Callable[[], list[Call]]
    limit: int
    """The binding limit, calls a minute."""
    bound: Callable[[Call], bool]
    """Which calls count against the binding limit."""


def pacing(clock: ManualClock) -> dict[str, Any]:
    return {
        "clock": lambda: clock().timestamp(),
        "sleep": lambda seconds: clock.advance(timedelta(seconds=seconds)),
    }


def qbo_sandbox(clock: ManualClock) -> Sandbox:
    company = qbo.QboCompany(clock=clock)
    app = qbo.create_app(company)
    issued = app.state.sandbox.authority.issue_tokens(qbo.DEFAULT_CLIENT_ID, company.realm_id)
    grant = Grant(
        issued.access_token, issued.refresh_token, clock() + timedelta(seconds=issued.expires_in)
    )
    return Sandbox(
        "qbo",
        QboDestination(**pacing(clock)),
        InProcessTransport(app),
        grant,
        {"realm_id": company.realm_id, "base_url": QBO_BASE},
        f"{QBO_BASE}/oauth2/v1/tokens/bearer",
        (qbo.DEFAULT_CLIENT_ID, qbo.DEFAULT_CLIENT_SECRET),
        lambda: [Call(r.at, r.operation, r.status) for r in company.requests],
        40,
        lambda call: call.operation == "batch",
    )


def xero_sandbox(clock: ManualClock) -> Sandbox:
    org = xero.XeroOrganisation(
        tenant_id=str(uuid.uuid4()),
        name="Harbor Goods",
        base_currency="USD",
        country_code="US",
        clock=clock,
    )
    app = xero.create_app(org)
    transport = InProcessTransport(app)
    with httpx.Client(transport=transport, base_url=XERO_IDENTITY) as identity:
        issued = identity.post("/_sandbox/tokens", json={"client_id": xero.DEFAULT_CLIENT_ID})
        issued.raise_for_status()
        tokens = issued.json()
    grant = Grant(
        tokens["access_token"],
        tokens["refresh_token"],
        clock() + timedelta(seconds=tokens["expires_in"]),
    )
    return Sandbox(
        "xero",
        XeroDestination(**pacing(clock)),
        transport,
        grant,
        {"tenant_id": org.tenant_id, "account_policy": "create"},
        f"{XERO_IDENTITY}/connect/token",
        (xero.DEFAULT_CLIENT_ID, xero.DEFAULT_CLIENT_SECRET),
        lambda: [Call(r.at, r.operation, r.status) for r in org.requests],
        60,
        lambda call: True,
    )


def with_settings(
    make: Callable[[ManualClock], Sandbox], **settings: Any
) -> Callable[..., Sandbox]:
    def made(clock: ManualClock) -> Sandbox:
        sandbox = make(clock)
        return replace(sandbox, settings=sandbox.settings | settings)

    return made


SANDBOXES = {
    "qbo": qbo_sandbox,
    "qbo-each": with_settings(qbo_sandbox, customers="each"),
    "xero": xero_sandbox,
    "xero-invoice": with_settings(xero_sandbox, sales_form="invoice"),
}
"""Each destination with its default settings, and the variants that change its calls:
a customer of each buyer (QuickBooks) and invoices with payments (Xero)."""
LISTS = {"Account", "Accounts", "Contacts", "Item", "Items", "Organisation", "TaxRates"}
LISTS |= {"TrackingCategories", "Department", "Class", "CompanyInfo"}


def sets_up(call: Call) -> bool:
    """A call that finds or creates the lists postings refer to (accounts, products,
    contacts, tax rates, tracking): made once per company while they are new, not per
    document. Every QuickBooks query is one, as nothing here fails, so nothing is read
    back; QuickBooks customers are created in ``batch`` calls and count as postings'."""
    entity = call.operation.partition(":")[2]
    return call.operation == "query" or entity in LISTS


def two_us_stores(orders_per_day: int) -> DemoMerchant:
    """The demo's Brooklyn store and a second New York store, both in US dollars."""
    merchant = demo_merchant("bench", orders_per_day=orders_per_day)
    brooklyn = merchant.stores[0]
    queens = replace(
        brooklyn,
        location=Location("queens", "bench", "Queens", "America/New_York", "USD"),
        web_shipping=None,
        tips=False,
    )
    return replace(merchant, stores=(brooklyn, queens))


def utilisation(calls: list[Call], limit: int) -> float | None:
    """Calls in each full minute from the first, over what the limit allows."""
    if not calls:
        return None
    start, end = calls[0].at, calls[-1].at
    full = int((end - start).total_seconds() // 60)
    if full == 0:
        return None
    inside = sum(1 for c in calls if c.at < start + timedelta(minutes=full))
    return inside / (limit * full)


def run(name: str, mode: PostingMode, days: int, orders_per_day: int, tmp: Path) -> None:
    merchant = two_us_stores(orders_per_day)
    tenant = merchant.tenant.id
    forget_budgets()  # each run's company has its own clock; budgets are per process
    clock = ManualClock(datetime.combine(FIRST, datetime.min.time(), UTC))
    sandbox = SANDBOXES[name](clock)
    db = make_engine(f"sqlite:///{tmp / f'{name}-{mode.value}.db'}")
    migrate(db)
    factory = session_factory(db)
    vault = Vault([new_key()])
    with factory() as session, session.begin():
        Tenants(session).add(merchant.tenant)
        for location in merchant.locations:
            Locations(session, tenant).add(location)
        planner = Planner(session, tenant, merchant.locations, clock)
        for location in merchant.locations:
            planner.set_mode(location.id, mode)
        Connections(session, tenant, vault).add(
            sandbox.name, "destination", name, sandbox.grant.into({}), sandbox.settings
        )
    refresher = OAuthRefresher(
        sandbox.token_url, *sandbox.client, provider=sandbox.name, transport=sandbox.transport
    )
    tokens = TokenManager(factory, vault, clock, lambda _: refresher)
    registry = DestinationRegistry(points=[])
    registry.add(sandbox.destination)
    books = DestinationBooks(
        factory, vault, clock, registry=registry, tokens=tokens, transport=sandbox.transport
    )
    engine = Engine(factory, clock, books=books)

    documents = list(SalesSimulator(merchant, seed=5).run(FIRST, days))
    for document in documents:
        engine.receive(
            tenant,
            "simulator",
            document.kind.value,
            codec_json(document),
            event_id=f"{document.kind.value}/{document.id}",
        )
    clock.set(datetime.combine(FIRST + timedelta(days=days + 12), datetime.min.time(), UTC))
    before = len(sandbox.calls())
    started = time.perf_counter()
    engine.run_until_idle(tenant, max_ticks=500)
    elapsed = time.perf_counter() - started
    calls = sandbox.calls()[before:]
    with factory() as session:
        states = Outbox(session, tenant).counts()
    bound = [c for c in calls if sandbox.bound(c)]
    util = utilisation(bound, sandbox.limit)
    location_days = len(merchant.locations) * days
    throttled = sum(1 for c in calls if c.status == 429)
    setup = sum(1 for c in calls if sets_up(c))
    rest = len(calls) - setup
    print(
        f"{name:>12} {mode.value:>13}: {len(documents):>5} documents, "
        f"{sum(states.values()):>5} postings {dict(sorted(states.items()))}, "
        f"{len(calls):>4} calls = {1000 * len(calls) / len(documents):6.1f} per 1,000 documents"
        f" = {len(calls) / location_days:5.2f} per location-day, {throttled} x 429, "
        f"utilisation {'not bound' if util is None else f'{util:.0%}'} "
        f"of {sandbox.limit}/min, {elapsed:.1f} s"
    )
    print(
        f"{'':>12} {'':>13}  set-up of lists {setup} calls; the other {rest} = "
        f"{1000 * rest / len(documents):.1f} per 1,000 documents = "
        f"{rest / location_days:.2f} per location-day"
    )
    kinds: dict[str, int] = {}
    for call in calls:
        kinds[call.operation] = kinds.get(call.operation, 0) + 1
    top = sorted(kinds.items(), key=lambda item: -item[1])[:6]
    print("      calls by operation: " + ", ".join(f"{op} {n}" for op, n in top))
    refresher.close()
    sandbox.transport.shutdown()
    db.dispose()


def codec_json(document: Any) -> str:
    return json.dumps(codec.encode(document))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--orders-per-day", type=int, default=60)
    parser.add_argument(
        "--only", default=",".join(SANDBOXES), help="comma-separated: " + ", ".join(SANDBOXES)
    )
    parser.add_argument(
        "--modes", default=",".join(m.value for m in PostingMode), help="comma-separated modes"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only.split(","):
            for mode in args.modes.split(","):
                run(name, PostingMode(mode), args.days, args.orders_per_day, Path(tmp))


if __name__ == "__main__":
    main()
