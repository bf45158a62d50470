"""``salesync demo``: a two-store merchant's Shopify store and Square seller, connected to
salesync and synced end to end over HTTP on a simulated clock.

The providers are salesync's sandboxes (``salesync.sandbox.stage``): the same protocols,
signatures and faults as the real ones, with seeded activity generators. The Shopify
store sells for Brooklyn, which posts every order; the Square seller's two cafés are the
Bay Area location, which posts one summary per business day. In order:

1. history: both shops trade for ``history`` days before salesync is connected;
2. connecting: OAuth through each sandbox, credentials kept in salesync's vault, webhook
   subscriptions to salesync's ingress, served under uvicorn;
3. backfill: the history is read with the connections' clients and posted;
4. live: the shops trade ``days`` days. Every simulated hour the sandboxes POST their
   signed webhooks to the ingress (each day Shopify loses two and sends two twice, Square
   likewise one) and the engine ticks: the books fill in at each location's 06:00 and
   18:00 sync windows. Every few hours and after each shift salesync sweeps both
   accounts, catching what was lost and Square's orders (its order notifications only
   name them). On the first day a broken order arrives, to be quarantined with reasons.

Then, unless ``serve`` is None, the demo runs on as a live server with the sandboxes still
trading (``salesync.cli.demo_live``) until Ctrl-C.

Re-running in the same data folder starts fresh sandboxes with the same seed: the same
accounts tell the same story, every record is recognised as a repeat and nothing new posts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from textwrap import shorten
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from salesync.cli.demo_live import LiveOptions, map_every_category, serve_live
from salesync.cli.tables import balance_table
from salesync.clock import ManualClock
from salesync.config import Settings
from salesync.connectors.ledger.books import LedgerBooks
from salesync.connectors.ledger.destination import LedgerDestination
from salesync.domain.documents import DocumentKind, Location, Payout, Tenant
from salesync.domain.planning import PostingMode
from salesync.engine.backfill import BackfillProgress
from salesync.engine.inbox import Inbox, RecordState, as_problems
from salesync.engine.outbox import Outbox
from salesync.engine.planner import Planner
from salesync.engine.reconcile import Reconciler
from salesync.engine.wiring import configured_engine, monitor, tenant_redactor, ticket_desk
from salesync.sandbox.shopify import activity as shopify_activity
from salesync.sandbox.shopify.payloads import order_json
from salesync.sandbox.square import activity as square_activity
from salesync.sandbox.stage import PROVIDERS, Cast, Stage, clocked_sources
from salesync.store import codec
from salesync.store.repositories import Locations
from salesync.store.tables import DocumentRow, InboxRecordRow, PostingDocumentRow, PostingRow

TENANT = "demo"
CAST = Cast(
    tenant=Tenant(TENANT, "Harbor & Pine Goods"),
    locations=(
        Location("brooklyn", TENANT, "Brooklyn", "America/New_York", "USD"),
        Location("bayarea", TENANT, "Bay Area cafés", "America/Los_Angeles", "USD"),
    ),
    shopify_locations={"Warehouse": "brooklyn", "Downtown": "brooklyn", "Airport": "brooklyn"},
    shopify_default="brooklyn",
    square_locations={"Mission Street Café": "bayarea", "Oakland Kiosk": "bayarea"},
)
OPENS = {
    "shopify": (ZoneInfo("America/New_York"), time(9)),
    "square": (ZoneInfo("America/Los_Angeles"), time(9)),
}
ORDERS_PER_HOUR = {
    "shopify": 0.62 * 3600 / shopify_activity.MEAN_GAP.total_seconds(),
    "square": 0.63 * 3600 / square_activity.MEAN_GAP.total_seconds(),
}
"""Orders an hour of each generator's trading brings: a new order on 62 % of the Shopify
store's steps and a sale or online order on 63 % of the Square seller's (see their
``step``), at their mean gaps."""
LONGEST_DAY = timedelta(hours=10)
SWEEP_HOURS = 6
"""Salesync sweeps both accounts this often, and after each shift."""
SETTLING = timedelta(days=2)
"""How long after trading ends the ticks may go on for the last sync windows to open."""
DROPS, REPEATS = {"shopify": 2, "square": 1}, {"shopify": 2, "square": 1}
"""Deliveries each sandbox loses, and sends twice, every live day."""
NAMES = {"shopify": "Shopify", "square": "Square"}


@dataclass(frozen=True, slots=True)
class Shift:
    """When one shop trades on one day."""

    provider: str
    opens: datetime
    closes: datetime


def shifts(day: date, orders_per_day: int) -> list[Shift]:
    """The shops' shifts on ``day``, one after the other on the shared clock: the
    Square cafés open at 09:00 in California or when the Shopify store has closed."""
    out: list[Shift] = []
    for provider in PROVIDERS:
        zone, opens = OPENS[provider]
        start = datetime.combine(day, opens, zone).astimezone(UTC)
        if out:
            start = max(start, out[-1].closes)
        length = min(timedelta(hours=orders_per_day / ORDERS_PER_HOUR[provider]), LONGEST_DAY)
        out.append(Shift(provider, start, start + length))
    return out


def trade_until(stage: Stage, end: datetime, schedule: list[Shift]) -> None:
    """Move the clock to ``end``, each shop trading what is left of its shifts before."""
    for shift in schedule:
        start, stop = max(shift.opens, stage.clock()), min(shift.closes, end)
        if start < stop:
            stage.clock.set(start)
            stage.run_shop(shift.provider, (stop - start).total_seconds())
    stage.clock.set(max(end, stage.clock()))


def hours(start: datetime, end: datetime) -> Iterator[datetime]:
    """The top of every hour after ``start``, up to the first at or past ``end``."""
    at = start.replace(minute=0, second=0, microsecond=0)
    while at < end:
        at += timedelta(hours=1)
        yield at


def send_broken_order(stage: Stage) -> bool:
    """An order as a faulty till extension reports it to Shopify: a copy of the newest
    order of several lines under a new number, its cheapest undiscounted line at quantity
    -1 and the total as charged. Shopify signs and sends it like any other; no sweep brings
    it again, as the store holds no such order. False when there is none to copy yet."""
    with stage.store.lock:
        orders = sorted(stage.store.data.orders.values(), key=lambda o: o.id, reverse=True)
        customers = dict(stage.store.data.customers)
    for order in orders:
        payload = order_json(order, customers.get(order.customer_id or 0))
        lines = payload["line_items"]
        plain = [li for li in lines if not li["discount_allocations"]]
        if not plain:
            continue
        line = min(plain, key=lambda li: Decimal(li["price"]))
        rest = sum(
            Decimal(li["price"]) * li["quantity"]
            - sum(Decimal(a["amount"]) for a in li["discount_allocations"])
            for li in lines
            if li is not line
        )
        # Only the line is wrong: what the others come to stays above zero.
        if rest > Decimal(line["price"]):
            line["quantity"] = -1
            number = stage.store.next_id()
            payload.update(id=number, name=f"{order.name}-R", order_number=number)
            stage.store.emit("orders/create", payload)
            return True
    return False


def run_demo(
    console: Console,
    cfg: Settings,
    factory: sessionmaker[Session],
    *,
    connected: date,
    days: int,
    history: int,
    seed: int,
    orders_per_day: int,
    serve: LiveOptions | None = None,
) -> None:
    """The whole demo, narrated on ``console``, then its report; then, with ``serve``, the
    live server until Ctrl-C."""
    first = connected - timedelta(days=history)
    console.print(
        f"[bold]{CAST.tenant.name}[/bold]: a Shopify store sells for Brooklyn, which posts "
        "each order; a Square seller's two cafés for the Bay Area, which posts one summary "
        f"a day. About {orders_per_day} orders a day at each, seed {seed}; salesync is "
        f"connected on {connected} after {history} days of trading, then {days} days live."
    )
    clock = ManualClock(datetime.combine(first, time(), UTC))
    registry = clocked_sources(clock)
    engine = configured_engine(cfg, factory, clock, sources=registry)
    with factory() as session:
        before = session.scalar(select(func.max(InboxRecordRow.id))) or 0
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console
    )
    stage = Stage.open(
        CAST, factory, clock, cfg.vault(), registry=registry, engine=engine, seed=seed
    )
    with stage as on_stage:
        with progress:
            say = progress.console.print
            say(
                f"Sandboxes up: Shopify at {on_stage.shopify.base_url}, Square at "
                f"{on_stage.square.base_url}; salesync's webhook ingress at "
                f"{on_stage.api.base_url}."
            )
            task = progress.add_task("History: the shops trade without salesync", total=history)
            for n in range(history):
                day = shifts(first + timedelta(days=n), orders_per_day)
                trade_until(on_stage, day[-1].closes, day)
                progress.advance(task)
            if connect(on_stage, connected):
                say(
                    "The mapping an earlier live demo left without Square's Bakery category "
                    "is published again with it mapped."
                )
            say(
                "Connected: Shopify and Square authorised salesync by OAuth (tokens kept in "
                "the vault) and now POST signed webhooks to the ingress."
            )
            if history:
                backfill(on_stage, progress, first, connected - timedelta(days=1))
            settled = live(on_stage, progress, connected, days, orders_per_day)
        if settled:
            console.print("Trading is over and every sync window has posted.")
        else:
            console.print("[yellow]Trading is over; some documents still wait to post.[/yellow]")
        connections_table(console, on_stage, factory, before)
        support(console, cfg, factory, on_stage)
        report(console, cfg, factory, on_stage, first, connected + timedelta(days=days))
        if serve is not None:
            serve_live(console, cfg, on_stage, serve)


def support(console: Console, cfg: Settings, factory: sessionmaker[Session], stage: Stage) -> None:
    """One pass of the support loop, then the tickets it left: each failure's ticket,
    who owns it, and whether the merchant was asked to act."""
    done = monitor(cfg, factory, stage.clock).tick()
    tickets = ticket_desk(cfg, factory, stage.clock).tickets(state="active", tenant_id=TENANT)
    if not tickets:
        console.print("Support: no open tickets.")
        return
    console.print(
        f"Support: {len(tickets)} open ticket(s), {done.assigned} assigned this pass "
        "(`salesync ticket list` and `salesync ticket show N` tell the rest)."
    )
    for ticket in tickets:
        owner = f"{ticket.team}/{ticket.assignee}" if ticket.assignee else "unassigned"
        merchant = "; the merchant was asked to act" if ticket.merchant_action else ""
        console.print(
            escape(
                f"  #{ticket.id} [{ticket.state}] {shorten(ticket.user_message, 110)} "
                f"({ticket.occurrences}x, {owner}{merchant})"
            )
        )


def connect(stage: Stage, connected: date) -> bool:
    """The merchant signs up (the Bay Area posting daily summaries) and connects both
    shops before they open on ``connected``. True when the mapping an earlier live demo
    injected had to be completed first (see ``map_every_category``)."""
    stage.set_up()
    mapped = map_every_category(stage.factory, TENANT, stage.clock())
    with stage.factory() as session, session.begin():
        planner = Planner(session, TENANT, Locations(session, TENANT).all(), stage.clock)
        planner.set_mode("bayarea", PostingMode.DAILY_SUMMARY)
    stage.clock.set(max(stage.clock(), datetime.combine(connected, time(12), UTC)))
    stage.connect_shopify()
    stage.connect_square(sweep_since=datetime.combine(connected, time(), UTC))
    return mapped


def backfill(stage: Stage, progress: Progress, first: date, last: date) -> None:
    """Both connections' history, with a bar of the days done."""
    days = (last - first).days + 1
    task = progress.add_task("Backfill: 30-day windows, posted as they land", total=days * 2)

    done: dict[str, int] = {}

    def landed(provider: str, window: BackfillProgress) -> None:
        done[provider] = window.days_done
        progress.update(task, completed=sum(done.values()))

    stage.backfill(first, last, progress=landed)
    progress.update(task, completed=days * 2)


