"""Accounts: users and their roles, passwords, dashboard sessions and API keys, and the
one table of who may do what (``roles.PERMISSIONS``)."""

from salesync.accounts.errors import AccountError, UnknownUserError, WeakPasswordError
from salesync.accounts.keys import UserKey, UserKeys, principal_of_key
from salesync.accounts.passwords import hash_password, verify_password
from salesync.accounts.roles import PERMISSIONS, Action, Principal, Reach, Role
from salesync.accounts.sessions import OpenSession, Sessions
from salesync.accounts.users import User, Users

__all__ = [
    "PERMISSIONS",
    "AccountError",
    "Action",
    "OpenSession",
    "Principal",
    "Reach",
    "Role",
    "Sessions",
    "UnknownUserError",
    "User",
    "UserKey",
    "UserKeys",
    "Users",
    "WeakPasswordError",
    "hash_password",
    "principal_of_key",
    "verify_password",
]
