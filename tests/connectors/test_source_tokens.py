"""Sources' expiring tokens through the commands that read them: ``salesync sweep``,
``sync now`` and ``backfill --connection`` renew an expired access token at the
connection's own token endpoint, store the rotated refresh token before using it, and a
refused refresh pauses the connection for reconnecting with an incident."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from clover_harness import LOCATIONS as CLOVER_LOCATIONS
from clover_harness import TENANT as CLOVER_TENANT
from clover_harness import clover_world
from lightspeed_r_harness import LOCATIONS as R_LOCATIONS
from lightspeed_r_harness import TENANT as R_TENANT
from lightspeed_r_harness import lightspeed_world as lightspeed_r_world
from lightspeed_x_harness import LOCATIONS, TENANT, LightspeedWorld, lightspeed_world
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from square_harness import LOCATIONS as SQUARE_LOCATIONS
from square_harness import TENANT as SQUARE_TENANT
from square_harness import square_world
from typer.testing import CliRunner

from salesync.cli.app import app
from salesync.config import Settings, load_settings
from salesync.connectors.tokens import RECONNECT, Grant, TokenManager
from salesync.domain.documents import Location, Tenant
from salesync.engine import wiring
from salesync.engine.sweep import Sweeper
from salesync.sandbox.clover import create_app as clover_app
from salesync.sandbox.lightspeed_x import create_app as lightspeed_app
from salesync.sandbox.oauth import OAuthError
from salesync.sandbox.server import serving
from salesync.store.database import make_engine, migrate, session_factory
from salesync.store.repositories import Connections, Locations, Tenants
from salesync.store.tables import ConnectionRow, IncidentRow
from salesync.store.vault import Vault

NAME = "Kowhai Lightspeed"
NOW = timedelta(0)


@pytest.fixture
def home(cli_home: Path) -> Iterator[sessionmaker[Session]]:
    """The configured (SQLite) database of the command line, migrated."""
    engine = make_engine(load_settings().database)
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()


def add_connection(
    factory: sessionmaker[Session],
    vault: Vault,
    tenant: str,
    locations: tuple[Location, ...],
    provider: str,
    name: str,
    credentials: dict[str, Any],
    settings: dict[str, Any],
) -> str:
    with factory() as session, session.begin():
        if Tenants(session).get(tenant) is None:
            Tenants(session).add(Tenant(tenant, "Token merchant"))
            for location in locations:
                Locations(session, tenant).add(location)
        return Connections(session, tenant, vault).add(
            provider, "source", name, credentials, settings
        )


def stored(factory: sessionmaker[Session], vault: Vault, tenant: str, connection: str) -> Any:
    with factory() as session:
        return Connections(session, tenant, vault).credentials(connection)


@pytest.fixture
def retailer() -> Iterator[LightspeedWorld]:
    """An X-Series retailer that traded a day, its add-on's tokens long expired."""
    with lightspeed_world(seed=5) as world:
        world.trade(days=1)
        yield world


