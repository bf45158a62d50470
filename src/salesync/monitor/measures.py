"""How fast the support loop works: time to detect, to ticket, to assign and to resolve,
per provider and kind, with the counts around them.

Everything is computed from the database on each call, so the numbers are the same
whichever process asks and survive restarts; nothing is counted in memory.

- time to detect: an incident's ``failed_at`` to its ``recorded_at``;
- time to ticket: a ticket's ``first_failed_at`` to its ``opened_at``;
- time to assign: ``opened_at`` to ``assigned_at``;
- time to resolve: ``opened_at`` to ``resolved_at``.

A reopened ticket keeps only its latest opening (``opened_at`` and ``first_failed_at``
move when the failure comes back), so its earlier openings no longer count. Each
measure covers a window ending now: incidents recorded, tickets opened, assigned or
resolved within it. Quantiles are nearest-rank: always a duration that really happened.

A failure with no provider (salesync's own scheduler, the ingress) is labelled
``salesync``, so every measure carries the same labels.
"""

from __future__ import annotations

import enum
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from sqlalchemy import Select, func, select
from sqlalchemy.orm import QueryableAttribute, Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from salesync.domain.tickets import TicketState
from salesync.store.tables import IncidentRow, TicketRow

DEFAULT_WINDOW = timedelta(days=30)
SYSTEM = "salesync"
"""The provider label of failures that happened in salesync itself."""
QUANTILES = {"0.5": "p50", "0.9": "p90", "0.99": "p99"}
"""The quantiles reported, as the decimal strings Prometheus labels carry, with the names
the API gives them."""
_BATCH = 5000

_Spans = Select[str, str, datetime, datetime | None]
"""Rows of ``(provider, kind, start, end)``; the end is never None within a window."""


class Span(enum.StrEnum):
    """What a duration measures."""

    DETECT = "detect"
    """From the failure to its incident being recorded."""
    TICKET = "ticket"
    """From the first failure to its ticket (re)opening."""
    ASSIGN = "assign"
    """From the ticket opening to someone owning it."""
    RESOLVE = "resolve"
    """From the ticket opening to its resolution."""


_SPAN_HELP = {
    Span.DETECT: "failure to recorded incident",
    Span.TICKET: "first failure to ticket opened",
    Span.ASSIGN: "ticket opened to assigned",
    Span.RESOLVE: "ticket opened to resolved",
}


class Clock(enum.StrEnum):
    """The two SLA clocks of a ticket."""

    RESPOND = "respond"
    RESOLVE = "resolve"


def nearest_rank(ordered: Sequence[float], quantile: str | float) -> float:
    """The nearest-rank quantile of ``ordered`` (sorted ascending, not empty).

    The rank is computed with exact fractions: ``0.55 * 100`` in floating point is a hair
    over 55, which would pick the 56th value instead of the 55th.
    """
    if not ordered:
        raise ValueError("a quantile of no durations is undefined")
    q = Fraction(str(quantile))
    if not 0 < q <= 1:
        raise ValueError(f"a quantile is in (0, 1], not {quantile}")
    rank = math.ceil(q * len(ordered))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class Durations:
    """A set of durations in seconds, summarized."""

    count: int
    total: float
    quantiles: Mapping[str, float]
    """``QUANTILES`` to their nearest-rank value."""
    max: float

    @classmethod
    def of(cls, seconds: Iterable[float]) -> Durations | None:
        """The summary of ``seconds``; None when there are none."""
        ordered = sorted(seconds)
        if not ordered:
            return None
        return cls(
            count=len(ordered),
            total=math.fsum(ordered),
            quantiles={q: nearest_rank(ordered, q) for q in QUANTILES},
            max=ordered[-1],
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            **{QUANTILES[q]: value for q, value in self.quantiles.items()},
            "max": self.max,
        }


@dataclass(frozen=True, slots=True)
class Timing:
    """The durations of one span for one provider and kind."""

    span: Span
    provider: str
    kind: str
    durations: Durations


@dataclass(frozen=True, slots=True)
class Measures:
    """The support loop's measures over a window, for one tenant or for all."""

    tenant_id: str | None
    since: datetime
    until: datetime
    timings: tuple[Timing, ...]
    """Sorted by span, provider and kind; a group with no duration is left out."""
    tickets: Mapping[str, int]
    """Every ticket now, by state (each state present, zero or not)."""
    healed: Mapping[tuple[str, str], int]
    """Transient incidents healed within the window without a ticket, by provider and kind."""
    breaches: Mapping[str, int]
    """Tickets whose respond-by or resolve-by time passed within the window unmet."""

    def timing(self, span: Span, provider: str, kind: str) -> Durations | None:
        for t in self.timings:
            if (t.span, t.provider, t.kind) == (span, provider, kind):
                return t.durations
        return None

    def as_dict(self) -> dict[str, Any]:
        """The measures as JSON-ready data, durations in seconds."""
        times: dict[str, list[dict[str, Any]]] = {span.value: [] for span in Span}
        for t in self.timings:
            times[t.span.value].append(
                {"provider": t.provider, "kind": t.kind, **t.durations.as_dict()}
            )
        return {
            "tenant_id": self.tenant_id,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "window_seconds": (self.until - self.since).total_seconds(),
            "times_seconds": times,
            "tickets": dict(self.tickets),
            "healed": [
                {"provider": provider, "kind": kind, "count": count}
                for (provider, kind), count in sorted(self.healed.items())
            ],
            "sla_breaches": dict(self.breaches),
        }


