"""salesync's work as Celery tasks on Redis: the runner for more than one process.

Chosen by ``broker_url`` (``SALESYNC_BROKER_URL``); ``salesync worker --celery`` runs a
worker. A task is a tenant's tick (take in, plan, send): keyed by the tenant, read from
the database and committed as it goes, so running it twice, or after a worker died in
the middle of it, loses and doubles nothing (the outbox's keys and read-back see to the
postings). Tasks are acknowledged late and given back to the broker when their worker
is lost, so a killed worker's task runs again elsewhere.

Three queues keep live work from waiting behind the rest: ``realtime`` (records just
received), ``scheduled`` (documents whose sync window opened, postings due) and
``backfill`` (a backfill's next window, the intake of what it brought); a worker can
take from some of them only (``--queues``). One dispatcher (any worker holding the
lease, ``dispatch.lead``) sends the due work; every worker shares each provider
account's rate limits through the same Redis.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from celery import Celery, signals
from kombu.entity import Exchange
from kombu.entity import Queue as KombuQueue
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import system_clock
from salesync.config import Settings, load_settings
from salesync.engine.backfill import Backfills
from salesync.engine.history import run_window
from salesync.engine.runner import Engine, Ticking
from salesync.engine.sweep import DueSweeps, Sweeper
from salesync.runtime import settle_heap
from salesync.scale.budget import share_through, shared_in
from salesync.scale.dispatch import LEADER, Dispatcher, Queue, lead, marker
from salesync.store.database import make_engine, session_factory

log = structlog.get_logger("salesync.scale")

VISIBILITY_SECONDS = 600
"""How long a task taken by a worker that vanished without a word stays invisible before
Redis gives it to another worker (longer than any tick)."""


class SalesyncCelery(Celery):  # type: ignore[misc]
    """Configured from salesync's settings when first used, not at import."""

    def on_configure(self) -> None:
        self.conf.update(configuration(load_settings()))


def configuration(cfg: Settings) -> dict[str, Any]:
    """Celery's settings for salesync's workers."""
    if not cfg.broker_url:
        raise RuntimeError("set broker_url (SALESYNC_BROKER_URL) to run Celery workers")
    return {
        "broker_url": cfg.broker_url,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {"visibility_timeout": VISIBILITY_SECONDS},
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_ignore_result": True,
        "worker_prefetch_multiplier": 1,
        "worker_hijack_root_logger": False,
        "task_default_queue": Queue.SCHEDULED.value,
        # Each queue its own exchange and key: a task sent to one lands in that one only.
        "task_queues": [
            KombuQueue(q.value, Exchange(q.value, type="direct"), routing_key=q.value)  # type: ignore[no-untyped-call]
            for q in Queue
        ],
        "task_serializer": "json",
        "accept_content": ["json"],
    }


app = SalesyncCelery("salesync")


@dataclass
class Process:
    """What one worker process keeps between tasks: the database and the engine."""

    settings: Settings
    factory: sessionmaker[Session]
    engine: Engine
    redis: Any
    backfills: Backfills
    sweeper: Sweeper
    sweeps: DueSweeps


_process: Process | None = None


def process() -> Process:
    """This worker process's engine, built on first use (after the fork)."""
    global _process  # noqa: PLW0603 -- one per worker process
    if _process is None:
        from salesync.engine.wiring import (  # noqa: PLC0415 -- heavy
            configured_engine,
            sweeper,
        )

        cfg = load_settings()
        factory = session_factory(make_engine(cfg.database, cfg.pool()))
        redis = shared_in(str(cfg.broker_url))
        share_through(redis)
        _process = Process(
            cfg,
            factory,
            configured_engine(cfg, factory, system_clock),
            redis,
            Backfills(factory, system_clock),
            swept := sweeper(cfg, factory, system_clock),
            DueSweeps(swept, timedelta(minutes=cfg.sweep_every_minutes)),
        )
    return _process


asked_to_stop = threading.Event()
"""Set when the worker is told to stop (SIGTERM, Ctrl-C); a worker that ends without it
ended on its own."""


@signals.worker_init.connect  # type: ignore[untyped-decorator]
@signals.worker_process_init.connect  # type: ignore[untyped-decorator]
def _settle(**_: Any) -> None:
    """The worker's heap is settled once it has started (each forked process's too)."""
    settle_heap()


@signals.worker_shutting_down.connect  # type: ignore[untyped-decorator]
def _asked(**_: Any) -> None:
    asked_to_stop.set()


@signals.worker_process_shutdown.connect  # type: ignore[untyped-decorator]
def _forget(**_: Any) -> None:
    global _process  # noqa: PLW0603 -- one per worker process
    _process = None


_markers: Any = None


def _marker_client() -> Any:
    """A Redis client for clearing markers in the worker's consumer, which must not wait
    for the engine ``process()`` builds."""
    global _markers  # noqa: PLW0603 -- one per worker process
    if _markers is None:
        _markers = shared_in(str(app.conf.broker_url))
    return _markers


@signals.task_received.connect  # type: ignore[untyped-decorator]
def _taken(request: Any, **_: Any) -> None:
    """A task's marker is cleared as soon as a worker takes its message, before it runs.

    A worker killed between taking a message and finishing it leaves the message with
    Redis until the visibility timeout; with the marker already gone the dispatcher
    sends the tenant's work again at its next round instead of waiting for the marker
    to expire (the late message, when Redis gives it back, is one more harmless tick)."""
    key = marker_of(request.name, list(request.args or ()))
    if key is None:
        return
    try:
        _marker_client().delete(key)
    except Exception as exc:  # Redis away: the marker expires on its own
        log.warning("marker_not_cleared", reason=str(exc))


