"""What postings refer to in QuickBooks: accounts, products, customers, locations, classes.

QuickBooks calls these name lists. Before a batch is posted, every reference it needs is
found, or created when the connection allows it:

- an **account** per salesync account: the one the connection's ``accounts`` map names
  (by Id or name), else the account named after the salesync account (``account_name``),
  created under the ``create`` policy, a mapping error under ``require``;
- a **product** (Item) per account a sales form credits, named after its account
  (``item_name``) and selling into it, so each account moves by exactly the entry's
  amount;
- a **customer** per sale that names one, matched by display name (``customers``), or
  by the buyer's email under the mapping's customer policy (``buyers``);
- a **location** (Department) and a **class** when the connection tracks them.

Accounts, products, locations and classes are few and found once: their lookups and
creates use single-object endpoints, keeping the scarcer batch calls (40 a minute against
500) for postings and customers. What was found is kept per company and forgotten when
QuickBooks says a reference went stale, so the next post reads again instead of repeating
the mistake.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from salesync.connectors.qbo.client import Json, QboClient, quoted
from salesync.connectors.qbo.refs import (
    CLASSIFICATIONS,
    NAME_MAX,
    RealmLists,
    Ref,
    account_name,
    created_type,
    item_name,
    ref_of,
    requestid,
)
from salesync.connectors.qbo.settings import QboSettings
from salesync.domain.errors import ErrorKind, MappingError, SyncError
from salesync.domain.journal import account_type

IN_CHUNK = 30
"""Names per ``IN (...)`` query, keeping each statement short."""
_ID_IN_DETAIL = re.compile(r"\bId=(\d+)")


def _by_name(objects: Iterable[Json], field: str = "Name") -> dict[str, Json]:
    found: dict[str, Json] = {}
    for obj in objects:
        for key in (field, "FullyQualifiedName"):
            if obj.get(key):
                found.setdefault(str(obj[key]).casefold(), obj)
    return found


class Lists:
    """Finds, and under the ``create`` policy creates, what one batch refers to."""

    def __init__(
        self,
        client: QboClient,
        settings: QboSettings,
        realm: RealmLists,
        context: Mapping[str, Any],
    ) -> None:
        self.client = client
        self.settings = settings
        self.realm = realm
        self.context = dict(context)

    # -- accounts ------------------------------------------------------------------------

    def accounts(self, names: Iterable[str]) -> dict[str, Ref | SyncError]:
        """The QuickBooks account of each salesync account, or why there is none."""
        with self.realm.lock:
            chart = self._chart()
            return {name: self._account(name, chart) for name in sorted(set(names))}

    def _account(self, name: str, chart: dict[str, Json]) -> Ref | SyncError:
        by_name = _by_name(chart.values())
        mapped = self.settings.accounts.get(name)
        if mapped is not None:
            obj = chart.get(mapped) or by_name.get(mapped.casefold())
            if obj is None:
                return self._refusal(
                    name,
                    "missing_account",
                    f"The account mapping sends {name} to the QuickBooks account '{mapped}', "
                    f"which this QuickBooks company does not have. Choose an existing account "
                    f"for {name} in the connection's account mapping, then retry.",
                )
            return self._usable(name, obj)
        wanted = account_name(name)
        obj = by_name.get(wanted.casefold())
        if obj is not None:
            return self._matching(name, obj)
        if self.settings.account_policy == "require":
            return self._refusal(
                name,
                "unmapped_account",
                f"salesync posts to {name}, but this QuickBooks connection has no account for "
                f"it. In the connection's account mapping, choose the QuickBooks account for "
                f"{name} (or let salesync create missing accounts), then retry.",
            )
        if len(wanted) > NAME_MAX:
            return self._refusal(
                name,
                "account_name_too_long",
                f"The QuickBooks account salesync would create for {name} needs a name over "
                f"{NAME_MAX} characters. Map {name} to an account in the connection's account "
                "mapping, then retry.",
            )
        return self._create_account(name, wanted, chart)

    def _chart(self) -> dict[str, Json]:
        if self.realm.accounts is None:
            # Inactive accounts too: a mapping to one is named as such, not as missing.
            rows = self.client.query_all("Account", " where Active IN (true, false)")
            self.realm.accounts = {str(row["Id"]): row for row in rows}
        return self.realm.accounts

    def _usable(self, name: str, obj: Json) -> Ref | SyncError:
        if obj.get("Active", True) is False:
            return self._refusal(
                name,
                "inactive_account",
                f"The QuickBooks account '{obj.get('Name')}' that {name} posts to is "
                f"inactive. Reactivate it in QuickBooks (Chart of accounts, include inactive) "
                f"or map {name} to another account, then retry.",
                cause=f"qbo: QuickBooks account {obj.get('Id')} '{obj.get('Name')}' is "
                "inactive (inactive_account)",
            )
        return ref_of("Account", obj)

    def _matching(self, name: str, obj: Json) -> Ref | SyncError:
        expected = CLASSIFICATIONS[account_type(name)]
        actual = str(obj.get("Classification") or expected)
        if actual != expected:
            return self._refusal(
                name,
                "account_type_mismatch",
                f"QuickBooks already has an account named '{obj.get('Name')}', but it is "
                f"an {actual} account and {name} needs an {expected} account. Map {name} to "
                "the right account in the connection's account mapping, then retry.",
            )
        return self._usable(name, obj)

    def _create_account(self, name: str, wanted: str, chart: dict[str, Json]) -> Ref | SyncError:
        payload = {"Name": wanted, "AccountType": created_type(name)}
        rid = requestid(self.client.realm, "Account", wanted)
        try:
            obj = self.client.create("Account", payload, rid)
        except SyncError as exc:
            found = self.existing_after(exc, "Account", "Name", wanted)
            if found is None:
                return exc
            obj = found
        chart[str(obj["Id"])] = obj
        return self._matching(name, obj)

    # -- items ---------------------------------------------------------------------------

    def items(self, accounts: Mapping[str, Ref]) -> dict[str, Ref | SyncError]:
        """A product selling into each account, by salesync account name."""
        with self.realm.lock:
            wanted = {name: item_name(ref) for name, ref in accounts.items()}
            self.load(self.realm.items, "Item", "Name", wanted.values())
            found: dict[str, Ref | SyncError] = {}
            for name, item in sorted(wanted.items()):
                account = accounts[name]
                obj = self.realm.items.get(item.casefold())
                if obj is None and self.settings.account_policy == "require":
                    found[name] = self._refusal(
                        name,
                        "missing_item",
                        f"salesync posts {name} to QuickBooks account '{account.name}' "
                        f"through a product named '{item}', which QuickBooks does not have. "
                        f"Create a service '{item}' with income account '{account.name}' in "
                        "QuickBooks, or let salesync create missing accounts and products, "
                        "then retry.",
                        "Item",
                    )
                    continue
                if obj is None:
                    created = self._create_item(item, account)
                    if isinstance(created, SyncError):
                        found[name] = created
                        continue
                    obj = created
                found[name] = self._item_for(name, obj, account)
            return found

    def _create_item(self, item: str, account: Ref) -> Json | SyncError:
        payload = {"Name": item, "Type": "Service", "IncomeAccountRef": account.json()}
        rid = requestid(self.client.realm, "Item", item, account.id)
        try:
            obj = self.client.create("Item", payload, rid)
        except SyncError as exc:
            found = self.existing_after(exc, "Item", "Name", item)
            if found is None:
                return exc
            obj = found
        self.realm.items[item.casefold()] = obj
        return obj

    def _item_for(self, name: str, obj: Json, account: Ref) -> Ref | SyncError:
        income = obj.get("IncomeAccountRef") or {}
        if str(income.get("value")) != account.id:
            return self._refusal(
                name,
                "item_account_mismatch",
                f"The QuickBooks product '{obj.get('Name')}' sells into account "
                f"'{income.get('name') or income.get('value')}', not '{account.name}' where "
                f"{name} belongs. Set its income account to '{account.name}' in QuickBooks, "
                "or rename it so salesync can create its own, then retry.",
                "Item",
            )
        if obj.get("Active", True) is False:
            return self._refusal(
                name,
                "inactive_item",
                f"The QuickBooks product '{obj.get('Name')}' that carries {name} is inactive. "
                "Reactivate it in QuickBooks, then retry.",
                "Item",
            )
        return ref_of("Item", obj)

    # -- locations and classes -----------------------------------------------------------

    def department(self, location_id: str) -> Ref | SyncError | None:
        """The QuickBooks location of a salesync location, when the connection tracks them."""
        if not self.settings.departments:
            return None
        mapped = self.settings.departments.get(location_id)
        if mapped is None:
            return MappingError(
                f"qbo: location {location_id} has no QuickBooks location (Department)",
                user_message=f"This QuickBooks connection tracks locations, but salesync "
                f"location '{location_id}' has none. Add it to the connection's location "
                "mapping (departments), then retry.",
                code="unmapped_location",
                provider="qbo",
                operation="ensure:Department",
                details={"location": location_id, "setting": "departments"},
                **self.context,
            )
        with self.realm.lock:
            if self.realm.departments is None:
                self.realm.departments = {
                    str(r["Id"]): r for r in self.client.query_all("Department")
                }
            return self._tracked("Department", "location", mapped, self.realm.departments)

    def tracking_class(self) -> Ref | SyncError | None:
        """The class every line carries, when the connection names one."""
        if self.settings.class_name is None:
            return None
        with self.realm.lock:
            if self.realm.classes is None:
                self.realm.classes = {str(r["Id"]): r for r in self.client.query_all("Class")}
            return self._tracked("Class", "class", self.settings.class_name, self.realm.classes)

    def _tracked(
        self, entity: str, noun: str, mapped: str, known: dict[str, Json]
    ) -> Ref | SyncError:
        obj = known.get(mapped) or _by_name(known.values()).get(mapped.casefold())
        if obj is None and self.settings.account_policy == "create" and not mapped.isdigit():
            try:
                obj = self.client.create(
                    entity, {"Name": mapped}, requestid(self.client.realm, entity, mapped)
                )
            except SyncError as exc:
                obj = self.existing_after(exc, entity, "Name", mapped)
                if obj is None:
                    return exc
            known[str(obj["Id"])] = obj
        if obj is None or obj.get("Active", True) is False:
            state = "does not exist" if obj is None else "is inactive"
            return MappingError(
                f"qbo {entity} {mapped!r} {state}",
                user_message=f"The QuickBooks {noun} '{mapped}' this connection uses {state}. "
                f"Create or reactivate it in QuickBooks, or change the {noun} in the "
                "connection's settings, then retry.",
                code=f"missing_{noun}",
                provider="qbo",
                operation=f"ensure:{entity}",
                details={noun: mapped},
                **self.context,
            )
        return ref_of(entity, obj)

    # -- shared --------------------------------------------------------------------------

    def load(self, cache: dict[str, Json], entity: str, field: str, names: Iterable[str]) -> None:
        """Read the objects called ``names`` that are not in ``cache`` yet."""
        unknown = sorted({n for n in names if n.casefold() not in cache})
        for start in range(0, len(unknown), IN_CHUNK):
            listed = ", ".join(quoted(n) for n in unknown[start : start + IN_CHUNK])
            for row in self.client.query_all(
                entity, f" where {field} IN ({listed}) and Active IN (true, false)"
            ):
                cache[str(row.get(field, "")).casefold()] = row

    def existing_after(self, exc: SyncError, entity: str, field: str, name: str) -> Json | None:
        """The object a duplicate-name refusal (6240) points at; re-raises whole-call
        failures, and answers None for refusals that leave no object to use."""
        if exc.kind in (ErrorKind.TRANSIENT, ErrorKind.AUTH):
            raise exc
        if exc.code != "duplicate_name":
            return None
        # Created meanwhile (another worker, a lost answer) or named in another case:
        # QuickBooks says which object holds the name; read that one.
        detail = str(exc.details.get("fault", {}).get("detail", ""))
        match = _ID_IN_DETAIL.search(detail)
        if match is not None:
            try:
                return self.client.read(entity, match.group(1))
            except SyncError as missing:
                if missing.kind in (ErrorKind.TRANSIENT, ErrorKind.AUTH):
                    raise
        rows = list(self.client.query_all(entity, f" where {field} = {quoted(name)}"))
        return rows[0] if rows else None

    def _refusal(
        self,
        account: str,
        code: str,
        user_message: str,
        entity: str = "Account",
        *,
        cause: str | None = None,
    ) -> MappingError:
        """``cause`` names what is wrong in QuickBooks itself when it is one thing there
        (an inactive account): the internal message, and so the ticket, is about it, and
        every salesync account that posts to it joins one ticket."""
        return MappingError(
            cause or f"qbo: no usable QuickBooks {entity.lower()} for {account} ({code})",
            user_message=user_message,
            code=code,
            provider="qbo",
            operation=f"ensure:{entity}",
            details={"account": account, "setting": "accounts"},
            **self.context,
        )
