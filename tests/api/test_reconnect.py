"""The merchant's reconnect: from the link in salesync's e-mail, through the provider's
consent screen, back to salesync with new tokens and the held postings on their way.

Everything talks HTTP: salesync's API and the QuickBooks Online or Xero sandbox each run
under uvicorn, and a browser-like client follows the redirects between them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.api import create_app
from salesync.api.reconnect import OAuthApp, Reconnect
from salesync.clock import ManualClock
from salesync.connectors.destination import Destination
from salesync.connectors.pacing import forget_budgets
from salesync.connectors.qbo import QboDestination
from salesync.connectors.registry import DestinationRegistry
from salesync.connectors.tokens import ACTIVE, RECONNECT, Grant, OAuthRefresher, TokenManager
from salesync.connectors.xero import XeroDestination
from salesync.domain.documents import Payout
from salesync.domain.planning import plan_per_order
from salesync.domain.simulate import SalesSimulator, demo_merchant
from salesync.engine.destinations import DestinationBooks
from salesync.engine.incidents import IncidentLog
from salesync.engine.outbox import Outbox, PostingState
from salesync.engine.sender import Sender
from salesync.sandbox import qbo, xero
from salesync.sandbox.server import free_port, serving
from salesync.store.documents import Documents
from salesync.store.repositories import Connections, Locations, Tenants
from salesync.store.tables import ConnectionRow, TicketEventRow, TicketRow
from salesync.store.vault import Vault, new_key

MERCHANT = demo_merchant("harbor", orders_per_day=6)
TENANT = MERCHANT.tenant.id
BROOKLYN = MERCHANT.locations[0]
START = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
QBO_SCOPE = "com.intuit.quickbooks.accounting"
XERO_SCOPE = "offline_access accounting.transactions accounting.settings accounting.contacts"
XERO_POSTED = ("Invoices", "CreditNotes", "ManualJournals", "BankTransactions")
QBO_POSTED = ("SalesReceipt", "RefundReceipt", "Invoice", "JournalEntry", "Deposit")


@dataclass
class Provider:
    """One provider's sandbox under uvicorn, holding the books of the connection."""

    name: str
    url: str
    authority: Any
    company_id: str
    settings: dict[str, Any]
    exchange_path: str
    """The token endpoint, where codes and refresh tokens are exchanged."""
    authorize_path: str
    client: tuple[str, str]
    destination: Destination
    written: Callable[[], int]
    """How many transactions salesync wrote into the books."""

    def app(self) -> OAuthApp:
        return OAuthApp(self.url + self.exchange_path, *self.client)

    def issue(self, clock: ManualClock) -> Grant:
        issued = self.authority.issue_tokens(self.client[0], self.company_id)
        return Grant(
            issued.access_token,
            issued.refresh_token,
            clock() + timedelta(seconds=issued.expires_in),
        )


@contextmanager
def qbo_books(clock: ManualClock) -> Iterator[Provider]:
    company = qbo.QboCompany(clock=clock)
    app = qbo.create_app(company)
    with serving(app) as url:
        yield Provider(
            name="qbo",
            url=url,
            authority=app.state.sandbox.authority,
            company_id=company.realm_id,
            settings={
                "realm_id": company.realm_id,
                "base_url": url,
                "accounts": {
                    "Assets:Bank": "35",
                    "Liabilities:Tips-Payable": "Tips Payable",
                    "Expenses:Payment-Fees": "Merchant Fees",
                },
            },
            exchange_path="/oauth2/v1/tokens/bearer",
            authorize_path="/connect/oauth2",
            client=(qbo.DEFAULT_CLIENT_ID, qbo.DEFAULT_CLIENT_SECRET),
            destination=QboDestination(
                clock=lambda: clock().timestamp(),
                sleep=lambda seconds: clock.advance(timedelta(seconds=seconds)),
            ),
            written=lambda: sum(
                1
                for form in QBO_POSTED
                for txn in company.all(form)
                if "salesync key: " in str(txn.get("PrivateNote", ""))
            ),
        )


