"""The permission table: every action for every role, in the own tenant, another one and
across tenants."""

from __future__ import annotations

import pytest

from salesync.accounts.roles import PERMISSIONS, Action, Principal, Reach, Role

N, O, A = Reach.NONE, Reach.OWN, Reach.ANY  # noqa: E741  one letter each reads as a grid
EXPECTED = {
    #                            owner bookkeeper tier1 developer admin
    Action.VIEW_TENANT:        (O,   O,         A,    A,        A),
    Action.ENTER_SALES:        (O,   O,         N,    N,        A),
    Action.EDIT_MAPPINGS:      (O,   O,         A,    N,        A),
    Action.MANAGE_CONNECTIONS: (O,   N,         N,    N,        A),
    Action.VIEW_TICKETS:       (O,   O,         A,    A,        A),
    Action.ACT_ON_TICKETS:     (N,   N,         A,    A,        A),
    Action.REPLAY:             (N,   N,         N,    A,        A),
    Action.MANAGE_USERS:       (O,   N,         N,    N,        A),
    Action.BILLING:            (O,   N,         N,    N,        A),
}  # fmt: skip


def who(role: Role) -> Principal:
    return Principal("u1", f"{role}@example.com", role, "alpha" if role.merchant else None)


def test_the_table_covers_every_action_and_role_as_agreed() -> None:
    """Every action has a reach for every role, and the reaches are the agreed ones."""
    assert set(PERMISSIONS) == set(Action)
    for action, reaches in EXPECTED.items():
        assert dict(PERMISSIONS[action]) == dict(zip(Role, reaches, strict=True)), action


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("action", list(Action))
def test_can_follows_the_table(role: Role, action: Action) -> None:
    """``can`` allows the own tenant for OWN, every tenant and all at once for ANY."""
    reach = PERMISSIONS[action][role]
    principal = who(role)
    assert principal.can(action, "alpha") is (reach is not Reach.NONE)
    assert principal.can(action, "beta") is (reach is Reach.ANY)
    assert principal.can(action, None) is (reach is Reach.ANY)


def test_merchant_users_never_reach_another_tenant() -> None:
    """No action lets an owner or a bookkeeper act in a tenant not theirs."""
    for role in (Role.OWNER, Role.BOOKKEEPER):
        assert not any(who(role).can(action, "beta") for action in Action)


def test_owners_grant_merchant_roles_in_their_tenant_and_admins_anything() -> None:
    """An owner may add owners and bookkeepers to their tenant only; an admin anyone;
    nobody else anyone."""
    owner, admin = who(Role.OWNER), who(Role.ADMIN)
    assert owner.may_grant(Role.BOOKKEEPER, "alpha")
    assert owner.may_grant(Role.OWNER, "alpha")
    assert not owner.may_grant(Role.BOOKKEEPER, "beta")
    assert not owner.may_grant(Role.ADMIN, "alpha")
    assert admin.may_grant(Role.ADMIN, None)
    assert admin.may_grant(Role.OWNER, "beta")
    for role in (Role.BOOKKEEPER, Role.TIER1, Role.DEVELOPER):
        assert not who(role).may_grant(Role.BOOKKEEPER, "alpha")
