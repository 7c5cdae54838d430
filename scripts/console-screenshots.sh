#!/usr/bin/env bash
# Take the console's screenshots for the README again (docs/console-overview.png, docs/console-accounts.png),
# in Chromium through the browser test's story, and record the digest of the templates and static files they show
# (docs/console-screenshots.sha256; tests/test_console.py fails when the pages change and the pictures do not).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "--help" ]]; then
    sed -n '2,4p' "$0" | sed 's/^# //'
    exit 0
fi
bash scripts/setup.sh dev
bash scripts/os-packages.sh
XAI_OAUTH_UPDATE_SCREENSHOTS=1 XAI_OAUTH_TEST_REQUIRE_BROWSER=1 .venv/bin/python -m pytest -q -p no:cacheprovider \
    tests/test_console_browser.py -k "log_in_see_the_pool"
echo "screenshots: docs/console-overview.png docs/console-accounts.png (commit them with docs/console-screenshots.sha256)"
