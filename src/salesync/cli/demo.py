"""``salesync demo``: a month of a two-store merchant's trading, run through the engine.

Time is simulated: each sale, refund and payout reaches the inbox at the moment it
happens (a few webhooks arrive twice, a refund sometimes before its sale), the engine
ticks every simulated hour, and the books fill in at each store's 06:00 and 18:00 sync
windows. Brooklyn posts every order; Shoreditch posts one summary per business day.
"""

from __future__ import annotations

import calendar
import json
import random
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from sqlalchemy.orm import Session, sessionmaker

from salesync.cli.tables import balance_table
from salesync.clock import ManualClock
from salesync.config import Settings
from salesync.connectors.ledger.books import LedgerBooks
from salesync.domain.documents import Document, DocumentKind, Payment, Sale, document_id
from salesync.domain.money import Money
from salesync.domain.planning import PostingMode
from salesync.domain.simulate import SOURCE, DemoMerchant, SalesSimulator, demo_merchant
from salesync.engine.inbox import Inbox, RecordState, as_problems
from salesync.engine.outbox import Outbox
from salesync.engine.planner import Planner
from salesync.engine.runner import Engine
from salesync.store import codec
from salesync.store.repositories import Locations, Tenants


def set_up(session: Session, merchant: DemoMerchant, clock: ManualClock) -> None:
    """Create the demo tenant, its locations and posting modes, unless already there."""
    if Tenants(session).get(merchant.tenant.id) is None:
        Tenants(session).add(merchant.tenant)
    locations = Locations(session, merchant.tenant.id)
    for location in merchant.locations:
        if locations.get(location.id) is None:
            locations.add(location)
    planner = Planner(session, merchant.tenant.id, merchant.locations, clock)
    planner.set_mode("shoreditch", PostingMode.DAILY_SUMMARY)


def broken_sale(merchant: DemoMerchant, first: Sale) -> Sale:
    """A sale as a faulty till might send it: a line of -1 and a tender a unit short."""
    external = f"{first.external_id}-BAD"
    line = replace(first.lines[0], quantity=Decimal(-1))
    return replace(
        first,
        id=document_id(merchant.tenant.id, SOURCE, DocumentKind.SALE, external),
        external_id=external,
        number=external,
        lines=(line, *first.lines[1:]),
        payments=(Payment("card", first.grand_total - Money(Decimal(1), first.currency)),),
    )


def deliveries(documents: list[Document], rng: random.Random) -> list[tuple[datetime, Document]]:
    """When each document reaches salesync: a little after it happens; 2 % twice (a
    webhook retry), and a few refunds ahead of their sale (an out-of-order delivery)."""
    out: list[tuple[datetime, Document]] = []
    for doc in documents:
        at = doc.occurred_at + timedelta(seconds=rng.randint(2, 90))
        out.append((at, doc))
        if rng.random() < 0.02:
            out.append((at + timedelta(minutes=rng.randint(1, 20)), doc))
    out.sort(key=lambda pair: pair[0])
    return out


def run_demo(
    console: Console,
    cfg: Settings,
    factory: sessionmaker[Session],
    *,
    first: date,
    days: int,
    seed: int,
    orders_per_day: int,
) -> None:
    merchant = demo_merchant(orders_per_day=orders_per_day)
    days = days or calendar.monthrange(first.year, first.month)[1]
    tenant = merchant.tenant.id
    console.print(
        f"[bold]{merchant.tenant.name}[/bold]: "
        + ", ".join(f"{s.location.name} ({s.location.currency})" for s in merchant.stores)
        + f"; {days} days from {first}, seed {seed}. Brooklyn posts each order, "
        "Shoreditch one summary a day; sales sync at 06:00 and 18:00 local."
    )
    clock = ManualClock(datetime.combine(first, time(), UTC) - timedelta(days=1))
    engine = Engine(factory, clock)
    with factory() as session, session.begin():
        set_up(session, merchant, clock)
    documents: list[Document] = list(SalesSimulator(merchant, seed).run(first, days))
    first_sale = next(d for d in documents if isinstance(d, Sale))
    documents.append(replace(broken_sale(merchant, first_sale)))
    arrivals = deliveries(documents, random.Random(seed))
    end = datetime.combine(first + timedelta(days=days + 1), time(20), UTC)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with progress:
        task = progress.add_task("Simulated days", total=days + 2)
        next_tick = clock() + timedelta(hours=1)
        for at, doc in arrivals:
            while next_tick <= at:
                clock.set(next_tick)
                engine.tick(tenant)
                if next_tick.hour == 0:
                    progress.advance(task)
                next_tick += timedelta(hours=1)
            clock.set(max(at, clock()))
            payload = json.dumps(codec.encode(doc))
            engine.receive(
                tenant, SOURCE, doc.kind.value, payload, event_id=f"{doc.kind.value}/{doc.id}"
            )
        while next_tick <= end:
            clock.set(next_tick)
            engine.tick(tenant)
            if next_tick.hour == 0:
                progress.advance(task)
            next_tick += timedelta(hours=1)
    report(console, cfg, factory, merchant, clock)


def report(
    console: Console,
    cfg: Settings,
    factory: sessionmaker[Session],
    merchant: DemoMerchant,
    clock: ManualClock,
) -> None:
    tenant = merchant.tenant.id
    with factory() as session:
        inbox = Inbox(session, tenant, clock)
        counts = {s: len(inbox.in_state(s)) for s in RecordState}
        postings = Outbox(session, tenant).counts()
        quarantined = inbox.in_state(RecordState.QUARANTINED)
        console.print(
            f"Inbox: {counts[RecordState.NORMALIZED]} records taken in, "
            f"{counts[RecordState.DUPLICATE]} repeats recognised and skipped, "
            f"{counts[RecordState.PARKED]} still waiting for their sale, "
            f"{counts[RecordState.QUARANTINED]} quarantined."
        )
        console.print(
            "Outbox: " + ", ".join(f"{n} {state}" for state, n in sorted(postings.items()))
        )
        for row in quarantined:
            console.print(f"[yellow]Quarantined[/yellow] {row.record_type} record #{row.id}:")
            for problem in as_problems(row.problems):
                console.print(f"  - {problem}")
        books = LedgerBooks(session, tenant)
        console.print(
            balance_table(books.trial_balance(), f"Trial balance: {merchant.tenant.name}")
        )
        exports = cfg.data_dir / "exports"
        bean = books.export("beancount", exports / f"{tenant}.beancount")
        books.export("hledger", exports / f"{tenant}.journal")
    console.print(f"Beancount export ({bean} entries): {exports / f'{tenant}.beancount'}")
    console.print(f"hledger export: {exports / f'{tenant}.journal'}")
