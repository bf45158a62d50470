"""Connecting new books: from the dashboard's form or the REST API, through the provider's
consent screen, back to salesync with a destination connection that posts sales.

Everything talks HTTP: salesync's API and the QuickBooks Online or Xero sandbox each run
under uvicorn, and browser-like clients sign in and follow the redirects between them.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from people import CHEAP, add_user, key_of, sign_in
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import QueryParams

from salesync.accounts.roles import Role
from salesync.api import create_app
from salesync.api.oauth import Company, Consent
from salesync.api.reconnect import OAuthApp, Reconnect
from salesync.api.session import SignIn
from salesync.api.tokens import ApiTokens
from salesync.clock import ManualClock
from salesync.connectors.destination import Destination
from salesync.connectors.pacing import forget_budgets
from salesync.connectors.qbo import QboDestination
from salesync.connectors.registry import DestinationRegistry
from salesync.connectors.tokens import Grant, OAuthRefresher, TokenManager
from salesync.connectors.xero import XeroDestination
from salesync.domain.documents import Payout, Tenant
from salesync.domain.planning import plan_per_order
from salesync.domain.simulate import SalesSimulator, demo_merchant
from salesync.engine.destinations import DestinationBooks
from salesync.engine.outbox import Outbox
from salesync.engine.sender import Sender
from salesync.sandbox import qbo, xero
from salesync.sandbox.server import free_port, serving
from salesync.store.documents import Documents
from salesync.store.repositories import Connections, Locations, Tenants
from salesync.store.tables import ConnectionRow
from salesync.store.vault import Vault, new_key

MERCHANT = demo_merchant("harbor", orders_per_day=6)
TENANT = MERCHANT.tenant.id
OTHER = "other"
BROOKLYN = MERCHANT.locations[0]
START = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
OWNER, BOOKKEEPER, ADMIN = "owner@harbor.example", "books@harbor.example", "admin@salesync.example"
OTHER_OWNER = "owner@other.example"
QBO_POSTED = ("SalesReceipt", "RefundReceipt", "Invoice", "JournalEntry", "Deposit")
XERO_POSTED = ("Invoices", "CreditNotes", "ManualJournals", "BankTransactions")
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Books:
    """One provider's sandbox under uvicorn: the books a merchant connects."""

    name: str
    label: str
    word: str
    """What the provider calls one business's books."""
    url: str
    company_id: str
    company_name: str
    client: OAuthApp
    destination: Destination
    written: Callable[[], int]
    """How many transactions salesync wrote into the books."""


@contextmanager
def qbo_books(clock: ManualClock) -> Iterator[Books]:
    company = qbo.QboCompany(clock=clock)
    app = qbo.create_app(company)
    with serving(app) as url:
        yield Books(
            "qbo",
            "QuickBooks Online",
            "company",
            url,
            company.realm_id,
            company.realm_id,
            OAuthApp(
                url + "/oauth2/v1/tokens/bearer", qbo.DEFAULT_CLIENT_ID, qbo.DEFAULT_CLIENT_SECRET
            ),
            QboDestination(
                clock=lambda: clock().timestamp(),
                sleep=lambda seconds: clock.advance(timedelta(seconds=seconds)),
            ),
            lambda: sum(
                1
                for form in QBO_POSTED
                for txn in company.all(form)
                if "salesync key: " in str(txn.get("PrivateNote", ""))
            ),
        )


@contextmanager
def xero_books(clock: ManualClock) -> Iterator[Books]:
    org = xero.XeroOrganisation(
        tenant_id=str(uuid.uuid4()),
        name="Harbor Goods",
        base_currency="USD",
        country_code="US",
        clock=clock,
    )
    app = xero.create_app(org)
    with serving(app) as url:
        yield Books(
            "xero",
            "Xero",
            "organisation",
            url,
            org.tenant_id,
            org.name,
            OAuthApp(url + "/connect/token", xero.DEFAULT_CLIENT_ID, xero.DEFAULT_CLIENT_SECRET),
            XeroDestination(
                clock=lambda: clock().timestamp(),
                sleep=lambda seconds: clock.advance(timedelta(seconds=seconds)),
            ),
            lambda: sum(
                1
                for collection in XERO_POSTED
                for obj in org.all(collection)
                if obj.get("Status") not in ("DELETED", "VOIDED")
            ),
        )


