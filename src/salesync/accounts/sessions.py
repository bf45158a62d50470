"""Dashboard sessions: a random cookie per sign-in, of which only the SHA-256 is kept.

A session ends after ``IDLE`` without a request, or ``LIFETIME`` after sign-in however
busy it is; signing out, a password change or disabling the user ends it at once.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from salesync.accounts.roles import Principal, Role
from salesync.store.tables import UserRow, UserSessionRow

IDLE = timedelta(hours=12)
LIFETIME = timedelta(days=7)
TOUCH_EVERY = timedelta(minutes=5)
"""How stale ``last_seen_at`` may get before a request writes it again: a write per
request would cost every page view a transaction, and minutes do not matter against
a 12-hour idle limit."""


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class OpenSession:
    """A live session and who it belongs to; ``csrf_token`` goes into its forms."""

    id: str
    principal: Principal
    csrf_token: str
    created_at: datetime
    expires_at: datetime
    last_seen_at: datetime


class Sessions:
    def __init__(
        self,
        session: Session,
        clock: Callable[[], datetime],
        *,
        idle: timedelta = IDLE,
        lifetime: timedelta = LIFETIME,
    ) -> None:
        self.session = session
        self.clock = clock
        self.idle = idle
        self.lifetime = lifetime

    def open(self, user_id: str) -> tuple[OpenSession, str]:
        """A new session for the user; the cookie value is returned here and never again."""
        now = self.clock()
        token = secrets.token_urlsafe(32)
        row = UserSessionRow(
            id=str(uuid.uuid4()),
            user_id=user_id,
            token_hash=secret_hash(token),
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + self.lifetime,
            last_seen_at=now,
        )
        self.session.add(row)
        self.session.flush()
        user = self.session.get(UserRow, user_id)
        if user is None:
            raise KeyError(f"no user {user_id}")
        return _open(row, user), token

    def find(self, token: str) -> OpenSession | None:
        """The live session a cookie opens, its last use moved to now; None for an
        unknown, expired or ended one, or one whose user was disabled. An expired
        session found this way is deleted."""
        found = self.session.execute(
            select(UserSessionRow, UserRow)
            .join(UserRow, UserRow.id == UserSessionRow.user_id)
            .where(UserSessionRow.token_hash == secret_hash(token))
        ).first()
        if found is None:
            return None
        row, user = found
        now = self.clock()
        if now >= row.expires_at or now >= row.last_seen_at + self.idle:
            self.session.delete(row)
            self.session.flush()
            return None
        if user.disabled_at is not None:
            return None
        if now - row.last_seen_at >= TOUCH_EVERY:
            row.last_seen_at = now
            self.session.flush()
        return _open(row, user)

    def close(self, token: str) -> None:
        """End the session a cookie opens, if it is still open."""
        self.session.execute(
            delete(UserSessionRow).where(UserSessionRow.token_hash == secret_hash(token))
        )
        self.session.flush()

    def close_all(self, user_id: str) -> int:
        """End every session of a user (signed out everywhere); how many there were."""
        ended = self.session.execute(
            delete(UserSessionRow).where(UserSessionRow.user_id == user_id)
        )
        self.session.flush()
        return int(getattr(ended, "rowcount", 0))

    def sweep(self) -> int:
        """Delete every expired session; how many went."""
        now = self.clock()
        ended = self.session.execute(
            delete(UserSessionRow).where(
                (UserSessionRow.expires_at <= now)
                | (UserSessionRow.last_seen_at <= now - self.idle)
            )
        )
        self.session.flush()
        return int(getattr(ended, "rowcount", 0))


def _open(row: UserSessionRow, user: UserRow) -> OpenSession:
    return OpenSession(
        row.id,
        Principal(user.id, user.email, Role(user.role), user.tenant_id),
        row.csrf_token,
        row.created_at,
        row.expires_at,
        row.last_seen_at,
    )
