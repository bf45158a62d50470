"""The crash-safety campaign, small: two Celery workers post into a served QuickBooks
Online sandbox through a run of each disruption (none, a worker SIGKILLed, Redis
restarted, PostgreSQL restarted) with faults armed at random; after every run every
document is in one posting and every posting's key in the company once."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from salesync.sandbox.chaos import ACTIONS, Campaign, Outcome, report

pytestmark = pytest.mark.postgres


def test_every_disruption_leaves_the_books_exactly_right(tmp_path: Path) -> None:
    with Campaign(tmp_path, workers=2, orders_per_day=2, seed=5) as campaign:
        outcomes = [campaign.run(n, action) for n, action in enumerate(ACTIONS, start=1)]
    said = report(outcomes)
    assert all(o.clean for o in outcomes), (
        said + "\n" + "\n".join(line for o in outcomes for line in o.stuck)
    )
    assert sum(o.documents > 0 for o in outcomes) == len(ACTIONS)
    assert f"{len(ACTIONS)} runs, {len(ACTIONS)} clean: 0 duplicates, 0 losses" in said


def test_runs_of_several_campaigns_add_up_in_one_report() -> None:
    """Outcomes recorded by campaigns with different seeds are reported together: runs,
    duplicates and losses summed, each campaign's documents counted once."""

    def outcome(seed: int, run: int, documents: int, **changes: object) -> Outcome:
        made = Outcome(run, documents, [], "none", True, 0, 0, 1.0, seed=seed)
        return replace(made, **changes)  # type: ignore[arg-type]

    said = report(
        [
            outcome(1, 1, 5),
            outcome(1, 2, 9, duplicates=1),
            outcome(2, 1, 4, settled=False, action="kill"),
        ]
    )
    assert "3 runs, 1 clean: 1 duplicates, 0 losses, 1 not settled in time (runs 2:1)" in said
    assert "campaigns (seeds): 1, 2" in said
    assert "documents: 13;" in said
