"""Mappings: the tenant's published versions of the rules that place each source value
(SKU, category, tax, tender, location) on an account, item, tax code or class.

A version is published whole (``POST .../mappings``, as ``GET .../mappings/{version}``
shows one, with the next version number) or as the latest version plus one rule, the
one-click fix a held document offers (``POST .../mappings/rules``). Publishing releases the
documents held for a mapping; two people publishing the same version number at once
collide, and the second is refused (409) to reload and make the change again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from salesync.accounts.roles import Action
from salesync.api.answers import answer
from salesync.api.auth import Refused
from salesync.api.paging import (
    BAD_BODY,
    BAD_PARAMETER,
    MAX_ID,
    PAGING,
    json_body,
    json_data,
    page,
)
from salesync.api.rest.common import TENANT, Parts, refusals, route
from salesync.domain.errors import ConflictError
from salesync.domain.validation import Problem
from salesync.engine.mappings import Mappings as MappingStore
from salesync.rules import MappingDataError, Target
from salesync.store.tables import MappingVersionRow, QueuedDocumentRow

_CONFLICT = {
    409: "Another version was published meanwhile, or the body's version is not the next "
    "one (`mapping_conflict`): reload the mappings and make the change again."
}


class VersionOut(BaseModel):
    """A published version: who published it and when."""

    version: int
    published_at: datetime
    published_by: str
    rules: int = Field(description="How many rules it has.")


class MappingsOut(BaseModel):
    """The version in force, every version published (newest first, a page at a time),
    and how many documents wait for a mapping."""

    latest: dict[str, Any] | None = Field(
        description="The mapping in force as published; null when the built-in chart places "
        "amounts."
    )
    next_version: int
    held: int = Field(description="Documents held until a mapping places them.")
    versions: list[VersionOut]
    next_cursor: str | None


class MappingVersionOut(BaseModel):
    version: int
    published_at: datetime
    published_by: str
    mapping: dict[str, Any]


class Published(BaseModel):
    """The version published, and how many held documents it released to be planned."""

    version: int
    released: int


class RuleAdded(BaseModel):
    """One rule for the latest version: ``target`` values meeting ``condition`` go to
    ``account`` (the class, for a location rule)."""

    model_config = ConfigDict(extra="forbid")

    target: Target
    condition: str = Field(min_length=1, max_length=2000, examples=["sku == 'SKU-1'"])
    account: str = Field(min_length=1, max_length=500, examples=["Income:Sales:Hats"])


_MAPPING_BODY: dict[str, Any] = {
    "type": "object",
    "description": "A whole mapping as `GET .../mappings/{version}` shows it, with `version` "
    "set to the next version.",
}
_PUBLISH_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"model": Published, "description": "The same mapping was published before."}
}


class Mappings:
    """``GET .../mappings``, ``GET .../mappings/{version}``, ``POST .../mappings`` and
    ``POST .../mappings/rules``."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts

    def register(self, app: FastAPI) -> None:
        route(
            app,
            "GET",
            TENANT + "/mappings",
            self.mappings,
            summary="The mapping in force and every version published",
            tag="mappings",
            model=MappingsOut,
            refused=refusals(BAD_PARAMETER),
            parameters=PAGING,
        )
        route(
            app,
            "GET",
            TENANT + "/mappings/{version}",
            self.version,
            summary="One published version of the mapping",
            tag="mappings",
            model=MappingVersionOut,
            refused=refusals(
                {
                    404: "There is no such tenant (`unknown_tenant`), or it never published "
                    "that version (`unknown_version`)."
                }
            ),
        )
        route(
            app,
            "POST",
            TENANT + "/mappings",
            self.publish,
            summary="Publish a whole mapping as the next version",
            tag="mappings",
            model=Published,
            status_code=201,
            refused=refusals(BAD_BODY, _CONFLICT),
            body=_MAPPING_BODY,
            answers=_PUBLISH_ANSWERS,
        )
        route(
            app,
            "POST",
            TENANT + "/mappings/rules",
            self.add_rule,
            summary="Publish the latest mapping plus one rule (a held document's fix)",
            tag="mappings",
            model=Published,
            status_code=201,
            refused=refusals(BAD_BODY, _CONFLICT),
            body=RuleAdded,
        )

    def mappings(self, tenant_id: str, request: Request) -> MappingsOut:
        """The latest version's rules, and the versions newest first, ``limit`` at a time."""
        self.parts.admit(tenant_id, request, Action.VIEW_TENANT)
        query = select(MappingVersionRow).where(MappingVersionRow.tenant_id == tenant_id)
        with self.parts.factory() as session:
            rows, cursor = page(session, query, MappingVersionRow.version, request)
            latest = session.scalar(query.order_by(MappingVersionRow.version.desc()).limit(1))
            held = session.scalar(
                select(func.count())
                .select_from(QueuedDocumentRow)
                .where(QueuedDocumentRow.tenant_id == tenant_id, QueuedDocumentRow.held)
            )
            return MappingsOut(
                latest=latest.body if latest is not None else None,
                next_version=latest.version + 1 if latest is not None else 1,
                held=held or 0,
                versions=[_version(r) for r in rows],
                next_cursor=cursor,
            )

    def version(self, tenant_id: str, version: str, request: Request) -> MappingVersionOut:
        """One version as it was published."""
        self.parts.admit(tenant_id, request, Action.VIEW_TENANT)
        unknown = Refused(
            answer(404, "unknown_version", f"{tenant_id} never published mapping {version!r}.")
        )
        try:
            wanted = int(version)
        except ValueError:
            raise unknown from None
        if not 1 <= wanted <= MAX_ID:
            raise unknown
        with self.parts.factory() as session:
            row = session.get(MappingVersionRow, (tenant_id, wanted))
            if row is None:
                raise unknown
            return MappingVersionOut(
                version=row.version,
                published_at=row.published_at,
                published_by=row.published_by,
                mapping=row.body,
            )

    async def publish(self, tenant_id: str, request: Request) -> Any:
        """Publish the body as the next version; every problem of bad data is named."""
        caller = await self.parts.admit_async(tenant_id, request, Action.EDIT_MAPPINGS)
        data = await json_data(request)
        if not isinstance(data, dict):
            raise Refused(
                answer(
                    422,
                    "invalid_body",
                    "The body must be a mapping: a JSON object as GET .../mappings/{version} "
                    "shows one.",
                    problems=[Problem("not_an_object", "send a JSON object", "")],
                )
            )

        def publish(mappings: MappingStore, now: datetime) -> int:
            return mappings.publish_data(data, now, by=caller.actor)

        published, fresh = await run_in_threadpool(self._publish, tenant_id, publish)
        if not fresh:
            return JSONResponse(published.model_dump(), status_code=200)
        return published

    async def add_rule(self, tenant_id: str, request: Request) -> Published:
        """Publish the latest version plus the rule in the body."""
        caller = await self.parts.admit_async(tenant_id, request, Action.EDIT_MAPPINGS)
        rule = await json_body(request, RuleAdded)

        def add(mappings: MappingStore, now: datetime) -> int:
            return mappings.add_rule(
                rule.target, rule.condition, rule.account, now, by=caller.actor
            )

        published, _ = await run_in_threadpool(self._publish, tenant_id, add)
        return published

    def _publish(
        self, tenant_id: str, publish: Callable[[MappingStore, datetime], int]
    ) -> tuple[Published, bool]:
        """Run ``publish`` on the tenant's mappings in one transaction; the answer, and
        whether a new version came of it."""
        try:
            with self.parts.factory() as session, session.begin():
                mappings = MappingStore(session, tenant_id)
                before = mappings.history().next_version
                version = publish(mappings, self.parts.clock())
                released = mappings.released if version >= before else 0
        except MappingDataError as exc:
            problems = [_problem(p) for p in exc.problems]
            raise Refused(
                answer(
                    422,
                    "invalid_mapping",
                    "The mapping was not published: " + "; ".join(exc.problems),
                    problems=problems,
                )
            ) from None
        except ConflictError as exc:
            raise Refused(answer(409, "mapping_conflict", exc.user_message)) from None
        except ValueError as exc:  # a version number past the next one
            raise Refused(
                answer(409, "mapping_conflict", f"{exc}; reload the mappings and try again.")
            ) from None
        return Published(version=version, released=released), version >= before


def _problem(text: str) -> Problem:
    """A problem of ``MappingDataError`` (``rules[0]: ...``) with the field it names."""
    where, sep, what = text.partition(": ")
    if sep and " " not in where:
        return Problem("invalid_mapping", what, where)
    return Problem("invalid_mapping", text, "")


def _version(row: MappingVersionRow) -> VersionOut:
    rules = row.body.get("rules") if isinstance(row.body, dict) else None
    return VersionOut(
        version=row.version,
        published_at=row.published_at,
        published_by=row.published_by,
        rules=len(rules) if isinstance(rules, list) else 0,
    )
