"""The support and billing policies end to end, through the REST API and the support
loop's pass: the scenarios both support models must pass."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from people import CHEAP, add_user, key_of
from sqlalchemy.orm import Session, sessionmaker

from salesync.accounts.roles import Role
from salesync.api import create_app
from salesync.api.session import SignIn
from salesync.clock import ManualClock
from salesync.domain.documents import Location, Tenant
from salesync.domain.errors import BugError
from salesync.engine.incidents import Failure, IncidentLog
from salesync.monitor.loop import Monitor
from salesync.store.repositories import Locations, Tenants
from salesync.store.tables import PostingRow
from salesync.store.vault import Vault, new_key
from salesync.support.catalog import load_catalog
from salesync.support.service import SupportService
from salesync.support.subscriptions import Subscriptions

START = datetime(2026, 11, 1, 4, tzinfo=UTC)
"""Midnight of 1 November 2026 in New York, the catalogs' support time zone."""
SHOPS = ("acme", "globex")


@dataclass
class Desk:
    client: TestClient
    clock: ManualClock
    factory: sessionmaker[Session]
    service: SupportService
    owner: dict[str, str]
    developer: dict[str, str]

    def url(self, path: str, tenant: str = "acme") -> str:
        return f"/api/v1/tenants/{tenant}{path}"

    def subscribe(self, plan: str, tenant: str = "acme") -> None:
        with self.factory() as session, session.begin():
            Subscriptions(session, self.service.catalog).subscribe(tenant, plan, START, "sales")

    def fail(self, tenant: str = "acme") -> int:
        """A QuickBooks bug in ``tenant``'s sync, recorded as the engine records it."""
        with self.factory() as session, session.begin():
            incident = IncidentLog(self.clock).record(
                session,
                tenant,
                Failure(
                    error=BugError("KeyError: 'TaxCodeRef'", provider="qbo", operation="post"),
                    stage="connector",
                    subject="posting:1",
                    failed_at=self.clock(),
                ),
            )
            assert incident.ticket_id is not None
            return incident.ticket_id


