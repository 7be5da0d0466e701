"""The webhook delivery worker: POSTs due outbox deliveries to the portals, signed.

One per deployment (a singleton task under its Redis lock). Each round takes the due
deliveries it has room for (`Outbox.take_due`, one Lua call that leases them) and sends
each in its own task, so one slow portal never holds up the others. A delivery's body is
built when it is sent, from the item as its client sees it (`GET /v1/items/{data_id}`),
so a retry carries the current state. A 2xx removes the delivery; anything else (another
status, a timeout, a refused address) reschedules it with exponential backoff and jitter.

Addresses are checked at delivery time: the host is resolved and every address must be
public (not loopback, link-local, private, multicast or reserved) unless an admin allowed
the origin; the request then goes to the address that was checked (the name is kept for
`Host` and TLS), so a DNS answer that changes between check and connect cannot redirect it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import random
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import redis.asyncio as aioredis
from pydantic import HttpUrl, TypeAdapter, ValidationError

from api import audit, metrics, signing
from api.callbacks import blocked_address, origin_of, origin_text, parse_origins
from api.secretbox import SecretBox
from api.settings import Settings
from api.store import keys
from api.store.connection import UNREACHABLE
from api.store.items import StoredItem
from api.store.outbox import Delivery, Outbox, now_ms
from api.store.webhooks import Webhook, WebhookStore
from api.workers.lock import RedisLock

log = logging.getLogger("api.webhooks")
USER_AGENT = "portal-moderation-webhook/1"
_URL = TypeAdapter(HttpUrl)


def outbox_lock(r: aioredis.Redis, ttl_ms: int = 5000) -> RedisLock:
    """The lock that elects the one delivery worker of a deployment."""
    return RedisLock(r, keys.OUTBOX_LOCK, ttl_ms=ttl_ms)


def backoff_s(attempts: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds before the next try after `attempts` failed ones: base·2^(attempts-1), capped,
    minus up to 25 % jitter so deliveries that failed together do not retry together."""
    nominal = min(cap, base * 2 ** min(max(attempts - 1, 0), 40))
    return nominal * (1 - 0.25 * (rng or random).random())


class Refused(Exception):
    """The target's host resolves to an address that may not be called (non-public)."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where one delivery goes: the URL to connect to and the headers/extensions it needs."""

    url: str
    host_header: str | None = None
    sni: str | None = None


async def resolve_target(url: str, allowed: frozenset[Any]) -> Target:
    """Check every address `url`'s host resolves to and pin the request to one of them;
    an origin an admin allowed is called as it is."""
    parsed = _URL.validate_python(url)
    if origin_of(parsed) in allowed:
        return Target(url)
    host = (parsed.host or "").strip("[]")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port,
                                                             type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ConnectionError(f"cannot resolve {host}: {exc}") from None
    # an IPv6 link-local answer carries its zone (`fe80::1%eth0`): judge the address itself
    addresses = list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))
    for address in addresses:
        try:
            ipaddress.ip_address(address)
            kind = blocked_address(address)
        except ValueError:
            kind = "not an IP address"
        if kind is not None:
            raise Refused(f"refused: {host} resolves to {address} ({kind}); only public "
                          "addresses are called unless an admin allows the origin "
                          "(MODERATION_CALLBACK_ALLOW_ORIGINS)")
    if not addresses:
        raise ConnectionError(f"{host} has no address")
    pinned = addresses[0]
    literal = f"[{pinned}]" if isinstance(ipaddress.ip_address(pinned),
                                          ipaddress.IPv6Address) else pinned
    split = urlsplit(url)
    netloc = f"{literal}:{port}"
    target = split._replace(netloc=netloc).geturl()
    host_header = split.hostname or host
    if ":" in host_header:
        host_header = f"[{host_header}]"
    if split.port is not None:
        host_header = f"{host_header}:{split.port}"
    return Target(target, host_header=host_header,
                  sni=host if parsed.scheme == "https" else None)


