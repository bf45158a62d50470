"""Callers for REST API tests: a user of every role with an API key, the demo tenant's API
token, a second tenant, a client of the app they call, and sales booked to call about."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from fastapi.testclient import TestClient
from hooksource import sales
from people import accounts_app, add_user, key_of
from sqlalchemy.orm import Session, sessionmaker

from salesync.accounts.roles import Role
from salesync.api.tokens import ApiTokens
from salesync.clock import ManualClock
from salesync.connectors.registry import SourceRegistry
from salesync.domain.documents import Sale, Tenant
from salesync.engine.runner import Engine
from salesync.store import codec
from salesync.store.repositories import Tenants
from salesync.store.vault import Vault

OTHER = "beta"
PEOPLE = {
    "owner": (Role.OWNER, "demo"),
    "bookkeeper": (Role.BOOKKEEPER, "demo"),
    "other_owner": (Role.OWNER, OTHER),
    "tier1": (Role.TIER1, None),
    "developer": (Role.DEVELOPER, None),
    "admin": (Role.ADMIN, None),
}
ROLES = ("token", *PEOPLE)
"""Every caller: demo's tenant API token, then each user."""


@dataclass(frozen=True)
class Callers:
    """A client of the full app and a bearer secret per caller: each role's key (named as
    in ``PEOPLE``) and ``token``, demo's tenant API token, whose id is ``token_id``."""

    client: TestClient
    secrets: dict[str, str]
    token_id: str

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secrets[who]}"}

    def get(self, who: str, path: str, **params: str) -> httpx.Response:
        return self.client.get(path, headers=self.headers(who), params=params)

    def send(self, who: str, method: str, path: str, body: Any = None) -> httpx.Response:
        return self.client.request(method, path, headers=self.headers(who), json=body)


@contextmanager
def opened(
    db: sessionmaker[Session],
    clock: Callable[[], datetime],
    vault: Vault,
    registry: SourceRegistry,
) -> Iterator[Callers]:
    """Add the second tenant and every caller, and open a client on the app."""
    with db() as session, session.begin():
        Tenants(session).add(Tenant(OTHER, "Beta"))
        issued, token = ApiTokens(session, "demo", clock).issue("tests")
    secrets = {
        name: key_of(db, clock, add_user(db, clock, f"{name}@example.com", role, tenant))
        for name, (role, tenant) in PEOPLE.items()
    }
    secrets["token"] = token
    app = accounts_app(db, clock, vault, registry)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Callers(client, secrets, issued.id)


def booked(db: sessionmaker[Session], clock: ManualClock, days: int = 1) -> list[Sale]:
    """Demo's simulated sales of ``days`` days, received and posted to the built-in ledger
    (the clock moves a day on, past their sync windows); returns them."""
    found = sales(days)
    engine = Engine(db, clock)
    for sale in found:
        engine.receive("demo", sale.source, sale.kind.value, json.dumps(codec.encode(sale)))
    clock.advance(timedelta(days=1))
    engine.run_until_idle("demo")
    return found
