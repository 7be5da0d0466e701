"""People's accounts and their sessions: argon2 password hashes, expiring session tokens,
and a lockout after repeated failed logins (counted per username in Redis, so every API
process sees the same count).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import redis.asyncio as aioredis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from redis.exceptions import WatchError

from api import audit
from api.store import keys
from api.store.errors import Conflict, InvalidName, NotFound, RateLimited, Unauthorized
from api.store.statuses import Role

USERNAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
SESSION_PREFIX = "pms_"
MIN_PASSWORD = 8

def make_hasher(time_cost: int = 3, memory_kib: int = 65536) -> PasswordHasher:
    """argon2id; the defaults are RFC 9106's second recommended profile (64 MiB, t=3)."""
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class User:
    username: str
    role: Role
    disabled: bool
    created_at: str
    updated_at: str

    def to_dict(self) -> dict:
        return {"username": self.username, "role": self.role.value, "disabled": self.disabled,
                "created_at": self.created_at, "updated_at": self.updated_at}

    @classmethod
    def from_hash(cls, h: dict[str, str]) -> User:
        return cls(username=h["username"], role=Role(h["role"]), disabled=h.get("disabled") == "1",
                   created_at=h["created_at"], updated_at=h.get("updated_at", h["created_at"]))


@dataclass(frozen=True, slots=True)
class Session:
    token: str
    username: str
    role: Role
    expires_at: str


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidName(f"A password needs at least {MIN_PASSWORD} characters.")


