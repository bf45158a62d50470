"""The support pages: the public knowledge base, the merchant's plan and invoices, support
requests, and the developer time and merchant waits on a staff ticket page.

The merchants are on the tiered catalog (Silver, Gold, annual Platinum with developer
hours), subscribed on Silver forty days before the test clock with both of ``demo``'s
locations active since then.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from salesync.accounts.passwords import Cost
from salesync.api import create_app
from salesync.api.session import SignIn
from salesync.clock import ManualClock
from salesync.connectors.registry import SourceRegistry
from salesync.store.tables import HourEntryRow, LocationPeriodRow, TicketRow
from salesync.store.vault import Vault, new_key
from salesync.support.catalog import load_catalog
from salesync.support.service import SupportService
from salesync.support.subscriptions import Subscriptions

SignedIn = Callable[[str], TestClient]
Csrf = Callable[[TestClient, str], str]
OUT_OF_SCOPE = "How do I reinstall the web connector on our new PC?"
IN_SCOPE = "Sales from Brooklyn on Monday are not in QuickBooks."


@pytest.fixture
def catalog_name() -> str:
    return "tiered"


@pytest.fixture
def app(db: sessionmaker[Session], clock: ManualClock, catalog_name: str) -> FastAPI:
    """The dashboard over ``catalog_name``'s plans, every tenant subscribed on its
    default plan forty days ago with its locations active since then."""
    catalog = load_catalog(catalog_name)
    start = clock() - timedelta(days=40)
    with db() as session, session.begin():
        session.execute(update(LocationPeriodRow).values(active_from=start))
        for tenant_id in ("demo", "other"):
            Subscriptions(session, catalog).subscribe(
                tenant_id, catalog.default_plan, start, "sales@salesync.example"
            )
    return create_app(
        db,
        clock,
        Vault([new_key()]),
        registry=SourceRegistry(points=[]),
        sign_in=SignIn(db, clock, cost=Cost(n=2**10)),
        support=SupportService(db, catalog, clock),
    )


def main_of(html: str) -> str:
    """The page's content, without the layout's navigation."""
    return html.split('<main id="content">', 1)[1]


def error_of(html: str) -> str:
    found = re.search(r'<p class="error" role="alert">(.*?)</p>', html, re.S)
    assert found is not None, main_of(html)
    return found.group(1)


def send_request(client: TestClient, csrf: Csrf, subject: str, body: str) -> str:
    """Send a support request from ``demo``'s requests page; the request's page."""
    token = csrf(client, "/app/demo/requests")
    sent = client.post(
        "/app/demo/requests", data={"csrf_token": token, "subject": subject, "body": body}
    )
    assert sent.status_code == 303, sent.text
    location: str = sent.headers["location"]
    assert re.fullmatch(r"/app/demo/requests/\d+", location)
    return location


@pytest.fixture
def ticket(signed_in: SignedIn, csrf: Csrf, db: sessionmaker[Session]) -> int:
    """``demo``'s Tier 1 ticket, opened by an in-scope support request."""
    send_request(signed_in("owner@harbor.example"), csrf, "Missing sales", IN_SCOPE)
    with db() as session:
        number = session.scalar(select(TicketRow.id).where(TicketRow.tenant_id == "demo"))
    assert number is not None
    return number


def test_help_is_searchable_and_readable_without_signing_in(app: FastAPI) -> None:
    """Anyone finds an article by its words and reads it; the index lists every article."""
    with TestClient(app, follow_redirects=False) as reader:
        found = reader.get("/help", params={"q": "web connector"})
        assert found.status_code == 200
        assert 'href="/help/installing-quickbooks-desktop"' in found.text
        assert "Installing QuickBooks Desktop and the Web Connector" in found.text
        assert "Sign in" in found.text
        everything = reader.get("/help")
        assert everything.status_code == 200
        assert 'href="/help/plans-and-billing"' in everything.text
        article = reader.get("/help/installing-quickbooks-desktop")
        assert article.status_code == 200
        assert "<h2>Before you start</h2>" in article.text
        assert "Sign out" not in article.text
        nothing = reader.get("/help", params={"q": "zeppelin"})
        assert "No article has all of those words" in nothing.text


def test_help_keeps_the_signed_in_viewers_navigation(signed_in: SignedIn) -> None:
    """A signed-in merchant reads help in the dashboard, with their own links."""
    page = signed_in("books@harbor.example").get("/help/installing-quickbooks-desktop")
    assert page.status_code == 200
    assert 'href="/app/demo/billing"' in page.text
    assert 'href="/help" aria-current="page"' not in page.text
    assert "books@harbor.example" in page.text
    staff = signed_in("tier1@salesync.example").get("/help")
    assert 'href="/staff/tickets"' in staff.text


