"""Which `callback_url`s a request may name: public hosts only, unless an admin allows an
origin (`MODERATION_CALLBACK_ALLOW_ORIGINS`).

The service will call these URLs (webhooks), so an address inside the operator's network
(the cloud metadata service at 169.254.169.254, Redis on localhost, an intranet host) would
let any portal client make the service reach it. The check looks at the literal host only,
never DNS at request time: a literal IP is judged with `ipaddress` (the URL parser has
already turned `0x7f.1` or `2130706433` into `127.0.0.1`), and `localhost` or a name under
`.localhost` counts as loopback.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from pydantic import HttpUrl, TypeAdapter, ValidationError

Origin = tuple[str, str, int]  # (scheme, host, port), lower case, default port filled in

_URL = TypeAdapter(HttpUrl)


def origin_of(url: HttpUrl) -> Origin:
    return (url.scheme.lower(), (url.host or "").lower().rstrip("."), url.port or 0)


@lru_cache(maxsize=8)
def parse_origins(raw: str) -> frozenset[Origin]:
    """The origins of a comma list `scheme://host[:port],…`; ValueError names a bad entry."""
    out: set[Origin] = set()
    for entry in (e.strip() for e in raw.split(",")):
        if not entry:
            continue
        try:
            url = _URL.validate_python(entry)
        except ValidationError:
            raise ValueError(f"{entry!r} is not an http(s) origin") from None
        if url.username or url.password or url.query or url.fragment or url.path not in (
                None, "", "/"):
            raise ValueError(f"{entry!r} is not an origin: give only scheme://host[:port]")
        out.add(origin_of(url))
    return frozenset(out)


def _blocked_ip(host: str) -> str | None:
    """What kind of non-public address a literal IP host is (None: public, or a name)."""
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind, hit in (("loopback", ip.is_loopback), ("link-local", ip.is_link_local),
                      ("multicast", ip.is_multicast), ("unspecified", ip.is_unspecified),
                      ("private", ip.is_private), ("reserved", ip.is_reserved)):
        if hit:
            return kind
    return None if ip.is_global else "not a public address"


def refusal(url: HttpUrl, allowed: frozenset[Origin]) -> str | None:
    """Why `url` may not be a callback (a sentence), or None when it may."""
    origin = origin_of(url)
    if origin in allowed:
        return None
    host = origin[1]
    if host == "localhost" or host.endswith(".localhost"):
        kind: str | None = "loopback"
    else:
        kind = _blocked_ip(host)
    if kind is None:
        return None
    return (f"callback_url's host {host} is {kind}; only public hosts are called back unless "
            "an admin allows the origin (MODERATION_CALLBACK_ALLOW_ORIGINS).")


def origin_text(origin: Origin) -> str:
    """`scheme://host:port` (the default port written out): how a webhook's origin is kept."""
    scheme, host, port = origin
    return f"{scheme}://{host}:{port}"


def blocked_address(ip: str) -> str | None:
    """What kind of non-public address `ip` is (None: public): the delivery worker's check
    of every address a webhook host resolves to at delivery time."""
    return _blocked_ip(ip)


def outside_origin(url: HttpUrl, registered: str | None) -> str | None:
    """Why a per-request `callback_url` is refused for a client whose webhook is registered
    on `registered` (a sentence), or None when it may be used (no webhook: no origin rule)."""
    if registered is None or origin_text(origin_of(url)) == registered:
        return None
    return (f"callback_url must be on this client's registered webhook origin {registered} "
            "(`moderation webhook set`).")
