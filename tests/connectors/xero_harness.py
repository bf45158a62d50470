"""A Xero organisation in the sandbox, connected the way the engine connects one: a
connection row with encrypted tokens, a token manager refreshing at the sandbox's token
endpoint, and calls paced in simulated time on the test's clock."""

from __future__ import annotations

import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field, fields, is_dataclass, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
from destination_contract import MERCHANT
from shopify_harness import SandboxTransport
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.connectors.destination import DestinationConnection, Posting
from salesync.connectors.pacing import forget_budgets
from salesync.connectors.tokens import ConnectionTokens, Grant, OAuthRefresher, TokenManager
from salesync.connectors.xero import XeroBooks, XeroDestination
from salesync.connectors.xero.accounts import default_code
from salesync.domain.money import Money
from salesync.sandbox.faults import Fault, FaultKind, FaultPlan
from salesync.sandbox.xero import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    XeroOrganisation,
    create_app,
)
from salesync.store.repositories import Connections, Tenants
from salesync.store.vault import Vault, new_key

TENANT = MERCHANT.tenant.id
IDENTITY = "https://identity.xero.com"
WRITES = frozenset({"Invoices", "CreditNotes", "Payments", "ManualJournals", "BankTransactions"})
"""The collections postings are written to; the contract's faults hit writes of these."""
GONE = frozenset({"DELETED", "VOIDED"})
POSTED = ("Invoices", "CreditNotes", "ManualJournals", "BankTransactions")
"""The collections holding one object per posting."""


