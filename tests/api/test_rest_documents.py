"""The document routes: a tenant's documents newest first with where each stands, by
kind, state and location, a page at a time, and one document explained in plain words
with the postings that carry it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import pytest
from callers import OTHER, Callers, booked, opened
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.connectors.registry import SourceRegistry
from salesync.domain.documents import DocumentKind, Sale, document_id
from salesync.engine.runner import Engine
from salesync.store import codec
from salesync.store.vault import Vault

DOCUMENTS = "/api/v1/tenants/demo/documents"


@pytest.fixture
def api(
    db: sessionmaker[Session], clock: ManualClock, vault: Vault, registry: SourceRegistry
) -> Iterator[Callers]:
    with opened(db, clock, vault, registry) as found:
        yield found


@pytest.fixture
def sold(db: sessionmaker[Session], clock: ManualClock, api: Callers) -> list[Sale]:
    """Demo's posted sales, then one more received that waits for its window."""
    found = booked(db, clock)
    late = replace(found[0], external_id="LATE-1")
    late = replace(late, id=document_id("demo", late.source, DocumentKind.SALE, "LATE-1"))
    engine = Engine(db, clock)
    engine.receive("demo", late.source, "sale", json.dumps(codec.encode(late)))
    engine.take_in("demo")
    return [*found, late]


def test_documents_come_newest_first_with_their_state(api: Callers, sold: list[Sale]) -> None:
    """Every sale is listed once, posted ones as posted and the late one as waiting."""
    response = api.get("owner", DOCUMENTS, limit="200")
    assert response.status_code == 200, response.text
    shown = {d["document_id"]: d for d in response.json()["documents"]}
    assert set(shown) == {s.id for s in sold}
    late = sold[-1]
    assert shown[late.id]["state"] == "waiting"
    assert {shown[s.id]["state"] for s in sold[:-1]} == {"posted"}
    assert shown[late.id]["total"]["currency"] == late.currency


def test_documents_filter_by_state_and_page(api: Callers, sold: list[Sale]) -> None:
    """``state=waiting`` finds the late sale alone; pages of three cover every sale."""
    waiting = api.get("bookkeeper", DOCUMENTS, state="waiting").json()["documents"]
    assert [d["document_id"] for d in waiting] == [sold[-1].id]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": "3"} | ({"cursor": cursor} if cursor else {})
        page = api.get("bookkeeper", DOCUMENTS, **params).json()
        seen += [d["document_id"] for d in page["documents"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(s.id for s in sold)


@pytest.mark.parametrize(
    "params",
    [{"state": "lost"}, {"kind": "invoice"}, {"cursor": "no-such-document"}, {"location": "x"}],
)
def test_bad_document_filters_are_refused(
    api: Callers, sold: list[Sale], params: dict[str, str]
) -> None:
    """An unknown state, kind, cursor or location is a 400 naming it."""
    response = api.get("owner", DOCUMENTS, **params)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "bad_parameter"


def test_a_posted_document_is_explained_with_its_posting(api: Callers, sold: list[Sale]) -> None:
    """A posted sale says where it went and shows the posting that carries it."""
    response = api.get("owner", f"{DOCUMENTS}/{sold[0].id}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["document"]["state"] == "posted"
    assert body["headline"]
    assert [p["state"] for p in body["postings"]] == ["posted"]


def test_a_waiting_document_says_what_it_waits_for(api: Callers, sold: list[Sale]) -> None:
    """The late sale's explanation speaks of its window, with no posting yet."""
    body = api.get("tier1", f"{DOCUMENTS}/{sold[-1].id}").json()
    assert body["document"]["state"] == "waiting"
    assert body["postings"] == []
    assert "window" in (body["headline"] + " ".join(body["reasons"])).lower()


def test_another_tenants_document_is_not_found(api: Callers, sold: list[Sale]) -> None:
    """Demo's document asked for under beta is 404, even for an admin."""
    response = api.get("admin", f"/api/v1/tenants/{OTHER}/documents/{sold[0].id}")
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_document"
