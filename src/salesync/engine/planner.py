"""Planning: documents whose window has come become postings in the outbox.

Each location posts in its chosen mode. Only documents no posting to the destination
covers yet are planned, so changing the mode never posts a document twice. A daily
summary waits until its business day has closed in the location's time zone and the
first sync window after the close has come (so the day's evening sales, due then, are in
it); a document that arrives for a day already summarized gets a supplementary summary of
its own. In per-payout mode a document paid only through the payout's clearing account
waits for its payout (or, after ``payout_wait``, goes into its day's summary), and the
payouts are planned by ``payouts.PayoutPlanner``; everything else is summarized daily. A
document edited after it was posted gets an adjustment.

Amounts are placed by the tenant's latest published mapping (the built-in chart when none
is published). A document with a value the mapping does not map is held, with problems
that name the value; publishing a mapping that maps it releases it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import cast

from sqlalchemy import (
    ColumnElement,
    Table,
    Text,
    bindparam,
    func,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from salesync.connectors.ledger.destination import NAME as LEDGER
from salesync.domain.adjustments import plan_adjustment
from salesync.domain.documents import (
    Document,
    DocumentKind,
    Location,
    Payout,
    Refund,
    Sale,
)
from salesync.domain.errors import BugError, ConflictError, MappingError, SyncError
from salesync.domain.planning import (
    DailySummaryBuilder,
    PlannedPosting,
    PlanningError,
    PostingMode,
    daily_key,
    order_key,
    plan_per_order,
)
from salesync.domain.postings import DEFAULT_PLAN, Placement
from salesync.domain.validation import Problem, problem_rows
from salesync.engine.incidents import Failure, IncidentLog
from salesync.engine.mappings import Mappings
from salesync.engine.outbox import Coverage, NewPosting, Outbox
from salesync.engine.payouts import PayoutPlanner
from salesync.engine.policies import SyncPolicy, day_close, default_policy, summary_time
from salesync.rules.mapping import unmapped, unmapped_by
from salesync.store import codec
from salesync.store.documents import Documents
from salesync.store.tables import (
    DocumentRow,
    LocationSettingsRow,
    PostingReversalRow,
    PostingRow,
    QueuedDocumentRow,
    SyncPolicyRow,
    owned_by,
)

_QUEUE = cast(Table, QueuedDocumentRow.__table__)
_UNPLANNABLE = (SyncError, PlanningError, LookupError)
"""What planning one document can raise that is about that document alone: it is set
aside, and the rest of the tenant's documents are planned. (A database error is not:
it ends the pass, to be tried again.)"""
_MARK_PLANNED = (
    update(_QUEUE)
    .where(
        _QUEUE.c.document_id == bindparam("doc_id"),
        # Not a later revision than the one planned: an edit taken in meanwhile waits.
        _QUEUE.c.revision <= bindparam("at_revision"),
        # Not indexable, as ``owned_by``: the row is found by its key, the tenant checked.
        _QUEUE.c.tenant_id.concat("") == bindparam("tenant"),
    )
    .values(planned=True)
)

PAYOUT_WAIT = timedelta(days=10)
"""How long a card sale waits for the payout that settles it before it is summarized."""


def plannable(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """Conditions of a queued document the planner can act on at ``now``: due, not held,
    not planned, and not waiting for its business day to close or for its payout."""
    return (
        QueuedDocumentRow.planned.is_(False),
        QueuedDocumentRow.held.is_(False),
        QueuedDocumentRow.due_at <= now,
        or_(QueuedDocumentRow.plannable_at.is_(None), QueuedDocumentRow.plannable_at <= now),
    )


@dataclass(frozen=True, slots=True)
class _Loaded:
    document: Document
    revision: int


class Planner:
    def __init__(
        self,
        session: Session,
        tenant_id: str,
        locations: Iterable[Location],
        clock: Callable[[], datetime],
        *,
        placement: Placement = DEFAULT_PLAN,
        destination: str = LEDGER,
        payout_wait: timedelta = PAYOUT_WAIT,
        incidents: IncidentLog | None = None,
    ) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.locations = {loc.id: loc for loc in locations}
        self.clock = clock
        self.placement = placement
        self.destination = destination
        self.payout_wait = payout_wait
        self.outbox = Outbox(session, tenant_id)
        self.documents = Documents(session, tenant_id)
        self.mappings = Mappings(session, tenant_id)
        self.mapping = self.mappings.latest()
        self.held = 0
        self.adjusted = 0
        self._marked: list[dict[str, object]] = []
        self._summed_policies: list[SyncPolicy] | None = None
        self._summary_times: dict[tuple[str, date], datetime] = {}
        self.incidents = incidents or IncidentLog(clock)
        self.payouts = PayoutPlanner(self)

    def placement_for(self, document: Sale | Refund | Payout) -> Placement:
        return self.mapping.placement_for(document) if self.mapping else self.placement

    def _placement_at(self, version: int | None, document: Sale | Refund | Payout) -> Placement:
        if version is None:
            return self.placement
        return self.mappings.at(version).placement_for(document)

    def mode_for(self, location_id: str) -> PostingMode:
        row = self.session.get(LocationSettingsRow, (self.tenant_id, location_id))
        return PostingMode(row.posting_mode) if row else PostingMode.PER_ORDER

    def set_mode(self, location_id: str, mode: PostingMode) -> None:
        if location_id not in self.locations:
            raise KeyError(f"no location {location_id!r} for tenant {self.tenant_id}")
        row = self.session.get(LocationSettingsRow, (self.tenant_id, location_id))
        if row is None:
            self.session.add(
                LocationSettingsRow(
                    tenant_id=self.tenant_id, location_id=location_id, posting_mode=mode.value
                )
            )
        else:
            row.posting_mode = mode.value
        # What waited for its day to close (or its payout) under the old mode may go now.
        self.session.execute(
            update(QueuedDocumentRow)
            .where(
                QueuedDocumentRow.tenant_id == self.tenant_id,
                QueuedDocumentRow.location_id == location_id,
                QueuedDocumentRow.planned.is_(False),
                QueuedDocumentRow.plannable_at.is_not(None),
            )
            .values(plannable_at=None)
            .execution_options(synchronize_session=False)
        )
        self.session.flush()

    def due(self) -> list[QueuedDocumentRow]:
        """The documents to plan now, locked until the planning transaction ends. On
        PostgreSQL those another planner holds are skipped (``FOR UPDATE SKIP LOCKED``):
        two ticks of one tenant plan disjoint documents, never one document twice."""
        query = (
            select(QueuedDocumentRow)
            .where(QueuedDocumentRow.tenant_id == self.tenant_id, *plannable(self.clock()))
            .order_by(QueuedDocumentRow.document_id)
            .with_for_update(skip_locked=True)
        )
        return list(self.session.scalars(query))

    def plan_due(self) -> int:
        """Turn every due document into postings; returns how many postings were created."""
        by_location: dict[str, list[QueuedDocumentRow]] = defaultdict(list)
        for row in self.due():
            by_location[row.location_id].append(row)
        created = 0
        for location_id, rows in sorted(by_location.items()):
            created += self._plan_location(self.locations[location_id], rows)
        return created

    def _load(self, ids: list[str]) -> dict[str, _Loaded]:
        loaded: dict[str, _Loaded] = {}
        for start in range(0, len(ids), 500):
            # Columns, not entities: the planner only reads them. The body comes as the
            # database holds it (text on SQLite), for ``decode_stored``.
            body = type_coerce(DocumentRow.body, Text)
            query = select(DocumentRow.id, DocumentRow.kind, body, DocumentRow.revision).where(
                owned_by(DocumentRow.tenant_id, self.tenant_id),
                DocumentRow.id.in_(ids[start : start + 500]),
            )
            for found, kind, text, revision in self.session.execute(query):
                loaded[found] = _Loaded(codec.decode_stored(kind, text), revision)
        missing = set(ids) - loaded.keys()
        if missing:
            raise LookupError(f"queued documents {sorted(missing)} are not stored")
        return loaded

    def _held(self, row: QueuedDocumentRow, document: Document) -> bool:
        """``_hold``, setting aside a document whose values cannot even be checked."""
        try:
            return self._hold(row, document)
        except _UNPLANNABLE as exc:
            self._set_aside(row, document, exc)
            return True

    def _hold(self, row: QueuedDocumentRow, document: Document) -> bool:
        """Hold ``row`` when the mapping cannot place its document; True if held."""
        if self.mapping is None or not isinstance(document, Sale | Refund | Payout):
            return False
        missing = unmapped(self.mapping, document)
        if not missing:
            return False
        found = [u.problem for u in missing]
        row.held = True
        # Kept with the target, field and value, so the fix can be offered in one click.
        row.problems = [u.as_row() for u in missing]
        row.mapping_version = self.mapping.version
        self.held += 1
        codes = sorted({p.code for p in found})
        self.incident(
            MappingError(
                f"{document.kind.value} held by mapping version {self.mapping.version}: "
                + ", ".join(codes),
                user_message=f"{document.kind.value.capitalize()} {document.external_id} "
                "waits for a mapping: " + "; ".join(str(p) for p in found),
                code="+".join(codes),
                operation=f"plan:{document.kind.value}",
                details={"problems": row.problems, "source": document.source},
            ),
            row,
        )
        return True

    def _set_aside(
        self,
        row: QueuedDocumentRow,
        document: Document,
        error: SyncError | PlanningError | LookupError,
    ) -> None:
        """Hold one document that cannot be planned, with what stops it and an incident.
        Planning is pure until a posting is enqueued, so nothing of it is half done, and
        every other document of the tenant is planned as ever: one bad document must not
        stop a whole tenant's books."""
        name = f"{document.kind.value} {document.external_id}"
        if isinstance(error, LookupError):
            error = BugError(
                f"{name} cannot be planned: {error}",
                code="plan_lookup_failed",
                operation=f"plan:{document.kind.value}",
            )
        if isinstance(error, PlanningError):
            error = ConflictError(
                f"{name} cannot be planned: {error}",
                user_message=f"{name.capitalize()} cannot be posted as it stands ({error}); "
                "correct it at the source, or resolve it by hand and release it.",
                code="cannot_plan",
                operation=f"plan:{document.kind.value}",
            )
        row.held = True
        row.mapping_version = None
        if isinstance(error, MappingError) and "target" in error.details:
            # Placed by a rule no check of the document itself reached (the clearing
            # account a payout empties): kept with what a one-click fix needs.
            row.problems = [unmapped_by(error, "").as_row()]
            row.mapping_version = self.mapping.version if self.mapping else None
        else:
            row.problems = problem_rows([Problem(error.code or "cannot_plan", error.message, "")])
        self.held += 1
        self.incident(error, row)

    def incident(self, error: SyncError, row: QueuedDocumentRow) -> None:
        """Record ``error`` as an incident about the queued document ``row``."""
        self.session.flush()
        self.incidents.record(
            self.session,
            self.tenant_id,
            Failure(
                error=error,
                stage="engine",
                subject=f"document:{row.document_id}",
                failed_at=self.clock(),
                replay={"queued": row.document_id, "destination": self.destination},
                documents=(row.document_id,),
                location_id=row.location_id,
                mapping_version=row.mapping_version,
            ),
        )

    def _plan_location(self, location: Location, rows: list[QueuedDocumentRow]) -> int:
        loaded = self._load([r.document_id for r in rows])
        coverage = self.outbox.coverage(self.destination, loaded)
        rows = [r for r in rows if not self._held(r, loaded[r.document_id].document)]
        fresh = [r for r in rows if r.document_id not in coverage]
        created = self._plan_covered(location, rows, loaded, coverage)
        mode = self.mode_for(location.id)
        now = self.clock()
        today = now.astimezone(location.zone).date()
        self.outbox.look_up(self.destination, self._keys(location, fresh, loaded))
        summary_days: dict[date, list[tuple[QueuedDocumentRow, Sale | Refund, int]]]
        summary_days = defaultdict(list)
        per_order: list[NewPosting] = []
        # Payouts first: the documents a payout carries are planned with it, and must not
        # also go into a summary (as overdue) later in the same pass.
        fresh.sort(key=lambda r: not isinstance(loaded[r.document_id].document, Payout))
        for row in fresh:
            if row.planned:
                continue  # carried by a payout planned above
            item = loaded[row.document_id]
            document = item.document
            try:
                if isinstance(document, Payout) and mode is PostingMode.PER_PAYOUT:
                    created += self.payouts.plan(location, row, document, today)
                    continue
                if isinstance(document, Sale | Refund) and mode is not PostingMode.PER_ORDER:
                    if mode is PostingMode.PER_PAYOUT and self.payouts.awaits(document, row, today):
                        # Its payout carries it whenever it comes; alone, it waits this long.
                        last = row.business_day + timedelta(days=self.payout_wait.days)
                        row.plannable_at = day_close(last, location.zone)
                        continue
                    goes = self._summary_time(row.business_day, location)
                    if goes <= now:
                        summary_days[row.business_day].append((row, document, item.revision))
                    else:
                        row.plannable_at = goes
                    continue
                planned = plan_per_order(document, location, self.placement_for(document))
            except _UNPLANNABLE as exc:
                self._set_aside(row, document, exc)
                continue
            per_order.append(self.posting(planned, location, {document.id: item.revision}))
            self.mark_planned(row, item.revision)
        # A backfilled day per order is hundreds of postings: created together.
        created += self.enqueue(*per_order)
        for day, items in sorted(summary_days.items()):
            created += self._summarize(location, day, items)
        self._write_planned()
        self.session.flush()
        return created

    def _plan_covered(
        self,
        location: Location,
        rows: list[QueuedDocumentRow],
        loaded: dict[str, _Loaded],
        coverage: dict[str, Coverage],
    ) -> int:
        """Rows whose documents are in the books already, perhaps under an earlier mode:
        an edit since gets its adjustment; returns how many postings were planned."""
        created = 0
        for row in rows:
            covered = coverage.get(row.document_id)
            if covered is None:
                continue
            current = loaded[row.document_id]
            if covered.revision < current.revision:
                try:
                    created += self._adjust(location, current, covered)
                except _UNPLANNABLE as exc:
                    self._set_aside(row, current.document, exc)
                    continue
            self.mark_planned(row, current.revision)
        return created

    def _summary_time(self, day: date, location: Location) -> datetime:
        """When the daily summary of ``day`` at ``location`` goes (``summary_time``)."""
        known = self._summary_times.get((location.id, day))
        if known is None:
            if self._summed_policies is None:
                self._summed_policies = self._summed_by()
            known = summary_time(day, location.zone, self._summed_policies)
            self._summary_times[(location.id, day)] = known
        return known

    def _summed_by(self) -> list[SyncPolicy]:
        """The sync policies of what a summary sums: the tenant's for sales and refunds,
        and the default where a kind has none for every source."""
        kinds = (DocumentKind.SALE.value, DocumentKind.REFUND.value)
        rows = list(
            self.session.scalars(
                select(SyncPolicyRow).where(
                    SyncPolicyRow.tenant_id == self.tenant_id, SyncPolicyRow.kind.in_(kinds)
                )
            )
        )
        found = [SyncPolicy.parse_windows(r.mode, r.windows) for r in rows]
        every = {r.kind for r in rows if r.source == "*"}
        return found + [default_policy(kind, "*") for kind in kinds if kind not in every]

    def mark_planned(self, row: QueuedDocumentRow, revision: int) -> None:
        """Mark ``row`` planned at ``revision`` of its document. The rows a pass plans are
        marked together (``_write_planned``) rather than through the unit of work one by
        one: a pass may plan a backfilled day of thousands of documents."""
        set_committed_value(row, "planned", True)
        self._marked.append({"doc_id": row.document_id, "at_revision": revision})

    def _write_planned(self) -> None:
        """Mark the rows planned that still wait with the revision planned. An edit taken
        in by another worker meanwhile (on PostgreSQL, committed while this pass ran) set
        its row to the new revision: that row keeps waiting, and the next pass posts the
        difference as an adjustment."""
        marked, self._marked = self._marked, []
        if marked:
            self.session.connection().execute(
                _MARK_PLANNED, [{**m, "tenant": self.tenant_id} for m in marked]
            )

    def _keys(
        self, location: Location, rows: list[QueuedDocumentRow], loaded: dict[str, _Loaded]
    ) -> set[str]:
        """The keys ``rows`` may be posted under, per order or in their day's summary."""
        keys: set[str] = set()
        for row in rows:
            document = loaded[row.document_id].document
            if isinstance(document, Sale | Refund | Payout):
                keys.add(order_key(document))
            if isinstance(document, Sale | Refund):
                keys.add(daily_key(location.id, document.currency, row.business_day))
        return keys

    def _summarize(
        self,
        location: Location,
        day: date,
        items: list[tuple[QueuedDocumentRow, Sale | Refund, int]],
    ) -> int:
        builders: dict[str, DailySummaryBuilder] = {}
        revisions: dict[str, int] = {}
        for row, document, revision in items:
            try:
                builder = builders.get(document.currency) or DailySummaryBuilder(
                    location, day, document.currency, self.placement
                )
                builder.add(document, self.placement_for(document))
            except _UNPLANNABLE as exc:
                self._set_aside(row, document, exc)
                continue
            # Kept once it holds a document: a summary of nothing cannot be built.
            builders[document.currency] = builder
            revisions[document.id] = revision
            self.mark_planned(row, revision)
        return sum(
            self.enqueue(self.posting(builders[currency].build(), location, revisions))
            for currency in sorted(builders)
        )

    def _adjust(self, location: Location, current: _Loaded, covered: Coverage) -> int:
        edited = current.document
        posted = self.documents.at_revision(edited.id, covered.revision)
        if not isinstance(edited, Sale | Refund | Payout) or type(posted) is not type(edited):
            raise LookupError(f"revision {covered.revision} of {edited.id} is not stored")
        planned = plan_adjustment(
            posted,
            edited,
            current.revision,
            location,
            posted_placement=self._placement_at(covered.mapping_version, posted),
            placement=self.placement_for(edited),
        )
        self.adjusted += 1
        postings = [
            self.posting(p, location, {edited.id: current.revision}, kind="adjustment")
            for p in planned.postings
        ]
        ids = self.outbox.enqueue_all(postings, self.clock())
        for p, posting_id in zip(planned.postings, ids, strict=True):
            if p is planned.reversal and not self._reverses(posting_id, edited.id):
                # The reversal covers nothing; the link lets reconciliation see the
                # document still in the books on its old day until the reversal posts.
                self.session.add(
                    PostingReversalRow(
                        tenant_id=self.tenant_id,
                        destination=self.destination,
                        location_id=location.id,
                        document_id=edited.id,
                        revision=covered.revision,
                        business_day=p.entry.date,
                        posting_id=posting_id,
                    )
                )
        return len(postings)

    def _reverses(self, posting_id: int, document_id: str) -> bool:
        """Whether ``posting_id`` is linked as a reversal of ``document_id`` already (it
        was planned before, under the same key)."""
        found = self.session.scalar(
            select(PostingReversalRow.id).where(
                PostingReversalRow.posting_id == posting_id,
                PostingReversalRow.document_id == document_id,
            )
        )
        return found is not None

    def _key_taken(self, key: str) -> bool:
        return self.outbox.posting_id(self.destination, key) is not None

    def enqueue(self, *postings: NewPosting) -> int:
        """Create ``postings`` (together); returns how many were planned."""
        return len(self.outbox.enqueue_all(list(postings), self.clock()))

    def posting(
        self,
        planned: PlannedPosting,
        location: Location,
        revisions: dict[str, int],
        *,
        kind: str = "posting",
    ) -> NewPosting:
        """The outbox row of ``planned`` for this location, under its key, or a ``:late-N``
        supplement's when a posting holds the key already."""
        key = planned.key
        if self._key_taken(key):
            # The day was summarized already: late documents get a supplement, never a
            # second entry under the first one's key. Supplements exist only once the key
            # itself is taken (postings are never deleted), so only then are they counted.
            taken = 1 + (
                self.session.scalar(
                    select(func.count()).where(
                        PostingRow.tenant_id == self.tenant_id,
                        PostingRow.destination == self.destination,
                        PostingRow.key.like(f"{key}:late-%"),
                    )
                )
                or 0
            )
            key = f"{key}:late-{taken}"
        return NewPosting(
            destination=self.destination,
            key=key,
            mode=planned.mode.value,
            location_id=location.id,
            entry=planned.entry,
            documents=planned.documents,
            kind=kind,
            revisions=revisions,
            mapping_version=self.mapping.version if self.mapping else None,
        )