@contextmanager
def xero_books(clock: ManualClock) -> Iterator[Provider]:
    org = xero.XeroOrganisation(
        tenant_id=str(uuid.uuid4()),
        name="Harbor Goods",
        base_currency="USD",
        country_code="US",
        clock=clock,
    )
    app = xero.create_app(org)
    with serving(app) as url:
        yield Provider(
            name="xero",
            url=url,
            authority=app.state.sandbox.authority,
            company_id=org.tenant_id,
            settings={
                "tenant_id": org.tenant_id,
                "base_url": url,
                "account_policy": "create",
                "tracking_category": "Store",
                "tracking": {"brooklyn": "Downtown"},
            },
            exchange_path="/connect/token",
            authorize_path="/identity/connect/authorize",
            client=(xero.DEFAULT_CLIENT_ID, xero.DEFAULT_CLIENT_SECRET),
            destination=XeroDestination(
                clock=lambda: clock().timestamp(),
                sleep=lambda seconds: clock.advance(timedelta(seconds=seconds)),
            ),
            written=lambda: sum(
                1
                for collection in XERO_POSTED
                for obj in org.all(collection)
                if obj.get("Status") not in ("DELETED", "VOIDED")
            ),
        )


@dataclass
class Merchant:
    """salesync under uvicorn with one paused-able destination connection of the tenant,
    and a browser that follows the merchant's links."""

    factory: sessionmaker[Session]
    clock: ManualClock
    vault: Vault
    provider: Provider
    connection_id: str
    sender: Sender
    url: str
    browser: httpx.Client

    def pause(self, count: int = 3) -> None:
        """Postings wait to be sent; the provider revokes the grant; a send pauses the
        connection and holds them."""
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
                    destination=self.connection_id,
                    key=planned.key,
                    mode=planned.mode.value,
                    location_id=BROOKLYN.id,
                    entry=planned.entry,
                    documents=(document.id,),
                    now=self.clock(),
                )
        self.provider.authority.revoke_subject(self.provider.company_id)
        report = self.sender.send_due()
        assert report.held == count, report
        assert self.status() == RECONNECT

    def status(self) -> str:
        with self.factory() as session:
            row = session.get(ConnectionRow, self.connection_id)
            assert row is not None
            return row.status

    def grant(self) -> Grant:
        with self.factory() as session:
            return Grant.of(
                Connections(session, TENANT, self.vault).credentials(self.connection_id)
            )

    def states(self) -> dict[str, int]:
        with self.factory() as session:
            return Outbox(session, TENANT).counts()

    def link(self) -> str:
        return f"{self.url}/connections/{self.connection_id}/reconnect"

    def consent(self) -> httpx.Response:
        """Open the reconnect link and answer the provider's consent screen; the answer
        is the redirect back to salesync, not yet followed."""
        to_provider = self.browser.get(self.link())
        assert to_provider.status_code == 302, to_provider.text
        back = self.browser.get(to_provider.headers["location"])
        assert back.status_code == 302, back.text
        return back

    def ticket_events(self) -> list[TicketEventRow]:
        with self.factory() as session:
            return list(
                session.scalars(
                    select(TicketEventRow)
                    .join(TicketRow, TicketRow.id == TicketEventRow.ticket_id)
                    .where(TicketRow.connection_id == self.connection_id)
                    .order_by(TicketEventRow.id)
                )
            )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture(params=["qbo", "xero"])
def provider(request: pytest.FixtureRequest, clock: ManualClock) -> Iterator[Provider]:
    forget_budgets()
    books = qbo_books if request.param == "qbo" else xero_books
    with books(clock) as served:
        yield served
    forget_budgets()


