"""Users: added with every problem named at once, found by email whatever its case,
signed in only with the right password, disabled, and given new passwords."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from salesync.accounts.errors import AccountError, UnknownUserError
from salesync.accounts.keys import UserKeys, principal_of_key
from salesync.accounts.passwords import Cost
from salesync.accounts.roles import Principal, Role
from salesync.accounts.sessions import Sessions
from salesync.accounts.users import Users
from salesync.clock import ManualClock
from salesync.domain.documents import Tenant
from salesync.store.repositories import Tenants
from salesync.store.tables import UserRow

CHEAP = Cost(n=2**10)
PASSWORD = "correct horse battery"  # noqa: S105  a test user's password
START = datetime(2026, 3, 1, 9, tzinfo=UTC)


@pytest.fixture
def db(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    with factory() as session, session.begin():
        Tenants(session).add(Tenant("alpha", "Alpha"))
    return factory


def test_a_user_is_found_by_email_in_any_case(db: sessionmaker[Session]) -> None:
    """Emails are kept lower-cased: the same address in other case is the same user."""
    clock = ManualClock(START)
    with db() as session, session.begin():
        users = Users(session, clock, CHEAP)
        added = users.add(" Ann@Example.COM ", PASSWORD, Role.OWNER, "alpha", "Ann")
        assert added.email == "ann@example.com"
        assert users.by_email("ANN@example.com") == added
        assert added.principal == Principal(added.id, "ann@example.com", Role.OWNER, "alpha")
        with pytest.raises(AccountError, match="already a user"):
            users.add("ann@EXAMPLE.com", PASSWORD, Role.BOOKKEEPER, "alpha")


def test_every_problem_with_a_new_user_is_named_at_once(db: sessionmaker[Session]) -> None:
    """A bad email, a tenant-less owner and a short password are refused together."""
    with db() as session, session.begin(), pytest.raises(AccountError) as refused:
        Users(session, ManualClock(START), CHEAP).add("nobody", "short", Role.OWNER)
    assert len(refused.value.problems) == 3
    assert "at least 12 characters" in str(refused.value)


@pytest.mark.parametrize(
    ("role", "tenant", "problem"),
    [
        (Role.BOOKKEEPER, None, "belongs to a tenant"),
        (Role.TIER1, "alpha", "works across tenants"),
        (Role.OWNER, "omega", "no tenant 'omega'"),
    ],
)
def test_roles_and_tenants_must_agree(
    db: sessionmaker[Session], role: Role, tenant: str | None, problem: str
) -> None:
    """Merchant users name an existing tenant; staff name none."""
    with db() as session, session.begin(), pytest.raises(AccountError, match=problem):
        Users(session, ManualClock(START), CHEAP).add("x@example.com", PASSWORD, role, tenant)


def test_the_database_refuses_a_staff_user_with_a_tenant(db: sessionmaker[Session]) -> None:
    """The role/tenant rule holds in the schema too, not only in the repository."""
    with db() as session, pytest.raises(IntegrityError), session.begin():
        session.add(
            UserRow(
                id="u1",
                email="a@example.com",
                name="",
                password_hash="x",  # noqa: S106  never checked here
                role="admin",
                tenant_id="alpha",
                created_at=START,
            )
        )


def test_only_the_right_password_of_an_active_user_signs_in(db: sessionmaker[Session]) -> None:
    """Sign-in needs the password; it records the time; a disabled user cannot."""
    clock = ManualClock(START)
    with db() as session, session.begin():
        users = Users(session, clock, CHEAP)
        users.add("ann@example.com", PASSWORD, Role.BOOKKEEPER, "alpha")
        assert users.authenticate("ann@example.com", "wrong password!") is None
        assert users.authenticate("who@example.com", PASSWORD) is None
        signed = users.authenticate("ANN@example.com", PASSWORD)
        assert signed is not None
        assert signed.last_login_at == START
        users.disable("ann@example.com")
        assert users.authenticate("ann@example.com", PASSWORD) is None


def test_a_new_password_or_disabling_ends_every_session_and_key(
    db: sessionmaker[Session],
) -> None:
    """Changing the password signs the user out everywhere; disabling also stops keys."""
    clock = ManualClock(START)
    with db() as session, session.begin():
        users = Users(session, clock, CHEAP)
        user = users.add("ann@example.com", PASSWORD, Role.OWNER, "alpha")
        sessions = Sessions(session, clock)
        first, second = sessions.open(user.id)[1], sessions.open(user.id)[1]
        _, key = UserKeys(session, user.id, clock).issue("script")
        users.set_password("ann@example.com", "another long passphrase")
        assert sessions.find(first) is None
        assert sessions.find(second) is None
        assert users.authenticate("ann@example.com", "another long passphrase") is not None
        assert principal_of_key(session, key) == user.principal
        users.disable("ann@example.com")
        assert principal_of_key(session, key) is None
        with pytest.raises(UnknownUserError):
            users.disable("who@example.com")


def test_a_revoked_key_stops_and_keys_are_listed_without_secrets(
    db: sessionmaker[Session],
) -> None:
    """A key acts as its user until revoked; listing shows no secret."""
    clock = ManualClock(START)
    with db() as session, session.begin():
        user = Users(session, clock, CHEAP).add("t1@example.com", PASSWORD, Role.TIER1)
        keys = UserKeys(session, user.id, clock)
        issued, secret = keys.issue("triage script")
        assert secret.startswith("ssu_")
        assert principal_of_key(session, secret) == user.principal
        keys.revoke(issued.id)
        assert principal_of_key(session, secret) is None
        assert [k.name for k in keys.all()] == ["triage script"]
        assert secret not in repr(keys.all())
        with pytest.raises(KeyError):
            UserKeys(session, "someone-else", clock).revoke(issued.id)
