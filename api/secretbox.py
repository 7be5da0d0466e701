"""Secrets the service must read back in clear, encrypted at rest in Redis.

Webhook signing secrets and the secret keys of compatibility credentials are needed in
clear to compute HMAC signatures, so they cannot be stored as hashes like API keys. They
are stored encrypted (Fernet: AES-128-CBC + HMAC-SHA256) under a key kept in a file of the
data directory (`secrets.key`, 0600, never in Redis): a copy of Redis or of its backup
alone does not reveal them. Every host of a deployment needs the same key file (like the
audit key), and backups must carry it.
"""

from __future__ import annotations

import base64
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from api import keyfile

KEY_FILE = "secrets.key"


class SecretKeyError(keyfile.KeyFileError):
    """The secrets key is unusable, or a stored secret was sealed under another key."""


class SecretBox:
    """Encrypt and decrypt small secrets under the data directory's secrets key."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    @classmethod
    def from_file(cls, path: Path) -> SecretBox:
        """The box of the key file at `path`, created (0600) when missing."""
        return cls(keyfile.load_or_create(path, "secrets key", SecretKeyError))

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode("utf-8")).decode("ascii")

    def open(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError) as exc:
            raise SecretKeyError("a stored secret cannot be decrypted with this host's "
                                 f"{KEY_FILE}: every host needs the same key file") from exc
