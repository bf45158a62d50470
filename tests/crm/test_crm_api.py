"""The CRM over the REST API: the sales log with when each sale happened and synced and a
freshness sentence naming the next window, the report by associate and category, the
clients, and triggers added with a clear refusal of a bad one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from salesync.api import create_app
from salesync.api.tokens import ApiTokens
from salesync.crm.triggers import Triggers
from salesync.store.tables import SyncPolicyRow
from salesync.store.vault import Vault, new_key

from .world import BROOKLYN, TENANT, Shop, a_sale, local

BASE = f"/api/v1/tenants/{TENANT}/crm"


@pytest.fixture
def api(shop: Shop) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with shop.db() as session, session.begin():
        secret = ApiTokens(session, TENANT, shop.clock).issue("tests")[1]
    app = create_app(shop.db, shop.clock, Vault([new_key()]), engine=shop.engine)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, {"Authorization": f"Bearer {secret}"}


def test_the_log_shows_when_each_sale_happened_and_synced_and_what_still_waits(
    shop: Shop, api: tuple[TestClient, dict[str, str]]
) -> None:
    """A morning sale synced at 18:00 shows a lag of its wait; a later sale is not listed
    yet and the freshness sentence says it waits for the 06:00 window."""
    client, auth = api
    ada = shop.customer("C1", "Ada", "Lovelace", email_address="ada@example.com")
    morning = a_sale("S-1", local(BROOKLYN, 2026, 11, 2, 10, 0), customer=ada, associate="Maya")
    shop.sell(morning)
    shop.tick_at(local(BROOKLYN, 2026, 11, 2, 18, 0))
    evening = a_sale("S-2", local(BROOKLYN, 2026, 11, 2, 19, 0), associate="Lee")
    shop.tick_at(local(BROOKLYN, 2026, 11, 2, 19, 1))
    shop.sell(evening)
    shop.tick_at(local(BROOKLYN, 2026, 11, 2, 19, 2))
    response = client.get(f"{BASE}/sales", params={"location": "brooklyn"}, headers=auth)
    assert response.status_code == 200, response.text
    body = response.json()
    [sale] = body["sales"]
    assert (sale["number"], sale["client"], sale["associate"]) == ("S-1", "Ada Lovelace", "Maya")
    assert sale["lag_minutes"] == 8 * 60
    assert body["freshness"]["text"] == (
        "Brooklyn: sales up to 10:00 on Mon 2 Nov are synced; 1 sale waits for the 06:00 "
        "window on Tue 3 Nov."
    )


def test_the_report_groups_the_crm_sales_by_associate_and_category(
    shop: Shop, api: tuple[TestClient, dict[str, str]]
) -> None:
    """Two of Maya's sales and one of Lee's, all synced: the report counts three orders
    by associate, all in the Accessories category."""
    client, auth = api
    for number, who in (("S-1", "Maya"), ("S-2", "Lee"), ("S-3", "Maya")):
        shop.sell(a_sale(number, local(BROOKLYN, 2026, 11, 2, 10, 0), associate=who))
    shop.tick_at(local(BROOKLYN, 2026, 11, 2, 18, 0))
    response = client.get(
        f"{BASE}/reports/sales", params={"from": "2026-11-02", "to": "2026-11-02"}, headers=auth
    )
    assert response.status_code == 200, response.text
    body = response.json()
    orders = {a["associate"]: a["figures"]["orders"] for a in body["by_associate"]}
    assert orders == {"Lee": 1, "Maya": 2}
    assert [(c["category"], c["figures"]["orders"]) for c in body["by_category"]] == [
        ("Accessories", 3)
    ]
    assert "nothing is waiting" in body["freshness"]["text"]


def test_a_trigger_is_added_and_a_bad_one_refused_naming_each_field(
    shop: Shop, api: tuple[TestClient, dict[str, str]]
) -> None:
    """A good trigger is created; one with an unknown action and negative days gets a 422
    whose problems name both fields."""
    client, auth = api
    made = client.post(
        f"{BASE}/triggers", json={"name": "Thanks", "action": "thank_you", "days": 0}, headers=auth
    )
    assert made.status_code == 201, made.text
    bad = client.post(
        f"{BASE}/triggers", json={"name": "Oops", "action": "postcard", "days": -1}, headers=auth
    )
    assert bad.status_code == 422
    assert {p["path"] for p in bad.json()["problems"]} == {"action", "days"}
    listed = client.get(f"{BASE}/triggers", headers=auth).json()["triggers"]
    assert [(t["name"], t["days"]) for t in listed] == [("Thanks", 0)]


def test_clients_are_listed_with_their_contact_methods(
    shop: Shop, api: tuple[TestClient, dict[str, str]]
) -> None:
    """A client from Square is listed with her email, its origin and her source id."""
    client, auth = api
    shop.customer("C1", "Ada", "Lovelace", email_address="ada@example.com")
    shop.tick_at(local(BROOKLYN, 2026, 11, 2, 9, 1))
    [found] = client.get(f"{BASE}/clients", headers=auth).json()["clients"]
    assert found["contacts"] == [{"kind": "email", "value": "ada@example.com"}]
    assert (found["origins"]["email"], found["customers"]) == ("pos", ["square:C1"])


def test_a_source_set_to_stream_sales_feeds_the_crm_at_once_and_the_merchant_sees_it(
    shop: Shop, api: tuple[TestClient, dict[str, str]]
) -> None:
    """Which sources batch sales and which stream them is a policy row: with the simulator
    streaming, its sale is in the CRM at the next tick and its 0-day trigger fires then,
    and the policies route shows the merchant that choice."""
    client, auth = api
    with shop.db() as session, session.begin():
        session.add(
            SyncPolicyRow(tenant_id=TENANT, source="simulator", kind="sale", mode="realtime")
        )
        Triggers(session, TENANT, shop.clock).add("Thank you", "thank_you", 0)
    sale = a_sale("S-1", local(BROOKLYN, 2026, 11, 2, 10, 0))
    shop.tick_at(local(BROOKLYN, 2026, 11, 2, 10, 0))
    shop.sell(sale)
    shop.tick_at(local(BROOKLYN, 2026, 11, 2, 10, 0, 5))
    synced = shop.crm_sale(sale)
    assert synced is not None
    assert synced.synced_at == local(BROOKLYN, 2026, 11, 2, 10, 0, 5)
    assert [f.state for f in shop.firings()] == ["fired"]
    policies = client.get(f"/api/v1/tenants/{TENANT}/policies", headers=auth).json()["policies"]
    chosen = {(p["source"], p["kind"]): (p["mode"], p["default"]) for p in policies}
    assert chosen[("simulator", "sale")] == ("realtime", False)
    assert chosen[("*", "sale")] == ("scheduled", True)


def test_a_name_edited_through_the_api_survives_the_next_pos_update(
    shop: Shop, api: tuple[TestClient, dict[str, str]]
) -> None:
    """A store renames Ada in the CRM and adds her phone; Square then sends an update
    with another name and a new email: the CRM keeps the edited name, adds the email,
    and an edit taking Grace's email is refused naming the field."""
    client, auth = api
    shop.customer("C1", "Ada", "Lovelace", email_address="ada@example.com")
    shop.customer("C2", "Grace", "Hopper", email_address="grace@example.com")
    shop.tick_at(local(BROOKLYN, 2026, 11, 2, 9, 1))
    ada = next(
        c
        for c in client.get(f"{BASE}/clients", headers=auth).json()["clients"]
        if c["customers"] == ["square:C1"]
    )
    edited = client.patch(
        f"{BASE}/clients/{ada['id']}",
        json={"name": "Augusta Ada King", "phone": "+44 20 7946 0000"},
        headers=auth,
    )
    assert edited.status_code == 200, edited.text
    shop.customer("C1", "Ada L.", "", email_address="ada@newmail.example")
    shop.tick_at(local(BROOKLYN, 2026, 11, 2, 9, 2))
    [now] = [
        c
        for c in client.get(f"{BASE}/clients", headers=auth).json()["clients"]
        if c["id"] == ada["id"]
    ]
    assert (now["name"], now["origins"]["name"]) == ("Augusta Ada King", "crm")
    assert now["email"] == "ada@example.com"
    assert {c["value"] for c in now["contacts"]} == {
        "ada@example.com",
        "ada@newmail.example",
        "+442079460000",
    }
    taken = client.patch(
        f"{BASE}/clients/{ada['id']}", json={"email": "Grace@example.com"}, headers=auth
    )
    assert taken.status_code == 422
    assert [(p["path"], p["code"]) for p in taken.json()["problems"]] == [("email", "email_taken")]
