#!/usr/bin/env bash
# The whole test suite, from a fresh clone: install what is missing, lint, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh --browser  # chromium too: the browser tests (tests/ui/) need it
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
