"""Books for the read-model tests that fail in a way no retry mends."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from salesync.connectors.destination import Books, DestinationCapabilities, Posting, Written
from salesync.domain.errors import BugError


@dataclass
class BrokenBooks:
    """The ledger, except that every post fails with an unexpected error."""

    inner: Books

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def capabilities(self) -> DestinationCapabilities:
        return self.inner.capabilities

    def post(self, postings: Sequence[Posting]) -> list[Written]:
        raise BugError("KeyError: 'TxnDate' in the destination's answer", code="bug")

    def find(self, keys: Sequence[str]) -> dict[str, str]:
        return self.inner.find(keys)

    def batch_group(self, posting: Posting) -> str:
        return self.inner.batch_group(posting)

    def close(self) -> None:
        self.inner.close()
