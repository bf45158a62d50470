"""Whose turn it is, decided inside the caller's transaction: the on-call member (with
overrides) or the next round-robin member, whose cursor row stays locked until commit."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from salesync.monitor.routing.config import TeamConfig
from salesync.monitor.routing.oncall import Override, on_call
from salesync.monitor.routing.outcomes import How
from salesync.store.database import insert_new
from salesync.store.tables import AssignmentCursorRow, OnCallOverrideRow


class Turns:
    """Chooses a team's member inside a transaction, holding the round-robin cursors."""

    def __init__(self, session: Session, now: datetime) -> None:
        self.session = session
        self.now = now
        self.cursors: dict[str, AssignmentCursorRow] = {}

    def lock(self, teams: Iterable[TeamConfig]) -> None:
        """Lock the cursors of the round-robin ``teams``, in name order."""
        names = sorted({t.name for t in teams if t.mode == "round_robin"} - set(self.cursors))
        for name in names:
            self.session.execute(
                insert_new(self.session, AssignmentCursorRow)
                .values(team=name, last_member="", updated_at=self.now)
                .on_conflict_do_nothing(index_elements=["team"])
            )
            self.cursors[name] = self.session.scalars(
                select(AssignmentCursorRow)
                .where(AssignmentCursorRow.team == name)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).one()

    def pick(self, team: TeamConfig) -> tuple[str, How]:
        """(member, how) for the next ticket of ``team``."""
        if team.mode == "oncall":
            who = on_call(team, self.now, load_overrides(self.session, team.name, self.now))
            return who.member, "override" if who.override else "oncall"
        self.lock([team])
        cursor = self.cursors[team.name]
        names = [m.name for m in team.members]
        first = names.index(cursor.last_member) + 1 if cursor.last_member in names else 0
        turns = [team.members[(first + i) % len(names)] for i in range(len(names))]
        chosen = next((m for m in turns if m.in_hours(self.now)), turns[0])
        cursor.last_member = chosen.name
        cursor.updated_at = self.now
        return chosen.name, "round_robin"


def load_overrides(session: Session, team: str, at: datetime | None) -> list[Override]:
    """``team``'s overrides (those covering ``at`` if given), in the order they start."""
    query = select(OnCallOverrideRow).where(OnCallOverrideRow.team == team)
    if at is not None:
        query = query.where(OnCallOverrideRow.starts_at <= at, OnCallOverrideRow.ends_at > at)
    rows = session.scalars(query.order_by(OnCallOverrideRow.starts_at, OnCallOverrideRow.id))
    return [override_of(row) for row in rows]


def override_of(row: OnCallOverrideRow) -> Override:
    return Override(
        team=row.team,
        member=row.member,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        reason=row.reason,
        id=row.id,
    )
