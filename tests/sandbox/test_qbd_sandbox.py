"""The simulated QuickBooks Desktop company file answers qbXML as QuickBooks does."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from salesync.connectors.qbd import qbxml
from salesync.connectors.qbd.qbxml import EntryLine
from salesync.connectors.qbd.responses import parse_replies
from salesync.sandbox.qbd.company import QbdCompanyFile
from salesync.sandbox.qbd.schema import ParseError


@pytest.fixture
def company() -> QbdCompanyFile:
    return QbdCompanyFile.with_accounts(["Bank", "Income:Sales"])


def entry(ref: str = "SS1", account: str = "Income:Sales", credit: str = "5") -> str:
    lines = [
        EntryLine("debit", "Bank", Decimal(5), "order:1"),
        EntryLine("credit", account, Decimal(credit)),
    ]
    return qbxml.message_set([qbxml.journal_entry_add("1", date(2026, 3, 2), ref, lines)])


def test_a_journal_entry_is_applied_and_returned(company: QbdCompanyFile) -> None:
    """A balanced entry is saved; its TxnID and lines come back; balances move."""
    (reply,) = parse_replies(company.process(entry()))
    assert reply.status.code == 0
    assert reply.records[0].get("TxnID")
    assert reply.records[0].get("RefNumber") == "SS1"
    assert company.balances() == {"Bank": Decimal(5), "Income:Sales": Decimal(-5)}


def test_parent_accounts_exist_for_subaccounts(company: QbdCompanyFile) -> None:
    """Income:Sales implies its parent Income, as in QuickBooks' chart."""
    assert "Income" in company.accounts


@pytest.mark.parametrize(
    ("request_text", "code"),
    [
        (entry(account="Income:Nope"), 3140),
        (entry(credit="4"), 3180),
        (entry(ref="SS123456789012"), 3070),
    ],
)
def test_what_quickbooks_refuses_is_refused_with_its_status(
    company: QbdCompanyFile, request_text: str, code: int
) -> None:
    """An unknown account, an unbalanced entry, a RefNumber too long: nothing is saved."""
    (reply,) = parse_replies(company.process(request_text))
    assert reply.status.code == code
    assert reply.status.severity == "Error"
    assert company.entries == []


def test_elements_out_of_order_fail_the_whole_message_set(company: QbdCompanyFile) -> None:
    """QuickBooks cannot parse a request whose elements break the schema's sequence."""
    text = entry().replace(
        "<TxnDate>2026-03-02</TxnDate><RefNumber>SS1</RefNumber>",
        "<RefNumber>SS1</RefNumber><TxnDate>2026-03-02</TxnDate>",
    )
    with pytest.raises(ParseError, match="out of order"):
        company.process(text)
    assert company.entries == []


def test_a_name_in_use_is_refused(company: QbdCompanyFile) -> None:
    """Customer names are unique (with the other name lists): 3100."""
    company.add_customer("Ana")
    (reply,) = parse_replies(company.process(qbxml.message_set([qbxml.customer_add("1", "Ana")])))
    assert reply.status.code == 3100
    assert "already in use" in reply.status.message


def test_an_iterator_pages_through_the_list_until_nothing_remains(
    company: QbdCompanyFile,
) -> None:
    """Start returns the first page and how many remain; Continue the next; 0 at the end."""
    for name in ("Ana", "Ben", "Cy", "Di", "Ed"):
        company.add_customer(name)
    text = qbxml.message_set([qbxml.customer_query("1", max_returned=2)])
    (first,) = parse_replies(company.process(text))
    assert [r.get("Name") for r in first.records] == ["Ana", "Ben"]
    assert first.remaining == 3
    assert first.iterator_id is not None
    names = []
    reply = first
    while reply.remaining:
        assert reply.iterator_id is not None
        (reply,) = parse_replies(
            company.process(qbxml.reiterate(text, "Continue", reply.iterator_id))
        )
        names += [r.get("Name") for r in reply.records]
    assert names == ["Cy", "Di", "Ed"]


def test_an_iterator_ends_with_its_session(company: QbdCompanyFile) -> None:
    """After QuickBooks reopens the file for a new session, an old iteratorID is invalid."""
    company.add_customer("Ana")
    company.add_customer("Ben")
    text = qbxml.message_set([qbxml.customer_query("1", max_returned=1)])
    (first,) = parse_replies(company.process(text))
    company.open_session()
    assert first.iterator_id is not None
    (stale,) = parse_replies(company.process(qbxml.reiterate(text, "Continue", first.iterator_id)))
    assert stale.status.code == 3000


def test_a_lookup_by_reference_finds_the_entry_or_says_no_match(company: QbdCompanyFile) -> None:
    """JournalEntryQuery by RefNumber returns the entry with its line memos; none: 1."""
    company.process(entry())
    (found,) = parse_replies(
        company.process(qbxml.message_set([qbxml.journal_entry_query("1", ["SS1"])]))
    )
    assert found.records[0].memos == ("order:1",)
    (missing,) = parse_replies(
        company.process(qbxml.message_set([qbxml.journal_entry_query("1", ["SS9"])]))
    )
    assert missing.status.code == 1
    assert missing.status.ok