def measure(
    session: Session,
    now: datetime,
    *,
    window: timedelta = DEFAULT_WINDOW,
    tenant_id: str | None = None,
) -> Measures:
    """The measures for the ``window`` ending ``now``, of one tenant or of every tenant."""
    if window <= timedelta(0):
        raise ValueError(f"the window must be longer than zero (got {window})")
    since = now - window
    timings: list[Timing] = []
    for span in Span:
        groups = _durations(session, _span_query(span, since, now, tenant_id))
        for (provider, kind), seconds in sorted(groups.items()):
            durations = Durations.of(seconds)
            if durations is not None:
                timings.append(Timing(span, provider, kind, durations))
    return Measures(
        tenant_id=tenant_id,
        since=since,
        until=now,
        timings=tuple(timings),
        tickets=tickets_by_state(session, tenant_id=tenant_id),
        healed=healed(session, since=since, until=now, tenant_id=tenant_id),
        breaches=breaches(session, since, now, tenant_id=tenant_id),
    )


def tickets_by_state(session: Session, *, tenant_id: str | None = None) -> dict[str, int]:
    """How many tickets are in each state now."""
    query = select(TicketRow.state, func.count()).group_by(TicketRow.state)
    if tenant_id is not None:
        query = query.where(TicketRow.tenant_id == tenant_id)
    counts = {state.value: 0 for state in TicketState}
    for state, count in session.execute(query):
        counts[state] = int(count)
    return counts


def healed(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    tenant_id: str | None = None,
) -> dict[tuple[str, str], int]:
    """Transient incidents whose unit later succeeded, so no ticket was opened, by
    provider and kind; healed between ``since`` and ``until`` when given, else ever."""
    provider = _provider(IncidentRow.provider)
    query = (
        select(provider, IncidentRow.kind, func.count())
        .where(
            IncidentRow.transient.is_(True),
            IncidentRow.healed_at.is_not(None),
            IncidentRow.ticket_id.is_(None),
        )
        .group_by(provider, IncidentRow.kind)
    )
    if since is not None:
        query = query.where(IncidentRow.healed_at >= since)
    if until is not None:
        query = query.where(IncidentRow.healed_at <= until)
    if tenant_id is not None:
        query = query.where(IncidentRow.tenant_id == tenant_id)
    return {(p, k): int(n) for p, k, n in session.execute(query)}


def breaches(
    session: Session, since: datetime, now: datetime, *, tenant_id: str | None = None
) -> dict[str, int]:
    """Tickets whose respond-by or resolve-by time fell within the window and was missed.

    A first response is an acknowledgement (someone started fixing) or a resolution,
    whichever came first; a deadline is missed when it came later, or has not come and
    the ticket is still active. A ticket closed without either (won't fix, duplicate)
    stopped its clocks at a time the ticket does not keep, so it is not counted.
    """
    in_window = TicketRow.respond_by.between(since, now) | TicketRow.resolve_by.between(since, now)
    query = select(
        TicketRow.state,
        TicketRow.respond_by,
        TicketRow.resolve_by,
        TicketRow.acknowledged_at,
        TicketRow.resolved_at,
    ).where(in_window)
    if tenant_id is not None:
        query = query.where(TicketRow.tenant_id == tenant_id)
    counts = {clock.value: 0 for clock in Clock}
    for state, respond_by, resolve_by, acknowledged_at, resolved_at in session.execute(
        query.execution_options(yield_per=_BATCH)
    ):
        active = TicketState(state).active
        responded = min((t for t in (acknowledged_at, resolved_at) if t is not None), default=None)
        for clock, due, met in (
            (Clock.RESPOND, respond_by, responded),
            (Clock.RESOLVE, resolve_by, resolved_at),
        ):
            if due is not None and since <= due <= now and _missed(due, met, active=active):
                counts[clock.value] += 1
    return counts


def _missed(due: datetime, met: datetime | None, *, active: bool) -> bool:
    if met is not None:
        return met > due
    return active


def _provider(column: QueryableAttribute[str | None]) -> ColumnElement[str]:
    return func.coalesce(column, SYSTEM)


