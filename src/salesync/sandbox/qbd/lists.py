"""The simulated company file's lists: accounts and customers, added and queried."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lxml import etree

if TYPE_CHECKING:
    from salesync.sandbox.qbd.company import QbdCompanyFile

NAME_LIMIT = 41
"""A customer's Name holds 41 characters."""


class Failure(Exception):  # noqa: N818 (a QuickBooks status, not a Python error)
    """A request QuickBooks refuses with ``code``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(slots=True)
class ListEntry:
    list_id: str
    full_name: str
    active: bool
    edit_sequence: str = "1700000000"
    email: str = ""
    income_account: str = ""
    """For an item: the account its sales credit."""


def customer_add(company: QbdCompanyFile, add: etree._Element) -> etree._Element:
    name = add.findtext("Name") or ""
    if not name or len(name) > NAME_LIMIT:
        raise Failure(3070, f'The string "{name}" in the field "Name" is too long or empty.')
    if name in company.customers or name in company.accounts:
        raise Failure(3100, f'The name "{name}" of the list element is already in use.')
    entry = company.add_customer(name)
    entry.email = add.findtext("Email") or ""
    return list_ret("CustomerRet", entry)


def customer_query(company: QbdCompanyFile, rq: etree._Element) -> list[etree._Element]:
    return [list_ret("CustomerRet", e) for e in _matching(company.customers.values(), rq)]


def account_query(company: QbdCompanyFile, rq: etree._Element) -> list[etree._Element]:
    return [list_ret("AccountRet", e) for e in _matching(company.accounts.values(), rq)]


def _matching(entries: Iterable[ListEntry], rq: etree._Element) -> list[ListEntry]:
    names = {e.text for e in rq.iterfind("FullName")}
    ids = {e.text for e in rq.iterfind("ListID")}
    status = rq.findtext("ActiveStatus") or "ActiveOnly"
    found: list[ListEntry] = []
    for entry in sorted(entries, key=lambda e: e.full_name):
        if (names and entry.full_name not in names) or (ids and entry.list_id not in ids):
            continue
        if (status == "ActiveOnly" and not entry.active) or (
            status == "InactiveOnly" and entry.active
        ):
            continue
        found.append(entry)
    return found


def list_ret(tag: str, entry: ListEntry) -> etree._Element:
    ret = etree.Element(tag)
    name = entry.full_name.rpartition(":")[2]
    for child, text in (
        ("ListID", entry.list_id),
        ("EditSequence", entry.edit_sequence),
        ("Name", name),
        ("FullName", entry.full_name),
        ("IsActive", "true" if entry.active else "false"),
        ("Email", entry.email),
    ):
        if text:
            etree.SubElement(ret, child).text = text
    return ret