class UserStore:
    def __init__(
        self, r: aioredis.Redis, *, session_ttl_s: int = 8 * 3600, max_failures: int = 5,
        failure_window_s: int = 900, hasher: PasswordHasher | None = None,
    ) -> None:
        self.r = r
        self.hasher = hasher or make_hasher()
        # Verified against for unknown usernames, so timing does not tell which names exist.
        self._dummy_hash: str | None = None
        self.session_ttl_s = session_ttl_s
        self.max_failures = max_failures
        self.failure_window_s = failure_window_s

    async def create(
        self, username: str, role: Role, password: str, *, actor: str = "cli",
        actor_role: str = "admin",
    ) -> User:
        if not USERNAME_RE.match(username):
            raise InvalidName("A username is 1-64 characters of letters, digits, '.', '_' "
                              "or '-'.")
        check_password(password)
        pw_hash = await asyncio.to_thread(self.hasher.hash, password)
        now = audit.now_iso()
        async with self.r.pipeline(transaction=True) as pipe:
            await pipe.watch(keys.user(username))  # two admins creating one name: one wins
            if await pipe.exists(keys.user(username)):
                raise Conflict(f"User {username!r} already exists.")
            pipe.multi()
            pipe.hset(keys.user(username), mapping={
                "username": username, "role": role.value, "password_hash": pw_hash,
                "disabled": "0", "created_at": now, "updated_at": now})
            pipe.sadd(keys.USERS, username)
            audit.append(pipe, actor, actor_role, "user.created", f"user:{username}", None,
                         role=role.value)
            try:
                await pipe.execute()
            except WatchError:
                raise Conflict(f"User {username!r} already exists.") from None
        return User(username, role, False, now, now)

    async def get(self, username: str) -> User:
        h = await self.r.hgetall(keys.user(username))
        if not h:
            raise NotFound(f"No user {username!r}.")
        return User.from_hash(h)

    async def list(self) -> list[User]:
        names = sorted(await self.r.smembers(keys.USERS))
        pipe = self.r.pipeline(transaction=False)
        for n in names:
            pipe.hgetall(keys.user(n))
        return [User.from_hash(h) for h in await pipe.execute() if h]

    async def update(
        self, username: str, *, role: Role | None = None, disabled: bool | None = None,
        password: str | None = None, actor: str = "cli", actor_role: str = "admin",
    ) -> User:
        await self.get(username)
        mapping: dict[str, str] = {"updated_at": audit.now_iso()}
        changes: dict[str, object] = {}
        if role is not None:
            mapping["role"] = role.value
            changes["role"] = role.value
        if disabled is not None:
            mapping["disabled"] = "1" if disabled else "0"
            changes["disabled"] = disabled
        if password is not None:
            check_password(password)
            mapping["password_hash"] = await asyncio.to_thread(self.hasher.hash, password)
            changes["password"] = "changed"
        sessions = await self.r.smembers(keys.user_sessions(username)) if disabled else set()
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.hset(keys.user(username), mapping=mapping)
            for h in sessions:  # a disabled user is logged out everywhere
                pipe.delete(keys.session(h))
            if sessions:
                pipe.delete(keys.user_sessions(username))
            audit.append(pipe, actor, actor_role, "user.updated", f"user:{username}", None,
                         **changes)
            await pipe.execute()
        return await self.get(username)

    async def login(self, username: str, password: str) -> Session:
        """A new session, or `Unauthorized`; `RateLimited` once the failures reach the limit."""
        fail_key = keys.login_failures(username[:64])
        failures = int(await self.r.get(fail_key) or 0)
        if failures >= self.max_failures:
            ttl = await self.r.ttl(fail_key)
            raise RateLimited("Too many failed logins for this user; try again later.",
                              retry_after=ttl if ttl > 0 else self.failure_window_s)
        h = await self.r.hgetall(keys.user(username)) if USERNAME_RE.match(username) else {}
        if self._dummy_hash is None:
            self._dummy_hash = self.hasher.hash(secrets.token_hex(16))
        pw_hash = h.get("password_hash", self._dummy_hash)
        ok = await asyncio.to_thread(_verify, self.hasher, pw_hash, password)
        if not h or not ok or h.get("disabled") == "1":
            async with self.r.pipeline(transaction=True) as pipe:
                pipe.incr(fail_key)
                pipe.expire(fail_key, self.failure_window_s, nx=True)
                audit.append(pipe, f"user:{username[:64]}", "unknown", "user.login_failed",
                             f"user:{username[:64]}", None)
                await pipe.execute()
            raise Unauthorized("Wrong username or password.")
        token = SESSION_PREFIX + secrets.token_urlsafe(32)
        th = _token_hash(token)
        expires = time.time() + self.session_ttl_s
        expires_at = datetime.fromtimestamp(expires, UTC).isoformat(timespec="seconds")
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.hset(keys.session(th), mapping={"username": username, "expires_at": expires_at})
            pipe.expire(keys.session(th), self.session_ttl_s)
            pipe.sadd(keys.user_sessions(username), th)
            pipe.expire(keys.user_sessions(username), self.session_ttl_s)
            pipe.delete(fail_key)
            audit.append(pipe, f"user:{username}", h["role"], "user.login", f"user:{username}",
                         None)
            await pipe.execute()
        return Session(token, username, Role(h["role"]), expires_at.replace("+00:00", "Z"))

    async def session(self, token: str) -> Session | None:
        """The live session of a token with the user's CURRENT role, or None."""
        th = _token_hash(token)
        s = await self.r.hgetall(keys.session(th))
        if not s:
            return None
        u = await self.r.hmget(keys.user(s["username"]), "role", "disabled")
        if u[0] is None or u[1] == "1":
            return None
        return Session(token, s["username"], Role(u[0]), s["expires_at"])

    async def logout(self, session: Session) -> None:
        th = _token_hash(session.token)
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.delete(keys.session(th))
            pipe.srem(keys.user_sessions(session.username), th)
            audit.append(pipe, f"user:{session.username}", session.role.value, "user.logout",
                         f"user:{session.username}", None)
            await pipe.execute()


def _verify(hasher: PasswordHasher, pw_hash: str, password: str) -> bool:
    try:
        return hasher.verify(pw_hash, password)
    except (VerificationError, InvalidHashError):
        return False
