"""A simulated Lightspeed R-Series retailer for the connector's tests: two shops trading on
a manual clock, an app with a grant, and the mapping of the shops to salesync locations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from salesync.clock import ManualClock
from salesync.connectors.lightspeed_r import LightspeedRSource
from salesync.connectors.pacing import forget_budgets
from salesync.connectors.source import SourceConnection
from salesync.domain.documents import Location
from salesync.sandbox.lightspeed_r import Bucket, LightspeedAccount, LightspeedActivity, create_app
from salesync.sandbox.transport import InProcessTransport

START = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)
TENANT = "t-lightspeed"
CONNECTION = "conn-lightspeed"
LOCATIONS = (
    Location("harbour", TENANT, "Harbour Street", "America/New_York", "USD"),
    Location("riverside", TENANT, "Riverside", "America/Chicago", "USD"),
)
ROOMY = Bucket(size=1e9, drip_rate=1e6)
"""A bucket tests that are not about the rate limit cannot fill (a manual clock never
drains one by itself)."""


@dataclass
class LightspeedWorld:
    """One retailer's account, its app and grant, and the transport that reaches it."""

    clock: ManualClock
    account: LightspeedAccount
    activity: LightspeedActivity
    client_id: str
    client_secret: str
    grant: dict[str, Any]
    transport: InProcessTransport

    @property
    def shop_ids(self) -> list[str]:
        """The shops in the order they were opened (Harbour Street first)."""
        return [str(s) for s in self.account.data.shops]

    def connection(self, **settings: Any) -> SourceConnection:
        mapping = dict(zip(self.shop_ids, (loc.id for loc in LOCATIONS), strict=True))
        expires = self.clock() + timedelta(seconds=int(self.grant["expires_in"]))
        return SourceConnection(
            tenant_id=TENANT,
            connection_id=CONNECTION,
            name="Lightspeed",
            settings={
                "account_id": self.account.account_id,
                "locations": mapping,
                "currency": "USD",
                **settings,
            },
            credentials={
                "access_token": self.grant["access_token"],
                "refresh_token": self.grant["refresh_token"],
                "expires_at": expires.isoformat(),
                "client_id": self.client_id,
                "client_secret": self.client_secret,
            },
        )

    def source(self) -> LightspeedRSource:
        """A source on the world's clock, whose waits move that clock instead of sleeping."""
        return LightspeedRSource(clock=self.clock, sleep=self.wait)

    def wait(self, seconds: float) -> None:
        self.clock.advance(timedelta(seconds=seconds))

    def trade(self, until: datetime) -> None:
        """Let the shops trade until ``until``; the app then holds a current grant."""
        self.activity.run_until(until, self.clock)
        self.grant = self.account.credentials.issue(self.client_id)


@contextmanager
def lightspeed_world(*, seed: int = 7, bucket: Bucket = ROOMY) -> Iterator[LightspeedWorld]:
    """An account set up at ``START`` with its shops, catalog and customers, before trading."""
    forget_budgets()
    clock = ManualClock(START)
    account = LightspeedAccount(clock=clock, bucket=bucket)
    app = account.credentials.register_app()
    activity = LightspeedActivity(account, seed)
    activity.setup()
    world = LightspeedWorld(
        clock=clock,
        account=account,
        activity=activity,
        client_id=app.client_id,
        client_secret=app.client_secret,
        grant=account.credentials.issue(app.client_id),
        transport=InProcessTransport(create_app(account)),
    )
    try:
        yield world
    finally:
        world.transport.shutdown()
        forget_budgets()


def without(connection: SourceConnection, *settings: str) -> SourceConnection:
    kept = {k: v for k, v in connection.settings.items() if k not in settings}
    return replace(connection, settings=kept)
