"""A failed sync, repaired from the dashboard in Chromium: a sale of a category the
merchant's strict mapping does not name is held and ticketed; a support agent finds the
ticket in the queue, maps the category with the one-click form and hands the ticket to
a developer, who replays it, sees the sale reconciled in the books, and resolves it."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from salesync.accounts.roles import Role
from salesync.accounts.users import Users
from salesync.clock import ManualClock
from salesync.domain.documents import (
    DocumentKind,
    Location,
    Payment,
    Sale,
    SaleLine,
    TaxLine,
    TaxMode,
    Tenant,
    document_id,
)
from salesync.domain.money import Money
from salesync.engine.mappings import Mappings
from salesync.engine.runner import Engine
from salesync.rules import strict_retail
from salesync.store import codec
from salesync.store.repositories import Locations, Tenants
from salesync.store.tables import PostingDocumentRow, PostingRow, TicketRow

from .conftest import CHEAP, RunningSalesync, Seed

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"  # noqa: S105  the test users' password
AGENT = "sam@salesync.example"
DEVELOPER = "dev@salesync.example"
OWNER = "owner@harborandpine.example"
SALE = document_id("demo", "simulator", DocumentKind.SALE, "BRO-0042")
EXPLANATION = "Coffee had no account in your mapping; it now books to Income:Sales:Coffee."


def coffee_sale(clock: ManualClock) -> Sale:
    """One flat white sold in Brooklyn just now: the category is ``Coffee``."""
    usd = "USD"
    return Sale(
        id=SALE,
        tenant_id="demo",
        location_id="brooklyn",
        source="simulator",
        external_id="BRO-0042",
        occurred_at=clock() - timedelta(minutes=5),
        currency=usd,
        tax_mode=TaxMode.EXCLUSIVE,
        lines=(
            SaleLine(
                "COF-1",
                "Flat white",
                "Coffee",
                Decimal(1),
                Money(Decimal("4.50"), usd),
                taxes=(TaxLine("NY sales tax", Decimal("0.08875"), Money(Decimal("0.40"), usd)),),
            ),
        ),
        payments=(Payment("card", Money(Decimal("4.90"), usd), "visa"),),
        declared_total=Money(Decimal("4.90"), usd),
        number="BRO-0042",
    )


@pytest.fixture
def salesync_seed() -> Seed:
    """Harbor & Pine Goods posts into the built-in ledger under a strict mapping that names
    Apparel but not Coffee; a coffee sale arrives and is held at the evening window."""

    def seed(factory: sessionmaker[Session], clock: ManualClock) -> None:
        with factory() as session, session.begin():
            Tenants(session).add(Tenant("demo", "Harbor & Pine Goods"))
            Locations(session, "demo").add(
                Location("brooklyn", "demo", "Brooklyn", "America/New_York", "USD")
            )
            users = Users(session, clock, CHEAP)
            users.add(AGENT, PASSWORD, Role.TIER1)
            users.add(DEVELOPER, PASSWORD, Role.DEVELOPER)
            users.add(OWNER, PASSWORD, Role.OWNER, "demo")
            Mappings(session, "demo").publish(
                strict_retail(categories=["Apparel"], taxes=["NY sales tax"]), clock()
            )
        engine = Engine(factory, clock)
        payload = json.dumps(codec.encode(coffee_sale(clock)))
        engine.receive("demo", "simulator", "sale", payload, event_id="BRO-0042")
        clock.advance(timedelta(hours=11, minutes=30))  # past 18:00 in New York
        engine.run_until_idle("demo")

    return seed


def sign_in(page: Page, url: str, email: str) -> None:
    page.goto(f"{url}/")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(email)).to_be_visible()


def wait_for_books(page: Page, text: str, seconds: float = 10.0) -> None:
    """Reload the ticket until the books section says ``text``: the runner posts in the
    background, and the page shows the books as they are when it is loaded."""
    books = page.locator("#books + .card")
    deadline = time.monotonic() + seconds
    while text not in books.inner_text():
        assert time.monotonic() < deadline, f"the books never showed {text!r}"
        time.sleep(0.3)
        page.get_by_role("link", name="Check again").click()
    expect(books).to_contain_text(text)


def test_a_held_sale_is_mapped_replayed_reconciled_and_resolved_from_the_dashboard(
    page: Page, running_salesync: RunningSalesync, screenshot: Callable[[str], Path]
) -> None:
    """From the failed sync in the queue to a resolved ticket whose sale is in the books
    once, through the pages and forms a support agent and a developer use."""
    live = running_salesync
    with live.factory() as session:
        ticket = session.scalars(select(TicketRow)).one()
    assert ticket.kind == "mapping"

    # Sam, Tier 1, sees the failed sync in the queue.
    sign_in(page, live.url, AGENT)
    page.get_by_role("link", name="Ticket queue").click()
    row = page.locator("table.queue tbody tr", has_text="Harbor & Pine Goods")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("mapping")
    expect(row).to_contain_text("unassigned")
    screenshot("1-queue")

    # The ticket says what is missing, that the sale is not in the books, and offers
    # the mapping fix.
    row.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Ticket {ticket.id}")
    books = page.locator("#books + .card")
    expect(books).to_contain_text("Still different from the source")
    expect(books).to_contain_text("BRO-0042")
    expect(page.get_by_role("heading", name="Map category “Coffee”")).to_be_visible()
    screenshot("2-ticket")

    page.get_by_label("or a new account").fill("Income:Sales:Coffee")
    page.get_by_role("button", name="Map and release").click()
    expect(page.get_by_role("status").first).to_contain_text(
        'Published mapping version 2: category == "Coffee" goes to Income:Sales:Coffee. '
        "1 held document(s) released"
    )
    screenshot("3-mapped")

    page.get_by_label("Assign to").fill(DEVELOPER)
    page.get_by_role("button", name="Assign").click()
    expect(page.get_by_role("status").first).to_contain_text(f"Assigned to {DEVELOPER}.")
    page.get_by_role("button", name="Sign out").click()

    # The developer finds it in their part of the queue, replays it and checks the books.
    sign_in(page, live.url, DEVELOPER)
    page.get_by_role("link", name="Ticket queue").click()
    page.locator("ul.owners").get_by_role("link", name=DEVELOPER).click()
    page.locator("table.queue").get_by_role("link", name=re.compile(f"#{ticket.id} ")).click()
    page.get_by_role("button", name="Replay").click()
    expect(page.get_by_role("status").first).to_contain_text("Replayed:")
    wait_for_books(page, "Reconciled: 1 document in the books as the source has it.")
    screenshot("4-reconciled")

    page.get_by_label("Explanation for the merchant").fill(EXPLANATION)
    page.get_by_role("button", name="Resolve").click()
    expect(page.get_by_role("status").first).to_contain_text(
        "Resolved: 1 document(s) verified in the books"
    )
    expect(page.locator("dl.facts").first).to_contain_text("resolved")
    expect(page.get_by_text(EXPLANATION).first).to_be_visible()
    screenshot("5-resolved")

    with live.factory() as session:
        posted = session.scalar(
            select(func.count())
            .select_from(PostingDocumentRow)
            .join(PostingRow, PostingRow.id == PostingDocumentRow.posting_id)
            .where(PostingDocumentRow.document_id == SALE, PostingRow.state == "posted")
        )
        state = session.scalar(select(TicketRow.state).where(TicketRow.id == ticket.id))
    assert posted == 1
    assert state == "resolved"


def test_a_merchant_asks_for_help_and_reads_the_policy_answer_and_its_article(
    page: Page, running_salesync: RunningSalesync, screenshot: Callable[[str], Path]
) -> None:
    """The owner asks support to reinstall the Web Connector, gets the scope-of-work
    answer at once with its help article, and finds another article by searching."""
    live = running_salesync
    sign_in(page, live.url, OWNER)
    page.get_by_role("link", name="Requests").click()
    page.get_by_label("Subject").fill("Can you reinstall the Web Connector for us?")
    page.get_by_label("What do you need?").fill("It stopped after a Windows update.")
    page.get_by_role("button", name="Send request").click()
    answer = page.get_by_role("status").last
    expect(answer).to_contain_text("outside our scope of work")
    screenshot("6-request-answered")

    page.get_by_role("link", name=re.compile("^Read: ")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("QuickBooks")
    screenshot("7-article")

    page.goto(f"{live.url}/help?q=reconnect")
    expect(page.locator("main")).to_contain_text("Reconnecting")
    page.get_by_role("button", name="Sign out").click()
    page.goto(f"{live.url}/help/reconnecting")
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
