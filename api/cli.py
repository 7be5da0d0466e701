"""Service subcommands: `serve`, `apikey`, `user`, `audit`, `backup`.

`register(subparsers)` is called by `moderation/cli.py`, which imports this module only
when one of these subcommands runs; the service (FastAPI, Redis) is imported INSIDE the
handlers too, so `moderation check` stays light. Every flag also
reads `MODERATION_<FLAG>`; `REDIS_URL` names an existing Redis, otherwise the embedded one
of `--data-dir` is used: the running service's when there is one, else one started for
the command and stopped after it.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import getpass
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from api.settings import Settings

EXIT_OK, EXIT_FOUND, EXIT_USAGE = 0, 1, 2
ROLES = ("reviewer", "senior", "admin")


def _env(flag: str, default: Any = None) -> Any:
    return os.environ.get("MODERATION_" + flag.upper().replace("-", "_"), default)


def _fail(message: str) -> int:
    print(f"moderation: {message}", file=sys.stderr)
    return EXIT_USAGE


def _add_store_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", default=None, metavar="DIR",
                   help="data directory of the embedded Redis and the audit archive "
                        "(env MODERATION_DATA_DIR, default ./var); REDIS_URL overrides Redis")


def _settings(args: argparse.Namespace, **extra: Any) -> Settings:
    """Settings from the environment, with the flags that were given on top."""
    from api.settings import Settings

    given = {k: v for k, v in extra.items() if v is not None}
    if getattr(args, "data_dir", None) is not None:
        given["data_dir"] = Path(args.data_dir)
    return Settings(**given)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no user name in some containers
        return "cli"


@contextlib.contextmanager
def _redis(settings: Settings) -> Iterator[tuple[str, Path | None]]:
    """(url, password file) of the Redis to use; an embedded one is started if none runs.
    With MODERATION_REDIS_SENTINELS the url is `redis+sentinel://…`: `connect` finds the
    primary through the Sentinels (api/store/sentinel.py)."""
    if settings.store_url:
        yield settings.store_url, settings.redis_password_file
        return
    from api.redis_server import EmbeddedRedis

    server = EmbeddedRedis(settings.data_dir, appendfsync=settings.redis_appendfsync)
    if not server.running():
        server.start(own=False)
    try:
        yield server.url, server.password_file
    finally:
        server.stop()


def _run_async(settings: Settings, fn: Callable[[Any], Any]) -> Any:
    """Run `fn(redis_client)` (a coroutine function) against the configured Redis."""
    import asyncio

    from api.store.connection import connect

    with _redis(settings) as (url, pw_file):
        async def main() -> Any:
            r = connect(url, timeout=max(settings.redis_socket_timeout, 5.0),
                        password_file=pw_file)
            try:
                return await fn(r)
            finally:
                await r.aclose()

        return asyncio.run(main())


def _guard(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn the service's typed errors into one sentence on stderr and exit 2."""

    def wrapped(args: argparse.Namespace) -> int:
        from pydantic import ValidationError

        from api.redis_server import RedisServerError
        from api.store.connection import UNREACHABLE, UnsafeServer
        from api.store.errors import StoreError

        try:
            return handler(args)
        except (RedisServerError, UnsafeServer) as exc:
            return _fail(str(exc))
        except StoreError as exc:
            return _fail(exc.message)
        except ValidationError as exc:
            err = exc.errors()[0]
            return _fail(f"invalid setting {'.'.join(map(str, err['loc']))}: {err['msg']}")
        except UNREACHABLE as exc:
            return _fail(f"Redis is unreachable ({type(exc).__name__}); check REDIS_URL, "
                         "MODERATION_REDIS_SENTINELS or --data-dir.")

    return wrapped


# -- serve ------------------------------------------------------------------------------


class _Terminated(Exception):
    """SIGTERM reached `serve` after uvicorn's graceful shutdown."""


def _terminated(signum: int, frame: Any) -> None:
    raise _Terminated()


