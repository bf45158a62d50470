"""The locations routes: a tenant's locations with their posting mode, a page at a time,
and changing a location's posting mode (bookkeepers, owners and support, not developers),
which is what the planner then posts in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from callers import Callers, opened
from hooksource import MERCHANT, HookSource
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.connectors.registry import SourceRegistry
from salesync.domain.planning import PostingMode
from salesync.engine.planner import Planner
from salesync.store.repositories import Connections, Locations
from salesync.store.vault import Vault

LOCATIONS = "/api/v1/tenants/demo/locations"
FIRST, SECOND = sorted(location.id for location in MERCHANT.locations)


@pytest.fixture
def api(
    db: sessionmaker[Session], clock: ManualClock, vault: Vault, registry: SourceRegistry
) -> Iterator[Callers]:
    with opened(db, clock, vault, registry) as found:
        yield found


def test_locations_list_with_their_mode_a_page_at_a_time(api: Callers) -> None:
    """Each location shows its zone, currency and posting mode (per order until set); with
    ``limit=1`` the second comes from the first page's cursor."""
    first = api.get("bookkeeper", LOCATIONS, limit="1")
    assert first.status_code == 200, first.text
    [shown] = first.json()["locations"]
    wanted = next(loc for loc in MERCHANT.locations if loc.id == FIRST)
    assert shown["id"] == FIRST
    assert (shown["timezone"], shown["currency"]) == (wanted.timezone, wanted.currency)
    assert shown["posting_mode"] == "per_order"
    second = api.get("bookkeeper", LOCATIONS, limit="1", cursor=first.json()["next_cursor"])
    assert [loc["id"] for loc in second.json()["locations"]] == [SECOND]
    assert second.json()["next_cursor"] is None


def test_a_location_is_read_by_its_id(api: Callers) -> None:
    """One location by id; an id the tenant does not have is 404."""
    assert api.get("tier1", f"{LOCATIONS}/{SECOND}").json()["id"] == SECOND
    missing = api.get("tier1", f"{LOCATIONS}/nowhere")
    assert missing.status_code == 404
    assert missing.json()["error"] == "unknown_location"


def test_changing_the_posting_mode_is_what_the_planner_uses(
    api: Callers, db: sessionmaker[Session], clock: ManualClock
) -> None:
    """A bookkeeper sets daily summaries; the answer and the planner both say so."""
    response = api.send(
        "bookkeeper", "PUT", f"{LOCATIONS}/{FIRST}/posting-mode", {"posting_mode": "daily_summary"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["posting_mode"] == "daily_summary"
    assert api.get("owner", f"{LOCATIONS}/{FIRST}").json()["posting_mode"] == "daily_summary"
    with db() as session:
        planner = Planner(session, "demo", Locations(session, "demo").all(), clock)
        assert planner.mode_for(FIRST) is PostingMode.DAILY_SUMMARY
        assert planner.mode_for(SECOND) is PostingMode.PER_ORDER


@pytest.mark.parametrize(
    ("body", "paths"),
    [
        ({"posting_mode": "weekly"}, {"posting_mode"}),
        ({}, {"posting_mode"}),
        ({"posting_mode": "per_order", "colour": "red"}, {"colour"}),
    ],
    ids=["unknown mode", "no mode", "unknown field"],
)
def test_a_bad_posting_mode_names_the_field(
    api: Callers, body: dict[str, str], paths: set[str]
) -> None:
    """A mode that is not one, a missing one or an unknown field: 422 naming the field."""
    response = api.send("owner", "PUT", f"{LOCATIONS}/{FIRST}/posting-mode", body)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_body"
    assert {p["path"] for p in response.json()["problems"]} == paths


def test_a_body_that_is_not_json_is_refused(api: Callers) -> None:
    """Text that is not JSON is a 400 saying the body must be JSON."""
    response = api.client.put(
        f"{LOCATIONS}/{FIRST}/posting-mode", content=b"{mode", headers=api.headers("owner")
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unreadable_body"


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("token", 200),
        ("owner", 200),
        ("bookkeeper", 200),
        ("tier1", 200),
        ("admin", 200),
        ("developer", 403),
        ("other_owner", 403),
    ],
)
def test_who_may_change_a_posting_mode(api: Callers, who: str, status: int) -> None:
    """Changing how a location posts follows edit_mappings: not developers, not another
    tenant's owner; every viewer may read it."""
    response = api.send(
        who, "PUT", f"{LOCATIONS}/{FIRST}/posting-mode", {"posting_mode": "per_payout"}
    )
    assert response.status_code == status, response.text
    reading = api.get(who, f"{LOCATIONS}/{FIRST}")
    assert reading.status_code == (403 if who == "other_owner" else 200)


def test_another_tenants_location_is_not_found(api: Callers) -> None:
    """Staff asking about demo's location under beta get 404, and change nothing."""
    response = api.send(
        "admin",
        "PUT",
        f"/api/v1/tenants/beta/locations/{FIRST}/posting-mode",
        {"posting_mode": "daily_summary"},
    )
    assert response.status_code == 404
    assert api.get("admin", f"{LOCATIONS}/{FIRST}").json()["posting_mode"] == "per_order"


def test_per_payout_is_refused_where_a_feeding_source_reports_no_payouts(
    api: Callers, db: sessionmaker[Session], vault: Vault
) -> None:
    """A location fed by a source without payouts cannot post per payout: 409 naming the
    connection and the modes it can use; the other location, fed by nothing, can."""
    with db() as session, session.begin():
        Connections(session, "demo", vault).add(
            HookSource.name, "source", "Web shop", {"secret": "s"}, {"default_location": FIRST}
        )
    refused = api.send(
        "owner", "PUT", f"{LOCATIONS}/{FIRST}/posting-mode", {"posting_mode": "per_payout"}
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"] == "mode_not_offered"
    assert "Web shop (Hooktest)" in refused.json()["message"]
    assert "per order or as a daily summary" in refused.json()["message"]
    assert api.get("owner", f"{LOCATIONS}/{FIRST}").json()["posting_mode"] == "per_order"
    summary = api.send(
        "owner", "PUT", f"{LOCATIONS}/{FIRST}/posting-mode", {"posting_mode": "daily_summary"}
    )
    assert summary.status_code == 200, summary.text
    other = api.send(
        "owner", "PUT", f"{LOCATIONS}/{SECOND}/posting-mode", {"posting_mode": "per_payout"}
    )
    assert other.status_code == 200, other.text


def test_the_sources_on_offer_say_what_they_can_do(api: Callers) -> None:
    """``GET .../sources`` lists each installed source with how its sales arrive and the
    posting modes they can use."""
    response = api.get("bookkeeper", "/api/v1/tenants/demo/sources")
    assert response.status_code == 200, response.text
    [hook] = response.json()["sources"]
    assert hook["name"] == HookSource.name
    assert (hook["arrival"], hook["webhooks"], hook["payouts"]) == ("webhooks", True, False)
    assert hook["posting_modes"] == ["per_order", "daily_summary"]
    assert any("not per payout" in line for line in hook["explained"])
