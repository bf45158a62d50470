"""The built-in CRM: its sales log and sales report (each saying how far the CRM has
caught up, since sales reach it in their sync windows), its clients, and its "N days
after the sale" triggers with every decision they made."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from salesync.accounts.roles import Action
from salesync.api.auth import Refused
from salesync.api.paging import (
    BAD_BODY,
    BAD_PARAMETER,
    DEFAULT_LIMIT,
    MAX_LIMIT,
    day,
    invalid_body,
    json_body,
    limit_of,
    query_parameter,
)
from salesync.api.rest.common import (
    LOCATION_FILTER,
    TENANT,
    MoneyOut,
    Parts,
    location_filter,
    money,
    refusals,
    route,
)
from salesync.api.rest.sales import (
    FreshnessOut,
    SalesReportOut,
    freshness_out,
    report_days,
    report_out,
)
from salesync.crm.clients import Client, Clients
from salesync.crm.log import crm_sales_log, crm_sales_report
from salesync.crm.triggers import Trigger, TriggerAction, Triggers
from salesync.domain.errors import ValidationError

_DAY = {"type": "string", "format": "date"}
_LOG_QUERIES = [
    LOCATION_FILTER,
    query_parameter("from", "Only business days from this one (YYYY-MM-DD).", _DAY),
    query_parameter("to", "Only business days up to this one (YYYY-MM-DD).", _DAY),
    query_parameter(
        "limit",
        "How many of the newest to show.",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    ),
]
_REPORT_QUERIES = [
    query_parameter("from", "The first business day (YYYY-MM-DD).", _DAY, required=True),
    query_parameter("to", "The last business day (YYYY-MM-DD).", _DAY, required=True),
    LOCATION_FILTER,
]


class CrmSaleOut(BaseModel):
    """One sale in the CRM: when it happened and when it reached the CRM."""

    document_id: str
    number: str | None
    location_id: str
    location_name: str
    occurred_at: datetime
    local_time: datetime = Field(description="When it happened, in the location's time zone.")
    business_day: date
    synced_at: datetime = Field(description="When it reached the CRM.")
    lag_minutes: int = Field(description="Minutes between the sale and its sync.")
    total: MoneyOut
    client_id: int | None
    client: str | None
    associate: str | None
    historical: bool = Field(description="Brought in by the initial import; fires no triggers.")


class CrmSalesLogOut(BaseModel):
    sales: list[CrmSaleOut]
    freshness: FreshnessOut


class ContactOut(BaseModel):
    kind: str
    value: str


class ClientOut(BaseModel):
    id: int
    name: str
    email: str | None = Field(description="The preferred email: where messages go.")
    phone: str | None
    contacts: list[ContactOut]
    origins: dict[str, str] = Field(
        description="Per field, `crm` (edited in the CRM; sources never overwrite it) or "
        "`pos` (from a source)."
    )
    customers: list[str] = Field(description="The source customers this client is.")
    opted_out: bool


class ClientList(BaseModel):
    clients: list[ClientOut]


class TriggerIn(BaseModel):
    """An automation "``days`` after the sale": ``thank_you``, ``follow_up`` or
    ``review_request``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=120)
    action: str = Field(json_schema_extra={"enum": [a.value for a in TriggerAction]})
    days: int


class TriggerOut(BaseModel):
    id: int
    name: str
    action: str
    days: int
    active: bool
    created_at: datetime = Field(description="It applies to sales synced from then on.")


class TriggerList(BaseModel):
    triggers: list[TriggerOut]


class FiringOut(BaseModel):
    trigger_id: int
    document_id: str
    state: str = Field(description="`fired`, or `skipped` when due beyond the horizon.")
    due_at: datetime
    at: datetime
    reason: str


class FiringList(BaseModel):
    firings: list[FiringOut]


