#!/usr/bin/env bash
# Write requirements-lock.txt: the exact version and file hashes of everything the checkout installs (the dev
# extra, which holds the test one, and the pip and setuptools that install it), for Python 3.11+ on any platform.
# scripts/setup.sh, and so scripts/test.sh and CI, install from it; pyproject.toml keeps open ranges for users.
# Run it after changing a dependency in pyproject.toml: pins already in the lock are kept where they still fit.
# Extra arguments go to `uv pip compile`: `--upgrade` moves every pin to the newest release,
# `--upgrade-package NAME` one package.
set -euo pipefail
cd "$(dirname "$0")/.."
# uv comes with the dev extra; a lock that no longer installs (a dependency added) still left it in .venv.
if [[ ! -x .venv/bin/uv ]]; then
    bash scripts/setup.sh dev
fi
printf '%s\n' "pip" "setuptools>=68" | .venv/bin/uv pip compile --quiet pyproject.toml - --extra dev \
    --universal --python-version 3.11 --generate-hashes \
    --custom-compile-command "bash scripts/lock.sh" --output-file requirements-lock.txt "$@"
echo "lock: requirements-lock.txt written; commit it with the pyproject.toml change"
