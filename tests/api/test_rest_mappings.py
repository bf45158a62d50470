"""The mapping routes: the version in force and every version, publishing a whole mapping
(every problem of bad data named, a version taken meanwhile a conflict) and the one-click
rule that releases what was held for a mapping."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from callers import Callers, opened
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.connectors.registry import SourceRegistry
from salesync.engine.mappings import Mappings
from salesync.rules import mapping_to_dict, retail_default
from salesync.store.vault import Vault

MAPPINGS = "/api/v1/tenants/demo/mappings"


@pytest.fixture
def api(
    db: sessionmaker[Session], clock: ManualClock, vault: Vault, registry: SourceRegistry
) -> Iterator[Callers]:
    with opened(db, clock, vault, registry) as found:
        yield found


def mapping(version: int = 1) -> dict[str, Any]:
    """A valid mapping (the retail preset) numbered ``version``."""
    return {**mapping_to_dict(retail_default()), "version": version}


def test_nothing_published_shows_the_first_version_to_publish(api: Callers) -> None:
    """Before any mapping: no latest, version 1 comes next, no versions."""
    body = api.get("bookkeeper", MAPPINGS).json()
    assert (body["latest"], body["next_version"], body["versions"]) == (None, 1, [])


def test_publishing_keeps_the_version_and_who_published_it(
    api: Callers, db: sessionmaker[Session]
) -> None:
    """A bookkeeper publishes version 1 (201), named by email; the same body again is 200
    with the same version; the mapping reads back as published."""
    first = api.send("bookkeeper", "POST", MAPPINGS, mapping())
    assert first.status_code == 201, first.text
    assert first.json() == {"version": 1, "released": 0}
    again = api.send("bookkeeper", "POST", MAPPINGS, mapping())
    assert (again.status_code, again.json()["version"]) == (200, 1)
    shown = api.get("owner", f"{MAPPINGS}/1").json()
    assert shown["published_by"] == "bookkeeper@example.com"
    assert shown["mapping"] == mapping()
    with db() as session:
        assert Mappings(session, "demo").latest() == retail_default()


def test_a_tenant_token_publishes_under_its_id(api: Callers) -> None:
    """A script with the tenant's API token is named ``api-token:<id>``, never the secret."""
    assert api.send("token", "POST", MAPPINGS, mapping()).status_code == 201
    shown = api.get("token", f"{MAPPINGS}/1").json()
    assert shown["published_by"] == f"api-token:{api.token_id}"


def test_bad_mapping_data_lists_every_problem(api: Callers) -> None:
    """Two bad rules and a missing fixed account: 422 with a problem for each, by field."""
    data = mapping()
    data["rules"] = [
        {"target": "income", "when": "sku ==", "account": "Income:Sales"},
        {"target": "tax", "when": "true"},
        *data["rules"],
    ]
    del data["accounts"]["bank"]
    response = api.send("owner", "POST", MAPPINGS, data)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_mapping"
    paths = [p["path"] for p in response.json()["problems"]]
    assert paths == ["rules[0]", "rules[1]", "accounts.bank"]


@pytest.mark.parametrize("body", [[1, 2], "mapping"], ids=["a list", "a string"])
def test_a_body_that_is_no_object_is_refused(api: Callers, body: Any) -> None:
    """JSON that is not an object cannot be a mapping: 422."""
    response = api.send("owner", "POST", MAPPINGS, body)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_body"


def test_a_version_taken_meanwhile_is_a_conflict(api: Callers) -> None:
    """Version 1 published, a different version 1 is refused 409, and so is version 3."""
    assert api.send("owner", "POST", MAPPINGS, mapping()).status_code == 201
    changed = mapping()
    changed["payout_tender"] = "cash"
    taken = api.send("tier1", "POST", MAPPINGS, changed)
    assert taken.status_code == 409, taken.text
    assert taken.json()["error"] == "mapping_conflict"
    assert "Reload" in taken.json()["message"]
    skipped = api.send("tier1", "POST", MAPPINGS, {**changed, "version": 3})
    assert skipped.status_code == 409


