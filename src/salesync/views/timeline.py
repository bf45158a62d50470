"""The sync timeline: what each run of a sync step did, newest first, in plain words.

Runs are recorded for every step of every engine pass, most of them finding nothing to
do; those are left out unless asked for, so the timeline shows what moved. The scan for
runs that did something is bounded (``MAX_SCAN`` rows a call), so a long quiet stretch
costs a few bounded queries, never a walk over the whole table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from salesync.domain.redaction import Redactor
from salesync.store.tables import RunRow

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_SCAN = 2000
"""How many runs one call looks through at most for ones that did something."""
_CHUNK = 200

_REDACTOR = Redactor.of()
_HIDDEN_FAILURE = (
    "Something went wrong on our side; our developers have been told and salesync tries "
    "again by itself."
)


@dataclass(frozen=True)
class TimelineEntry:
    """One run of a sync step as the merchant reads it."""

    id: int
    step: str
    started_at: datetime
    finished_at: datetime
    duration: timedelta
    outcome: str
    summary: str
    counts: dict[str, int]
    failure: str | None
    """The failure's user message when the run failed."""


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else many or word + 's'}"


def _join(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _intake(c: dict[str, int]) -> str:
    parts = []
    if c.get("normalized"):
        parts.append(f"{c['normalized']} ready to sync")
    if c.get("parked"):
        parts.append(f"{c['parked']} waiting for the sale they belong to")
    if c.get("quarantined"):
        parts.append(f"{c['quarantined']} set aside with a problem to fix")
    if c.get("skipped"):
        parts.append(f"{c['skipped']} with nothing to post")
    if c.get("duplicate"):
        parts.append(f"{c['duplicate']} already known")
    taken = sum(c.get(k, 0) for k in ("normalized", "parked", "quarantined", "skipped"))
    taken += c.get("duplicate", 0)
    return f"Took in {_plural(taken, 'record')}: {_join(parts)}" if parts else ""


def _plan(c: dict[str, int]) -> str:
    n = c.get("postings", 0)
    return f"Prepared {_plural(n, 'posting')} for your books" if n else ""


def _send(c: dict[str, int]) -> str:
    parts = []
    posted = c.get("posted", 0) + c.get("found_on_read_back", 0)
    if posted:
        parts.append(f"Posted {_plural(posted, 'entry', 'entries')} to your books")
    if c.get("retrying"):
        parts.append(f"{_plural(c['retrying'], 'posting')} will be tried again")
    if c.get("held"):
        parts.append(f"{_plural(c['held'], 'posting')} wait for you")
    if c.get("failed"):
        parts.append(f"{_plural(c['failed'], 'posting')} failed")
    return _join(parts)


def _sweep(c: dict[str, int]) -> str:
    records = c.get("records", 0)
    if not records:
        return ""
    known = c.get("duplicates", 0)
    extra = f" ({known} already known)" if known else ""
    return f"Fetched {_plural(records, 'record')} from the source{extra}"


_SUMMARIES = {"intake": _intake, "plan": _plan, "send": _send, "sweep": _sweep}


def summarize(step: str, counts: dict[str, int]) -> str:
    """The run's counts in one plain sentence; empty when the run moved nothing."""
    known = _SUMMARIES.get(step)
    if known is not None:
        return known(counts)
    moved = {k: v for k, v in counts.items() if v}
    return ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in sorted(moved.items()))


def _failure(error: dict[str, Any] | None) -> str | None:
    if not error:
        return None
    if error.get("kind") == "bug" or not error.get("user_message"):
        return _HIDDEN_FAILURE
    return _REDACTOR.text(str(error["user_message"]))


def _entry(row: RunRow, summary: str) -> TimelineEntry:
    failure = _failure(row.error) if row.outcome != "ok" else None
    if not summary:
        summary = f"{row.step.capitalize()} failed" if failure else "Nothing to do"
    return TimelineEntry(
        id=row.id,
        step=row.step,
        started_at=row.started_at,
        finished_at=row.finished_at,
        duration=row.finished_at - row.started_at,
        outcome=row.outcome,
        summary=summary,
        counts=dict(row.counts or {}),
        failure=failure,
    )


def timeline(
    session: Session,
    tenant_id: str,
    *,
    limit: int = DEFAULT_LIMIT,
    before: int | None = None,
    include_idle: bool = False,
) -> list[TimelineEntry]:
    """The tenant's runs before run id ``before`` (the newest when None), newest first:
    up to ``limit`` that moved something or failed (every run with ``include_idle``).

    The next page starts before the last entry's id.
    """
    limit = max(1, min(limit, MAX_LIMIT))
    entries: list[TimelineEntry] = []
    scanned = 0
    cursor = before
    while len(entries) < limit and scanned < MAX_SCAN:
        query = select(RunRow).where(RunRow.tenant_id == tenant_id)
        if cursor is not None:
            query = query.where(RunRow.id < cursor)
        rows = list(session.scalars(query.order_by(RunRow.id.desc()).limit(_CHUNK)))
        for row in rows:
            summary = summarize(row.step, dict(row.counts or {}))
            if include_idle or summary or row.outcome != "ok":
                entries.append(_entry(row, summary))
                if len(entries) == limit:
                    break
        if len(rows) < _CHUNK:
            break
        scanned += len(rows)
        cursor = rows[-1].id
    return entries
