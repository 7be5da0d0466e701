"""Layout (CONTRACTS.md): the CLI imports the service lazily; routes never talk to Redis
themselves (everything Redis is in api/store/, key names in one module)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

API = Path(__file__).resolve().parents[2] / "api"


def test_cli_does_not_import_the_service_until_a_service_command_runs():
    code = ("import sys, moderation.cli as c; c.build_parser(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'api', 'fastapi', 'redis', 'uvicorn', 'starlette'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_routes_reach_redis_only_through_the_store():
    for path in sorted((API / "routes").glob("*.py")):
        text = path.read_text()
        assert not re.search(r"^\s*(import redis|from redis)", text, re.M), path.name
        assert "pm:" not in text, path.name  # key names live in api/store/keys.py


def test_key_names_are_built_in_one_module():
    for path in sorted((API / "store").glob("*.py")):
        if path.name in {"keys.py", "lua.py"}:
            continue
        assert '"pm:' not in path.read_text(), path.name


def test_the_service_console_and_background_work_live_in_api():
    root = API.parent
    assert not (root / "moderation" / "cli_service.py").exists()
    assert (API / "cli.py").exists()
    for pkg in ("audit", "workers"):
        assert (API / pkg / "__init__.py").exists(), pkg
    assert not (API / "store" / "lua.py").exists()  # scripts sit beside their callers
    for path in sorted((root / "moderation").rglob("*.py")):
        text = path.read_text()
        assert not re.search(r"^\s*(import|from) (api|fastapi|uvicorn|redis)\b", text, re.M), \
            path.name


def test_service_subcommands_still_run_through_the_moderation_command():
    out = subprocess.run([sys.executable, "-m", "moderation.cli", "audit", "--help"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "verify" in out.stdout
