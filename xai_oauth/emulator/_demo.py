"""The demo: a whole sign-in against the emulator, each step a fresh process, as an agent runs it.

The "person" approves on the emulator's verification page, by submitting its
form over HTTP exactly as a browser would. Output is what the agent would
show: the JSON of every export, none of it secret.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from urllib.parse import parse_qs, urlsplit
from urllib.request import urlopen

from ._server import Emulator

SKILL_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_export(
    expression: str, env: dict[str, str], timeout: float = 120, cwd: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``print(json.dumps(exports.<expression>))`` in a fresh interpreter with the skill dir on sys.path.

    This is the agent's heredoc, word for word in effect; the demo and the
    end-to-end tests both go through it.
    """
    code = (
        f"import json, sys; sys.path.insert(0, {SKILL_DIR!r}); import exports; print(json.dumps(exports.{expression}))"
    )
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout, cwd=cwd
    )


def parse_export(done: subprocess.CompletedProcess[str], expression: str) -> dict[str, object]:
    """The dict an export printed; ``RuntimeError`` if the process failed (an export must never raise)."""
    if done.returncode != 0:
        raise RuntimeError(f"exports.{expression} exited {done.returncode}: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def call_export(expression: str, env: dict[str, str]) -> dict[str, object]:
    return parse_export(run_export(expression, env), expression)


def approve_in_browser(verification_url_with_code: str) -> None:
    """Submit the verification page's form, as the person's browser would."""
    user_code = parse_qs(urlsplit(verification_url_with_code).query)["user_code"][0]
    page = urlopen(verification_url_with_code, timeout=10).read().decode()
    assert "Approve" in page
    form = f"user_code={user_code}&decision=approve".encode()
    urlopen(urlsplit(verification_url_with_code)._replace(query="").geturl(), data=form, timeout=10).read()


def run_demo(emulator: Emulator) -> int:
    with tempfile.TemporaryDirectory(prefix="xai-oauth-demo-") as home:
        env = {**os.environ, **emulator.environ(), "XAI_OAUTH_HOME": home, "XAI_OAUTH_STORE": "file"}
        failures = 0

        def show(step: str, expression: str) -> dict[str, object]:
            nonlocal failures
            result = call_export(expression, env)
            print(f"$ {step}\n{json.dumps(result, indent=2)}\n", flush=True)
            failures += 0 if result.get("ok") else 1
            return result

        print(f"Emulator on {emulator.url}; state in a temporary XAI_OAUTH_HOME.\n")
        started = show("start()", "start()")
        if not started.get("ok"):
            return 1
        print(f"(the person opens {started['verification_url_with_code']} and presses Approve)\n")
        approve_in_browser(str(started["verification_url_with_code"]))
        connected = show("poll()  # after the person says they approved", "poll()")
        show("status()", "status()")
        show("models()", "models()")
        show("chat('xai-grok/grok-4.3', 'Hello, Grok')", "chat('xai-grok/grok-4.3', 'Hello, Grok')")
        show(
            "chat('xai-grok/grok-4.20-multi-agent-0309', 'Plan a picnic', thinking={'effort': 'high'})",
            "chat('xai-grok/grok-4.20-multi-agent-0309', 'Plan a picnic', thinking={'effort': 'high'})",
        )
        show("refresh(force=True)", "refresh(force=True)")
        show("logout()", "logout()")
        show("status()", "status()")
        ok = failures == 0 and connected.get("status") == "connected"
        print("demo:", "signed in, listed models, asked both lanes, refreshed and signed out" if ok else "FAILED")
        return 0 if ok else 1
