"""The audit key: the secret that every sealed hash, the head copy and the retention
checkpoints are HMAC'd under.

It lives in a file in the data directory (`audit.key`, mode 0600), never in Redis and not
in the audit segment directory, so that someone who can write Redis and the archive still
cannot re-hash the chain. It is created once, by the first process that needs it; every
API process of a host reads the same file. A deployment on several hosts must give each
host the SAME key file (copy it, or point `MODERATION_AUDIT_KEY_FILE` at shared storage),
and it must be backed up: without it the chain cannot be verified.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any

from api import keyfile as keyfiles
from api.audit.events import canonical
from api.keyfile import KEY_BYTES, KeyFileError

KEY_FILE = "audit.key"
__all__ = ["KEY_BYTES", "KEY_FILE", "AuditKeyError", "check", "key_id", "load",
           "load_or_create", "sign", "signed"]


class AuditKeyError(KeyFileError):
    """The audit key file exists but cannot be used (unreadable or not a key)."""


def load(path: Path) -> bytes | None:
    """The key in `path`, or None when there is no such file."""
    return keyfiles.load(path, "audit key", AuditKeyError)


def load_or_create(path: Path) -> bytes:
    """The key in `path`; created (0600) when missing (one wins among concurrent starts)."""
    return keyfiles.load_or_create(path, "audit key", AuditKeyError)


def key_id(key: bytes) -> str:
    """A public fingerprint of the key, kept in the sealer's state: a sealer or verify with
    another key says so instead of reporting every hash as altered."""
    return hmac.new(key, b"pm-audit-key-id", hashlib.sha256).hexdigest()[:16]


def sign(key: bytes, kind: str, record: dict[str, Any]) -> str:
    """HMAC of a small record written by the sealer (`head`, `checkpoint`)."""
    msg = f"pm-audit-{kind}:" + canonical(record)
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).hexdigest()


def signed(key: bytes, kind: str, record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "mac": sign(key, kind, record)}


def check(key: bytes, kind: str, record: dict[str, Any]) -> dict[str, Any] | None:
    """The record without its `mac` when the mac is this key's, else None."""
    body = {k: v for k, v in record.items() if k != "mac"}
    mac = record.get("mac")
    if not isinstance(mac, str) or not hmac.compare_digest(mac, sign(key, kind, body)):
        return None
    return body
