"""Passwords: salted scrypt with its parameters in the hash, verified in constant time,
and a policy that says what is wrong."""

from __future__ import annotations

import pytest

from salesync.accounts.errors import WeakPasswordError
from salesync.accounts.passwords import (
    Cost,
    hash_password,
    needs_rehash,
    password_problems,
    verify_password,
)

CHEAP = Cost(n=2**10)
GOOD = "correct horse battery"


def test_a_password_verifies_and_a_wrong_one_does_not() -> None:
    """The hash made from a password accepts it and nothing else."""
    stored = hash_password(GOOD)
    assert verify_password(GOOD, stored)
    assert not verify_password(GOOD.upper(), stored)
    assert not verify_password("", stored)


def test_the_hash_is_salted_and_carries_its_parameters() -> None:
    """Two hashes of one password differ, and each names scrypt and its cost."""
    first, second = hash_password(GOOD, CHEAP), hash_password(GOOD, CHEAP)
    assert first != second
    assert first.startswith("scrypt$n=1024,r=8,p=1$")
    assert GOOD not in first


def test_old_parameters_still_verify_and_ask_for_a_rehash() -> None:
    """A hash made with another cost verifies with its own and is due for a rehash."""
    stored = hash_password(GOOD, CHEAP)
    assert verify_password(GOOD, stored)
    assert needs_rehash(stored)
    assert not needs_rehash(stored, CHEAP)


def test_a_short_password_is_refused_with_a_clear_message() -> None:
    """Under 12 characters is refused, saying how long it must be."""
    with pytest.raises(WeakPasswordError, match="at least 12 characters"):
        hash_password("short pw")
    assert password_problems("x" * 12) == []
    assert password_problems(" " * 12) == ["The password cannot be only spaces."]


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "bcrypt$whatever",
        "scrypt$n=1024,r=8,p=1$not base64!$AAAA",
        "scrypt$n=1000,r=8,p=1$AAAA$AAAA",
        "scrypt$n=1073741824,r=8,p=1$AAAA$AAAA",
        "scrypt$r=8,p=1$AAAA$AAAA",
    ],
)
def test_a_malformed_hash_verifies_nothing(stored: str) -> None:
    """A damaged or hostile stored hash answers False, never raises or runs away."""
    assert not verify_password(GOOD, stored)
