"""A simulated QuickBooks Online company behind a real connection row, for the contract
and the QBO tests.

The connection's tokens live encrypted in the ``connections`` table and are refreshed by
the ``TokenManager`` at the sandbox's Intuit token endpoint, as in production. The books
are read back the way an accountant would: a trial balance computed from the
transactions the company stores, each posting to the accounts QuickBooks itself would
move (a sales receipt debits "Deposit to" and credits each product's income account...).
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
from fastapi import FastAPI
from shopify_harness import SandboxTransport
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.connectors.destination import Books, DestinationConnection, Posting
from salesync.connectors.pacing import forget_budgets
from salesync.connectors.qbo import QboDestination, account_name
from salesync.connectors.tokens import ConnectionTokens, Grant, OAuthRefresher, TokenManager
from salesync.sandbox.faults import Fault, FaultKind, FaultPlan
from salesync.sandbox.qbo import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    QboCompany,
    QboSandbox,
    create_app,
)
from salesync.sandbox.qbo.delivery import ConnectionDroppedError
from salesync.sandbox.qbo.entities import save
from salesync.store.repositories import Connections
from salesync.store.vault import Vault, new_key

BASE = "https://qbo.sandbox.test"
ACCOUNT_MAP = {
    "Assets:Bank": "35",  # by Id: the company's Checking account
    "Liabilities:Tips-Payable": "Tips Payable",  # by name
    "Expenses:Payment-Fees": "Merchant Fees",
}
RETIRED = "Income:Sales:Retired"
"""Mapped to an inactive account: what ``refused`` postings post to."""
RETIRED_TOO = "Income:Sales:Retired-Too"
"""Mapped to the same inactive account."""
TRANSACTIONS = ("SalesReceipt", "RefundReceipt", "Invoice", "Payment", "JournalEntry", "Deposit")
WRITTEN_FORMS = ("SalesReceipt", "RefundReceipt", "Invoice", "JournalEntry", "Deposit")
UNDEPOSITED, RECEIVABLE, DISCOUNTS, SALES_TAX = "4", "84", "86", "89"


class QboTransport(SandboxTransport):
    """The sandbox in process; a connection it drops reaches httpx's caller as it does
    over a real socket."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return super().handle_request(request)
        except ConnectionDroppedError as exc:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from exc


def ledger(company: QboCompany) -> dict[str, Decimal]:
    """Each account's balance (debits positive) from the transactions ``company`` holds."""
    names = {a["Id"]: a["Name"] for a in company.all("Account")}
    sells_into = {i["Id"]: i["IncomeAccountRef"]["value"] for i in company.all("Item")}
    sums: dict[str, Decimal] = defaultdict(Decimal)

    def move(account: str, amount: Any) -> None:
        sums[names[str(account)]] += Decimal(str(amount))

    for form, sign in (("SalesReceipt", 1), ("Invoice", 1), ("RefundReceipt", -1)):
        for txn in company.all(form):
            into = RECEIVABLE if form == "Invoice" else txn["DepositToAccountRef"]["value"]
            move(into, sign * Decimal(str(txn["TotalAmt"])))
            move(SALES_TAX, -sign * Decimal(str(txn["TxnTaxDetail"]["TotalTax"])))
            for line in txn["Line"]:
                amount = sign * Decimal(str(line["Amount"]))
                if line["DetailType"] == "SalesItemLineDetail":
                    move(sells_into[line["SalesItemLineDetail"]["ItemRef"]["value"]], -amount)
                elif line["DetailType"] == "DiscountLineDetail":
                    ref = line["DiscountLineDetail"].get("DiscountAccountRef") or {}
                    move(ref.get("value", DISCOUNTS), amount)
    for payment in company.all("Payment"):
        move(payment["DepositToAccountRef"]["value"], payment["TotalAmt"])
        move(RECEIVABLE, -Decimal(str(payment["TotalAmt"])))
    for entry in company.all("JournalEntry"):
        for line in entry["Line"]:
            detail = line["JournalEntryLineDetail"]
            sign = 1 if detail["PostingType"] == "Debit" else -1
            move(detail["AccountRef"]["value"], sign * Decimal(str(line["Amount"])))
    for deposit in company.all("Deposit"):
        move(deposit["DepositToAccountRef"]["value"], deposit["TotalAmt"])
        for line in deposit["Line"]:
            source = (
                line["DepositLineDetail"]["AccountRef"]["value"]
                if "DepositLineDetail" in line
                else UNDEPOSITED
            )
            move(source, -Decimal(str(line["Amount"])))
    return dict(sums)


