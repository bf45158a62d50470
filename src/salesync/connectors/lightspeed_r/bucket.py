"""Pacing the calls of one R-Series account so its leaky bucket never overflows.

R-Series pours each request's cost into a bucket per app and account (a read 1, a write
10; 60 units by default, draining one a second) and answers 429 once it would overflow;
every answer tells how full the bucket is (``X-LS-API-Bucket-Level: 10/60``) and how fast it
drains (``X-LS-API-Drip-Rate``)
(https://developers.lightspeedhq.com/retail/introduction/ratelimits/).

salesync paces with the shared ``CallBudget``: at most ``L`` reads in any 60 seconds, with
``L = min(size, (size + 60 x drip) / 2)``. Within a minute that pours no more than the
bucket holds; over any longer span the calls of the minutes before have drained. The size
and drip are taken from each answer (they grow with the account's registers and vary
off-peak), and a level higher than salesync's own count (other apps on the account, other
workers) is adopted, so the next calls wait for room instead of meeting a 429.
"""

from __future__ import annotations

import email.utils
import math
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from salesync.connectors.pacing import CallBudget, Limits

DEFAULT_SIZE = 60.0
DEFAULT_DRIP = 1.0
CONCURRENT = 2


@dataclass(frozen=True, slots=True)
class BucketState:
    level: float
    size: float
    drip_rate: float


def limits_for(size: float, drip_rate: float) -> Limits:
    """The reads per minute that never overflow a bucket of ``size`` draining ``drip_rate``."""
    per_minute = max(1, math.floor(min(size, (size + 60.0 * drip_rate) / 2)))
    return Limits(per_minute=per_minute, concurrent=CONCURRENT)


def bucket_state(response: httpx.Response) -> BucketState | None:
    """The bucket an answer reports, or None when it reports none (or garbles it)."""
    level_header = response.headers.get("x-ls-api-bucket-level")
    if not level_header:
        return None
    level, _, size = level_header.partition("/")
    try:
        drip = float(response.headers.get("x-ls-api-drip-rate") or DEFAULT_DRIP)
        state = BucketState(float(level), float(size), drip)
    except ValueError:
        return None
    if state.size <= 0 or state.drip_rate <= 0:
        return None
    return state


def retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait after a 429: ``Retry-After`` (seconds or an HTTP date), else the time
    the bucket needs to drain one request's room."""
    value = response.headers.get("retry-after")
    if value:
        try:
            return max(float(value), 0.0)
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            when = when if when.tzinfo else when.replace(tzinfo=UTC)
            return max((when - datetime.now(UTC)).total_seconds(), 0.0)
    state = bucket_state(response)
    if state is None:
        return None
    return max((state.level + 1 - state.size) / state.drip_rate, 1.0 / state.drip_rate)


def observe(budget: CallBudget, response: httpx.Response) -> None:
    """Adopt what an answer says of the bucket: its size and drip, and its level."""
    state = bucket_state(response)
    if state is None:
        return
    wanted = limits_for(state.size, state.drip_rate)
    if wanted != budget.limits:
        budget.limits = wanted
    used = math.ceil(state.level * wanted.per_minute / state.size)
    budget.observe_remaining(minute=max(wanted.per_minute - used, 0))
