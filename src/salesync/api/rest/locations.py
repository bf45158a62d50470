"""Locations: a tenant's stores and till groups, and how each one posts to the books."""

from __future__ import annotations

from datetime import datetime

from fastapi import FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from salesync.accounts.roles import Action
from salesync.api.answers import answer
from salesync.api.auth import Refused
from salesync.api.paging import BAD_BODY, BAD_PARAMETER, TEXT_PAGING, json_body, known, text_page
from salesync.api.rest.common import TENANT, Parts, refusals, route
from salesync.connectors.offer import feeders, mode_refusal
from salesync.domain.planning import PostingMode
from salesync.engine.planner import Planner
from salesync.store.repositories import Locations as LocationStore
from salesync.store.tables import LocationRow, LocationSettingsRow

_UNKNOWN = {
    404: "There is no such tenant (`unknown_tenant`), or it has no such location "
    "(`unknown_location`)."
}
_NOT_OFFERED = {
    409: "A source connection feeding the location cannot give what the mode needs: "
    "per-payout posting needs a source that reports payouts (`mode_not_offered`)."
}


class LocationOut(BaseModel):
    """A location: its time zone and currency, and the mode its sales post in."""

    id: str
    name: str
    timezone: str
    currency: str
    posting_mode: PostingMode = Field(
        description="`per_order`, `daily_summary` (location x currency x business day) or "
        "`per_payout` (equals the bank deposit); a location never set posts per order."
    )
    created_at: datetime


class LocationPage(BaseModel):
    locations: list[LocationOut]
    next_cursor: str | None


class PostingModeChange(BaseModel):
    """The posting mode a location should post in from now on; documents already posted
    stay as they are, so changing it never posts a document twice."""

    model_config = ConfigDict(extra="forbid")

    posting_mode: PostingMode


class Locations:
    """``GET .../locations``, ``GET .../locations/{id}`` and
    ``PUT .../locations/{id}/posting-mode``."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts

    def register(self, app: FastAPI) -> None:
        route(
            app,
            "GET",
            TENANT + "/locations",
            self.locations,
            summary="The tenant's locations, in the order of their ids",
            tag="locations",
            model=LocationPage,
            refused=refusals(BAD_PARAMETER),
            parameters=TEXT_PAGING,
        )
        route(
            app,
            "GET",
            TENANT + "/locations/{location_id}",
            self.location,
            summary="One location",
            tag="locations",
            model=LocationOut,
            refused=refusals(_UNKNOWN),
        )
        route(
            app,
            "PUT",
            TENANT + "/locations/{location_id}/posting-mode",
            self.set_mode,
            summary="Change how a location posts (bookkeepers, owners, support)",
            tag="locations",
            model=LocationOut,
            refused=refusals(BAD_BODY, _UNKNOWN, _NOT_OFFERED),
            body=PostingModeChange,
        )

    def locations(self, tenant_id: str, request: Request) -> LocationPage:
        """The tenant's locations, ``limit`` at a time."""
        self.parts.admit(tenant_id, request, Action.VIEW_TENANT)
        query = select(LocationRow).where(LocationRow.tenant_id == tenant_id)
        with self.parts.factory() as session:
            rows, cursor = text_page(session, query, LocationRow.id, request)
            modes = _modes(session, tenant_id)
            return LocationPage(
                locations=[_location(r, modes.get(r.id)) for r in rows], next_cursor=cursor
            )

    def location(self, tenant_id: str, location_id: str, request: Request) -> LocationOut:
        """One of the tenant's locations."""
        self.parts.admit(tenant_id, request, Action.VIEW_TENANT)
        with self.parts.factory() as session:
            return _one(session, tenant_id, location_id)

    async def set_mode(self, tenant_id: str, location_id: str, request: Request) -> LocationOut:
        """Post the location's documents not yet posted in ``posting_mode``."""
        await self.parts.admit_async(tenant_id, request, Action.EDIT_MAPPINGS)
        change = await json_body(request, PostingModeChange)
        return await run_in_threadpool(self._set_mode, tenant_id, location_id, change)

    def _set_mode(self, tenant_id: str, location_id: str, change: PostingModeChange) -> LocationOut:
        with self.parts.factory() as session, session.begin():
            _one(session, tenant_id, location_id)
            feeding = feeders(session, tenant_id, location_id)
            refusal = mode_refusal(feeding, change.posting_mode, self.parts.registry)
            if refusal is not None:
                raise Refused(answer(409, "mode_not_offered", refusal))
            planner = Planner(
                session, tenant_id, LocationStore(session, tenant_id).all(), self.parts.clock
            )
            planner.set_mode(location_id, change.posting_mode)
            return _one(session, tenant_id, location_id)


def _modes(session: Session, tenant_id: str) -> dict[str, str]:
    query = select(LocationSettingsRow).where(LocationSettingsRow.tenant_id == tenant_id)
    return {row.location_id: row.posting_mode for row in session.scalars(query)}


def _one(session: Session, tenant_id: str, location_id: str) -> LocationOut:
    row = session.get(LocationRow, (tenant_id, location_id)) if known(location_id) else None
    if row is None:
        raise Refused(
            answer(404, "unknown_location", f"{tenant_id} has no location {location_id!r}.")
        )
    return _location(row, _modes(session, tenant_id).get(location_id))


def _location(row: LocationRow, mode: str | None) -> LocationOut:
    return LocationOut(
        id=row.id,
        name=row.name,
        timezone=row.timezone,
        currency=row.currency,
        posting_mode=PostingMode(mode) if mode else PostingMode.PER_ORDER,
        created_at=row.created_at,
    )
