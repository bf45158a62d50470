"""Call budgets shared by every worker process, kept in Redis.

A provider counts an account's calls whoever makes them, so N workers must share one
count: ``SharedBudget`` keeps ``CallBudget``'s rules (calls per minute and per day, calls
in flight, the provider's own count adopted when lower, a 429's pause for everyone) but
holds its state in Redis, changed only by Lua scripts so every check-and-take is atomic.
Redis's own clock (``TIME``) is the one clock all workers read, so workers on machines
whose clocks differ still count the same window.

Calls in flight are leases that expire: a worker killed during a call frees its place
after ``lease_seconds`` instead of holding it for ever. With Redis unreachable a call
fails as transient (the posting is retried later); nothing is sent uncounted.

Shared budgets are for real time; simulated-time tests and benchmarks keep the in-process
``CallBudget``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import redis

from salesync.connectors.pacing import CallBudget, share_budgets
from salesync.domain.errors import TransientError

LEASE_SECONDS = 60.0
"""How long a call in flight holds its place at most (longer than any call's timeout)."""
BUSY_POLL_SECONDS = 0.02
"""How soon a call that found every slot taken asks again."""

_KEEP = 86_400_000 + 60_000
"""Milliseconds a budget's keys outlive their last use (the day window and a margin)."""

# KEYS: minute log, day log, pause, leases. ARGV: per minute, per day (0: none),
# concurrent, lease ms, call id. Returns {wait ms, granted (1) or busy (0)}.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local minute, day, concurrent = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 60000)
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
local wait = 0
local paused = tonumber(redis.call('GET', KEYS[3]) or '0')
if paused > now then wait = paused - now end
if redis.call('ZCARD', KEYS[1]) >= minute then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  wait = math.max(wait, tonumber(oldest[2]) + 60000 - now)
end
if day > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 86400000)
  if redis.call('ZCARD', KEYS[2]) >= day then
    local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    wait = math.max(wait, tonumber(oldest[2]) + 86400000 - now)
  end
end
if wait > 0 then return {wait, 0} end
if redis.call('ZCARD', KEYS[4]) >= concurrent then return {0, 0} end
redis.call('ZADD', KEYS[1], now, ARGV[5])
redis.call('ZADD', KEYS[4], now + tonumber(ARGV[4]), ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('PEXPIRE', KEYS[4], ARGV[6])
if day > 0 then
  redis.call('ZADD', KEYS[2], now, ARGV[5])
  redis.call('PEXPIRE', KEYS[2], ARGV[6])
end
return {0, 1}
"""

# KEYS: a log. ARGV: calls the provider says are used, window ms, keep ms. Fills the log
# with calls made now until it holds that many.
_FILL = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
local have = redis.call('ZCARD', KEYS[1])
for n = have + 1, tonumber(ARGV[1]) do
  redis.call('ZADD', KEYS[1], now, 'seen:' .. now .. ':' .. n)
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return redis.call('ZCARD', KEYS[1])
"""

# KEYS: pause. ARGV: seconds in ms, keep ms. Moves the pause later, never earlier.
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = now + tonumber(ARGV[1])
local paused = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ms > paused then redis.call('SET', KEYS[1], until_ms, 'PX', ARGV[2]) end
return until_ms
"""

# KEYS: minute log. Calls counted in the last minute.
_USED = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZCOUNT', KEYS[1], '(' .. (now - 60000), '+inf')
"""


def _unreachable(exc: Exception) -> TransientError:
    return TransientError(
        f"the shared rate-limit store cannot be reached: {exc}",
        user_message="salesync's workers could not agree on the books' API limit just "
        "now; the sync carries on automatically in a moment.",
        code="limits_unreachable",
        retry_after=5.0,
    )


@dataclass
class SharedBudget(CallBudget):
    """One provider account's ``CallBudget``, counted in Redis for every worker."""

    account: str = ""
    client: Any = None
    """A ``redis.Redis`` connection (pooled; safe to share between threads)."""
    lease_seconds: float = LEASE_SECONDS
    _scripts: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, text in (("acquire", _ACQUIRE), ("fill", _FILL), ("pause", _PAUSE)):
            self._scripts[name] = self.client.register_script(text)
        self._scripts["used"] = self.client.register_script(_USED)

    def _key(self, part: str) -> str:
        # One hash tag per account keeps its keys together on a Redis cluster.
        return f"salesync:budget:{{{self.account}}}:{part}"

    def _run(self, script: str, keys: list[str], args: list[Any]) -> Any:
        try:
            return self._scripts[script](keys=keys, args=args)
        except redis.RedisError as exc:
            raise _unreachable(exc) from exc

    @contextmanager
    def call(self) -> Iterator[None]:
        """Hold one call's place among every worker's calls to this account."""
        limits = self.limits
        minute = max(1, limits.per_minute - limits.headroom)
        call_id = uuid.uuid4().hex
        keys = [self._key(p) for p in ("minute", "day", "pause", "leases")]
        args = [minute, limits.per_day or 0, limits.concurrent, int(self.lease_seconds * 1000)]
        while True:
            wait_ms, granted = self._run("acquire", keys, [*args, call_id, _KEEP])
            if granted:
                break
            wait = int(wait_ms) / 1000
            if wait > self.max_wait:
                raise TransientError(
                    f"the provider's rate limit leaves no room for {wait:.0f} s",
                    user_message="The books' API limit is used up for now; salesync "
                    "carries on automatically when it resets.",
                    code="rate_limit_budget",
                    retry_after=wait,
                )
            self.waited += wait
            self.sleep(wait if wait > 0 else BUSY_POLL_SECONDS)
        try:
            yield
        finally:
            # Unreachable now, the lease expires by itself after LEASE_SECONDS.
            with suppress(redis.RedisError):
                self.client.zrem(keys[3], call_id)

    def observe_remaining(self, minute: int | None = None, day: int | None = None) -> None:
        """Adopt the provider's count of calls left when it is lower than the shared one."""
        if minute is not None:
            used = self.limits.per_minute - minute
            self._run("fill", [self._key("minute")], [used, 60_000, _KEEP])
        if day is not None and self.limits.per_day is not None:
            used = self.limits.per_day - day
            self._run("fill", [self._key("day")], [used, 86_400_000, _KEEP])

    def pause(self, seconds: float) -> None:
        """The provider answered 429: no worker calls this account for ``seconds``."""
        self.throttled += 1
        self._run("pause", [self._key("pause")], [int(seconds * 1000), _KEEP])

    @property
    def used_this_minute(self) -> int:
        return int(self._run("used", [self._key("minute")], []))


def shared_in(url: str) -> redis.Redis:
    """A pooled client of the Redis at ``url``."""
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


def share_through(client: redis.Redis) -> None:
    """From now on, every budget this process makes is shared through ``client``."""

    def shared(account: str, local: CallBudget) -> CallBudget:
        return SharedBudget(
            local.limits,
            clock=local.clock,
            sleep=local.sleep,
            max_wait=local.max_wait,
            account=account,
            client=client,
        )

    share_budgets(shared)
