#!/usr/bin/env bash
# Stop the processes of a set started by scripts/ha/start.sh (by pid, from DIR/ha.json).
#   scripts/ha/stop.sh [DIR]                  (DIR default var/ha)
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" exec "$PY" scripts/ha/ha_set.py stop "$@"
