"""Tenants: the merchants a caller may see (their own, or every one for staff)."""

from __future__ import annotations

from datetime import datetime

from fastapi import FastAPI, Request
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from salesync.accounts.roles import Action
from salesync.api.answers import AUTH_REFUSALS, answer
from salesync.api.auth import Refused, identify
from salesync.api.paging import BAD_PARAMETER, TEXT_PAGING, text_page
from salesync.api.rest.common import TENANT, Parts, refusals, route
from salesync.store.tables import ConnectionRow, LocationRow, TenantRow


class TenantOut(BaseModel):
    """A merchant account, with how many locations and connections it has."""

    id: str
    name: str
    created_at: datetime
    locations: int
    connections: int


class TenantPage(BaseModel):
    tenants: list[TenantOut]
    next_cursor: str | None


class Tenants:
    """``GET /api/v1/tenants`` and ``GET /api/v1/tenants/{tenant_id}``."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts

    def register(self, app: FastAPI) -> None:
        route(
            app,
            "GET",
            "/api/v1/tenants",
            self.tenants,
            summary="The tenants the caller may see, in the order of their ids",
            tag="tenants",
            model=TenantPage,
            refused={**BAD_PARAMETER, 401: AUTH_REFUSALS[401]},
            parameters=TEXT_PAGING,
        )
        route(
            app,
            "GET",
            TENANT,
            self.tenant,
            summary="One tenant",
            tag="tenants",
            model=TenantOut,
            refused=refusals(),
        )

    def tenants(self, request: Request) -> TenantPage:
        """A merchant's user or API token sees its own tenant; staff see every tenant."""
        caller = identify(self.parts.factory, self.parts.clock, request)
        query = select(TenantRow)
        if not caller.principal.can(Action.VIEW_TENANT, None):
            query = query.where(TenantRow.id == caller.principal.tenant_id)
        with self.parts.factory() as session:
            rows, cursor = text_page(session, query, TenantRow.id, request)
            return TenantPage(tenants=[_tenant(session, r) for r in rows], next_cursor=cursor)

    def tenant(self, tenant_id: str, request: Request) -> TenantOut:
        """The tenant, if the caller may view it."""
        self.parts.admit(tenant_id, request, Action.VIEW_TENANT)
        with self.parts.factory() as session:
            row = session.get(TenantRow, tenant_id)
            if row is None:  # removed since the caller was let through
                raise Refused(answer(404, "unknown_tenant", f"There is no tenant {tenant_id!r}."))
            return _tenant(session, row)


def _tenant(session: Session, row: TenantRow) -> TenantOut:
    locations = session.scalar(
        select(func.count()).select_from(LocationRow).where(LocationRow.tenant_id == row.id)
    )
    connections = session.scalar(
        select(func.count()).select_from(ConnectionRow).where(ConnectionRow.tenant_id == row.id)
    )
    return TenantOut(
        id=row.id,
        name=row.name,
        created_at=row.created_at,
        locations=locations or 0,
        connections=connections or 0,
    )
