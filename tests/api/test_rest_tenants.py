"""The tenants routes: each caller lists the tenants it may see (a merchant's users and
token their own, staff every one), a page at a time, and reads one it may view."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from callers import OTHER, Callers, opened
from people import sign_in
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.connectors.registry import SourceRegistry
from salesync.store.vault import Vault

TENANTS = "/api/v1/tenants"


@pytest.fixture
def api(
    db: sessionmaker[Session], clock: ManualClock, vault: Vault, registry: SourceRegistry
) -> Iterator[Callers]:
    with opened(db, clock, vault, registry) as found:
        yield found


@pytest.mark.parametrize(
    ("who", "seen"),
    [
        ("token", ["demo"]),
        ("owner", ["demo"]),
        ("bookkeeper", ["demo"]),
        ("other_owner", [OTHER]),
        ("tier1", [OTHER, "demo"]),
        ("developer", [OTHER, "demo"]),
        ("admin", [OTHER, "demo"]),
    ],
)
def test_each_caller_lists_the_tenants_it_may_see(api: Callers, who: str, seen: list[str]) -> None:
    """Merchant users and tenant tokens list their own tenant only; staff list every one."""
    response = api.get(who, TENANTS)
    assert response.status_code == 200, response.text
    assert [t["id"] for t in response.json()["tenants"]] == seen
    assert response.json()["next_cursor"] is None


def test_tenants_come_a_page_at_a_time(api: Callers) -> None:
    """With ``limit=1`` the first page names the cursor of the second, the last none."""
    first = api.get("admin", TENANTS, limit="1").json()
    assert [t["id"] for t in first["tenants"]] == [OTHER]
    assert first["next_cursor"] == OTHER
    second = api.get("admin", TENANTS, limit="1", cursor=first["next_cursor"]).json()
    assert [t["id"] for t in second["tenants"]] == ["demo"]
    assert second["next_cursor"] is None


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "201"}, {"limit": "x"}])
def test_a_limit_out_of_range_is_refused(api: Callers, params: dict[str, str]) -> None:
    """A limit outside 1..200 is a 400 that names the parameter."""
    response = api.get("admin", TENANTS, **params)
    assert response.status_code == 400
    assert response.json()["error"] == "bad_parameter"
    assert "limit" in response.json()["message"]


def test_listing_tenants_needs_a_credential(api: Callers) -> None:
    """Without a credential, or with a made-up one, the list is 401."""
    assert api.client.get(TENANTS).status_code == 401
    made_up = api.client.get(TENANTS, headers={"Authorization": "Bearer ssk_made-up"})
    assert made_up.status_code == 401
    assert made_up.json()["error"] == "bad_token"


def test_a_tenant_shows_its_counts(api: Callers) -> None:
    """One tenant: its name, when it was created, its locations and connections."""
    response = api.get("owner", f"{TENANTS}/demo")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == "demo"
    assert body["locations"] == 2
    assert body["connections"] == 0
    assert body["created_at"].startswith("20")


def test_a_merchant_cannot_open_another_tenant(api: Callers) -> None:
    """Demo's owner and token are refused beta (403) and a tenant that does not exist
    (404); staff get beta."""
    assert api.get("owner", f"{TENANTS}/{OTHER}").json()["error"] == "wrong_tenant"
    assert api.get("token", f"{TENANTS}/{OTHER}").status_code == 403
    assert api.get("owner", f"{TENANTS}/omega").status_code == 404
    assert api.get("tier1", f"{TENANTS}/{OTHER}").json()["name"] == "Beta"


def test_a_signed_in_user_lists_tenants_with_the_session_cookie(api: Callers) -> None:
    """The dashboard's cookie is enough to list (a read needs no CSRF token)."""
    assert sign_in(api.client, "owner@example.com") == 303
    response = api.client.get(TENANTS)
    assert response.status_code == 200, response.text
    assert [t["id"] for t in response.json()["tenants"]] == ["demo"]
