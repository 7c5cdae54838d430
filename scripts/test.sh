#!/usr/bin/env bash
# Set up and run every check (what .ci/run calls): ruff, mypy --strict, then the whole pytest suite in parallel
# (pytest-xdist; with GNOME Keyring installed first when it can be, for the real-keyring tests).
# Extra arguments go to pytest, after ours: `-n 0` runs in one process, `-m "not slow"` is the quick loop.
# XAI_OAUTH_TEST_WORKERS sets the number of workers: 4 by default, twice the 2 cores CI has, as many tests wait
# on other processes and sockets rather than on a core.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
bash scripts/os-packages.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check --quiet xai_oauth exports.py tests bench
.venv/bin/mypy
exec .venv/bin/python -m pytest -n "${XAI_OAUTH_TEST_WORKERS:-4}" --dist loadgroup "$@"
