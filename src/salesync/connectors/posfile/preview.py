"""A dry run of an import: every receipt of a file read and checked, nothing stored.

The preview reads receipts exactly as an import will (the same records, the same
translation) and runs the checks that need nothing stored: a sale must add up, a return
must fit the sale it reverses when that sale is in the same file, and every location must
be one of the merchant's.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from salesync.connectors.posfile.mapping import PosMapping
from salesync.connectors.posfile.reader import ExportFile
from salesync.connectors.posfile.receipts import (
    Receipt,
    group_receipts,
    read_record,
    receipt_record,
    scope_of,
)
from salesync.connectors.posfile.translate import line_rows, locate, translate_receipt
from salesync.connectors.source import Skip, SourceContext, Translated
from salesync.domain.documents import Refund, Sale
from salesync.domain.errors import ValidationError
from salesync.domain.validation import Problem, validate_refund, validate_sale


@dataclass(frozen=True, slots=True)
class ReceiptPreview:
    """One receipt as the import would take it: its document (``None`` when it cannot be
    read) and every problem, in plain words at its row."""

    receipt: Receipt
    translated: Translated | None
    problems: tuple[str, ...] = ()

    @property
    def skipped(self) -> bool:
        return isinstance(self.translated, Skip)


@dataclass(frozen=True, slots=True)
class ExportPreview:
    file: ExportFile
    receipts: tuple[ReceiptPreview, ...]

    @property
    def clean(self) -> int:
        return sum(1 for r in self.receipts if not r.problems and not r.skipped)

    @property
    def with_problems(self) -> int:
        return sum(1 for r in self.receipts if r.problems)

    @property
    def skipped(self) -> int:
        return sum(1 for r in self.receipts if r.skipped)


def _checks(
    document: Sale | Refund,
    sales: dict[str, Sale],
    refunds: dict[str, list[Refund]],
    locations: Collection[str] | None,
    now: datetime | None,
) -> list[Problem]:
    problems: list[Problem] = []
    if locations is not None and document.location_id not in locations:
        problems.append(
            Problem(
                "unknown_location",
                f"location {document.location_id!r} is not set up for this merchant",
                "location_id",
            )
        )
    if isinstance(document, Sale):
        return problems + validate_sale(document, now=now)
    sale = sales.get(document.sale_id)
    if sale is None:
        return problems
    earlier = refunds.setdefault(sale.id, [])
    problems += validate_refund(document, sale, earlier, now=now)
    earlier.append(document)
    return problems


def preview_export(
    export: ExportFile,
    mapping: PosMapping,
    context: SourceContext,
    *,
    locations: Collection[str] | None = None,
    now: datetime | None = None,
) -> ExportPreview:
    """Every receipt of ``export`` read and checked as an import would, writing nothing."""
    previews = []
    sales: dict[str, Sale] = {}
    refunds: dict[str, list[Refund]] = {}
    scope = scope_of(context)
    for receipt in group_receipts(export, mapping):
        record = receipt_record(receipt, export.name, scope)
        stored = read_record(record.record_type, record.payload)
        try:
            translated = translate_receipt(stored, mapping, context)
        except ValidationError as exc:
            problems = tuple(str(p) for p in exc.problems)
            previews.append(ReceiptPreview(receipt, None, problems))
            continue
        if isinstance(translated, Sale):
            sales[translated.id] = translated
        found = (
            _checks(translated, sales, refunds, locations, now)
            if isinstance(translated, Sale | Refund)
            else []
        )
        rows = line_rows(stored, mapping)
        previews.append(ReceiptPreview(receipt, translated, tuple(locate(p, rows) for p in found)))
    return ExportPreview(export, tuple(previews))
