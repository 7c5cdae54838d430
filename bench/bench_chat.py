"""exports.chat() against the openai SDK making the same call, and the router's stream against plain httpx2.

1. **A whole chat call in a fresh process**, as an agent makes it: the
   heredoc importing ``exports`` and calling ``chat()``, against the openai
   SDK making the same call (issue 22 item 7): the subscription's chat is
   read out of a stream from the chat proxy, so the SDK streams from the
   chat proxy with the same bearer and headers; the API key's chat is a
   whole answer from the API, so the SDK's is too. Both run under this
   interpreter with bytecode caching on. Runs alternate and medians are
   compared. Goal: at most 0.3x the SDK's time.
2. **Streaming, in process**: time to the first delta and to the last, for
   200k text deltas read through ``Client.stream`` against the same stream
   read with plain httpx2 (``EventSource`` + ``json.loads`` of each event,
   the least any client must do), on the chat-completions and the Responses
   lane. The streams come pre-rendered from ``stream_server.py`` in another
   process, so the server shares no GIL with the reader. Goal: at most 1.1x.

Needs the ``bench`` extra (openai).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

from serve_processes import Process  # noqa: E402

from xai_oauth.emulator import Emulator  # noqa: E402
from xai_oauth.emulator._demo import approve_in_browser, call_export  # noqa: E402

API_KEY = "xai-bench-" + "k" * 40
PROMPT = "Say hello to the benchmark."


def agent_block(model: str) -> str:
    return (
        f"import json, sys; sys.path.insert(0, {ROOT!r}); from exports import chat; "
        f"r = chat({model!r}, {PROMPT!r}); assert r['ok'], r; print(json.dumps(r))"
    )


def _sdk_block(base_url: str, *, stream: bool) -> str:
    """The openai SDK making the same call: base URL, bearer and headers from the environment (BENCH_*)."""
    call = (
        "c = openai.OpenAI(base_url=os.environ['BENCH_URL'], api_key=os.environ['BENCH_TOKEN'], "
        "default_headers=json.loads(os.environ['BENCH_HEADERS'])); "
        f"r = c.chat.completions.create(model='grok-4.3', messages=[{{'role': 'user', 'content': {PROMPT!r}}}]"
    )
    if stream:
        return (
            f"import json, os, openai; {call}, stream=True); "
            "print(''.join(k.choices[0].delta.content or '' for k in r if k.choices))"
        )
    return f"import json, os, openai; {call}); print(r.choices[0].message.content)"


#: What every fresh-process row runs under: this interpreter, with bytecode written and read.
BYTECODE_NOTE = "bytecode cached (PYTHONDONTWRITEBYTECODE unset)"


def time_process(code: str, env: dict[str, str]) -> float:
    """Seconds for a fresh interpreter to run ``code``, with bytecode caching on, as after any pip install.

    ``PYTHONDONTWRITEBYTECODE`` (this machine sets it) would have our
    editable checkout recompiled in every process while httpx2 and the SDK
    come precompiled: that measures the compiler, not the call. The warm-up
    runs write the bytecode. Both sides run under ``sys.executable``.
    """
    env = {name: value for name, value in env.items() if name != "PYTHONDONTWRITEBYTECODE"}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def _sdk_env(env: dict[str, str], *, subscription: bool) -> dict[str, str]:
    """The SDK's route, bearer and headers, exactly as ``exports.chat`` sends them on that route."""
    from xai_oauth import Config
    from xai_oauth._routes import proxy_headers
    from xai_oauth.auth._account import Account

    config = Config.from_env(env)
    if subscription:
        with Account(config) as account:
            token = account.access_token()  # handed to the child in its environment; never printed
        url, headers = config.subscription_text_url, proxy_headers("grok-4.3", config.client_version)
    else:
        token, url, headers = API_KEY, config.base_url, {}
    return {**env, "BENCH_URL": url, "BENCH_TOKEN": token, "BENCH_HEADERS": json.dumps(headers)}


def measure_calls(rounds: int = 15) -> dict[str, Any]:
    """Each of ours against the SDK making the same call: the same route, streamed or not, same interpreter.

    The subscription's chat goes to the chat proxy, which answers as a stream (``exports.chat`` reads one): the
    SDK streams from the proxy too, with the same bearer and headers. The API key's goes whole to the API.
    """
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
        runs = {
            "subscription": (agent_block("xai-grok/grok-4.3"), env),
            "sdk_proxy_stream": (_sdk_block(emulator.api_url, stream=True), _sdk_env(env, subscription=True)),
            "api_key": (agent_block("xai/grok-4.3"), env),
            "sdk_api_whole": (_sdk_block(emulator.api_url, stream=False), _sdk_env(env, subscription=False)),
        }
        samples: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(2):  # warm the OS file cache, write the bytecode
            for code, run_env in runs.values():
                time_process(code, run_env)
        for _ in range(rounds):
            for name, (code, run_env) in runs.items():
                samples[name].append(time_process(code, run_env))
    ms = {name: statistics.median(values) * 1000 for name, values in samples.items()}
    return {
        **{f"{k}_ms": v for k, v in ms.items()},
        "subscription_ratio": ms["subscription"] / ms["sdk_proxy_stream"],
        "api_key_ratio": ms["api_key"] / ms["sdk_api_whole"],
        "interpreter": f"{os.path.normpath(sys.executable)} (CPython {platform.python_version()})",
    }


