"""The .qwc file: the fields the Web Connector reads, and what it would refuse named."""

from __future__ import annotations

from dataclasses import replace

import pytest
from lxml import etree

from salesync.connectors.qbd.qwc import QwcFile
from salesync.domain.errors import ValidationError

FILE = QwcFile(
    app_name="salesync - Harbor & Pine",
    app_url="https://books.example.com/qbwc",
    support_url="https://books.example.com/help",
    username="harbor-books",
    owner_id="{8f0a2a39-5cf6-4bf8-9f59-2d3a4b6f3c11}",
    file_id="{0b7e3f4a-1111-4c3c-9d55-7f1a2b3c4d5e}",
    run_every_minutes=20,
)


def test_the_file_carries_what_the_web_connector_reads() -> None:
    """AppName, AppURL, support page, user, OwnerID, FileID, QBFS and the schedule."""
    qwc = etree.fromstring(FILE.render().encode())
    assert qwc.tag == "QBWCXML"
    assert qwc.findtext("AppName") == "salesync - Harbor & Pine"
    assert qwc.findtext("AppURL") == FILE.app_url
    assert qwc.findtext("OwnerID") == FILE.owner_id
    assert qwc.findtext("FileID") == FILE.file_id
    assert qwc.findtext("QBType") == "QBFS"
    assert qwc.findtext("Scheduler/RunEveryNMinutes") == "20"


def test_localhost_may_be_plain_http() -> None:
    """The Web Connector accepts http:// on the merchant's own machine."""
    local = replace(
        FILE, app_url="http://localhost:8000/qbwc", support_url="http://localhost:8000/help"
    )
    assert local.problems() == []


def test_every_problem_is_named_with_its_field() -> None:
    """Plain HTTP elsewhere, a support page on another host, no user, a bad schedule."""
    bad = replace(
        FILE,
        app_url="http://books.example.com/qbwc",
        support_url="https://help.example.org/",
        username=" ",
        run_every_minutes=0,
    )
    assert {p.path for p in bad.problems()} == {
        "app_url",
        "support_url",
        "username",
        "run_every_minutes",
    }
    with pytest.raises(ValidationError) as refused:
        bad.render()
    assert "https://" in refused.value.user_message
