"""The dashboard's shell: each user is sent to their start, pages need a session, a
tenant's pages are refused to everyone outside it, and forms need the CSRF token."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from fastapi import FastAPI, Request, Response
from fastapi.testclient import TestClient

from salesync.accounts.roles import Action
from salesync.api.dashboard import Dashboard, NavItem
from salesync.api.dashboard.charts import bars, columns
from salesync.api.dashboard.shell import ago, local, money

SignedIn = Callable[[str], TestClient]


def test_signing_in_leads_each_user_to_their_start(signed_in: SignedIn) -> None:
    owner = signed_in("owner@harbor.example")
    assert owner.get("/").headers["location"] == "/app/demo"
    staff = signed_in("tier1@salesync.example")
    assert staff.get("/").headers["location"] == "/staff"
    page = staff.get("/staff")
    assert page.status_code == 200
    assert "Harbor &amp; Pine Goods" in page.text
    assert "Other Shop" in page.text
    assert page.headers["cache-control"] == "no-store"


def test_a_page_without_a_session_asks_to_sign_in_and_comes_back(app: FastAPI) -> None:
    with TestClient(app, follow_redirects=False) as anonymous:
        assert anonymous.get("/").headers["location"] == "/login?next=/"
        sent = anonymous.get("/staff?x=1")
        assert sent.status_code == 303
        assert sent.headers["location"] == "/login?next=/staff?x=1"


def test_merchants_never_see_the_staff_pages(signed_in: SignedIn) -> None:
    owner = signed_in("owner@harbor.example")
    page = owner.get("/staff")
    assert page.status_code == 404
    assert "Other Shop" not in page.text


def _probe_app(app: FastAPI, dash: Dashboard) -> None:
    """A section with one page and one form, as a real section adds them (on the app
    that already has the sign-in pages and the dashboard's own)."""

    class Probe:
        NAV = (
            NavItem("Probe", "/app/{tenant_id}/probe"),
            NavItem("Mappings", "/app/{tenant_id}/probe", Action.EDIT_MAPPINGS),
            NavItem("Queue", "/staff/probe", staff=True),
        )

        @staticmethod
        def register(dash: Dashboard) -> None:
            @dash.get("/app/{tenant_id}/probe")
            def page(request: Request, tenant_id: str) -> Response:
                viewer = dash.viewer(request, tenant_id)
                return dash.render(
                    request,
                    viewer,
                    "dashboard/refused.html",
                    title="Probe",
                    message=f"tenant {viewer.tenant_name}",
                )

            @dash.post("/app/{tenant_id}/probe")
            async def change(request: Request, tenant_id: str) -> Response:
                viewer = dash.viewer(request, tenant_id, Action.EDIT_MAPPINGS)
                fields = await dash.form(request, viewer)
                return dash.redirect(
                    f"/app/{tenant_id}/probe", notice=f"Changed to {fields['value']}."
                )

    dash.register(app, [Probe])


def test_a_section_page_is_scoped_to_its_tenant(
    app: FastAPI, signed_in: SignedIn, csrf: Callable[[TestClient, str], str]
) -> None:
    _probe_app(app, Dashboard(app.state.accounts.factory, app.state.accounts.clock))

    owner = signed_in("owner@harbor.example")
    page = owner.get("/app/demo/probe")
    assert page.status_code == 200
    assert "tenant Harbor &amp; Pine Goods" in page.text
    assert 'href="/app/demo/probe"' in page.text
    assert "/staff/probe" not in page.text  # staff links are for staff

    stranger = signed_in("owner@other.example")
    for path in ("/app/demo/probe", "/app/nowhere/probe"):
        refused = stranger.get(path)
        assert refused.status_code == 404, path
        assert "Harbor" not in refused.text

    # A change needs the page's CSRF token, and the role's permission.
    token = csrf(owner, "/app/demo/probe")
    assert owner.post("/app/demo/probe", data={"value": "x"}).status_code == 403
    sent = owner.post("/app/demo/probe", data={"value": "blue", "csrf_token": token})
    assert sent.status_code == 303
    after = owner.get("/app/demo/probe")
    assert "Changed to blue." in after.text
    assert "Changed to blue." not in owner.get("/app/demo/probe").text  # shown once

    developer = signed_in("dev@salesync.example")
    assert developer.get("/app/demo/probe").status_code == 200
    token = csrf(developer, "/app/demo/probe")
    refused = developer.post("/app/demo/probe", data={"value": "x", "csrf_token": token})
    assert refused.status_code == 403
    assert "may not edit mappings" in refused.text
    assert 'href="/staff/probe"' in developer.get("/app/demo/probe").text


def test_formats_are_plain_and_unambiguous() -> None:
    at = datetime(2026, 3, 8, 11, 30, tzinfo=UTC)
    assert money(Decimal("1234.5"), "USD") == "1,234.50 USD"
    assert money(Decimal("-3"), "") == "-3.00"
    assert local(at, "America/New_York") == "2026-03-08 07:30 EDT"
    assert local(at - timedelta(days=1), "America/New_York") == "2026-03-07 06:30 EST"
    assert ago(at - timedelta(hours=3, minutes=5), at) == "3 hours ago"
    assert ago(None, at) == "never"


def test_charts_carry_their_numbers_as_a_table_too() -> None:
    chart = str(bars([("Candles", Decimal("120.50")), ("Refunds", Decimal("-20"))], title="Net"))
    assert 'role="img"' in chart
    assert "<title>Net</title>" in chart
    assert '<th scope="row">Candles</th><td class="num">120.50</td>' in chart
    assert 'class="bar negative"' in chart
    assert "<script" not in chart
    escaped = str(columns([("<b>", 1)], title="x & y"))
    assert "<b>" not in escaped
    assert "&lt;b&gt;" in escaped
    assert "x &amp; y" in escaped
    assert "nothing to show" in str(bars([], title="Empty"))
