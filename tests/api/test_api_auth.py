"""People: login/logout, sessions, lockout after failed logins, roles on every admin
route, and the admin routes for accounts and API keys (all audited)."""

from __future__ import annotations

import json

import pytest
from api_test_support import bearer

from api.store import keys
from api.store.statuses import Role

PASSWORD = "长城-correct-horse-1"


@pytest.fixture
def users(call, state):
    for name, role in [("li.na", Role.REVIEWER), ("zhao.lei", Role.SENIOR),
                       ("admin", Role.ADMIN)]:
        call(state.users.create, name, role, PASSWORD)


def login(client, username: str, password: str = PASSWORD):
    return client.post("/v1/auth/login", json={"username": username, "password": password})


def token(client, username: str) -> str:
    r = login(client, username)
    assert r.status_code == 200, r.text
    return r.json()["token"]


def actions(rdb) -> list[str]:
    return [json.loads(e[1]["e"])["action"] for e in rdb.xrange(keys.AUDIT_STREAM)]


def test_login_returns_token_role_expiry_and_cookie(client, users, rdb, state):
    r = login(client, "zhao.lei")
    assert r.status_code == 200
    body = r.json()
    assert body["role"] == "senior" and body["token"].startswith("pms_")
    assert body["expires_at"].endswith("Z")
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    (skey,) = rdb.keys(keys.session("*"))
    assert state.settings.session_ttl_s - 5 < rdb.ttl(skey) <= state.settings.session_ttl_s
    assert body["token"] not in json.dumps(rdb.hgetall(skey))  # stored by its hash
    assert actions(rdb)[-1] == "user.login"


@pytest.mark.parametrize(("username", "password"), [
    ("zhao.lei", "wrong password"), ("nobody", PASSWORD), ("", PASSWORD),
    ("名字", PASSWORD), ("x" * 64, "y"),
])
def test_bad_login_is_401(client, users, rdb, username, password):
    r = login(client, username, password)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    assert actions(rdb)[-1] == "user.login_failed"


def test_five_failures_lock_the_username_out(client, users):
    for _ in range(5):
        assert login(client, "li.na", "guess").status_code == 401
    r = login(client, "li.na")  # even the right password
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert r.json()["error"]["code"] == "rate_limited"
    assert login(client, "zhao.lei").status_code == 200  # other users are not affected


def test_logout_ends_the_session(client, users, rdb):
    t = token(client, "admin")
    assert client.get("/v1/admin/users", headers=bearer(t)).status_code == 200
    assert client.post("/v1/auth/logout", headers=bearer(t)).status_code == 200
    r = client.get("/v1/admin/users", headers=bearer(t))
    assert r.status_code == 401
    assert "user.logout" in actions(rdb)


def test_session_cookie_works_like_the_bearer_token(client, users):
    login(client, "admin")
    assert client.get("/v1/admin/users").status_code == 200
    client.cookies.clear()
    assert client.get("/v1/admin/users").status_code == 401


ADMIN_ROUTES = [
    ("GET", "/v1/admin/users", None),
    ("POST", "/v1/admin/users", {"username": "new.user", "role": "reviewer",
                                 "password": PASSWORD}),
    ("PATCH", "/v1/admin/users/li.na", {"role": "senior"}),
    ("GET", "/v1/admin/apikeys", None),
    ("POST", "/v1/admin/apikeys", {"client": "portal-z"}),
    ("DELETE", "/v1/admin/apikeys/k_missing", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
@pytest.mark.parametrize(("who", "expected"), [
    (None, 401), ("apikey", 401), ("li.na", 403), ("zhao.lei", 403), ("admin", "ok"),
])
def test_roles_on_admin_routes(client, users, api_key, method, path, body, who, expected):
    headers = {}
    if who == "apikey":
        headers = bearer(api_key)
    elif who:
        headers = bearer(token(client, who))
    r = client.request(method, path, headers=headers, json=body)
    if expected == "ok":
        assert r.status_code in (200, 201, 404), r.text  # 404: the missing key id
    else:
        assert r.status_code == expected, r.text
        assert r.json()["error"]["code"] == {401: "unauthorized", 403: "forbidden"}[expected]


def test_session_token_is_not_an_api_key(client, users):
    r = client.post("/v1/moderate", headers=bearer(token(client, "admin")),
                    json={"data_id": "x", "channel": "comment", "content": "路灯坏了"})
    assert r.status_code == 401


def test_admin_manages_users(client, users, rdb):
    t = bearer(token(client, "admin"))
    r = client.post("/v1/admin/users", headers=t, json={
        "username": "sun.li", "role": "reviewer", "password": PASSWORD})
    assert r.status_code == 201 and r.json()["role"] == "reviewer"
    assert "password_hash" not in r.text
    dup = client.post("/v1/admin/users", headers=t, json={
        "username": "sun.li", "role": "reviewer", "password": PASSWORD})
    assert dup.status_code == 409
    names = [u["username"] for u in client.get("/v1/admin/users", headers=t).json()["users"]]
    assert names == ["admin", "li.na", "sun.li", "zhao.lei"]
    sun = bearer(token(client, "sun.li"))
    assert client.get("/v1/admin/users", headers=sun).status_code == 403
    client.patch("/v1/admin/users/sun.li", headers=t, json={"role": "admin"})
    assert client.get("/v1/admin/users", headers=sun).status_code == 401  # sessions ended
    sun = bearer(token(client, "sun.li"))
    assert client.get("/v1/admin/users", headers=sun).status_code == 200  # the new role
    r = client.patch("/v1/admin/users/sun.li", headers=t, json={"disabled": True})
    assert r.json()["disabled"] is True
    assert client.get("/v1/admin/users", headers=sun).status_code == 401  # sessions ended
    assert login(client, "sun.li").status_code == 401
    assert client.patch("/v1/admin/users/ghost", headers=t, json={"role": "admin"}
                        ).status_code == 404
    assert {"user.created", "user.updated"} <= set(actions(rdb))


def test_admin_manages_api_keys(client, users, rdb):
    t = bearer(token(client, "admin"))
    r = client.post("/v1/admin/apikeys", headers=t, json={"client": "portal-q"})
    assert r.status_code == 201
    created = r.json()
    key = created["key"]
    listed = client.get("/v1/admin/apikeys", headers=t).json()["apikeys"]
    assert [k["id"] for k in listed] == [created["id"]] and key not in json.dumps(listed)
    req = {"data_id": "k1", "channel": "comment", "content": "路灯坏了"}
    assert client.post("/v1/moderate", headers=bearer(key), json=req).status_code == 200
    r = client.delete(f"/v1/admin/apikeys/{created['id']}", headers=t)
    assert r.status_code == 200 and r.json()["revoked_at"]
    assert client.post("/v1/moderate", headers=bearer(key), json=req).status_code == 401
    assert {"apikey.created", "apikey.revoked"} <= set(actions(rdb))
    bad = client.post("/v1/admin/apikeys", headers=t, json={"client": "bad client/"})
    assert bad.status_code == 422


def test_concurrent_creates_of_one_username_give_one_user(call, state, rdb):
    import asyncio

    from api.store.errors import Conflict

    async def both():
        return await asyncio.gather(
            state.users.create("twin", Role.REVIEWER, PASSWORD),
            state.users.create("twin", Role.ADMIN, PASSWORD), return_exceptions=True)

    results = call(both)
    assert sum(isinstance(r, Conflict) for r in results) == 1
    assert actions(rdb).count("user.created") == 1
