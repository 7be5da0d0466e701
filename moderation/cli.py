"""The `moderation` command line.

Exit codes: 0 ok; 1 the command ran but found a problem (a bad input line, an invalid
lexicon, a broken audit chain); 2 bad usage, unreadable input, or a start-up error.
Every flag also reads `MODERATION_<FLAG>` from the environment (`--data-dir` →
`MODERATION_DATA_DIR`); the environment is read here, at the entry point, and nowhere in
the library. Service subcommands import the service lazily so `check` stays light.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from moderation.errors import InputError, ModerationError
from moderation.pipeline import MAX_FIELD_CHARS, Moderator

#: Modules that add subcommand groups with a `register(subparsers)` function.
_SUBCOMMAND_MODULES = ("moderation.cli_model",)

#: The service's subcommands, registered by `api.cli` (imported only when one of them runs,
#: so the library never imports the service); the help lines of their placeholders.
_SERVICE_MODULE = "api.cli"
_SERVICE_COMMANDS = {
    "serve": "run the HTTP API (embedded Redis unless REDIS_URL)",
    "apikey": "API keys of portal clients",
    "user": "reviewer, senior and admin accounts",
    "audit": "the audit log",
    "backup": "write a consistent RDB snapshot and the audit archive to DIR",
    "credentials": "SecretId/SecretKey pairs for the Tencent/Aliyun compatible endpoint",
    "webhook": "webhooks that tell portals of final verdicts",
}
#: `lexicon` subcommands that talk to Redis (registered by `api.cli.register_lexicon` only
#: when named, so `lexicon check` never imports the service).
_SERVICE_LEXICON_COMMANDS = {
    "import": "check, then publish a TSV directory or a word list as a new version",
    "export": "write a lexicon version from the store as a TSV directory",
}


def env_default(flag: str, default: Any = None) -> Any:
    """The default of `--flag`: `MODERATION_FLAG` when set, else `default`."""
    return os.environ.get("MODERATION_" + flag.upper().replace("-", "_"), default)


def env_flag(flag: str, default: bool) -> bool:
    """A boolean flag's default from `MODERATION_FLAG` (1/true/yes/on or 0/false/no/off)."""
    raw = env_default(flag)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


