"""The organisation's chart of accounts, tax rates and tracking, as postings need them.

A salesync account reaches Xero through the connection's ``accounts`` map (salesync name
to Xero code). An unmapped one is looked up under the code salesync gives it (``SS`` and
eight characters of its name's digest, so every worker and every run picks the same) or
its name (the salesync name itself, which tells a bookkeeper where it comes from). If it
is not there, the ``create`` policy creates it; ``require`` holds the posting with a
``MappingError`` naming the account and where to map it. salesync changes only accounts
it created: one that must take payments gets "Enable payments to this account"
(https://developer.xero.com/documentation/api/accounting/accounts); a merchant's own
account that cannot take them, or a bank or system account in a manual journal (which
Xero refuses), is a mapping error with the fix spelled out.

Under the ``bank_transaction`` sales form (the default), the account a tender's money is
received into must be a bank account
(https://developer.xero.com/documentation/api/accounting/banktransactions): salesync
creates its own as BANK accounts (clearing accounts kept as banks, so a processor's
payout is money moved between bank accounts), and an entry that moves money in bank
accounts is carried as a bank transaction or a paid invoice rather than refused as a
journal.

The chart, tax rates and tracking categories are read once per books, or taken from the
destination's ``ChartMemory`` of the organisation; a problem found in what was
remembered is looked for again in a fresh read before it is reported.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from salesync.connectors.xero import errors
from salesync.connectors.xero.client import XeroClient
from salesync.connectors.xero.memory import ChartMemory
from salesync.connectors.xero.settings import XeroSettings
from salesync.domain.errors import MappingError
from salesync.domain.journal import AccountType, account_type

TYPES = {
    AccountType.ASSETS: "CURRENT",
    AccountType.LIABILITIES: "CURRLIAB",
    AccountType.EQUITY: "EQUITY",
    AccountType.INCOME: "REVENUE",
    AccountType.EXPENSES: "EXPENSE",
}
"""The Xero type an account salesync creates gets; BANK only for the accounts bank
transactions receive into (``Usage.bank``): the merchant's real bank accounts are theirs
to add, with their bank feed."""
PAYABLE_TYPES = frozenset({"CURRENT", "CURRLIAB"})
"""Created accounts of these types take payments: tenders land in them (clearing, cash
drawer, gift card and store credit liabilities)."""
NAME_MAX = 150
ZERO_TAX_TYPES = ("NONE", "BASEXCLUDED")
"""Xero's zero rates for amounts outside tax: "No GST"/"Tax exempt" (NONE) in most
regions, "BAS Excluded" in Australia."""
_BASE32 = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "0123456789ABCDEFGHJKMNPQRSTVWXYZ")


def default_code(name: str) -> str:
    """The Xero code salesync gives the account it creates for ``name`` (10 characters)."""
    digest = base64.b32encode(hashlib.sha256(name.encode()).digest()).decode()
    return "SS" + digest.translate(_BASE32)[:8]


def default_name(name: str) -> str:
    return name[:NAME_MAX]


@dataclass(slots=True)
class Usage:
    """What the postings of a call do with one account."""

    payments: bool = False
    journal: bool = False
    bank: bool = False
    """The bank account of a bank transaction: it must be of type BANK."""


@dataclass
class Chart:
    """One organisation's accounts, read once per books (or recalled from ``memory``) and
    kept up to date as salesync creates or changes them."""

    client: XeroClient
    settings: XeroSettings
    memory: ChartMemory | None = None
    _accounts: list[dict[str, Any]] | None = None
    _tax_type: str | None = None
    _tracking: list[dict[str, Any]] | None = None
    _recalled: set[str] = field(default_factory=set)
    """What was taken from ``memory`` rather than read in this books."""

    def _read(self, collection: str) -> list[dict[str, Any]]:
        """A list the organisation holds: remembered, or read (and remembered)."""
        if self.memory is not None:
            found = self.memory.recall(collection)
            if found is not None:
                self._recalled.add(collection)
                return list(found)
        read = self.client.get(collection).get(collection)
        values = [v for v in read or [] if isinstance(v, dict)]
        if self.memory is not None:
            self.memory.keep(collection, values)
        return values

    def _reread(self, collection: str) -> bool:
        """Whether ``collection`` was remembered, and is now to be read afresh: a problem
        found in what was remembered may be news to salesync, not to Xero."""
        if collection not in self._recalled:
            return False
        self._recalled.discard(collection)
        if self.memory is not None:
            self.memory.drop(collection)
        return True

    def accounts(self) -> list[dict[str, Any]]:
        if self._accounts is None:
            self._accounts = self._read("Accounts")
        return self._accounts

    def _changed(self) -> None:
        if self.memory is not None and self._accounts is not None:
            self.memory.amend("Accounts", self._accounts)

    def forget(self) -> None:
        """Read everything again on next use (after a failure left it uncertain, or Xero
        refused a document over a mapping)."""
        self._accounts = None
        self._tax_type = None
        self._tracking = None
        self._recalled.clear()
        if self.memory is not None:
            self.memory.forget()

    def is_bank(self, code: str) -> bool:
        found = self._find(code=code)
        return found is not None and found.get("Type") == "BANK"

    def currency(self, code: str) -> str | None:
        """The currency of the account with ``code`` (Xero names it on bank accounts)."""
        found = self._find(code=code)
        return str(found["CurrencyCode"]) if found and found.get("CurrencyCode") else None

    def _find(self, code: str | None = None, name: str | None = None) -> dict[str, Any] | None:
        for account in self.accounts():
            if code and str(account.get("Code", "")).casefold() == code.casefold():
                return account
            if name and str(account.get("Name", "")).casefold() == name.casefold():
                return account
        return None

    def resolve(self, needs: Mapping[str, Usage]) -> tuple[dict[str, str], dict[str, MappingError]]:
        """The Xero code of each needed account, and why each of the others has none."""
        codes, problems = self._resolve(needs)
        # Xero never turns an existing account into a bank account (one is added as a
        # bank), so "not a bank", which only makes a sale an invoice, is no reason to read.
        news = [p for p in problems.values() if p.code != "account_not_bank"]
        if news and self._reread("Accounts"):
            self._accounts = None
            codes, problems = self._resolve(needs)
        return codes, problems

    def _resolve(
        self, needs: Mapping[str, Usage]
    ) -> tuple[dict[str, str], dict[str, MappingError]]:
        codes: dict[str, str] = {}
        problems: dict[str, MappingError] = {}
        for name in sorted(needs):
            try:
                codes[name] = self._ensure(name, needs[name])
            except MappingError as exc:
                problems[name] = exc
        return codes, problems

    def _ensure(self, name: str, usage: Usage) -> str:
        mapped = self.settings.accounts.get(name)
        if mapped:
            account = self._find(code=mapped)
            if account is None or account.get("Status") != "ACTIVE":
                state = "is archived" if account else "does not exist"
                raise _mapping(
                    f"{name} is mapped to Xero account {mapped}, which {state}",
                    f"salesync posts {name} to Xero account {mapped}, which {state} in Xero. "
                    f"Map {name} to an active account in salesync's Xero settings (Accounts).",
                    "account_mapping_invalid",
                    name,
                )
            self._check(name, account, usage, own=False)
            return str(account["Code"])
        account = self._find(code=default_code(name)) or self._find(name=default_name(name))
        if account is None:
            if self.settings.account_policy == "require":
                raise _mapping(
                    f"{name} has no Xero account and the policy forbids creating one",
                    f"salesync has no Xero account for {name}. Map it to one of your Xero "
                    "accounts in salesync's Xero settings (Accounts), or let salesync create "
                    "the accounts it needs.",
                    "account_unmapped",
                    name,
                )
            account = self._create(name, usage)
        elif account.get("Status") != "ACTIVE":
            raise _mapping(
                f"the Xero account salesync uses for {name} ({account.get('Code')}) is archived",
                f"The Xero account {account.get('Code')} '{account.get('Name')}' that holds "
                f"{name} is archived. Restore it in Xero or map {name} to another account.",
                "account_archived",
                name,
            )
        self._check(name, account, usage, own=True)
        return str(account["Code"])

    def _check(self, name: str, account: dict[str, Any], usage: Usage, *, own: bool) -> None:
        label = f"{account.get('Code')} '{account.get('Name')}'"
        bank = account.get("Type") == "BANK"
        if usage.bank and not bank:
            raise _mapping(
                f"{name} maps to {label}, which is not a bank account",
                f"With the bank transaction sales form, salesync records money paid by "
                f"{name} as received into its account, and Xero takes that only into a bank "
                f"account; {label} is not one. Map {name} to a bank account in salesync's "
                "Xero settings (Accounts), or choose the invoice sales form.",
                "account_not_bank",
                name,
            )
        # Under the bank transaction form, an entry on bank accounts becomes a bank
        # transaction or a paid invoice (``books``); only system accounts stay out of reach.
        carried = bank and self.settings.sales_form == "bank_transaction"
        if usage.journal and ((bank and not carried) or account.get("SystemAccount")):
            raise _mapping(
                f"{name} maps to bank or system account {label}, which manual journals refuse",
                f"Xero does not allow manual journals on bank or system accounts, and {name} "
                f"posts to {label}. Map {name} to a clearing account (then reconcile the "
                "bank feed against it) in salesync's Xero settings.",
                "account_not_journalable",
                name,
            )
        payable = bank or account.get("EnablePaymentsToAccount")
        if usage.payments and not payable:
            if own and self.settings.account_policy == "create":
                self._enable_payments(account)
                return
            raise _mapping(
                f"{name} maps to {label}, which does not take payments",
                f"Payments for {name} go to Xero account {label}, which does not accept "
                "payments. Tick 'Enable payments to this account' on it in Xero, or map "
                f"{name} to a bank account in salesync's Xero settings.",
                "account_not_payable",
                name,
            )

    def _create(self, name: str, usage: Usage) -> dict[str, Any]:
        kind = TYPES[account_type(name)]
        element: dict[str, Any] = {
            "Code": default_code(name),
            "Name": default_name(name),
            "Type": kind,
            "Description": f"Created by salesync for {name}",
            "EnablePaymentsToAccount": kind in PAYABLE_TYPES,
        }
        if usage.bank:
            # A clearing "bank" account: Xero asks a number of every bank account and
            # takes no description on one; payments are always enabled on it.
            element = {
                "Code": default_code(name),
                "Name": default_name(name),
                "Type": "BANK",
                "BankAccountType": "BANK",
                "BankAccountNumber": default_code(name),
            }
        saved = self.client.write_one("PUT", "Accounts", "Accounts", element, step="account")
        messages = _messages(saved)
        if messages:
            self.forget()
            again = self._find(code=default_code(name)) or self._find(name=default_name(name))
            if again is not None:  # another worker created it meanwhile
                return again
            raise _mapping(
                f"Xero refused to create an account for {name}: {'; '.join(messages)}",
                f"Xero would not create the account salesync needs for {name} "
                f"({'; '.join(messages)}). Map {name} to one of your accounts in salesync's "
                "Xero settings.",
                "account_create_refused",
                name,
            )
        self.accounts().append(saved)
        self._changed()
        return saved

    def _enable_payments(self, account: dict[str, Any]) -> None:
        change = {"AccountID": account["AccountID"], "EnablePaymentsToAccount": True}
        path = f"Accounts/{account['AccountID']}"
        saved = self.client.write_one("POST", path, "Accounts", change, step="account-payments")
        messages = _messages(saved)
        if messages:
            raise _mapping(
                f"Xero refused to enable payments on {account.get('Code')}: {messages}",
                f"Xero would not let salesync enable payments on account {account.get('Code')} "
                f"({'; '.join(messages)}). Tick 'Enable payments to this account' in Xero.",
                "account_not_payable",
                str(account.get("Name")),
            )
        account["EnablePaymentsToAccount"] = True
        self._changed()

    def no_tax_type(self) -> str:
        """The zero tax rate lines carry, so that Xero adds no tax of its own."""
        if self._tax_type is None:
            try:
                self._tax_type = self._zero_rate()
            except MappingError:
                if not self._reread("TaxRates"):
                    raise
                self._tax_type = self._zero_rate()
        return self._tax_type

    def _zero_rate(self) -> str:
        rates = self._read("TaxRates")
        active = {str(r.get("TaxType")): r for r in rates if r.get("Status", "ACTIVE") == "ACTIVE"}
        wanted = self.settings.no_tax_type
        if wanted:
            if wanted not in active:
                raise _mapping(
                    f"tax type {wanted} is not an active Xero tax rate",
                    f"The tax rate {wanted} set for salesync's lines is not active in Xero; "
                    "choose an active zero rate in salesync's Xero settings.",
                    "tax_type_invalid",
                    wanted,
                )
            return wanted
        zero = [t for t, r in active.items() if float(r.get("EffectiveRate") or 0) == 0]
        preferred = [t for t in ZERO_TAX_TYPES if t in zero] + zero
        if not preferred:
            raise _mapping(
                "the organisation has no active zero tax rate",
                "salesync needs a zero tax rate in Xero for the tax lines it writes; "
                "add one in Xero or name one in salesync's Xero settings.",
                "tax_type_missing",
                "",
            )
        return preferred[0]

    def tracking(self, location_id: str) -> list[dict[str, str]]:
        """The Tracking of lines for a location: none unless tracking is configured."""
        if not self.settings.tracking:
            return []
        category = self.settings.tracking_category
        option = self.settings.tracking.get(location_id)
        if option is None:
            raise _mapping(
                f"location {location_id} has no {category} tracking option",
                f"Location {location_id} has no '{category}' tracking option in salesync's "
                "Xero settings; add one so its sales are tracked like the others.",
                "tracking_unmapped",
                location_id,
            )
        if self._tracking is None:
            self._tracking = self._read("TrackingCategories")
        found = _option(self._tracking, category, option)
        if found is None and self._reread("TrackingCategories"):
            self._tracking = self._read("TrackingCategories")
            found = _option(self._tracking, category, option)
        if found is not None:
            return found
        raise _mapping(
            f"tracking option {category}/{option} is not active in Xero",
            f"The tracking option '{option}' of category '{category}' is not active in Xero. "
            f"Add it in Xero (tracking categories) or change location {location_id}'s "
            "tracking in salesync's Xero settings.",
            "tracking_invalid",
            location_id,
        )


def _option(
    categories: list[dict[str, Any]], category: str, option: str
) -> list[dict[str, str]] | None:
    """The Tracking of an active ``option`` of ``category``, if there is one."""
    for entry in categories:
        if str(entry.get("Name", "")).casefold() != category.casefold():
            continue
        for choice in entry.get("Options") or []:
            same = str(choice.get("Name", "")).casefold() == option.casefold()
            if same and choice.get("Status", "ACTIVE") == "ACTIVE":
                return [{"Name": str(entry["Name"]), "Option": str(choice["Name"])}]
    return None


def _messages(element: Mapping[str, Any]) -> list[str]:
    found = element.get("ValidationErrors") or []
    return [str(e.get("Message", "")) for e in found if isinstance(e, dict)]


def _mapping(internal: str, user: str, code: str, value: str) -> MappingError:
    help_url = errors.TRACKING_HELP if code.startswith("tracking") else errors.ACCOUNTS_HELP
    return MappingError(
        internal,
        user_message=user,
        code=code,
        help_url=help_url,
        provider=errors.PROVIDER,
        operation="ensure",
        details={"value": value},
    )