@pytest.fixture
def merchant(
    factory: sessionmaker[Session], clock: ManualClock, provider: Provider
) -> Iterator[Merchant]:
    vault = Vault([new_key()])
    with factory() as session, session.begin():
        Tenants(session).add(MERCHANT.tenant)
        Locations(session, TENANT).add(BROOKLYN)
        connection_id = Connections(session, TENANT, vault).add(
            provider.name,
            "destination",
            f"{provider.name} books",
            provider.issue(clock).into({}),
            provider.settings,
        )
    app = provider.app()
    refresher = OAuthRefresher(app.token_url, app.client_id, app.client_secret)
    tokens = TokenManager(factory, vault, clock, lambda _: refresher)
    registry = DestinationRegistry(points=[])
    registry.add(provider.destination)
    books = DestinationBooks(factory, vault, clock, registry=registry, tokens=tokens)
    sender = Sender(factory, books, clock, incidents=IncidentLog(clock, vault=vault))
    port = free_port()
    reconnect = Reconnect(
        factory,
        clock,
        vault,
        tokens,
        clients=lambda name: app if name == provider.name else None,
        public_url=f"http://127.0.0.1:{port}",
        qbo_authorize_url=provider.url + "/connect/oauth2",
        xero_authorize_url=provider.url + "/identity/connect/authorize",
        xero_connections_url=provider.url + "/connections",
    )
    api = create_app(factory, clock, vault, reconnect=reconnect)
    with serving(api, port=port) as url, httpx.Client(timeout=10) as browser:
        yield Merchant(factory, clock, vault, provider, connection_id, sender, url, browser)
    refresher.close()


