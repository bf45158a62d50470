"""The REST API under ``/api/v1``: tenants, their locations, connections, sync policies,
mappings, runs, ticket actions, documents, the sales log and report, reconciliation,
plans and billing, support requests and the knowledge base, each resource group in its
own module.

Every tenant route lets a caller through with ``api.auth`` (a tenant API token, a user API
key, or the dashboard session cookie with the page's CSRF token for changes) and checks
the action the route needs against ``accounts.roles``. Lists answer ``limit`` items at a
time with the ``next_cursor`` of the next page; every refusal has the API's error shape
(``api.answers.ApiError``). Dates and times are ISO 8601 strings, money a decimal string
with its currency.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from salesync.api.auth import Refused, refused
from salesync.api.rest.billing import Billing
from salesync.api.rest.common import Parts
from salesync.api.rest.connections import Connections
from salesync.api.rest.crm import Crm
from salesync.api.rest.crm_changes import CrmChanges
from salesync.api.rest.documents import Documents
from salesync.api.rest.locations import Locations
from salesync.api.rest.mappings import Mappings
from salesync.api.rest.policies import Policies
from salesync.api.rest.reconciliation import Reconciliation
from salesync.api.rest.requests import Requests
from salesync.api.rest.runs import Runs
from salesync.api.rest.sales import Sales
from salesync.api.rest.tenants import Tenants
from salesync.api.rest.tickets import Tickets
from salesync.api.rest.webconnector import WebConnector
from salesync.connectors.registry import SourceRegistry
from salesync.domain.redaction import Redactor
from salesync.engine.runner import Engine
from salesync.monitor.desk import TicketDesk
from salesync.support.service import SupportService

__all__ = ["Rest"]


class Rest:
    """Every resource group of the REST API, registered on an app together."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        clock: Callable[[], datetime],
        engine: Engine,
        registry: SourceRegistry,
        *,
        redactor: Redactor | None = None,
        desks: Callable[[str], TicketDesk],
        support: SupportService,
    ) -> None:
        """``engine`` names each tenant's books (tickets verify against them);
        ``registry`` holds the sources a sync policy may name; ``redactor`` is the last
        guard on what runs show; ``desks`` gives the ticket desk of a tenant."""
        self.parts = Parts(factory, clock, engine, registry, redactor or Redactor.of())
        self.desks = desks
        self.support = support

    def register(self, app: FastAPI) -> None:
        app.add_exception_handler(Refused, refused)
        for group in (
            Tenants(self.parts),
            Locations(self.parts),
            Connections(self.parts),
            WebConnector(self.parts),
            Policies(self.parts),
            Mappings(self.parts),
            Runs(self.parts),
            Tickets(self.parts, self.desks),
            Documents(self.parts),
            Sales(self.parts),
            Crm(self.parts),
            CrmChanges(self.parts),
            Reconciliation(self.parts),
            Billing(self.parts, self.support),
            Requests(self.parts, self.support),
        ):
            group.register(app)
