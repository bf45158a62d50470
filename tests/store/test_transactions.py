"""Transactions hold on SQLite as on PostgreSQL: work inside a savepoint is undone with the
transaction around it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from salesync.domain.documents import Tenant
from salesync.store.repositories import Tenants
from salesync.store.tables import TenantRow


class Boom(BaseException):
    """The process dies mid-transaction."""


def test_a_savepoint_opened_first_is_rolled_back_with_its_transaction(
    factory: sessionmaker[Session],
) -> None:
    """A write made first inside a savepoint does not survive the transaction's rollback."""

    def write_then_die() -> None:
        with factory() as session, session.begin():
            with session.begin_nested():
                Tenants(session).add(Tenant("t1", "First"))
            raise Boom

    with pytest.raises(Boom):
        write_then_die()
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(TenantRow)) == 0


def test_database_errors_never_carry_the_statements_values(
    factory: sessionmaker[Session],
) -> None:
    """A constraint failure names the statement, never the values (payloads, emails)."""
    with factory() as session, session.begin():
        Tenants(session).add(Tenant("t-secret", "Secret Shop"))
    with pytest.raises(IntegrityError) as caught, factory() as session, session.begin():
        Tenants(session).add(Tenant("t-secret", "jane.doe@example.com"))
    assert "jane.doe@example.com" not in str(caught.value)
    assert "hidden" in str(caught.value)
