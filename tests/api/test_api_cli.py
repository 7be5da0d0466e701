"""`moderation apikey|user|audit|serve|backup` run as a user would (subprocesses), against
the session Redis (REDIS_URL) or an embedded redis-server in a temp data directory."""

from __future__ import annotations

import json
import os
import re
import stat

import pytest
from api_test_support import bearer, cli

from api.secretbox import KEY_FILE as SECRETS_KEY
from api.secretbox import SecretBox
from api.store import keys
from api.store.statuses import Role

KEY_RE = re.compile(r"^pmk_[A-Za-z0-9_-]{43}$")


@pytest.fixture
def on_redis(redis_server, rdb, tmp_path) -> dict[str, str]:
    return {"REDIS_URL": redis_server.url, "MODERATION_DATA_DIR": str(tmp_path)}


def test_apikey_create_prints_only_the_key(client, on_redis):
    proc = cli("apikey", "create", "portal-cli", env=on_redis)
    assert proc.returncode == 0, proc.stderr
    key = proc.stdout.strip()
    assert KEY_RE.match(key) and proc.stdout == key + "\n"
    assert "portal-cli" in proc.stderr and key not in proc.stderr
    r = client.post("/v1/moderate", headers=bearer(key),
                    json={"data_id": "c1", "channel": "comment", "content": "路灯坏了"})
    assert r.status_code == 200
    listed = [json.loads(x) for x in cli("apikey", "list", env=on_redis).stdout.splitlines()]
    assert [k["client"] for k in listed] == ["portal-cli"]
    assert key not in json.dumps(listed)
    assert cli("apikey", "revoke", listed[0]["id"], env=on_redis).returncode == 0
    r = client.post("/v1/moderate", headers=bearer(key),
                    json={"data_id": "c2", "channel": "comment", "content": "路灯坏了"})
    assert r.status_code == 401


@pytest.mark.parametrize(("args", "fragment"), [
    (["apikey", "create", "bad name!"], "client name"),
    (["apikey", "revoke", "k_nope"], "No API key"),
])
def test_bad_usage_is_one_sentence_and_exit_2(on_redis, args, fragment):
    proc = cli(*args, env=on_redis)
    assert proc.returncode == 2 and fragment in proc.stderr and proc.stdout == ""


def test_user_create_from_stdin_then_login(client, on_redis):
    proc = cli("user", "create", "wang.wei", "--role", "senior", "--password-stdin",
               env=on_redis, stdin="correct horse battery\n")
    assert proc.returncode == 0, proc.stderr
    r = client.post("/v1/auth/login", json={"username": "wang.wei",
                                            "password": "correct horse battery"})
    assert r.status_code == 200 and r.json()["role"] == "senior"
    again = cli("user", "create", "wang.wei", "--role", "admin", "--password-stdin",
                env=on_redis, stdin="another password\n")
    assert again.returncode == 2 and "already exists" in again.stderr


@pytest.mark.parametrize(("args", "stdin", "fragment"), [
    (["user", "create", "wang.wei", "--role", "admin"], "", "pass --password-stdin"),
    (["user", "create", "wang.wei", "--role", "admin"], "typed?\n", "pass --password-stdin"),
    (["user", "update", "wang.wei", "--password"], "", "pass --password-stdin"),
    (["user", "create", "wang.wei", "--role", "admin", "--password-stdin"], "",
     "no password on standard input"),
    (["user", "update", "wang.wei", "--password-stdin"], "\n", "no password on standard input"),
])
def test_user_password_without_a_terminal_is_one_sentence(on_redis, rdb, args, stdin, fragment):
    proc = cli(*args, env=on_redis, stdin=stdin)  # stdin is a pipe: no terminal to ask at
    assert proc.returncode == 2, proc.stderr
    assert fragment in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stdout == ""
    assert not rdb.exists(keys.user("wang.wei"))


@pytest.mark.parametrize("flags", [["--password-stdin"], ["--role", "senior"], ["--disable"]])
def test_user_update_ends_the_users_sessions(client, call, state, on_redis, flags):
    call(state.users.create, "li.na", Role.REVIEWER, "长城-correct-horse-1")
    tokens = []
    for _ in range(2):
        r = client.post("/v1/auth/login", json={"username": "li.na",
                                                "password": "长城-correct-horse-1"})
        tokens.append(r.json()["token"])
    assert [client.get("/v1/admin/users", headers=bearer(t)).status_code
            for t in tokens] == [403, 403]
    env = {**on_redis, "MODERATION_ARGON2_TIME_COST": "1", "MODERATION_ARGON2_MEMORY_KIB": "1024"}
    proc = cli("user", "update", "li.na", *flags, env=env, stdin="黄河-another-horse-2\n")
    assert proc.returncode == 0, proc.stderr
    assert [client.get("/v1/admin/users", headers=bearer(t)).status_code
            for t in tokens] == [401, 401]