@dataclass
class Salesync:
    """salesync under uvicorn with the tenant's users, whose books are about to connect."""

    factory: sessionmaker[Session]
    clock: ManualClock
    vault: Vault
    books: Books
    tokens: TokenManager
    sender: Sender
    url: str
    users: dict[str, str]
    """Each user's id by email."""

    @contextmanager
    def browser(self, email: str | None = None) -> Iterator[httpx.Client]:
        """A browser on salesync, signed in as ``email`` when given."""
        with httpx.Client(base_url=self.url, timeout=10) as client:
            if email is not None:
                assert sign_in(client, email) == 303
            yield client

    def start(self, browser: httpx.Client, name: str = "Harbor books") -> httpx.Response:
        """Send the dashboard's form for the books; the answer, not yet followed."""
        form = browser.get(f"/app/{TENANT}/connections/new", params={"provider": self.books.name})
        assert form.status_code == 200, form.text
        token = _CSRF.search(form.text)
        assert token is not None
        return browser.post(
            f"/app/{TENANT}/connections/new",
            data={"provider": self.books.name, "name": name, "csrf_token": token.group(1)},
        )

    def consent(self, browser: httpx.Client, authorize_url: str) -> str:
        """Answer the provider's consent screen; the callback URL it sends back to."""
        back = browser.get(authorize_url)
        assert back.status_code == 302, back.text
        location = back.headers["location"]
        assert location.startswith(f"{self.url}/oauth/callback?")
        return str(location)

    def connect(self, browser: httpx.Client, name: str = "Harbor books") -> httpx.Response:
        """The whole flow from the form; the callback's answer."""
        started = self.start(browser, name)
        assert started.status_code == 303, started.text
        return browser.get(self.consent(browser, started.headers["location"]))

    def connections(self, tenant_id: str = TENANT) -> list[ConnectionRow]:
        with self.factory() as session:
            return list(
                session.scalars(select(ConnectionRow).where(ConnectionRow.tenant_id == tenant_id))
            )

    def key(self, email: str) -> str:
        return key_of(self.factory, self.clock, self.users[email])

    def post_sales(self, connection_id: str, count: int = 2) -> int:
        """Plan ``count`` sales for the connection and send them; how many posted."""
        documents = [
            d
            for d in SalesSimulator(MERCHANT, seed=10).run(date(2026, 3, 2), 1)
            if d.location_id == BROOKLYN.id and not isinstance(d, Payout)
        ][:count]
        with self.factory() as session, session.begin():
            outbox, store = Outbox(session, TENANT), Documents(session, TENANT)
            for document in documents:
                store.add(document, BROOKLYN, now=self.clock())
                planned = plan_per_order(document, BROOKLYN)
                outbox.enqueue(
                    destination=connection_id,
                    key=planned.key,
                    mode=planned.mode.value,
                    location_id=BROOKLYN.id,
                    entry=planned.entry,
                    documents=(document.id,),
                    now=self.clock(),
                )
        report = self.sender.send_due()
        assert not report.errors, report.errors
        return report.posted


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture(params=["qbo", "xero"])
def books(request: pytest.FixtureRequest, clock: ManualClock) -> Iterator[Books]:
    forget_budgets()
    served = qbo_books if request.param == "qbo" else xero_books
    with served(clock) as found:
        yield found
    forget_budgets()


