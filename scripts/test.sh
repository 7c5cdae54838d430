#!/usr/bin/env bash
# Set up and run every check (what .ci/run calls): ruff, mypy --strict, then the whole pytest suite
# (with GNOME Keyring installed first when it can be, for the real-keyring tests).
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
bash scripts/os-packages.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check --quiet xai_oauth exports.py tests bench
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
