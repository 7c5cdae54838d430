#!/usr/bin/env bash
# Create .venv and install xai-oauth into it (editable) with the extras named by $1 (default: test).
# Installs from the lock, requirements-lock.txt (exact versions, each file checked against its hash; written by
# scripts/lock.sh), so every machine and CI get the same packages whatever was released today. The lock holds the
# dev extra (which holds test); other extras (bench) are installed on top, the lock's versions held.
# Idempotent: a stamp remembers what was installed for which pyproject.toml, lock, Python and folder, so a re-run
# with nothing changed costs well under a second. pip's chatter (and setuptools' editable-install warning
# box) goes to .venv/setup.log, which is printed only when the install fails.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-test}"
lock=requirements-lock.txt
stamp=".venv/.installed-$extras"
want="$(python3 - <<'PY'
import hashlib, os, sys
digest = lambda name: hashlib.sha256(open(name, "rb").read()).hexdigest()
print(sys.version.split()[0], os.getcwd(), digest("pyproject.toml"), digest("requirements-lock.txt"))
PY
)"
if [[ -x .venv/bin/python && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    exit 0
fi
[[ -x .venv/bin/python ]] || python3 -m venv .venv
log=.venv/setup.log
pip=(.venv/bin/python -m pip --disable-pip-version-check)
install() {
    # every locked package (pip and setuptools too), nothing resolved: the lock already is the resolution
    "${pip[@]}" install --require-hashes --no-deps -r "$lock" &&
    "${pip[@]}" install --no-deps --no-build-isolation -e . &&
    if [[ "$extras" != test && "$extras" != dev ]]; then
        # the extras the lock does not cover, with the lock's versions (less their hashes) held for the rest
        sed -n 's/^\([A-Za-z0-9][^ ]*==[^ ]*\)\( ;[^\\]*\)\? \\$/\1\2/p' "$lock" >.venv/lock-constraints.txt &&
        "${pip[@]}" install -c .venv/lock-constraints.txt -e ".[$extras]"
    fi &&
    "${pip[@]}" check
}
if ! install >"$log" 2>&1; then
    cat "$log" >&2
    echo "setup: installing xai-oauth[$extras] into .venv from $lock failed (the log is above, and in $log)." >&2
    echo "setup: after a change to pyproject.toml's dependencies, run bash scripts/lock.sh first." >&2
    exit 1
fi
echo "$want" >"$stamp"
echo "setup: .venv has xai-oauth[$extras] from $lock (pip's log: $log)"