@pytest.fixture
def salesync(
    factory: sessionmaker[Session], clock: ManualClock, books: Books
) -> Iterator[Salesync]:
    vault = Vault([new_key()])
    with factory() as session, session.begin():
        Tenants(session).add(MERCHANT.tenant)
        Tenants(session).add(Tenant(OTHER, "Other Shop"))
        Locations(session, TENANT).add(BROOKLYN)
    users = {
        email: add_user(factory, clock, email, role, tenant)
        for email, role, tenant in (
            (OWNER, Role.OWNER, TENANT),
            (BOOKKEEPER, Role.BOOKKEEPER, TENANT),
            (OTHER_OWNER, Role.OWNER, OTHER),
            (ADMIN, Role.ADMIN, None),
        )
    }
    app = books.client
    refresher = OAuthRefresher(app.token_url, app.client_id, app.client_secret)
    tokens = TokenManager(factory, vault, clock, lambda _: refresher)
    registry = DestinationRegistry(points=[])
    registry.add(books.destination)
    sender = Sender(
        factory, DestinationBooks(factory, vault, clock, registry=registry, tokens=tokens), clock
    )
    port = free_port()
    reconnect = Reconnect(
        factory,
        clock,
        vault,
        tokens,
        clients=lambda name: app if name == books.name else None,
        public_url=f"http://127.0.0.1:{port}",
        qbo_authorize_url=books.url + "/connect/oauth2",
        xero_authorize_url=books.url + "/identity/connect/authorize",
        xero_connections_url=books.url + "/connections",
        api_urls={books.name: books.url},
    )
    api = create_app(
        factory, clock, vault, reconnect=reconnect, sign_in=SignIn(factory, clock, cost=CHEAP)
    )
    with serving(api, port=port) as url:
        yield Salesync(factory, clock, vault, books, tokens, sender, url, users)
    refresher.close()


qbo_only = pytest.mark.parametrize("books", ["qbo"], indirect=True)


def test_an_owner_connects_books_that_then_take_sales(salesync: Salesync, books: Books) -> None:
    """From the Connections page's link through consent, the owner's new connection holds
    the company and working tokens, and the sales sent to it are in the books."""
    with salesync.browser(OWNER) as browser:
        listing = browser.get(f"/app/{TENANT}/connections")
        assert f"Connect {books.label}" in listing.text
        assert f"/app/{TENANT}/connections/new?provider={books.name}" in listing.text
        form = browser.get(f"/app/{TENANT}/connections/new", params={"provider": books.name})
        assert "What will happen" in form.text

        started = salesync.start(browser)
        assert started.status_code == 303, started.text
        location = urlparse(started.headers["location"])
        asked = {k: v[0] for k, v in parse_qs(location.query).items()}
        assert asked["redirect_uri"] == f"{salesync.url}/oauth/callback"
        assert asked["client_id"] == books.client.client_id
        assert "Harbor" not in asked["state"], "the state is sealed, not readable"

        done = browser.get(salesync.consent(browser, started.headers["location"]))
        assert done.status_code == 303, done.text
        assert done.headers["location"] == f"/app/{TENANT}/connections"
        page = browser.get(done.headers["location"])
        assert (
            f"Connected {books.label} {books.word} {books.company_name} as Harbor books"
            in page.text
        )

    [row] = salesync.connections()
    assert (row.provider, row.role, row.name, row.status) == (
        books.name,
        "destination",
        "Harbor books",
        "active",
    )
    key = "realm_id" if books.name == "qbo" else "tenant_id"
    assert row.settings == {key: books.company_id, "base_url": books.url}
    with salesync.factory() as session:
        grant = Grant.of(Connections(session, TENANT, salesync.vault).credentials(row.id))
    assert grant.refresh_token
    assert grant.expires_at is not None

    assert salesync.post_sales(row.id) == 2
    assert books.written() == 2
    assert salesync.tokens.refresh(TENANT, row.id, stale=grant.access_token) != grant.access_token


def test_the_same_company_twice_is_refused_naming_it(salesync: Salesync, books: Books) -> None:
    """Connecting books the tenant already posts into is refused with the connection's
    name, and adds nothing."""
    with salesync.browser(OWNER) as browser:
        assert salesync.connect(browser).status_code == 303
        again = salesync.connect(browser, name="Second books")
    assert again.status_code == 409
    assert "connected already" in again.text
    assert "Harbor books" in again.text
    assert books.company_name in again.text
    assert [r.name for r in salesync.connections()] == ["Harbor books"]


