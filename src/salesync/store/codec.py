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
    """The document as JSON-ready data."""
    data: dict[str, Any] = _ADAPTERS[document.kind].dump_python(document, mode="json")
    return data


def decode(kind: str | DocumentKind, body: dict[str, Any]) -> Document:
    """Rebuild a document stored by ``encode``."""
    document: Document = _ADAPTERS[DocumentKind(kind)].validate_python(body)
    return document


def fingerprint(body: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON form: equal bodies, equal hashes."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
