"""The unsubscribe link of salesync's e-mails, opened in Chromium: a page that asks, a
button that opts the contact out, and plain words for a link salesync does not know."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session, sessionmaker

from salesync.domain.documents import Tenant
from salesync.monitor.notify import Contacts
from salesync.store.repositories import Tenants
from salesync.store.tables import ContactRow

pytestmark = pytest.mark.browser

OWNER = "owner@harbor.example"


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A contact of a tenant of its own, and the link its e-mails carry."""

    tenant_id: str
    email: str
    link: str


@pytest.fixture
def subscriber(database: sessionmaker[Session], live_server: str) -> Subscriber:
    """Harbor Coffee, a new tenant, with ``OWNER`` as its contact."""
    tenant_id = f"harbor-{uuid.uuid4().hex[:8]}"
    with database() as session, session.begin():
        Tenants(session).add(Tenant(tenant_id, "Harbor Coffee"))
        contact = Contacts(session, tenant_id).add(OWNER)
    return Subscriber(tenant_id, OWNER, f"{live_server}/unsubscribe/{contact.unsubscribe_token}")


def opted_out(database: sessionmaker[Session], subscriber: Subscriber) -> bool:
    with database() as session:
        row = session.get(ContactRow, (subscriber.tenant_id, subscriber.email))
        assert row is not None
        return row.opted_out


def test_the_button_opts_the_contact_out(
    page: Page,
    subscriber: Subscriber,
    database: sessionmaker[Session],
    screenshot: Callable[[str], Path],
) -> None:
    """Opening the link only asks (the contact still gets e-mails); the button opts the
    contact out and says so."""
    response = page.goto(subscriber.link)
    assert response is not None
    assert response.status == 200
    expect(page.get_by_role("heading", level=1)).to_have_text("Unsubscribe from salesync emails")
    expect(page.get_by_text(f"salesync emails {OWNER} about problems")).to_be_visible()
    screenshot("confirm")
    assert not opted_out(database, subscriber)

    page.get_by_role("button", name=f"Unsubscribe {OWNER}").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("You are unsubscribed")
    expect(page.get_by_text(f"{OWNER} will get no more emails")).to_be_visible()
    expect(page.get_by_text("Harbor Coffee's sync").first).to_be_visible()
    screenshot("done")
    assert opted_out(database, subscriber)


def test_the_button_is_reached_and_pressed_from_the_keyboard(
    page: Page, subscriber: Subscriber, database: sessionmaker[Session]
) -> None:
    """The confirmation page has a title and a language; Tab reaches the button, which is
    named for what it does, and Enter presses it."""
    page.goto(subscriber.link)
    expect(page).to_have_title("Unsubscribe from salesync emails")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    button = page.get_by_role("button", name=f"Unsubscribe {OWNER}", exact=True)

    page.keyboard.press("Tab")
    expect(button).to_be_focused()
    page.keyboard.press("Enter")

    expect(page).to_have_title("You are unsubscribed")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert opted_out(database, subscriber)


def test_an_unknown_link_answers_404_in_plain_words(
    page: Page, live_server: str, screenshot: Callable[[str], Path]
) -> None:
    """A token no contact has gets a 404 page that says what to do, with no button."""
    response = page.goto(f"{live_server}/unsubscribe/{uuid.uuid4().hex}")
    assert response is not None
    assert response.status == 404
    expect(page).to_have_title("This unsubscribe link does not work")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_text("This unsubscribe link is not one salesync knows")).to_be_visible()
    expect(page.get_by_role("button")).to_have_count(0)
    screenshot("unknown")