def test_audit_verify_exit_codes(client, on_redis, rdb, tmp_path):
    cli("apikey", "create", "portal-v", env=on_redis)
    ok = cli("audit", "verify", env=on_redis)
    assert ok.returncode == 0 and json.loads(ok.stdout)["unsealed"] == 1
    assert cli("audit", "seal", env=on_redis).returncode == 0
    assert json.loads(cli("audit", "verify", env=on_redis).stdout)["sealed_in_redis"] == 1
    (sid, fields), = rdb.xrange(keys.AUDIT_STREAM)
    rdb.delete(keys.AUDIT_STREAM)
    rdb.xadd(keys.AUDIT_STREAM, {"e": fields["e"].replace("portal-v", "portal-w")}, id=sid)
    bad = cli("audit", "verify", env=on_redis)
    assert bad.returncode == 1 and sid in bad.stderr
    out = tmp_path / "audit.jsonl"
    assert cli("audit", "export", str(out), env=on_redis).returncode == 0
    assert json.loads(out.read_text())["id"] == sid


def test_serve_without_redis_server_names_install_script(tmp_path):
    proc = cli("serve", "--data-dir", str(tmp_path / "var"), "--no-model",
               env={"PATH": "/nonexistent"})
    assert proc.returncode == 2 and "scripts/install.sh" in proc.stderr


@pytest.mark.parametrize(("flags", "setting"), [
    (["--appendonly", "no"], "appendonly"),
    (["--maxmemory-policy", "allkeys-lru"], "maxmemory-policy"),
])
def test_serve_refuses_an_unsafe_redis(tmp_path, flags, setting):
    from api_test_support import RedisProc  # the fixture's server class

    server = RedisProc(tmp_path / "unsafe")
    server.start()
    try:
        r = server.url
        import redis

        c = redis.Redis.from_url(r)
        c.config_set(flags[0].lstrip("-"), flags[1])
        proc = cli("serve", "--no-model", env={"REDIS_URL": r,
                                               "MODERATION_DATA_DIR": str(tmp_path)})
        assert proc.returncode == 2 and setting in proc.stderr
    finally:
        server.stop()


def test_backup_and_restore_on_a_new_data_directory(tmp_path):
    old, new, out = tmp_path / "old", tmp_path / "new", tmp_path / "backup"
    env = {"MODERATION_AUDIT_REDIS_TAIL": "1", "MODERATION_ARGON2_TIME_COST": "1",
           "MODERATION_ARGON2_MEMORY_KIB": "1024"}
    key = cli("apikey", "create", "portal-b", "--data-dir", str(old), env=env).stdout.strip()
    assert cli("user", "create", "admin", "--role", "admin", "--password-stdin", "--data-dir",
               str(old), env=env, stdin="长城-correct-horse\n").returncode == 0
    assert cli("audit", "seal", "--data-dir", str(old), env=env).returncode == 0
    sealed = SecretBox.from_file(old / SECRETS_KEY).seal("webhook-secret")  # kept in Redis
    assert cli("backup", str(out), "--data-dir", str(old), env=env).returncode == 0
    assert (out / "dump.rdb").stat().st_size > 0 and list((out / "audit").glob("*.jsonl"))
    assert (out / "audit.key").read_bytes() == (old / "audit.key").read_bytes()
    assert json.loads((out / "MANIFEST.json").read_text())["keys"] == ["audit.key", SECRETS_KEY]
    assert (out / "audit.key").stat().st_mode & 0o777 == 0o600
    restored = cli("backup", str(out), "--restore", "--data-dir", str(new), env=env)
    assert restored.returncode == 0, restored.stderr
    listed = cli("apikey", "list", "--data-dir", str(new), env=env).stdout
    assert json.loads(listed)["client"] == "portal-b" and key not in listed
    assert "admin" in cli("user", "list", "--data-dir", str(new), env=env).stdout
    verified = cli("audit", "verify", "--data-dir", str(new), env=env)
    report = json.loads(verified.stdout)
    assert verified.returncode == 0 and report["archived"] == 1 and report["sealed_in_redis"] == 1
    assert (new / "audit.key").stat().st_mode & 0o777 == 0o600
    assert SecretBox.from_file(new / SECRETS_KEY).open(sealed) == "webhook-secret"


@pytest.mark.parametrize("existing", [True, False])
def test_backup_is_private_whatever_the_umask(on_redis, tmp_path, existing):
    out = tmp_path / "backups" / "today"
    if existing:  # a directory left wide open, with a file of an earlier backup in it
        out.mkdir(parents=True)
        out.chmod(0o777)
        (out / "dump.rdb").write_text("old")
        (out / "dump.rdb").chmod(0o666)
    env = {**on_redis, "MODERATION_AUDIT_REDIS_TAIL": "1"}
    old_umask = os.umask(0)  # the CLI inherits it; the modes must not depend on it
    try:
        for client_name in ("portal-1", "portal-2"):
            assert cli("apikey", "create", client_name, env=env).returncode == 0
        assert cli("audit", "seal", env=env).returncode == 0
        proc = cli("backup", str(out), env=env)
    finally:
        os.umask(old_umask)
    assert proc.returncode == 0, proc.stderr
    files = [out / "dump.rdb", out / "MANIFEST.json", *(out / "audit").rglob("*.jsonl")]
    assert len(files) > 2 and (out / "dump.rdb").read_bytes().startswith(b"REDIS")
    dirs = [out, *(p for p in (out / "audit").rglob("*") if p.is_dir()), out / "audit"]
    assert {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in dirs} == {
        p.name: "0o700" for p in dirs}
    everything = [p for p in out.rglob("*") if p.is_file()]
    assert {str(p): oct(stat.S_IMODE(p.stat().st_mode)) for p in everything} == {
        str(p): "0o600" for p in everything}
    assert set(files) <= set(everything)
