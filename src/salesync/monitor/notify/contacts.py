"""Who at a merchant hears from salesync, and how often."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from salesync.store.repositories import TenantScoped
from salesync.store.tables import ContactRow

DEFAULT_INTERVAL_MINUTES = 60


class ContactError(ValueError):
    """A contact that cannot be saved or found; the message says why."""


@dataclass(frozen=True, slots=True)
class Contact:
    tenant_id: str
    email: str
    name: str
    opted_out: bool
    digest: bool
    """One email a day listing everything, instead of one per ticket."""
    min_interval_minutes: int
    """At most one email per ticket in this many minutes."""
    unsubscribe_token: str

    @classmethod
    def of(cls, row: ContactRow) -> Contact:
        return cls(
            tenant_id=row.tenant_id,
            email=row.email,
            name=row.name,
            opted_out=row.opted_out,
            digest=row.digest,
            min_interval_minutes=row.min_interval_minutes,
            unsubscribe_token=row.unsubscribe_token,
        )


def normalize_email(email: str) -> str:
    """``email`` trimmed and lower-cased, or ``ContactError`` saying what is wrong with it."""
    value = email.strip().lower()
    local, at, domain = value.rpartition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in value):
        raise ContactError(f"{email!r} is not an e-mail address (name@example.com)")
    if not value.isascii():
        raise ContactError(f"{email!r}: give the address in its ASCII form")
    return value


def _check_interval(minutes: int) -> int:
    if minutes < 0:
        raise ContactError(f"the interval is minutes, 0 or more (got {minutes})")
    return minutes


class Contacts(TenantScoped):
    """A tenant's contacts: add, change, opt out and back in, list."""

    def _row(self, email: str) -> ContactRow:
        row = self.session.get(ContactRow, (self.tenant_id, normalize_email(email)))
        if row is None:
            raise ContactError(f"{email} is not a contact of {self.tenant_id}")
        return row

    def add(
        self,
        email: str,
        *,
        name: str = "",
        digest: bool = False,
        min_interval_minutes: int = DEFAULT_INTERVAL_MINUTES,
    ) -> Contact:
        """Add the contact, or update the one with this address (keeping its token and
        whether it opted out)."""
        address = normalize_email(email)
        _check_interval(min_interval_minutes)
        row = self.session.get(ContactRow, (self.tenant_id, address))
        if row is None:
            row = ContactRow(
                tenant_id=self.tenant_id,
                email=address,
                opted_out=False,
                unsubscribe_token=secrets.token_urlsafe(32),
            )
            self.session.add(row)
        row.name = name
        row.digest = digest
        row.min_interval_minutes = min_interval_minutes
        self.session.flush()
        return Contact.of(row)

    def update(
        self,
        email: str,
        *,
        name: str | None = None,
        digest: bool | None = None,
        min_interval_minutes: int | None = None,
    ) -> Contact:
        """Change what is given; ``ContactError`` if there is no such contact."""
        row = self._row(email)
        if name is not None:
            row.name = name
        if digest is not None:
            row.digest = digest
        if min_interval_minutes is not None:
            row.min_interval_minutes = _check_interval(min_interval_minutes)
        self.session.flush()
        return Contact.of(row)

    def opt_out(self, email: str) -> Contact:
        row = self._row(email)
        row.opted_out = True
        self.session.flush()
        return Contact.of(row)

    def opt_in(self, email: str) -> Contact:
        row = self._row(email)
        row.opted_out = False
        self.session.flush()
        return Contact.of(row)

    def get(self, email: str) -> Contact | None:
        row = self.session.get(ContactRow, (self.tenant_id, normalize_email(email)))
        return Contact.of(row) if row else None

    def all(self) -> list[Contact]:
        rows = self.session.scalars(
            select(ContactRow)
            .where(ContactRow.tenant_id == self.tenant_id)
            .order_by(ContactRow.email)
        )
        return [Contact.of(r) for r in rows]


def unsubscribe(session: Session, token: str) -> Contact | None:
    """Opt out the contact whose unsubscribe link carries ``token``; None if no contact
    does. The link works without signing in, so the token alone names the contact."""
    if not token:
        return None
    row = session.scalar(select(ContactRow).where(ContactRow.unsubscribe_token == token))
    if row is None:
        return None
    row.opted_out = True
    session.flush()
    return Contact.of(row)
