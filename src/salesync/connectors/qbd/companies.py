"""The company files the Web Connector reaches: who may sign in, and the .qwc identifiers.

The Web Connector signs in with a user name from the .qwc file and a password the merchant
types into it once; only the password's scrypt hash is kept.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from salesync.accounts.passwords import DEFAULT_COST, Cost, hash_password, verify_password
from salesync.domain.errors import ValidationError
from salesync.domain.validation import Problem
from salesync.store.tables import QbdCompanyFileRow

OWNER_ID = "{8f0a2a39-5cf6-4bf8-9f59-2d3a4b6f3c11}"
"""salesync's OwnerID: one GUID for the application, the same in every .qwc file."""


class QbdCompanies:
    """Company files registered for the Web Connector, across tenants (the Web Connector
    names none: its user name finds the company file, and that the tenant)."""

    def __init__(self, session: Session, cost: Cost = DEFAULT_COST) -> None:
        self.session = session
        self.cost = cost

    def register(
        self, tenant_id: str, connection_id: str, username: str, password: str
    ) -> QbdCompanyFileRow:
        """Set up (or reset the password of) ``connection_id``'s company file."""
        if not username.strip():
            raise ValidationError(
                "a Web Connector user name is empty",
                user_message="Choose a user name for the Web Connector.",
                problems=(Problem("required", "the user name is empty", "username"),),
            )
        row = self.session.get(QbdCompanyFileRow, connection_id)
        taken = self.by_username(username)
        if taken is not None and taken.connection_id != connection_id:
            raise ValidationError(
                f"the Web Connector user name {username!r} is taken",
                user_message=f"The user name {username!r} is already used by another "
                "QuickBooks Desktop connection; choose another.",
                problems=(Problem("taken", "the user name is in use", "username"),),
            )
        digest = hash_password(password, self.cost)
        if row is None:
            row = QbdCompanyFileRow(
                connection_id=connection_id,
                tenant_id=tenant_id,
                username=username,
                password_hash=digest,
                owner_id=OWNER_ID,
                file_id="{" + str(uuid.uuid4()) + "}",
                company_file="",
            )
            self.session.add(row)
        else:
            row.username, row.password_hash = username, digest
        self.session.flush()
        return row

    def by_username(self, username: str) -> QbdCompanyFileRow | None:
        return self.session.scalars(
            select(QbdCompanyFileRow).where(QbdCompanyFileRow.username == username)
        ).one_or_none()

    def signed_in(self, username: str, password: str, now: datetime) -> QbdCompanyFileRow | None:
        """The company file whose credentials these are, its check-in recorded; None when
        they are not valid (the Web Connector is told "nvu")."""
        row = self.by_username(username)
        if row is None or not verify_password(password, row.password_hash):
            return None
        row.last_checkin_at = now
        return row
