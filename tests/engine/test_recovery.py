"""After the database is restored from a backup, a read-back window keeps what was posted
after the backup's moment from being written to the books again."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from salesync.clock import ManualClock
from salesync.connectors.destination import DestinationCapabilities, Posting, Written
from salesync.domain.simulate import DemoMerchant, simulate
from salesync.engine.recovery import ReadBack
from salesync.engine.runner import Engine
from salesync.store.database import make_engine, migrate, session_factory
from salesync.store.repositories import Locations, Tenants

from flows import deliver

START = date(2026, 10, 30)


@dataclass
class RemoteBooks:
    """Books outside salesync's database that write every call they are given (as a
    provider does once its idempotency window has passed) and find a posting by the key
    written with it."""

    written: list[str] = field(default_factory=list)
    looked_up: int = 0

    name = "remote"
    capabilities = DestinationCapabilities(
        forms=frozenset({"journal_entry"}), batch_size=50, find_batch=100
    )

    def post(self, postings: Sequence[Posting]) -> list[Written]:
        self.written += [p.key for p in postings]
        return [Written(p.key, ref=f"txn-{len(self.written)}") for p in postings]

    def find(self, keys: Sequence[str]) -> dict[str, str]:
        self.looked_up += len(keys)
        return {k: f"found-{k}" for k in keys if k in self.written}

    def batch_group(self, posting: Posting) -> str:
        return ""

    def close(self) -> None:
        pass


class Site:
    """salesync on a SQLite file that can be backed up and restored, posting to ``books``."""

    def __init__(self, path: Path, merchant: DemoMerchant, books: RemoteBooks) -> None:
        self.path, self.merchant, self.books = path, merchant, books
        self.clock = ManualClock(datetime(2026, 10, 29, tzinfo=UTC))
        self._open()
        with self.factory() as session, session.begin():
            Tenants(session).add(merchant.tenant)
            for location in merchant.locations:
                Locations(session, merchant.tenant.id).add(location)

    def _open(self) -> None:
        self.db = make_engine(f"sqlite:///{self.path}")
        migrate(self.db)
        self.factory = session_factory(self.db)
        self.engine = Engine(self.factory, self.clock, destinations=lambda _t, _n: self.books)

    def backup(self, to: Path) -> None:
        self.db.dispose()
        shutil.copyfile(self.path, to)
        self._open()

    def restore(self, backup: Path) -> None:
        """The database as it was at ``backup``; the clock (and the books) carry on."""
        self.db.dispose()
        shutil.copyfile(backup, self.path)
        self._open()


@pytest.mark.parametrize("read_back", [True, False])
def test_after_a_restore_nothing_posted_since_the_backup_is_written_again(
    tmp_path: Path, merchant: DemoMerchant, read_back: bool
) -> None:
    """The backup holds day one posted and day two received but not yet sent; after it,
    day two is posted and day three received and posted. Restored, the sweeps bring day
    three in again: with the read-back window every document is in the books once; without
    it, everything posted after the backup is written twice (what the window is for)."""
    books = RemoteBooks()
    site = Site(tmp_path / "salesync.db", merchant, books)
    docs = sorted(simulate(merchant, START, 3, seed=5), key=lambda d: d.occurred_at)
    days = [[d for d in docs if d.occurred_at.date() == START + timedelta(n)] for n in range(3)]
    evening = [datetime.combine(START + timedelta(n), time(23, 30), UTC) for n in range(4)]
    deliver(site.engine, site.clock, days[0], evening[0])
    site.engine.run_until_idle("demo")
    deliver(site.engine, site.clock, days[1], evening[1] - timedelta(hours=6))
    assert all(d.id not in "".join(books.written) for d in days[1])  # waiting for 18:00
    site.backup(tmp_path / "backup.db")
    before = len(books.written)
    deliver(site.engine, site.clock, days[2], evening[2])
    site.engine.run_until_idle("demo")
    after = len(books.written)
    assert after > before

    site.restore(tmp_path / "backup.db")
    if read_back:
        ReadBack(site.factory, site.clock).start(timedelta(days=7), "the backup of day two")
    deliver(site.engine, site.clock, days[2], site.clock())  # brought back by the sweeps
    site.clock.set(evening[3])
    site.engine.run_until_idle("demo")

    twice = {key for key, n in Counter(books.written).items() if n > 1}
    assert len(set(books.written)) == len(docs)  # every document is in the books
    if read_back:
        assert twice == set()
        assert books.looked_up >= after - before
    else:
        assert twice == set(books.written[before:after])
    site.db.dispose()


def test_a_window_ends_and_can_be_closed_early(tmp_path: Path, merchant: DemoMerchant) -> None:
    """A window is open for its length only; ``end`` closes it at once; a window of no
    length is refused."""
    books = RemoteBooks()
    site = Site(tmp_path / "salesync.db", merchant, books)
    windows = ReadBack(site.factory, site.clock)
    assert windows.until() is None
    until = windows.start(timedelta(days=2))
    assert windows.until() == until == site.clock() + timedelta(days=2)
    site.clock.advance(timedelta(days=2, seconds=1))
    assert not windows.active()
    windows.start(timedelta(days=1))
    assert windows.end() == 1
    assert not windows.active()
    assert windows.end() == 0
    with pytest.raises(ValueError, match="positive length"):
        windows.start(timedelta(0))
    site.db.dispose()


def test_outside_a_window_a_first_attempt_is_not_looked_up(
    tmp_path: Path, merchant: DemoMerchant
) -> None:
    """The read-back costs a lookup per posting, so it is only made when it is needed."""
    books = RemoteBooks()
    site = Site(tmp_path / "salesync.db", merchant, books)
    docs = list(simulate(merchant, START, 1, seed=5))
    deliver(site.engine, site.clock, docs, datetime.combine(START, time(23, 30), UTC))
    site.engine.run_until_idle("demo")
    assert books.written
    assert books.looked_up == 0
    site.db.dispose()
