"""QuickBooks Desktop as a destination, through the QuickBooks Web Connector.

- ``qbxml`` / ``responses``: requests in the specification's element order, replies read;
- ``errors``: statusCodes and HRESULTs as salesync error kinds, in plain words;
- ``companies``: the company files the Web Connector signs in to, and their passwords;
- ``queue`` / ``settle``: each company file's qbXML work in the database, FIFO, settled
  by QuickBooks' answers and looked up by reference after a dropped session;
- ``service`` / ``soap`` / ``wsdl``: the Web Connector's SOAP methods, served;
- ``books``: ``post`` queues and answers from the company file, ``find`` by key.
"""

from __future__ import annotations

import httpx
from sqlalchemy.orm import Session, sessionmaker

from salesync.connectors.destination import DestinationCapabilities, DestinationConnection
from salesync.connectors.qbd.books import CAPABILITIES, NAME, Pump, QbdBooks, no_pump
from salesync.connectors.qbd.settings import read_settings
from salesync.domain.errors import BugError

__all__ = ["QbdBooks", "QbdDestination"]


class QbdDestination:
    """The ``qbd`` destination type. Its books live in salesync's database (the queue the
    Web Connector drains), so it is given the session factory when registered; ``pump``
    lets tests and the demo run a Web Connector session when the books wait for one."""

    def __init__(self, factory: sessionmaker[Session] | None = None, pump: Pump = no_pump) -> None:
        self.factory = factory
        self.pump = pump

    def with_database(self, factory: sessionmaker[Session]) -> QbdDestination:
        """The same destination on ``factory``'s database."""
        return QbdDestination(factory, self.pump)

    @property
    def name(self) -> str:
        return NAME

    @property
    def capabilities(self) -> DestinationCapabilities:
        return CAPABILITIES

    def connect(
        self, connection: DestinationConnection, transport: httpx.BaseTransport | None = None
    ) -> QbdBooks:
        if self.factory is None:
            raise BugError("the qbd destination was registered without a database")
        return QbdBooks(self.factory, connection, read_settings(connection.settings), self.pump)
