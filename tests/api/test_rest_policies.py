"""The sync policy routes: the policies in force (set or default), and setting when a kind
of document from a source moves, with every problem of a bad request named by field."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from callers import Callers, opened
from hooksource import HookSource
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.connectors.registry import SourceRegistry
from salesync.store.tables import SyncPolicyRow
from salesync.store.vault import Vault

POLICIES = "/api/v1/tenants/demo/policies"


@pytest.fixture
def api(
    db: sessionmaker[Session], clock: ManualClock, vault: Vault, registry: SourceRegistry
) -> Iterator[Callers]:
    with opened(db, clock, vault, registry) as found:
        yield found


def test_without_settings_the_defaults_are_shown(api: Callers) -> None:
    """Sales, refunds and payouts move at 06:00 and 18:00; customers and products at once."""
    response = api.get("bookkeeper", POLICIES)
    assert response.status_code == 200, response.text
    shown = {p["kind"]: p for p in response.json()["policies"]}
    assert set(shown) == {"sale", "refund", "payout", "customer", "product"}
    assert shown["sale"] == {
        "source": "*",
        "kind": "sale",
        "mode": "scheduled",
        "windows": ["06:00", "18:00"],
        "default": True,
    }
    assert (shown["customer"]["mode"], shown["customer"]["windows"]) == ("realtime", [])


def test_a_policy_set_is_kept_and_shown(api: Callers, db: sessionmaker[Session]) -> None:
    """Sales from the webhook test source at 07:00 and 19:30 (sorted), sales from every source
    by hand: both are stored as the intake reads them and listed as set."""
    response = api.send(
        "owner",
        "PUT",
        f"{POLICIES}/{HookSource.name}/sale",
        {"mode": "scheduled", "windows": ["19:30", "07:00"]},
    )
    assert response.status_code == 200, response.text
    assert response.json()["windows"] == ["07:00", "19:30"]
    assert api.send("tier1", "PUT", f"{POLICIES}/*/sale", {"mode": "manual"}).status_code == 200
    shown = [p for p in api.get("owner", POLICIES).json()["policies"] if p["kind"] == "sale"]
    assert [(p["source"], p["mode"], p["default"]) for p in shown] == [
        ("*", "manual", False),
        (HookSource.name, "scheduled", False),
    ]
    with db() as session:
        rows = session.scalars(select(SyncPolicyRow).order_by(SyncPolicyRow.source)).all()
        assert [(r.source, r.kind, r.mode, r.windows) for r in rows] == [
            ("*", "sale", "manual", []),
            (HookSource.name, "sale", "scheduled", ["07:00", "19:30"]),
        ]


def test_scheduled_without_windows_takes_the_default_windows(api: Callers) -> None:
    """A scheduled policy with no windows moves at 06:00 and 18:00, as the CLI does."""
    response = api.send("owner", "PUT", f"{POLICIES}/*/refund", {"mode": "scheduled"})
    assert response.json()["windows"] == ["06:00", "18:00"]


@pytest.mark.parametrize(
    ("body", "paths"),
    [
        ({"mode": "hourly", "windows": ["25:00", "6pm"]}, {"mode", "windows[0]", "windows[1]"}),
        ({"mode": "realtime", "windows": ["06:00"]}, {"windows"}),
        ({"windows": ["06:00"]}, {"mode"}),
        ({"mode": "manual", "when": "now"}, {"when"}),
    ],
    ids=["every bad field", "windows on realtime", "no mode", "unknown field"],
)
def test_a_bad_policy_names_every_field(
    api: Callers, db: sessionmaker[Session], body: dict[str, Any], paths: set[str]
) -> None:
    """A bad policy is refused 422 with a problem for each field, and nothing is kept."""
    response = api.send("owner", "PUT", f"{POLICIES}/*/sale", body)
    assert response.status_code == 422, response.text
    assert {p["path"] for p in response.json()["problems"]} == paths
    with db() as session:
        assert session.scalars(select(SyncPolicyRow)).all() == []


@pytest.mark.parametrize(
    ("path", "error"),
    [("*/invoice", "unknown_kind"), ("nosuchshop/sale", "unknown_source")],
)
def test_an_unknown_kind_or_source_is_not_found(api: Callers, path: str, error: str) -> None:
    """A kind salesync keeps no policy for, or a source it does not know: 404 saying which."""
    response = api.send("owner", "PUT", f"{POLICIES}/{path}", {"mode": "manual"})
    assert response.status_code == 404
    assert response.json()["error"] == error


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("token", 200),
        ("bookkeeper", 200),
        ("tier1", 200),
        ("admin", 200),
        ("developer", 403),
        ("other_owner", 403),
    ],
)
def test_who_may_set_a_policy(api: Callers, who: str, status: int) -> None:
    """Setting a policy follows edit_mappings; developers and other tenants are refused."""
    response = api.send(who, "PUT", f"{POLICIES}/manual/sale", {"mode": "realtime"})
    assert response.status_code == status, response.text
