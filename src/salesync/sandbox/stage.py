"""A stage where salesync meets its providers over HTTP: a tenant, a simulated Shopify store
and Square seller with their activity generators, salesync's connections to them, and
salesync's webhook ingress served under uvicorn.

Every party shares one manual clock: moving it is how the shops trade, payouts are issued
and sync windows open, without waiting for real time. The stage plays the merchant and
the providers: it connects both accounts (OAuth and webhook subscriptions through the
providers' own APIs, credentials kept in salesync's vault), backfills their history with
the connections' clients, lets the shops trade, has the sandboxes POST their signed
webhooks to the ingress (losing or repeating some when asked), and runs salesync's
reconciliation sweeps. ``salesync demo`` and the end-to-end tests both play on it.

The sandboxes are served under uvicorn too, each on a free loopback port, so salesync's
connectors reach them, and they reach salesync's ingress, over real sockets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Self

import httpx
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from salesync.api import create_app
from salesync.clock import ManualClock
from salesync.connectors.registry import SourceRegistry
from salesync.connectors.shopify import ShopifySource
from salesync.connectors.shopify.client import ShopifyClient
from salesync.connectors.source import SourceConnection
from salesync.connectors.square import SquareSource
from salesync.domain.documents import Location, Tenant
from salesync.domain.errors import BugError
from salesync.engine.backfill import BackfillProgress, Backfills
from salesync.engine.inbox import RecordState
from salesync.engine.outbox import PostingState
from salesync.engine.runner import Engine
from salesync.engine.sweep import Sweeper, SweepReport
from salesync.sandbox import shopify as shopify_sandbox
from salesync.sandbox import square as square_sandbox
from salesync.sandbox.server import serving
from salesync.sandbox.square.notify import EVENT_TYPES
from salesync.store.repositories import Connections, Locations, Tenants
from salesync.store.tables import InboxRecordRow, PostingRow, QueuedDocumentRow, SourceCursorRow
from salesync.store.vault import Vault

PROVIDERS = ("shopify", "square")


@dataclass(frozen=True, slots=True)
class Cast:
    """The merchant on stage, and where each provider location's sales are booked."""

    tenant: Tenant
    locations: tuple[Location, ...]
    shopify_locations: Mapping[str, str]
    """Shopify location names (the store has Warehouse, Downtown and Airport) to salesync
    location ids, for point-of-sale orders."""
    shopify_default: str
    """The salesync location of Shopify's online orders and payouts."""
    square_locations: Mapping[str, str]
    """Square location names (Mission Street Café, Oakland Kiosk) to salesync location ids."""


@dataclass(slots=True)
class Tally:
    """What one connection brought salesync while on stage."""

    attempts: list[dict[str, Any]] = field(default_factory=list)
    """Every webhook POST the sandbox made to the ingress, as its admin API reported it."""
    swept: int = 0
    """Records the sweeps read that salesync had not stored before."""
    backfill: BackfillProgress | None = None

    @property
    def received(self) -> int:
        """Deliveries the ingress acknowledged."""
        return sum(1 for a in self.attempts if a["status"] is not None and a["status"] < 300)


def clocked_sources(clock: ManualClock) -> SourceRegistry:
    """Salesync's Shopify and Square sources, waiting out rate limits by moving ``clock``."""

    def sleep(seconds: float) -> None:
        clock.advance(timedelta(seconds=seconds))

    registry = SourceRegistry(points=[])
    registry.add(ShopifySource(sleep=sleep, monotonic=lambda: clock().timestamp()))
    registry.add(SquareSource(sleep=sleep))
    return registry


def _ok(response: httpx.Response, what: str) -> Any:
    """The JSON of a sandbox's answer; a refusal means the stage itself is wrong."""
    if response.status_code != 200:
        raise BugError(f"{what}: the sandbox answered {response.status_code}: {response.text}")
    return response.json()


