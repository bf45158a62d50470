"""Sync policies: when each kind of document moves from its sources to the books.

A policy is kept for a kind (``sale``, ``refund``, ``payout``, ``customer``, ``product``)
from one source (``shopify``, ``manual`` for entries keyed in by hand) or from every
source (``*``); the one for the document's own source wins over ``*``, and without either
the default holds (sales, refunds and payouts in scheduled windows at 06:00 and 18:00
local time; customers, products and manual entries in real time). A change applies to
documents received from then on.
"""

from __future__ import annotations

from datetime import time

from fastapi import FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from salesync.accounts.roles import Action
from salesync.api.answers import answer
from salesync.api.auth import Refused
from salesync.api.paging import BAD_BODY, invalid_body, json_body
from salesync.api.rest.common import TENANT, Parts, refusals, route
from salesync.domain.validation import Problem
from salesync.engine.policies import (
    DEFAULT_POLICIES,
    DEFAULT_WINDOWS,
    MANUAL_SOURCE,
    SyncMode,
    SyncPolicy,
)
from salesync.store.tables import ConnectionRow, SyncPolicyRow

EVERY_SOURCE = "*"
KINDS = tuple(DEFAULT_POLICIES)
_UNKNOWN = {
    404: "There is no such tenant (`unknown_tenant`), kind of document (`unknown_kind`) or "
    "source (`unknown_source`)."
}


class PolicyOut(BaseModel):
    """When documents of ``kind`` from ``source`` move."""

    source: str = Field(description="A source's name, or `*` for every source.")
    kind: str
    mode: SyncMode
    windows: list[str] = Field(description="Local times (HH:MM) a scheduled policy moves at.")
    default: bool = Field(description="True when nothing was set and salesync's default holds.")


class PolicyList(BaseModel):
    policies: list[PolicyOut]


class PolicyChange(BaseModel):
    """How documents should move from now on: ``realtime``, ``scheduled`` at ``windows``
    (06:00 and 18:00 when none are given), or ``manual`` (when someone presses sync)."""

    model_config = ConfigDict(extra="forbid")

    mode: str = Field(json_schema_extra={"enum": [m.value for m in SyncMode]})
    windows: list[str] | None = Field(
        default=None, description="Local times such as 06:00, for a scheduled policy only."
    )


