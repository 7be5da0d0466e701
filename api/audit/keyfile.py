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
import os
import secrets
from pathlib import Path
from typing import Any

from api.audit.events import canonical

KEY_FILE = "audit.key"
KEY_BYTES = 32


class AuditKeyError(Exception):
    """The key file exists but cannot be used (unreadable or not a key)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def load(path: Path) -> bytes | None:
    """The key in `path`, or None when there is no such file."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise AuditKeyError(f"cannot read the audit key {path}: {exc}") from exc
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise AuditKeyError(f"{path} is not an audit key (expected {KEY_BYTES * 2} hex digits)")
    return key


def load_or_create(path: Path) -> bytes:
    """The key in `path`; created (0600) when missing. Safe when several processes start at
    once: the new file is linked into place, so exactly one key wins and all read it."""
    key = load(path)
    if key is not None:
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (secrets.token_bytes(KEY_BYTES).hex() + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # fails if another process created it first: theirs wins
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    key = load(path)
    assert key is not None
    return key


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
