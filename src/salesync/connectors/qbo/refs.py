"""References to QuickBooks name-list objects, and the names salesync gives what it creates.

A QuickBooks name may not hold a colon (it separates sub-accounts and sub-products), so a
salesync account such as ``Income:Sales:Apparel`` becomes the account "Sales - Apparel",
sold into through the product "Sales - Apparel (salesync)".
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from typing import Any

from salesync.domain.journal import AccountType, account_type

Json = dict[str, Any]

CREATED_TYPES = {
    AccountType.ASSETS: "Other Current Asset",
    AccountType.LIABILITIES: "Other Current Liability",
    AccountType.EQUITY: "Equity",
    AccountType.INCOME: "Income",
    AccountType.EXPENSES: "Expense",
}
CLASSIFICATIONS = {
    AccountType.ASSETS: "Asset",
    AccountType.LIABILITIES: "Liability",
    AccountType.EQUITY: "Equity",
    AccountType.INCOME: "Revenue",
    AccountType.EXPENSES: "Expense",
}
DEPOSITABLE = frozenset({"Bank", "Other Current Asset"})
"""Account types money can be deposited to (sales receipts, payments, deposits)."""
NAME_MAX = 100
ITEM_SUFFIX = " (salesync)"


@dataclass(frozen=True, slots=True)
class Ref:
    """A name-list object a transaction points at."""

    entity: str
    id: str
    name: str
    sync_token: str = ""
    account_type: str = ""

    def json(self) -> dict[str, str]:
        return {"value": self.id, "name": self.name}

    @property
    def depositable(self) -> bool:
        return self.account_type in DEPOSITABLE


def ref_of(entity: str, obj: Json) -> Ref:
    return Ref(
        entity,
        str(obj.get("Id")),
        str(obj.get("DisplayName") or obj.get("Name") or ""),
        str(obj.get("SyncToken") or ""),
        str(obj.get("AccountType") or ""),
    )


def account_name(account: str) -> str:
    """The QuickBooks account salesync creates for ``account``: the parts after the root
    joined with " - " (QuickBooks keeps the colon for sub-accounts), so
    ``Income:Sales:Apparel`` is "Sales - Apparel"."""
    return " - ".join(account.split(":")[1:])


def item_name(account: Ref) -> str:
    """The product salesync sells through into ``account``: named after the account and
    marked as salesync's, so it never takes over one of the merchant's own products."""
    return f"{account.name[: NAME_MAX - len(ITEM_SUFFIX)]}{ITEM_SUFFIX}"


def created_type(account: str) -> str:
    """The QuickBooks account type salesync creates ``account`` with."""
    kind = account_type(account)
    if kind is AccountType.ASSETS and any(p.startswith("Bank") for p in account.split(":")[1:]):
        return "Bank"
    return CREATED_TYPES[kind]


def requestid(*parts: str) -> str:
    """A requestid that names the create itself, so a retry anywhere gets its first answer."""
    return "ss-" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def batch_requestid(prefix: str, body: object, spent: set[str]) -> str:
    """A batch's requestid (at most 36 characters): a digest of ``body``, so the same
    batch sent again gets QBO's first answer, unless that answer was ``spent``."""
    rid = _digest(prefix, body)
    while rid in spent:
        rid = _digest(prefix, rid)
    return rid


def _digest(prefix: str, body: object) -> str:
    raw = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return prefix + hashlib.sha256(raw).hexdigest()[:32]


class RealmLists:
    """What salesync has read of one company's lists, shared by its connections."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.accounts: dict[str, Json] | None = None
        self.items: dict[str, Json] = {}
        self.customers: dict[str, Json] = {}
        self.departments: dict[str, Json] | None = None
        self.classes: dict[str, Json] | None = None
        self.spent: set[str] = set()
        """Batch requestids whose answer must not be replayed: postings' batches that
        refused something, and every answered batch of customers."""

    def forget(self) -> None:
        """Read everything again next time (QuickBooks said a reference went stale)."""
        with self.lock:
            self.accounts, self.departments, self.classes = None, None, None
            self.items, self.customers = {}, {}
