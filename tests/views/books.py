"""Books for the read-model tests that fail in a way no retry mends."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from salesync.connectors.destination import Posting, Written
from salesync.domain.errors import BugError
from wrapped_books import WrappedBooks


@dataclass
class BrokenBooks(WrappedBooks):
    """The ledger, except that every post fails with an unexpected error."""

    def post(self, postings: Sequence[Posting]) -> list[Written]:
        raise BugError("KeyError: 'TxnDate' in the destination's answer", code="bug")