class Crm:
    """``GET .../crm/sales``, ``.../crm/reports/sales``, ``.../crm/clients``,
    ``.../crm/triggers`` (and ``POST``), ``.../crm/firings``."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts

    def register(self, app: FastAPI) -> None:
        for path, endpoint, summary, model, queries in (
            ("/crm/sales", self.log, "The CRM's sales log and how current it is",
             CrmSalesLogOut, _LOG_QUERIES),
            ("/crm/reports/sales", self.report,
             "The CRM's sales per day, location, associate and category",
             SalesReportOut, _REPORT_QUERIES),
            ("/crm/clients", self.clients, "The CRM's clients and their contact methods",
             ClientList, None),
            ("/crm/triggers", self.triggers, "The CRM's N-days-after-the-sale triggers",
             TriggerList, None),
            ("/crm/firings", self.firings, "Every trigger decision: fired or skipped",
             FiringList, None),
        ):  # fmt: skip
            route(
                app,
                "GET",
                TENANT + path,
                endpoint,
                summary=summary,
                tag="crm",
                model=model,
                refused=refusals(BAD_PARAMETER) if queries else refusals(),
                parameters=queries,
            )
        route(
            app,
            "POST",
            TENANT + "/crm/triggers",
            self.add_trigger,
            summary="Add a trigger; it applies to sales synced from now on",
            tag="crm",
            model=TriggerOut,
            refused=refusals(BAD_BODY),
            status_code=201,
            body=TriggerIn,
        )

    def log(self, tenant_id: str, request: Request) -> CrmSalesLogOut:
        """The newest sales in the CRM."""
        self.parts.admit(tenant_id, request, Action.VIEW_TENANT)
        params = request.query_params
        since = day("from", params["from"]) if "from" in params else None
        until = day("to", params["to"]) if "to" in params else None
        limit = limit_of(request)
        with self.parts.factory() as session:
            location = location_filter(session, tenant_id, request)
            found = crm_sales_log(
                session, tenant_id, location=location, since=since, until=until, limit=limit
            )
        return CrmSalesLogOut(
            sales=[
                CrmSaleOut(
                    document_id=e.document_id,
                    number=e.number,
                    location_id=e.location_id,
                    location_name=e.location_name,
                    occurred_at=e.occurred_at,
                    local_time=e.local_time,
                    business_day=e.business_day,
                    synced_at=e.synced_at,
                    lag_minutes=int(e.lag.total_seconds() // 60),
                    total=money(e.total),
                    client_id=e.client_id,
                    client=e.client,
                    associate=e.associate,
                    historical=e.historical,
                )
                for e in found.entries
            ],
            freshness=freshness_out(found.freshness),
        )

    def report(self, tenant_id: str, request: Request) -> SalesReportOut:
        """The figures of the sales in the CRM from ``from`` to ``to``."""
        self.parts.admit(tenant_id, request, Action.VIEW_TENANT)
        first, last = report_days(request)
        with self.parts.factory() as session:
            location = location_filter(session, tenant_id, request)
            found = crm_sales_report(session, tenant_id, first, last, location=location)
        return report_out(found)

    def clients(self, tenant_id: str, request: Request) -> ClientList:
        self.parts.admit(tenant_id, request, Action.VIEW_TENANT)
        with self.parts.factory() as session:
            found = Clients(session, tenant_id, self.parts.clock).all()
        return ClientList(clients=[client_out(c) for c in found])

    def triggers(self, tenant_id: str, request: Request) -> TriggerList:
        self.parts.admit(tenant_id, request, Action.VIEW_TENANT)
        with self.parts.factory() as session:
            found = Triggers(session, tenant_id, self.parts.clock).all()
        return TriggerList(triggers=[_trigger(t) for t in found])

    def firings(self, tenant_id: str, request: Request) -> FiringList:
        self.parts.admit(tenant_id, request, Action.VIEW_TENANT)
        with self.parts.factory() as session:
            rows = Triggers(session, tenant_id, self.parts.clock).firings()
        return FiringList(
            firings=[
                FiringOut(
                    trigger_id=r.trigger_id,
                    document_id=r.document_id,
                    state=r.state,
                    due_at=r.due_at,
                    at=r.at,
                    reason=r.reason,
                )
                for r in rows
            ]
        )

    async def add_trigger(self, tenant_id: str, request: Request) -> TriggerOut:
        await self.parts.admit_async(tenant_id, request, Action.EDIT_MAPPINGS)
        wanted = await json_body(request, TriggerIn)
        return await run_in_threadpool(self._add, tenant_id, wanted)

    def _add(self, tenant_id: str, wanted: TriggerIn) -> TriggerOut:
        try:
            with self.parts.factory() as session, session.begin():
                triggers = Triggers(session, tenant_id, self.parts.clock)
                return _trigger(triggers.add(wanted.name, wanted.action, wanted.days))
        except ValidationError as exc:
            raise Refused(invalid_body(list(exc.problems))) from None


def client_out(client: Client) -> ClientOut:
    return ClientOut(
        id=client.id,
        name=client.name,
        email=client.email,
        phone=client.phone,
        contacts=[ContactOut(kind=m.kind.value, value=m.value) for m in client.contacts],
        origins=client.origins,
        customers=list(client.customers),
        opted_out=client.opted_out,
    )


def _trigger(trigger: Trigger) -> TriggerOut:
    return TriggerOut(
        id=trigger.id,
        name=trigger.name,
        action=trigger.action.value,
        days=trigger.days,
        active=trigger.active,
        created_at=trigger.created_at,
    )
