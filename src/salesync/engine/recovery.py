"""After a restore from backup: look every posting up in the books before writing it.

A database restored to an earlier moment has lost the record of what was posted after
that moment, but the books have not: the postings that were still waiting in the backup,
and the documents the sweeps bring in again, would be written a second time. While a
read-back window is open, the sender treats every posting as one that may have been
written already: it asks the books for the posting's key first and only writes what is
not there (every destination can ``find`` by key, since the key travels with each
transaction it writes). Outside a window a first attempt writes at once, as usual.

``salesync restored`` opens a window (a week by default, longer than the sweeps need to
bring back what the restored moment missed); ``salesync restored --end`` closes it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from salesync.store.tables import ReadBackWindowRow

DEFAULT_WINDOW = timedelta(days=7)


class ReadBack:
    """The read-back windows of one database."""

    def __init__(self, factory: sessionmaker[Session], clock: Callable[[], datetime]) -> None:
        self.factory = factory
        self.clock = clock

    def start(self, length: timedelta = DEFAULT_WINDOW, note: str = "") -> datetime:
        """Open a window of ``length`` from now; returns when it ends."""
        if length <= timedelta(0):
            raise ValueError("a read-back window must last some time: give a positive length")
        now = self.clock()
        with self.factory() as session, session.begin():
            session.add(ReadBackWindowRow(started_at=now, until=now + length, note=note))
        return now + length

    def end(self) -> int:
        """Close every open window now; returns how many were open."""
        now = self.clock()
        with self.factory() as session, session.begin():
            result = session.execute(
                update(ReadBackWindowRow)
                .where(ReadBackWindowRow.until > now)
                .values(until=now)
                .execution_options(synchronize_session=False)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def until(self) -> datetime | None:
        """When the open window ends, or None when none is open."""
        with self.factory() as session:
            return open_until(session, self.clock())

    def active(self) -> bool:
        return self.until() is not None


def open_until(session: Session, now: datetime) -> datetime | None:
    """When the read-back window open at ``now`` ends, or None when none is."""
    return session.scalar(
        select(func.max(ReadBackWindowRow.until)).where(ReadBackWindowRow.until > now)
    )
