"""Dispatch from the database: each tenant with due work gets one task on the queue of
its most urgent part, in the order its work became due, never two waiting in one queue;
backfills go to their own queue after live work; what waits for its day to close is not
due; one dispatcher leads at a time."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
import redis
from celery import signals
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.crm.feed import PASS_EVERY
from salesync.crm.triggers import TriggerAction, Triggers
from salesync.domain.planning import PostingMode
from salesync.domain.simulate import demo_merchant, simulate
from salesync.engine.backfill import Backfills, SimulatedHistory
from salesync.engine.inbox import Inbox
from salesync.engine.planner import Planner
from salesync.engine.runner import Engine
from salesync.engine.runs import recorded
from salesync.engine.sweep import DueSweeps, Sweeper
from salesync.scale import tasks
from salesync.scale.dispatch import Dispatcher, Queue, Work, due_work, lead, marker
from salesync.store import codec
from salesync.store.repositories import Connections, Locations, Tenants
from salesync.store.vault import Vault, new_key

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


def trade(factory: sessionmaker[Session], clock: ManualClock, tenant: str) -> None:
    """A tenant with the demo merchant's locations and a day of its sales received."""
    merchant = demo_merchant(tenant, orders_per_day=3)
    with factory() as session, session.begin():
        Tenants(session).add(merchant.tenant)
        for location in merchant.locations:
            Locations(session, tenant).add(location)
        inbox = Inbox(session, tenant, clock)
        for document in simulate(merchant, NOW.date() - timedelta(days=2), 1, seed=3):
            inbox.receive("simulator", document.kind.value, json.dumps(codec.encode(document)))


def test_received_records_are_realtime_and_due_documents_scheduled(
    factory: sessionmaker[Session], clock: ManualClock
) -> None:
    """Records just received make a tenant realtime work; once taken in, its documents
    wait for their window (not due), and at the window they are scheduled work."""
    trade(factory, clock, "late")
    clock.advance(timedelta(minutes=1))
    trade(factory, clock, "early")
    with factory() as session:
        assert due_work(session, clock()).realtime == ("late", "early")
    Engine(factory, clock).take_in("late")
    with factory() as session:
        work = due_work(session, clock())
    assert (work.realtime, work.scheduled) == (("early",), ())
    clock.advance(timedelta(days=1))
    with factory() as session:
        assert due_work(session, clock()).scheduled == ("late",)


def test_a_tenant_gets_one_task_until_that_task_starts(
    factory: sessionmaker[Session], clock: ManualClock, redis_client: redis.Redis
) -> None:
    """Dispatching twice sends one task per tenant; once its task clears the marker,
    the next dispatch sends another."""
    trade(factory, clock, "shop")
    sent: list[tuple[str, tuple[Any, ...], Queue]] = []
    dispatcher = Dispatcher(factory, clock, redis_client, lambda *a: sent.append(a))
    dispatcher.dispatch()
    dispatcher.dispatch()
    assert sent == [("salesync.tick", ("shop", "realtime"), Queue.REALTIME)]
    redis_client.delete(marker(Queue.REALTIME, "tick", "shop"))
    dispatcher.dispatch()
    assert len(sent) == 2
    assert dispatcher.sent[Queue.REALTIME] == 2


def test_one_dispatcher_leads_until_its_lease_lapses(redis_client: redis.Redis) -> None:
    assert lead(redis_client, "a", seconds=0.3)
    assert not lead(redis_client, "b", seconds=0.3)
    assert lead(redis_client, "a", seconds=0.3)  # renewed by its holder
    redis_client.delete("salesync:dispatcher")
    assert lead(redis_client, "b", seconds=0.3)
    assert not lead(redis_client, "a", seconds=0.3)


