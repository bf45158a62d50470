"""Sessions: only a hash is stored; they end after 12 idle hours, 7 days in all, on
sign-out, or when every session of the user is closed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.accounts.passwords import Cost
from salesync.accounts.roles import Role
from salesync.accounts.sessions import Sessions, secret_hash
from salesync.accounts.users import Users
from salesync.clock import ManualClock
from salesync.store.tables import UserSessionRow

START = datetime(2026, 3, 1, 9, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def user_id(factory: sessionmaker[Session], clock: ManualClock) -> str:
    with factory() as session, session.begin():
        users = Users(session, clock, Cost(n=2**10))
        return users.add("dev@example.com", "correct horse battery", Role.DEVELOPER).id


def test_only_the_hash_of_the_cookie_is_stored(
    factory: sessionmaker[Session], clock: ManualClock, user_id: str
) -> None:
    """The database holds the token's SHA-256, never the token."""
    with factory() as session, session.begin():
        opened, token = Sessions(session, clock).open(user_id)
        row = session.scalars(select(UserSessionRow)).one()
    assert row.token_hash == secret_hash(token)
    assert token not in (row.token_hash, row.csrf_token, row.id)
    assert opened.principal.role is Role.DEVELOPER
    assert opened.expires_at == START + timedelta(days=7)


def test_a_session_ends_after_twelve_idle_hours(
    factory: sessionmaker[Session], clock: ManualClock, user_id: str
) -> None:
    """Used within 12 hours it lives on; after 12 quiet hours it is gone."""
    with factory() as session, session.begin():
        sessions = Sessions(session, clock)
        token = sessions.open(user_id)[1]
        clock.advance(timedelta(hours=11, minutes=59))
        assert sessions.find(token) is not None
        clock.advance(timedelta(hours=11, minutes=59))
        assert sessions.find(token) is not None
        clock.advance(timedelta(hours=12))
        assert sessions.find(token) is None
        assert session.scalars(select(UserSessionRow)).all() == []


def test_a_busy_session_still_ends_after_seven_days(
    factory: sessionmaker[Session], clock: ManualClock, user_id: str
) -> None:
    """Daily use does not stretch a session past its absolute lifetime."""
    with factory() as session, session.begin():
        sessions = Sessions(session, clock)
        token = sessions.open(user_id)[1]
        for _ in range(6):
            clock.advance(timedelta(hours=11))
            assert sessions.find(token) is not None
            clock.advance(timedelta(hours=11))
            assert sessions.find(token) is not None
        clock.set(START + timedelta(days=7))
        assert sessions.find(token) is None


def test_closing_ends_one_session_and_closing_all_ends_every_one(
    factory: sessionmaker[Session], clock: ManualClock, user_id: str
) -> None:
    """Sign-out ends this browser's session; signing out everywhere ends the rest."""
    with factory() as session, session.begin():
        sessions = Sessions(session, clock)
        first, second, third = (sessions.open(user_id)[1] for _ in range(3))
        sessions.close(first)
        assert sessions.find(first) is None
        assert sessions.find(second) is not None
        assert sessions.close_all(user_id) == 2
        assert sessions.find(third) is None
        assert sessions.find("never-issued") is None


def test_sweeping_deletes_only_expired_sessions(
    factory: sessionmaker[Session], clock: ManualClock, user_id: str
) -> None:
    """Expired sessions nobody comes back for are deleted by a sweep; live ones stay."""
    with factory() as session, session.begin():
        sessions = Sessions(session, clock)
        sessions.open(user_id)
        clock.advance(timedelta(hours=13))
        live = sessions.open(user_id)[1]
        assert sessions.sweep() == 1
        assert sessions.find(live) is not None
