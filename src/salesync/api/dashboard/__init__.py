"""The dashboard: server-rendered pages for merchants and salesync's staff.

``SECTIONS`` lists the modules that add pages (see ``shell`` for how to write one);
``Dashboard.register`` puts them on the app in this order, which is also the order of
their links in the navigation.
"""

from __future__ import annotations

from types import ModuleType

from salesync.api.dashboard import (
    billing,
    connections,
    crm,
    help,
    measures,
    merchant,
    reports,
    staff,
    webconnector,
)
from salesync.api.dashboard.shell import Dashboard, NavItem, PageRefused, Viewer

SECTIONS: list[ModuleType] = [
    merchant,
    connections,
    webconnector,
    staff,
    measures,
    reports,
    crm,
    billing,
    help,
]

__all__ = ["SECTIONS", "Dashboard", "NavItem", "PageRefused", "Viewer"]