def _port_problem(host: str, port: int, workers: int) -> str | None:
    """Why uvicorn could not bind `host:port`, or None when it can.

    Binds as uvicorn will, then closes: with several workers one socket (IPv6 when the
    host has a colon, else IPv4); with one, asyncio's `create_server` (every address of the
    host, IPv6 sockets v6-only, families the system lacks skipped). SO_REUSEADDR both ways,
    so a port in TIME_WAIT passes and one that something listens on does not. Checked
    before Redis is started or adopted, so a `serve` refused here has touched nothing.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if workers == 1 and ":" not in host:
        family = socket.AF_UNSPEC
    try:
        infos = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        return f"the host cannot be resolved: {exc}"
    for fam, kind, proto, _, addr in dict.fromkeys(infos):
        with socket.socket(fam, kind, proto) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if workers == 1 and fam == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                s.bind(addr)
            except OSError as exc:
                if workers == 1 and exc.errno == errno.EADDRNOTAVAIL:
                    continue  # asyncio skips an address family the system does not have
                return exc.strerror or str(exc)
    return None


def _export_env(settings: Settings, url: str, pw_file: Path | None) -> None:
    """What the app reads in each process (workers are spawned: they inherit os.environ)."""
    from api import parent_watch

    env = {"REDIS_URL": url, "MODERATION_DATA_DIR": str(settings.data_dir.resolve()),
           "MODERATION_MODEL": settings.model or "none"}
    if pw_file:
        env["MODERATION_REDIS_PASSWORD_FILE"] = str(pw_file)
    env["MODERATION_QUANTIZE"] = "1" if settings.quantize else "0"
    for name in ("lexicon", "policy", "model_threads"):
        value = getattr(settings, name)
        if value is not None:
            env["MODERATION_" + name.upper()] = str(value)
    if settings.redis_sentinels:  # workers find the primary themselves, through Sentinel
        del env["REDIS_URL"]
        env["MODERATION_REDIS_SENTINELS"] = settings.redis_sentinels
        env["MODERATION_REDIS_MASTER"] = settings.redis_master or ""
        if settings.redis_password:
            env["MODERATION_REDIS_PASSWORD"] = settings.redis_password
    os.environ.update(env)
    if settings.workers > 1:
        prom = settings.data_dir.resolve() / "prometheus"
        shutil.rmtree(prom, ignore_errors=True)
        prom.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(prom)
        os.environ[parent_watch.ENV] = str(os.getpid())  # workers end when this process dies
    else:
        os.environ.pop(parent_watch.ENV, None)


def _start_watchdog(server: Any) -> Any:
    """Restart the embedded Redis when it dies (api/redis_watchdog.py)."""
    # Imported only now: with several workers PROMETHEUS_MULTIPROC_DIR is set (_export_env),
    # so this process's count lands in the directory every worker's /metrics reads.
    from api.metrics import STORE_RESTARTS
    from api.redis_watchdog import RedisWatchdog

    watchdog = RedisWatchdog(server, on_restart=STORE_RESTARTS.inc)
    watchdog.start()
    return watchdog


async def _check_replicas(settings: Settings, r: Any, pw_file: Path | None) -> list[str]:
    """The start checks (AOF, noeviction) on the primary's replicas, where readable."""
    from api.store.replicas import check_replicas

    password = pw_file.read_text().strip() if pw_file else settings.redis_password
    return await check_replicas(r, password=password, required=settings.min_replica_acks,
                                timeout=max(settings.redis_socket_timeout, 2.0))


def _run_uvicorn(settings: Settings, moderator: Any) -> None:
    import uvicorn

    common = dict(host=settings.host, port=settings.port, access_log=False,
                  loop="uvloop", log_level="warning", timeout_graceful_shutdown=10,
                  # httptools with a read timeout (api/http_timeouts.py); idle
                  # kept-alive connections close after http_keepalive_s
                  http="api.http_timeouts:TimeoutHttpToolsProtocol",
                  timeout_keep_alive=settings.http_keepalive_s)
    if settings.workers == 1:
        from api.main import create_app
        from api.settings import Settings

        uvicorn.run(create_app(Settings(), moderator), **common)
    else:
        uvicorn.run("api.main:create_app", factory=True, workers=settings.workers, **common)