class Stage:
    """The running world; ``Stage.open`` builds it and tears it down."""

    def __init__(
        self,
        cast: Cast,
        *,
        clock: ManualClock,
        factory: sessionmaker[Session],
        vault: Vault,
        registry: SourceRegistry,
        engine: Engine,
        store: shopify_sandbox.ShopifyStore,
        seller: square_sandbox.SquareSeller,
        shopify: httpx.Client,
        square: httpx.Client,
        api: httpx.Client,
        seed: int,
    ) -> None:
        self.cast = cast
        self.tenant = cast.tenant.id
        self.clock = clock
        self.factory = factory
        self.vault = vault
        self.registry = registry
        self.engine = engine
        self.store = store
        self.seller = seller
        self.shopify = shopify
        self.square = square
        self.api = api
        self.seed = seed
        self.shopify_id = ""
        self.square_id = ""
        self.shopify_secret = ""
        self.square_key = ""
        self.tallies = {provider: Tally() for provider in PROVIDERS}

    @classmethod
    @contextmanager
    def open(
        cls,
        cast: Cast,
        factory: sessionmaker[Session],
        clock: ManualClock,
        vault: Vault,
        *,
        registry: SourceRegistry | None = None,
        engine: Engine | None = None,
        seed: int = 7,
    ) -> Iterator[Self]:
        """Fresh sandboxes and salesync's ingress, running until the block ends.

        ``registry`` must be the one ``engine`` reads with (``clocked_sources`` by
        default); ``seed`` drives both activity generators.
        """
        store = shopify_sandbox.ShopifyStore(clock=clock, plan="enterprise")
        # A manual clock never drains a bucket by itself: a limit the sweeps cannot fill.
        limit = square_sandbox.RateLimit(1e9, 1e6)
        seller = square_sandbox.SquareSeller(clock=clock, rate_limit=limit)
        registry = registry or clocked_sources(clock)
        engine = engine or Engine(factory, clock, registry=registry)
        ingress = create_app(factory, clock, vault, registry=registry, engine=engine)
        with ExitStack() as stack:
            shopify_url = stack.enter_context(serving(shopify_sandbox.create_app(store)))
            square_url = stack.enter_context(serving(square_sandbox.create_app(seller)))
            api_url = stack.enter_context(serving(ingress))
            yield cls(
                cast,
                clock=clock,
                factory=factory,
                vault=vault,
                registry=registry,
                engine=engine,
                store=store,
                seller=seller,
                shopify=stack.enter_context(httpx.Client(base_url=shopify_url)),
                square=stack.enter_context(httpx.Client(base_url=square_url)),
                api=stack.enter_context(httpx.Client(base_url=api_url)),
                seed=seed,
            )

    # -- salesync's side -----------------------------------------------------------------

    def hook_url(self, connection_id: str) -> str:
        """The URL a provider POSTs the connection's webhooks to."""
        return f"{str(self.api.base_url).rstrip('/')}/webhooks/{connection_id}"

    def connections(self) -> dict[str, str]:
        """The connection id of each provider connected so far."""
        found = {"shopify": self.shopify_id, "square": self.square_id}
        return {provider: connection for provider, connection in found.items() if connection}

    def opened(self, connection_id: str) -> SourceConnection:
        with self.factory() as session:
            return Connections(session, self.tenant, self.vault).opened(connection_id)

    def sweeper(self) -> Sweeper:
        return Sweeper(self.factory, self.clock, self.vault, registry=self.registry)

    def everything_posted(self) -> bool:
        """Nothing waits in the inbox, the queue or the outbox."""
        tenant = self.tenant
        waiting = (
            select(InboxRecordRow.id).where(
                InboxRecordRow.tenant_id == tenant,
                InboxRecordRow.state == RecordState.RECEIVED.value,
            ),
            select(QueuedDocumentRow.document_id).where(
                QueuedDocumentRow.tenant_id == tenant, QueuedDocumentRow.planned.is_(False)
            ),
            select(PostingRow.id).where(
                PostingRow.tenant_id == tenant, PostingRow.state != PostingState.POSTED.value
            ),
        )
        with self.factory() as session:
            return all(session.scalar(query.limit(1)) is None for query in waiting)

    # -- the merchant --------------------------------------------------------------------

    def set_up(self) -> None:
        """The tenant and its locations, unless salesync knows them already."""
        with self.factory() as session, session.begin():
            if Tenants(session).get(self.tenant) is None:
                Tenants(session).add(self.cast.tenant)
            locations = Locations(session, self.tenant)
            for location in self.cast.locations:
                if locations.get(location.id) is None:
                    locations.add(location)

    def _keep(self, provider: str, credentials: dict[str, Any], settings: dict[str, Any]) -> str:
        """Add the provider's connection, or connect the one already there again: the
        same account, so records it brought before are recognised when they come again."""
        name = f"{self.cast.tenant.name} {provider.capitalize()}"
        with self.factory() as session, session.begin():
            connections = Connections(session, self.tenant, self.vault)
            known = [
                c.id
                for c in connections.all()
                if (c.provider, c.role, c.name) == (provider, "source", name)
            ]
            if not known:
                return connections.add(provider, "source", name, credentials, settings)
            connections.replace_credentials(known[0], credentials)
            connections.update_settings(known[0], **settings)
            # The account starts afresh, so where the sweeps had got to means nothing in it.
            session.execute(
                delete(SourceCursorRow).where(SourceCursorRow.connection_id == known[0])
            )
            return known[0]

    def connect_shopify(self) -> str:
        """Install salesync's app by OAuth, keep the connection, map the store's locations
        and subscribe salesync's webhook URL to every topic, all through the store's API."""
        app = _ok(self.shopify.post("/_sandbox/apps", json={}), "registering an app")
        code = _ok(self.shopify.post(f"/_sandbox/apps/{app['client_id']}/code"), "consent")
        grant = _ok(
            self.shopify.post(
                "/admin/oauth/access_token",
                data={
                    "client_id": app["client_id"],
                    "client_secret": app["client_secret"],
                    "code": code["code"],
                },
            ),
            "the OAuth token exchange",
        )
        self.shopify_secret = app["client_secret"]
        self.shopify_id = self._keep(
            "shopify",
            {"access_token": grant["access_token"], "client_secret": app["client_secret"]},
            {
                "shop": self.store.domain,
                "currency": self.store.currency,
                "admin_url": str(self.shopify.base_url).rstrip("/"),
            },
        )
        client = self.sweeper().client(self.tenant, self.shopify_id)
        if not isinstance(client, ShopifyClient):
            raise BugError(f"the shopify source opened a {type(client).__name__}")
        try:
            ids = {location.name: location.id for location in client.locations()}
            with self.factory() as session, session.begin():
                Connections(session, self.tenant, self.vault).update_settings(
                    self.shopify_id,
                    locations={ids[name]: at for name, at in self.cast.shopify_locations.items()},
                    default_location=self.cast.shopify_default,
                )
            client.subscribe(self.hook_url(self.shopify_id))
        finally:
            client.close()
        return self.shopify_id

    def connect_square(self, sweep_since: datetime) -> str:
        """Authorize salesync's app by OAuth, keep the connection with the seller's
        locations mapped, and subscribe salesync's webhook URL through Square's Webhook
        Subscriptions API, keeping its signature key. The first sweep starts at
        ``sweep_since``; what is older is for a backfill."""
        app = _ok(self.square.post("/_sandbox/apps", json={}), "registering an app")
        code = _ok(self.square.post(f"/_sandbox/apps/{app['client_id']}/code", json={}), "consent")
        grant = _ok(
            self.square.post(
                "/oauth2/token",
                json={
                    "client_id": app["client_id"],
                    "client_secret": app["client_secret"],
                    "grant_type": "authorization_code",
                    "code": code["code"],
                },
            ),
            "the OAuth token exchange",
        )
        token = grant["access_token"]
        bearer = {"Authorization": f"Bearer {token}"}
        listed = _ok(self.square.get("/v2/locations", headers=bearer), "listing locations")
        ids = {location["name"]: location["id"] for location in listed["locations"]}
        settings = {
            "base_url": str(self.square.base_url).rstrip("/"),
            "merchant_id": self.seller.merchant_id,
            "locations": {ids[name]: at for name, at in self.cast.square_locations.items()},
            "sweep_since": sweep_since.isoformat(),
        }
        self.square_id = self._keep("square", {"access_token": token}, settings)
        made = _ok(
            self.square.post(
                "/v2/webhooks/subscriptions",
                headers=bearer,
                json={
                    "idempotency_key": "salesync-subscription",
                    "subscription": {
                        "name": "salesync",
                        "notification_url": self.hook_url(self.square_id),
                        "event_types": list(EVENT_TYPES),
                    },
                },
            ),
            "subscribing to webhooks",
        )
        self.square_key = made["subscription"]["signature_key"]
        with self.factory() as session, session.begin():
            Connections(session, self.tenant, self.vault).replace_credentials(
                self.square_id, {"access_token": token, "webhook_signature_key": self.square_key}
            )
        return self.square_id

    def backfill(
        self,
        first: date,
        last: date,
        *,
        window_days: int = 30,
        progress: Callable[[str, BackfillProgress], None] | None = None,
    ) -> None:
        """Each connection's history of ``first..last`` by windows, each window taken in
        and posted as it lands, the way ``salesync backfill --connection`` runs it."""
        backfills = Backfills(self.factory, self.clock)
        for provider, connection_id in self.connections().items():

            def landed(done: BackfillProgress, provider: str = provider) -> None:
                self.engine.tick(self.tenant)
                if progress is not None:
                    progress(provider, done)

            job = backfills.start(
                self.tenant, provider, first, last, window_days, connection_id=connection_id
            )
            client = self.sweeper().client(self.tenant, connection_id)
            try:
                self.tallies[provider].backfill = backfills.run(job, client, after_window=landed)
            finally:
                client.close()
        self.engine.run_until_idle(self.tenant)

    def sweep(self) -> dict[str, SweepReport]:
        """Salesync's reconciliation sweep of each of the stage's connections, by provider
        (the tenant's other connections, such as a POS file import, are not the stage's)."""
        sweeper = self.sweeper()
        out: dict[str, SweepReport] = {}
        for provider, connection_id in self.connections().items():
            report = sweeper.sweep(self.tenant, connection_id)
            self.tallies[provider].swept += report.records
            out[provider] = report
        return out

    # -- the providers -------------------------------------------------------------------

    def sandbox(self, provider: str) -> httpx.Client:
        return {"shopify": self.shopify, "square": self.square}[provider]

    def run_shop(self, provider: str, seconds: float) -> int:
        """The provider's shop trades for ``seconds`` of the clock; returns its steps."""
        done = self.sandbox(provider).post(
            "/_sandbox/activity", json={"advance_seconds": seconds, "seed": self.seed}
        )
        steps: int = _ok(done, f"{provider} activity")["steps"]
        return steps

    def deliver(self) -> None:
        """Both sandboxes POST the webhooks that are due to salesync."""
        for provider in PROVIDERS:
            sent = _ok(self.sandbox(provider).post("/_sandbox/webhooks/deliver"), "delivery")
            self.tallies[provider].attempts.extend(sent)

    def trade(self, seconds: float) -> None:
        """Both shops trade for ``seconds`` of the clock, one after the other, then send
        their webhooks."""
        for provider in PROVIDERS:
            self.run_shop(provider, seconds)
        self.deliver()

    def return_payout(self, made_before: datetime) -> dict[str, Any] | None:
        """Square's bank returns the newest payout made before ``made_before`` (it turns
        ``FAILED``, and the location's next payout pays its money out again); the payout,
        or None when there is none to return."""
        answer = self.square.post(
            "/_sandbox/payouts/fail", json={"made_before": made_before.isoformat()}
        )
        if answer.status_code == 404:
            return None
        payout: dict[str, Any] = _ok(answer, "returning a payout")["payout"]
        return payout

    def misbehave(self, provider: str, *, drop_next: int = 0, duplicate_next: int = 0) -> None:
        """Arm the provider's sandbox to lose or repeat its next webhook messages."""
        armed = self.sandbox(provider).post(
            "/_sandbox/webhooks/chaos",
            json={"drop_next": drop_next, "duplicate_next": duplicate_next},
        )
        _ok(armed, f"{provider} chaos")