def return_a_payout(stage: Stage, progress: Progress, at: datetime) -> bool:
    """Square's bank returns the newest payout made a day before ``at`` (posted by now):
    salesync's next sweep reads it failed and takes its deposit back out of the bank."""
    payout = stage.return_payout(at - timedelta(days=1))
    if payout is not None:
        amount = payout["amount_money"]
        progress.console.print(
            f"The bank returned Square payout {payout['id']} of "
            f"{amount['amount'] / 100:.2f} {amount['currency']}: the sweep reads it as failed, "
            "and its deposit leaves the bank until the next payout pays it out again."
        )
    return True


def live(stage: Stage, progress: Progress, connected: date, days: int, orders_per_day: int) -> bool:
    """The shops trade ``days`` days. Every hour the sandboxes send their webhooks and the
    engine ticks; salesync sweeps both accounts every few hours and after each shift; once
    trading ends, the ticks go on until every sync window has posted (True), or for
    ``SETTLING`` at most (False)."""
    schedule = [
        s for n in range(days) for s in shifts(connected + timedelta(days=n), orders_per_day)
    ]
    closes = schedule[-1].closes
    task = progress.add_task(
        "Live: webhooks, sweeps, sync windows (hours)",
        total=len(list(hours(stage.clock(), closes))),
    )
    broken = False
    returned = False  # a payout made a day before the last shift is returned then
    previous = stage.clock()
    for n, at in enumerate(hours(previous, closes + SETTLING)):
        for shift in schedule:
            if previous <= shift.opens < at:
                stage.misbehave(
                    shift.provider,
                    drop_next=DROPS[shift.provider],
                    duplicate_next=REPEATS[shift.provider],
                )
        trade_until(stage, at, schedule)
        if not broken and at > schedule[0].opens:
            broken = send_broken_order(stage)
        if not returned and at > schedule[-1].opens:
            returned = return_a_payout(stage, progress, at)
        stage.deliver()
        if n % SWEEP_HOURS == 0 or any(previous < shift.closes <= at for shift in schedule):
            stage.sweep()
        stage.engine.tick(TENANT)
        previous = at
        if at <= closes:
            progress.advance(task)
        elif stage.everything_posted():
            return True
    return False


