"""Each company file's qbXML work, in the database, first in first out.

A transaction to add moves ``queued`` → ``sent`` → ``done`` or ``failed``. Once its
request has left with the Web Connector, salesync cannot know whether QuickBooks applied
it until the answer arrives; when a session ends without one (a dropped connection, an
HRESULT, a crash), the unit goes to ``verify``: the next session first asks the company
file for the transaction by its reference (``checking``) and adds it again only if it is
not there. A dropped session therefore never duplicates a transaction.

A list to read moves ``queued`` → ``reading`` → (``paging`` → ``reading``)* → ``done``,
one iterator page per request; an iterator lives only as long as its session, so a read
interrupted mid-way starts again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from salesync.store.tables import QbdWorkRow

WAITING = ("queued", "verify", "paging")
"""States whose next request is ready for the Web Connector."""
OUT = ("sent", "checking", "reading")
"""States whose request is out with the Web Connector."""


class WorkQueue:
    """One company file's work units."""

    def __init__(self, session: Session, connection_id: str) -> None:
        self.session = session
        self.connection_id = connection_id

    def add(
        self, key: str, reference: str, request: str, lookup: str, *, verify: bool = False
    ) -> QbdWorkRow:
        """The unit adding ``request`` under ``key``, created if new. ``lookup`` is the
        query that finds it by ``reference``; with ``verify`` a new unit is looked up in the
        company file before it is added (it may have been written by work this database
        no longer knows of). A unit that failed is queued again only when the request
        changed (the merchant fixed the mapping that refused it): the same request would
        only be refused again. Any other unit is kept as it is."""
        row = self._row(key)
        if row is None:
            row = QbdWorkRow(
                connection_id=self.connection_id,
                key=key,
                kind="add",
                state="verify" if verify else "queued",
                request=request,
                reference=reference,
                result={"lookup": lookup},
            )
            self.session.add(row)
        elif row.state == "failed" and row.request != request:
            row.state, row.request, row.reference = "queued", request, reference
            row.result = {"lookup": lookup}
            row.error_code = row.error_message = None
        self.session.flush()
        return row

    def read(self, key: str, request: str) -> QbdWorkRow:
        """The unit reading a list through the iterator query ``request``."""
        row = self._row(key)
        if row is None:
            row = QbdWorkRow(
                connection_id=self.connection_id,
                key=key,
                kind="read",
                state="queued",
                request=request,
                result={"records": []},
            )
            self.session.add(row)
            self.session.flush()
        return row

    def units(self, keys: Sequence[str]) -> dict[str, QbdWorkRow]:
        if not keys:
            return {}
        rows = self.session.scalars(
            select(QbdWorkRow).where(
                QbdWorkRow.connection_id == self.connection_id, QbdWorkRow.key.in_(keys)
            )
        )
        return {row.key: row for row in rows}

    def _row(self, key: str) -> QbdWorkRow | None:
        return self.units([key]).get(key)

    def units_by_id(self, work_id: int | None) -> QbdWorkRow | None:
        row = self.session.get(QbdWorkRow, work_id) if work_id is not None else None
        return row if row is not None and row.connection_id == self.connection_id else None

    def next(self) -> QbdWorkRow | None:
        """The oldest unit with a request ready."""
        return self.session.scalars(
            select(QbdWorkRow)
            .where(QbdWorkRow.connection_id == self.connection_id, QbdWorkRow.state.in_(WAITING))
            .order_by(QbdWorkRow.id)
            .limit(1)
        ).one_or_none()

    def waiting(self) -> int:
        return (
            self.session.scalar(
                select(func.count())
                .select_from(QbdWorkRow)
                .where(
                    QbdWorkRow.connection_id == self.connection_id, QbdWorkRow.state.in_(WAITING)
                )
            )
            or 0
        )

    def recover(self) -> int:
        """Units whose request went out in a session that ended without an answer: adds are
        looked up before they are sent again, reads start over. Returns how many."""
        rows = list(
            self.session.scalars(
                select(QbdWorkRow).where(
                    QbdWorkRow.connection_id == self.connection_id, QbdWorkRow.state.in_(OUT)
                )
            )
        )
        for row in rows:
            interrupted(row)
        return len(rows)


def interrupted(row: QbdWorkRow) -> None:
    """``row``'s request may or may not have been applied: find out before adding again."""
    if row.kind == "add":
        row.state = "verify"
    else:
        restart(row)


def restart(row: QbdWorkRow) -> None:
    row.state, row.iterator_id = "queued", None
    row.result = {"records": []}


def result(row: QbdWorkRow, **values: Any) -> None:
    """Merge ``values`` into ``row``'s result (a new dict, so the change is saved)."""
    row.result = {**row.result, **values}
