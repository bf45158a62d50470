"""POS export files: sales from any till that can write a CSV or JSON export.

Most POS systems have no public API, but all of them export. A connection declares the
export's column mapping (``mapping.py``); an import reads the file (``reader.py``), groups
its rows into receipts and stores each receipt's raw rows in the inbox (``receipts.py``);
intake reads them through the mapping into sales and returns (``translate.py``). Nothing is
fetched: records come only from files imported (``salesync pos import``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import httpx

from salesync.connectors.posfile.mapping import (
    SETTINGS_KEY,
    MappingFileError,
    PosMapping,
    load_mapping,
    mapping_of,
    mapping_settings,
)
from salesync.connectors.posfile.reader import ExportFile, Row, open_export, read_export
from salesync.connectors.posfile.receipts import (
    RECORD_TYPE,
    Receipt,
    group_receipts,
    read_record,
    receipt_record,
)
from salesync.connectors.posfile.translate import line_rows, locate, translate_receipt
from salesync.connectors.source import (
    ForgedWebhookError,
    Page,
    SourceCapabilities,
    SourceConnection,
    SourceContext,
    SourceRecord,
    Translated,
    Webhook,
    WebhookRequest,
)
from salesync.domain.documents import DocumentKind
from salesync.domain.errors import SyncError

NAME = "pos_file"

__all__ = [
    "NAME",
    "RECORD_TYPE",
    "SETTINGS_KEY",
    "ExportFile",
    "MappingFileError",
    "PosFileClient",
    "PosFileSource",
    "PosMapping",
    "Receipt",
    "Row",
    "group_receipts",
    "line_rows",
    "load_mapping",
    "locate",
    "mapping_of",
    "mapping_settings",
    "open_export",
    "read_export",
    "read_record",
    "receipt_record",
]


def _files_only(connection_id: str | None) -> SyncError:
    return SyncError(
        "a POS file connection has nothing to fetch",
        user_message="Sales from a POS export come in by importing the file: "
        "`salesync pos import FILE --connection NAME`.",
        code="files_are_imported",
        connection=connection_id,
        provider=NAME,
    )


class PosFileClient:
    """A POS file connection opened: there is no account to read, only files to import."""

    def __init__(self, connection_id: str | None) -> None:
        self._connection_id = connection_id

    @property
    def name(self) -> str:
        return NAME

    @property
    def connection_id(self) -> str | None:
        return self._connection_id

    def fetch(self, stream: str, cursor: str | None) -> Page:
        raise _files_only(self._connection_id)

    def history(self, start: datetime, end: datetime) -> Iterable[SourceRecord]:
        raise _files_only(self._connection_id)

    def close(self) -> None:
        """Nothing is held open."""


class PosFileSource:
    """Receipts from POS export files, read through each connection's column mapping."""

    @property
    def name(self) -> str:
        return NAME

    @property
    def capabilities(self) -> SourceCapabilities:
        return SourceCapabilities(
            kinds=frozenset({DocumentKind.SALE, DocumentKind.REFUND}),
            files=True,
            title="POS export files",
        )

    def verify(self, request: WebhookRequest, connection: SourceConnection) -> Webhook:
        raise ForgedWebhookError(
            f"POS file connection {connection.name} takes no webhooks; its sales are imported "
            "from export files",
            code="webhooks_not_supported",
        )

    def translate(self, record_type: str, payload: str, context: SourceContext) -> Translated:
        stored = read_record(record_type, payload)
        return translate_receipt(stored, mapping_of(context.settings), context)

    def connect(
        self, connection: SourceConnection, transport: httpx.BaseTransport | None = None
    ) -> PosFileClient:
        return PosFileClient(connection.connection_id)
