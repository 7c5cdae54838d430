"""The OS keyring on the hot path: a chat call with the keyring store, against a bare POST and the file store.

Runs a real GNOME Keyring (``tests/support/secret_service.py``: its own D-Bus
session, a throwaway password), signs in twice against the emulator (one
home with ``XAI_OAUTH_STORE=keyring``, one with ``file``), then times, in
fresh processes, alternating, medians:

- **bare POST**: ``httpx2.post`` of the same request to the same endpoint
  with the bearer and the proxy headers already in hand: the least any
  client must do;
- ``exports.chat('xai-grok/grok-4.3', …)`` with each store.

Goal: the keyring call at most 1.15x the bare POST. Then the refresh storm
(N fresh processes meet an expired token at once) with the keyring store.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench_chat import PROMPT, agent_block, time_process  # noqa: E402

from tests.support.secret_service import SecretService, missing  # noqa: E402
from xai_oauth.emulator import Emulator  # noqa: E402
from xai_oauth.emulator._demo import call_export  # noqa: E402
from xai_oauth.emulator._storm import StormResult, run_storm, sign_in  # noqa: E402

MODEL = "grok-4.3"

#: The chat proxy answers as a stream (as it does for the official CLI), so the bare client reads one too.
_BARE_POST = """
import json, os, httpx2
text = []
with httpx2.stream("POST", os.environ["BENCH_URL"], json=json.loads(os.environ["BENCH_BODY"]),
                   headers=json.loads(os.environ["BENCH_HEADERS"]), timeout=30) as response:
    response.raise_for_status()
    for event in httpx2.EventSource(response):
        if event.data == "[DONE]":
            break
        for choice in json.loads(event.data).get("choices") or []:
            text.append((choice.get("delta") or {}).get("content") or "")
print(json.dumps({"ok": True, "text": "".join(text)}))
"""


def _bare_env(emulator: Emulator, env: dict[str, str]) -> dict[str, str]:
    """The bare POST's request: the proxy URL, body and headers exactly as ``exports.chat`` sends them."""
    from xai_oauth import Config
    from xai_oauth._routes import proxy_headers
    from xai_oauth.auth._account import Account

    config = Config.from_env(env)
    with Account(config) as account:
        token = account.access_token()  # handed to the child in its environment; never printed
    headers = {"Authorization": f"Bearer {token}", **proxy_headers(MODEL, config.client_version)}
    body = {"model": MODEL, "messages": [{"role": "user", "content": PROMPT}], "stream": True}
    return {
        **env,
        "BENCH_URL": f"{config.subscription_text_url}/chat/completions",
        "BENCH_BODY": json.dumps(body),
        "BENCH_HEADERS": json.dumps(headers),
    }


def measure_calls(rounds: int = 31) -> dict[str, float]:
    with (
        SecretService() as keyring_service,
        Emulator(interval=1.0) as emulator,
        tempfile.TemporaryDirectory() as keyring_home,
        tempfile.TemporaryDirectory() as strict_home,
        tempfile.TemporaryDirectory() as file_home,
    ):
        base = {**os.environ, **emulator.environ(), **keyring_service.environ}
        envs = {
            "keyring": {**base, "XAI_OAUTH_HOME": keyring_home, "XAI_OAUTH_STORE": "auto"},
            "strict_keyring": {**base, "XAI_OAUTH_HOME": strict_home, "XAI_OAUTH_STORE": "keyring"},
            "file": {**base, "XAI_OAUTH_HOME": file_home, "XAI_OAUTH_STORE": "file"},
        }
        for name, env in envs.items():
            sign_in(emulator, env)
            storage = call_export("status()", env).get("storage")
            if storage != ("file" if name == "file" else "keyring"):
                raise RuntimeError(f"the {name} sign-in was stored in {storage!r}")
        runs = {
            "bare_post": (_BARE_POST, _bare_env(emulator, envs["file"])),
            "keyring": (agent_block(f"xai-grok/{MODEL}"), envs["keyring"]),
            "strict_keyring": (agent_block(f"xai-grok/{MODEL}"), envs["strict_keyring"]),
            "file": (agent_block(f"xai-grok/{MODEL}"), envs["file"]),
        }
        samples: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(2):  # warm the OS file cache
            for code, env in runs.values():
                time_process(code, env)
        for _ in range(rounds):
            for name, (code, env) in runs.items():
                samples[name].append(time_process(code, env))
    ms = {name: statistics.median(values) * 1000 for name, values in samples.items()}
    return {
        **{f"{k}_ms": v for k, v in ms.items()},
        "keyring_ratio": ms["keyring"] / ms["bare_post"],
        "keyring_vs_file": ms["keyring"] / ms["file"],
        "strict_keyring_ratio": ms["strict_keyring"] / ms["bare_post"],
        "file_ratio": ms["file"] / ms["bare_post"],
    }


def measure_storms(sizes: tuple[int, ...] = (4, 8, 16)) -> list[StormResult]:
    results = []
    with SecretService() as keyring_service, Emulator(interval=1.0) as emulator:
        for n in sizes:
            results.append(run_storm(emulator, n, extra_env={**keyring_service.environ, "XAI_OAUTH_STORE": "auto"}))
    return results


def report(calls: dict[str, float]) -> str:
    return "\n".join(
        [
            "| fresh process, one whole chat call (subscription) | median | ÷ bare POST (goal ≤ 1.15×) |",
            "|---|---|---|",
            f"| bare `httpx2.post`, bearer and headers in hand | {calls['bare_post_ms']:.0f} ms | 1.00× |",
            f"| `exports.chat`, keyring store (GNOME Keyring; access token cached) | {calls['keyring_ms']:.0f} ms "
            f"| {calls['keyring_ratio']:.2f}× |",
            f"| `exports.chat`, file store | {calls['file_ms']:.0f} ms | {calls['file_ratio']:.2f}× |",
            f"| `exports.chat`, `XAI_OAUTH_STORE=keyring` (no token in any file: opens the keyring) "
            f"| {calls['strict_keyring_ms']:.0f} ms | {calls['strict_keyring_ratio']:.2f}× |",
            f"| keyring ÷ file store | | {calls['keyring_vs_file']:.2f}× |",
        ]
    )


if __name__ == "__main__":
    reason = missing()
    if reason:
        sys.exit(f"no Secret Service to measure against: {reason}")
    from bench_storm import met_goal
    from bench_storm import report as storm_report

    calls = measure_calls()
    storms = measure_storms()
    print(report(calls))
    print()
    print(storm_report(storms))
    sys.exit(0 if calls["keyring_ratio"] <= 1.15 and all(met_goal(r) for r in storms) else 1)