class XeroTransport(SandboxTransport):
    """The sandbox in process; a connection it drops after committing reaches the client
    as the ``httpx.RemoteProtocolError`` httpx raises over a real socket."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return super().handle_request(request)
        except ConnectionError as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from exc


@dataclass(slots=True)
class WriteFaults(FaultPlan):
    """Faults armed on "the next writes of postings", whichever collection they go to."""

    writes: deque[Fault] = field(default_factory=deque)

    def take(self, operation: str) -> Fault | None:
        method, _, collection = operation.partition(":")
        if method in ("put", "post") and collection in WRITES:
            with self._lock:
                if self.writes:
                    fault = self.writes.popleft()
                    self.fired.append((operation, fault.kind))
                    return fault
        return FaultPlan.take(self, operation)


def _identity(transport: XeroTransport) -> httpx.Client:
    """A client for the identity and control endpoints; not closed, as closing it would
    close the shared transport (the harness closes that itself)."""
    return httpx.Client(transport=transport, base_url=IDENTITY)


def in_currency(value: Any, currency: str) -> Any:
    """``value`` (a posting, entry, document...) with every amount in ``currency``."""
    if isinstance(value, Money):
        return Money(value.amount, currency)
    if isinstance(value, tuple):
        return tuple(in_currency(v, currency) for v in value)
    if is_dataclass(value) and not isinstance(value, type):
        changes = {}
        for f in fields(value):
            if f.init:
                inner = getattr(value, f.name)
                changes[f.name] = currency if f.name == "currency" else in_currency(inner, currency)
        return replace(value, **changes)
    return value


@dataclass
class XeroHarness:
    """One connected organisation; satisfies the contract's ``TokenHarness``."""

    factory: sessionmaker[Session]
    clock: ManualClock
    org: XeroOrganisation
    faults: WriteFaults
    app: Any
    transport: XeroTransport
    vault: Vault
    manager: TokenManager
    refresher: OAuthRefresher
    connection_id: str
    destination: XeroDestination

    @classmethod
    def start(
        cls,
        factory: sessionmaker[Session],
        clock: ManualClock,
        *,
        currency: str = "USD",
        **settings: Any,
    ) -> XeroHarness:
        """A fresh organisation (in ``currency``, with a 'Store' tracking category) and a
        connection to it whose settings are ``settings`` over the defaults."""
        forget_budgets()
        org = XeroOrganisation(
            tenant_id=str(uuid.uuid4()),
            name="Harbor Goods",
            base_currency=currency,
            country_code="US",
            clock=clock,
        )
        faults = WriteFaults()
        app = create_app(org, faults=faults)
        transport = XeroTransport(app)
        identity = _identity(transport)
        issued = identity.post("/_sandbox/tokens", json={"client_id": DEFAULT_CLIENT_ID}).json()
        grant = Grant(
            issued["access_token"],
            issued["refresh_token"],
            clock() + timedelta(seconds=issued["expires_in"]),
        )
        vault = Vault([new_key()])
        chosen = {
            "tenant_id": org.tenant_id,
            "account_policy": "create",
            "tracking_category": "Store",
            "tracking": {"brooklyn": "Downtown"},
            **settings,
        }
        with factory() as session, session.begin():
            if Tenants(session).get(TENANT) is None:
                Tenants(session).add(MERCHANT.tenant)
            connection_id = Connections(session, TENANT, vault).add(
                "xero", "destination", f"Xero {org.tenant_id[:8]}", grant.into({}), chosen
            )
        refresher = OAuthRefresher(
            f"{IDENTITY}/connect/token",
            DEFAULT_CLIENT_ID,
            DEFAULT_CLIENT_SECRET,
            provider="xero",
            transport=transport,
        )
        manager = TokenManager(factory, vault, clock, lambda _: refresher)
        destination = XeroDestination(
            clock=lambda: clock().timestamp(),
            sleep=lambda seconds: clock.advance(timedelta(seconds=seconds)),
        )
        return cls(
            factory,
            clock,
            org,
            faults,
            app,
            transport,
            vault,
            manager,
            refresher,
            connection_id,
            destination,
        )

    def close(self) -> None:
        self.transport.close()
        forget_budgets()

    def connection(self) -> DestinationConnection:
        with self.factory() as session:
            connections = Connections(session, TENANT, self.vault)
            credentials = connections.credentials(self.connection_id)
            settings = connections.settings(self.connection_id)
        tokens = ConnectionTokens(self.manager, TENANT, self.connection_id)
        return DestinationConnection(self.connection_id, TENANT, credentials, settings, tokens)

    def open(self) -> XeroBooks:
        return self.destination.connect(self.connection(), self.transport)

    def open_over(self, base_url: str) -> XeroBooks:
        """The books reached over real HTTP at ``base_url`` (the sandbox under uvicorn)."""
        self.configure(base_url=base_url)
        return self.destination.connect(self.connection())

    def configure(self, **changes: Any) -> None:
        """Change the connection's settings."""
        with self.factory() as session, session.begin():
            Connections(session, TENANT, self.vault).update_settings(self.connection_id, **changes)

    def settings(self) -> dict[str, Any]:
        with self.factory() as session:
            return Connections(session, TENANT, self.vault).settings(self.connection_id)

    # --- what the books hold -----------------------------------------------------------

    def live(self, collection: str) -> list[dict[str, Any]]:
        return [o for o in self.org.all(collection) if o.get("Status") not in GONE]

    def system_account(self, role: str) -> str:
        found = next(a for a in self.org.all("Accounts") if a.get("SystemAccount") == role)
        return str(found["Code"])

    def balances(self) -> dict[str, Decimal]:
        """Each account's balance by code, from the documents Xero stores: an invoice
        credits its lines and debits receivables; a payment moves receivables to its
        account; a credit note and its refunds the other way; journals as they stand; a
        bank transaction moves its total into (RECEIVE) or out of (SPEND) its bank
        account against its lines."""
        sums: dict[str, Decimal] = defaultdict(Decimal)
        receivable, tax = self.system_account("DEBTORS"), self.system_account("GST")

        def dec(value: Any) -> Decimal:
            return Decimal(str(value))

        for collection, sign in (("Invoices", 1), ("CreditNotes", -1)):
            for document in self.live(collection):
                sums[receivable] += sign * dec(document["Total"])
                inclusive = document["LineAmountTypes"] == "Inclusive"
                for line in document["LineItems"]:
                    net = dec(line["LineAmount"]) - (dec(line["TaxAmount"]) if inclusive else 0)
                    sums[str(line["AccountCode"])] -= sign * net
                    sums[tax] -= sign * dec(line["TaxAmount"])
        for payment in self.live("Payments"):
            sign = 1 if "Invoice" in payment else -1
            sums[str(payment["Account"]["Code"])] += sign * dec(payment["Amount"])
            sums[receivable] -= sign * dec(payment["Amount"])
        for journal in self.live("ManualJournals"):
            for line in journal["JournalLines"]:
                sums[str(line["AccountCode"])] += dec(line["LineAmount"])
        for transaction in self.live("BankTransactions"):
            sign = 1 if transaction["Type"] == "RECEIVE" else -1
            sums[str(transaction["BankAccount"]["Code"])] += sign * dec(transaction["Total"])
            inclusive = transaction["LineAmountTypes"] == "Inclusive"
            for line in transaction["LineItems"]:
                net = dec(line["LineAmount"]) - (dec(line["TaxAmount"]) if inclusive else 0)
                sums[str(line["AccountCode"])] -= sign * net
                sums[tax] -= sign * dec(line["TaxAmount"])
        return dict(sums)

    def books_account(self, account: str) -> str:
        """The mapped code, else the code salesync creates the account under."""
        mapped: dict[str, str] = self.settings().get("accounts", {})
        return mapped.get(account) or default_code(account)

    def transactions(self) -> int:
        """Invoices, credit notes, manual journals and bank transactions: one per posting,
        whatever its payments (which only complete it)."""
        return sum(len(self.live(c)) for c in POSTED)

    def refused(self, posting: Posting) -> Posting:
        """The posting in euros, which this dollar organisation has not enabled."""
        entry = in_currency(posting.entry, "EUR")
        return replace(posting, entry=entry, documents=in_currency(posting.documents, "EUR"))

    def arm(self, fault: str, times: int = 1) -> None:
        kind = FaultKind(fault)
        self.faults.writes.extend([Fault(kind, retry_after=1.0)] * times)

    # --- tokens --------------------------------------------------------------------------

    def expire_access_token(self) -> None:
        """Xero's clock runs past the token's 30 minutes; salesync's does not notice."""
        self.org.advance(timedelta(minutes=31))

    def stored_refresh_token(self) -> str:
        return str(Grant.of(self.connection().credentials).refresh_token)

    def revoke(self) -> None:
        response = _identity(self.transport).post(
            "/connect/revocation",
            data={"token": self.stored_refresh_token()},
            auth=(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET),
        )
        assert response.status_code == 200, response.text
