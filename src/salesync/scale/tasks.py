"""salesync's work as Celery tasks on Redis: the runner for more than one process.

Chosen by ``broker_url`` (``SALESYNC_BROKER_URL``); ``salesync worker --celery`` runs a
worker. A task is a tenant's tick (take in, plan, send): keyed by the tenant, read from
the database and committed as it goes, so running it twice, or after a worker died in
the middle of it, loses and doubles nothing (the outbox's keys and read-back see to the
postings). Tasks are acknowledged late and given back to the broker when their worker
is lost, so a killed worker's task runs again elsewhere.

Two queues keep live work from waiting behind the rest: ``realtime`` (records just
received) and ``scheduled`` (documents whose sync window opened, postings due). One
dispatcher (any worker holding the lease, ``dispatch.lead``) sends the due work; every
worker shares each provider account's rate limits through the same Redis.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass
from typing import Any

import structlog
from celery import Celery, signals
from kombu.entity import Exchange
from kombu.entity import Queue as KombuQueue
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import system_clock
from salesync.config import Settings, load_settings
from salesync.engine.runner import Engine, Ticking
from salesync.scale.budget import share_through, shared_in
from salesync.scale.dispatch import Dispatcher, Queue, lead, marker
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


_process: Process | None = None


def process() -> Process:
    """This worker process's engine, built on first use (after the fork)."""
    global _process  # noqa: PLW0603 -- one per worker process
    if _process is None:
        from salesync.engine.wiring import configured_engine  # noqa: PLC0415 -- heavy

        cfg = load_settings()
        factory = session_factory(make_engine(cfg.database))
        redis = shared_in(str(cfg.broker_url))
        share_through(redis)
        _process = Process(cfg, factory, configured_engine(cfg, factory, system_clock), redis)
    return _process


asked_to_stop = threading.Event()
"""Set when the worker is told to stop (SIGTERM, Ctrl-C); a worker that ends without it
ended on its own."""


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
    """A tick's marker is cleared as soon as a worker takes its message, before it runs.

    A worker killed between taking a message and finishing it leaves the message with
    Redis until the visibility timeout; with the marker already gone the dispatcher
    sends the tenant's work again at its next round instead of waiting for the marker
    to expire (the late message, when Redis gives it back, is one more harmless tick)."""
    if request.name != "salesync.tick" or not request.args:
        return
    try:
        _marker_client().delete(marker("tick", str(request.args[0])))
    except Exception as exc:  # Redis away: the marker expires on its own
        log.warning("marker_not_cleared", reason=str(exc))


@app.task(name="salesync.tick", acks_late=True)  # type: ignore[untyped-decorator]
def tick(tenant_id: str) -> dict[str, int]:
    """One tenant's take in, plan and send. Its dispatch marker was cleared when the
    message was taken (and is again here), so work that arrives meanwhile is dispatched
    again."""
    here = process()
    here.redis.delete(marker("tick", tenant_id))
    report = here.engine.tick(tenant_id)
    return {
        "normalized": report.normalized,
        "planned": report.planned,
        "posted": report.sent.posted,
    }


def send_task(name: str, args: tuple[Any, ...], queue: Queue) -> None:
    app.send_task(name, args=args, queue=queue.value, routing_key=queue.value)


def dispatch_loop(
    stop: threading.Event, interval: float = 1.0, support: Ticking | None = None
) -> None:
    """Dispatch every ``interval`` seconds while this process holds the lease, until
    ``stop`` is set, and run ``support`` (the support loop's timed work) after each
    round. A failed round (the database or Redis away for a moment) is logged and the
    next round tries again: the work waits in the database meanwhile."""
    me = f"{socket.gethostname()}:{os.getpid()}"
    here = process()
    sender = Dispatcher(here.factory, system_clock, here.redis, send_task)
    while not stop.is_set():
        try:
            if lead(here.redis, me, seconds=max(5.0, interval * 5)):
                sender.dispatch()
                if support is not None:
                    support.tick()
        except Exception as exc:  # any failure: the next round tries again
            log.warning("dispatch_failed", reason=str(exc))
        stop.wait(interval)
