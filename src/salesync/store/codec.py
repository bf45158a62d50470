"""Documents to JSON and back, losslessly (amounts as decimal strings, never floats)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import TypeAdapter

from salesync.domain.documents import Document, DocumentKind, Payout, Refund, Sale

_ADAPTERS: dict[DocumentKind, TypeAdapter[Any]] = {
    DocumentKind.SALE: TypeAdapter(Sale),
    DocumentKind.REFUND: TypeAdapter(Refund),
    DocumentKind.PAYOUT: TypeAdapter(Payout),
}

KINDS = frozenset(_ADAPTERS)
"""The document kinds stored as documents (customers and products go to the directory)."""


def encode(document: Document) -> dict[str, Any]:
    """The document as JSON-ready data.

    ``source_updated_at`` is kept beside the body (a column of its own), never in it: the
    body and its fingerprint stay what the document says, not when the source last
    touched it. (Dropped from the dump rather than excluded: pydantic's ``exclude`` costs
    a quarter of the dump.)"""
    data: dict[str, Any] = _ADAPTERS[document.kind].dump_python(document, mode="json")
    del data["source_updated_at"]
    if document.kind is DocumentKind.PAYOUT:
        # Said only when said: a payout that neither failed nor pays out a failed one
        # keeps the body (and fingerprint) it had before payouts could say either.
        if data["failed_at"] is None:
            del data["failed_at"]
        if data["returned"] is None:
            del data["returned"]
    return data


def decode(kind: str | DocumentKind, body: dict[str, Any]) -> Document:
    """Rebuild a document stored by ``encode``."""
    document: Document = _ADAPTERS[DocumentKind(kind)].validate_python(body)
    return document


def decode_json(kind: str | DocumentKind, text: str | bytes) -> Document:
    """``decode`` of the document's JSON text, read straight into the document (without
    building the intermediate dicts and lists ``json.loads`` would). Raises pydantic's
    ``ValidationError`` for text that is not JSON or not the document."""
    document: Document = _ADAPTERS[DocumentKind(kind)].validate_json(text)
    return document


def decode_stored(kind: str | DocumentKind, body: str | dict[str, Any]) -> Document:
    """A stored body, as the database hands it back: text, or data when the driver reads
    JSON columns itself (psycopg does)."""
    return decode_json(kind, body) if isinstance(body, str) else decode(kind, body)


def fingerprint(body: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON form: equal bodies, equal hashes."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
