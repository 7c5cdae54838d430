"""The refresh storm: N fresh processes meet an expired access token at the same instant.

This is the agent's normal case (many short processes at once) and the one
where rotating refresh tokens go wrong: two processes spending the same
refresh token makes the provider revoke the grant. The storm signs in once
against the emulator, lets the access token really expire, then releases N
processes from a shared start time, each calling an export that needs a
token. The tests assert on the outcome; ``bench/bench_storm.py`` prints it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from typing import Any

from ._demo import SKILL_DIR, approve_in_browser, call_export
from ._server import Emulator

__all__ = ["StormResult", "run_storm", "sign_in"]

#: What each process runs: imports are paid *before* the shared start time, so
#: every process reaches the token at the same moment.
_STORM_PROCESS = """
import json, sys, time
sys.path.insert(0, {skill_dir!r})
import exports, filelock, jwt
import xai_oauth.auth._account, xai_oauth.auth._grants, xai_oauth.transport._http
late = time.time() - {start_at!r}
while time.time() < {start_at!r}:
    time.sleep(0.001)
result = exports.{call}
print(json.dumps({{"late": late, "result": result}}))
"""


@dataclass(frozen=True)
class StormResult:
    processes: int
    forced: bool
    #: refresh grants that reached the token endpoint during the storm
    refresh_requests: int
    #: of those, refused (a rotated-away token was sent: the grant is then revoked)
    refused: int
    #: processes whose export answered ok: False (or crashed)
    failures: int
    #: processes that were still importing at the start time (the storm was less simultaneous)
    late_starters: int
    #: a fresh process can still use the sign-in after the storm
    grant_works_after: bool
    seconds: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def run_storm(
    emulator: Emulator, processes: int, *, forced: bool = False, extra_env: dict[str, str] | None = None
) -> StormResult:
    """Sign in, expire the token (unless ``forced``), release ``processes`` callers at once, and count.

    ``extra_env`` adds to (or overrides) the callers' environment: the file store
    unless it says otherwise (a real keyring: its bus and ``XAI_OAUTH_STORE``).
    """
    with tempfile.TemporaryDirectory(prefix="xai-oauth-storm-") as home:
        env = {**os.environ, **emulator.environ(), "XAI_OAUTH_HOME": home, "XAI_OAUTH_STORE": "file"}
        env.update(extra_env or {})
        lifetime = emulator.settings.access_token_lifetime
        if not forced:
            emulator.settings.access_token_lifetime = 2.0
        try:
            sign_in(emulator, env)
        finally:
            emulator.settings.access_token_lifetime = lifetime
        if not forced:
            time.sleep(2.2)  # the access token is now expired at the server as well as for us
        before = emulator.stats()
        start_at = time.time() + 1.0 + 0.3 * processes
        code = _STORM_PROCESS.format(
            skill_dir=SKILL_DIR, start_at=start_at, call="refresh(force=True)" if forced else "models(refresh=True)"
        )
        children = [
            subprocess.Popen(
                [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            for _ in range(processes)
        ]
        outcomes = [_outcome(child) for child in children]
        seconds = time.time() - start_at
        after = emulator.stats()
        # refresh=True: past the fresh-listing TTL, so the call needs a working grant
        works_after = call_export("models(refresh=True)", env).get("ok") is True
    return StormResult(
        processes=processes,
        forced=forced,
        refresh_requests=after.get("refresh_requests", 0) - before.get("refresh_requests", 0),
        refused=after.get("refresh_refused", 0) - before.get("refresh_refused", 0),
        failures=sum(1 for o in outcomes if o["result"].get("ok") is not True),
        late_starters=sum(1 for o in outcomes if o["late"] > 0),
        grant_works_after=works_after,
        seconds=round(seconds, 2),
    )


def sign_in(emulator: Emulator, env: dict[str, str]) -> None:
    """start(), approve on the emulator, poll() once: one sign-in in the home ``env`` names."""
    started = call_export("start()", env)
    if not started.get("ok"):
        raise RuntimeError(f"start() failed: {started}")
    approve_in_browser(str(started["verification_url_with_code"]))
    connected = call_export("poll()", env)
    if connected.get("status") != "connected":
        raise RuntimeError(f"poll() did not connect: {connected}")


def _outcome(child: subprocess.Popen[str]) -> dict[str, Any]:
    """``{"late": seconds, "result": export dict}``; a crashed process counts as a failure."""
    out, err = child.communicate(timeout=120)
    try:
        return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]
    except (IndexError, ValueError):
        return {"late": 0.0, "result": {"ok": False, "error": "crashed", "stderr": err[-500:]}}
