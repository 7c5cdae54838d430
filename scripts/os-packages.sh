#!/usr/bin/env bash
# The OS packages the tests use beside Python: GNOME Keyring and D-Bus, so the keyring store is tested against a
# real Secret Service (tests/test_real_keyring.py). Installs them when missing and this is root with apt-get (CI);
# elsewhere says why those tests will be skipped. Silent when everything is there.
set -euo pipefail
if command -v gnome-keyring-daemon >/dev/null && command -v dbus-run-session >/dev/null; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "note: gnome-keyring-daemon or dbus-run-session is missing and this is not root with apt-get;" \
        "the real-keyring tests will be skipped (install gnome-keyring to run them)." >&2
    exit 0
fi
log=$(mktemp)
export DEBIAN_FRONTEND=noninteractive
# gnome-keyring pulls in dbus-user-session (dbus-run-session, dbus-daemon). Package lists may be empty on a fresh
# machine: update them only when the first try fails.
if ! apt-get install -y -q --no-install-recommends gnome-keyring >"$log" 2>&1; then
    if ! { apt-get update -q && apt-get install -y -q --no-install-recommends gnome-keyring; } >>"$log" 2>&1; then
        cat "$log" >&2
        echo "error: could not install gnome-keyring (output above)" >&2
        exit 1
    fi
fi
rm -f "$log"
echo "installed gnome-keyring (for the real-keyring tests)"