@qbo_only
def test_a_sign_in_started_by_one_user_is_refused_for_another(salesync: Salesync) -> None:
    """The owner starts; the admin then signed in in that browser cannot finish it, and
    the page says whom to sign in as."""
    with salesync.browser(OWNER) as browser:
        started = salesync.start(browser)
        assert sign_in(browser, ADMIN) == 303
        answer = browser.get(salesync.consent(browser, started.headers["location"]))
    assert answer.status_code == 403
    assert "Started by another user" in answer.text
    assert f"Sign in to salesync as {OWNER}" in answer.text
    assert salesync.connections() == []


@qbo_only
def test_a_sign_in_from_another_browser_is_refused(salesync: Salesync) -> None:
    """The callback of a sign-in started in one browser, opened in another where the same
    owner is signed in, adds nothing."""
    with salesync.browser(OWNER) as browser:
        started = salesync.start(browser)
        back = salesync.consent(browser, started.headers["location"])
    with salesync.browser(OWNER) as other:
        answer = other.get(back)
    assert answer.status_code == 400
    assert "another browser" in answer.text
    assert salesync.connections() == []


@qbo_only
def test_an_expired_sign_in_is_refused_with_a_start_again_link(
    salesync: Salesync, clock: ManualClock
) -> None:
    """Coming back more than ten minutes after starting is refused with a link to the
    form."""
    with salesync.browser(OWNER) as browser:
        started = salesync.start(browser)
        back = salesync.consent(browser, started.headers["location"])
        clock.advance(timedelta(minutes=11))
        late = browser.get(back)
    assert late.status_code == 400
    assert "expired" in late.text
    assert f'href="/app/{TENANT}/connections/new?provider=qbo"' in late.text
    assert salesync.connections() == []


@qbo_only
def test_a_bookkeeper_cannot_start(salesync: Salesync) -> None:
    """The bookkeeper sees no link, and the form, its sending and the REST route are all
    refused as not allowed."""
    with salesync.browser(BOOKKEEPER) as browser:
        assert "Connect QuickBooks" not in browser.get(f"/app/{TENANT}/connections").text
        assert browser.get(f"/app/{TENANT}/connections/new").status_code == 403
        sent = browser.post(
            f"/app/{TENANT}/connections/new", data={"provider": "qbo", "name": "Mine"}
        )
        assert sent.status_code == 403
    answer = httpx.post(
        f"{salesync.url}/api/v1/tenants/{TENANT}/connections/authorizations",
        json={"provider": "qbo", "name": "Mine"},
        headers={"Authorization": f"Bearer {salesync.key(BOOKKEEPER)}"},
    )
    assert answer.status_code == 403
    assert answer.json()["error"] == "not_allowed"


@qbo_only
def test_another_tenants_owner_cannot_start(salesync: Salesync) -> None:
    """The owner of another tenant finds no such page, and the REST route refuses them."""
    with salesync.browser(OTHER_OWNER) as browser:
        assert browser.get(f"/app/{TENANT}/connections/new").status_code == 404
    answer = httpx.post(
        f"{salesync.url}/api/v1/tenants/{TENANT}/connections/authorizations",
        json={"provider": "qbo", "name": "Mine"},
        headers={"Authorization": f"Bearer {salesync.key(OTHER_OWNER)}"},
    )
    assert answer.status_code == 403
    assert answer.json()["error"] == "wrong_tenant"
    assert salesync.connections() == []


