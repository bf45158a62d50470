"""The customers a post's sales name, created in batch calls ahead of its postings.

Customers are the one name list that keeps growing: a month of per-order sales names
hundreds, so creating each with its own call would cost more than the postings. The
customers a post names that salesync has not seen yet are created in one batch call (30
at most) before the postings' batch, and read back, in one ``DisplayName IN (...)``
query, only when QuickBooks says a name is already taken (6240). A customer that cannot
be had is an error for the postings naming it alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from salesync.connectors.qbo.client import BATCH_MAX, Json
from salesync.connectors.qbo.errors import PROVIDER, fault_error, faults_in
from salesync.connectors.qbo.lists import Lists
from salesync.connectors.qbo.refs import Ref, batch_requestid, ref_of
from salesync.domain.errors import ErrorKind, MappingError, SyncError, TransientError

OPERATION = "batch:Customer"
"""What a failed customers' batch is called in errors (and the sandbox arms faults as)."""


class Customers:
    """Finds, creating when missing, the customers of one company's sales by display name."""

    def __init__(self, lists: Lists) -> None:
        self.lists = lists
        self.client = lists.client
        self.realm = lists.realm
        self.context = lists.context

    def named(
        self, names: Iterable[str], emails: Mapping[str, str] | None = None
    ) -> dict[str, Ref | SyncError]:
        """The customer of each display name, or why there is none; one created gets its
        email from ``emails`` (by display name), when there is one."""
        wanted = sorted(set(names))
        with self.realm.lock:
            unknown = [n for n in wanted if n.casefold() not in self.realm.customers]
            refused: dict[str, SyncError] = {}
            for start in range(0, len(unknown), BATCH_MAX):
                refused |= self._create(unknown[start : start + BATCH_MAX], emails or {})
            found: dict[str, Ref | SyncError] = {}
            for name in wanted:
                obj = self.realm.customers.get(name.casefold())
                if obj is None:
                    found[name] = refused[name]
                elif obj.get("Active", True) is False:
                    found[name] = MappingError(
                        f"qbo customer {name} ({obj.get('Id')}) is inactive",
                        user_message=f"The QuickBooks customer '{name}' is inactive. "
                        "Reactivate it in QuickBooks (Customers, include inactive), then retry.",
                        code="inactive_customer",
                        provider=PROVIDER,
                        operation="ensure:Customer",
                        details={"customer": name},
                        **self.context,
                    )
                else:
                    found[name] = ref_of("Customer", obj)
            return found

    def _create(self, names: Sequence[str], emails: Mapping[str, str]) -> dict[str, SyncError]:
        """Create ``names`` in one batch call, keeping what QuickBooks answers; the error
        of each it refused. Names already taken are read instead, in one query.

        The requestid digests the names, so the batch sent again after a lost answer gets
        QuickBooks' first answer rather than 6240s. Once answered it is spent: the same
        names sent again after the lists were forgotten are read as they are now.
        """
        items = [
            {"bId": str(n), "operation": "create", "Customer": _customer(name, emails.get(name))}
            for n, name in enumerate(names)
        ]
        rid = batch_requestid("c", items, self.realm.spent)
        try:
            answers = self.client.batch(items, rid, operation=OPERATION)
        except SyncError as exc:
            if exc.kind in (ErrorKind.TRANSIENT, ErrorKind.AUTH):
                raise
            return dict.fromkeys(names, exc)
        self.realm.spent.add(rid)
        taken: dict[str, SyncError] = {}
        refused: dict[str, SyncError] = {}
        for n, name in enumerate(names):
            outcome = self._answer(answers.get(str(n)), name)
            if isinstance(outcome, SyncError):
                (taken if outcome.code == "duplicate_name" else refused)[name] = outcome
            else:
                self.realm.customers[name.casefold()] = outcome
        self.lists.load(self.realm.customers, "Customer", "DisplayName", taken)
        for name, refusal in taken.items():
            if name.casefold() not in self.realm.customers:
                # Taken in another case, or by a vendor: the refusal names the holder.
                obj = self.lists.existing_after(refusal, "Customer", "DisplayName", name)
                if obj is None:
                    refused[name] = refusal
                else:
                    self.realm.customers[name.casefold()] = obj
        return refused

    def _answer(self, answer: Json | None, name: str) -> Json | SyncError:
        """One item of a customers' batch: the customer, or its fault as an error."""
        faults = faults_in(answer, 200)
        if faults:
            return fault_error(
                faults[0], operation="create:Customer", details={"customer": name}, **self.context
            )
        found = answer.get("Customer") if answer is not None else None
        if isinstance(found, dict) and found.get("Id"):
            return found
        return TransientError(
            f"qbo batch answered no Customer for {name}",
            user_message="QuickBooks' answer left out the customer this sale names, so "
            "salesync cannot tell whether it was saved; it checks before trying again.",
            code="missing_batch_item",
            provider=PROVIDER,
            operation="create:Customer",
            details={"customer": name},
            **self.context,
        )


def _customer(name: str, email: str | None) -> Json:
    """A new customer's create payload."""
    if not email:
        return {"DisplayName": name}
    return {"DisplayName": name, "PrimaryEmailAddr": {"Address": email.strip()}}