def test_versions_come_newest_first_a_page_at_a_time(api: Callers) -> None:
    """Three versions: the latest is shown whole; versions page 3, 2 then 1."""
    for version in (1, 2, 3):
        data = mapping(version)
        data["payout_tender"] = f"tender{version}"
        assert api.send("admin", "POST", MAPPINGS, data).status_code == 201
    first = api.get("owner", MAPPINGS, limit="2").json()
    assert first["latest"]["payout_tender"] == "tender3"
    assert first["next_version"] == 4
    assert [v["version"] for v in first["versions"]] == [3, 2]
    second = api.get("owner", MAPPINGS, limit="2", cursor=first["next_cursor"]).json()
    assert [v["version"] for v in second["versions"]] == [1]
    assert second["next_cursor"] is None


@pytest.mark.parametrize("version", ["2", "0", "x", "99999999999999999999"])
def test_a_version_never_published_is_not_found(api: Callers, version: str) -> None:
    """A version that was not published, or is no version number, is 404."""
    assert api.send("owner", "POST", MAPPINGS, mapping()).status_code == 201
    response = api.get("owner", f"{MAPPINGS}/{version}")
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_version"


def test_one_rule_is_added_before_the_catch_all(api: Callers) -> None:
    """The one-click fix publishes the next version with the rule placed so it wins."""
    assert api.send("owner", "POST", MAPPINGS, mapping()).status_code == 201
    rule = {"target": "income", "condition": 'sku == "HAT-1"', "account": "Income:Sales:Hats"}
    response = api.send("bookkeeper", "POST", f"{MAPPINGS}/rules", rule)
    assert response.status_code == 201, response.text
    assert response.json()["version"] == 2
    rules = api.get("owner", f"{MAPPINGS}/2").json()["mapping"]["rules"]
    income = [r for r in rules if r["target"] == "income"]
    assert income[0] == {
        "target": "income",
        "when": 'sku == "HAT-1"',
        "account": "Income:Sales:Hats",
    }


@pytest.mark.parametrize(
    ("rule", "status"),
    [
        ({"target": "income", "condition": "sku ==", "account": "Income:Sales"}, 422),
        ({"target": "colour", "condition": "true", "account": "Income:Sales"}, 422),
        ({"target": "income", "condition": 'sku == "A"'}, 422),
    ],
    ids=["bad condition", "unknown target", "no account"],
)
def test_a_bad_rule_is_refused_with_its_problem(
    api: Callers, rule: dict[str, str], status: int
) -> None:
    """A rule that cannot be built is refused 422 and nothing is published."""
    assert api.send("owner", "POST", MAPPINGS, mapping()).status_code == 201
    response = api.send("owner", "POST", f"{MAPPINGS}/rules", rule)
    assert response.status_code == status, response.text
    assert response.json()["problems"]
    assert api.get("owner", MAPPINGS).json()["next_version"] == 2


def test_a_rule_needs_a_published_mapping(api: Callers) -> None:
    """With nothing published there is nothing to add a rule to: 422 saying so."""
    rule = {"target": "income", "condition": "true", "account": "Income:Sales"}
    response = api.send("owner", "POST", f"{MAPPINGS}/rules", rule)
    assert response.status_code == 422
    assert "publish a whole mapping first" in response.json()["message"]


@pytest.mark.parametrize(
    ("who", "status"),
    [("owner", 201), ("tier1", 201), ("developer", 403), ("other_owner", 403)],
)
def test_who_may_publish(api: Callers, who: str, status: int) -> None:
    """Publishing follows edit_mappings; every viewer of the tenant may read mappings."""
    assert api.send(who, "POST", MAPPINGS, mapping()).status_code == status
    assert api.get(who, MAPPINGS).status_code == (403 if who == "other_owner" else 200)
