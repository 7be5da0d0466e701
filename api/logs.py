"""Structured JSON logs on stderr: ids and versions only, never raw user text or secrets."""

from __future__ import annotations

import json
import logging
import sys
import time

_STD = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message"}


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "msg", ...}` and the record's `extra` fields, one line each.

    `ts` is UTC with milliseconds (request lines from several workers interleave)."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        out = {"ts": f"{stamp}.{int(record.msecs):03d}Z",
               "level": record.levelname.lower(), "logger": record.name,
               "msg": record.getMessage()}
        out.update({k: v for k, v in vars(record).items() if k not in _STD})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(level: int = logging.INFO) -> None:
    """One JSON handler on the root logger (idempotent)."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.handlers = [handler]
    root.setLevel(level)
    # The formatter never prints thread or process names: skip looking them up for every
    # record (one access-log record per request).
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
