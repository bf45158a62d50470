"""Runs: every execution of a sync step for the tenant (intake, planning, sending,
sweeps, backfills), with what it was given, what came of it and how long it took."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from salesync.accounts.roles import Action
from salesync.api.paging import BAD_PARAMETER, PAGING, choice, page, query_parameter, text
from salesync.api.rest.common import TENANT, Parts, refusals, route
from salesync.domain.redaction import Redactor
from salesync.store.tables import RunRow

OUTCOMES = ("ok", "failed")
CLASSIFICATION = frozenset(
    {"kind", "code", "provider", "operation", "tenant", "location", "connection"}
)
"""The fields of a run's error that classify it: shown as they are (after the redactor's
text scan), where a key named ``code`` would otherwise be taken for an OAuth code."""
_QUERIES = [
    query_parameter(
        "step",
        "Only runs of this step, such as `intake`, `plan`, `send` or `sweep`.",
        {"type": "string", "minLength": 1, "maxLength": 32},
    ),
    query_parameter(
        "outcome", "Only runs with this outcome.", {"type": "string", "enum": OUTCOMES}
    ),
    *PAGING,
]


class RunOut(BaseModel):
    """One run of a sync step."""

    id: int
    step: str
    outcome: str = Field(description="`ok` or `failed`.")
    inputs: dict[str, Any]
    counts: dict[str, int]
    error: dict[str, Any] | None = Field(description="A failed run's classified, redacted error.")
    started_at: datetime
    finished_at: datetime
    duration_ms: int


class RunPage(BaseModel):
    runs: list[RunOut]
    next_cursor: str | None


class Runs:
    """``GET .../runs``."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts

    def register(self, app: FastAPI) -> None:
        route(
            app,
            "GET",
            TENANT + "/runs",
            self.runs,
            summary="The tenant's sync runs, newest first",
            tag="runs",
            model=RunPage,
            refused=refusals(BAD_PARAMETER),
            parameters=_QUERIES,
        )

    def runs(self, tenant_id: str, request: Request) -> RunPage:
        """The tenant's runs, newest first, ``limit`` at a time, by step or outcome."""
        self.parts.admit(tenant_id, request, Action.VIEW_TENANT)
        params = request.query_params
        query = select(RunRow).where(RunRow.tenant_id == tenant_id)
        step = params.get("step")
        if step is not None:
            query = query.where(RunRow.step == text("step", step))
        outcome = params.get("outcome")
        if outcome is not None:
            query = query.where(RunRow.outcome == choice("outcome", outcome, OUTCOMES))
        redact = self.parts.redactor
        with self.parts.factory() as session:
            rows, cursor = page(session, query, RunRow.id, request)
            return RunPage(
                runs=[
                    RunOut(
                        id=r.id,
                        step=r.step,
                        outcome=r.outcome,
                        inputs=redact.value(r.inputs),
                        counts=r.counts,
                        error=_error(redact, r.error) if r.error is not None else None,
                        started_at=r.started_at,
                        finished_at=r.finished_at,
                        duration_ms=max(
                            0, round((r.finished_at - r.started_at).total_seconds() * 1000)
                        ),
                    )
                    for r in rows
                ],
                next_cursor=cursor,
            )


def _error(redact: Redactor, error: dict[str, Any]) -> dict[str, Any]:
    """A failed run's error with secrets and personal data removed."""
    return {
        key: redact.text(value)
        if key in CLASSIFICATION and isinstance(value, str)
        else redact.value(value, key)
        for key, value in error.items()
    }
