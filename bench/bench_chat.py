"""exports.chat() against the openai SDK, and the router's stream against plain httpx2, on the emulator.

1. **A whole chat call in a fresh process**, as an agent makes it: the
   heredoc importing ``exports`` and calling ``chat()``, against the same
   call made through the openai SDK (``chat.completions.create``) with the
   API key. Both talk to the same emulator; runs alternate (A, B, A, B, ...)
   and medians are compared. Our call is timed with the subscription
   (``xai-grok/``: reads the stored sign-in) and with the API key (``xai/``).
   Goal: at most 0.3x the SDK's time.
2. **Streaming, in process**: time to the first delta and to the last, for a
   long answer read through ``Client.stream`` against the same stream read
   with plain httpx2 (``EventSource`` + ``json.loads`` of each chunk, the
   least any client must do). Goal: at most 1.1x.

Needs the ``bench`` extra (openai).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from xai_oauth.emulator import Emulator  # noqa: E402
from xai_oauth.emulator._demo import approve_in_browser, call_export  # noqa: E402

API_KEY = "xai-bench-" + "k" * 40
PROMPT = "Say hello to the benchmark."


def agent_block(model: str) -> str:
    return (
        f"import json, sys; sys.path.insert(0, {ROOT!r}); from exports import chat; "
        f"r = chat({model!r}, {PROMPT!r}); assert r['ok'], r; print(json.dumps(r))"
    )


def _sdk_block(base_url: str) -> str:
    return (
        f"import openai; c = openai.OpenAI(base_url={base_url!r}, api_key={API_KEY!r}); "
        f"r = c.chat.completions.create(model='grok-4.3', messages=[{{'role': 'user', 'content': {PROMPT!r}}}]); "
        "print(r.choices[0].message.content)"
    )


def time_process(code: str, env: dict[str, str]) -> float:
    """Seconds for a fresh interpreter to run ``code``, with bytecode caching on, as after any pip install.

    ``PYTHONDONTWRITEBYTECODE`` (this machine sets it) would have our
    editable checkout recompiled in every process while httpx2 and the SDK
    come precompiled: that measures the compiler, not the call. The warm-up
    runs write the bytecode.
    """
    env = {name: value for name, value in env.items() if name != "PYTHONDONTWRITEBYTECODE"}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def measure_calls(rounds: int = 15) -> dict[str, float]:
    with Emulator(interval=1.0, api_key=API_KEY) as emulator, tempfile.TemporaryDirectory() as home:
        env = {
            **os.environ,
            **emulator.environ(),
            "XAI_OAUTH_HOME": home,
            "XAI_OAUTH_STORE": "file",
            "XAI_API_KEY": API_KEY,
        }
        started = call_export("start()", env)
        approve_in_browser(str(started["verification_url_with_code"]))
        call_export("poll()", env)
        blocks = {
            "subscription": agent_block("xai-grok/grok-4.3"),
            "api_key": agent_block("xai/grok-4.3"),
            "openai_sdk": _sdk_block(emulator.api_url),
        }
        samples: dict[str, list[float]] = {name: [] for name in blocks}
        for _ in range(2):  # warm the OS file cache
            for code in blocks.values():
                time_process(code, env)
        for _ in range(rounds):
            for name, code in blocks.items():
                samples[name].append(time_process(code, env))
    ms = {name: statistics.median(values) * 1000 for name, values in samples.items()}
    return {
        **{f"{k}_ms": v for k, v in ms.items()},
        "subscription_ratio": ms["subscription"] / ms["openai_sdk"],
        "api_key_ratio": ms["api_key"] / ms["openai_sdk"],
    }


def measure_stream(rounds: int = 9, repeat: int = 4000) -> dict[str, float]:
    import httpx2

    from xai_oauth import Client, Config

    with Emulator(api_key=API_KEY, reply_repeat=repeat) as emulator, tempfile.TemporaryDirectory() as home:
        config = Config.from_env({**emulator.environ(), "XAI_OAUTH_HOME": home, "XAI_API_KEY": API_KEY})
        body = {"model": "grok-4.3", "messages": [{"role": "user", "content": PROMPT}], "stream": True}

        def plain() -> tuple[float, float, int]:
            start, first, n = time.perf_counter(), 0.0, 0
            with (
                httpx2.Client(timeout=60) as http,
                http.stream(
                    "POST",
                    f"{emulator.api_url}/chat/completions",
                    json=body,
                    headers={"Authorization": f"Bearer {API_KEY}"},
                ) as response,
            ):
                for event in httpx2.EventSource(response):
                    if event.data == "[DONE]":
                        break
                    for choice in json.loads(event.data).get("choices") or []:
                        if (choice.get("delta") or {}).get("content"):
                            first = first or time.perf_counter() - start
                            n += 1
            return first, time.perf_counter() - start, n

        def routed() -> tuple[float, float, int]:
            start, first, n = time.perf_counter(), 0.0, 0
            with Client(config=config) as client:
                for _ in client.stream("xai/grok-4.3", PROMPT):
                    first = first or time.perf_counter() - start
                    n += 1
            return first, time.perf_counter() - start, n

        results: dict[str, list[tuple[float, float, int]]] = {"plain": [], "routed": []}
        plain(), routed()  # warm-up: imports, connections
        for _ in range(rounds):
            results["plain"].append(plain())
            results["routed"].append(routed())
    med: dict[str, Any] = {}
    for name, runs in results.items():
        med[f"{name}_first_ms"] = statistics.median(r[0] for r in runs) * 1000
        med[f"{name}_total_ms"] = statistics.median(r[1] for r in runs) * 1000
        med[f"{name}_deltas"] = runs[0][2]
    med["first_delta_ratio"] = med["routed_first_ms"] / med["plain_first_ms"]
    med["total_ratio"] = med["routed_total_ms"] / med["plain_total_ms"]
    med["deltas_per_s"] = med["routed_deltas"] / (med["routed_total_ms"] / 1000)
    return med


def report(calls: dict[str, float], stream: dict[str, float]) -> str:
    return "\n".join(
        [
            "| fresh process, one whole chat call | median | ÷ openai SDK (goal ≤ 0.3×) |",
            "|---|---|---|",
            f"| `exports.chat('xai-grok/grok-4.3', …)` (subscription) | {calls['subscription_ms']:.0f} ms "
            f"| {calls['subscription_ratio']:.2f}× |",
            f"| `exports.chat('xai/grok-4.3', …)` (API key) | {calls['api_key_ms']:.0f} ms "
            f"| {calls['api_key_ratio']:.2f}× |",
            f"| openai SDK `chat.completions.create` (API key) | {calls['openai_sdk_ms']:.0f} ms | 1.00× |",
            "",
            f"| stream of {stream['routed_deltas']} deltas, in process | first delta | whole stream |",
            "|---|---|---|",
            f"| plain httpx2 + EventSource | {stream['plain_first_ms']:.1f} ms | {stream['plain_total_ms']:.0f} ms |",
            f"| `Client.stream` (router) | {stream['routed_first_ms']:.1f} ms | {stream['routed_total_ms']:.0f} ms |",
            f"| ratio (goal ≤ 1.1×) | {stream['first_delta_ratio']:.2f}× | {stream['total_ratio']:.2f}× |",
        ]
    )


if __name__ == "__main__":
    print(report(measure_calls(), measure_stream()))
