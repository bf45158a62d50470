"""The merchant's "Sync now" button: what waits for a sync window posts at once, the page
says what moved and what still waits, and only those who may edit mappings may press it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from shop import brooklyn_sale
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.engine.mappings import Mappings
from salesync.engine.runner import Engine
from salesync.rules import strict_retail
from salesync.store import codec
from salesync.store.repositories import Journal

SignedIn = Callable[[str], TestClient]
Csrf = Callable[[TestClient, str], str]
OWNER, BOOKKEEPER = "owner@harbor.example", "books@harbor.example"
DEVELOPER, TIER1 = "dev@salesync.example", "tier1@salesync.example"
OTHER = "owner@other.example"
BUTTON = 'action="/app/demo/sync-now"'


@pytest.fixture
def waiting(db: sessionmaker[Session], clock: ManualClock) -> None:
    """Two Apparel sales taken in and waiting for their sync window, and a Candles sale
    the strict mapping holds."""
    with db() as session, session.begin():
        Mappings(session, "demo").publish(
            strict_retail(categories=["Apparel"], taxes=["NY sales tax"]), clock()
        )
    engine = Engine(db, clock)
    for number, category in (("2001", "Apparel"), ("2002", "Apparel"), ("2003", "Candles")):
        doc = brooklyn_sale(number, category, clock() - timedelta(hours=1))
        engine.receive("demo", "simulator", "sale", json.dumps(codec.encode(doc)))
    engine.run_until_idle("demo")


def posted(db: sessionmaker[Session]) -> int:
    with db() as session:
        return Journal(session, "demo").count()


def words(html: str) -> str:
    """The page's words without tags, as a person reads them."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.mark.usefixtures("waiting")
def test_sync_now_posts_what_waits_and_says_what_still_waits(
    signed_in: SignedIn, csrf: Csrf, db: sessionmaker[Session]
) -> None:
    """The owner's press on the overview releases the three waiting sales and posts the two
    the mapping places; the overview then says so, and that one waits for a mapping."""
    assert posted(db) == 0
    owner = signed_in(OWNER)
    token = csrf(owner, "/app/demo")
    assert BUTTON in owner.get("/app/demo").text
    sent = owner.post("/app/demo/sync-now", data={"csrf_token": token, "back": ""})
    assert sent.status_code == 303, sent.text
    assert sent.headers["location"] == "/app/demo"
    assert posted(db) == 2
    notice = words(owner.get("/app/demo").text)
    assert "Synced now: 3 document(s) that were waiting for a sync window were released" in (notice)
    assert "and 2 entries posted to your books" in notice
    assert "1 document(s) still wait for a mapping" in notice
    again = owner.post("/app/demo/sync-now", data={"csrf_token": token})
    assert again.status_code == 303
    before = posted(db)
    assert "Synced now: 0 document(s)" in words(owner.get("/app/demo").text)
    assert posted(db) == before


@pytest.mark.usefixtures("waiting")
def test_a_bookkeeper_presses_it_on_the_connections_page_and_comes_back_there(
    signed_in: SignedIn, csrf: Csrf, db: sessionmaker[Session]
) -> None:
    """From the connections page the press returns to the connections page; a made-up
    ``back`` value sends the browser to the overview, never elsewhere."""
    books = signed_in(BOOKKEEPER)
    page = books.get("/app/demo/connections")
    assert BUTTON in page.text
    token = csrf(books, "/app/demo/connections")
    sent = books.post("/app/demo/sync-now", data={"csrf_token": token, "back": "connections"})
    assert sent.status_code == 303
    assert sent.headers["location"] == "/app/demo/connections"
    assert posted(db) >= 1
    astray = books.post("/app/demo/sync-now", data={"csrf_token": token, "back": "//evil.example"})
    assert astray.headers["location"] == "/app/demo"


@pytest.mark.usefixtures("waiting")
def test_who_may_not_press_it(signed_in: SignedIn, csrf: Csrf, db: sessionmaker[Session]) -> None:
    """A developer sees no button and gets 403; a form without its CSRF token is 403;
    another merchant's owner gets the not-found page; nothing posts."""
    developer = signed_in(DEVELOPER)
    assert BUTTON not in developer.get("/app/demo").text
    token = csrf(developer, "/app/demo")
    assert developer.post("/app/demo/sync-now", data={"csrf_token": token}).status_code == 403
    owner = signed_in(OWNER)
    assert owner.post("/app/demo/sync-now", data={"back": ""}).status_code == 403
    other = signed_in(OTHER)
    token = csrf(other, "/app/other")
    assert other.post("/app/demo/sync-now", data={"csrf_token": token}).status_code == 404
    assert posted(db) == 0


@pytest.mark.usefixtures("waiting")
def test_support_may_press_it_for_the_merchant(
    signed_in: SignedIn, csrf: Csrf, db: sessionmaker[Session]
) -> None:
    """Tier-1 support, who may edit mappings, sees the button and its press posts."""
    tier1 = signed_in(TIER1)
    assert BUTTON in tier1.get("/app/demo").text
    token = csrf(tier1, "/app/demo")
    assert tier1.post("/app/demo/sync-now", data={"csrf_token": token}).status_code == 303
    assert posted(db) >= 1