class Policies:
    """``GET .../policies`` and ``PUT .../policies/{source}/{kind}``."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts

    def register(self, app: FastAPI) -> None:
        route(
            app,
            "GET",
            TENANT + "/policies",
            self.policies,
            summary="When each kind of document moves, set or default",
            tag="policies",
            model=PolicyList,
            refused=refusals(),
        )
        route(
            app,
            "PUT",
            TENANT + "/policies/{source}/{kind}",
            self.set_policy,
            summary="Set when a kind of document from a source (or `*`) moves",
            tag="policies",
            model=PolicyOut,
            refused=refusals(BAD_BODY, _UNKNOWN),
            body=PolicyChange,
        )

    def policies(self, tenant_id: str, request: Request) -> PolicyList:
        """Every policy set for the tenant, then the defaults of the kinds not set for
        every source."""
        self.parts.admit(tenant_id, request, Action.VIEW_TENANT)
        with self.parts.factory() as session:
            rows = list(
                session.scalars(
                    select(SyncPolicyRow)
                    .where(SyncPolicyRow.tenant_id == tenant_id)
                    .order_by(SyncPolicyRow.source, SyncPolicyRow.kind)
                )
            )
        found = [_policy(r) for r in rows]
        for kind in KINDS:
            if not any(r.source == EVERY_SOURCE and r.kind == kind for r in rows):
                found.append(_default(kind))
        return PolicyList(policies=found)

    async def set_policy(
        self, tenant_id: str, source: str, kind: str, request: Request
    ) -> PolicyOut:
        """Keep the policy for ``kind`` from ``source``; documents received from now on
        follow it."""
        await self.parts.admit_async(tenant_id, request, Action.EDIT_MAPPINGS)
        await run_in_threadpool(self._check_path, tenant_id, source, kind)
        change = await json_body(request, PolicyChange)
        policy = _policy_of(change)
        return await run_in_threadpool(self._store, tenant_id, source, kind, policy)

    def _check_path(self, tenant_id: str, source: str, kind: str) -> None:
        if kind not in KINDS:
            raise Refused(
                answer(
                    404,
                    "unknown_kind",
                    f"{kind!r} is no kind of document; policies are kept for {', '.join(KINDS)}.",
                )
            )
        with self.parts.factory() as session:
            sources = self._sources(session, tenant_id)
        if source not in sources:
            raise Refused(
                answer(
                    404,
                    "unknown_source",
                    f"{source!r} is no source of {tenant_id}; use one of "
                    f"{', '.join(sorted(sources))}.",
                )
            )

    def _sources(self, session: Session, tenant_id: str) -> set[str]:
        """The sources a policy may name: every source, manual entry, the installed
        sources and those the tenant connects to."""
        connected = session.scalars(
            select(ConnectionRow.provider).where(
                ConnectionRow.tenant_id == tenant_id, ConnectionRow.role == "source"
            )
        )
        return {EVERY_SOURCE, MANUAL_SOURCE, *self.parts.registry.names(), *connected}

    def _store(self, tenant_id: str, source: str, kind: str, policy: SyncPolicy) -> PolicyOut:
        windows = (
            [w.strftime("%H:%M") for w in policy.windows]
            if policy.mode is SyncMode.SCHEDULED
            else []
        )
        with self.parts.factory() as session, session.begin():
            row = session.scalar(
                select(SyncPolicyRow).where(
                    SyncPolicyRow.tenant_id == tenant_id,
                    SyncPolicyRow.source == source,
                    SyncPolicyRow.kind == kind,
                )
            )
            if row is None:
                row = SyncPolicyRow(tenant_id=tenant_id, source=source, kind=kind)
                session.add(row)
            row.mode, row.windows = policy.mode.value, windows
            session.flush()
            return _policy(row)


def _policy_of(change: PolicyChange) -> SyncPolicy:
    """The policy a change asks for, or a 422 naming every field that is wrong."""
    problems: list[Problem] = []
    modes = [m.value for m in SyncMode]
    if change.mode not in modes:
        problems.append(
            Problem("unknown_mode", f"{change.mode!r} is not one of {', '.join(modes)}", "mode")
        )
    windows: list[time] = []
    for i, text in enumerate(change.windows or []):
        try:
            if len(text) != len("06:00"):
                raise ValueError(text)
            windows.append(time.fromisoformat(text))
        except ValueError:
            problems.append(
                Problem(
                    "bad_window", f"{text!r} is not a time of day such as 06:00", f"windows[{i}]"
                )
            )
    if change.windows and change.mode != SyncMode.SCHEDULED.value and change.mode in modes:
        problems.append(
            Problem(
                "windows_unused", "only a scheduled policy has windows; leave them out", "windows"
            )
        )
    if problems:
        raise Refused(invalid_body(problems))
    mode = SyncMode(change.mode)
    if mode is SyncMode.SCHEDULED and not windows:
        windows = list(DEFAULT_WINDOWS)
    return SyncPolicy(mode, tuple(sorted(set(windows))))


def _policy(row: SyncPolicyRow) -> PolicyOut:
    return PolicyOut(
        source=row.source,
        kind=row.kind,
        mode=SyncMode(row.mode),
        windows=row.windows,
        default=False,
    )


def _default(kind: str) -> PolicyOut:
    policy = DEFAULT_POLICIES[kind]
    windows = policy.windows if policy.mode is SyncMode.SCHEDULED else ()
    return PolicyOut(
        source=EVERY_SOURCE,
        kind=kind,
        mode=policy.mode,
        windows=[w.strftime("%H:%M") for w in windows],
        default=True,
    )
