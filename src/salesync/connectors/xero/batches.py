"""How many elements one write carries.

Xero sets no limit on the elements of one request, only on its size: 3.5 MB for a POST
(or PUT) to the Accounting API, and it recommends bundles of up to 50 elements so that a
request is answered in good time
(https://developer.xero.com/documentation/guides/oauth2/limits/, "Request size limit").
So the books take up to 50 postings a call (``BATCH``), and a write whose body would pass
the size limit (sales with hundreds of lines) goes in as many requests as it needs
(``runs``). The payments of 50 invoices (one per tender) are small and stay one request
whatever their number: splitting them at 50 would cost a call per batch of split tenders
for no documented gain.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

BATCH = 50
"""Postings per call, as Xero recommends elements per request."""
REQUEST_MAX = 3_500_000
"""Bytes in one request body: Xero's 3.5 MB, read as decimal megabytes to stay inside
whichever way Xero counts them."""


def size(collection: str, elements: Sequence[Mapping[str, Any]]) -> int:
    """The bytes of the body ``XeroClient.write`` sends for ``elements``."""
    return len(json.dumps({collection: list(elements)}, sort_keys=True).encode())


def runs(
    collection: str, elements: Sequence[Mapping[str, Any]], limit: int = REQUEST_MAX
) -> list[slice]:
    """Consecutive runs of ``elements`` whose bodies each stay within ``limit`` bytes; an
    element too large on its own is a run of its own (Xero refuses it with a 413)."""
    wrapper = size(collection, [])
    found: list[slice] = []
    start, used = 0, wrapper
    for index, element in enumerate(elements):
        # Each element adds its own JSON and, after the first of a run, a ", " separator.
        grown = len(json.dumps(element, sort_keys=True).encode()) + (2 if index > start else 0)
        if index > start and used + grown > limit:
            found.append(slice(start, index))
            start, used = index, wrapper
            grown -= 2
        used += grown
    if start < len(elements):
        found.append(slice(start, len(elements)))
    return found
