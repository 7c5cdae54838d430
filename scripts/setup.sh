#!/usr/bin/env bash
# Create .venv and install xai-oauth into it (editable) with the extras named by $1 (default: test).
# Idempotent: a stamp remembers what was installed for which pyproject.toml, Python and folder, so a re-run
# with nothing changed costs well under a second. pip's chatter (and setuptools' editable-install warning
# box) goes to .venv/setup.log, which is printed only when the install fails.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-test}"
stamp=".venv/.installed-$extras"
want="$(python3 - <<'PY'
import hashlib, os, sys
print(sys.version.split()[0], os.getcwd(), hashlib.sha256(open("pyproject.toml", "rb").read()).hexdigest())
PY
)"
if [[ -x .venv/bin/python && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    exit 0
fi
[[ -x .venv/bin/python ]] || python3 -m venv .venv
log=.venv/setup.log
if ! { .venv/bin/python -m pip install --disable-pip-version-check --upgrade pip &&
       .venv/bin/python -m pip install --disable-pip-version-check -e ".[$extras]"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "setup: installing xai-oauth[$extras] into .venv failed (the log is above, and in $log)" >&2
    exit 1
fi
echo "$want" >"$stamp"
echo "setup: .venv has xai-oauth[$extras] (pip's log: $log)"
