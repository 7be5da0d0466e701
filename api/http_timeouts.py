"""uvicorn's httptools protocol with a read timeout, so slow or silent clients are cut off.

uvicorn closes a kept-alive connection that stays idle after a response
(`timeout_keep_alive`), but it waits forever for a connection that never sends a request,
or sends half of one (slowloris): each holds a socket and a file descriptor of the worker.
Here a request's headers and body must arrive within `http_read_timeout_s` of the
connection opening (first request) or of the request's first byte (later requests on a
kept-alive connection); else the connection is closed.

`serve` passes this class to uvicorn as an import string, so each worker process imports
it and reads the timeout from the same environment as every other setting.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

IMPORT_STRING = "api.http_timeouts:TimeoutHttpToolsProtocol"


@functools.cache
def read_timeout_s() -> float:
    """This process's `http_read_timeout_s` (read once, like the app's own Settings)."""
    from api.settings import Settings

    return Settings().http_read_timeout_s


class TimeoutHttpToolsProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` whose connection closes when a request is not read in time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_timer: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._read_timer = self.loop.call_later(read_timeout_s(), self._read_timed_out)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _read_timed_out(self) -> None:
        self._read_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()  # the first request counts from the connection opening

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._read_timer is None:  # a later request on a kept-alive connection
            self._arm()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
