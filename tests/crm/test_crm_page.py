"""The clienteling page: the owner sees how current the CRM is, its sales with when they
synced, sales by associate and the triggers' decisions; another merchant's owner does not."""

from __future__ import annotations

import re
from html import unescape as html_text

from fastapi.testclient import TestClient

from salesync.accounts.passwords import Cost
from salesync.accounts.roles import Role
from salesync.accounts.users import Users
from salesync.api import create_app
from salesync.api.session import SignIn
from salesync.domain.documents import Tenant
from salesync.store.repositories import Tenants
from salesync.store.vault import Vault, new_key

from .test_crm_flow import add_trigger
from .world import BROOKLYN, TENANT, Shop, a_sale, local

CHEAP = Cost(n=2**10)
PASSWORD = "correct horse battery"  # noqa: S105  a test user's password
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def browser(shop: Shop, email: str) -> TestClient:
    app = create_app(
        shop.db, shop.clock, Vault([new_key()]), engine=shop.engine,
        sign_in=SignIn(shop.db, shop.clock, cost=CHEAP),
    )  # fmt: skip
    client = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    found = _CSRF.search(client.get("/login").text)
    assert found is not None
    sent = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": found.group(1)}
    )
    assert sent.status_code == 303, sent.text
    return client


def test_the_owner_sees_the_crm_sales_lag_associates_and_trigger_decisions(shop: Shop) -> None:
    """After the 18:00 window the page lists the morning sale, Maya's total and the
    fired thank-you; the owner of another merchant is refused."""
    with shop.db() as session, session.begin():
        Tenants(session).add(Tenant("other", "Other Shop"))
        users = Users(session, shop.clock, CHEAP)
        users.add("owner@harbor.example", PASSWORD, Role.OWNER, TENANT)
        users.add("owner@other.example", PASSWORD, Role.OWNER, "other")
    add_trigger(shop, "Thank you", "thank_you", 0)
    ada = shop.customer("C1", "Ada", "Lovelace", email_address="ada@example.com")
    shop.sell(a_sale("S-1", local(BROOKLYN, 2026, 11, 2, 10, 0), customer=ada))
    shop.tick_at(local(BROOKLYN, 2026, 11, 2, 18, 0))
    with browser(shop, "owner@harbor.example") as owner:
        page = owner.get(f"/app/{TENANT}/crm")
    assert page.status_code == 200, page.text
    html = page.text
    assert "Brooklyn: sales up to 10:00 on Mon 2 Nov are synced" in html
    assert "Ada Lovelace" in html
    assert "Maya" in html
    assert "Thank you" in html
    assert "fired" in html
    words = " ".join(html_text(re.sub(r"<[^>]+>", " ", html)).split())
    assert "square batched: at 06:00, 18:00, each location's own time" in words
    assert "Manual entry streamed: each sale as it happens" in words
    with browser(shop, "owner@other.example") as stranger:
        refused = stranger.get(f"/app/{TENANT}/crm")
    assert refused.status_code in (403, 404)
    assert "Ada Lovelace" not in refused.text
