"""Users: who may sign in, with which role, for which tenant.

Like tenants, users are a root the tenant-scoped repositories hang from: staff belong to
no tenant. Reads that list users are scoped by the caller (``of_tenant`` for merchants).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from salesync.accounts.errors import AccountError, UnknownUserError
from salesync.accounts.passwords import (
    DEFAULT_COST,
    Cost,
    hash_password,
    needs_rehash,
    password_problems,
    verify_password,
    waste_time,
)
from salesync.accounts.roles import Principal, Role
from salesync.accounts.sessions import Sessions
from salesync.store.tables import TenantRow, UserRow

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def normal_email(email: str) -> str:
    """The form an email is stored and looked up in: trimmed and lower-cased."""
    return email.strip().lower()


@dataclass(frozen=True, slots=True)
class User:
    """A user as it may be shown: never the password hash."""

    id: str
    email: str
    name: str
    role: Role
    tenant_id: str | None
    created_at: datetime
    disabled_at: datetime | None
    last_login_at: datetime | None

    @property
    def principal(self) -> Principal:
        return Principal(self.id, self.email, self.role, self.tenant_id)


def _user(row: UserRow) -> User:
    return User(
        row.id,
        row.email,
        row.name,
        Role(row.role),
        row.tenant_id,
        row.created_at,
        row.disabled_at,
        row.last_login_at,
    )


class Users:
    def __init__(
        self, session: Session, clock: Callable[[], datetime], cost: Cost = DEFAULT_COST
    ) -> None:
        self.session = session
        self.clock = clock
        self.cost = cost

    def add(
        self, email: str, password: str, role: Role, tenant_id: str | None = None, name: str = ""
    ) -> User:
        """A new user; refuses, with every reason at once, a malformed or taken email, a
        merchant role without a tenant (or staff with one) and a weak password."""
        email = normal_email(email)
        problems = []
        if not _EMAIL.fullmatch(email):
            problems.append(f"{email!r} is not an email address.")
        elif self._row(email) is not None:
            problems.append(f"There is already a user {email}.")
        if role.merchant and tenant_id is None:
            problems.append(f"A {role} belongs to a tenant; name it.")
        elif not role.merchant and tenant_id is not None:
            problems.append(f"A {role} works across tenants; do not name one.")
        elif tenant_id is not None and self.session.get(TenantRow, tenant_id) is None:
            problems.append(f"There is no tenant {tenant_id!r}.")
        problems += password_problems(password)
        if problems:
            raise AccountError(problems)
        row = UserRow(
            id=str(uuid.uuid4()),
            email=email,
            name=name.strip(),
            password_hash=hash_password(password, self.cost),
            role=role.value,
            tenant_id=tenant_id,
            created_at=self.clock(),
        )
        self.session.add(row)
        self.session.flush()
        return _user(row)

    def get(self, user_id: str) -> User | None:
        row = self.session.get(UserRow, user_id)
        return _user(row) if row is not None else None

    def by_email(self, email: str) -> User | None:
        row = self._row(normal_email(email))
        return _user(row) if row is not None else None

    def of_tenant(self, tenant_id: str) -> list[User]:
        """The merchant users of one tenant."""
        query = select(UserRow).where(UserRow.tenant_id == tenant_id).order_by(UserRow.email)
        return [_user(r) for r in self.session.scalars(query)]

    def all(self) -> list[User]:
        """Every user: each tenant's, then staff."""
        query = select(UserRow).order_by(
            UserRow.tenant_id.is_(None), UserRow.tenant_id, UserRow.email
        )
        return [_user(r) for r in self.session.scalars(query)]

    def staff(self) -> list[User]:
        """The users who work across tenants."""
        query = select(UserRow).where(UserRow.tenant_id.is_(None)).order_by(UserRow.email)
        return [_user(r) for r in self.session.scalars(query)]

    def authenticate(self, email: str, password: str) -> User | None:
        """The active user with this email and password, now recorded as signed in; None
        for any mismatch, answered in the same time whether or not the email exists."""
        row = self._row(normal_email(email))
        if row is None:
            waste_time(password)
            return None
        if not verify_password(password, row.password_hash) or row.disabled_at is not None:
            return None
        if needs_rehash(row.password_hash, self.cost) and not password_problems(password):
            row.password_hash = hash_password(password, self.cost)
        row.last_login_at = self.clock()
        self.session.flush()
        return _user(row)

    def set_password(self, email: str, password: str) -> None:
        """Change a user's password and sign them out everywhere."""
        row = self._existing(email)
        row.password_hash = hash_password(password, self.cost)
        Sessions(self.session, self.clock).close_all(row.id)

    def disable(self, email: str) -> User:
        """Stop a user from signing in: their sessions end and their API keys stop working."""
        row = self._existing(email)
        if row.disabled_at is None:
            row.disabled_at = self.clock()
        Sessions(self.session, self.clock).close_all(row.id)
        return _user(row)

    def _row(self, email: str) -> UserRow | None:
        return self.session.scalar(select(UserRow).where(UserRow.email == email))

    def _existing(self, email: str) -> UserRow:
        row = self._row(normal_email(email))
        if row is None:
            raise UnknownUserError(f"There is no user {normal_email(email)}.")
        return row
