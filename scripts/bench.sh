#!/usr/bin/env bash
# Set up .venv with the bench extra (the openai SDK, for comparison) and run every benchmark; writes bench/report.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh bench
bash scripts/os-packages.sh  # GNOME Keyring, for the keyring benchmark
exec .venv/bin/python bench/run_all.py "$@"
