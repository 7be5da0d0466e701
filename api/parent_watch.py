"""Worker processes end with the `serve` process that started them, even after its kill -9.

uvicorn's workers are spawned children of `serve`; when `serve` dies they would keep the
port open with no supervisor and, on the embedded Redis, soon no store: every answer a 503
until someone kills them by hand, and a new `serve` cannot bind the port. `serve` names
itself in `MODERATION_PARENT_PID` (an internal hand-off to its workers, not a setting), and
each worker then:

- asks Linux for SIGTERM when its parent dies (`prctl(PR_SET_PDEATHSIG)`); uvicorn's
  handler shuts the worker down gracefully;
- watches `getppid()` in a thread, which closes the race of a parent that died before the
  `prctl` call and covers systems without it: when the parent is gone it sends itself
  SIGTERM and, if the worker is still there `grace` seconds later, exits hard.

So a worker is gone within `interval + grace` (1.5 s) of its parent. Nothing happens where
the app runs in `serve` itself (one worker) or in a test's process (the variable is unset).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import threading
import time

ENV = "MODERATION_PARENT_PID"
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

log = logging.getLogger("api")


def guard_from_env() -> bool:
    """Guard this process when `serve` spawned it as a worker; True when it did."""
    try:
        expected = int(os.environ.get(ENV, ""))
    except ValueError:
        return False
    if expected == os.getpid():  # the app runs in `serve` itself
        return False
    guard(expected)
    return True


def guard(expected_parent: int, *, interval: float = 0.5, grace: float = 1.0) -> None:
    """Leave when `expected_parent` is no longer this process's parent (see the module)."""
    set_pdeathsig(signal.SIGTERM)
    threading.Thread(target=_watch, args=(expected_parent, interval, grace),
                     name="parent-watch", daemon=True).start()


def set_pdeathsig(sig: int) -> bool:
    """Have the kernel send `sig` when the parent dies; False where prctl is unavailable."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch(expected_parent: int, interval: float, grace: float) -> None:
    # Checked once right away: a parent that died before prctl sent no signal.
    while os.getppid() == expected_parent:
        time.sleep(interval)
    log.warning("the `serve` process that started this worker is gone; exiting",
                extra={"parent_pid": expected_parent, "pid": os.getpid()})
    with contextlib.suppress(OSError):
        os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(grace)
    os._exit(1)