def measure_stream(rounds: int = 5, deltas: int = 200_000) -> dict[str, Any]:
    """``Client.stream`` against httpx2 + ``EventSource`` + ``json.loads`` of each event, both lanes, ``deltas``
    text deltas from ``stream_server.py`` in another process. Runs alternate; medians are compared."""
    import httpx2

    from xai_oauth import Client, Config

    lanes = {
        "chat": ("/chat/completions", {"model": "grok-4.3", "stream": True}, None),
        "responses": ("/responses", {"model": "grok-4.3", "stream": True}, "responses"),
    }
    command = [sys.executable, os.path.join(HERE, "stream_server.py"), "--deltas", str(deltas)]
    server = Process(command, dict(os.environ))
    try:
        port = int(server.read_until("listening on").split("listening on")[1].split()[0])
        base = f"http://127.0.0.1:{port}/v1"
        with tempfile.TemporaryDirectory() as home:
            config = Config.from_env({"XAI_BASE_URL": base, "XAI_OAUTH_HOME": home, "XAI_API_KEY": API_KEY})
            results: dict[str, Any] = {}
            for lane, (path, body, lane_name) in lanes.items():

                def plain(path: str = path, body: dict[str, Any] = body) -> tuple[float, float, int]:
                    start, first, n = time.perf_counter(), 0.0, 0
                    headers = {"Authorization": f"Bearer {API_KEY}"}
                    with (
                        httpx2.Client(timeout=120) as http,
                        http.stream("POST", base + path, json=body, headers=headers) as response,
                    ):
                        for event in httpx2.EventSource(response):
                            if event.data == "[DONE]":
                                break
                            if _has_text(json.loads(event.data)):
                                first = first or time.perf_counter() - start
                                n += 1
                    return first, time.perf_counter() - start, n

                def routed(lane_name: str | None = lane_name) -> tuple[float, float, int]:
                    start, first, n = time.perf_counter(), 0.0, 0
                    with Client(config=config) as client:
                        for _ in client.stream("xai/grok-4.3", PROMPT, lane=lane_name, timeout=600):
                            first = first or time.perf_counter() - start
                            n += 1
                    return first, time.perf_counter() - start, n

                runs: dict[str, list[tuple[float, float, int]]] = {"plain": [], "routed": []}
                plain(), routed()  # warm-up: imports, connections
                for _ in range(rounds):
                    runs["plain"].append(plain())
                    runs["routed"].append(routed())
                for name, measured in runs.items():
                    results[f"{lane}_{name}_first_ms"] = statistics.median(r[0] for r in measured) * 1000
                    results[f"{lane}_{name}_total_ms"] = statistics.median(r[1] for r in measured) * 1000
                    results[f"{lane}_{name}_deltas"] = measured[0][2]
                results[f"{lane}_first_delta_ratio"] = (
                    results[f"{lane}_routed_first_ms"] / results[f"{lane}_plain_first_ms"]
                )
                results[f"{lane}_total_ratio"] = results[f"{lane}_routed_total_ms"] / results[f"{lane}_plain_total_ms"]
    finally:
        server.stop()
    results["deltas"] = deltas
    results["interpreter"] = f"{os.path.normpath(sys.executable)} (CPython {platform.python_version()}, in process)"
    # the names run_all.py reads: the worse lane is the one the goal is judged on
    results["first_delta_ratio"] = max(results["chat_first_delta_ratio"], results["responses_first_delta_ratio"])
    results["total_ratio"] = max(results["chat_total_ratio"], results["responses_total_ratio"])
    return results


def _has_text(event: Any) -> bool:
    """A text delta of either lane, as the least any client checks."""
    if event.get("type") == "response.output_text.delta":
        return bool(event.get("delta"))
    return any((choice.get("delta") or {}).get("content") for choice in event.get("choices") or [])


def report(calls: dict[str, Any], stream: dict[str, Any]) -> str:
    n = stream["deltas"]
    rows = [
        f"Fresh processes under {calls['interpreter']}, {BYTECODE_NOTE}; each pair is the same call.",
        "",
        "| fresh process, one whole chat call | ours | the openai SDK, same call | ratio (goal ≤ 0.3×) |",
        "|---|---|---|---|",
        f"| `exports.chat('xai-grok/grok-4.3', …)`: chat proxy, streamed | {calls['subscription_ms']:.0f} ms "
        f"| {calls['sdk_proxy_stream_ms']:.0f} ms | {calls['subscription_ratio']:.2f}× |",
        f"| `exports.chat('xai/grok-4.3', …)`: API, whole | {calls['api_key_ms']:.0f} ms "
        f"| {calls['sdk_api_whole_ms']:.0f} ms | {calls['api_key_ratio']:.2f}× |",
        "",
        f"Streams of {n} deltas from `bench/stream_server.py` in another process; client under "
        f"{stream['interpreter']}.",
        "",
        "| stream | `Client.stream` | httpx2 + EventSource + json.loads | ratio (goal ≤ 1.1×) |",
        "|---|---|---|---|",
    ]
    for lane, label in (("chat", "chat completions"), ("responses", "Responses")):
        rows += [
            f"| {label}, first delta | {stream[f'{lane}_routed_first_ms']:.1f} ms "
            f"| {stream[f'{lane}_plain_first_ms']:.1f} ms | {stream[f'{lane}_first_delta_ratio']:.2f}× |",
            f"| {label}, whole stream | {stream[f'{lane}_routed_total_ms']:.0f} ms "
            f"| {stream[f'{lane}_plain_total_ms']:.0f} ms | {stream[f'{lane}_total_ratio']:.2f}× |",
        ]
    return "\n".join(rows)


if __name__ == "__main__":
    print(report(measure_calls(), measure_stream()))
