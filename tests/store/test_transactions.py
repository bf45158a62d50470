"""Transactions hold on SQLite as on PostgreSQL: work inside a savepoint is undone with the
transaction around it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
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
