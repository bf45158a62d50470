"""The merchant's pages: overview, connections, timeline, error log, held records with the
one-click mapping fix, and a document's explanation; each with real data, each scoped."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from shop import brooklyn_sale
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.domain.errors import AuthError
from salesync.engine.incidents import Failure, IncidentLog
from salesync.engine.mappings import Mappings
from salesync.engine.runner import Engine
from salesync.rules import strict_retail
from salesync.store import codec
from salesync.store.tables import ConnectionRow, PostingDocumentRow, PostingRow

SignedIn = Callable[[str], TestClient]
Csrf = Callable[[TestClient, str], str]
OWNER, BOOKKEEPER = "owner@harbor.example", "books@harbor.example"
OTHER, DEVELOPER = "owner@other.example", "dev@salesync.example"
CREDENTIAL = b"refresh-token-that-must-never-show"
PAGES = ["", "/connections", "/timeline", "/errors", "/held"]


@pytest.fixture
def world(db: sessionmaker[Session], clock: ManualClock) -> dict[str, str]:
    """``demo`` with a strict mapping that knows Apparel but not Candles, one posted and
    one held sale, a QuickBooks connection that needs reconnecting and its ticket."""
    with db() as session, session.begin():
        Mappings(session, "demo").publish(
            strict_retail(categories=["Apparel"], taxes=["NY sales tax"]), clock()
        )
        session.add(
            ConnectionRow(
                id="c-qbo",
                tenant_id="demo",
                provider="qbo",
                role="destination",
                name="QuickBooks Online",
                status="reconnect",
                credentials=CREDENTIAL,
            )
        )
        IncidentLog(clock).record(
            session,
            "demo",
            Failure(
                error=AuthError(
                    "invalid_grant",
                    user_message="QuickBooks Online refused salesync's sign-in.",
                    code="invalid_grant",
                    provider="qbo",
                    help_url="https://help.example.com/reconnect-quickbooks",
                ),
                stage="connector",
                subject="connection:c-qbo",
                failed_at=clock(),
                connection_id="c-qbo",
            ),
        )
    engine = Engine(db, clock)
    posted = brooklyn_sale("1001", "Apparel", clock() - timedelta(hours=2))
    held = brooklyn_sale("1002", "Candles", clock() - timedelta(hours=1))
    for doc in (posted, held):
        engine.receive("demo", "simulator", "sale", json.dumps(codec.encode(doc)))
    clock.advance(timedelta(days=1))
    engine.run_until_idle("demo")
    return {"posted": posted.id, "held": held.id}


def text_of(html: str) -> str:
    """The page's words without tags, for reading what a person sees."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#34;", '"')


def test_each_page_shows_the_merchants_real_data(
    world: dict[str, str], signed_in: SignedIn
) -> None:
    """Overview, connections, timeline, errors and held records each show what happened."""
    owner = signed_in(OWNER)
    pages = {p: owner.get(f"/app/demo{p}") for p in PAGES}
    assert {p: r.status_code for p, r in pages.items()} == dict.fromkeys(PAGES, 200)
    overview = text_of(pages[""].text)
    assert "1 document held for a mapping" in overview
    assert "QuickBooks Online" in overview
    assert 'href="/connections/c-qbo/reconnect"' in pages[""].text
    assert "Posted 1 entry to your books" in overview
    connections = text_of(pages["/connections"].text)
    assert "needs reconnect" in connections
    assert "Built-in ledger" in connections
    assert CREDENTIAL.decode() not in pages["/connections"].text
    assert "Posted 1 entry to your books" in text_of(pages["/timeline"].text)
    errors = pages["/errors"].text
    assert "QuickBooks Online needs you to sign in again" in text_of(errors)
    assert 'href="https://help.example.com/reconnect-quickbooks"' in errors
    assert "Records wait for a mapping" in text_of(errors)
    assert 'href="/app/demo/held"' in errors
    held = text_of(pages["/held"].text)
    assert "Map category “Candles”" in held
    assert "Income:Sales:Apparel" in pages["/held"].text  # an account to pick
    assert f"/app/demo/documents/{world['held']}" in pages["/held"].text
    assert 'aria-live="polite"' in pages["/held"].text


def test_a_document_page_explains_where_it_is(world: dict[str, str], signed_in: SignedIn) -> None:
    """A posted sale names the books and reference; a held one names the missing value."""
    owner = signed_in(OWNER)
    posted = owner.get(f"/app/demo/documents/{world['posted']}")
    held = owner.get(f"/app/demo/documents/{world['held']}")
    assert posted.status_code == 200
    assert "Posted to your books." in text_of(posted.text)
    assert "the built-in ledger" in text_of(posted.text)
    assert held.status_code == 200
    assert "'Candles'" in text_of(held.text).replace("&#39;", "'")
    assert 'action="/app/demo/held/fix"' in held.text
    assert owner.get("/app/demo/documents/nothing-here").status_code == 404