def test_an_unknown_article_is_a_404(app: FastAPI, signed_in: SignedIn) -> None:
    """A slug no article has is a 404 page with the search box, signed in or not."""
    with TestClient(app, follow_redirects=False) as reader:
        missing = reader.get("/help/no-such-article")
        assert missing.status_code == 404
        assert "There is no help article at this address" in missing.text
        assert 'name="q"' in missing.text
    assert signed_in("owner@harbor.example").get("/help/nope").status_code == 404


def test_the_owner_sees_the_plan_and_what_an_upgrade_costs(signed_in: SignedIn) -> None:
    """The owner sees the plan, period, renewal, locations and each upgrade's price now."""
    page = signed_in("owner@harbor.example").get("/app/demo/billing")
    assert page.status_code == 200
    text = main_of(page.text)
    assert "<strong>Silver</strong>" in text
    assert "15.00 USD per location a month" in text
    assert "monthly" in text
    assert "Tier 1" in text
    assert "Renews</dt><dd>Mon 25 Jan 2027" in text
    assert "Active locations</dt><dd>2</dd>" in text
    assert "Developer time is not part of the Silver plan" in text
    # Platinum is 5,988 a year, billed for 325 of the year's 365 days; Gold's two
    # locations for 19 of the period's 28.
    assert "5,331.78 USD</strong>" in text
    assert "billed now, for Fri 06 Mar 2026 to Sun 24 Jan 2027" in text
    assert '<input type="hidden" name="plan" value="platinum">' in text
    assert "Upgrade to Platinum" in text
    assert "Upgrade to Gold" in text
    assert "33.92 USD</strong>\nfor the rest of this period" in text
    assert "Buy extra developer time" not in text  # Silver sells none


def test_the_owner_upgrades_to_platinum_and_is_invoiced(signed_in: SignedIn, csrf: Csrf) -> None:
    """Upgrading Silver to Platinum invoices the rest of the year and grants its hours."""
    owner = signed_in("owner@harbor.example")
    token = csrf(owner, "/app/demo/billing")
    moved = owner.post("/app/demo/billing/plan", data={"csrf_token": token, "plan": "platinum"})
    assert moved.status_code == 303
    assert moved.headers["location"] == "/app/demo/billing"
    page = owner.get("/app/demo/billing").text
    assert re.search(r'class="notice" role="status">You are on Platinum now\. Invoice ', page)
    text = main_of(page)
    assert "<strong>Platinum</strong>" in text
    assert "<td><strong>10 hours</strong></td>" in text
    assert "Buy extra developer time" in text
    found = re.search(r'href="(/app/demo/billing/invoices/\d+)">(demo-202603-\d{4})</a>', text)
    assert found is not None, text
    assert "5,331.78 USD" in text
    invoice = owner.get(found.group(1))
    assert invoice.status_code == 200
    assert f"Invoice {found.group(2)}" in invoice.text
    assert "Platinum" in invoice.text
    assert "5,331.78 USD" in invoice.text
    assert owner.get("/app/demo/billing/invoices/999").status_code == 404
    assert owner.get("/app/demo/billing/invoices/x").status_code == 404
    again = owner.post("/app/demo/billing/plan", data={"csrf_token": token, "plan": "silver"})
    assert again.status_code == 409
    assert "Could not change the plan" in error_of(again.text)


def test_the_bookkeeper_reads_billing_but_may_not_change_it(
    signed_in: SignedIn, csrf: Csrf
) -> None:
    """The bookkeeper sees the plan without the buttons, and a posted upgrade is a 403."""
    books = signed_in("books@harbor.example")
    page = books.get("/app/demo/billing")
    assert page.status_code == 200
    assert "<strong>Silver</strong>" in page.text
    assert "Upgrade to Platinum" not in page.text
    assert "The account owner can change the plan." in page.text
    token = csrf(books, "/app/demo/billing")
    refused = books.post("/app/demo/billing/plan", data={"csrf_token": token, "plan": "platinum"})
    assert refused.status_code == 403
    assert "<strong>Silver</strong>" in books.get("/app/demo/billing").text


