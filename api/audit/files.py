"""The audit directory on disk: JSONL segments, the sealer's signed head copy and the
retention checkpoints.

- `segment-YYYYMMDD.jsonl`: sealed rows `{id, seq, prev_hash, hash, event, flags…}`.
- `head.json`: the last sealed (seq, id, hash, lost) signed with the audit key, rewritten
  by the sealer after every pass that sealed something; a Redis state that is missing or
  behind it was deleted or rewound.
- `checkpoints.jsonl`: one signed line per retention pass that removed segments, naming the
  last removed event; the oldest retained event must follow one of them (or GENESIS).
Every write is fsynced before it counts.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from api.audit import keyfile

SEGMENT_GLOB = "segment-*.jsonl"
HEAD_FILE = "head.json"
CHECKPOINT_FILE = "checkpoints.jsonl"


class ForgedFile(Exception):
    """A head or checkpoint record whose mac is not the audit key's."""

    def __init__(self, where: str) -> None:
        super().__init__(where)
        self.where = where


def segments(audit_dir: Path) -> list[Path]:
    """Segment files in chain order (their names sort by date)."""
    return sorted(audit_dir.glob(SEGMENT_GLOB))


def last_row(path: Path) -> dict[str, Any] | None:
    """The last parseable row of a segment (read from its end)."""
    with path.open("rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - 65536))
        lines = [ln for ln in f.read().splitlines() if ln.strip()]
    for ln in reversed(lines):
        try:
            row = json.loads(ln)
        except ValueError:
            continue
        if isinstance(row, dict) and "id" in row:
            return row
    return None


def last_archived_row(audit_dir: Path) -> dict[str, Any] | None:
    for path in reversed(segments(audit_dir)):
        row = last_row(path)
        if row is not None:
            return row
    return None


def _fsync_dir(path: Path) -> None:
    dfd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def append_lines(path: Path, lines: list[str]) -> None:
    """Append lines to a file (0600) and fsync it and its directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, ("\n".join(lines) + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    _fsync_dir(path.parent)


def write_head(audit_dir: Path, key: bytes, head: dict[str, Any]) -> None:
    """Replace head.json atomically with a signed copy of `head`."""
    audit_dir.mkdir(parents=True, exist_ok=True)
    tmp = audit_dir / f".{HEAD_FILE}.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, (json.dumps(keyfile.signed(key, "head", head)) + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, audit_dir / HEAD_FILE)
    _fsync_dir(audit_dir)


def read_head(audit_dir: Path, key: bytes) -> dict[str, Any] | None:
    """The signed head (None when there is none); ForgedFile when it is not ours."""
    path = audit_dir / HEAD_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError:
        raise ForgedFile(HEAD_FILE) from None
    head = keyfile.check(key, "head", record) if isinstance(record, dict) else None
    if head is None:
        raise ForgedFile(HEAD_FILE)
    return head


def add_checkpoint(audit_dir: Path, key: bytes, checkpoint: dict[str, Any]) -> None:
    append_lines(audit_dir / CHECKPOINT_FILE,
                 [json.dumps(keyfile.signed(key, "checkpoint", checkpoint))])


def read_checkpoints(audit_dir: Path, key: bytes) -> dict[int, dict[str, Any]]:
    """Signed retention checkpoints by seq; ForgedFile naming the first bad line."""
    path = audit_dir / CHECKPOINT_FILE
    out: dict[int, dict[str, Any]] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return out
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        cp = keyfile.check(key, "checkpoint", record) if isinstance(record, dict) else None
        if cp is None or not isinstance(cp.get("seq"), int):
            raise ForgedFile(f"{CHECKPOINT_FILE}:{n}")
        out[cp["seq"]] = cp
    return out
