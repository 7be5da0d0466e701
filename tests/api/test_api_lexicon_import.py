"""`moderation lexicon import|export` through the real CLI on a real Redis: an import with
bad lines changes nothing and names every one; duplicates, same-key spellings, single
characters and common-word terms (政府) are reported before anything is written; a TSV
directory round-trips through export and import with the same content hash."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from api_test_support import cli

from api.store import keys
from moderation.lexicon import Lexicon
from moderation.pipeline import SHIPPED_LEXICON


@pytest.fixture
def env(redis_server, rdb):
    return {"REDIS_URL": redis_server.url}


def seed(env) -> dict:
    out = cli("lexicon", "import", str(SHIPPED_LEXICON), "--note", "seed", env=env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def state(rdb) -> tuple[str | None, int, int]:
    return rdb.get(keys.LEXICON_CURRENT), rdb.hlen(keys.LEXICON_VERSIONS), rdb.xlen(
        keys.AUDIT_STREAM)


def test_a_directory_seeds_and_round_trips_through_export(env, rdb, tmp_path):
    meta = seed(env)
    assert meta["version"] == 1 and meta["action"] == "import"
    assert meta["content_hash"] == Lexicon.load(SHIPPED_LEXICON).content_hash
    out = cli("lexicon", "export", str(tmp_path / "exported"), env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["version"] == 1
    assert Lexicon.load(tmp_path / "exported").content_hash == meta["content_hash"]
    again = cli("lexicon", "import", str(tmp_path / "exported"), env=env)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout.splitlines()[-1])["content_hash"] == meta["content_hash"]


def test_bad_lines_change_nothing_and_each_is_named(env, rdb, tmp_path):
    seed(env)
    before = state(rdb)
    words = tmp_path / "words.txt"
    words.write_text("# 注释\n出售假证件\n办理\t假证\n\n***\n代办假学历\n假\x07证\n",
                     encoding="utf-8")
    out = cli("lexicon", "import", str(words), "--category", "fraud", "--severity", "block",
              env=env)
    assert out.returncode == 1
    named = [line for line in out.stderr.splitlines() if line.startswith(str(words))]
    assert [line.split(":")[1] for line in named] == ["3", "5", "7"], out.stderr
    assert "3 bad line(s)" in out.stderr and "nothing was imported" in out.stderr
    assert state(rdb) == before
    # a TSV directory with bad lines: every one named, nothing changed
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "fraud.tsv").write_text("出售假证件\tfraud\tblock\n假证\tfraud\n代办\tnope\tblock\n"
                                   "办证\tfraud\tsometimes\n", encoding="utf-8")
    out = cli("lexicon", "import", str(bad), env=env)
    assert out.returncode == 1
    assert [ln.split(":")[1] for ln in out.stderr.splitlines() if "fraud.tsv:" in ln] == \
        ["2", "3", "4"]
    assert state(rdb) == before


def test_risky_terms_are_reported_before_anything_is_written(env, rdb, tmp_path):
    seed(env)
    before = state(rdb)
    words = tmp_path / "public.txt"
    words.write_text("政府\n假\n出售假证件\n出售假证件\n出售 假证件\n冰毒\n代办假学历\n",
                     encoding="utf-8")
    args = ("lexicon", "import", str(words), "--category", "fraud", "--severity", "block")
    out = cli(*args, env=env)
    assert out.returncode == 1 and "nothing was imported" in out.stderr
    report = json.loads(out.stdout)
    risky = {r["term"]: r for r in report["common_words"]}
    assert set(risky) == {"政府", "假"}  # 假 sits inside 假期, 假如…
    assert risky["政府"]["inside_words"] >= 10 and risky["政府"]["word_frequency"] > 1000
    assert "人民政府" in risky["政府"]["examples"]
    assert report["single_chars"] == ["假"]
    dups = {(d["term"], d["same_spelling"]) for d in report["duplicates"]}
    assert dups == {("出售假证件", True), ("出售 假证件", False), ("冰毒", False)}
    assert report["terms"] == 4  # 政府, 假, 出售假证件, 代办假学历
    assert state(rdb) == before
    dry = cli(*args, "--dry-run", "--force", env=env)
    assert dry.returncode == 0 and state(rdb) == before
    # without the risky words the list goes in as version 2, announced and audited
    words.write_text("出售假证件\n代办假学历\n冰毒\n", encoding="utf-8")
    ok = cli(*args, "--note", "ticket 7", env=env)
    assert ok.returncode == 0, ok.stderr
    meta = json.loads(ok.stdout.splitlines()[-1])
    assert meta["version"] == 2 and meta["counts"]["fraud"] == \
        Lexicon.load(SHIPPED_LEXICON).counts["fraud"] + 2
    events = [json.loads(e[1]["e"]) for e in rdb.xrange(keys.AUDIT_STREAM)]
    assert events[-1]["action"] == "lexicon.import" and events[-1]["actor"].startswith("cli")


def test_usage_errors_are_one_sentence_and_exit_2(env, rdb, tmp_path):
    words = tmp_path / "w.txt"
    words.write_text("出售假证件\n", encoding="utf-8")
    out = cli("lexicon", "import", str(words), env=env)
    assert out.returncode == 2 and "--category and --severity" in out.stderr
    out = cli("lexicon", "import", str(words), "--category", "nope", "--severity", "block",
              env=env)
    assert out.returncode == 2 and "unknown category 'nope'" in out.stderr
    out = cli("lexicon", "import", str(words), "--category", "fraud", "--severity", "block",
              env=env)  # no version in the store to add to
    assert out.returncode == 2 and "no lexicon version" in out.stderr
    assert cli("lexicon", "export", str(tmp_path / "x"), env=env).returncode == 2


def test_lexicon_check_still_does_not_import_the_service():
    code = ("import sys; from moderation.cli import build_parser; "
            "build_parser(['lexicon', 'check', 'lexicons']); "
            "print(any(m == 'api' or m.startswith('api.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