class UsageError(Exception):
    """Bad usage or unreadable input: one sentence on stderr, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        print(f"moderation: {message}", file=sys.stderr)
        sys.exit(2)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def add_pipeline_options(p: argparse.ArgumentParser) -> None:
    """--lexicon/--policy/--model/--no-model, shared by `check` and `serve`."""
    p.add_argument(
        "--lexicon",
        default=env_default("lexicon"),
        metavar="DIR",
        help="lexicon directory; replaces the shipped one (default: lexicons/)",
    )
    p.add_argument(
        "--policy", default=env_default("policy"), metavar="FILE", help="policy TOML file"
    )
    p.add_argument(
        "--model",
        default=os.environ.get("MODERATION_MODEL", "default"),
        metavar="DIR",
        help="classifier directory; 'default' = the shipped model, 'none' = no model "
        "(env MODERATION_MODEL)",
    )
    p.add_argument("--no-model", action="store_true", help="run lexicon and PII only")
    p.add_argument(
        "--quantize",
        action=argparse.BooleanOptionalAction,
        default=env_flag("quantize", True),
        help="int8 dynamic quantization of the classifier (default on: about twice as fast "
        "on CPU at equal accuracy; env MODERATION_QUANTIZE=0 turns it off)",
    )
    p.add_argument(
        "--model-threads",
        type=int,
        default=env_default("model_threads"),
        metavar="N",
        help="torch threads for the classifier",
    )


def build_moderator(args: argparse.Namespace) -> Moderator:
    """Load the pipeline from parsed options; errors become one-line UsageErrors."""
    from moderation.pipeline import load_moderator

    model = None if args.no_model else args.model
    threads = int(args.model_threads) if args.model_threads else None
    try:
        return load_moderator(
            args.lexicon,
            args.policy,
            model,
            model_threads=threads,
            quantize=args.quantize,
            warm=False,
        )
    except ModerationError as exc:
        raise UsageError(exc.message) from None


def check_channel(args: argparse.Namespace) -> None:
    """Refuse an unknown `--channel` from the policy alone, before the model loads (seconds)."""
    from moderation.policy import Policy

    try:
        Policy.load(args.policy).channel(args.channel)
    except ModerationError as exc:
        raise UsageError(exc.message) from None


def _read_bytes(source: str) -> bytes:
    if source == "-":
        return sys.stdin.buffer.read()
    try:
        with open(source, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror}") from None


def _decode(raw: bytes, source: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        where = "standard input" if source == "-" else source
        raise UsageError(f"{where} is not valid UTF-8 (byte {exc.start})") from None


def _cmd_check(args: argparse.Namespace) -> int:
    check_channel(args)
    if args.lines is not None:
        if args.text is not None:
            raise UsageError("give either TEXT or --lines, not both")
        return _check_lines(args)
    if args.text is None:
        raise UsageError(
            "give the TEXT to check, '-' to read it from standard input, or --lines FILE"
        )
    text = _decode(_read_bytes("-"), "-") if args.text == "-" else args.text
    if args.text == "-":
        text = text.rstrip("\n")
    if len(text) > MAX_FIELD_CHARS:
        raise UsageError(f"the text has {len(text)} characters; the limit is {MAX_FIELD_CHARS}")
    moderator = build_moderator(args)
    try:
        decision = moderator.moderate(text, title=args.title, channel=args.channel)
    except InputError as exc:
        raise UsageError(exc.message) from None
    print(_dumps(decision.to_dict(include_suppressed=args.suppressed)))
    return 0


def _check_lines(args: argparse.Namespace) -> int:
    text = _decode(_read_bytes(args.lines), args.lines)
    moderator = build_moderator(args)
    failed = False
    out = sys.stdout
    for line in text.splitlines():
        try:
            decision = moderator.moderate(line, channel=args.channel)
            out.write(_dumps(decision.to_dict(include_suppressed=args.suppressed)) + "\n")
        except InputError as exc:
            failed = True
            out.write(_dumps({"error": {"code": exc.code, "message": exc.message}}) + "\n")
    return 1 if failed else 0


def _cmd_lexicon_check(args: argparse.Namespace) -> int:
    from moderation.lexicon import Lexicon, check_directory

    try:
        terms, allow, problems = check_directory(args.dir)
    except ModerationError as exc:
        raise UsageError(exc.message) from None
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) in {args.dir}", file=sys.stderr)
        return 1
    lexicon = Lexicon(terms, [p for p, _ in allow])
    print(
        _dumps(
            {
                "terms": len(terms),
                "allow": len(allow),
                "counts": lexicon.counts,
                "content_hash": lexicon.content_hash,
            }
        )
    )
    return 0


def _command_of(argv: Sequence[str]) -> str | None:
    """The subcommand named in `argv` (its first word that is one), if any."""
    return next((a for a in argv if not a.startswith("-")), None)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for `argv` (default: `sys.argv[1:]`); the service's subcommands are loaded
    only when `argv` names one of them."""
    parser = _Parser(prog="moderation", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    check = sub.add_parser("check", help="moderate one text (or each line of a file)")
    check.add_argument("text", nargs="?", metavar="TEXT", help="the text, or - for standard input")
    check.add_argument("--lines", metavar="FILE", help="moderate each line of FILE (- = stdin)")
    check.add_argument("--title", default=None, help="an optional title field")
    check.add_argument("--channel", default=env_default("channel", "comment"))
    check.add_argument(
        "--suppressed", action="store_true", help="also list hits suppressed by the allow-list"
    )
    add_pipeline_options(check)
    check.set_defaults(func=_cmd_check)

    lexicon = sub.add_parser("lexicon", help="lexicon tools")
    lsub = lexicon.add_subparsers(dest="lexicon_command", required=True, parser_class=_Parser)
    lcheck = lsub.add_parser("check", help="validate a lexicon directory")
    lcheck.add_argument("dir", metavar="DIR")
    lcheck.set_defaults(func=_cmd_lexicon_check)
    words = [a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")]
    if words[:1] == ["lexicon"] and words[1:2] and words[1] in _SERVICE_LEXICON_COMMANDS:
        importlib.import_module(_SERVICE_MODULE).register_lexicon(lsub)
    else:
        for name, help_line in _SERVICE_LEXICON_COMMANDS.items():
            lsub.add_parser(name, help=help_line)

    for name in _SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a group not built yet
            if exc.name != name:
                raise
            continue
        register: Callable[[Any], None] = module.register
        register(sub)
    if _command_of(sys.argv[1:] if argv is None else argv) in _SERVICE_COMMANDS:
        importlib.import_module(_SERVICE_MODULE).register(sub)
    else:
        for name, help_line in _SERVICE_COMMANDS.items():
            sub.add_parser(name, help=help_line)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser(argv).parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args))
    except UsageError as exc:
        print(f"moderation: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`moderation check --lines big.txt | head`): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