def test_another_tenants_owner_sees_no_billing(signed_in: SignedIn, csrf: Csrf) -> None:
    """Another merchant's owner gets 404 for the page, its invoices and its forms."""
    other = signed_in("owner@other.example")
    assert other.get("/app/demo/billing").status_code == 404
    assert other.get("/app/demo/billing/invoices/1").status_code == 404
    token = csrf(other, "/app/other/billing")
    posted = other.post("/app/demo/billing/plan", data={"csrf_token": token, "plan": "platinum"})
    assert posted.status_code == 404
    assert other.get("/app/demo/requests").status_code == 404


def test_extra_time_is_refused_while_hours_are_left(
    signed_in: SignedIn, csrf: Csrf, db: sessionmaker[Session]
) -> None:
    """On Platinum with its hours unused, buying extra time shows why not and buys none."""
    owner = signed_in("owner@harbor.example")
    token = csrf(owner, "/app/demo/billing")
    owner.post("/app/demo/billing/plan", data={"csrf_token": token, "plan": "platinum"})
    bought = owner.post(
        "/app/demo/billing/time",
        data={"csrf_token": token, "blocks": "2", "request_key": "k1"},
    )
    assert bought.status_code == 409
    assert error_of(bought.text) == (
        "Could not buy extra developer time: 10 hours are still available; "
        "extra time can be bought once they are used."
    )
    assert 'name="blocks" type="number" min="1" max="100" value="2"' in bought.text
    nonsense = owner.post("/app/demo/billing/time", data={"csrf_token": token, "blocks": "0"})
    assert "buy 1 to 100 blocks" in error_of(nonsense.text)
    with db() as session:
        purchases = session.scalars(
            select(HourEntryRow).where(HourEntryRow.entry == "purchase")
        ).all()
    assert purchases == []


@pytest.mark.parametrize("catalog_name", ["proactive"])
def test_unmetered_developer_time_shows_as_included(signed_in: SignedIn) -> None:
    """On the proactive plan developer time is included and there is nothing to upgrade."""
    page = main_of(signed_in("owner@harbor.example").get("/app/demo/billing").text)
    assert "<strong>Standard</strong>" in page
    assert "Developer time is included in Standard without a meter" in page
    assert "You are on the highest plan you can move to now." in page


def test_an_out_of_scope_request_is_answered_with_the_policy_and_article(
    signed_in: SignedIn, csrf: Csrf
) -> None:
    """A request to reinstall the Web Connector is answered at once, with the article."""
    owner = signed_in("owner@harbor.example")
    path = send_request(owner, csrf, "Reinstall", OUT_OF_SCOPE)
    page = owner.get(path).text
    assert "Your request was sent; the answer is below" in page
    assert "outside our scope of work" in page
    assert 'href="/help/installing-quickbooks-desktop"' in page
    assert "/tickets/" not in main_of(page)
    listing = owner.get("/app/demo/requests").text
    assert f'href="{path}">Reinstall</a>' in listing
    assert "Reinstalling the QuickBooks Web Connector or QuickBooks Desktop" in listing
    assert "answered" in listing


def test_an_in_scope_request_links_to_its_ticket(
    signed_in: SignedIn, csrf: Csrf, db: sessionmaker[Session]
) -> None:
    """A question about missing sales goes to Tier 1; its page links the merchant's ticket."""
    books = signed_in("books@harbor.example")
    path = send_request(books, csrf, "Missing sales", IN_SCOPE)
    page = books.get(path).text
    with db() as session:
        number = session.scalar(select(TicketRow.id).where(TicketRow.kind == "request"))
    assert "Tier 1 support team has it" in page
    assert f'href="/app/demo/tickets/{number}"' in page
    assert books.get(f"/app/demo/tickets/{number}").status_code == 200
    assert books.get("/app/demo/requests/999").status_code == 404


def test_an_empty_request_is_refused_with_what_to_fix(signed_in: SignedIn, csrf: Csrf) -> None:
    """An empty request is a 400 saying so; a developer reads requests but sends none."""
    owner = signed_in("owner@harbor.example")
    token = csrf(owner, "/app/demo/requests")
    empty = owner.post("/app/demo/requests", data={"csrf_token": token, "subject": " "})
    assert empty.status_code == 400
    assert "the request is empty: give a subject or a message" in empty.text
    dev = signed_in("dev@salesync.example")
    assert dev.get("/app/demo/requests").status_code == 200
    assert 'action="/app/demo/requests"' not in dev.get("/app/demo/requests").text
    sent = dev.post("/app/demo/requests", data={"csrf_token": token, "subject": "Hi"})
    assert sent.status_code == 403


