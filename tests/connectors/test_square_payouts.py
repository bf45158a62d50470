"""Square payouts that fail: a payout the bank returns after salesync read it (and after
newer payouts moved the sweep past it) comes again as its failed version, once; the
payout that pays its money out again says so; through the sandbox and the real intake
into the books."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
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


def client(world: SquareWorld, **settings: object) -> SquareClient:
    return SquareSource(sleep=no_wait).connect(world.connection(**settings), world.transport)


def quiet_passes(world: SquareWorld, source: SquareClient, cursor: str | None, n: int) -> None:
    """``n`` payouts passes that give nothing and read no payout whole (its entries)."""
    for _ in range(n):
        world.transport.asked.clear()
        records, cursor = sweep_stream(source.fetch, "payouts", cursor)
        assert records == []
        assert not [p for p in world.transport.asked if p.endswith("/payout-entries")]


def two_days_of_payouts(world: SquareWorld, location: str) -> None:
    """A card sale a day for two days, and the payout of each."""
    for _ in range(2):
        sell_at(world, location, timedelta(hours=1))
        sell_at(world, location, timedelta(days=1))


def test_a_payout_that_fails_after_the_sweep_moved_past_it_comes_again_failed_once(
    world: SquareWorld,
) -> None:
    """The payout read two passes ago, behind the mark newer payouts moved, is given again
    as its failed version by the next pass, and never again by the passes after, which
    do not read it whole again."""
    location = world.location_ids[0]
    two_days_of_payouts(world, location)
    source = client(world)
    records, cursor = sweep_stream(source.fetch, "payouts", None)
    read = payouts(world, records)
    assert len(read) == 2
    first_id = min(read, key=lambda i: read[i].occurred_at)
    first = read[first_id]
    assert not first.failed

    world.clock.set(world.clock() + timedelta(days=2))
    world.activity.payouts.fail(first_id)
    sell_at(world, location, timedelta(hours=1))
    sell_at(world, location, timedelta(days=1))
    records, cursor = sweep_stream(source.fetch, "payouts", cursor)
    read = payouts(world, records)
    assert read[first_id].failed_at is not None
    assert read[first_id].id == first.id
    assert read[first_id].net == first.net
    (again,) = (p for p in read.values() if p.returned)
    assert again.returned == first.net
    assert validate_payout(again) == []
    assert again.net == again.gross - again.fees + first.net

    quiet_passes(world, source, cursor, 3)


def test_the_first_pass_reads_a_failure_of_a_payout_from_before_the_connection(
    world: SquareWorld,
) -> None:
    """A payout created before ``sweep_since`` (a backfill imported it) that fails is
    read by the first pass, which lists from ``sweep_since``; once, like any failure."""
    location = world.location_ids[0]
    two_days_of_payouts(world, location)
    early, late = sorted(world.seller.data.payouts.values(), key=lambda p: p.created_at)
    world.activity.payouts.fail(early.id)
    source = client(world, sweep_since=(early.created_at + timedelta(hours=1)).isoformat())
    records, cursor = sweep_stream(source.fetch, "payouts", None)
    read = payouts(world, records)
    assert set(read) == {early.id, late.id}
    assert read[early.id].failed
    assert not read[late.id].failed
    records, _ = sweep_stream(source.fetch, "payouts", cursor)
    assert records == []


def test_a_failure_of_a_payout_posted_before_takes_its_deposit_out_of_the_bank(
    factory: sessionmaker[Session], world: SquareWorld
) -> None:
    """Through the real intake: the failed version, read after newer payouts, adjusts
    the books; the payout that pays the money out again puts it back in the bank; the
    bank holds each deposit once."""
    connection = set_up(factory, world, Vault([new_key()]))
    location = world.location_ids[0]
    two_days_of_payouts(world, location)
    source = client(world)
    engine = Engine(factory, world.clock)
    clock = world.clock

    def bank() -> int:
        with factory() as session:
            rows = LedgerBooks(session, TENANT).trial_balance()
        return sum(r.balance.to_minor() for r in rows if r.account == BANK)

    def take_in(*records: list[SourceRecord]) -> None:
        one_by_one(engine, TENANT, "square", connection.connection_id, [*records[0], *records[1]])
        clock.advance(timedelta(days=1))
        engine.run_until_idle(TENANT)

    orders, orders_at = sweep_stream(source.fetch, "orders", None)
    read, payouts_at = sweep_stream(source.fetch, "payouts", None)
    take_in(orders, read)
    paid = payouts(world, read)
    assert bank() == sum(p.net.to_minor() for p in paid.values())
    first_id = min(paid, key=lambda i: paid[i].occurred_at)

    world.clock.set(world.clock() + timedelta(days=2))
    world.activity.payouts.fail(first_id)
    failed, payouts_at = sweep_stream(source.fetch, "payouts", payouts_at)
    assert list(payouts(world, failed)) == [first_id]
    take_in([], failed)
    assert bank() == sum(p.net.to_minor() for i, p in paid.items() if i != first_id)

    sell_at(world, location, timedelta(hours=1))
    sell_at(world, location, timedelta(days=1))
    orders, orders_at = sweep_stream(source.fetch, "orders", orders_at)
    more, payouts_at = sweep_stream(source.fetch, "payouts", payouts_at)
    take_in(orders, more)
    later = payouts(world, more)
    (again,) = (p for p in later.values() if p.returned)
    assert again.returned == paid[first_id].net
    every = {**paid, first_id: replace(paid[first_id], failed_at=clock()), **later}
    assert bank() == sum(p.net.to_minor() for p in every.values() if not p.failed)
    assert (
        bank()
        == sum(p.net.to_minor() for p in paid.values())
        + sum(p.net.to_minor() for p in later.values())
        - paid[first_id].net.to_minor()
    )


def test_a_payout_failed_when_first_read_is_not_given_again_once_the_mark_passes_it(
    world: SquareWorld,
) -> None:
    """Read already failed by the listing from the mark, then behind the mark newer payouts
    moved: the failure listing of later passes does not give it again."""
    location = world.location_ids[0]
    two_days_of_payouts(world, location)
    failing = max(world.seller.data.payouts.values(), key=lambda p: p.created_at)
    world.activity.payouts.fail(failing.id)
    for _ in range(2):
        sell_at(world, location, timedelta(hours=1))
        sell_at(world, location, timedelta(days=1))
    source = client(world)
    records, cursor = sweep_stream(source.fetch, "payouts", None)
    assert payouts(world, records)[failing.id].failed
    quiet_passes(world, source, cursor, 2)
