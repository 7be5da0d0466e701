"""The `moderation` command line (filled in by the pipeline issue)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    print("moderation: not built yet", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
