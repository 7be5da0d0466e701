"""People's accounts and their sessions: argon2 password hashes, expiring session tokens,
and a lockout after repeated failed logins (`api.store.lockout`: counted per username in
Redis, so every API process sees the same count, and reserved BEFORE the password check).

Changing a user's password or role, or disabling the user, ends that user's sessions in the
same Lua call as the change (`UPDATE_USER_LUA`), so no session outlives the change; a login
whose password check raced with such a change opens no session (`OPEN_SESSION_LUA`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
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
from api.store.errors import Conflict, InvalidName, NotFound, Unauthorized
from api.store.hset_json import HSET_JSON_LUA
from api.store.lockout import RELEASE_SLOTS_LUA, LoginLockout, Slot
from api.store.statuses import Role

USERNAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
SESSION_PREFIX = "pms_"
MIN_PASSWORD = 8

# Open a session after a correct password, unless the password was changed or the user
# disabled while it was being checked; release the attempt's lockout slots and audit the
# login, all at once. Arguments: `UserStore._open_session`.
OPEN_SESSION_LUA = RELEASE_SLOTS_LUA + """
-- KEYS[1]  user hash                pm:user:{username}
-- KEYS[2]  session hash             pm:session:{sha256 of the token}
-- KEYS[3]  the user's sessions      pm:usersessions:{username}
-- KEYS[4]  login failure counter    pm:loginfail:{username}
-- KEYS[5]  audit stream             pm:audit
-- ARGV[1]  the password hash that was verified   ARGV[2] session token hash
-- ARGV[3]  username   ARGV[4] expires_at   ARGV[5] session TTL seconds
-- ARGV[6]  the attempt's lockout slot            ARGV[7] audit event "user.login"
-- Returns 1 (opened) | 0 (password changed or user disabled meanwhile)
local u = redis.call('HMGET', KEYS[1], 'password_hash', 'disabled')
if u[1] ~= ARGV[1] or u[2] == '1' then
  return 0
end
redis.call('HSET', KEYS[2], 'username', ARGV[3], 'expires_at', ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[5])
redis.call('SADD', KEYS[3], ARGV[2])
redis.call('EXPIRE', KEYS[3], ARGV[5])
release_slots(KEYS[4], tonumber(ARGV[6]))
redis.call('XADD', KEYS[5], '*', 'e', ARGV[7])
return 1
"""

# Change a user and end the sessions the change invalidates, in one call (a session opened
# concurrently is either ended here or opened after the change, never kept from before).
# Arguments: `UserStore.update`.
UPDATE_USER_LUA = HSET_JSON_LUA + """
-- KEYS[1]  user hash                pm:user:{username}
-- KEYS[2]  the user's sessions      pm:usersessions:{username}
-- KEYS[3]  audit stream             pm:audit
-- ARGV[1]  the fields to set, one JSON object of strings
-- ARGV[2]  '1' when the change ends sessions whatever the role (new password, disabled)
-- ARGV[3]  the requested role, '' when none (a role that differs ends sessions)
-- ARGV[4]  hash of the session to keep ('' for none): the user's own, changing themself
-- ARGV[5]  prefix of session keys (`keys.session('')`); ARGV[6] audit event "user.updated"
-- Returns -1 (no such user) | the number of sessions ended
if redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
local ends = ARGV[2] == '1'
if ARGV[3] ~= '' and redis.call('HGET', KEYS[1], 'role') ~= ARGV[3] then
  ends = true
end
hset_json(KEYS[1], ARGV[1])
local ended = 0
if ends then
  for _, h in ipairs(redis.call('SMEMBERS', KEYS[2])) do
    if h ~= ARGV[4] then
      redis.call('DEL', ARGV[5] .. h)
      redis.call('SREM', KEYS[2], h)
      ended = ended + 1
    end
  end
end
redis.call('XADD', KEYS[3], '*', 'e', ARGV[6])
return ended
"""

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
        self.lockout = LoginLockout(r, max_failures=max_failures, window_s=failure_window_s)
        self._open = r.register_script(OPEN_SESSION_LUA)
        self._update = r.register_script(UPDATE_USER_LUA)

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
        keep_session: Session | None = None,
    ) -> User:
        """Change a user. A new password, another role or disabling ends the user's
        sessions, except `keep_session` when that is the user's own (changing themself)."""
        await self.get(username)  # NotFound before an argon2 hash is spent
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
        keep = ""
        if keep_session is not None and keep_session.username == username:
            keep = _token_hash(keep_session.token)
        event = audit.event_json(actor, actor_role, "user.updated", f"user:{username}", None,
                                 **changes)
        ended = await self._update(
            keys=[keys.user(username), keys.user_sessions(username), keys.AUDIT_STREAM],
            args=[json.dumps(mapping), "1" if password is not None or disabled else "0",
                  role.value if role is not None else "", keep, keys.session(""), event])
        if int(ended) < 0:
            raise NotFound(f"No user {username!r}.")
        return await self.get(username)

    async def login(self, username: str, password: str) -> Session:
        """A new session, or `Unauthorized`; `RateLimited` (before any password check) once
        the username's failures fill the window, whether the name exists or not."""
        slot = await self.lockout.reserve(username)
        h = await self.r.hgetall(keys.user(username)) if USERNAME_RE.match(username) else {}
        if self._dummy_hash is None:
            self._dummy_hash = await asyncio.to_thread(self.hasher.hash, secrets.token_hex(16))
        pw_hash = h.get("password_hash", self._dummy_hash)
        ok = await asyncio.to_thread(_verify, self.hasher, pw_hash, password)
        if h and ok and h.get("disabled") != "1":
            session = await self._open_session(username, h, slot)
            if session is not None:
                return session
        async with self.r.pipeline(transaction=True) as pipe:  # the slot stays counted
            audit.append(pipe, f"user:{username[:64]}", "unknown", "user.login_failed",
                         f"user:{username[:64]}", None)
            await pipe.execute()
        raise Unauthorized("Wrong username or password.")

    async def _open_session(self, username: str, h: dict[str, str], slot: Slot
                            ) -> Session | None:
        """A session for a verified password, or None if the user changed meanwhile."""
        token = SESSION_PREFIX + secrets.token_urlsafe(32)
        th = _token_hash(token)
        expires = time.time() + self.session_ttl_s
        expires_at = datetime.fromtimestamp(expires, UTC).isoformat(timespec="seconds")
        event = audit.event_json(f"user:{username}", h["role"], "user.login",
                                 f"user:{username}", None)
        opened = await self._open(
            keys=[keys.user(username), keys.session(th), keys.user_sessions(username),
                  slot.key, keys.AUDIT_STREAM],
            args=[h["password_hash"], th, username, expires_at, self.session_ttl_s,
                  slot.number, event])
        if not opened:
            return None
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
