#!/usr/bin/env bash
# Install everything the test suite needs on a fresh Debian machine with Python 3.11, then run
# lint, types and all tests (the browser tests included). Used by the README and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

# Headless Chromium and a CJK font for the browser tests (Debian packages; never `playwright install`).
if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "wenquanyi\|noto sans cjk"; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null
fi

# PostgreSQL server programs for the scenario-store tests on PostgreSQL (they skip without them).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi

python3 -m pip install -q --disable-pip-version-check -e ".[test]"

export SITING_CACHE_DIR="${SITING_CACHE_DIR:-$(mktemp -d)}"
python3 -m ruff check siting tests bench app.py
python3 -m mypy
# engine and AppTest suites in two workers; the real-browser and load tests alone afterwards,
# so ten browser sessions do not compete with the rest of the suite for the two cores
python3 -m pytest -n 2 --dist loadfile -q -m "not browser" "$@"
python3 -m pytest -q -m browser "$@"