def test_a_developer_logs_time_on_a_ticket(
    signed_in: SignedIn, csrf: Csrf, db: sessionmaker[Session], clock: ManualClock, ticket: int
) -> None:
    """A developer logs 30 minutes, listed on the ticket; 20 minutes are refused."""
    with db() as session, session.begin():
        Subscriptions(session, load_catalog("tiered")).change(
            "demo", "platinum", clock(), actor="sales@salesync.example"
        )
    dev = signed_in("dev@salesync.example")
    path = f"/staff/tickets/{ticket}"
    token = csrf(dev, path)
    page = dev.get(path).text
    assert '<option value="30">30 minutes</option>' in page
    assert "No developer time logged on this ticket." in page
    logged = dev.post(
        f"{path}/time", data={"csrf_token": token, "minutes": "30", "note": "read the logs"}
    )
    assert logged.status_code == 303
    shown = dev.get(path).text
    assert "Logged 30 minutes on this ticket (taken from the hours)." in shown
    assert re.search(
        r"<td>dev@salesync.example</td><td class=\"num\">30 minutes</td>"
        r"<td>from the hours</td><td>read the logs</td>",
        shown,
    )
    odd = dev.post(f"{path}/time", data={"csrf_token": token, "minutes": "20"})
    assert odd.status_code == 409
    assert error_of(odd.text) == "Could not log the time: choose 15, 30, 45, 60, 90 or 120 minutes."
    with db() as session:
        uses = session.scalars(select(HourEntryRow.minutes).where(HourEntryRow.entry == "use"))
        assert list(uses) == [-30]
    tier1 = signed_in("tier1@salesync.example")
    assert 'action="/staff/tickets/' + str(ticket) + '/time"' not in tier1.get(path).text
    refused = tier1.post(f"{path}/time", data={"csrf_token": csrf(tier1, path), "minutes": "30"})
    assert refused.status_code == 403


def test_tier1_waits_on_the_merchant_and_records_the_reply(
    signed_in: SignedIn, csrf: Csrf, db: sessionmaker[Session], clock: ManualClock, ticket: int
) -> None:
    """Tier 1 marks a ticket waiting on the merchant, then records the merchant's reply."""
    tier1 = signed_in("tier1@salesync.example")
    path = f"/staff/tickets/{ticket}"
    token = csrf(tier1, path)
    assert "Merchant replied" not in tier1.get(path).text
    asked = tier1.post(
        f"{path}/wait", data={"csrf_token": token, "text": "Asked for a screenshot."}
    )
    assert asked.status_code == 303
    waiting = tier1.get(path).text
    assert "waiting on the merchant since 2026-03-06 15:00 UTC" in waiting
    assert "Asked for a screenshot." in waiting
    assert 'action="' + path + '/wait"' not in waiting
    again = tier1.post(f"{path}/wait", data={"csrf_token": token, "text": "Again."})
    assert again.status_code == 409
    assert "record their reply first" in error_of(again.text)
    clock.set(clock() + timedelta(hours=2))
    replied = tier1.post(f"{path}/replied", data={"csrf_token": token, "text": "Sent it."})
    assert replied.status_code == 303
    after = tier1.get(path).text
    assert "The merchant replied: the SLA times moved 2h later." in after
    assert "waiting on the merchant since" not in after
    with db() as session:
        row = session.get(TicketRow, ticket)
        assert row is not None
        assert row.waiting_since is None


def test_every_support_form_needs_the_csrf_token(
    signed_in: SignedIn, db: sessionmaker[Session], ticket: int
) -> None:
    """Posts without the page's token are refused and change nothing."""
    owner = signed_in("owner@harbor.example")
    for path, data in (
        ("/app/demo/billing/plan", {"plan": "platinum"}),
        ("/app/demo/billing/time", {"blocks": "1"}),
        ("/app/demo/requests", {"subject": "Hi", "body": IN_SCOPE}),
    ):
        refused = owner.post(path, data=data)
        assert refused.status_code == 403
        assert "This form has expired or did not come from salesync" in refused.text
    admin = signed_in("admin@salesync.example")
    for action, data in (("time", {"minutes": "30"}), ("wait", {"text": "x"}), ("replied", {})):
        assert admin.post(f"/staff/tickets/{ticket}/{action}", data=data).status_code == 403
    assert "<strong>Silver</strong>" in owner.get("/app/demo/billing").text
    with db() as session:
        row = session.get(TicketRow, ticket)
        assert row is not None
        assert row.waiting_since is None
        assert session.scalars(select(HourEntryRow)).all() == []
    listing = owner.get("/app/demo/requests").text
    assert len(re.findall(r'href="/app/demo/requests/\d+"', listing)) == 1  # the ticket's
