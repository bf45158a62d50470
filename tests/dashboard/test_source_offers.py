"""The connections page says what each source offers: how a connection's sales arrive,
and every installed source with its posting modes and what connecting it means."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from salesync.accounts.passwords import Cost
from salesync.api import create_app
from salesync.api.session import SignIn
from salesync.clock import ManualClock
from salesync.connectors.registry import SourceRegistry
from salesync.store.tables import ConnectionRow
from salesync.store.vault import Vault, new_key

SignedIn = Callable[[str], TestClient]
OWNER = "owner@harbor.example"
CHEAP = Cost(n=2**10)


@pytest.fixture
def app(db: sessionmaker[Session], clock: ManualClock) -> FastAPI:
    """The dashboard with the installed sources, and a Shopify connection of demo's."""
    with db() as session, session.begin():
        session.add(
            ConnectionRow(
                id="c-shop",
                tenant_id="demo",
                provider="shopify",
                role="source",
                name="Web shop",
                status="active",
                credentials=b"sealed",
            )
        )
    return create_app(
        db,
        clock,
        Vault([new_key()]),
        registry=SourceRegistry(),
        sign_in=SignIn(db, clock, cost=CHEAP),
    )


def words(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_connections_page_says_what_each_source_offers(signed_in: SignedIn) -> None:
    page = words(signed_in(OWNER).get("/app/demo/connections").text)
    assert "Web shop shopify: webhooks, with a sweep" in page
    assert "Sources salesync can connect" in page
    assert "Shopify shopify webhooks, with a sweep per order, daily summary, per payout" in page
    assert "POS export files pos_file uploaded files per order, daily summary" in page
    assert "Reports no payouts: its sales post per order, as a daily summary" in page
