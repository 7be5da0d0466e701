"""A portal's webhook endpoint for the benchmarks: a threaded HTTP server on 127.0.0.1 that
checks each delivery's `X-Signature` and records when each item's delivery arrived.

It runs in the benchmark's own process (a thread), so its arrival times and the
benchmark's verdict times are on the same clock (`time.perf_counter`). The signature is
checked on the raw body before it is parsed, as a portal must (`api.signing.verify`).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from api import signing


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 resets connections when 32 arrive at once
    daemon_threads = True


class SignedReceiver:
    """Answers 200 to every POST; `arrived` maps item_id -> first arrival time (a delivery
    whose signature fails is timed too, and counted in `bad_signatures`). Set `secret`
    (printed once by `WebhookStore.set`) before deliveries come in."""

    def __init__(self) -> None:
        self.secret = ""
        self.arrived: dict[str, float] = {}
        self.deliveries = 0
        self.duplicates = 0  # a second delivery for an item (a retry after a lost answer)
        self.bad_signatures = 0
        self.lock = threading.Lock()
        rec = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a portal's server would

            def do_POST(self) -> None:  # noqa: N802 - the http.server name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                now = time.perf_counter()
                ok = signing.verify(rec.secret, self.headers.get(signing.HEADER, ""), body)
                item_id = json.loads(body).get("item", {}).get("item_id")  # checked first
                with rec.lock:
                    rec.deliveries += 1
                    rec.bad_signatures += not ok
                    if item_id in rec.arrived:
                        rec.duplicates += 1
                    else:
                        rec.arrived[item_id] = now
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def wait_for(self, item_ids: list[str], timeout: float) -> list[str]:
        """Wait until every item's delivery arrived; the ones still missing at `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                missing = [i for i in item_ids if i not in self.arrived]
            if not missing or time.monotonic() > deadline:
                return missing
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)