def _cmd_serve(args: argparse.Namespace) -> int:
    import asyncio

    from api.redis_server import EmbeddedRedis
    from api.store.connection import check_server, connect
    from moderation.errors import ModerationError
    from moderation.pipeline import load_moderator

    model = "none" if args.no_model else args.model
    settings = _settings(args, host=args.host, port=args.port, workers=args.workers,
                         lexicon=args.lexicon, policy=args.policy, model=model,
                         model_threads=args.model_threads, quantize=args.quantize)
    if settings.model_threads is None:  # share the cores between the workers' torch pools
        cores = os.cpu_count() or 1
        settings = settings.model_copy(update={"model_threads": max(1, cores // settings.workers)})
    try:  # fail at start-up, not per request
        moderator = load_moderator(settings.lexicon, settings.policy, settings.model_arg,
                                   model_threads=settings.model_threads,
                                   quantize=settings.quantize, warm=False)
    except ModerationError as exc:
        return _fail(exc.message)
    problem = _port_problem(settings.host, settings.port, settings.workers)
    if problem is not None:
        return _fail(f"cannot listen on port {settings.port} of {settings.host} ({problem}); "
                     "stop what uses that port or choose another --port.")

    server = watchdog = None
    url, pw_file = settings.store_url, settings.redis_password_file
    was_running = False
    if not url:
        server = EmbeddedRedis(settings.data_dir, appendfsync=settings.redis_appendfsync)
        if server.owner_alive() and server.running():
            return _fail(f"another `moderation serve` owns {server.dir}; use another "
                         "--data-dir, or REDIS_URL to share one Redis between services.")
        was_running = server.running()
        server.start(own=True)
        url, pw_file = server.url, server.password_file
    served = False  # False while starting: a failed start leaves a Redis it found running
    try:
        async def check() -> list[str]:
            r = connect(url, timeout=max(settings.redis_socket_timeout, 2.0),
                        password_file=pw_file)
            try:
                await r.ping()
                return await check_server(r) + await _check_replicas(settings, r, pw_file)
            finally:
                await r.aclose()

        for warning in asyncio.run(check()):
            print(f"moderation: warning: {warning}", file=sys.stderr)

        _export_env(settings, url, pw_file)
        where = f"embedded in {server.dir}" if server else "at REDIS_URL"
        if settings.redis_sentinels:
            where = f"primary {settings.redis_master!r} through Sentinel"
        print(f"moderation: serving on http://{settings.host}:{settings.port} with "
              f"{settings.workers} worker(s); Redis {where}", file=sys.stderr)
        from api.logs import configure_logging

        configure_logging()
        # uvicorn re-raises SIGTERM after its graceful shutdown; turn it into an exception so
        # the embedded Redis below is stopped (finally) instead of the process just dying.
        signal.signal(signal.SIGTERM, _terminated)
        if server is not None:
            watchdog = _start_watchdog(server)
        try:
            _run_uvicorn(settings, moderator)
        except SystemExit:  # uvicorn's way out when it could not start (its error is logged)
            return _fail(f"the HTTP server could not start on port {settings.port} of "
                         f"{settings.host}; see the error above.")
        served = True
        return EXIT_OK
    except _Terminated:
        served = True
        return EXIT_OK
    finally:
        if watchdog is not None:
            watchdog.stop()  # before the stop below, which it must not undo
        if server is not None:
            if served or not was_running:
                server.stop()
            else:
                server.release()


# -- apikey -----------------------------------------------------------------------------


def _cmd_apikey_create(args: argparse.Namespace) -> int:
    from api.store.apikeys import ApiKeyStore

    settings = _settings(args)

    async def go(r: Any) -> Any:
        return await ApiKeyStore(r, default_rate=settings.rate_limit_per_s).create(
            args.client, actor=_actor(), rate_limit=args.rate_limit)

    key, rec = _run_async(settings, go)
    print(key)
    print(f"created API key {rec.id} for client {rec.client}; it is shown only once, "
          "store it now", file=sys.stderr)
    return EXIT_OK


def _cmd_apikey_list(args: argparse.Namespace) -> int:
    from api.store.apikeys import ApiKeyStore

    settings = _settings(args)
    recs = _run_async(settings, lambda r: ApiKeyStore(r, default_rate=1).list())
    for rec in recs:
        print(json.dumps(rec.to_dict(), ensure_ascii=False))
    return EXIT_OK


def _cmd_apikey_revoke(args: argparse.Namespace) -> int:
    from api.store.apikeys import ApiKeyStore

    settings = _settings(args)
    rec = _run_async(settings, lambda r: ApiKeyStore(r, default_rate=1).revoke(
        args.id, actor=_actor()))
    print(f"revoked API key {rec.id} of client {rec.client}", file=sys.stderr)
    return EXIT_OK


def _cmd_apikey_update(args: argparse.Namespace) -> int:
    from api.store.apikeys import ApiKeyStore

    if args.rate_limit is None and not args.disable and not args.enable:
        return _fail("give --rate-limit N, --disable or --enable")
    default = args.rate_limit == "default"
    try:
        rate = None if default or args.rate_limit is None else int(args.rate_limit)
    except ValueError:
        rate = 0
    if rate is not None and rate < 1:
        return _fail("--rate-limit takes a whole number of items per second (1 or more) or "
                     "'default'")
    disabled = True if args.disable else (False if args.enable else None)
    settings = _settings(args)
    rec = _run_async(settings, lambda r: ApiKeyStore(r, default_rate=1).update(
        args.id, rate_limit=rate, default_rate_limit=default, disabled=disabled,
        actor=_actor()))
    print(json.dumps(rec.to_dict(), ensure_ascii=False))
    return EXIT_OK


# -- user -------------------------------------------------------------------------------


class _NoPassword(Exception):
    """No password could be read; the message says how to give one."""


def _read_password(args: argparse.Namespace) -> str:
    """The password from stdin's first line (`--password-stdin`) or typed twice at a
    terminal. Without a terminal there is no prompt to answer, so that is an error naming
    `--password-stdin` (getpass would die with EOFError on an empty stdin)."""
    if args.password_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise _NoPassword("no password on standard input; give it as the first line.")
        return line
    if not sys.stdin.isatty():
        raise _NoPassword("no terminal to ask for the password; pass --password-stdin and "
                          "give the password as the first line of standard input.")
    try:
        first = getpass.getpass("Password: ")
        again = getpass.getpass("Repeat password: ")
    except EOFError:
        raise _NoPassword("no password was typed; pass --password-stdin to give it on "
                          "standard input.") from None
    if again != first:
        raise _NoPassword("the two passwords differ.")
    return first


def _cmd_user_create(args: argparse.Namespace) -> int:
    from api.store.statuses import Role
    from api.store.users import UserStore, make_hasher

    try:
        password = _read_password(args)
    except _NoPassword as exc:
        return _fail(str(exc))
    settings = _settings(args)
    hasher = make_hasher(settings.argon2_time_cost, settings.argon2_memory_kib)
    user = _run_async(settings, lambda r: UserStore(r, hasher=hasher).create(
        args.name, Role(args.role), password, actor=_actor()))
    print(f"created user {user.username} with role {user.role.value}", file=sys.stderr)
    return EXIT_OK


def _cmd_user_list(args: argparse.Namespace) -> int:
    from api.store.users import UserStore

    for user in _run_async(_settings(args), lambda r: UserStore(r).list()):
        print(json.dumps(user.to_dict(), ensure_ascii=False))
    return EXIT_OK


def _cmd_user_update(args: argparse.Namespace) -> int:
    from api.store.statuses import Role
    from api.store.users import UserStore, make_hasher

    password = None
    if args.password or args.password_stdin:
        try:
            password = _read_password(args)
        except _NoPassword as exc:
            return _fail(str(exc))
    disabled = True if args.disable else (False if args.enable else None)
    role = Role(args.role) if args.role else None
    settings = _settings(args)
    hasher = make_hasher(settings.argon2_time_cost, settings.argon2_memory_kib)
    user = _run_async(settings, lambda r: UserStore(r, hasher=hasher).update(
        args.name, role=role, disabled=disabled, password=password, actor=_actor()))
    print(json.dumps(user.to_dict(), ensure_ascii=False))
    return EXIT_OK


# -- audit ------------------------------------------------------------------------------


def _audit_key(settings: Settings, *, create: bool = False) -> bytes | None:
    """The audit chain's key from the data directory (AuditKeyError when unusable)."""
    from api.audit import keyfile

    path = settings.audit_key_path
    return keyfile.load_or_create(path) if create else keyfile.load(path)


def _audit_report(settings: Settings, anchor: Any = None) -> Any:
    from api.audit.verify import verify

    key = _audit_key(settings)
    return _run_async(settings, lambda r: verify(
        r, settings.audit_path, key, max_unsealed_age_s=settings.audit_max_unsealed_age_s,
        anchor=anchor))


def _key_guard(handler: Callable[[argparse.Namespace], int]
               ) -> Callable[[argparse.Namespace], int]:
    """`_guard`, plus an unusable key file of the data directory (the audit key, the secrets
    key) as one sentence and exit 2."""

    def keyed(args: argparse.Namespace) -> int:
        from api.keyfile import KeyFileError

        try:
            return handler(args)
        except KeyFileError as exc:
            return _fail(exc.message)

    return _guard(keyed)


def _cmd_audit_verify(args: argparse.Namespace) -> int:
    from api.audit.verify import Anchor

    try:
        anchor = Anchor.parse(args.anchor) if args.anchor else None
    except ValueError as exc:
        return _fail(str(exc))
    settings = _settings(args)
    report = _audit_report(settings, anchor)
    print(json.dumps(report.to_dict(), ensure_ascii=False))
    if report.first_break is not None:
        b = report.first_break
        print(f"moderation: audit chain broken at {f'event {b.id}' if b.id else 'the chain'} "
              f"({b.where}): {b.reason}", file=sys.stderr)
        return EXIT_FOUND
    for note in report.notes:
        print(f"moderation: {note}", file=sys.stderr)
    if report.unsealed_too_old:
        return EXIT_FOUND
    anchored = f"; anchor {args.anchor}: {report.anchor}" if args.anchor else ""
    print(f"audit chain holds: {report.archived} archived, {report.sealed_in_redis} sealed in "
          f"Redis (head seq {report.head_seq}), {report.unsealed} not yet sealed{anchored}",
          file=sys.stderr)
    return EXIT_OK


def _cmd_audit_anchor(args: argparse.Namespace) -> int:
    settings = _settings(args)
    report = _audit_report(settings)
    if report.first_break is not None:
        b = report.first_break
        print(f"moderation: no anchor: the audit chain is broken at "
              f"{f'event {b.id}' if b.id else 'the chain'} ({b.where}): {b.reason}",
              file=sys.stderr)
        return EXIT_FOUND
    if not report.head_seq:
        print("moderation: no anchor: nothing is sealed yet", file=sys.stderr)
        return EXIT_FOUND
    print(f"{report.head_seq}:{report.head_hash}")
    print("record this SEQ:HASH outside the service; check it later with `moderation audit "
          "verify --anchor SEQ:HASH`", file=sys.stderr)
    return EXIT_OK


def _cmd_audit_export(args: argparse.Namespace) -> int:
    from api.audit.verify import export

    settings = _settings(args)
    n = _run_async(settings, lambda r: export(r, settings.audit_path, Path(args.file)))
    print(f"wrote {n} audit events to {args.file}", file=sys.stderr)
    return EXIT_OK


def _cmd_audit_seal(args: argparse.Namespace) -> int:
    from api.audit.sealer import Sealer

    settings = _settings(args)
    key = _audit_key(settings, create=True)
    assert key is not None

    async def go(r: Any) -> int:
        sealer = Sealer(r, settings.audit_path, key, tail_keep=settings.audit_redis_tail,
                        retention_days=settings.retention_days)
        try:
            return await sealer.run_once()
        finally:
            await sealer.release()

    n = _run_async(settings, go)
    print(f"sealed {n} audit events", file=sys.stderr)
    return EXIT_OK


# -- backup -----------------------------------------------------------------------------


def _cmd_backup(args: argparse.Namespace) -> int:
    """Write DIR/dump.rdb (a consistent RDB snapshot), DIR/audit/ (the sealed segments),
    DIR/audit.key and DIR/secrets.key (the keys kept outside Redis) and DIR/MANIFEST.json.
    They hold item texts, personal data and password hashes, so DIR is 0700 and every file in
    it 0600 whatever the umask (a wider DIR is tightened)."""
    settings = _settings(args)
    if args.restore:
        return _restore(settings, Path(args.dir))
    cli = shutil.which("redis-cli")
    if cli is None:
        return _fail("redis-cli is not installed; run `scripts/install.sh`.")
    out = Path(args.dir)
    if out.exists() and not out.is_dir():
        return _fail(f"{out} is not a directory; give a directory for the backup.")
    old_umask = os.umask(0o077)  # files are born private (redis-cli inherits it too)
    try:
        try:
            out.mkdir(parents=True, exist_ok=True)
            _make_private(out)
        except OSError as exc:
            return _fail(f"cannot make {out} a private directory: {exc.strerror}.")
        with _redis(settings) as (url, pw_file):
            env = dict(os.environ)
            if url.startswith("unix://"):
                target = ["-s", url.removeprefix("unix://").split("?")[0]]
            elif settings.redis_sentinels:
                target = _sentinel_primary(settings)
                if settings.redis_password:
                    env["REDISCLI_AUTH"] = settings.redis_password
            else:
                target = ["-u", url]
            if pw_file:
                env["REDISCLI_AUTH"] = pw_file.read_text().strip()
            proc = subprocess.run([cli, *target, "--no-auth-warning", "--rdb",
                                   str(out / "dump.rdb")], env=env, capture_output=True,
                                  text=True, timeout=3600)
            if proc.returncode != 0:
                return _fail("redis-cli --rdb failed: "
                             f"{proc.stderr.strip() or proc.stdout.strip()}")
        audit_src = settings.audit_path
        if audit_src.exists():
            shutil.copytree(audit_src, out / "audit", dirs_exist_ok=True)
        # Without the keys a restored chain cannot be verified nor stored secrets read.
        copied = {}
        for name, key in _key_files(settings).items():
            if key.exists():
                shutil.copy2(key, out / name)
                copied[name] = name
        manifest = {"created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "rdb": "dump.rdb", "audit": "audit/" if audit_src.exists() else None,
                    "keys": sorted(copied)}
        (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")
        _make_private(out)  # copies keep their source's mode, old files theirs
    finally:
        os.umask(old_umask)
    print(f"backup written to {out} (dump.rdb + audit segments; directories 0700, files "
          "0600)", file=sys.stderr)
    return EXIT_OK


def _sentinel_primary(settings: Settings) -> list[str]:
    """redis-cli's `-h HOST -p PORT` of the primary the Sentinels name now."""
    import asyncio

    from api.store.sentinel import primary_address

    assert settings.store_url is not None
    host, port = asyncio.run(primary_address(
        settings.store_url, timeout=max(settings.redis_socket_timeout, 5.0)))
    return ["-h", host, "-p", str(port)]


def _key_files(settings: Settings) -> dict[str, Path]:
    """The key files a backup carries, by their name in the backup."""
    return {"audit.key": settings.audit_key_path, "secrets.key": settings.secrets_key_path}


def _make_private(root: Path) -> None:
    """Directories 0700 and files 0600 under `root` (itself included); links are skipped."""
    root.chmod(0o700)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            path = Path(dirpath, name)
            if not path.is_symlink():
                path.chmod(0o700)
        for name in filenames:
            path = Path(dirpath, name)
            if not path.is_symlink():
                path.chmod(0o600)


def _restore(settings: Settings, src: Path) -> int:
    """Load `src/dump.rdb` into the embedded Redis of the data directory (stopped), rebuild
    its AOF from it, and put the audit segments and the audit key back."""
    from api.redis_server import EmbeddedRedis

    if settings.store_url:
        return _fail("--restore works on the embedded Redis only; for REDIS_URL restore the "
                     "RDB with your Redis tooling (see README).")
    rdb = src / "dump.rdb"
    if not rdb.exists():
        return _fail(f"{rdb} does not exist; give the directory written by `moderation backup`.")
    server = EmbeddedRedis(settings.data_dir, appendonly=False)
    if server.running():
        return _fail("the embedded Redis of this data directory is running; stop "
                     "`moderation serve` first.")
    server.dir.mkdir(parents=True, exist_ok=True)
    aof = server.dir / "appendonlydir"
    if aof.exists():
        aof.rename(server.dir / f"appendonlydir.before-restore-{int(time.time())}")
    shutil.copy2(rdb, server.dir / "dump.rdb")
    server.start(own=False)  # appendonly no: loads dump.rdb
    try:
        keys_loaded = server.enable_aof()
    finally:
        server.stop()
    if (src / "audit").exists():
        shutil.copytree(src / "audit", settings.audit_path, dirs_exist_ok=True)
    for name, key in _key_files(settings).items():
        if (src / name).exists():
            key.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / name, key)
            key.chmod(0o600)
    print(f"restored {keys_loaded} keys into {server.dir} (AOF rebuilt) and the audit "
          f"segments into {settings.audit_path}", file=sys.stderr)
    return EXIT_OK


# -- credentials (compatibility with Tencent Cloud TMS / Alibaba Cloud Green) -------------


def _credential_store(settings: Settings, r: Any) -> Any:
    from api.secretbox import SecretBox
    from api.store.credentials import CredentialStore

    return CredentialStore(r, SecretBox.from_file(settings.secrets_key_path))


def _cmd_credentials_create(args: argparse.Namespace) -> int:
    settings = _settings(args)

    async def go(r: Any) -> Any:
        return await _credential_store(settings, r).create(
            args.client, actor=_actor(), rate_limit=args.rate_limit)

    secret_id, secret_key, rec = _run_async(settings, go)
    print(f"{secret_id} {secret_key}")
    print(f"created credential {rec.secret_id} for client {rec.client}; the secret key is "
          "shown only once, store it now", file=sys.stderr)
    return EXIT_OK


def _cmd_credentials_list(args: argparse.Namespace) -> int:
    from api.store.credentials import CredentialStore

    settings = _settings(args)
    recs = _run_async(settings, lambda r: CredentialStore(r, None).list())  # type: ignore[arg-type]
    for rec in recs:
        print(json.dumps(rec.to_dict(), ensure_ascii=False))
    return EXIT_OK


def _cmd_credentials_revoke(args: argparse.Namespace) -> int:
    from api.store.credentials import CredentialStore

    settings = _settings(args)
    rec = _run_async(settings, lambda r: CredentialStore(r, None).revoke(  # type: ignore[arg-type]
        args.secret_id, actor=_actor()))
    print(f"revoked credential {rec.secret_id} of client {rec.client}", file=sys.stderr)
    return EXIT_OK


def _register_credentials(sub: Any) -> None:
    cred = sub.add_parser("credentials", help="SecretId/SecretKey pairs for the Tencent Cloud "
                          "TMS and Alibaba Cloud Green compatible endpoint")
    csub = cred.add_subparsers(dest="credentials_command", required=True)
    p = csub.add_parser("create", help="create a pair for CLIENT; prints ONLY "
                        "'SECRET_ID SECRET_KEY'")
    p.add_argument("client", metavar="CLIENT")
    p.add_argument("--rate-limit", type=int, default=None, help="items per second")
    _add_store_options(p)
    p.set_defaults(func=_key_guard(_cmd_credentials_create))
    p = csub.add_parser("list", help="list credentials (JSON lines, no secrets)")
    _add_store_options(p)
    p.set_defaults(func=_guard(_cmd_credentials_list))
    p = csub.add_parser("revoke", help="revoke the credential with that SecretId")
    p.add_argument("secret_id", metavar="SECRET_ID")
    _add_store_options(p)
    p.set_defaults(func=_guard(_cmd_credentials_revoke))


# -- lexicon import / export ------------------------------------------------------------


def _read_import(args: argparse.Namespace) -> Any:
    """The import report of a TSV directory or a plain word list (nothing checked yet)."""
    from moderation.lexicon_import import read_directory, read_word_list

    path = Path(args.path)
    if path.is_dir():
        if args.category or args.severity:
            raise ValueError("--category and --severity are for word lists; a TSV "
                             "directory names them on each line")
        return read_directory(path)
    if not path.exists():
        raise ValueError(f"{path} does not exist")
    if not (args.category and args.severity):
        raise ValueError("a word list needs --category and --severity (one term per line)")
    return read_word_list(path, args.category, args.severity, args.match)


def _cmd_lexicon_import(args: argparse.Namespace) -> int:
    """Check first, write after: bad lines (each named) change nothing; single characters
    and terms inside many common words stop the import unless --force; a TSV directory
    replaces the lexicon, a word list adds to it; the new version is announced to every
    running process."""
    from api import audit
    from api.store.lexicon_content import Content, TermRow
    from api.store.lexicon_versions import LexiconVersions
    from moderation.errors import ModerationError
    from moderation.lexicon_import import check_import

    try:
        report = _read_import(args)
    except ModerationError as exc:
        return _fail(exc.message)
    except ValueError as exc:
        return _fail(str(exc))
    if report.bad_lines:
        for line in report.bad_lines:
            print(line, file=sys.stderr)
        print(f"moderation: {len(report.bad_lines)} bad line(s) in {args.path}; nothing was "
              "imported", file=sys.stderr)
        return EXIT_FOUND
    replace = Path(args.path).is_dir()
    settings = _settings(args)

    async def go(r: Any) -> int:
        versions = LexiconVersions(r)
        current = await versions.current()
        base = await versions.content(current) if current is not None else None
        if base is None and not replace:
            print("moderation: the store holds no lexicon version yet; start the service "
                  "once (it seeds version 1) or import a TSV directory first", file=sys.stderr)
            return EXIT_USAGE
        existing = () if replace or base is None else (t.key for t in base.terms)
        check_import(report, existing)
        print(json.dumps({"path": args.path, "mode": "replace" if replace else "add",
                          "base_version": current, **report.to_dict()}, ensure_ascii=False))
        if report.risky and not args.force:
            print("moderation: terms that are common words or fire inside many common "
                  "words (common_words above); remove them, or --force; nothing was "
                  "imported", file=sys.stderr)
            return EXIT_FOUND
        if args.dry_run:
            print("moderation: dry run; nothing was imported", file=sys.stderr)
            return EXIT_OK
        now, actor = audit.now_iso(), _actor()
        new = Content.from_terms(report.terms, report.allow, author=actor, time=now,
                                 note=args.note or "")
        if not replace and base is not None:
            added = tuple(TermRow(t.term, t.category, t.severity, t.match, args.note or "",
                                  actor, now, t.fuzzy) for t in report.terms)
            new = Content(base.terms + added, base.allow)
        meta = await versions.publish(new, base=current, actor=actor, role="cli",
                                      action="import", note=args.note or "",
                                      changes={"add": len(report.terms)})
        print(json.dumps(meta.to_dict(), ensure_ascii=False))
        return EXIT_OK

    return _run_async(settings, go)


def _cmd_lexicon_export(args: argparse.Namespace) -> int:
    """Write a version (the current one by default) as a TSV directory; the directory's
    old *.tsv files are replaced, so it holds exactly that version (keep it in git)."""
    from api.store.lexicon_versions import LexiconVersions
    from moderation.lexicon import write_directory

    settings = _settings(args)
    out = Path(args.dir)
    if out.exists() and not out.is_dir():
        return _fail(f"{out} exists and is not a directory")

    async def go(r: Any) -> int:
        versions = LexiconVersions(r)
        n = args.version or await versions.current()
        if n is None:
            return _fail("the store holds no lexicon version yet")
        content = await versions.content(n)
        meta = await versions.meta(n)
        if out.is_dir():
            for old in out.glob("*.tsv"):
                old.unlink()
        files = write_directory(out, content.library_terms(), [a.phrase for a in content.allow],
                                header=f"lexicon version {n}, content_hash "
                                       f"{meta.content_hash}")
        print(json.dumps({"version": n, "content_hash": meta.content_hash,
                          "files": [str(f) for f in files], "counts": meta.counts},
                         ensure_ascii=False))
        return EXIT_OK

    return _run_async(settings, go)


def register_lexicon(lsub: Any) -> None:
    """Add `lexicon import` and `lexicon export` (they talk to Redis) beside `check`."""
    from moderation.lexicon import MATCH_MODES

    p = lsub.add_parser("import", help="check, then publish a TSV directory (replaces the "
                        "lexicon) or a word list (adds to it) as a new version")
    p.add_argument("path", metavar="DIR|FILE")
    p.add_argument("--category", default=None, help="category of every word of a word list")
    p.add_argument("--severity", default=None, choices=("block", "review"),
                   help="severity of every word of a word list")
    p.add_argument("--match", default="substring", choices=MATCH_MODES,
                   help="match mode of every word of a word list (default substring)")
    p.add_argument("--note", default="", help="why (kept with the version; audited)")
    p.add_argument("--dry-run", action="store_true", help="report only; write nothing")
    p.add_argument("--force", action="store_true",
                   help="import although single characters or common-word terms were found")
    _add_store_options(p)
    p.set_defaults(func=_guard(_cmd_lexicon_import))
    p = lsub.add_parser("export", help="write a version as a TSV directory")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--version", type=int, default=None, help="default: the current version")
    _add_store_options(p)
    p.set_defaults(func=_guard(_cmd_lexicon_export))


# -- webhook ----------------------------------------------------------------------------


def _webhook_store(settings: Settings, r: Any) -> Any:
    from api.secretbox import SecretBox
    from api.store.webhooks import WebhookStore

    return WebhookStore(r, lambda: SecretBox.from_file(settings.secrets_key_path))


def _cmd_webhook_set(args: argparse.Namespace) -> int:
    settings = _settings(args)
    secret, hook = _run_async(settings, lambda r: _webhook_store(settings, r).set(
        args.client, args.url, allow_origins=settings.callback_allow_origins, actor=_actor()))
    print(secret)
    print(f"webhook of client {hook.client} set to {hook.url} (origin {hook.origin}); the "
          "signing secret above is shown only once, store it now", file=sys.stderr)
    return EXIT_OK


def _cmd_webhook_rotate(args: argparse.Namespace) -> int:
    settings = _settings(args)
    secret, hook = _run_async(settings, lambda r: _webhook_store(settings, r).rotate(
        args.client, actor=_actor()))
    print(secret)
    print(f"new signing secret for the webhook of client {hook.client}; the old one no longer "
          "signs; shown only once, store it now", file=sys.stderr)
    return EXIT_OK


def _cmd_webhook_list(args: argparse.Namespace) -> int:
    settings = _settings(args)
    for hook in _run_async(settings, lambda r: _webhook_store(settings, r).list()):
        print(json.dumps(hook.to_dict(), ensure_ascii=False))
    return EXIT_OK


def _cmd_webhook_remove(args: argparse.Namespace) -> int:
    settings = _settings(args)
    hook = _run_async(settings, lambda r: _webhook_store(settings, r).remove(
        args.client, actor=_actor()))
    print(f"removed the webhook of client {hook.client}; its undelivered deliveries are "
          "dropped", file=sys.stderr)
    return EXIT_OK


def _register_webhook(sub: Any) -> None:
    webhook = sub.add_parser("webhook", help="webhooks that tell portals of final verdicts")
    wsub = webhook.add_subparsers(dest="webhook_command", required=True)
    p = wsub.add_parser("set", help="register CLIENT's webhook URL; prints ONLY the new "
                        "signing secret")
    p.add_argument("client", metavar="CLIENT")
    p.add_argument("--url", required=True, help="http(s) URL the service POSTs verdicts to")
    _add_store_options(p)
    p.set_defaults(func=_key_guard(_cmd_webhook_set))
    p = wsub.add_parser("rotate-secret", help="a new signing secret for CLIENT's webhook; "
                        "prints ONLY the secret")
    p.add_argument("client", metavar="CLIENT")
    _add_store_options(p)
    p.set_defaults(func=_key_guard(_cmd_webhook_rotate))
    p = wsub.add_parser("list", help="list webhooks (JSON lines, no secrets)")
    _add_store_options(p)
    p.set_defaults(func=_key_guard(_cmd_webhook_list))
    p = wsub.add_parser("remove", help="remove CLIENT's webhook")
    p.add_argument("client", metavar="CLIENT")
    _add_store_options(p)
    p.set_defaults(func=_key_guard(_cmd_webhook_remove))


# -- registration -----------------------------------------------------------------------


def register(sub: Any) -> None:
    """Add `serve`, `apikey`, `user`, `audit` and `backup` to the `moderation` command."""
    from moderation.cli import add_pipeline_options

    serve = sub.add_parser("serve", help="run the HTTP API (embedded Redis unless REDIS_URL)")
    serve.add_argument("--host", default=_env("host"), help="env MODERATION_HOST (127.0.0.1)")
    serve.add_argument("--port", type=int, default=_env("port"), help="env MODERATION_PORT "
                       "(8000)")
    serve.add_argument("--workers", type=int, default=_env("workers"),
                       help="worker processes (env MODERATION_WORKERS, default: CPU cores)")
    _add_store_options(serve)
    add_pipeline_options(serve)
    serve.set_defaults(func=_guard(_cmd_serve))

    apikey = sub.add_parser("apikey", help="API keys of portal clients")
    asub = apikey.add_subparsers(dest="apikey_command", required=True)
    p = asub.add_parser("create", help="create a key for CLIENT; prints ONLY the key")
    p.add_argument("client", metavar="CLIENT")
    p.add_argument("--rate-limit", type=int, default=None, help="items per second")
    _add_store_options(p)
    p.set_defaults(func=_guard(_cmd_apikey_create))
    p = asub.add_parser("list", help="list keys (JSON lines, no secrets)")
    _add_store_options(p)
    p.set_defaults(func=_guard(_cmd_apikey_list))
    p = asub.add_parser("revoke", help="revoke the key with that ID")
    p.add_argument("id", metavar="ID")
    _add_store_options(p)
    p.set_defaults(func=_guard(_cmd_apikey_revoke))
    p = asub.add_parser("update", help="change the rate limit of the key with that ID, or "
                        "disable / re-enable it")
    p.add_argument("id", metavar="ID")
    p.add_argument("--rate-limit", default=None, metavar="N",
                   help="items per second, or 'default' for the service's limit")
    onoff = p.add_mutually_exclusive_group()
    onoff.add_argument("--disable", action="store_true",
                       help="refuse the key (401) until --enable; it is not revoked")
    onoff.add_argument("--enable", action="store_true", help="accept a disabled key again")
    _add_store_options(p)
    p.set_defaults(func=_guard(_cmd_apikey_update))

    user = sub.add_parser("user", help="reviewer, senior and admin accounts")
    usub = user.add_subparsers(dest="user_command", required=True)
    p = usub.add_parser("create", help="create an account (password prompted or from stdin)")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of standard input")
    _add_store_options(p)
    p.set_defaults(func=_guard(_cmd_user_create))
    p = usub.add_parser("list", help="list accounts (JSON lines)")
    _add_store_options(p)
    p.set_defaults(func=_guard(_cmd_user_list))
    p = usub.add_parser("update", help="change role, disable/enable, or set a new password")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--role", choices=ROLES)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--disable", action="store_true")
    g.add_argument("--enable", action="store_true")
    p.add_argument("--password", action="store_true", help="prompt for a new password")
    p.add_argument("--password-stdin", action="store_true")
    _add_store_options(p)
    p.set_defaults(func=_guard(_cmd_user_update))

    audit = sub.add_parser("audit", help="the audit log")
    ausub = audit.add_subparsers(dest="audit_command", required=True)
    p = ausub.add_parser("verify", help="recompute the chain; exit 1 naming the first break")
    p.add_argument("--anchor", metavar="SEQ:HASH", default=None,
                   help="also check that the chain still holds this anchor (printed earlier "
                        "by `moderation audit anchor`)")
    _add_store_options(p)
    p.set_defaults(func=_key_guard(_cmd_audit_verify))
    p = ausub.add_parser("anchor", help="verify, then print the head SEQ:HASH to record "
                         "outside the service")
    _add_store_options(p)
    p.set_defaults(func=_key_guard(_cmd_audit_anchor))
    p = ausub.add_parser("export", help="write every event as JSONL to FILE")
    p.add_argument("file", metavar="FILE")
    _add_store_options(p)
    p.set_defaults(func=_guard(_cmd_audit_export))
    p = ausub.add_parser("seal", help="run one sealer pass now (the service does this itself)")
    _add_store_options(p)
    p.set_defaults(func=_key_guard(_cmd_audit_seal))

    backup = sub.add_parser("backup", help="write a consistent RDB snapshot and the audit "
                            "archive to DIR")
    backup.add_argument("dir", metavar="DIR")
    backup.add_argument("--restore", action="store_true",
                        help="restore DIR (written by `moderation backup`) into the embedded "
                             "Redis of --data-dir; the service must be stopped")
    _add_store_options(backup)
    backup.set_defaults(func=_guard(_cmd_backup))
    _register_credentials(sub)
    _register_webhook(sub)
