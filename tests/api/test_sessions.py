"""Signing in to the dashboard: the form, the session cookie and its flags, CSRF on
changes, the throttle on guessing, and signing out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from people import PASSWORD, accounts_app, add_user, csrf_of, key_of, sign_in
from sqlalchemy.orm import Session, sessionmaker

from salesync.accounts.roles import Action, Principal, Role
from salesync.accounts.users import Users
from salesync.api.auth import request_refusal
from salesync.api.session import Throttle, principal
from salesync.clock import ManualClock
from salesync.connectors.registry import SourceRegistry
from salesync.domain.documents import Tenant
from salesync.store.repositories import Tenants
from salesync.store.vault import Vault

ANN = "ann@example.com"


@pytest.fixture
def app(
    db: sessionmaker[Session], clock: ManualClock, vault: Vault, registry: SourceRegistry
) -> FastAPI:
    add_user(db, clock, ANN, Role.OWNER, "demo")
    built = accounts_app(db, clock, vault, registry, Throttle(clock, limit=3))

    @built.post("/test/change")
    def change(who: Principal = Depends(principal)) -> dict[str, str]:  # noqa: B008 -- FastAPI's way
        return {"email": who.email}

    return built


@pytest.fixture
def browser(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _cookies(response_headers: list[str], name: str) -> list[str]:
    return [h for h in response_headers if h.startswith(f"{name}=")]


def test_the_login_page_is_a_form_with_a_nonce(browser: TestClient) -> None:
    """GET /login shows the form, its nonce also in a short-lived HttpOnly cookie."""
    page = browser.get("/login")
    assert page.status_code == 200
    assert 'name="password" type="password"' in page.text
    nonce = csrf_of(page.text)
    (cookie,) = _cookies(page.headers.get_list("set-cookie"), "salesync_login")
    assert cookie.startswith(f"salesync_login={nonce};")
    assert "HttpOnly" in cookie
    assert page.headers["cache-control"] == "no-store"


def test_signing_in_sets_an_http_only_lax_cookie_and_goes_on(browser: TestClient) -> None:
    """The right password opens a session in an HttpOnly, SameSite=Lax cookie (not
    Secure over plain http) and the account page names the user."""
    nonce = csrf_of(browser.get("/login").text)
    sent = browser.post(
        "/login",
        data={"email": "ANN@example.com", "password": PASSWORD, "csrf_token": nonce},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    assert sent.headers["location"] == "/"
    (cookie,) = _cookies(sent.headers.get_list("set-cookie"), "salesync_session")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/" in cookie
    assert "Secure" not in cookie
    account = browser.get("/account")
    assert ANN in account.text
    assert "owner of demo" in account.text
    me = browser.get("/api/v1/me").json()
    assert (me["email"], me["role"], me["tenant_id"]) == (ANN, "owner", "demo")
    assert me["may"]["manage_users"] == "own"
    assert "replay" not in me["may"]


def test_the_cookie_is_secure_over_https(app: FastAPI) -> None:
    """Served over https, the session cookie is marked Secure."""
    with TestClient(app, base_url="https://testserver") as client:
        nonce = csrf_of(client.get("/login").text)
        sent = client.post(
            "/login",
            data={"email": ANN, "password": PASSWORD, "csrf_token": nonce},
            follow_redirects=False,
        )
    (cookie,) = _cookies(sent.headers.get_list("set-cookie"), "salesync_session")
    assert "Secure" in cookie


@pytest.mark.parametrize(
    ("email", "password"), [(ANN, "not the password"), ("who@example.com", PASSWORD)]
)
def test_a_wrong_password_or_email_gets_the_same_answer(
    browser: TestClient, email: str, password: str
) -> None:
    """A wrong password and an unknown email are told apart by nothing, and open nothing."""
    nonce = csrf_of(browser.get("/login").text)
    sent = browser.post("/login", data={"email": email, "password": password, "csrf_token": nonce})
    assert sent.status_code == 401
    assert "The email or password is wrong." in sent.text
    assert not _cookies(sent.headers.get_list("set-cookie"), "salesync_session")
    assert browser.get("/api/v1/me").status_code == 401


def test_a_login_posted_from_elsewhere_is_refused(browser: TestClient) -> None:
    """A login form without this browser's nonce (another site's) signs nobody in."""
    sent = browser.post("/login", data={"email": ANN, "password": PASSWORD, "csrf_token": "forged"})
    assert sent.status_code == 403
    assert browser.get("/api/v1/me").status_code == 401


def test_guessing_is_held_back_then_allowed_again(
    browser: TestClient, clock: ManualClock, db: sessionmaker[Session]
) -> None:
    """After 3 failures the email is held back, even with the right password, for this
    address only, until the window has passed."""
    add_user(db, clock, "bob@example.com", Role.BOOKKEEPER, "demo")
    for _ in range(3):
        assert sign_in(browser, ANN, "not the password") == 401
    held = browser.post(
        "/login",
        data={
            "email": ANN,
            "password": PASSWORD,
            "csrf_token": csrf_of(browser.get("/login").text),
        },
    )
    assert held.status_code == 429
    assert "Too many failed attempts" in held.text
    assert int(held.headers["retry-after"]) > 0
    assert sign_in(browser, "bob@example.com") == 303
    clock.advance(timedelta(minutes=15))
    assert sign_in(browser, ANN) == 303


def test_the_throttle_forgets_the_oldest_keys_past_its_capacity(clock: ManualClock) -> None:
    """A flood of made-up emails cannot grow the throttle's memory without bound."""
    throttle = Throttle(clock, limit=1, capacity=2)
    for email in ("a", "b", "c"):
        throttle.failed((email, "ip"))
    assert throttle.wait(("a", "ip")) is None
    assert throttle.wait(("c", "ip")) is not None


