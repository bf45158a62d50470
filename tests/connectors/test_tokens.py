"""The token manager against the Intuit and Xero sandboxes: proactive refresh, one refresh
however many ask, rotations persisted encrypted before use, lost answers recovered, and a
revoked grant that pauses the connection until the merchant reconnects."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.connectors.tokens import RECONNECT, Grant, OAuthRefresher, Refresher, TokenManager
from salesync.domain.documents import Tenant
from salesync.domain.errors import AuthError, TransientError
from salesync.sandbox import qbo, xero
from salesync.sandbox.faults import FaultKind, FaultPlan
from salesync.sandbox.server import serving
from salesync.store.database import make_engine, session_factory
from salesync.store.repositories import Connections, Tenants
from salesync.store.tables import ConnectionRow
from salesync.store.vault import Vault, new_key

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class Provider:
    """A sandbox under uvicorn, its token endpoint, and a count of refreshes it served."""

    name: str
    base: str
    token_url: str
    client_id: str
    client_secret: str
    clock: ManualClock
    faults: FaultPlan
    refreshes: int = 0
    endpoint: OAuthRefresher | None = None

    def refresher(self) -> Refresher:
        if self.endpoint is None:
            self.endpoint = OAuthRefresher(
                self.base + self.token_url, self.client_id, self.client_secret, provider=self.name
            )
        endpoint = self.endpoint

        def counted(grant: Grant, now: datetime) -> Grant:
            self.refreshes += 1
            return endpoint(grant, now)

        return counted

    def close(self) -> None:
        if self.endpoint is not None:
            self.endpoint.close()

    def issue(self) -> Grant:
        body = httpx.post(self.base + "/_sandbox/tokens", json={"client_id": self.client_id})
        tokens = body.json()
        return Grant(
            tokens["access_token"],
            tokens["refresh_token"],
            self.clock() + timedelta(seconds=tokens["expires_in"]),
        )


@pytest.fixture
def intuit() -> Iterator[Provider]:
    clock, faults = ManualClock(START), FaultPlan()
    app = qbo.create_app(qbo.QboCompany(clock=clock), faults=faults)
    with serving(app) as base:
        provider = Provider(
            "qbo",
            base,
            "/oauth2/v1/tokens/bearer",
            qbo.DEFAULT_CLIENT_ID,
            qbo.DEFAULT_CLIENT_SECRET,
            clock,
            faults,
        )
        yield provider
        provider.close()


@pytest.fixture
def xero_identity() -> Iterator[Provider]:
    clock, faults = ManualClock(START), FaultPlan()
    app = xero.create_app(xero.XeroOrganisation(clock=clock), faults=faults)
    with serving(app) as base:
        provider = Provider(
            "xero",
            base,
            "/connect/token",
            xero.DEFAULT_CLIENT_ID,
            xero.DEFAULT_CLIENT_SECRET,
            clock,
            faults,
        )
        yield provider
        provider.close()


@dataclass
class Linked:
    provider: Provider
    manager: TokenManager
    factory: sessionmaker[Session]
    vault: Vault
    connection_id: str

    def another_process(self, engine: Engine) -> TokenManager:
        """A manager on its own engine: what a second worker process would hold."""
        return TokenManager(
            session_factory(engine),
            self.vault,
            self.provider.clock,
            lambda _: self.provider.refresher(),
        )

    def stored(self) -> Grant:
        with self.factory() as session:
            return Grant.of(Connections(session, "t1", self.vault).credentials(self.connection_id))


def link(factory: sessionmaker[Session], provider: Provider) -> Linked:
    vault = Vault([new_key()])
    with factory() as session, session.begin():
        Tenants(session).add(Tenant("t1", "Token merchant"))
        connection_id = Connections(session, "t1", vault).add(
            provider.name, "destination", "Books", provider.issue().into({"realm": "r1"})
        )
    manager = TokenManager(factory, vault, provider.clock, lambda _: provider.refresher())
    return Linked(provider, manager, factory, vault, connection_id)


def test_a_fresh_token_is_used_without_asking_the_provider(
    factory: sessionmaker[Session], intuit: Provider
) -> None:
    """Half an hour into its hour, the access token is handed out as is."""
    linked = link(factory, intuit)
    intuit.clock.advance(timedelta(minutes=30))
    assert linked.manager.access_token("t1", linked.connection_id) == linked.stored().access_token
    assert intuit.refreshes == 0


def test_a_token_about_to_expire_is_refreshed_first(
    factory: sessionmaker[Session], intuit: Provider
) -> None:
    """Within five minutes of expiry the token is refreshed, and the new one is stored."""
    linked = link(factory, intuit)
    old = linked.stored()
    intuit.clock.advance(timedelta(minutes=56))
    token = linked.manager.access_token("t1", linked.connection_id)
    assert token != old.access_token
    assert intuit.refreshes == 1
    stored = linked.stored()
    assert stored.access_token == token
    assert stored.expires_at == intuit.clock() + timedelta(hours=1)


def test_many_workers_asking_at_once_cause_one_refresh(
    factory: sessionmaker[Session], xero_identity: Provider
) -> None:
    """Eight threads over two 'processes' want a token as it expires: one refresh, one
    token, and the rotated refresh token is the one stored."""
    linked = link(factory, xero_identity)
    engine = make_engine(factory.kw["bind"].url.render_as_string(hide_password=False))
    managers = [linked.manager, linked.another_process(engine)]
    xero_identity.clock.advance(timedelta(minutes=29))
    barrier = threading.Barrier(8)
    tokens: list[str] = []

    def ask(n: int) -> None:
        barrier.wait()
        tokens.append(managers[n % 2].access_token("t1", linked.connection_id))

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.dispose()
    assert xero_identity.refreshes == 1
    assert len(set(tokens)) == 1
    assert linked.stored().access_token == tokens[0]


def test_rotated_refresh_tokens_are_stored_encrypted_before_use(
    factory: sessionmaker[Session], xero_identity: Provider
) -> None:
    """Xero rotates the refresh token on every refresh; the stored one is always the
    latest, and neither token appears in the database in clear."""
    linked = link(factory, xero_identity)
    seen = {linked.stored().refresh_token}
    for _ in range(3):
        xero_identity.clock.advance(timedelta(minutes=31))
        linked.manager.access_token("t1", linked.connection_id)
        seen.add(linked.stored().refresh_token)
    assert len(seen) == 4
    grant = linked.stored()
    with factory() as session:
        raw = session.get(ConnectionRow, linked.connection_id)
        assert raw is not None
        assert grant.access_token.encode() not in raw.credentials
        assert str(grant.refresh_token).encode() not in raw.credentials


def test_a_refresh_whose_answer_is_lost_is_retried_with_the_old_token(
    factory: sessionmaker[Session], xero_identity: Provider
) -> None:
    """The provider rotated but the answer never came: nothing is stored, the error is
    transient, and the next refresh with the old token works inside Xero's grace period."""
    linked = link(factory, xero_identity)
    before = linked.stored()
    xero_identity.clock.advance(timedelta(minutes=31))
    xero_identity.faults.arm("token", FaultKind.LOST_RESPONSE)
    with pytest.raises(TransientError):
        linked.manager.access_token("t1", linked.connection_id)
    assert linked.stored() == before
    token = linked.manager.access_token("t1", linked.connection_id)
    assert token != before.access_token
    assert linked.stored().refresh_token != before.refresh_token


