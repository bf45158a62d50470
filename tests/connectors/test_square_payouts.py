"""Square payouts that fail: a payout the bank refuses after salesync read it comes again as
its failed version, and the payout that pays its money out again says so, through the
sandbox and the real intake into the books."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from contract import sweep_stream
from contract import take_in_one_by_one as one_by_one
from sqlalchemy.orm import Session, sessionmaker
from square_harness import TENANT, SquareWorld, sell_at, set_up, square_world

from salesync.connectors.ledger.books import LedgerBooks
from salesync.connectors.source import SourceRecord
from salesync.connectors.square import SquareSource
from salesync.connectors.square.client import SquareClient
from salesync.domain.documents import Payout
from salesync.domain.postings import DEFAULT_PLAN
from salesync.domain.validation import validate_payout
from salesync.engine.runner import Engine
from salesync.store.vault import Vault, new_key

BANK = DEFAULT_PLAN.bank


def no_wait(_: float) -> None:
    return None


@pytest.fixture
def world() -> Iterator[SquareWorld]:
    with square_world(seed=5) as fresh:
        yield fresh


def payouts(world: SquareWorld, records: list[SourceRecord]) -> dict[str, Payout]:
    """The payouts among ``records`` by Square id, translated (the last version wins)."""
    context = world.connection().context("square")
    found: dict[str, Payout] = {}
    for record in records:
        if record.record_type != "payout":
            continue
        payout = SquareSource().translate(record.record_type, record.payload, context)
        assert isinstance(payout, Payout)
        found[json.loads(record.payload)["payout"]["id"]] = payout
    return found


def client(world: SquareWorld) -> SquareClient:
    return SquareSource(sleep=no_wait).connect(world.connection(), world.transport)


def test_a_payout_that_fails_after_it_was_read_comes_again_failed(world: SquareWorld) -> None:
    """The next pass gives the failed version of a payout an earlier pass gave (it was
    created before that pass's mark), and the next payout pays its money out again."""
    location = world.location_ids[0]
    sell_at(world, location, timedelta(hours=1))
    sell_at(world, location, timedelta(days=1))
    source = client(world)
    records, cursor = sweep_stream(source.fetch, "payouts", None)
    (first_id,) = payouts(world, records)
    first = payouts(world, records)[first_id]
    assert not first.failed

    world.clock.set(world.clock() + timedelta(days=2))
    world.activity.payouts.fail(first_id)
    sell_at(world, location, timedelta(hours=1))
    sell_at(world, location, timedelta(days=1))
    records, cursor = sweep_stream(source.fetch, "payouts", cursor)
    read = payouts(world, records)
    assert read[first_id].failed
    assert read[first_id].id == first.id
    assert read[first_id].net == first.net
    (again,) = (p for p in read.values() if p.returned)
    assert again.returned == first.net
    assert validate_payout(again) == []
    assert again.net == again.gross - again.fees + first.net

    # Read again by every later pass while it is recent; the inbox drops what it has.
    records, _ = sweep_stream(source.fetch, "payouts", cursor)
    assert [json.loads(r.payload)["payout"]["id"] for r in records] == [first_id]
    assert [r.event_id for r in records] == [f"payout:{first_id}:v2"]


def test_a_failure_of_a_payout_posted_before_takes_its_deposit_out_of_the_bank(
    factory: sessionmaker[Session], world: SquareWorld
) -> None:
    """Through the real intake: the failed version adjusts the books, and the payout that
    pays the money out again puts it back in the bank; the bank holds each deposit once."""
    connection = set_up(factory, world, Vault([new_key()]))
    location = world.location_ids[0]
    sell_at(world, location, timedelta(hours=1))
    sell_at(world, location, timedelta(days=1))
    source = client(world)
    engine = Engine(factory, world.clock)
    clock = world.clock

    def books() -> int:
        with factory() as session:
            rows = LedgerBooks(session, TENANT).trial_balance()
        return sum(r.balance.to_minor() for r in rows if r.account == BANK)

    records, cursor = sweep_stream(source.fetch, "orders", None)
    more, payouts_at = sweep_stream(source.fetch, "payouts", None)
    one_by_one(engine, TENANT, "square", connection.connection_id, [*records, *more])
    clock.advance(timedelta(days=1))
    engine.run_until_idle(TENANT)
    (first,) = payouts(world, more).values()
    assert books() == first.net.to_minor()

    world.clock.set(world.clock() + timedelta(days=2))
    (first_id,) = payouts(world, more)
    world.activity.payouts.fail(first_id)
    failed, payouts_at = sweep_stream(source.fetch, "payouts", payouts_at)
    one_by_one(engine, TENANT, "square", connection.connection_id, failed)
    clock.advance(timedelta(days=1))
    engine.run_until_idle(TENANT)
    assert books() == 0

    sell_at(world, location, timedelta(hours=1))
    sell_at(world, location, timedelta(days=1))
    records, cursor = sweep_stream(source.fetch, "orders", cursor)
    more, payouts_at = sweep_stream(source.fetch, "payouts", payouts_at)
    one_by_one(engine, TENANT, "square", connection.connection_id, [*records, *more])
    clock.advance(timedelta(days=1))
    engine.run_until_idle(TENANT)
    deposits = [p for p in payouts(world, more).values() if not p.failed]
    assert books() == sum(p.net.to_minor() for p in deposits)
    assert any(p.returned for p in deposits)
