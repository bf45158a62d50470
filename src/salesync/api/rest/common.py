"""What every resource group of the REST API shares: the app's parts, the tenant prefix,
and one way to declare a route in the OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from salesync.accounts.roles import Action
from salesync.api.answers import AUTH_REFUSALS, answer, declared
from salesync.api.auth import Caller, Refused, admit
from salesync.api.paging import query_parameter
from salesync.connectors.registry import SourceRegistry
from salesync.domain.money import Money
from salesync.domain.redaction import Redactor
from salesync.engine.runner import Engine
from salesync.store.tables import LocationRow

TENANT = "/api/v1/tenants/{tenant_id}"
"""Where every route about one tenant lives."""


@dataclass(frozen=True, slots=True)
class Parts:
    """What the routes work with: the database, the clock, the engine (whose books name
    each tenant's destination), the installed sources and the last guard on what is shown
    from incidents and runs."""

    factory: sessionmaker[Session]
    clock: Callable[[], datetime]
    engine: Engine
    registry: SourceRegistry
    redactor: Redactor

    def admit(self, tenant_id: str, request: Request, action: Action) -> Caller:
        """The caller allowed ``action`` in ``tenant_id``; raises the refusal otherwise."""
        return admit(self.factory, self.clock, tenant_id, request, action=action)

    async def admit_async(self, tenant_id: str, request: Request, action: Action) -> Caller:
        """``admit`` off the event loop, for the routes that read a body."""
        return await run_in_threadpool(self.admit, tenant_id, request, action)


class MoneyOut(BaseModel):
    """An amount of money: a decimal string (never a float) and its currency."""

    amount: str = Field(description="A decimal string, such as `12.50`.", examples=["12.50"])
    currency: str = Field(examples=["EUR"])


def money(value: Money) -> MoneyOut:
    return MoneyOut(amount=format(value.amount, "f"), currency=value.currency)


LOCATION_FILTER = query_parameter(
    "location", "Only this location (its id).", {"type": "string", "minLength": 1, "maxLength": 64}
)


def location_filter(session: Session, tenant_id: str, request: Request) -> str | None:
    """The ``location`` query parameter, if given: one of the tenant's locations, or a 400
    naming them."""
    wanted = request.query_params.get("location")
    if wanted is None:
        return None
    known = list(
        session.scalars(
            select(LocationRow.id)
            .where(LocationRow.tenant_id == tenant_id)
            .order_by(LocationRow.id)
        )
    )
    if wanted not in known:
        raise Refused(
            answer(
                400,
                "bad_parameter",
                f"location must be one of the tenant's locations: {', '.join(known) or 'none'}.",
            )
        )
    return wanted


def refusals(*extra: Mapping[int, str]) -> dict[int, str]:
    """The refusals of a tenant route: the caller's, then the route's own (a route's 404
    says what else it does not find)."""
    found = dict(AUTH_REFUSALS)
    for more in extra:
        found.update(more)
    return found


def route(
    app: FastAPI,
    method: str,
    path: str,
    endpoint: Callable[..., Any],
    *,
    summary: str,
    tag: str,
    model: type[BaseModel] | None,
    refused: Mapping[int, str],
    status_code: int = 200,
    parameters: list[dict[str, Any]] | None = None,
    body: type[BaseModel] | dict[str, Any] | None = None,
    answers: Mapping[int | str, dict[str, Any]] | None = None,
) -> None:
    """Declare ``endpoint`` with its answer's model, its refusals in the error shape, its
    query parameters and its JSON body (a model, or a schema)."""
    extra: dict[str, Any] = {}
    if parameters:
        extra["parameters"] = parameters
    if body is not None:
        schema = body if isinstance(body, dict) else body.model_json_schema()
        extra["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    responses: dict[int | str, dict[str, Any]] = dict(answers or {})
    responses.update(declared(refused))
    app.add_api_route(
        path,
        endpoint,
        methods=[method],
        summary=summary,
        tags=[tag],
        response_model=model,
        status_code=status_code,
        responses=responses,
        openapi_extra=extra or None,
    )
