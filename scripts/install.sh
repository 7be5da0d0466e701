#!/usr/bin/env bash
# Install everything a fresh clone needs, idempotently: Debian packages (redis-server),
# a virtual environment in .venv with the CPU torch wheel first (a torch range on its own
# would pull a multi-GB CUDA build), then this project with its dev extras.
# `--browser` also installs Debian's chromium for the browser tests (tests/ui/, driven by
# Playwright at /usr/bin/chromium; Playwright's own browser downloads are never used).
set -euo pipefail
cd "$(dirname "$0")/.."

browser=0
[ "${1:-}" = "--browser" ] && browser=1

apt_needed=()
command -v redis-server >/dev/null 2>&1 || apt_needed+=(redis-server)
[ "$browser" = 1 ] && [ ! -x /usr/bin/chromium ] && apt_needed+=(chromium)
# a CJK font, so the pages (and docs/ui-*.png) show Chinese rather than boxes
[ "$browser" = 1 ] && [ ! -d /usr/share/fonts/truetype/wqy ] && apt_needed+=(fonts-wqy-microhei)
if [ "${#apt_needed[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "install: apt-get install ${apt_needed[*]}" >&2
  $sudo apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
    "${apt_needed[@]}" >/dev/null
fi

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "install: Python 3.11 or newer is needed (found $("$python" --version 2>&1))" >&2
  exit 2
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -c 'import torch' >/dev/null 2>&1 || {
  echo "install: pip install torch==2.13.0 (CPU)" >&2
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q torch==2.13.0
}
# Re-install the project only when its dependency list changed.
stamp=.venv/.pyproject.sha256
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "install: pip install -e .[dev]" >&2
  .venv/bin/pip install -q -e '.[dev]'
  echo "$want" > "$stamp"
fi
