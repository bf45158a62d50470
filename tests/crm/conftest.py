"""CRM fixtures: the shop, opened on a Monday morning in New York."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from .world import BROOKLYN, Shop, local, open_shop


@pytest.fixture
def shop(factory: sessionmaker[Session]) -> Shop:
    return open_shop(factory, local(BROOKLYN, 2026, 11, 2, 9, 0))
