"""Call budgets shared in Redis: worker processes together never exceed one account's
limits, a 429 pauses every one of them, the provider's own count is adopted, a killed
worker's place comes back, and an unreachable Redis is a transient failure."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from salesync.connectors.pacing import CallBudget, Limits, budget_for, share_budgets
from salesync.domain.errors import TransientError
from salesync.scale.budget import SharedBudget, share_through, shared_in

CALLER = Path(__file__).with_name("caller.py")


def workers(url: str, *args: object, count: int = 2) -> list[dict[str, object]]:
    """Run ``count`` caller processes at once; what each says it did."""
    command = [sys.executable, str(CALLER), url, *(str(a) for a in args)]
    running = [subprocess.Popen(command, stdout=subprocess.PIPE) for _ in range(count)]
    outs = [p.communicate(timeout=60)[0] for p in running]
    assert all(p.returncode == 0 for p in running)
    return [json.loads(out) for out in outs]


def budget(client: redis.Redis, per_minute: int = 30, **limits: int) -> SharedBudget:
    return SharedBudget(
        Limits(per_minute=per_minute, concurrent=limits.get("concurrent", 5)),
        max_wait=0.2,
        account="qbo:123",
        client=client,
    )


def test_two_workers_together_make_no_more_calls_than_the_minute_allows(
    redis_url: str, redis_client: redis.Redis
) -> None:
    """Two processes each try 40 calls against 30 a minute: 30 are made in all, and the
    rest are refused as transient (the posting is tried again later), none sent."""
    done = workers(redis_url, "qbo:realm-1", 40, 30, 5, 0, 0.2)
    assert sum(int(d["made"]) for d in done) == 30  # type: ignore[call-overload]
    refused = [code for d in done for code in d["refused"]]  # type: ignore[attr-defined]
    assert len(refused) == 50
    assert set(refused) == {"rate_limit_budget"}


def test_two_workers_never_have_more_calls_in_flight_than_allowed(
    redis_url: str, redis_client: redis.Redis
) -> None:
    """Two processes of four threads each, 2 calls at once allowed: every call is made,
    and never more than two were in flight across both processes."""
    done = workers(redis_url, "xero:org-1", 12, 1000, 2, 0.02, 30, 4)
    assert sum(int(d["made"]) for d in done) == 24  # type: ignore[call-overload]
    assert int(redis_client.get("peak") or 0) == 2


def test_a_429_seen_by_one_worker_pauses_the_other(redis_client: redis.Redis) -> None:
    """One budget is told to pause for 2 s; another budget of the same account, as a
    second worker holds it, refuses to call rather than wait longer than it may."""
    first, second = budget(redis_client), budget(redis_client)
    first.pause(2.0)
    with pytest.raises(TransientError) as refused, second.call():
        pass
    assert refused.value.code == "rate_limit_budget"
    assert refused.value.retry_after is not None
    assert 1.0 < refused.value.retry_after <= 2.0
    assert first.throttled == 1


def test_the_providers_lower_count_is_adopted_by_every_worker(redis_client: redis.Redis) -> None:
    """The provider says 3 of 30 calls are left: three more calls go, the fourth waits."""
    first, second = budget(redis_client), budget(redis_client)
    first.observe_remaining(minute=3)
    assert second.used_this_minute == 27
    for _ in range(3):
        with second.call():
            pass
    with pytest.raises(TransientError), first.call():
        pass
    first.observe_remaining(minute=20)  # more than counted: the shared count stays
    assert first.used_this_minute == 30


def test_a_killed_workers_place_comes_back_when_its_lease_ends(
    redis_url: str, redis_client: redis.Redis
) -> None:
    """A worker killed inside its call (one allowed at a time) still holds the place; the
    next worker waits for it, and its call goes once the dead one's lease has ended."""
    command = [sys.executable, str(CALLER), redis_url, "qbo:realm-2", 1, 100, 1, 30, 30]
    stuck = subprocess.Popen(
        [str(c) for c in command],
        stdout=subprocess.DEVNULL,
        env={**os.environ, "LEASE_SECONDS": "2"},
    )
    deadline = time.monotonic() + 20
    while int(redis_client.get("inflight") or 0) < 1:
        assert time.monotonic() < deadline, "the worker never started its call"
        time.sleep(0.01)
    os.kill(stuck.pid, signal.SIGKILL)
    stuck.wait()
    leases = "salesync:budget:{qbo:realm-2}:leases"
    assert redis_client.zcard(leases) == 1
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    after = SharedBudget(
        Limits(per_minute=100, concurrent=1),
        sleep=sleep,
        account="qbo:realm-2",
        client=redis_client,
    )
    with after.call():
        assert redis_client.zcard(leases) == 1  # its own
    assert redis_client.zcard(leases) == 0
    assert slept, "the place was free at once: the killed worker's lease was not counted"


def test_an_unreachable_redis_is_a_transient_failure_and_nothing_is_called() -> None:
    """No Redis: the call is not made uncounted; it fails as transient, to be retried."""
    down = budget(shared_in("redis://127.0.0.1:1/0"))
    called = []
    with pytest.raises(TransientError) as failed, down.call():
        called.append(1)
    assert failed.value.code == "limits_unreachable"
    assert called == []


def test_once_shared_every_budget_the_connectors_make_is_shared(
    redis_client: redis.Redis,
) -> None:
    """``share_through`` makes ``budget_for`` hand out shared budgets with the limits the
    connector asked for; ``share_budgets(None)`` goes back to in-process ones."""
    try:
        share_through(redis_client)
        made = budget_for("qbo:shared", lambda: CallBudget(Limits(500, 10)))
        assert isinstance(made, SharedBudget)
        assert made.limits == Limits(500, 10)
        assert made.account == "qbo:shared"
    finally:
        share_budgets(None)
    assert not isinstance(
        budget_for("qbo:shared", lambda: CallBudget(Limits(500, 10))), SharedBudget
    )
