#!/usr/bin/env bash
# Start the local high-availability demo (scripts/ha/ha_set.py): a Redis primary, two
# replicas, three Sentinels and two API processes on free loopback ports.
#   scripts/ha/start.sh [DIR] [--acks N]      (DIR default var/ha)
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" exec "$PY" scripts/ha/ha_set.py start "$@"
