"""The sales log and sales report routes: posted sales newest first with where each went,
a page at a time, the freshness sentence, and the report's figures as decimal strings
that add up to what was sold."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from callers import Callers, booked, opened
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.connectors.registry import SourceRegistry
from salesync.domain.documents import Sale
from salesync.store.vault import Vault

SALES = "/api/v1/tenants/demo/sales"
REPORT = "/api/v1/tenants/demo/reports/sales"
DAY = "2026-10-27"


@pytest.fixture
def api(
    db: sessionmaker[Session], clock: ManualClock, vault: Vault, registry: SourceRegistry
) -> Iterator[Callers]:
    with opened(db, clock, vault, registry) as found:
        yield found


@pytest.fixture
def sold(db: sessionmaker[Session], clock: ManualClock, api: Callers) -> list[Sale]:
    return booked(db, clock)


def test_the_log_lists_posted_sales_newest_first(api: Callers, sold: list[Sale]) -> None:
    """Every sale, newest first, posted to the ledger, its total a decimal string."""
    response = api.get("owner", SALES, limit="200")
    assert response.status_code == 200, response.text
    entries = response.json()["entries"]
    newest = sorted(sold, key=lambda s: (s.occurred_at, s.id), reverse=True)
    assert [e["document_id"] for e in entries] == [s.id for s in newest]
    first = entries[0]
    assert first["state"] == "posted"
    assert first["destination"] == "ledger"
    assert Decimal(first["total"]["amount"]) > 0
    assert first["business_day"] == DAY
    assert "synced" in response.json()["freshness"]["text"]


def test_the_log_comes_a_page_at_a_time(api: Callers, sold: list[Sale]) -> None:
    """Pages of two follow each other's cursors without gaps or repeats."""
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        page = api.get("bookkeeper", SALES, **params).json()
        seen += [e["document_id"] for e in page["entries"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(s.id for s in sold)
    assert len(seen) == len(set(seen))


def test_the_log_filters_by_location_and_day(api: Callers, sold: list[Sale]) -> None:
    """One location's sales only; a day with no sales shows none."""
    place = sold[0].location_id
    entries = api.get("owner", SALES, location=place, limit="200").json()["entries"]
    assert {e["location_id"] for e in entries} == {place}
    assert len(entries) == sum(1 for s in sold if s.location_id == place)
    assert api.get("owner", SALES, **{"from": "2026-10-28"}).json()["entries"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "not-a-cursor"},
        {"from": "27/10/2026"},
        {"location": "atlantis"},
        {"limit": "0"},
    ],
)
def test_bad_log_parameters_are_refused(
    api: Callers, sold: list[Sale], params: dict[str, str]
) -> None:
    """A cursor the log did not hand out, a day not written YYYY-MM-DD, a location the
    tenant does not have, or a limit out of range: 400 naming it."""
    response = api.get("owner", SALES, **params)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "bad_parameter"
    assert next(iter(params)) in response.json()["message"]


def test_the_report_adds_up_what_was_sold(api: Callers, sold: list[Sale]) -> None:
    """The day's orders are every sale, one total per currency; in each currency the
    locations' net sales add up to the total."""
    response = api.get("owner", REPORT, **{"from": DAY, "to": DAY})
    assert response.status_code == 200, response.text
    report = response.json()
    assert sum(t["orders"] for t in report["totals"]) == len(sold)
    assert report["documents"] == len(sold)
    assert {t["currency"] for t in report["totals"]} == {s.currency for s in sold}
    for total in report["totals"]:
        places = [
            Decimal(t["figures"]["net_sales"]["amount"])
            for t in report["by_location"]
            if t["figures"]["currency"] == total["currency"]
        ]
        assert sum(places) == Decimal(total["net_sales"]["amount"])
    assert {g["day"] for g in report["groups"]} == {DAY}


@pytest.mark.parametrize(
    "params",
    [{}, {"from": DAY}, {"from": "2026-10-28", "to": DAY}, {"from": "2025-01-01", "to": DAY}],
    ids=["no days", "no last day", "backwards", "over a year"],
)
def test_a_report_needs_a_range_in_order(api: Callers, params: dict[str, str]) -> None:
    """Both days are needed, the last not before the first, a year at most: else 400."""
    response = api.get("owner", REPORT, **params)
    assert response.status_code == 400
    assert response.json()["error"] == "bad_parameter"


@pytest.mark.parametrize(("who", "status"), [("token", 200), ("tier1", 200), ("other_owner", 403)])
def test_who_may_read_sales(api: Callers, who: str, status: int) -> None:
    """Whoever may view the tenant reads its sales log and report."""
    assert api.get(who, SALES).status_code == status
    assert api.get(who, REPORT, **{"from": DAY, "to": DAY}).status_code == status