_BOUNDS: dict[
    Span,
    tuple[
        QueryableAttribute[str | None],
        QueryableAttribute[str],
        QueryableAttribute[str],
        QueryableAttribute[datetime],
        QueryableAttribute[datetime | None],
    ],
] = {
    Span.DETECT: (
        IncidentRow.provider,
        IncidentRow.kind,
        IncidentRow.tenant_id,
        IncidentRow.failed_at,
        IncidentRow.recorded_at,
    ),
    Span.TICKET: (
        TicketRow.provider,
        TicketRow.kind,
        TicketRow.tenant_id,
        TicketRow.first_failed_at,
        TicketRow.opened_at,
    ),
    Span.ASSIGN: (
        TicketRow.provider,
        TicketRow.kind,
        TicketRow.tenant_id,
        TicketRow.opened_at,
        TicketRow.assigned_at,
    ),
    Span.RESOLVE: (
        TicketRow.provider,
        TicketRow.kind,
        TicketRow.tenant_id,
        TicketRow.opened_at,
        TicketRow.resolved_at,
    ),
}
"""Each span's provider, kind and tenant columns, and the instants it runs between."""


def _span_query(span: Span, since: datetime, until: datetime, tenant_id: str | None) -> _Spans:
    """``(provider, kind, start, end)`` of every duration of ``span`` ending in the window."""
    provider, kind, tenant, start, end = _BOUNDS[span]
    query = select(_provider(provider), kind, start, end).where(end.between(since, until))
    if span in (Span.ASSIGN, Span.RESOLVE):
        # An owner kept from before a reopening was assigned before this opening: that
        # assignment says nothing about how fast the reopened ticket found an owner.
        query = query.where(end >= start)
    if tenant_id is not None:
        query = query.where(tenant == tenant_id)
    return query


def _durations(session: Session, query: _Spans) -> dict[tuple[str, str], list[float]]:
    """Seconds from start to end of each row, grouped by provider and kind. A start after
    its end (clocks of two machines apart) counts as zero, not as a negative time."""
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    for provider, kind, start, end in session.execute(query.execution_options(yield_per=_BATCH)):
        if end is not None:
            groups[(provider, kind)].append(max((end - start).total_seconds(), 0.0))
    return groups


class MeasuresCollector:
    """A Prometheus collector that reads the measures from the database on each scrape.

    Register it on a ``CollectorRegistry`` of its own: the numbers are the database's,
    so every process that serves them reports the same values.
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        clock: Callable[[], datetime],
        *,
        window: timedelta = DEFAULT_WINDOW,
    ) -> None:
        if window <= timedelta(0):
            raise ValueError(f"the window must be longer than zero (got {window})")
        self.factory = factory
        self.clock = clock
        self.window = window

    def collect(self) -> Iterator[Metric]:
        with self.factory() as session:
            found = measure(session, self.clock(), window=self.window)
            ever = healed(session)
        yield from metrics(found, ever)


def metrics(found: Measures, healed_ever: Mapping[tuple[str, str], int]) -> Iterator[Metric]:
    """``found`` as Prometheus metric families, with ``healed_ever`` as a counter."""
    window = found.until - found.since
    yield GaugeMetricFamily(
        "salesync_support_window_seconds",
        "The window the support time and breach measures cover, ending now.",
        value=window.total_seconds(),
    )
    for span in Span:
        family = SummaryMetricFamily(
            f"salesync_support_time_to_{span.value}_seconds",
            f"Time to {span.value} ({_SPAN_HELP[span]}) within the window; "
            'quantile "1" is the longest.',
            labels=("provider", "kind"),
        )
        for t in found.timings:
            if t.span is not span:
                continue
            labels = {"provider": t.provider, "kind": t.kind}
            for q, value in (*t.durations.quantiles.items(), ("1", t.durations.max)):
                family.add_sample(family.name, {**labels, "quantile": q}, value)
            family.add_metric([t.provider, t.kind], t.durations.count, t.durations.total)
        yield family
    tickets = GaugeMetricFamily("salesync_tickets", "Tickets now, by state.", labels=("state",))
    for state, count in found.tickets.items():
        tickets.add_metric([state], count)
    yield tickets
    counter = CounterMetricFamily(
        "salesync_incidents_healed",
        "Transient failures whose unit later succeeded, so no ticket was opened.",
        labels=("provider", "kind"),
    )
    for (provider, kind), count in sorted(healed_ever.items()):
        counter.add_metric([provider, kind], count)
    yield counter
    sla = GaugeMetricFamily(
        "salesync_support_sla_breaches",
        "Tickets whose respond-by or resolve-by time passed unmet within the window.",
        labels=("clock",),
    )
    for clock, count in found.breaches.items():
        sla.add_metric([clock], count)
    yield sla
