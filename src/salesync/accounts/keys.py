"""Users' API keys for scripts: a key acts as its user, with the user's role and tenant.

Like tenant API tokens (``salesync.api.tokens``), a key is long and random, so a plain
SHA-256 is stored and a key is found by one indexed read. A disabled user's keys stop
working with them.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from salesync.accounts.roles import Principal, Role
from salesync.accounts.sessions import secret_hash
from salesync.store.tables import UserApiKeyRow, UserRow

PREFIX = "ssu_"
"""Marks user keys, told apart from tenant tokens (``ssk_``) by people and scanners."""


@dataclass(frozen=True, slots=True)
class UserKey:
    """A key as it may be listed: never the secret itself."""

    id: str
    user_id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None


def _key(row: UserApiKeyRow) -> UserKey:
    return UserKey(row.id, row.user_id, row.name, row.created_at, row.revoked_at)


class UserKeys:
    """One user's API keys."""

    def __init__(self, session: Session, user_id: str, clock: Callable[[], datetime]) -> None:
        if not user_id:
            raise ValueError("API keys belong to a user; name one")
        self.session = session
        self.user_id = user_id
        self.clock = clock

    def issue(self, name: str) -> tuple[UserKey, str]:
        """A new key named ``name``; the secret is returned here and never again."""
        secret = PREFIX + secrets.token_urlsafe(32)
        row = UserApiKeyRow(
            id=str(uuid.uuid4()),
            user_id=self.user_id,
            name=name,
            token_hash=secret_hash(secret),
            created_at=self.clock(),
        )
        self.session.add(row)
        self.session.flush()
        return _key(row), secret

    def revoke(self, key_id: str) -> None:
        row = self.session.get(UserApiKeyRow, key_id)
        if row is None or row.user_id != self.user_id:
            raise KeyError(f"no API key {key_id} for this user")
        if row.revoked_at is None:
            row.revoked_at = self.clock()
        self.session.flush()

    def all(self) -> list[UserKey]:
        query = select(UserApiKeyRow).where(UserApiKeyRow.user_id == self.user_id)
        return [_key(r) for r in self.session.scalars(query.order_by(UserApiKeyRow.created_at))]


def principal_of_key(session: Session, secret: str) -> Principal | None:
    """Who a live key acts as; None for an unknown or revoked key, or a disabled user."""
    user = session.scalar(
        select(UserRow)
        .join(UserApiKeyRow, UserApiKeyRow.user_id == UserRow.id)
        .where(
            UserApiKeyRow.token_hash == secret_hash(secret),
            UserApiKeyRow.revoked_at.is_(None),
            UserRow.disabled_at.is_(None),
        )
    )
    return Principal(user.id, user.email, Role(user.role), user.tenant_id) if user else None
