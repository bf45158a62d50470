"""Users for API tests: added with a cheap password hash, signed in through the form, and
the app with the sign-in pages registered."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from salesync.accounts.keys import UserKeys
from salesync.accounts.passwords import Cost
from salesync.accounts.roles import Role
from salesync.accounts.users import Users
from salesync.api import create_app
from salesync.api.session import SignIn, Throttle
from salesync.connectors.registry import SourceRegistry
from salesync.store.vault import Vault

CHEAP = Cost(n=2**10)
"""Fast to compute: these tests are about sessions and scopes, not hashing cost."""
PASSWORD = "correct horse battery"  # noqa: S105  a test user's password
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def accounts_app(
    factory: sessionmaker[Session],
    clock: Callable[[], datetime],
    vault: Vault,
    registry: SourceRegistry,
    throttle: Throttle | None = None,
) -> FastAPI:
    sign_in = SignIn(factory, clock, throttle=throttle, cost=CHEAP)
    return create_app(factory, clock, vault, registry=registry, sign_in=sign_in)


def add_user(
    factory: sessionmaker[Session],
    clock: Callable[[], datetime],
    email: str,
    role: Role,
    tenant_id: str | None = None,
) -> str:
    """Add a user with ``PASSWORD``; returns their id."""
    with factory() as session, session.begin():
        return Users(session, clock, CHEAP).add(email, PASSWORD, role, tenant_id).id


def key_of(factory: sessionmaker[Session], clock: Callable[[], datetime], user_id: str) -> str:
    """A new API key of the user."""
    with factory() as session, session.begin():
        return UserKeys(session, user_id, clock).issue("tests")[1]


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, html
    return found.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD, **form: str) -> int:
    """Fill in and send the login form as a browser would; the answer's status."""
    nonce = csrf_of(client.get("/login").text)
    sent = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": nonce, **form},
        follow_redirects=False,
    )
    return sent.status_code
