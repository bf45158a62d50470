"""Normalization hooks: one per source, turning a raw record into a domain document.

A source registers a function ``(record_type, payload) -> Document``. A payload that does
not parse raises ``ValidationError`` with every problem found, so the record is
quarantined with reasons a person can act on.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pydantic

from salesync.domain.documents import Document, document_id
from salesync.domain.errors import ValidationError
from salesync.domain.validation import Problem
from salesync.engine.policies import MANUAL_SOURCE as MANUAL
from salesync.store import codec

Normalizer = Callable[[str, str], Document]

_NORMALIZERS: dict[str, Normalizer] = {}


def register(source: str, normalizer: Normalizer) -> None:
    _NORMALIZERS[source] = normalizer


def normalizer_for(source: str) -> Normalizer:
    try:
        return _NORMALIZERS[source]
    except KeyError:
        known = ", ".join(sorted(_NORMALIZERS))
        raise ValidationError(
            f"no normalizer for source {source!r} (known: {known})",
            user_message=f"salesync does not know how to read records from {source!r}.",
            code="unknown_source",
            problems=(Problem("unknown_source", f"no normalizer for {source!r}", "source"),),
        ) from None


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "payload"


def salesync_json(record_type: str, payload: str) -> Document:
    """Records in salesync's own document JSON (the simulator, manual entry, replays)."""
    kind = next((k for k in codec.KINDS if k.value == record_type), None)
    if kind is None:
        kinds = ", ".join(sorted(k.value for k in codec.KINDS))
        raise ValidationError(
            f"record type {record_type!r} is not a document kind",
            problems=(
                Problem("unknown_record_type", f"{record_type!r} is not one of {kinds}", "type"),
            ),
        )
    try:
        # The common case, straight from the text; anything wrong is explained below.
        return codec.decode_json(kind, payload)
    except (pydantic.ValidationError, ValueError, TypeError):
        pass
    try:
        body = json.loads(payload)
    except json.JSONDecodeError as exc:
        problem = Problem("malformed_json", f"not JSON: {exc.msg} at character {exc.pos}", "")
        raise ValidationError("payload is not JSON", problems=(problem,)) from None
    try:
        return codec.decode(kind, body)
    except pydantic.ValidationError as exc:
        problems = tuple(
            Problem("malformed_field", str(err["msg"]), _path(tuple(err["loc"])))
            for err in exc.errors()
        )
        raise ValidationError(
            f"{kind.value} payload has {len(problems)} malformed field(s)", problems=problems
        ) from None
    except (ValueError, TypeError) as exc:
        problem = Problem("malformed_field", str(exc), "payload")
        raise ValidationError("payload does not make a document", problems=(problem,)) from None


def manual_entry(record_type: str, payload: str) -> Document:
    """A sale or refund keyed in by hand: salesync's document JSON, which must call itself
    ``manual`` and carry the id salesync gives it, so that an entry can never stand in for
    (or revise) a document another source brought."""
    document = salesync_json(record_type, payload)
    problems = []
    if document.source != MANUAL:
        problems.append(
            Problem(
                "wrong_source", f"is {document.source!r}; manual entries are 'manual'", "source"
            )
        )
    expected = document_id(document.tenant_id, MANUAL, document.kind, document.external_id)
    if document.id != expected:
        problems.append(
            Problem(
                "wrong_id",
                f"is {document.id!r}; leave it out, or give {expected!r}, the id salesync "
                f"derives from the external id",
                "id",
            )
        )
    if problems:
        raise ValidationError(
            f"manual {document.kind.value} {document.external_id} names the wrong identity",
            problems=tuple(problems),
        )
    return document


register("simulator", salesync_json)
register(MANUAL, manual_entry)