def report(
    console: Console,
    cfg: Settings,
    factory: sessionmaker[Session],
    stage: Stage,
    first: date,
    last: date,
) -> None:
    """The inbox, the outbox, what is quarantined and why, the reconciliation, the trial
    balance; then the exports."""
    with factory() as session:
        inbox = Inbox(session, TENANT, stage.clock)
        counts = {s: len(inbox.in_state(s)) for s in RecordState}
        postings = Outbox(session, TENANT).counts()
        console.print(
            f"Inbox: {counts[RecordState.NORMALIZED]} records taken in, "
            f"{counts[RecordState.DUPLICATE]} repeats recognised and skipped, "
            f"{counts[RecordState.PARKED]} still waiting for their sale, "
            f"{counts[RecordState.QUARANTINED]} quarantined."
        )
        console.print(
            "Outbox: " + ", ".join(f"{n} {state}" for state, n in sorted(postings.items()))
        )
        for row in inbox.in_state(RecordState.QUARANTINED):
            console.print(f"[yellow]Quarantined[/yellow] {row.record_type} record #{row.id}:")
            for problem in as_problems(row.problems):
                console.print(f"  - {problem}")
        reconciler = Reconciler(
            session,
            TENANT,
            Locations(session, TENANT).all(),
            books=LedgerDestination(factory, TENANT),
        )
        days = reconciler.reconcile(first, last)
        dirty = sum(not day.clean for day in days)
        if dirty:
            console.print(
                f"[red]Reconciliation: {dirty} of {len(days)} location-days differ[/red] "
                f"(salesync reconcile --from {first} --to {last} names them)."
            )
        else:
            console.print(
                f"Reconciliation clean: {len(days)} location-days, source and books agree."
            )
        for line in returned_payouts(session):
            console.print(line)
        books = LedgerBooks(session, TENANT)
        console.print(balance_table(books.trial_balance(), f"Trial balance: {CAST.tenant.name}"))
        exports = cfg.data_dir / "exports"
        scrub = tenant_redactor(cfg, session, TENANT)
        bean = books.export("beancount", exports / f"{TENANT}.beancount", redactor=scrub)
        books.export("hledger", exports / f"{TENANT}.journal", redactor=scrub)
    console.print(f"Beancount export ({bean} entries): {exports / f'{TENANT}.beancount'}")
    console.print(f"hledger export: {exports / f'{TENANT}.journal'}")