def body_of(item: StoredItem, d: Delivery) -> bytes:
    """The JSON body: the item exactly as `GET /v1/items/{data_id}` shows it to its client,
    with the event, the delivery id and this attempt's number."""
    return json.dumps({"event": d.event, "delivery_id": d.id, "attempt": d.attempts,
                       "item": item.public()}, ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")


class OutboxWorker:
    """Takes due deliveries and sends them; `run_round` is the supervisor's task."""

    def __init__(self, r: aioredis.Redis, settings: Settings,
                 webhooks: WebhookStore | None = None) -> None:
        self.r = r
        self.settings = settings
        self.outbox = Outbox(r)
        self.webhooks = webhooks or WebhookStore(
            r, lambda: SecretBox.from_file(settings.secrets_key_path))
        self.allowed = parse_origins(settings.callback_allow_origins)
        # A lease shorter than a request could end while it is still being sent.
        self.lease_s = max(settings.webhook_lease_s, settings.webhook_timeout_s * 2)
        self._http: httpx.AsyncClient | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._secrets: dict[str, str] = {}  # sealed secret -> clear (Fernet once per value)

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=httpx.Timeout(self.settings.webhook_timeout_s),
                follow_redirects=False, trust_env=False,
                limits=httpx.Limits(max_connections=self.settings.webhook_concurrency * 2))
        return self._http

    async def run_round(self, max_s: float = 1.0) -> int:
        """Take what is due (as much as there is room for) and start sending it. While more
        is due than there is room for (a burst), keep taking as sends finish, for up to
        `max_s` (then the supervisor renews the lock and calls again)."""
        deadline = time.monotonic() + max_s
        total = 0
        while True:
            room = self.settings.webhook_concurrency - len(self._sending)
            if room > 0:
                taken = await self.outbox.take_due(room, self.lease_s)
                for d in taken:
                    task = asyncio.create_task(self.deliver(d), name=f"webhook:{d.id}")
                    self._sending.add(task)
                    task.add_done_callback(self._sending.discard)
                total += len(taken)
                if len(taken) < room:
                    return total  # nothing more is due now
            left = deadline - time.monotonic()
            if left <= 0 or not self._sending:
                return total
            await asyncio.wait(set(self._sending), timeout=left,
                               return_when=asyncio.FIRST_COMPLETED)

    async def drain(self) -> None:
        """Wait for the sends in flight (tests and the benchmark)."""
        while self._sending:
            await asyncio.gather(*list(self._sending), return_exceptions=True)

    async def stop(self) -> None:
        """Cancel the sends in flight (their leases end and they are sent again later) and
        close the HTTP client."""
        for task in list(self._sending):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*list(self._sending), return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def deliver(self, d: Delivery) -> None:
        """Send one taken delivery and record the outcome; never raises (bar cancellation)."""
        try:
            await self._deliver(d)
        except asyncio.CancelledError:
            raise
        except UNREACHABLE:
            pass  # Redis went away: the lease ends and the delivery is taken again
        except Exception:
            log.exception("webhook delivery failed", extra={"delivery_id": d.id})

    async def _deliver(self, d: Delivery) -> None:
        pipe = self.r.pipeline(transaction=False)
        pipe.hgetall(d.item_key)
        pipe.hgetall(keys.webhook(d.client))
        h, registered = await pipe.execute()
        hook = Webhook.from_hash(d.client, registered) if registered else None
        if not h or hook is None:
            # Nothing to send (the item expired) or nowhere to send it: a client without a
            # webhook reads verdicts with GET /v1/items; its deliveries are not kept.
            await self.outbox.done(d)
            metrics.WEBHOOK_DELIVERIES.labels("dropped").inc()
            log.info("webhook delivery dropped", extra={
                "delivery_id": d.id, "reason": "no item" if not h else "no webhook"})
            return
        try:
            item = StoredItem.from_hash(h)
            url = self._url_for(h, hook)
            secret = self._secret(hook)
            target = await resolve_target(url, self.allowed)
        except Refused as exc:
            await self._failed(d, str(exc), refused=True)
            return
        except Exception as exc:  # noqa: BLE001 - a key or DNS problem is this delivery's error
            await self._failed(d, getattr(exc, "message", None) or str(exc) or
                               type(exc).__name__)
            return
        body = body_of(item, d)
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
                   signing.HEADER: signing.sign(secret, body),
                   signing.DELIVERY_HEADER: d.id}
        if target.host_header:
            headers["Host"] = target.host_header
        extensions = {"sni_hostname": target.sni} if target.sni else None
        t0 = time.perf_counter()
        try:
            async with self.http.stream("POST", target.url, content=body, headers=headers,
                                        extensions=extensions) as resp:
                status = resp.status_code  # the body is never read: it is not ours to keep
        except httpx.TimeoutException:
            await self._failed(d, f"timeout after {self.settings.webhook_timeout_s:g} s")
            return
        except Exception as exc:  # noqa: BLE001 - refused, reset, bad URL: this delivery's error
            await self._failed(d, f"{type(exc).__name__}: {exc}"[:300])
            return
        if 200 <= status < 300:
            event = audit.event_json("system:webhooks", "system", "webhook.delivered", d.id,
                                     None, item_id=item.item_id, client=d.client,
                                     event=d.event, attempts=d.attempts)
            await self.outbox.done(d, event)
            metrics.WEBHOOK_DELIVERIES.labels("delivered").inc()
            log.info("webhook delivered", extra={"delivery_id": d.id, "status": status,
                                                 "ms": round((time.perf_counter() - t0) * 1000)})
        else:
            await self._failed(d, f"HTTP {status}")

    def _secret(self, hook: Webhook) -> str:
        """The hook's secret in clear, decrypted once per sealed value (a rotation seals a
        new value, so it is picked up at the next delivery)."""
        secret = self._secrets.get(hook.sealed_secret)
        if secret is None:
            if len(self._secrets) > 1000:
                self._secrets.clear()
            secret = self._secrets[hook.sealed_secret] = self.webhooks.secret(hook)
        return secret

    def _url_for(self, h: dict[str, str], hook: Webhook) -> str:
        """The item's `callback_url` when it is on the client's registered origin (checked
        again: the webhook may have moved since the request), else the client's URL."""
        request = json.loads(h.get("request") or "{}")
        callback = request.get("callback_url")
        if callback:
            with contextlib.suppress(ValidationError):
                if origin_text(origin_of(_URL.validate_python(callback))) == hook.origin:
                    return str(callback)
        return hook.url

    async def _failed(self, d: Delivery, error: str, *, refused: bool = False) -> None:
        s = self.settings
        due = now_ms() + int(backoff_s(d.attempts, s.webhook_backoff_base_s,
                                       s.webhook_backoff_max_s) * 1000)
        failing = await self.outbox.reschedule(d, due, error, failing_after=s.webhook_failing_after,
                                               failing_now=refused)
        metrics.WEBHOOK_DELIVERIES.labels("refused" if refused else "failed").inc()
        log.warning("webhook delivery failed", extra={
            "delivery_id": d.id, "attempts": d.attempts, "failing": bool(failing),
            "error": error[:200]})