def test_another_merchant_sees_none_of_it(world: dict[str, str], signed_in: SignedIn) -> None:
    """Every merchant page of ``demo`` is refused to the owner of ``other``, with no data."""
    other = signed_in(OTHER)
    for path in [*PAGES, f"/documents/{world['posted']}"]:
        answer = other.get(f"/app/demo{path}")
        assert answer.status_code in (403, 404), path
        assert "QuickBooks Online" not in answer.text
        assert "Candles" not in answer.text
    assert "Candles" not in other.get("/app/other/held").text
    assert other.get(f"/app/other/documents/{world['held']}").status_code == 404


def test_a_bookkeeper_fixes_the_mapping_and_the_sale_posts(
    world: dict[str, str],
    signed_in: SignedIn,
    csrf: Csrf,
    db: sessionmaker[Session],
    clock: ManualClock,
) -> None:
    """The fix publishes a version, says how many were released, and the next tick posts it."""
    books = signed_in(BOOKKEEPER)
    token = csrf(books, "/app/demo/held")
    sent = books.post(
        "/app/demo/held/fix",
        data={
            "csrf_token": token,
            "target": "income",
            "condition": 'category == "Candles"',
            "account": "",
            "new_account": "Income:Sales:Candles",
        },
    )
    assert sent.status_code == 303, sent.text
    assert sent.headers["location"] == "/app/demo/held"
    after = books.get("/app/demo/held")
    notice = text_of(after.text)
    assert "Published mapping version 2" in notice
    assert "1 held document(s) released" in notice
    assert 'role="status"' in after.text
    assert "No documents are held." in notice

    Engine(db, clock).run_until_idle("demo")
    with db() as session:
        state = session.scalar(
            select(PostingRow.state)
            .join(PostingDocumentRow, PostingDocumentRow.posting_id == PostingRow.id)
            .where(PostingDocumentRow.document_id == world["held"])
        )
    assert state == "posted"
    page = text_of(books.get(f"/app/demo/documents/{world['held']}").text)
    assert "Posted to your books." in page


def test_a_developer_may_look_but_not_fix_and_bad_fixes_are_explained(
    world: dict[str, str], signed_in: SignedIn, csrf: Csrf
) -> None:
    """Staff developers get 403 on the fix; a form without an account or CSRF is refused."""
    developer = signed_in(DEVELOPER)
    looked = developer.get("/app/demo/held")
    assert looked.status_code == 200
    assert "“Candles” (1 held) — ask your bookkeeper" in looked.text
    assert 'action="/app/demo/held/fix"' not in looked.text
    form = {"target": "income", "condition": 'category == "Candles"', "account": "Income:X"}
    refused = developer.post(
        "/app/demo/held/fix", data={**form, "csrf_token": csrf(developer, "/app/demo/held")}
    )
    assert refused.status_code == 403
    owner = signed_in(OWNER)
    token = csrf(owner, "/app/demo/held")
    assert owner.post("/app/demo/held/fix", data=form).status_code == 403  # no CSRF token
    empty = owner.post("/app/demo/held/fix", data={**form, "account": "", "csrf_token": token})
    assert empty.status_code == 400
    assert "choose the account" in empty.text
    bad = owner.post("/app/demo/held/fix", data={**form, "account": "Sales", "csrf_token": token})
    assert bad.status_code == 400
    assert "must start with one of" in bad.text
    assert "Map category “Candles”" in text_of(owner.get("/app/demo/held").text)


def test_the_documents_list_filters_by_state_and_refuses_unknown_ones(
    world: dict[str, str], signed_in: SignedIn
) -> None:
    """Held shows the Candles sale only, posted the Apparel one; a made-up state is a 400."""
    owner = signed_in(OWNER)
    everything = owner.get("/app/demo/documents")
    held = owner.get("/app/demo/documents?state=held&kind=sale")
    posted = owner.get("/app/demo/documents?state=posted&location=brooklyn")
    assert everything.status_code == held.status_code == posted.status_code == 200
    assert world["held"] in everything.text
    assert world["posted"] in everything.text
    assert world["held"] in held.text
    assert world["posted"] not in held.text
    assert world["posted"] in posted.text
    assert world["held"] not in posted.text
    assert owner.get("/app/demo/documents?state=lost").status_code == 400
    assert owner.get("/app/demo/documents?before=nope").status_code == 400
    assert world["held"] not in signed_in(OTHER).get("/app/other/documents").text
