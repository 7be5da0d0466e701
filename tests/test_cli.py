"""The `moderation` command line, run as a user would (a subprocess per call)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SMALL = str(Path(__file__).parent / "data" / "lexicon_small")
BASE = ["--lexicon", SMALL, "--no-model"]


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "moderation.cli", *args],
        input=stdin,
        capture_output=True,
        timeout=120,
    )


def test_check_prints_one_json_decision() -> None:
    proc = run("check", *BASE, "--channel", "post", "--title", "标题", "出售冰 毒")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["decision"] == "block" and out["channel"] == "post"
    (hit,) = out["hits"]
    assert {k: hit[k] for k in ("term", "category", "severity", "start", "end", "text")} == {
        "term": "冰毒",
        "category": "drugs",
        "severity": "block",
        "start": 2,
        "end": 5,
        "text": "冰 毒",
    }
    assert out["masked_title"] == "标题"


def test_check_reads_stdin_and_defaults_to_comment() -> None:
    proc = run("check", *BASE, "-", stdin="加 微 信，电话13912345678\n".encode())
    out = json.loads(proc.stdout)
    assert out["channel"] == "comment" and out["decision"] == "review"
    assert out["masked_text"] == "加 微 信，电话139****5678"


def test_suppressed_hits_are_listed_on_request() -> None:
    out = json.loads(run("check", *BASE, "--suppressed", "坚决打击赌博").stdout)
    assert out["hits"] == [] and out["suppressed"][0]["term"] == "赌博"


def test_lines_mode_reports_bad_lines_and_exits_1(tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text("路灯坏了\n\n出售冰毒\n" + "长" * 10_001 + "\n", encoding="utf-8")
    proc = run("check", *BASE, "--lines", str(src))
    assert proc.returncode == 1
    rows = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert [r.get("decision") for r in rows] == ["pass", None, "block", None]
    assert rows[1]["error"]["code"] == "empty_content"
    assert rows[3]["error"]["code"] == "field_too_long"


def test_lines_mode_all_good_exits_0() -> None:
    proc = run("check", *BASE, "--lines", "-", stdin="路灯坏了\n噪音扰民\n".encode())
    assert proc.returncode == 0
    assert len(proc.stdout.decode().splitlines()) == 2


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["check", *BASE, "-"], b"\xff\xfe\xfa", "not valid UTF-8"),
        (["check", *BASE, "--lines", "-"], b"ok\n\xff\n", "not valid UTF-8"),
        (["check", *BASE, "长" * 10_001], None, "limit is 10000"),
        (["check", *BASE], None, "give the TEXT"),
        (["check", *BASE, "--lines", "/no/such/file"], None, "cannot read"),
        (["check", "--lexicon", "/no/such/dir", "--no-model", "x"], None, "not a directory"),
        (["check", *BASE, "--policy", "/no/such.toml", "x"], None, "cannot read policy"),
        (["check", *BASE, "--channel", "forum", "x"], None, "unknown channel"),
        (["check", "--lexicon", SMALL, "--model", "/no/such/model", "x"], None, "does not exist"),
        (["frobnicate"], None, "invalid choice"),
    ],
)
def test_bad_usage_exits_2_with_one_sentence(
    args: list[str], stdin: bytes | None, message: str
) -> None:
    proc = run(*args, stdin=stdin)
    assert proc.returncode == 2
    assert message in proc.stderr.decode()
    assert b"Traceback" not in proc.stderr


def test_lexicon_check_ok_and_bad(tmp_path: Path) -> None:
    ok = run("lexicon", "check", SMALL)
    assert ok.returncode == 0
    assert json.loads(ok.stdout)["terms"] == 9
    (tmp_path / "a.tsv").write_text("冰毒\tdrugs\n赌博\tgambling\tmaybe\n", encoding="utf-8")
    bad = run("lexicon", "check", str(tmp_path))
    assert bad.returncode == 1
    err = bad.stderr.decode()
    assert "a.tsv:1:" in err and "a.tsv:2:" in err


def test_environment_supplies_flag_defaults(tmp_path: Path) -> None:
    import os

    env = dict(
        os.environ, MODERATION_LEXICON=SMALL, MODERATION_MODEL="none", MODERATION_CHANNEL="post"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "moderation.cli", "check", "加微信"],
        capture_output=True,
        env=env,
        timeout=120,
    )
    out = json.loads(proc.stdout)
    assert (out["channel"], out["decision"], out["publish"]) == ("post", "review", False)


def test_closed_pipe_is_not_a_crash(tmp_path: Path) -> None:
    src = tmp_path / "many.txt"
    src.write_text("出售冰毒\n" * 20_000, encoding="utf-8")
    proc = subprocess.run(
        f"'{sys.executable}' -m moderation.cli check {' '.join(BASE)} --lines '{src}' | head -1",
        shell=True,
        capture_output=True,
        timeout=120,
    )
    assert json.loads(proc.stdout)["decision"] == "block"
    assert b"Traceback" not in proc.stderr and b"BrokenPipe" not in proc.stderr


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, True), ("0", False), ("false", False), ("off", False), ("1", True), ("Yes", True)],
)
def test_boolean_flags_read_the_environment(monkeypatch, raw: str | None, expected: bool) -> None:  # noqa: ANN001
    from moderation.cli import build_parser

    if raw is None:
        monkeypatch.delenv("MODERATION_QUANTIZE", raising=False)
    else:
        monkeypatch.setenv("MODERATION_QUANTIZE", raw)
    args = build_parser().parse_args(["check", "x"])
    assert args.quantize is expected
    assert build_parser().parse_args(["check", "--no-quantize", "x"]).quantize is False


def test_serve_with_a_broken_model_is_a_startup_error(tmp_path: Path) -> None:
    broken = tmp_path / "model"
    broken.mkdir()
    (broken / "config.json").write_text("{not json", encoding="utf-8")
    for model in (str(tmp_path / "missing"), str(broken)):
        proc = run("serve", "--model", model, "--data-dir", str(tmp_path / "var"))
        assert proc.returncode == 2, proc.stderr
        assert b"Traceback" not in proc.stderr
        assert not (tmp_path / "var" / "redis" / "redis.pid").exists()  # nothing was started


@pytest.mark.parametrize("mode", [["你好"], ["--lines", "-"]])
def test_unknown_channel_fails_before_the_model_loads(tmp_path: Path, mode: list[str]) -> None:
    """A model that cannot load would be the error if it were loaded first (it took 5 s)."""
    proc = run("check", "--channel", "nosuch", "--model", str(tmp_path / "no-model"), *mode,
               stdin="你好\n".encode())
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert err.strip().splitlines() == [
        "moderation: unknown channel 'nosuch' (known: comment, message, post, profile)"], err


def test_loading_the_model_prints_no_progress_bar() -> None:
    proc = run("check", "--model", "default", "你好")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["versions"]["model"]  # the model did load
    err = proc.stderr.decode()
    assert "Loading" not in err and "it/s" not in err and "\r" not in err, err
