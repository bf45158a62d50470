"""``salesync demo``: a month of a two-store merchant's sales, posted to the built-in ledger."""

from __future__ import annotations

import calendar
from dataclasses import replace
from datetime import date
from decimal import Decimal

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from sqlalchemy.orm import Session, sessionmaker

from salesync.cli.tables import balance_table
from salesync.config import Settings
from salesync.connectors.ledger.books import LedgerBooks
from salesync.domain.documents import DocumentKind, Payment, Sale, document_id
from salesync.domain.money import Money
from salesync.domain.simulate import SOURCE, DemoMerchant, SalesSimulator, demo_merchant
from salesync.engine.intake import Intake, Rejected
from salesync.store.repositories import Locations, Tenants


def set_up(session: Session, merchant: DemoMerchant) -> None:
    """Create the demo tenant and its locations, unless a previous run already did."""
    if Tenants(session).get(merchant.tenant.id) is None:
        Tenants(session).add(merchant.tenant)
    locations = Locations(session, merchant.tenant.id)
    for location in merchant.locations:
        if locations.get(location.id) is None:
            locations.add(location)


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
        f"[bold]{merchant.tenant.name}[/bold]: {len(merchant.stores)} stores "
        f"({', '.join(f'{s.location.name} {s.location.currency}' for s in merchant.stores)}), "
        f"{days} days from {first}, seed {seed}"
    )
    with factory() as session, session.begin():
        set_up(session, merchant)
    documents = list(SalesSimulator(merchant, seed).run(first, days))
    rejected: list[Rejected] = []
    totals = {"stored": 0, "posted": 0, "already": 0}
    progress = Progress(
        TextColumn("Posting to the built-in ledger"), BarColumn(), MofNCompleteColumn()
    )
    with progress:
        task = progress.add_task("post", total=len(documents))
        for start in range(0, len(documents), 500):
            batch = documents[start : start + 500]
            with factory() as session, session.begin():
                intake = Intake(session, tenant, merchant.locations)
                report = intake.take(batch)
            totals["stored"] += report.stored
            totals["posted"] += report.posted
            totals["already"] += report.already_posted
            rejected += report.rejected
            progress.advance(task, len(batch))
    first_sale = next(d for d in documents if isinstance(d, Sale))
    with factory() as session, session.begin():
        bad = Intake(session, tenant, merchant.locations).take([broken_sale(merchant, first_sale)])
    rejected += bad.rejected

    console.print(
        f"{len(documents)} documents: {totals['posted']} entries posted, "
        f"{totals['already']} already in the books (a re-run posts nothing twice)"
    )
    for item in rejected:
        console.print(
            f"[yellow]Refused[/yellow] {item.document.kind.value} "
            f"{item.document.external_id}, nothing written:"
        )
        for problem in item.problems:
            console.print(f"  - {problem}")

    exports = cfg.data_dir / "exports"
    with factory() as session:
        books = LedgerBooks(session, tenant)
        console.print(
            balance_table(books.trial_balance(), f"Trial balance: {merchant.tenant.name}")
        )
        bean = books.export("beancount", exports / f"{tenant}.beancount")
        books.export("hledger", exports / f"{tenant}.journal")
    console.print(f"Beancount export ({bean} entries): {exports / f'{tenant}.beancount'}")
    console.print(f"hledger export: {exports / f'{tenant}.journal'}")
    console.print(
        f"Check them: .venv/bin/bean-check {exports / f'{tenant}.beancount'}  |  "
        f"hledger -f {exports / f'{tenant}.journal'} balance"
    )
