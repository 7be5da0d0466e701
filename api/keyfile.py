"""Secret keys kept in files of the data directory (mode 0600), never in Redis.

Used by the audit chain (`audit.key`: HMAC of every sealed hash) and by secrets that must be
readable in clear to sign or check signatures (`secrets.key`: `api.secretbox`). A key file
is created once, by the first process that needs it; when several processes start at
once the new file is linked into place, so exactly one key wins and all read it.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

KEY_BYTES = 32


class KeyFileError(Exception):
    """The key file exists but cannot be used (unreadable or not a key)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def load(path: Path, what: str = "key", error: type[KeyFileError] = KeyFileError
         ) -> bytes | None:
    """The key in `path` (64 hex digits), or None when there is no such file."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read the {what} {path}: {exc}") from exc
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise error(f"{path} is not an {what} (expected {KEY_BYTES * 2} hex digits)"
                    if what[0] in "aeiou" else
                    f"{path} is not a {what} (expected {KEY_BYTES * 2} hex digits)")
    return key


def load_or_create(path: Path, what: str = "key",
                   error: type[KeyFileError] = KeyFileError) -> bytes:
    """The key in `path`; created (0600) when missing."""
    key = load(path, what, error)
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
    key = load(path, what, error)
    if key is None:
        raise error(f"the {what} {path} vanished while it was created")
    return key
