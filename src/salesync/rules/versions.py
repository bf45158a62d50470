"""Mapping versions: plain JSON-able data for storage, and an append-only history.

A published version never changes; an edit is published as the next version, so a posting
can always say which rules placed it and replaying it places it the same way.
"""

from __future__ import annotations

from collections import abc
from collections.abc import Iterable
from dataclasses import fields
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from salesync.domain.errors import ConflictError
from salesync.rules.customers import CustomerPolicy, CustomerRule
from salesync.rules.mapping import FixedAccounts, Mapping, Rule, Target

FORMAT = 1
"""The shape of the stored data; bumped, with a converter, if the shape ever changes."""

_ROLES = tuple(f.name for f in fields(FixedAccounts))


class MappingDataError(ValueError):
    """Stored or submitted mapping data that does not make a valid mapping; lists every problem."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("mapping data is not valid: " + "; ".join(self.problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _RuleData(_Strict):
    model_config = ConfigDict(populate_by_name=True)

    target: Literal["income", "tax", "tender", "location"]
    when: str
    account: str | None = None
    item: str | None = None
    tax_code: str | None = None
    klass: str | None = Field(default=None, alias="class")


class _PolicyData(_Strict):
    rule: Literal["match_by_email", "create", "named_customer", "error"]
    name: str | None = None


class _MappingData(_Strict):
    format: Literal[1]
    version: int
    payout_tender: str
    accounts: dict[str, str]
    customer_policy: _PolicyData
    rules: list[_RuleData]


def mapping_to_dict(mapping: Mapping) -> dict[str, Any]:
    """``mapping`` as plain data (JSON-able); ``mapping_from_dict`` reads it back as equal."""
    policy: dict[str, Any] = {"rule": mapping.customer_policy.rule.value}
    if mapping.customer_policy.name is not None:
        policy["name"] = mapping.customer_policy.name
    rules: list[dict[str, Any]] = []
    for rule in mapping.rules:
        data = {"target": rule.target.value, "when": rule.when}
        optional = {
            "account": rule.account,
            "item": rule.item,
            "tax_code": rule.tax_code,
            "class": rule.klass,
        }
        data |= {key: value for key, value in optional.items() if value is not None}
        rules.append(data)
    return {
        "format": FORMAT,
        "version": mapping.version,
        "payout_tender": mapping.payout_tender,
        "accounts": {role: getattr(mapping.accounts, role) for role in _ROLES},
        "customer_policy": policy,
        "rules": rules,
    }


def _path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text or "mapping"


def _accounts(data: abc.Mapping[str, str]) -> FixedAccounts:
    missing = [role for role in _ROLES if role not in data]
    unknown = sorted(set(data) - set(_ROLES))
    if missing or unknown:
        problems = [f"accounts.{role}: missing" for role in missing]
        problems += [f"accounts.{name}: not a fixed role" for name in unknown]
        raise MappingDataError(problems)
    return FixedAccounts(**{role: data[role] for role in _ROLES})


def mapping_from_dict(data: abc.Mapping[str, Any]) -> Mapping:
    """Read a mapping from plain data, or raise ``MappingDataError`` naming every problem."""
    try:
        parsed = _MappingData.model_validate(data)
    except pydantic.ValidationError as error:
        raise MappingDataError(
            f"{_path(e['loc'])}: {e['msg']}" for e in error.errors(include_url=False)
        ) from None
    problems: list[str] = []
    rules: list[Rule] = []
    for i, r in enumerate(parsed.rules):
        try:
            rules.append(Rule(Target(r.target), r.when, r.account, r.item, r.tax_code, r.klass))
        except ValueError as error:
            problems.append(f"rules[{i}]: {error}")
    try:
        accounts = _accounts(parsed.accounts)
    except MappingDataError as error:
        problems += error.problems
    except ValueError as error:
        problems.append(f"accounts: {error}")
    try:
        policy = CustomerPolicy(
            CustomerRule(parsed.customer_policy.rule), parsed.customer_policy.name
        )
    except ValueError as error:
        problems.append(f"customer_policy: {error}")
    if problems:
        raise MappingDataError(problems)
    try:
        return Mapping(parsed.version, tuple(rules), accounts, policy, parsed.payout_tender)
    except (TypeError, ValueError) as error:
        raise MappingDataError([str(error)]) from None


class MappingHistory:
    """Every published version of one tenant's mapping, 1, 2, 3, ...; append-only."""

    __slots__ = ("_published",)

    def __init__(self, published: Iterable[Mapping] = ()) -> None:
        self._published: tuple[Mapping, ...] = ()
        for mapping in published:
            self.publish(mapping)

    @property
    def published(self) -> tuple[Mapping, ...]:
        return self._published

    @property
    def latest(self) -> Mapping | None:
        """The version in force; None before anything is published."""
        return self._published[-1] if self._published else None

    @property
    def next_version(self) -> int:
        return len(self._published) + 1

    def at(self, version: int) -> Mapping:
        """The mapping as it was published as ``version``."""
        if not 1 <= version <= len(self._published):
            raise LookupError(
                f"mapping version {version} was never published; versions are 1 to "
                f"{len(self._published)}"
            )
        return self._published[version - 1]

    def publish(self, new: Mapping) -> int:
        """Publish ``new`` as the next version and return its number.

        Publishing a version again with the same content is a no-op; with other content it
        is refused, because postings already name that version (and two people editing
        at once both claim the same next version: the second must re-read and re-apply).
        """
        if new.version <= len(self._published):
            if self.at(new.version) == new:
                return new.version
            raise ConflictError(
                f"mapping version {new.version} is already published and cannot change; "
                f"publish the edit as version {self.next_version}",
                user_message="These mappings were changed by someone else meanwhile. "
                "Reload them and make your change again.",
                code="mapping_version_published",
                details={"version": new.version, "next_version": self.next_version},
            )
        if new.version != self.next_version:
            raise ValueError(f"the next mapping version is {self.next_version}, not {new.version}")
        self._published += (new,)
        return new.version