@pytest.fixture
def served(
    retailer: LightspeedWorld, home: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The retailer on a real port, its connection stored with an expired access token,
    and the add-on's client id and secret in salesync's settings."""
    monkeypatch.setenv("SALESYNC_LIGHTSPEED_X_CLIENT_ID", retailer.app.client_id)
    monkeypatch.setenv("SALESYNC_LIGHTSPEED_X_CLIENT_SECRET", retailer.app.client_secret)
    with serving(lightspeed_app(retailer.retailer), log_level="critical") as url:
        connection = retailer.connection(base_url=url)
        expired = Grant(retailer.access_token, retailer.refresh_token).into(
            {"client_secret": retailer.app.client_secret}
        ) | {"expires_at": "2020-01-01T00:00:00+00:00"}
        add_connection(
            home,
            load_settings().vault(),
            TENANT,
            LOCATIONS,
            "lightspeed_x",
            NAME,
            expired,
            dict(connection.settings),
        )
        yield url


def the_connection(factory: sessionmaker[Session]) -> ConnectionRow:
    with factory() as session:
        row = session.scalars(select(ConnectionRow).where(ConnectionRow.name == NAME)).one()
        session.expunge(row)
        return row


COMMANDS = {
    "sweep": ["sweep", "--tenant", TENANT, "--connection", NAME],
    "sync now": ["sync", "now", "--tenant", TENANT, "--connection", NAME],
    "backfill": [
        "backfill",
        "--tenant",
        TENANT,
        "--connection",
        NAME,
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-03",
    ],
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_an_expired_token_is_renewed_and_the_rotated_refresh_token_stored(
    command: str, served: str, retailer: LightspeedWorld, home: sessionmaker[Session]
) -> None:
    """Each command that reads a source renews the expired token at the retailer's token
    endpoint, reads with the new one, and leaves the rotated refresh token in the vault:
    the one it replaced is refused by X-Series, the stored one works."""
    replaced = retailer.refresh_token
    result = CliRunner().invoke(app, COMMANDS[command])
    assert result.exit_code == 0, result.output
    row = the_connection(home)
    kept = stored(home, load_settings().vault(), TENANT, row.id)
    assert row.status == "active"
    assert kept["refresh_token"] != replaced
    assert kept["access_token"] != retailer.access_token
    with pytest.raises(OAuthError) as spent:
        retailer.retailer.authority.refresh(retailer.app.client_id, replaced)
    assert spent.value.error == "invalid_grant"
    assert retailer.retailer.authority.refresh(retailer.app.client_id, kept["refresh_token"])


def test_a_refused_refresh_pauses_the_connection_with_an_incident(
    served: str, retailer: LightspeedWorld, home: sessionmaker[Session]
) -> None:
    """Once the retailer removes the add-on, the sweep stops with the reconnect link, the
    connection waits for the merchant, and the refusal is an incident of that connection."""
    retailer.retailer.authority.revoke_subject(retailer.retailer.id)
    result = CliRunner().invoke(app, COMMANDS["sweep"])
    assert result.exit_code == 1
    assert "Reconnect it at" in " ".join(result.output.split())
    row = the_connection(home)
    assert row.status == RECONNECT
    with home() as session:
        codes = session.scalars(
            select(IncidentRow.code).where(IncidentRow.connection_id == row.id)
        ).all()
    assert "reconnect_required" in codes
    again = CliRunner().invoke(app, COMMANDS["sweep"])
    assert again.exit_code == 1, "a paused connection is not asked again"


def test_a_missing_app_is_named_in_the_settings_to_set(
    served: str, home: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the add-on's client id the refresh cannot happen: the message names the
    setting, and the connection is not paused for the operator's omission."""
    monkeypatch.delenv("SALESYNC_LIGHTSPEED_X_CLIENT_ID")
    result = CliRunner().invoke(app, COMMANDS["sweep"])
    assert result.exit_code == 1
    assert "SALESYNC_LIGHTSPEED_X_CLIENT_ID" in result.output
    assert the_connection(home).status == "active"


def test_clover_pairs_are_renewed_with_clovers_own_refresh(
    home: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Clover connection whose pair expired is renewed at Clover's ``/oauth/v2/refresh``
    by the app id in the settings; the single-use refresh token it spent is replaced in
    the vault before the sweep reads."""
    with clover_world() as world:
        world.trade(days=1, sales_per_day=3)
        monkeypatch.setenv("SALESYNC_CLOVER_CLIENT_ID", world.platform.app.id)
        pair = world.platform.install(world.merchant_ids[0])
        with serving(clover_app(world.platform), log_level="critical") as url:
            connection = world.connection(0, base_url=url)
            credentials = Grant(pair.access_token, pair.refresh_token).into(
                dict(connection.credentials)
            ) | {"expires_at": "2020-01-01T00:00:00+00:00"}
            vault = load_settings().vault()
            connection_id = add_connection(
                home,
                vault,
                CLOVER_TENANT,
                CLOVER_LOCATIONS,
                "clover",
                "Clover Uptown",
                credentials,
                dict(connection.settings),
            )
            result = CliRunner().invoke(
                app, ["sweep", "--tenant", CLOVER_TENANT, "--connection", "Clover Uptown"]
            )
        assert result.exit_code == 0, result.output
        kept = stored(home, vault, CLOVER_TENANT, connection_id)
        assert kept["refresh_token"] not in (None, pair.refresh_token)
        assert world.platform.tokens.refresh(world.platform.app.id, kept["refresh_token"])


def test_r_series_rotations_are_stored_through_the_token_manager(
    home: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An R-Series connection holding no app of its own renews with the configured app,
    and each rotated refresh token is in the vault, not only in the client that used it:
    the sweep two hours later renews with the stored one."""
    with lightspeed_r_world() as world:
        # Grants of Lightspeed's current OAuth hand out a new refresh token on each use
        # and refuse the one replaced.
        authority = world.account.credentials.authority
        authority.policy = replace(authority.policy, rotate_after=timedelta(0), reuse_grace=NOW)
        monkeypatch.setenv("SALESYNC_LIGHTSPEED_R_CLIENT_ID", world.client_id)
        monkeypatch.setenv("SALESYNC_LIGHTSPEED_R_CLIENT_SECRET", world.client_secret)
        cfg: Settings = load_settings()
        vault = cfg.vault()
        connection = world.connection()
        first = str(world.grant["refresh_token"])
        credentials = Grant(str(world.grant["access_token"]), first).into({}) | {
            "expires_at": "2020-01-01T00:00:00+00:00"
        }
        connection_id = add_connection(
            home,
            vault,
            R_TENANT,
            R_LOCATIONS,
            "lightspeed_r",
            "R-Series",
            credentials,
            dict(connection.settings),
        )
        tokens = wiring.token_manager(cfg, home, world.clock, world.transport)
        sweeper = Sweeper(
            home, world.clock, vault, transport=lambda _: world.transport, tokens=tokens
        )
        assert sweeper.sweep(R_TENANT, connection_id).pages > 0
        second = stored(home, vault, R_TENANT, connection_id)["refresh_token"]
        assert second not in (None, first)
        world.clock.advance(timedelta(hours=2))
        assert sweeper.sweep(R_TENANT, connection_id).pages > 0
        third = stored(home, vault, R_TENANT, connection_id)["refresh_token"]
        assert third not in (None, first, second)
        assert authority.refresh(world.client_id, third)


class CountingTokens(httpx.BaseTransport):
    """Passes requests on to the retailer, counting those at its token endpoint."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.refreshes = 0
        self.lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/1.0/token":
            with self.lock:
                self.refreshes += 1
        return self.inner.handle_request(request)


def test_workers_refreshing_at_once_redeem_the_rotating_token_once(
    retailer: LightspeedWorld, home: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four workers, each with its own database engine, find the token expired at the same
    moment: X-Series is asked once, every worker gets the same new token, and the refresh
    token stored is the one X-Series handed out last (a second redemption of the old one
    would have revoked the grant)."""
    monkeypatch.setenv("SALESYNC_LIGHTSPEED_X_CLIENT_ID", retailer.app.client_id)
    monkeypatch.setenv("SALESYNC_LIGHTSPEED_X_CLIENT_SECRET", retailer.app.client_secret)
    cfg = load_settings()
    connection = retailer.connection()
    expired = Grant(retailer.access_token, retailer.refresh_token).into({}) | {
        "expires_at": "2020-01-01T00:00:00+00:00"
    }
    connection_id = add_connection(
        home,
        cfg.vault(),
        TENANT,
        LOCATIONS,
        "lightspeed_x",
        NAME,
        expired,
        dict(connection.settings),
    )
    counted = CountingTokens(retailer.transport)
    engines = [make_engine(cfg.database) for _ in range(4)]
    managers = [
        wiring.token_manager(cfg, session_factory(e), retailer.clock, counted) for e in engines
    ]
    start = threading.Barrier(len(managers))

    def ask(manager: TokenManager) -> str:
        start.wait()
        return manager.access_token(TENANT, connection_id)

    with ThreadPoolExecutor(len(managers)) as pool:
        tokens = list(pool.map(ask, managers))
    for engine in engines:
        engine.dispose()
    kept = stored(home, cfg.vault(), TENANT, connection_id)
    assert counted.refreshes == 1
    assert set(tokens) == {kept["access_token"]}
    assert retailer.retailer.authority.refresh(retailer.app.client_id, kept["refresh_token"])


def test_square_tokens_are_renewed_with_obtain_token(
    home: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Square connection whose access token expired is renewed at ObtainToken (JSON with
    the application's id and secret in it); the sweep reads with the new token, and the
    refresh token, which Square's code flow keeps, is kept too."""
    with square_world() as world:
        app = world.seller.credentials.register_app()
        grant = world.seller.credentials.issue(app.client_id)
        monkeypatch.setenv("SALESYNC_SQUARE_CLIENT_ID", app.client_id)
        monkeypatch.setenv("SALESYNC_SQUARE_CLIENT_SECRET", app.client_secret)
        cfg = load_settings()
        connection = world.connection()
        credentials = Grant(grant["access_token"], grant["refresh_token"]).into(
            dict(connection.credentials)
        ) | {"expires_at": "2020-01-01T00:00:00+00:00"}
        connection_id = add_connection(
            home,
            cfg.vault(),
            SQUARE_TENANT,
            SQUARE_LOCATIONS,
            "square",
            "Square",
            credentials,
            dict(connection.settings),
        )
        tokens = wiring.token_manager(cfg, home, world.clock, world.transport)
        sweeper = Sweeper(
            home, world.clock, cfg.vault(), transport=lambda _: world.transport, tokens=tokens
        )
        assert sweeper.sweep(SQUARE_TENANT, connection_id, ("customers",)).pages > 0
        kept = stored(home, cfg.vault(), SQUARE_TENANT, connection_id)
        assert kept["access_token"] != grant["access_token"]
        assert kept["refresh_token"] == grant["refresh_token"]
        assert datetime.fromisoformat(kept["expires_at"]) > world.clock()
