"""Security fixes of the hardening issue: the login lockout holds under concurrency, and
changing a user's password, role or disabling the user ends that user's other sessions."""

from __future__ import annotations

import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from api_test_support import bearer

from api.store import keys
from api.store.statuses import Role

PASSWORD = "长城-correct-horse-1"
NEW_PASSWORD = "黄河-another-horse-2"


@pytest.fixture
def users(call, state):
    for name, role in [("li.na", Role.REVIEWER), ("admin", Role.ADMIN)]:
        call(state.users.create, name, role, PASSWORD)


class CountingHasher:
    """The app's argon2 hasher, counting password checks (what the lockout must bound)."""

    def __init__(self, inner: Any, on_verify: Any = None) -> None:
        self.inner = inner
        self.checks = 0
        self.on_verify = on_verify
        self._lock = threading.Lock()

    def verify(self, pw_hash: str, password: str) -> bool:
        with self._lock:
            self.checks += 1
        if self.on_verify is not None:
            self.on_verify(password)
        return self.inner.verify(pw_hash, password)

    def hash(self, password: str) -> str:
        return self.inner.hash(password)


@pytest.fixture
def hasher(state, monkeypatch) -> CountingHasher:
    counting = CountingHasher(state.users.hasher)
    monkeypatch.setattr(state.users, "hasher", counting)
    return counting


def login(client, username: str, password: str = PASSWORD):
    return client.post("/v1/auth/login", json={"username": username, "password": password})


def token(client, username: str, password: str = PASSWORD) -> str:
    r = login(client, username, password)
    assert r.status_code == 200, r.text
    return r.json()["token"]


def failed_logins(rdb) -> int:
    return sum(json.loads(e[1]["e"])["action"] == "user.login_failed"
               for e in rdb.xrange(keys.AUDIT_STREAM))


@pytest.mark.parametrize("username", ["li.na", "nobody"])
def test_parallel_guesses_get_at_most_five_password_checks(client, users, rdb, hasher,
                                                           username):
    with ThreadPoolExecutor(max_workers=32) as pool:
        answers = list(pool.map(lambda i: login(client, username, f"guess-{i}"), range(100)))
    statuses = Counter(a.status_code for a in answers)
    assert hasher.checks <= 5, statuses
    assert statuses[401] == hasher.checks == failed_logins(rdb)  # failures stay audited
    assert statuses[429] == 100 - hasher.checks
    assert all(int(a.headers["Retry-After"]) > 0 for a in answers if a.status_code == 429)
    if username == "li.na":
        right = login(client, username)  # the right password, after the lockout
        assert right.status_code == 429 and int(right.headers["Retry-After"]) > 0
        assert hasher.checks <= 5  # refused before its password was checked


def test_unknown_and_known_usernames_answer_alike(client, users):
    for name in ("li.na", "nobody"):
        seen = [login(client, name, "guess").status_code for _ in range(6)]
        assert seen == [401] * 5 + [429]


def test_a_correct_password_with_a_slot_wins_a_race_with_guesses(client, users, rdb, state,
                                                                  monkeypatch):
    fail_key = keys.login_failures("li.na")

    def racing_guesses(password: str) -> None:
        if password == PASSWORD:  # while it is checked, four guesses take the other slots
            rdb.incrby(fail_key, 4)

    monkeypatch.setattr(state.users, "hasher", CountingHasher(state.users.hasher,
                                                              racing_guesses))
    assert login(client, "li.na").status_code == 200  # its slot was reserved first
    # Its own slot is freed; the four racing guesses stay counted: one more, then 429.
    assert login(client, "li.na", "guess").status_code == 401
    assert login(client, "li.na", "guess").status_code == 429


def test_a_success_frees_the_failures_before_it(client, users):
    for _ in range(4):
        assert login(client, "li.na", "guess").status_code == 401
    assert login(client, "li.na").status_code == 200
    assert [login(client, "li.na", "guess").status_code for _ in range(6)] == [401] * 5 + [429]


def reviewer_access(client, t: str) -> int:
    """401 when the session was ended, 403 while a (reviewer or senior) session lives."""
    return client.get("/v1/admin/users", headers=bearer(t)).status_code


@pytest.mark.parametrize("change", [{"password": NEW_PASSWORD}, {"role": "senior"},
                                    {"disabled": True}])
def test_admin_change_ends_the_users_sessions(client, users, change):
    sessions = [token(client, "li.na"), token(client, "li.na")]
    admin = token(client, "admin")
    assert [reviewer_access(client, t) for t in sessions] == [403, 403]
    r = client.patch("/v1/admin/users/li.na", headers=bearer(admin), json=change)
    assert r.status_code == 200, r.text
    assert [reviewer_access(client, t) for t in sessions] == [401, 401]
    assert reviewer_access(client, admin) == 200  # the admin's own session is untouched
    if "password" in change:
        assert login(client, "li.na").status_code == 401
        assert login(client, "li.na", NEW_PASSWORD).status_code == 200


@pytest.mark.parametrize("change", [{"role": "reviewer"}, {"disabled": False}])
def test_changes_that_change_nothing_keep_sessions(client, users, change):
    t = token(client, "li.na")
    admin = token(client, "admin")
    assert client.patch("/v1/admin/users/li.na", headers=bearer(admin),
                        json=change).status_code == 200
    assert reviewer_access(client, t) == 403


def test_admin_changing_themself_keeps_only_the_session_making_the_change(client, users):
    here, elsewhere = token(client, "admin"), token(client, "admin")
    r = client.patch("/v1/admin/users/admin", headers=bearer(here),
                     json={"password": NEW_PASSWORD})
    assert r.status_code == 200, r.text
    assert reviewer_access(client, here) == 200
    assert reviewer_access(client, elsewhere) == 401


def test_a_login_racing_a_password_change_opens_no_session(client, users, rdb, state,
                                                           monkeypatch):
    def admin_changes_it(password: str) -> None:  # lands while the old password is checked
        rdb.hset(keys.user("li.na"), "password_hash", state.users.hasher.inner.hash("x" * 12))

    monkeypatch.setattr(state.users, "hasher", CountingHasher(state.users.hasher,
                                                              admin_changes_it))
    assert login(client, "li.na").status_code == 401
    assert rdb.scard(keys.user_sessions("li.na")) == 0
