"""API tokens: a bearer secret per tenant, of which only the SHA-256 is stored.

A token is shown once, when it is issued. It is long and random, so a plain hash (not a
slow password hash) is enough: nobody can guess one from its hash, and looking a token up
by its hash costs one indexed read.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from salesync.store.repositories import TenantScoped
from salesync.store.tables import ApiTokenRow

PREFIX = "ssk_"
"""Marks salesync tokens, so secret scanners and people recognise a leaked one."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A token as it may be listed: never the secret itself."""

    id: str
    tenant_id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None


def _token(row: ApiTokenRow) -> ApiToken:
    return ApiToken(row.id, row.tenant_id, row.name, row.created_at, row.revoked_at)


class ApiTokens(TenantScoped):
    def __init__(self, session: Session, tenant_id: str, clock: Callable[[], datetime]) -> None:
        super().__init__(session, tenant_id)
        self.clock = clock

    def issue(self, name: str) -> tuple[ApiToken, str]:
        """A new token named ``name``; the secret is returned here and never again."""
        secret = PREFIX + secrets.token_urlsafe(32)
        row = ApiTokenRow(
            id=str(uuid.uuid4()),
            tenant_id=self.tenant_id,
            name=name,
            token_hash=token_hash(secret),
            created_at=self.clock(),
        )
        self.session.add(row)
        self.session.flush()
        return _token(row), secret

    def revoke(self, token_id: str) -> None:
        row = self.session.get(ApiTokenRow, token_id)
        if row is None or row.tenant_id != self.tenant_id:
            raise KeyError(f"no API token {token_id} for tenant {self.tenant_id}")
        if row.revoked_at is None:
            row.revoked_at = self.clock()
        self.session.flush()

    def all(self) -> list[ApiToken]:
        query = select(ApiTokenRow).where(ApiTokenRow.tenant_id == self.tenant_id)
        return [_token(r) for r in self.session.scalars(query.order_by(ApiTokenRow.created_at))]


def tenant_of(session: Session, secret: str) -> str | None:
    """The tenant a live token belongs to; None for an unknown or revoked one."""
    query = select(ApiTokenRow.tenant_id).where(
        ApiTokenRow.token_hash == token_hash(secret), ApiTokenRow.revoked_at.is_(None)
    )
    return session.scalar(query)
