"""Roles, actions and the one table that says which role may do what, and where."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


class Role(enum.StrEnum):
    OWNER = "owner"
    """The merchant: everything about their own tenant, its users and its bill."""
    BOOKKEEPER = "bookkeeper"
    """The merchant's bookkeeper: mappings and reconciliation of their own tenant."""
    TIER1 = "tier1"
    """A support agent: reads every tenant, triages tickets, fixes mappings."""
    DEVELOPER = "developer"
    """Tier 2, on call: reads every tenant, works tickets and replays what failed."""
    ADMIN = "admin"
    """Runs salesync: anything, for any tenant."""

    @property
    def merchant(self) -> bool:
        """Whether the role belongs to one tenant (and must name it)."""
        return self in MERCHANT_ROLES


MERCHANT_ROLES = frozenset({Role.OWNER, Role.BOOKKEEPER})
STAFF_ROLES = frozenset({Role.TIER1, Role.DEVELOPER, Role.ADMIN})


class Action(enum.StrEnum):
    VIEW_TENANT = "view_tenant"
    ENTER_SALES = "enter_sales"
    EDIT_MAPPINGS = "edit_mappings"
    MANAGE_CONNECTIONS = "manage_connections"
    VIEW_TICKETS = "view_tickets"
    ACT_ON_TICKETS = "act_on_tickets"
    REPLAY = "replay"
    MANAGE_USERS = "manage_users"
    BILLING = "billing"
    VIEW_BILLING = "view_billing"
    LOG_TIME = "log_time"
    REQUEST_SUPPORT = "request_support"


class Reach(enum.Enum):
    """Where a role may take an action."""

    NONE = "none"
    OWN = "own"
    """Only in the tenant the user belongs to."""
    ANY = "any"
    """In every tenant, and across tenants."""


# One letter each keeps the table below readable as a grid.
N = Reach.NONE
O = Reach.OWN  # noqa: E741 -- see above
A = Reach.ANY

#                              owner  bookkeeper tier1 developer admin
_GRID: dict[Action, tuple[Reach, Reach, Reach, Reach, Reach]] = {
    Action.VIEW_TENANT:        (O,    O,         A,    A,        A),
    Action.ENTER_SALES:        (O,    O,         N,    N,        A),
    Action.EDIT_MAPPINGS:      (O,    O,         A,    N,        A),
    Action.MANAGE_CONNECTIONS: (O,    N,         N,    N,        A),
    Action.VIEW_TICKETS:       (O,    O,         A,    A,        A),
    Action.ACT_ON_TICKETS:     (N,    N,         A,    A,        A),
    Action.REPLAY:             (N,    N,         N,    A,        A),
    Action.MANAGE_USERS:       (O,    N,         N,    N,        A),
    Action.BILLING:            (O,    N,         N,    N,        A),
    Action.VIEW_BILLING:       (O,    O,         A,    A,        A),
    Action.LOG_TIME:           (N,    N,         N,    A,        A),
    Action.REQUEST_SUPPORT:    (O,    O,         A,    N,        A),
}  # fmt: skip

PERMISSIONS: Mapping[Action, Mapping[Role, Reach]] = MappingProxyType(
    {
        action: MappingProxyType(dict(zip(Role, reaches, strict=True)))
        for action, reaches in _GRID.items()
    }
)
"""Who may do what, and where: the only place permissions are decided.

Merchant users reach their own tenant at most; staff reach every tenant their role
allows. Sales keyed in by hand (enter_sales) go into a merchant's books, so they come from
the merchant's own people (or an admin), never from support staff. Edit_mappings is how
sales are booked: mappings, each location's posting mode and the sync policies. Merchants
see tickets in their own words (view_tickets) but do not work them.
Replay re-runs failed records through code that was just fixed, so it stays with Tier 2
and admins; Tier 1 fixes mappings, and held records follow a fixed mapping on their own.
Owners manage their own tenant's merchant users only (see ``Principal.may_grant``).
Billing (the plan, buying developer time) is the owner's; the bookkeeper and staff read
the plan, invoices and hours (view_billing). Developers log their time against tickets
(log_time); merchants open support requests (request_support), and Tier 1 may open one
for a merchant who called."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: a signed-in user, or a script holding one of their API keys."""

    user_id: str
    email: str
    role: Role
    tenant_id: str | None

    def can(self, action: Action, tenant_id: str | None) -> bool:
        """Whether this user may take ``action`` in ``tenant_id``; ``None`` asks about
        every tenant at once (a cross-tenant list), which only staff reach."""
        reach = PERMISSIONS[action][self.role]
        if reach is Reach.ANY:
            return True
        if reach is Reach.OWN:
            return tenant_id is not None and tenant_id == self.tenant_id
        return False

    def may_grant(self, role: Role, tenant_id: str | None) -> bool:
        """Whether this user may create, change or disable a user with ``role`` in
        ``tenant_id``: admins anyone, owners merchant users of their own tenant."""
        if not self.can(Action.MANAGE_USERS, tenant_id):
            return False
        return self.role is Role.ADMIN or role.merchant
