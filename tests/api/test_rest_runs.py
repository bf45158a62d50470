"""The runs route: a tenant's sync runs newest first, a page at a time, by step or
outcome, with a failed run's classified error and no other tenant's runs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from callers import OTHER, Callers, opened
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.connectors.registry import SourceRegistry
from salesync.domain.errors import TransientError
from salesync.engine.runs import recorded
from salesync.store.vault import Vault

RUNS = "/api/v1/tenants/demo/runs"


@pytest.fixture
def api(
    db: sessionmaker[Session], clock: ManualClock, vault: Vault, registry: SourceRegistry
) -> Iterator[Callers]:
    """Demo ran a sweep, a plan and a failed send; beta ran a sweep."""
    with opened(db, clock, vault, registry) as found:
        with recorded(db, clock, "sweep", "demo", origin="tests") as run:
            run["records"] = 3
            clock.advance(timedelta(milliseconds=250))
        with recorded(db, clock, "plan", "demo") as run:
            run["postings"] = 1
        with (
            pytest.raises(TransientError),
            recorded(db, clock, "send", "demo"),
        ):
            raise TransientError("the books timed out", code="timeout", provider="qbo")
        with recorded(db, clock, "sweep", OTHER):
            pass
        yield found


def test_runs_come_newest_first_with_what_they_did(api: Callers) -> None:
    """Every demo run, newest first: counts, inputs, timings and a failure's error."""
    response = api.get("owner", RUNS)
    assert response.status_code == 200, response.text
    runs = response.json()["runs"]
    assert [r["step"] for r in runs] == ["send", "plan", "sweep"]
    send, _, sweep = runs
    assert sweep["counts"] == {"records": 3}
    assert sweep["inputs"] == {"origin": "tests"}
    assert sweep["duration_ms"] == 250
    assert sweep["outcome"] == "ok"
    assert send["outcome"] == "failed"
    assert send["error"]["code"] == "timeout"


def test_runs_filter_and_page(api: Callers) -> None:
    """``outcome`` and ``step`` narrow the list; ``limit=2`` pages through all three."""
    assert [r["step"] for r in api.get("tier1", RUNS, outcome="failed").json()["runs"]] == ["send"]
    assert [r["step"] for r in api.get("tier1", RUNS, step="sweep").json()["runs"]] == ["sweep"]
    first = api.get("tier1", RUNS, limit="2").json()
    second = api.get("tier1", RUNS, limit="2", cursor=first["next_cursor"]).json()
    assert [r["step"] for r in first["runs"] + second["runs"]] == ["send", "plan", "sweep"]
    assert second["next_cursor"] is None


@pytest.mark.parametrize(
    "params",
    [{"outcome": "maybe"}, {"cursor": "0"}, {"cursor": "99999999999999999999"}, {"limit": "-1"}],
)
def test_bad_parameters_are_refused(api: Callers, params: dict[str, str]) -> None:
    """An outcome that is not one, or a cursor or limit out of range, is a 400."""
    response = api.get("owner", RUNS, **params)
    assert response.status_code == 400
    assert response.json()["error"] == "bad_parameter"


@pytest.mark.parametrize(
    ("who", "status"),
    [("token", 200), ("bookkeeper", 200), ("developer", 200), ("other_owner", 403)],
)
def test_who_may_see_runs(api: Callers, who: str, status: int) -> None:
    """Whoever may view the tenant sees its runs, and only its own."""
    response = api.get(who, RUNS)
    assert response.status_code == status
    if status == 200:
        assert len(response.json()["runs"]) == 3
