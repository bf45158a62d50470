"""QuickBooks Desktop through the Web Connector passes the destination contract."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from destination_contract import MERCHANT, DestinationContract
from qbd_harness import QbdHarness
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock


class TestQbdContract(DestinationContract):
    name = "qbd"
    speaks_http = False
    """The books answer the Web Connector's calls; they make none to QuickBooks."""

    @pytest.fixture
    def harness(self, sender_db: sessionmaker[Session], clock: ManualClock) -> Iterator[QbdHarness]:
        harness = QbdHarness.start(sender_db, clock, MERCHANT.tenant.id)
        yield harness
        harness.close()