def marker_of(task: str, args: list[Any]) -> str | None:
    """The dispatch marker a task's message stands for (``None`` for other tasks)."""
    if task == "salesync.tick" and args:
        queue = Queue(args[1]) if len(args) > 1 else Queue.REALTIME
        return marker(queue, "tick", str(args[0]))
    if task == "salesync.backfill" and args:
        return marker(Queue.BACKFILL, "backfill", str(args[0]))
    if task == "salesync.sweep" and len(args) > 1:
        return marker(Queue.SCHEDULED, "sweep", str(args[1]))
    return None


@app.task(name="salesync.tick", acks_late=True)  # type: ignore[untyped-decorator]
def tick(tenant_id: str, queue: str = Queue.REALTIME.value) -> dict[str, int]:
    """One tenant's take in, plan and send. Its dispatch marker on ``queue`` was cleared
    when the message was taken (and is again here), so work that arrives meanwhile is
    dispatched again."""
    return ticked(process(), tenant_id, queue)


def ticked(here: Any, tenant_id: str, queue: str) -> dict[str, int]:
    """The tick task's work in ``here`` (the worker's process): a tick that fails rests
    its tenant (``rest``), one that succeeds ends the rest's count."""
    here.redis.delete(marker(Queue(queue), "tick", tenant_id))
    try:
        report = here.engine.tick(tenant_id)
    except Exception:
        rest(here.redis, tenant_id)
        raise
    here.redis.delete(failing(tenant_id))
    return {
        "normalized": report.normalized,
        "planned": report.planned,
        "posted": report.sent.posted,
    }


REST_MAX_SECONDS = 300


def failing(tenant_id: str) -> str:
    """The Redis key counting a tenant's ticks that failed in a row."""
    return f"salesync:failing:{tenant_id}"


def rest(redis: Any, tenant_id: str) -> int:
    """After a failed tick, keep the tenant from being dispatched for a while: 1 s, then
    twice as long after each failure in a row, up to ``REST_MAX_SECONDS``; returns the
    seconds. The failure is in the runs table and an incident already; without a rest a
    tenant whose tick fails (the database away, a fault in salesync) would be sent again
    at every round, writing a failed run each time. The rest is the tenant's dispatch
    markers set for that long, which the dispatcher already honours."""
    count = int(redis.incr(failing(tenant_id)))
    redis.expire(failing(tenant_id), 3600)
    seconds = min(1 << min(count - 1, 16), REST_MAX_SECONDS)
    for queue in Queue:
        redis.set(marker(queue, "tick", tenant_id), 1, ex=seconds)
    return seconds


@app.task(name="salesync.backfill", acks_late=True)  # type: ignore[untyped-decorator]
def backfill(job_id: int) -> dict[str, int]:
    """One window of a running backfill; what it brought is taken in by a tick on the
    backfill queue, which the dispatcher sends next."""
    here = process()
    here.redis.delete(marker(Queue.BACKFILL, "backfill", str(job_id)))
    progress = run_window(here.backfills, here.sweeper, job_id)
    if progress is None:
        return {"records": 0, "days_done": 0}
    return {"records": progress.records, "days_done": progress.days_done}


@app.task(name="salesync.sweep", acks_late=True)  # type: ignore[untyped-decorator]
def sweep(tenant_id: str, connection_id: str) -> dict[str, int]:
    """One source connection's periodic sweep (a failure is an incident of it); what it
    brought is taken in by the tenant's realtime tick, which the dispatcher sends next."""
    here = process()
    here.redis.delete(marker(Queue.SCHEDULED, "sweep", connection_id))
    report = here.sweeps.sweep(tenant_id, connection_id)
    return {"records": report.records if report is not None else 0}


def send_task(name: str, args: tuple[Any, ...], queue: Queue) -> None:
    app.send_task(name, args=args, queue=queue.value, routing_key=queue.value)


def dispatch_loop(
    stop: threading.Event, interval: float = 1.0, support: Ticking | None = None
) -> None:
    """Dispatch every ``interval`` seconds while this process holds the lease, until
    ``stop`` is set; ``support`` (the support loop's timed work) runs beside it on a thread
    of its own. A failed round (the database or Redis away for a moment) is logged and the
    next round tries again: the work waits in the database meanwhile."""
    me = f"{socket.gethostname()}:{os.getpid()}"
    here = process()
    sender = Dispatcher(
        here.factory,
        system_clock,
        here.redis,
        send_task,
        sweeps=here.sweeps if here.settings.sweep_every_minutes else None,
    )
    beside: threading.Thread | None = None
    if support is not None:
        beside = threading.Thread(
            target=support_loop,
            args=(stop, interval, support, me),
            name="support",
            daemon=True,
        )
        beside.start()
    while not stop.is_set():
        try:
            if lead(here.redis, me, seconds=max(5.0, interval * 5)):
                sender.dispatch()
        except Exception as exc:  # any failure: the next round tries again
            log.warning("dispatch_failed", reason=str(exc))
        stop.wait(interval)
    if beside is not None:
        beside.join(timeout=10)


def support_loop(stop: threading.Event, interval: float, support: Ticking, me: str) -> None:
    """Run ``support`` every ``interval`` seconds while this process is the dispatcher.

    Apart from dispatch because one pass goes over every tenant: with thousands of them
    it takes minutes, and dispatch waiting for it would open no window meanwhile."""
    here = process()
    while not stop.is_set():
        try:
            if here.redis.get(LEADER) == me.encode():
                support.tick()
        except Exception as exc:  # each part logs its own; the next pass tries again
            log.warning("support_failed", reason=str(exc))
        stop.wait(interval)
