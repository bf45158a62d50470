"""A worker process for the shared-budget tests: makes calls to one account through a
budget shared in Redis and prints what happened as JSON.

    python caller.py URL ACCOUNT CALLS PER_MINUTE CONCURRENT HOLD_SECONDS MAX_WAIT [THREADS]

The lease of a call in flight is ``LEASE_SECONDS`` from the environment (0.5 s).
Inside each call it counts the calls in flight across every process in Redis
(``inflight``) and keeps the highest count seen (``peak``).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

import redis

from salesync.connectors.pacing import Limits
from salesync.domain.errors import TransientError
from salesync.scale.budget import SharedBudget

PEAK = """
local now = redis.call('INCR', KEYS[1])
local peak = tonumber(redis.call('GET', KEYS[2]) or '0')
if now > peak then redis.call('SET', KEYS[2], now) end
return now
"""


def main() -> None:
    url, account = sys.argv[1], sys.argv[2]
    calls, per_minute, concurrent = (int(a) for a in sys.argv[3:6])
    hold, max_wait = float(sys.argv[6]), float(sys.argv[7])
    threads = int(sys.argv[8]) if len(sys.argv) > 8 else 1
    client = redis.Redis.from_url(url)
    peak = client.register_script(PEAK)
    budget = SharedBudget(
        Limits(per_minute=per_minute, concurrent=concurrent),
        max_wait=max_wait,
        account=account,
        client=client,
        lease_seconds=float(os.environ.get("LEASE_SECONDS", "0.5")),
    )
    made: list[int] = []
    refused: list[str] = []

    def caller(n: int) -> None:
        for _ in range(n):
            try:
                with budget.call():
                    peak(keys=["inflight", "peak"])
                    time.sleep(hold)
                    client.decr("inflight")
                made.append(1)
            except TransientError as exc:
                refused.append(exc.code or "")

    workers = [threading.Thread(target=caller, args=(calls // threads,)) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    print(json.dumps({"made": len(made), "refused": refused, "waited": budget.waited}))


if __name__ == "__main__":
    main()
