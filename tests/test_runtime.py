"""The process settles its heap at start, so collections skip what lives until it ends."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from celery import signals
from celery.utils.dispatch import Signal

from salesync.cli import app as cli
from salesync.runtime import YOUNGEST, settle_heap
from salesync.scale import tasks


@pytest.fixture
def unfrozen() -> Iterator[None]:
    threshold = gc.get_threshold()
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_settling_leaves_what_is_alive_out_of_collections(unfrozen: None) -> None:
    kept = {"lives": ["as long as the process"]}
    assert gc.get_freeze_count() == 0
    frozen = settle_heap()
    assert frozen == gc.get_freeze_count() > 0
    assert gc.is_tracked(kept)
    assert all(kept is not o for o in gc.get_objects())  # frozen: no generation holds it


def test_settling_collects_the_youngest_generation_less_often(unfrozen: None) -> None:
    gc.set_threshold(700, 10, 10)
    settle_heap()
    assert gc.get_threshold() == (YOUNGEST, 10, 10)


def test_the_command_settles_its_heap_before_it_runs(
    unfrozen: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    monkeypatch.setattr(cli, "app", lambda: seen.append(gc.get_freeze_count()))
    cli.main()
    assert len(seen) == 1
    assert seen[0] > 0


@pytest.mark.parametrize("started", [signals.worker_init, signals.worker_process_init])
def test_a_worker_settles_its_heap_once_started(unfrozen: None, started: Signal) -> None:
    assert tasks.app is not None  # the receivers are connected by importing the tasks
    started.send(sender=None)
    assert gc.get_freeze_count() > 0
