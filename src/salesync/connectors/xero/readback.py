"""Reading back what Xero holds of postings: before a retry writes again, and for ``find``.

A posting is found by what salesync wrote into it: the number of its invoice or credit
note (``InvoiceNumbers``, or a ``where`` on the credit note number), the tag in a manual
journal's narration, or the start of a bank transaction's Reference. One GET per
collection answers up to 50 keys (``where`` filters per
https://developer.xero.com/documentation/api/accounting/requests-and-responses).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from salesync.connectors.xero.client import XeroClient
from salesync.connectors.xero.forms import number_for
from salesync.connectors.xero.lists import where
from salesync.connectors.xero.translate import BANK_TRANSACTION, Existing, existing_document

CHUNK = 50
"""Keys per read: Xero's own batch size, keeping each filter's URL short."""
PAYMENT_CHUNK = 20
"""Documents per read of payments, two clauses each."""


def _chunks(values: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def existing(client: XeroClient, keys: Sequence[str]) -> dict[str, Existing]:
    """What Xero holds under each key, by number (documents), narration (journals) or
    the start of the reference (bank transactions)."""
    numbers = {number_for(key): key for key in keys}
    found: dict[str, Existing] = {}
    for chunk in _chunks(sorted(numbers), CHUNK):
        params = {"InvoiceNumbers": ",".join(chunk)}
        for invoice in client.get("Invoices", params).get("Invoices") or []:
            key = numbers.get(str(invoice.get("InvoiceNumber")))
            if key and invoice.get("Type") == "ACCREC":
                found[key] = existing_document(invoice, "invoice")
        params = {"where": where("CreditNoteNumber", chunk)}
        for credit in client.get("CreditNotes", params).get("CreditNotes") or []:
            key = numbers.get(str(credit.get("CreditNoteNumber")))
            if key and credit.get("Type") == "ACCRECCREDIT":
                found[key] = existing_document(credit, "credit_note")
        tags = " OR ".join(f'Narration.Contains("{n}")' for n in chunk)
        for journal in client.get("ManualJournals", {"where": tags}).get("ManualJournals") or []:
            narration = str(journal.get("Narration", ""))
            for number, key in numbers.items():
                if f"[salesync {number}:" in narration:
                    found[key] = Existing("ManualJournal", str(journal["ManualJournalID"]), True)
        starts = " OR ".join(f'Reference.StartsWith("{n} ")' for n in chunk)
        answer = client.get("BankTransactions", {"where": starts})
        for transaction in answer.get("BankTransactions") or []:
            key = numbers.get(str(transaction.get("Reference", "")).split(" ", 1)[0])
            if key and transaction.get("Type") in ("RECEIVE", "SPEND"):
                transaction_id = str(transaction["BankTransactionID"])
                found[key] = Existing(BANK_TRANSACTION, transaction_id, True)
    return found


def paid_references(client: XeroClient, document_ids: Sequence[str]) -> set[str]:
    """The references of the payments (and refunds) already made on ``document_ids``."""
    found: set[str] = set()
    for chunk in _chunks(document_ids, PAYMENT_CHUNK):
        clauses = " OR ".join(
            f'Invoice.InvoiceID==guid("{i}") OR CreditNote.CreditNoteID==guid("{i}")' for i in chunk
        )
        answer = client.get("Payments", {"where": clauses})
        for payment in answer.get("Payments") or []:
            if payment.get("Status") != "DELETED":
                found.add(str(payment.get("Reference", "")))
    return found