def returned_payouts(session: Session) -> list[str]:
    """A line for each payout the bank returned: how much, and how the books took its
    deposit back out (its adjustments, each with its own date and state, or posted failed
    from the start)."""
    lines: list[str] = []
    rows = session.scalars(
        select(DocumentRow).where(
            DocumentRow.tenant_id == TENANT, DocumentRow.kind == DocumentKind.PAYOUT.value
        )
    )
    for row in rows:
        payout = codec.decode(row.kind, row.body)
        if not isinstance(payout, Payout) or payout.failed_at is None:
            continue
        adjustments = session.execute(
            select(PostingRow.body, PostingRow.state)
            .join(PostingDocumentRow, PostingDocumentRow.posting_id == PostingRow.id)
            .where(PostingDocumentRow.document_id == row.id, PostingRow.kind == "adjustment")
            .order_by(PostingRow.id)
        ).all()
        said = [f"its adjustment dated {body['date']} is {state}" for body, state in adjustments]
        how = "; ".join(said) or "it was posted failed, so its deposit never reached the bank"
        lines.append(
            f"Payout {payout.external_id} of {payout.net} was returned by the bank: {how}."
        )
    return lines


def connections_table(
    console: Console, stage: Stage, factory: sessionmaker[Session], before: int
) -> None:
    """A line per connection of what reached salesync in this run (inbox records after
    ``before``), and how."""
    table = Table(title="Connections, this run")
    table.add_column("Connection")
    for column in ("Webhooks received", "Lost by provider", "Repeats", "Swept", "Backfilled"):
        table.add_column(column, justify="right")
    fresh = 0
    with factory() as session:
        for provider, connection_id in stage.connections().items():
            tally = stage.tallies[provider]
            query = (
                select(InboxRecordRow.state, func.count())
                .where(InboxRecordRow.connection_id == connection_id, InboxRecordRow.id > before)
                .group_by(InboxRecordRow.state)
            )
            states = {state: int(n) for state, n in session.execute(query).all()}
            repeats = states.pop(RecordState.DUPLICATE.value, 0)
            fresh += sum(states.values())
            lost = stage.store.deliveries if provider == "shopify" else stage.seller.deliveries
            backfilled = tally.backfill.records if tally.backfill else 0
            table.add_row(
                NAMES[provider],
                f"{tally.received:,}",
                f"{len(lost.dropped):,}",
                f"{repeats:,}",
                f"{tally.swept:,} new",
                f"{backfilled:,} new",
            )
    console.print(table)
    console.print(f"This run brought {fresh:,} new records; the rest were repeats.")
