"""Encryption at rest for connection credentials (Fernet: AES-128-CBC + HMAC-SHA256).

Several keys may be configured: the first encrypts, all decrypt, so keys can be rotated.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from salesync.domain.errors import AuthError


def new_key() -> str:
    """A fresh key in the form ``SALESYNC_SECRET_KEY`` expects."""
    return Fernet.generate_key().decode()


class Vault:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("the vault needs at least one key")
        fernets = []
        for i, key in enumerate(keys):
            try:
                fernets.append(Fernet(key.encode()))
            except ValueError:
                raise ValueError(
                    f"secret key #{i + 1} is not a Fernet key (44 characters of url-safe "
                    "base64); make one with `salesync keygen`"
                ) from None
        self._fernet = MultiFernet(fernets)

    def seal(self, secret: dict[str, Any]) -> bytes:
        return self._fernet.encrypt(json.dumps(secret, sort_keys=True).encode())

    def open(self, token: bytes) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self._fernet.decrypt(token))
        except InvalidToken:
            raise AuthError(
                "stored credentials cannot be decrypted with the configured keys",
                user_message="This connection's saved login can no longer be read. "
                "Please reconnect it.",
                code="vault_key_mismatch",
            ) from None
        return data

    def rotate(self, token: bytes) -> bytes | None:
        """``token`` re-encrypted under the first (newest) key; ``None`` when no
        configured key opens it."""
        try:
            return self._fernet.rotate(token)
        except InvalidToken:
            return None