@qbo_only
def test_the_rest_route_gives_a_url_the_signed_in_owner_finishes(salesync: Salesync) -> None:
    """The owner's API key gets an authorize URL; opened where the owner is signed in, the
    sign-in adds the connection."""
    answer = httpx.post(
        f"{salesync.url}/api/v1/tenants/{TENANT}/connections/authorizations",
        json={"provider": "qbo", "name": "API books"},
        headers={"Authorization": f"Bearer {salesync.key(OWNER)}"},
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    assert datetime.fromisoformat(body["expires_at"]) == START + timedelta(minutes=10)
    with salesync.browser(OWNER) as browser:
        done = browser.get(salesync.consent(browser, body["authorize_url"]))
    assert done.status_code == 303, done.text
    assert [r.name for r in salesync.connections()] == ["API books"]


@qbo_only
def test_a_tenant_tokens_sign_in_is_finished_by_a_manager_only(salesync: Salesync) -> None:
    """Started with the tenant's API token, the sign-in is refused to the bookkeeper and
    finished by the admin, who may manage the tenant's connections."""
    with salesync.factory() as session, session.begin():
        secret = ApiTokens(session, TENANT, salesync.clock).issue("tests")[1]

    def authorize() -> str:
        answer = httpx.post(
            f"{salesync.url}/api/v1/tenants/{TENANT}/connections/authorizations",
            json={"provider": "qbo", "name": "Token books"},
            headers={"Authorization": f"Bearer {secret}"},
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["authorize_url"])

    with salesync.browser(BOOKKEEPER) as browser:
        refused = browser.get(salesync.consent(browser, authorize()))
    assert refused.status_code == 403
    assert "may not connect books here" in refused.text
    with salesync.browser(ADMIN) as browser:
        done = browser.get(salesync.consent(browser, authorize()))
    assert done.status_code == 303, done.text
    assert [r.name for r in salesync.connections()] == ["Token books"]


@qbo_only
def test_coming_back_signed_out_signs_in_and_finishes(salesync: Salesync) -> None:
    """A browser whose session ended meanwhile is sent to sign in, and back to finish."""
    answer = httpx.post(
        f"{salesync.url}/api/v1/tenants/{TENANT}/connections/authorizations",
        json={"provider": "qbo", "name": "Later books"},
        headers={"Authorization": f"Bearer {salesync.key(OWNER)}"},
    )
    with salesync.browser() as browser:
        login = browser.get(salesync.consent(browser, answer.json()["authorize_url"]))
        assert login.status_code == 303
        target = parse_qs(urlparse(login.headers["location"]).query)["next"][0]
        assert target.startswith("/oauth/callback?")
        assert sign_in(browser, OWNER, next=target) == 303
        done = browser.get(target)
    assert done.status_code == 303, done.text
    assert [r.name for r in salesync.connections()] == ["Later books"]


@qbo_only
def test_a_name_in_use_is_refused_before_the_provider(salesync: Salesync) -> None:
    """The form answers 409 for a name another connection has, and 422 for no name."""
    with salesync.browser(OWNER) as browser:
        assert salesync.connect(browser).status_code == 303
        taken = salesync.start(browser, name="Harbor books")
        blank = salesync.start(browser, name="  ")
    assert taken.status_code == 409
    assert "exists already" in taken.text
    assert blank.status_code == 422
    assert "Give the connection a name" in blank.text


def test_of_several_xero_organisations_the_one_this_sign_in_connected_is_chosen() -> None:
    """Xero lists every organisation the user connected; the token's authentication event
    picks the ones this sign-in connected, and without it all are listed."""
    claims = base64.urlsafe_b64encode(json.dumps({"authentication_event_id": "ev-2"}).encode())
    token = f"header.{claims.decode().rstrip('=')}.signature"
    listed = [
        {"tenantId": "t-1", "tenantName": "Harbor Old", "authEventId": "ev-1"},
        {"tenantId": "t-2", "tenantName": "Harbor New", "authEventId": "ev-2"},
    ]

    def xero_api(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == f"Bearer {token}"
        return httpx.Response(200, json=listed)

    consent = Consent(
        ManualClock(START),
        Vault([new_key()]),
        clients=lambda _: None,
        public_url="http://salesync.test",
        xero_connections_url="http://xero.test/connections",
    )
    xero_provider = consent.providers["xero"]
    found = {}
    with httpx.Client(transport=httpx.MockTransport(xero_api)) as http:
        for this_sign_in in (True, False):
            found[this_sign_in] = consent.company(
                http,
                xero_provider,
                Grant(token),
                QueryParams(),
                link="/again",
                where="here",
                this_sign_in=this_sign_in,
            )
    assert found[True] == Company(("t-2",), ("Harbor New",))
    assert found[False].ids == ("t-1", "t-2")