def _headers(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _desk(factory: sessionmaker[Session], catalog: str) -> Iterator[Desk]:
    """Two merchants with two New York locations each since 1 November 2026 and a first
    posting that day, the app on ``catalog``, and an owner's and a developer's API keys."""
    clock = ManualClock(START + timedelta(hours=10))
    with factory() as session, session.begin():
        for shop in SHOPS:
            Tenants(session).add(Tenant(shop, shop.title()))
            for place in ("soho", "brooklyn"):
                Locations(session, shop).add(
                    Location(place, shop, place.title(), "America/New_York", "USD"), at=START
                )
            session.add(
                PostingRow(
                    tenant_id=shop,
                    location_id="soho",
                    destination="qbo",
                    key=f"first-{shop}",
                    mode="per_order",
                    state="posted",
                    body={},
                    next_attempt_at=START,
                    created_at=START,
                    posted_at=START + timedelta(hours=1),
                )
            )
    service = SupportService(factory, load_catalog(catalog), clock)
    app = create_app(
        factory,
        clock,
        Vault([new_key()]),
        sign_in=SignIn(factory, clock, cost=CHEAP),
        support=service,
    )
    owner = key_of(factory, clock, add_user(factory, clock, "owner@acme.test", Role.OWNER, "acme"))
    developer = key_of(
        factory, clock, add_user(factory, clock, "dev@salesync.test", Role.DEVELOPER)
    )
    with TestClient(app) as client:
        yield Desk(client, clock, factory, service, _headers(owner), _headers(developer))


@pytest.fixture
def tiered(factory: sessionmaker[Session]) -> Iterator[Desk]:
    yield from _desk(factory, "tiered")


@pytest.fixture
def proactive(factory: sessionmaker[Session]) -> Iterator[Desk]:
    yield from _desk(factory, "proactive")


def test_a_gold_customers_out_of_scope_request_gets_the_policy_and_the_article(
    tiered: Desk,
) -> None:
    """A Gold merchant asking support to change QuickBooks settings is answered at once
    with the policy text and the step-by-step article, which the API serves."""
    tiered.subscribe("gold")
    sent = tiered.client.post(
        tiered.url("/requests"),
        headers=tiered.owner,
        json={"subject": "Change my QuickBooks settings", "body": "Please turn on sales tax."},
    )
    assert sent.status_code == 201, sent.text
    answered = sent.json()
    assert (answered["in_scope"], answered["state"]) == (False, "answered")
    assert answered["category"] == "quickbooks_settings"
    assert "step-by-step instructions" in answered["answer"]
    assert answered["article_url"].endswith("/help/quickbooks-settings")
    article = tiered.client.get("/api/v1/help/quickbooks-settings")
    assert article.status_code == 200
    assert "QuickBooks" in article.json()["title"]


def test_platinum_taken_four_months_before_renewal_grants_five_hours_then_ten(
    tiered: Desk,
) -> None:
    """Silver moved to Platinum on 1 July is billed to the 1 November renewal and gets 5
    hours; extra time is refused while they last; at renewal the year has 10 hours and
    nothing rolls over."""
    tiered.subscribe("silver")
    tiered.clock.set(datetime(2027, 7, 1, 14, tzinfo=UTC))
    moved = tiered.client.put(
        tiered.url("/subscription"), headers=tiered.owner, json={"plan": "platinum"}
    )
    assert moved.status_code == 200, moved.text
    invoice = moved.json()["invoice"]
    assert invoice["kind"] == "upgrade"
    assert invoice["total"] == {"amount": "2017.87", "currency": "USD"}  # 5988 x 123 / 365 days
    hours = tiered.client.get(tiered.url("/hours"), headers=tiered.owner).json()["balance"]
    assert (hours["granted_minutes"], hours["remaining_minutes"]) == (300, 300)

    early = tiered.client.post(
        tiered.url("/hours/purchases"), headers=tiered.owner, json={"blocks": 1}
    )
    assert early.status_code == 409
    assert "still available" in early.json()["message"]

    ticket = tiered.fail()
    path = tiered.url(f"/tickets/{ticket}/time")
    odd = tiered.client.post(path, headers=tiered.developer, json={"minutes": 20})
    assert odd.status_code == 409
    assert "15-minute" in odd.json()["message"]
    used = tiered.client.post(path, headers=tiered.developer, json={"minutes": 240})
    assert used.status_code == 200, used.text

    tiered.clock.set(datetime(2027, 11, 1, 14, tzinfo=UTC))
    tiered.service.run_due()
    renewed = tiered.client.get(tiered.url("/hours"), headers=tiered.owner).json()
    assert (renewed["balance"]["granted_minutes"], renewed["balance"]["remaining_minutes"]) == (
        600,
        600,
    )
    lapsed = [e for e in renewed["entries"] if e["entry"] == "lapse"]
    assert [e["minutes"] for e in lapsed] == [-60]


def test_extra_time_is_sold_once_the_hours_are_used_and_only_on_platinum(
    tiered: Desk,
) -> None:
    """On Gold extra time is refused naming Platinum; on Platinum with its 10 hours used,
    two blocks are sold for $500 on an invoice, once however often the request repeats."""
    tiered.subscribe("gold")
    gold = tiered.client.post(
        tiered.url("/hours/purchases"), headers=tiered.owner, json={"blocks": 2}
    )
    assert gold.status_code == 409
    assert "Platinum" in gold.json()["message"]

    tiered.subscribe("platinum", tenant="globex")
    ticket = tiered.fail("globex")
    owner = _headers(
        key_of(
            tiered.factory,
            tiered.clock,
            add_user(tiered.factory, tiered.clock, "owner@globex.test", Role.OWNER, "globex"),
        )
    )
    for _ in range(3):
        logged = tiered.client.post(
            tiered.url(f"/tickets/{ticket}/time", "globex"),
            headers=tiered.developer,
            json={"minutes": 240},
        )
    assert logged.status_code == 409  # 8 of 10 hours used; 4 more would overspend
    tiered.client.post(
        tiered.url(f"/tickets/{ticket}/time", "globex"),
        headers=tiered.developer,
        json={"minutes": 120},
    )
    body = {"blocks": 2, "request_key": "ask-1"}
    for _ in range(2):
        bought = tiered.client.post(
            tiered.url("/hours/purchases", "globex"), headers=owner, json=body
        )
        assert bought.status_code == 200, bought.text
    invoices = tiered.client.get(tiered.url("/invoices", "globex"), headers=owner).json()
    extra = [i for i in invoices["invoices"] if i["kind"] == "extra_time"]
    assert [i["total"]["amount"] for i in extra] == ["500.00"]


def test_a_silver_failure_caused_by_a_recent_release_reaches_a_developer(
    tiered: Desk,
) -> None:
    """A Silver bug starting two days after a release that changed QuickBooks escalates
    to the developers; the same bug with no release behind it stays with Tier 1."""
    tiered.subscribe("silver")
    tiered.subscribe("silver", tenant="globex")
    unexplained = tiered.fail("globex")
    tiered.clock.advance(timedelta(hours=1))
    tiered.service.record_release("0.9.0", ["qbo"], notes="QuickBooks batch writes")
    tiered.clock.advance(timedelta(days=2))
    regression = tiered.fail()
    monitor = Monitor(tiered.factory, tiered.clock, tiers=tiered.service.escalations())
    monitor.tick()
    teams = {
        shop: tiered.client.get(
            tiered.url(f"/tickets/{ticket}", shop), headers=tiered.developer
        ).json()["ticket"]["team"]
        for shop, ticket in (("acme", regression), ("globex", unexplained))
    }
    assert teams == {"acme": "dev", "globex": "tier1"}


def test_a_month_with_a_location_added_on_the_16th_bills_it_for_half(
    proactive: Desk,
) -> None:
    """Two locations all November and a third from the 16th bill $25.00 on Standard."""
    proactive.subscribe("standard")
    with proactive.factory() as session, session.begin():
        Locations(session, "acme").add(
            Location("harlem", "acme", "Harlem", "America/New_York", "USD"),
            at=datetime(2026, 11, 16, 15, tzinfo=UTC),
        )
    proactive.clock.set(datetime(2026, 12, 1, 6, tzinfo=UTC))
    proactive.service.run_due()
    invoices = proactive.client.get(proactive.url("/invoices"), headers=proactive.owner).json()
    assert [(i["kind"], i["total"]["amount"]) for i in invoices["invoices"]] == [
        ("period", "25.00")
    ]


def test_the_proactive_catalog_gives_every_customer_a_developer(proactive: Desk) -> None:
    """On the proactive catalog both merchants' bugs go to the developers, no plan asked."""
    tickets = {shop: proactive.fail(shop) for shop in SHOPS}
    Monitor(proactive.factory, proactive.clock, tiers=proactive.service.escalations()).tick()
    for shop, ticket in tickets.items():
        found = proactive.client.get(
            proactive.url(f"/tickets/{ticket}", shop), headers=proactive.developer
        ).json()
        assert found["ticket"]["team"] == "dev", shop
    plans = proactive.client.get(proactive.url("/plans"), headers=proactive.owner).json()
    assert [(p["code"], p["support_tier"]) for p in plans["plans"]] == [("standard", 2)]


def test_a_plan_the_catalog_no_longer_has_is_a_clear_refusal(proactive: Desk) -> None:
    """A tenant left on Platinum under the proactive catalog gets a 409 naming the plan
    and what to do, not a failure."""
    with proactive.factory() as session, session.begin():
        Subscriptions(session, load_catalog("tiered")).subscribe("acme", "platinum", START, "x")
    answer = proactive.client.get(proactive.url("/subscription"), headers=proactive.owner)
    assert answer.status_code == 409
    assert answer.json()["error"] == "plan_not_in_catalog"
    assert "no plan 'platinum' in the proactive catalog" in answer.json()["message"]


def test_requests_are_listed_newest_first_a_page_at_a_time(tiered: Desk) -> None:
    """Three requests answer two on the first page and the third after its cursor."""
    for subject in ("Firewall port", "Web Connector reinstall", "How do I map a tax rate?"):
        tiered.clock.advance(timedelta(minutes=1))
        sent = tiered.client.post(
            tiered.url("/requests"), headers=tiered.owner, json={"subject": subject}
        )
        assert sent.status_code == 201, sent.text
    first = tiered.client.get(tiered.url("/requests?limit=2"), headers=tiered.owner).json()
    assert [r["subject"] for r in first["requests"]] == [
        "How do I map a tax rate?",
        "Web Connector reinstall",
    ]
    cursor = first["next_cursor"]
    rest = tiered.client.get(
        tiered.url(f"/requests?limit=2&cursor={cursor}"), headers=tiered.owner
    ).json()
    assert ([r["subject"] for r in rest["requests"]], rest["next_cursor"]) == (
        ["Firewall port"],
        None,
    )