def test_only_local_paths_are_followed_after_signing_in(browser: TestClient) -> None:
    """``next`` may lead on to a page of this site, never to another site."""
    assert sign_in(browser, ANN, next="/account?tab=1") == 303
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        nonce = csrf_of(browser.get("/login").text)
        sent = browser.post(
            "/login",
            data={"email": ANN, "password": PASSWORD, "csrf_token": nonce, "next": target},
            follow_redirects=False,
        )
        assert sent.headers["location"] == "/", target


def test_a_change_with_the_cookie_needs_the_csrf_token(
    browser: TestClient, db: sessionmaker[Session], clock: ManualClock
) -> None:
    """A POST carried by the session cookie is refused without the session's CSRF token,
    taken in a header or a form field; a user key needs none."""
    assert sign_in(browser, ANN) == 303
    refused = browser.post("/test/change")
    assert refused.status_code == 403
    assert refused.json()["error"] == "csrf"
    assert browser.post("/test/change", headers={"X-CSRF-Token": "guess"}).status_code == 403
    token = csrf_of(browser.get("/account").text)
    assert browser.post("/test/change", headers={"X-CSRF-Token": token}).json() == {"email": ANN}
    assert browser.post("/test/change", data={"csrf_token": token}).status_code == 200
    key = key_of(db, clock, add_user(db, clock, "t1@example.com", Role.TIER1))
    with TestClient(browser.app) as script:
        sent = script.post("/test/change", headers={"Authorization": f"Bearer {key}"})
    assert sent.json() == {"email": "t1@example.com"}


def test_signing_out_needs_the_token_and_ends_the_session(browser: TestClient) -> None:
    """Sign-out without the CSRF token is refused; with it the session is gone for good,
    even for a copy of the cookie."""
    assert sign_in(browser, ANN) == 303
    stolen = browser.cookies["salesync_session"]
    assert browser.post("/logout", follow_redirects=False).status_code == 403
    assert browser.get("/api/v1/me").status_code == 200
    token = csrf_of(browser.get("/account").text)
    out = browser.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303
    assert out.headers["location"] == "/login"
    assert browser.get("/api/v1/me").status_code == 401
    with TestClient(browser.app) as other:
        other.cookies.set("salesync_session", stolen)
        assert other.get("/api/v1/me").status_code == 401


def test_an_idle_session_ends_and_sends_the_browser_to_sign_in(
    browser: TestClient, clock: ManualClock
) -> None:
    """After 12 quiet hours the account page asks the browser to sign in again."""
    assert sign_in(browser, ANN) == 303
    clock.advance(timedelta(hours=12))
    page = browser.get("/account", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/account"
    assert browser.get("/api/v1/me").status_code == 401


def test_a_disabled_users_session_and_key_stop_at_once(
    browser: TestClient, db: sessionmaker[Session], clock: ManualClock
) -> None:
    """Disabling a user ends their open session and refuses their key."""
    assert sign_in(browser, ANN) == 303
    with db() as session:
        user = Users(session, clock).by_email(ANN)
    assert user is not None
    key = key_of(db, clock, user.id)
    with db() as session, session.begin():
        Users(session, clock).disable(ANN)
    assert browser.get("/api/v1/me").status_code == 401
    with TestClient(browser.app) as script:
        assert (
            script.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401
        )


def test_tenant_routes_can_take_the_session_cookie(
    app: FastAPI, browser: TestClient, db: sessionmaker[Session], clock: ManualClock
) -> None:
    """``request_refusal`` lets a signed-in owner read their tenant, asks a change for
    the CSRF header, and refuses another tenant and an action the role lacks."""
    with db() as session, session.begin():
        Tenants(session).add(Tenant("beta", "Beta"))

    def guarded(tenant_id: str, request: Request) -> Response:
        action = Action(request.query_params.get("action", Action.VIEW_TENANT))
        refused = request_refusal(db, clock, tenant_id, request, action=action)
        return refused or JSONResponse({"tenant": tenant_id})

    app.add_api_route("/test/tenants/{tenant_id}", guarded, methods=["GET", "POST"])
    assert browser.get("/test/tenants/demo").status_code == 401
    assert sign_in(browser, ANN) == 303
    assert browser.get("/test/tenants/demo").json() == {"tenant": "demo"}
    assert browser.get("/test/tenants/beta").json()["error"] == "wrong_tenant"
    assert browser.get("/test/tenants/omega").status_code == 404
    assert browser.post("/test/tenants/demo").json()["error"] == "csrf"
    token = csrf_of(browser.get("/account").text)
    assert browser.post("/test/tenants/demo", headers={"X-CSRF-Token": token}).status_code == 200
    replay = browser.get("/test/tenants/demo", params={"action": "replay"})
    assert replay.status_code == 403
    assert replay.json()["error"] == "not_allowed"
    clock.advance(timedelta(hours=12))
    assert browser.get("/test/tenants/demo").json()["error"] == "session_ended"
