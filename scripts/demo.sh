#!/usr/bin/env bash
# The main job: set up, start the built-in emulator, and sign in the way an agent does (one fresh process per call).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m xai_oauth.emulator --demo