def test_reconnecting_resumes_the_connection_and_posts_the_held_postings_once(
    merchant: Merchant, provider: Provider
) -> None:
    """After a revoked grant, the link leads through consent back to salesync: new tokens,
    the connection active, its held postings posted exactly once, the ticket told."""
    merchant.pause()
    before = merchant.grant()
    assert merchant.states() == {PostingState.HELD.value: 3}
    assert provider.written() == 0

    to_provider = merchant.browser.get(merchant.link())
    assert to_provider.status_code == 302
    location = urlparse(to_provider.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == (
        provider.url + provider.authorize_path
    )
    asked = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert asked["client_id"] == provider.client[0]
    assert asked["redirect_uri"] == f"{merchant.url}/oauth/callback"
    assert asked["response_type"] == "code"
    assert asked["scope"] == (QBO_SCOPE if provider.name == "qbo" else XERO_SCOPE)
    assert TENANT not in asked["state"], "the state is sealed, not readable"

    back = merchant.browser.get(to_provider.headers["location"])
    assert back.status_code == 302
    assert back.headers["location"].startswith(f"{merchant.url}/oauth/callback?")
    done = merchant.browser.get(back.headers["location"])
    assert done.status_code == 200, done.text
    assert "connected again" in done.text
    assert "3 postings" in done.text

    assert merchant.status() == ACTIVE
    after = merchant.grant()
    assert after.access_token != before.access_token
    assert after.refresh_token not in (None, before.refresh_token)
    assert merchant.states() == {PostingState.PENDING.value: 3}
    events = [e for e in merchant.ticket_events() if e.event == "reconnected"]
    assert len(events) == 1
    assert events[0].actor == "merchant"
    assert events[0].data == {"connection": merchant.connection_id, "released": 3}

    report = merchant.sender.send_due()
    assert report.posted == 3, report.errors
    assert merchant.states() == {PostingState.POSTED.value: 3}
    assert provider.written() == 3
    merchant.sender.send_due()
    assert provider.written() == 3


def test_the_same_answer_cannot_be_used_twice(merchant: Merchant) -> None:
    """The callback's link, replayed after it completed, is refused and changes nothing."""
    merchant.pause(1)
    back = merchant.consent()
    assert merchant.browser.get(back.headers["location"]).status_code == 200
    stored = merchant.grant()
    again = merchant.browser.get(back.headers["location"])
    assert again.status_code == 400
    assert merchant.grant() == stored


def test_a_forged_state_is_refused(merchant: Merchant) -> None:
    """A state salesync did not seal gets a page saying to start again from the link."""
    merchant.pause(1)
    merchant.browser.get(merchant.link())  # the browser holds a nonce
    forged = merchant.browser.get(
        f"{merchant.url}/oauth/callback", params={"code": "abc", "state": "not-a-state"}
    )
    assert forged.status_code == 400
    assert "Start again from the reconnect link" in forged.text
    assert merchant.status() == RECONNECT


def test_a_state_from_another_browser_is_refused(merchant: Merchant) -> None:
    """An answer carried to a browser that did not start the sign-in cannot finish it."""
    merchant.pause(1)
    back = merchant.consent()
    with httpx.Client(timeout=10) as other:
        answer = other.get(back.headers["location"])
    assert answer.status_code == 400
    assert merchant.status() == RECONNECT


def test_an_expired_state_is_refused(merchant: Merchant, clock: ManualClock) -> None:
    """An answer arriving more than ten minutes after the link was opened is refused."""
    merchant.pause(1)
    back = merchant.consent()
    clock.advance(timedelta(minutes=11))
    late = merchant.browser.get(back.headers["location"])
    assert late.status_code == 400
    assert "ten minutes" in late.text
    assert merchant.status() == RECONNECT
    assert merchant.states() == {PostingState.HELD.value: 1}


def test_declined_consent_changes_nothing(merchant: Merchant, provider: Provider) -> None:
    """The merchant says no on the consent screen: a page says nothing changed, and the
    connection stays paused with its postings held."""
    merchant.pause(1)
    before = merchant.grant()
    httpx.post(f"{provider.url}/_sandbox/consent", json={"decline_next": 1}).raise_for_status()
    back = merchant.consent()
    assert parse_qs(urlparse(back.headers["location"]).query)["error"] == ["access_denied"]
    page = merchant.browser.get(back.headers["location"])
    assert page.status_code == 200
    assert "Nothing changed" in page.text
    assert merchant.status() == RECONNECT
    assert merchant.grant() == before
    assert merchant.states() == {PostingState.HELD.value: 1}


def test_a_different_company_is_refused(merchant: Merchant) -> None:
    """Signing in to another company than the connection posts into is refused with the
    reason; the tokens are not kept and the postings stay held."""
    merchant.pause(1)
    before = merchant.grant()
    key = "realm_id" if merchant.provider.name == "qbo" else "tenant_id"
    with merchant.factory() as session, session.begin():
        Connections(session, TENANT, merchant.vault).update_settings(
            merchant.connection_id, **{key: "the-company-the-connection-was-for"}
        )
    back = merchant.consent()
    page = merchant.browser.get(back.headers["location"])
    assert page.status_code == 409
    assert "different company" in page.text
    assert "wrong books" in page.text
    assert merchant.status() == RECONNECT
    assert merchant.grant() == before
    assert merchant.states() == {PostingState.HELD.value: 1}


def test_an_unknown_connection_is_a_plain_404_page(merchant: Merchant) -> None:
    """A link to no connection answers 404 with a page in plain words."""
    missing = merchant.browser.get(f"{merchant.url}/connections/{uuid.uuid4()}/reconnect")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "no connection behind this link" in missing.text


def test_a_provider_without_an_app_names_the_settings_to_set(
    factory: sessionmaker[Session], clock: ManualClock, merchant: Merchant
) -> None:
    """Without the provider's OAuth app configured, the page names the settings."""
    port = free_port()
    tokens = TokenManager(factory, merchant.vault, clock, lambda _: pytest.fail("no refresh"))
    reconnect = Reconnect(
        factory,
        clock,
        merchant.vault,
        tokens,
        clients=lambda _: None,
        public_url=f"http://127.0.0.1:{port}",
    )
    api = create_app(factory, clock, merchant.vault, reconnect=reconnect)
    with serving(api, port=port) as url:
        answer = httpx.get(f"{url}/connections/{merchant.connection_id}/reconnect")
    name = merchant.provider.name.upper()
    assert answer.status_code == 503
    assert f"SALESYNC_{name}_CLIENT_ID" in answer.text
    assert f"SALESYNC_{name}_CLIENT_SECRET" in answer.text
