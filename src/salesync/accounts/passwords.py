"""Passwords: scrypt with a random salt per password, its parameters kept in the hash.

A stored hash reads ``scrypt$n=32768,r=8,p=1$<salt>$<key>`` (base64), so the cost can be
raised later and old hashes still verify with the parameters they were made with.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from functools import cache

from salesync.accounts.errors import WeakPasswordError

MIN_LENGTH = 12
MAX_LENGTH = 1024
"""Long enough for any passphrase; longer input is refused rather than hashed."""


@dataclass(frozen=True, slots=True)
class Cost:
    """scrypt's work factors: ``n`` CPU/memory, ``r`` block size, ``p`` parallelism."""

    n: int = 2**15
    r: int = 8
    p: int = 1

    @property
    def maxmem(self) -> int:
        # scrypt needs 128 * n * r bytes; OpenSSL refuses above maxmem, whose default
        # (32 MiB) is exactly the default cost's need, so leave room.
        return 256 * self.n * self.r * self.p + 1024 * 1024


DEFAULT_COST = Cost()
_SALT_BYTES = 16
_KEY_BYTES = 32
_MAX_N = 2**20
"""A stored hash asking for more work than this is refused, not computed."""


def password_problems(password: str) -> list[str]:
    """What is wrong with ``password`` as a new password; empty when it will do."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(
            f"The password must be at least {MIN_LENGTH} characters long "
            f"(it has {len(password)}); a few unrelated words make a good one."
        )
    if len(password) > MAX_LENGTH:
        problems.append(f"The password must be at most {MAX_LENGTH} characters long.")
    if password and not password.strip():
        problems.append("The password cannot be only spaces.")
    return problems


def hash_password(password: str, cost: Cost = DEFAULT_COST) -> str:
    """The stored form of a new ``password``; refuses one the policy does not allow."""
    problems = password_problems(password)
    if problems:
        raise WeakPasswordError(problems)
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _derive(password, salt, cost)
    return f"scrypt$n={cost.n},r={cost.r},p={cost.p}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` is the one ``stored`` was made from, compared in constant
    time; False for a malformed hash, never an exception."""
    parsed = _parse(stored)
    if parsed is None or len(password) > MAX_LENGTH:
        return False
    cost, salt, key = parsed
    return hmac.compare_digest(_derive(password, salt, cost), key)


def needs_rehash(stored: str, cost: Cost = DEFAULT_COST) -> bool:
    """Whether ``stored`` was made with other parameters than ``cost``."""
    parsed = _parse(stored)
    return parsed is None or parsed[0] != cost


def waste_time(password: str) -> None:
    """Spend what verifying a password costs, so that an unknown email answers as slowly
    as a wrong password and nobody can tell which emails have accounts."""
    verify_password(password, _decoy())


@cache
def _decoy() -> str:
    return hash_password(secrets.token_urlsafe(MIN_LENGTH))


def _derive(password: str, salt: bytes, cost: Cost) -> bytes:
    return hashlib.scrypt(
        password.encode(),
        salt=salt,
        n=cost.n,
        r=cost.r,
        p=cost.p,
        maxmem=cost.maxmem,
        dklen=_KEY_BYTES,
    )


def _parse(stored: str) -> tuple[Cost, bytes, bytes] | None:
    try:
        scheme, params, salt, key = stored.split("$")
        values = dict(item.split("=", 1) for item in params.split(","))
        cost = Cost(n=int(values["n"]), r=int(values["r"]), p=int(values["p"]))
        decoded = base64.b64decode(salt, validate=True), base64.b64decode(key, validate=True)
    except (ValueError, KeyError):
        return None
    sane = 1 < cost.n <= _MAX_N and cost.n & (cost.n - 1) == 0 and 0 < cost.r * cost.p <= 64
    if scheme != "scrypt" or not sane or not all(decoded):
        return None
    return cost, *decoded


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
