"""A QuickBooks Desktop company file behind the Web Connector, for the contract and the
QuickBooks Desktop tests.

salesync's SOAP service is served on a loopback port; the books' ``pump`` runs the zeep
Web Connector client against it, which takes each request to the simulated company file,
exactly as the merchant's Web Connector would between two of the books' calls. Faults are
armed on the Web Connector: a session QuickBooks will not start (server_error), a company
file open in another mode (rate_limited), a connection dropped after QuickBooks applied a
request (lost_response).
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from salesync.accounts.passwords import Cost
from salesync.clock import ManualClock
from salesync.connectors.destination import DestinationConnection, Posting
from salesync.connectors.qbd import QbdBooks, QbdDestination
from salesync.connectors.qbd.companies import QbdCompanies
from salesync.connectors.qbd.service import WebConnectorService
from salesync.connectors.qbd.soap import PATH, create_soap_app
from salesync.domain.journal import JournalLine
from salesync.sandbox.faults import FaultKind, FaultPlan
from salesync.sandbox.qbd.company import QbdCompanyFile
from salesync.sandbox.qbd.webconnector import WebConnector
from salesync.sandbox.server import serving

ACCOUNT_MAP = {"Expenses:Payment-Fees": "Merchant Fees", "Income:Sales:Retired": "Retired Sales"}
CHART = [
    "Assets:Bank", "Assets:Cash-Drawer", "Assets:Clearing:Card", "Merchant Fees",
    "Income:Discounts", "Income:Returns", "Income:Sales:Accessories", "Income:Sales:Apparel",
    "Income:Sales:Coffee", "Income:Sales:Homeware", "Income:Sales:Stationery",
    "Income:Shipping", "Liabilities:Gift-Cards", "Liabilities:Sales-Tax:NY-Sales-Tax",
    "Liabilities:Tips-Payable",
]  # fmt: skip
FAULTS = {
    "server_error": ("session", FaultKind.SERVER_ERROR),
    "rate_limited": ("session", FaultKind.RATE_LIMITED),
    "lost_response": ("request", FaultKind.LOST_RESPONSE),
    "malformed": ("request", FaultKind.MALFORMED),
}
USERNAME, PASSWORD = "harbor-books", "a long Web Connector passphrase"


@dataclass
class QbdHarness:
    factory: sessionmaker[Session]
    clock: ManualClock
    tenant_id: str
    connection_id: str = "qbd-harbor"
    company: QbdCompanyFile = field(default_factory=lambda: QbdCompanyFile.with_accounts(CHART))
    faults: list[str] = field(default_factory=list)
    plan: FaultPlan = field(default_factory=FaultPlan)
    settings: dict[str, Any] = field(default_factory=dict)
    pumped: list[str] = field(default_factory=list)
    _stack: ExitStack = field(default_factory=ExitStack)
    connector: WebConnector | None = None
    url: str = ""

    @classmethod
    def start(
        cls,
        factory: sessionmaker[Session],
        clock: ManualClock,
        tenant_id: str,
        connection_id: str = "qbd-harbor",
        *,
        units_per_session: int = 50,
        **settings: Any,
    ) -> QbdHarness:
        harness = cls(factory, clock, tenant_id, connection_id, settings=settings)
        harness.company.add_account("Retired Sales", active=False)
        with factory() as session, session.begin():
            QbdCompanies(session, Cost(n=2**10)).register(
                tenant_id, harness.connection_id, USERNAME, PASSWORD
            )
        service = WebConnectorService(factory, clock, units_per_session=units_per_session)
        harness.url = harness._stack.enter_context(serving(create_soap_app(service))) + PATH
        harness.connector = WebConnector(
            harness.url, USERNAME, PASSWORD, harness.company, faults=harness.plan
        )
        harness._stack.callback(harness.connector.close)
        return harness

    def close(self) -> None:
        self._stack.close()

    @property
    def destination(self) -> QbdDestination:
        return QbdDestination(self.factory, pump=self.pump)

    def pump(self, connection_id: str, purpose: str) -> None:
        """The Web Connector runs between the books' calls; a fault armed for the next
        write call hits the run a ``post`` asks for."""
        assert self.connector is not None
        if purpose == "post" and self.faults:
            operation, kind = FAULTS[self.faults.pop(0)]
            self.plan.arm(operation, kind)
        self.pumped.append(purpose)
        self.connector.poll()

    def open(self) -> QbdBooks:
        settings = {"accounts": ACCOUNT_MAP, "run_every_minutes": 1, **self.settings}
        connection = DestinationConnection(self.connection_id, self.tenant_id, {}, settings)
        return self.destination.connect(connection)

    def balances(self) -> dict[str, Decimal]:
        return self.company.balances()

    def books_account(self, account: str) -> str:
        return ACCOUNT_MAP.get(account, account)

    def transactions(self) -> int:
        """Journal entries, sales receipts and deposits (items are list entries)."""
        return len(self.company.entries) + len(self.company.transactions)

    def refused(self, posting: Posting) -> Posting:
        """The posting with its first credit moved to an account that is inactive in the
        company file: QuickBooks refuses the reference (3140)."""
        lines = list(posting.entry.lines)
        index = next(i for i, ln in enumerate(lines) if ln.amount.amount < 0)
        lines[index] = JournalLine("Income:Sales:Retired", lines[index].amount, lines[index].memo)
        entry = replace(posting.entry, key=posting.key + ":retired", lines=tuple(lines))
        return replace(posting, key=entry.key, entry=entry)

    def arm(self, fault: str, times: int = 1) -> None:
        self.faults += [fault] * times
