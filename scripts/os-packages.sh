#!/usr/bin/env bash
# The OS packages the tests use beside Python:
# - GNOME Keyring and D-Bus, so the keyring store is tested against a real Secret Service (tests/test_real_keyring.py);
# - PostgreSQL, so the shared state store is tested against a real server (tests/support/postgres.py);
# - Chromium, so the console is clicked through in a real browser (tests/test_console_browser.py, via Playwright).
# Installs what is missing when this is root with apt-get (CI); elsewhere says which tests will be skipped.
# Silent when everything is there.
set -euo pipefail
want=()
if ! command -v gnome-keyring-daemon >/dev/null || ! command -v dbus-run-session >/dev/null; then
    want+=(gnome-keyring)
fi
if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && ! command -v initdb >/dev/null; then
    want+=(postgresql)
fi
if ! command -v chromium >/dev/null; then
    want+=(chromium)
fi
[ ${#want[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "note: ${want[*]} missing and this is not root with apt-get; the tests that need them will be skipped" \
        "(install ${want[*]} to run them)." >&2
    exit 0
fi
log=$(mktemp)
export DEBIAN_FRONTEND=noninteractive
# gnome-keyring pulls in dbus-user-session (dbus-run-session, dbus-daemon). Package lists may be empty on a fresh
# machine: update them only when the first try fails. The postgresql package's own cluster is not used (the tests
# run initdb into a temporary directory), so its service is not started.
if ! apt-get install -y -q --no-install-recommends "${want[@]}" >"$log" 2>&1; then
    if ! { apt-get update -q && apt-get install -y -q --no-install-recommends "${want[@]}"; } >>"$log" 2>&1; then
        cat "$log" >&2
        echo "error: could not install ${want[*]} (output above)" >&2
        exit 1
    fi
fi
rm -f "$log"
echo "installed ${want[*]} (for the real-keyring, PostgreSQL and browser tests)"
