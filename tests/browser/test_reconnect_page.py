"""The reconnect link of salesync's e-mails, opened in Chromium, for a connection that
does not exist."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_an_unknown_connection_answers_404_in_plain_words(
    page: Page, live_server: str, screenshot: Callable[[str], Path]
) -> None:
    """The link of a connection salesync does not have shows a titled page in English
    that says what happened and what to do, not an error dump."""
    response = page.goto(f"{live_server}/connections/{uuid.uuid4()}/reconnect")
    assert response is not None
    assert response.status == 404
    expect(page).to_have_title("Connection not found · salesync")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Connection not found")
    expect(page.get_by_text("salesync has no connection behind this link")).to_be_visible()
    expect(page.get_by_text("Open the link from the latest e-mail")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("Traceback")
    screenshot("unknown")
