"""Real books behind a wrapper, for tests that make a destination misbehave in one way
and leave the rest to the books themselves."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from salesync.connectors.destination import Books, DestinationCapabilities, Posting, Written


@dataclass
class WrappedBooks:
    """Real books behind a wrapper that changes only what a test says (``post``, most
    often): everything else is the inner books'."""

    inner: Books

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def capabilities(self) -> DestinationCapabilities:
        return self.inner.capabilities

    def post(self, postings: Sequence[Posting]) -> list[Written]:
        return self.inner.post(postings)

    def find(self, keys: Sequence[str]) -> dict[str, str]:
        return self.inner.find(keys)

    def batch_group(self, posting: Posting) -> str:
        return self.inner.batch_group(posting)

    def close(self) -> None:
        self.inner.close()
