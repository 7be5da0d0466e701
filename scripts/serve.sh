#!/usr/bin/env bash
# Bring the service up from a fresh clone: install what is missing (redis-server, the venv,
# the project), then run `moderation serve` with its embedded Redis under ./var.
# Flags are passed through (e.g. scripts/serve.sh --port 8080 --workers 4); settings also
# come from MODERATION_* variables and REDIS_URL (see README "Running the service").
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
exec .venv/bin/moderation serve "$@"