def test_a_task_taken_by_a_worker_that_then_dies_is_dispatched_again(
    factory: sessionmaker[Session],
    clock: ManualClock,
    redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The marker is cleared when a worker takes the message, not when the task starts:
    a worker killed in between (its message held by Redis until the visibility timeout)
    does not keep the tenant's work from being dispatched at the next round."""
    monkeypatch.setattr(tasks, "_markers", redis_client)
    trade(factory, clock, "shop")
    sent: list[tuple[str, tuple[Any, ...], Queue]] = []
    dispatcher = Dispatcher(factory, clock, redis_client, lambda *a: sent.append(a))
    dispatcher.dispatch()
    taken = SimpleNamespace(name="salesync.tick", args=["shop", "realtime"])
    signals.task_received.send(sender=None, request=taken)
    # ... and the worker dies here, before the tick runs.
    dispatcher.dispatch()
    assert [args for _, args, _ in sent] == [("shop", "realtime"), ("shop", "realtime")]
    other = SimpleNamespace(name="celery.ping", args=["shop"])
    signals.task_received.send(sender=None, request=other)
    dispatcher.dispatch()
    assert len(sent) == 2  # the second task's marker stands until a worker takes it


def test_a_daily_summary_waiting_for_its_day_to_close_is_not_dispatched_until_it_goes(
    factory: sessionmaker[Session], clock: ManualClock, redis_client: redis.Redis
) -> None:
    """Today's sales of daily-summary locations are dispatched once at their window (the
    tick finds their day open); then not at all until the first window after a location's
    day closes (06:00 local), when the tick posts that location's summary."""
    merchant = demo_merchant("summary", orders_per_day=3)
    with factory() as session, session.begin():
        Tenants(session).add(merchant.tenant)
        for location in merchant.locations:
            Locations(session, "summary").add(location)
        planner = Planner(session, "summary", merchant.locations, clock)
        for location in merchant.locations:
            planner.set_mode(location.id, PostingMode.DAILY_SUMMARY)
        inbox = Inbox(session, "summary", clock)
        for document in simulate(merchant, NOW.date(), 1, seed=3):
            inbox.receive("simulator", document.kind.value, json.dumps(codec.encode(document)))
    engine = Engine(factory, clock)
    engine.take_in("summary")
    sent: list[tuple[str, tuple[Any, ...], Queue]] = []
    dispatcher = Dispatcher(factory, clock, redis_client, lambda *a: sent.append(a))

    def dispatched() -> bool:
        redis_client.delete(marker(Queue.SCHEDULED, "tick", "summary"))  # as if it started
        before = len(sent)
        dispatcher.dispatch()
        return len(sent) > before

    clock.set(datetime(2026, 3, 10, 22, 1, tzinfo=UTC))  # both windows (18:00 local) passed
    assert dispatched()
    assert (
        engine.tick("summary").planned == 0
    )  # London's summary goes at 06:00, New York's at 10:00
    assert not dispatched()
    clock.set(datetime(2026, 3, 11, tzinfo=UTC))  # London's day has closed: its window is next
    assert not dispatched()
    clock.set(datetime(2026, 3, 11, 5, 59, 59, tzinfo=UTC))
    assert not dispatched()
    clock.set(datetime(2026, 3, 11, 6, tzinfo=UTC))  # London's first window after its day
    assert dispatched()
    assert engine.tick("summary").sent.posted >= 1
    assert not dispatched()
    clock.set(datetime(2026, 3, 11, 9, 59, 59, tzinfo=UTC))
    assert not dispatched()
    clock.set(datetime(2026, 3, 11, 10, tzinfo=UTC))  # New York's (06:00 EDT)
    assert dispatched()
    assert engine.tick("summary").sent.posted >= 1
    with factory() as session:
        assert due_work(session, clock()) == Work()


def test_backfills_go_to_their_own_queue_after_live_work(
    factory: sessionmaker[Session], clock: ManualClock, redis_client: redis.Redis
) -> None:
    """A running backfill's next window and the intake of what it brought are sent to the
    backfill queue, after the round's live work; a tick waiting there does not keep the
    same tenant's live records from their own realtime tick. Done backfills are not sent."""
    trade(factory, clock, "live")
    with factory() as session, session.begin():
        Tenants(session).add(demo_merchant("old").tenant)
        Inbox(session, "old", clock).receive("simulator", "customer", "{}", origin="backfill")
    backfills = Backfills(factory, clock)
    job = backfills.start("old", "simulator", NOW.date() - timedelta(days=9), NOW.date())
    done = backfills.start("old", "simulator", NOW.date(), NOW.date())
    backfills.run(done, SimulatedHistory(demo_merchant("old"), NOW.date(), NOW.date()))
    sent: list[tuple[str, tuple[Any, ...], Queue]] = []
    dispatcher = Dispatcher(factory, clock, redis_client, lambda *a: sent.append(a))
    work = dispatcher.dispatch()
    assert (work.realtime, work.backfill, work.backfills) == (("live",), ("old",), (job,))
    assert sent == [
        ("salesync.tick", ("live", "realtime"), Queue.REALTIME),
        ("salesync.tick", ("old", "backfill"), Queue.BACKFILL),
        ("salesync.backfill", (job,), Queue.BACKFILL),
    ]
    with factory() as session, session.begin():
        Inbox(session, "old", clock).receive("simulator", "customer", '{"live": 1}')
    dispatcher.dispatch()
    assert sent[3:] == [("salesync.tick", ("old", "realtime"), Queue.REALTIME)]


def test_source_connections_due_a_sweep_get_a_sweep_task_once(
    factory: sessionmaker[Session], clock: ManualClock, redis_client: redis.Redis
) -> None:
    """The dispatcher sends each source connection's periodic sweep to the scheduled
    queue, once per interval; a worker taking the message clears its marker."""
    vault = Vault([new_key()])
    with factory() as session, session.begin():
        Tenants(session).add(demo_merchant("shop").tenant)
        connection = Connections(session, "shop", vault).add(
            "shopify", "source", "Main shop", {"access_token": "t"}, {"shop": "main"}
        )
    sweeps = DueSweeps(Sweeper(factory, clock, vault), timedelta(minutes=15))
    sent: list[tuple[str, tuple[Any, ...], Queue]] = []
    dispatcher = Dispatcher(factory, clock, redis_client, lambda *a: sent.append(a), sweeps=sweeps)
    dispatcher.dispatch()
    dispatcher.dispatch()
    assert sent == [("salesync.sweep", ("shop", connection), Queue.SCHEDULED)]
    key = tasks.marker_of("salesync.sweep", ["shop", connection])
    assert key == marker(Queue.SCHEDULED, "sweep", connection)
    assert redis_client.exists(key)
    clock.advance(timedelta(minutes=15))  # never swept (the task was lost): tried again
    redis_client.delete(key)
    dispatcher.dispatch()
    assert len(sent) == 2


def test_a_quiet_tenant_with_crm_follow_ups_gets_a_tick_for_them(
    factory: sessionmaker[Session], clock: ManualClock, redis_client: redis.Redis
) -> None:
    """A tenant with nothing in the database due but an active CRM trigger (whose sales
    come due with time alone) gets a scheduled tick when its CRM pass is old, once; a
    tenant without CRM work gets none."""
    for tenant in ("quiet", "plain"):
        merchant = demo_merchant(tenant, orders_per_day=3)
        with factory() as session, session.begin():
            Tenants(session).add(merchant.tenant)
    with factory() as session, session.begin():
        Triggers(session, "quiet", clock).add("Thank you", TriggerAction.THANK_YOU.value, 7)
    sent: list[tuple[str, tuple[Any, ...], Queue]] = []
    dispatcher = Dispatcher(factory, clock, redis_client, lambda *a: sent.append(a))
    dispatcher.dispatch()
    assert sent == [("salesync.tick", ("quiet", "scheduled"), Queue.SCHEDULED)]
    redis_client.delete(marker(Queue.SCHEDULED, "tick", "quiet"))
    with recorded(factory, clock, "crm", "quiet"):
        pass  # the tick's CRM pass
    clock.advance(timedelta(minutes=5))
    dispatcher.dispatch()
    assert len(sent) == 1  # its pass is recent
    clock.advance(PASS_EVERY)
    dispatcher.dispatch()
    assert sent[1:] == [("salesync.tick", ("quiet", "scheduled"), Queue.SCHEDULED)]


def test_a_task_that_could_not_be_sent_leaves_no_marker(
    factory: sessionmaker[Session], clock: ManualClock, redis_client: redis.Redis
) -> None:
    """A send that fails (the broker away) takes its marker back, so the next round sends
    the tenant's task instead of waiting for the marker to lapse."""
    trade(factory, clock, "shop")
    sent: list[tuple[str, tuple[Any, ...], Queue]] = []
    failing = True

    def send(*task: Any) -> None:
        if failing:
            raise ConnectionError("the broker is restarting")
        sent.append(task)

    dispatcher = Dispatcher(factory, clock, redis_client, send)
    with pytest.raises(ConnectionError):
        dispatcher.dispatch()
    assert not redis_client.exists(marker(Queue.REALTIME, "tick", "shop"))
    failing = False
    dispatcher.dispatch()
    assert sent == [("salesync.tick", ("shop", "realtime"), Queue.REALTIME)]


def test_a_marker_whose_task_was_lost_lapses_within_a_minute(
    factory: sessionmaker[Session], clock: ManualClock, redis_client: redis.Redis
) -> None:
    """A marker set for a task no worker ever takes (lost with the worker that held it)
    stands at most a minute: then the tenant is dispatched again."""
    dispatcher = Dispatcher(factory, clock, redis_client, lambda *a: None)
    trade(factory, clock, "shop")
    dispatcher.dispatch()
    ttl = redis_client.ttl(marker(Queue.REALTIME, "tick", "shop"))
    assert 0 < int(ttl) <= 60


def test_a_tenant_whose_tick_fails_rests_longer_each_time_in_a_row(
    factory: sessionmaker[Session], clock: ManualClock, redis_client: redis.Redis
) -> None:
    """A failing tick keeps its tenant from being dispatched for 1 s, then 2 s, 4 s... (its
    markers held), instead of a failed run every round; a tick that succeeds starts the
    count again."""
    trade(factory, clock, "shop")
    broken = True

    class Ticking:
        def tick(self, tenant_id: str) -> Any:
            if broken:
                raise RuntimeError("a fault in salesync")
            return SimpleNamespace(normalized=0, planned=0, sent=SimpleNamespace(posted=0))

    here = SimpleNamespace(redis=redis_client, engine=Ticking())
    sent: list[tuple[str, tuple[Any, ...], Queue]] = []
    dispatcher = Dispatcher(factory, clock, redis_client, lambda *a: sent.append(a))
    rests = []
    for _ in range(3):
        with pytest.raises(RuntimeError):
            tasks.ticked(here, "shop", "realtime")
        rests.append(redis_client.ttl(marker(Queue.SCHEDULED, "tick", "shop")))
    assert rests == [1, 2, 4]
    dispatcher.dispatch()
    assert sent == []  # resting
    broken = False
    tasks.ticked(here, "shop", "realtime")
    assert not redis_client.exists(tasks.failing("shop"))
    broken = True
    assert tasks.rest(redis_client, "shop") == 1
    assert tasks.rest(redis_client, "shop") == 2