def test_a_token_endpoint_outage_changes_nothing(
    factory: sessionmaker[Session], intuit: Provider
) -> None:
    """A 503 from the token endpoint is transient and leaves the stored tokens alone."""
    linked = link(factory, intuit)
    before = linked.stored()
    intuit.clock.advance(timedelta(hours=2))
    intuit.faults.arm("token", FaultKind.SERVER_ERROR)
    with pytest.raises(TransientError):
        linked.manager.access_token("t1", linked.connection_id)
    assert linked.stored() == before
    assert linked.manager.access_token("t1", linked.connection_id) != before.access_token


def test_a_refused_token_someone_already_replaced_is_not_refreshed_again(
    factory: sessionmaker[Session], intuit: Provider
) -> None:
    """A worker whose request got 401 with a token another worker has since replaced
    gets the new token without a second refresh."""
    linked = link(factory, intuit)
    old = linked.stored().access_token
    intuit.clock.advance(timedelta(minutes=58))
    fresh = linked.manager.access_token("t1", linked.connection_id)
    assert linked.manager.refresh("t1", linked.connection_id, stale=old) == fresh
    assert intuit.refreshes == 1


def test_a_revoked_grant_pauses_the_connection_until_reconnected(
    factory: sessionmaker[Session], intuit: Provider
) -> None:
    """invalid_grant pauses the connection with a reconnect link; no more refreshes are
    tried; a reconnect stores the new tokens and resumes it."""
    linked = link(factory, intuit)
    httpx.post(intuit.base + "/_sandbox/disconnect")
    intuit.clock.advance(timedelta(hours=2))
    with pytest.raises(AuthError) as caught:
        linked.manager.access_token("t1", linked.connection_id)
    assert caught.value.code == "reconnect_required"
    assert f"/connections/{linked.connection_id}/reconnect" in caught.value.user_message
    with factory() as session:
        row = session.get(ConnectionRow, linked.connection_id)
        assert row is not None
        assert row.status == RECONNECT
    with pytest.raises(AuthError):
        linked.manager.access_token("t1", linked.connection_id)
    assert intuit.refreshes == 1
    grant = intuit.issue()
    linked.manager.reconnected("t1", linked.connection_id, grant)
    assert linked.manager.access_token("t1", linked.connection_id) == grant.access_token