@dataclass
class QboHarness:
    """One QBO connection of a tenant, in a sandbox company on the tests' clock."""

    factory: sessionmaker[Session]
    clock: ManualClock
    tenant_id: str
    company: QboCompany
    app: FastAPI
    sandbox: QboSandbox
    faults: FaultPlan
    transport: QboTransport
    vault: Vault
    manager: TokenManager
    refresher: OAuthRefresher
    connection_id: str
    destination: QboDestination
    opened: list[Books] = field(default_factory=list)

    @classmethod
    def start(
        cls,
        factory: sessionmaker[Session],
        clock: ManualClock,
        tenant_id: str,
        **settings: Any,
    ) -> QboHarness:
        """A fresh company and a connection to it; ``settings`` override the defaults."""
        forget_budgets()  # budgets are per realm and process; every test has its own clock
        company, faults = QboCompany(clock=clock), FaultPlan()
        app = create_app(company, faults=faults)
        transport = QboTransport(app)
        retired = save(
            company, "Account", {"Name": "Retired Sales", "AccountType": "Income", "Active": False}
        )
        issued = app.state.sandbox.authority.issue_tokens(DEFAULT_CLIENT_ID, company.realm_id)
        grant = Grant(
            issued.access_token,
            issued.refresh_token,
            clock() + timedelta(seconds=issued.expires_in),
        )
        defaults: dict[str, Any] = {
            "realm_id": company.realm_id,
            "base_url": BASE,
            "accounts": {**ACCOUNT_MAP, RETIRED: retired["Id"], RETIRED_TOO: retired["Id"]},
        }
        vault = Vault([new_key()])
        with factory() as session, session.begin():
            connection_id = Connections(session, tenant_id, vault).add(
                "qbo", "destination", "QuickBooks", grant.into({}), defaults | settings
            )
        refresher = OAuthRefresher(
            f"{BASE}/oauth2/v1/tokens/bearer",
            DEFAULT_CLIENT_ID,
            DEFAULT_CLIENT_SECRET,
            provider="qbo",
            transport=transport,
        )
        manager = TokenManager(factory, vault, clock, lambda _: refresher)
        destination = QboDestination(
            clock=lambda: clock().timestamp(),
            sleep=lambda seconds: clock.advance(timedelta(seconds=seconds)),
        )
        return cls(
            factory,
            clock,
            tenant_id,
            company,
            app,
            app.state.sandbox,
            faults,
            transport,
            vault,
            manager,
            refresher,
            connection_id,
            destination,
        )

    def close(self) -> None:
        for books in self.opened:
            books.close()
        self.refresher.close()
        self.transport.close()

    # -- BooksHarness ----------------------------------------------------------------------

    def open(self, *, direct: bool = False, transport: httpx.BaseTransport | None = None) -> Books:
        """The books as the engine opens them; ``direct`` sends over the network to
        ``base_url`` (a served sandbox) instead of in process, ``transport`` through a
        wrapper of the in-process sandbox."""
        with self.factory() as session:
            rows = Connections(session, self.tenant_id, self.vault)
            credentials = rows.credentials(self.connection_id)
            settings = rows.settings(self.connection_id)
        tokens = ConnectionTokens(self.manager, self.tenant_id, self.connection_id)
        connection = DestinationConnection(
            self.connection_id, self.tenant_id, credentials, settings, tokens
        )
        books = self.destination.connect(
            connection, None if direct else transport or self.transport
        )
        self.opened.append(books)
        return books

    def balances(self) -> dict[str, Decimal]:
        return ledger(self.company)

    def books_account(self, account: str) -> str:
        mapped = self.settings()["accounts"].get(account)
        if mapped is None:
            return account_name(account)
        for obj in self.company.all("Account"):
            if mapped in (obj["Id"], obj["Name"]):
                return str(obj["Name"])
        raise KeyError(f"{account} is mapped to {mapped!r}, which the company lacks")

    def transactions(self) -> int:
        return sum(
            1
            for form in WRITTEN_FORMS
            for txn in self.company.all(form)
            if "salesync key: " in str(txn.get("PrivateNote", ""))
        )

    def refused(self, posting: Posting, account: str = RETIRED) -> Posting:
        """The posting with its first sales line moved to an account mapped to an
        inactive QuickBooks account."""
        lines = list(posting.entry.lines)
        index = next(i for i, ln in enumerate(lines) if ln.account.startswith("Income:Sales:"))
        lines[index] = replace(lines[index], account=account)
        return replace(posting, entry=replace(posting.entry, lines=tuple(lines)))

    def arm(self, fault: str, times: int = 1) -> None:
        """Faults for batch calls of postings (and reads); the batch creating customers
        ahead of them is armed as "batch:Customer", so it does not take them."""
        self.faults.arm("batch", Fault(FaultKind(fault)), times)

    # -- TokenHarness ----------------------------------------------------------------------

    def expire_access_token(self) -> None:
        """A day passes at Intuit: the access token is dead and the refresh token old
        enough that redeeming it hands out a new one."""
        self.company.advance(timedelta(hours=25))

    def stored_refresh_token(self) -> str:
        with self.factory() as session:
            credentials = Connections(session, self.tenant_id, self.vault).credentials(
                self.connection_id
            )
        return str(Grant.of(credentials).refresh_token)

    def revoke(self) -> None:
        """The merchant disconnects salesync in QuickBooks: every grant is revoked."""
        self.sandbox.authority.revoke_subject(self.company.realm_id)

    # -- for the QBO tests -----------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        with self.factory() as session:
            return Connections(session, self.tenant_id, self.vault).settings(self.connection_id)

    def configure(self, **changes: Any) -> None:
        with self.factory() as session, session.begin():
            Connections(session, self.tenant_id, self.vault).update_settings(
                self.connection_id, **changes
            )

    def stored(self, form: str) -> list[dict[str, Any]]:
        """What the company holds of one entity, oldest first."""
        return copy.deepcopy(self.company.all(form))

    def calls(self, operation: str | None = None) -> list[str]:
        """The operations the company has answered, in order (``batch``, ``query``...)."""
        seen = [r.operation for r in self.company.requests]
        return [op for op in seen if operation is None or op == operation]

    def stored_token(self) -> str:
        """The access token salesync holds for the connection, decrypted."""
        with self.factory() as session:
            credentials = Connections(session, self.tenant_id, self.vault).credentials(
                self.connection_id
            )
        return str(credentials["access_token"])

    def account_id(self, name: str) -> str:
        return next(str(a["Id"]) for a in self.company.all("Account") if a["Name"] == name)


def named(
    predicate: Callable[[dict[str, Any]], bool], rows: list[dict[str, Any]]
) -> dict[str, Any]:
    """The one row matching ``predicate``."""
    found = [r for r in rows if predicate(r)]
    assert len(found) == 1, found
    return found[0]
