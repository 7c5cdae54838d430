"""``xai-oauth serve`` against calling xAI straight, and beside LiteLLM's proxy: ``python bench/bench_serve.py``.

Client, server and emulator each run in their own process (LiteLLM's proxy
too), on loopback; the client is one plain httpx2 client, the same for every
side, reading server-sent events line by line and ``json.loads``-ing each.

1. **Overhead per request, on the subscription.** The same streamed question
   through the server (``/v1/chat/completions``, ``/v1/responses``,
   ``/v1/messages``), then straight at the emulator's chat proxy with the
   bearer and the proxy's headers in hand (``_transport.headers``) and the
   chat-completions body the server itself sends upstream (the proxy speaks
   no Anthropic, and the server asks it on the model's own lane, chat for
   grok-4.3). Requests alternate (server, straight, server, ...), so load hits
   both alike; p50 and p99 of the whole answer and of the first token.
   Goals: p50 overhead ≤ 2 ms on the whole answer, ≤ 1 ms on the first token.
2. **Concurrency.** 64 streams at once through the server: all complete, and
   the total time (64 at once straight at the proxy beside it).
3. **Beside LiteLLM's proxy**, on the emulator's API-key side (LiteLLM cannot
   send the proxy's headers): ``xai/grok-4.3`` through our server, and
   LiteLLM's openai-compatible provider pointed at the emulator's API with
   its key, non-streamed and streamed, each against the same call made
   straight. Goal: our p50 overhead at most a tenth of LiteLLM's.
4. **Memory.** Each server's peak RSS (``VmHWM``) after all of the above.
   Goal: ours ≤ a third of LiteLLM's.

Then, in a run of its own, the floor of the stack the server is built on
(``passthrough_app.py``: Starlette and uvicorn, httpx2's ``AsyncClient``,
the chat proxy's bytes handed on untouched) beside the server's chat
completions, so what the server adds can be told from what its stack adds;
and, when aiohttp is installed (LiteLLM brings it), the same floor with
aiohttp as the upstream client, so what httpx2 itself costs shows too.

Timings are reported, never asserted. Needs the ``bench`` extra
(``bash scripts/setup.sh bench``: litellm[proxy]); without LiteLLM its rows say
why they are missing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import httpx2  # noqa: E402
import serve_processes as procs  # noqa: E402

MODEL = "grok-4.3"
API_KEY = "xai-bench-" + "k" * 40
CLIENT_KEY = "bench-client-key-" + "c" * 32
MASTER_KEY = "sk-bench-master-" + "m" * 24
PROMPT = "Say hello to the benchmark, in a few words."
#: The emulator's answer is the prompt echoed this many times: about 50 text deltas.
REPEAT = 5


@dataclass(frozen=True)
class Call:
    """One request as the client sends it, and how it recognises the first token in its stream."""

    url: str
    headers: dict[str, str]
    body: dict[str, Any]
    is_token: Callable[[dict[str, Any]], bool]


def _chat_token(event: dict[str, Any]) -> bool:
    return any((c.get("delta") or {}).get("content") for c in event.get("choices") or ())


def _responses_token(event: dict[str, Any]) -> bool:
    return event.get("type") == "response.output_text.delta" and bool(event.get("delta"))


def _messages_token(event: dict[str, Any]) -> bool:
    return event.get("type") == "content_block_delta" and (event.get("delta") or {}).get("type") == "text_delta"


def chat_body(model: str, stream: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": PROMPT}], "stream": stream}
    if stream:
        body["stream_options"] = {"include_usage": True}
    return body


def through_server(origin: str, model: str = MODEL) -> dict[str, Call]:
    """The three formats the server speaks, asked the same question."""
    bearer = {"Authorization": f"Bearer {CLIENT_KEY}"}
    anthropic = {"x-api-key": CLIENT_KEY, "anthropic-version": "2023-06-01"}
    return {
        "/v1/chat/completions": Call(f"{origin}/v1/chat/completions", bearer, chat_body(model), _chat_token),
        "/v1/responses": Call(
            f"{origin}/v1/responses",
            bearer,
            {"model": model, "input": PROMPT, "stream": True, "store": False},
            _responses_token,
        ),
        "/v1/messages": Call(
            f"{origin}/v1/messages",
            anthropic,
            {"model": model, "max_tokens": 256, "messages": [{"role": "user", "content": PROMPT}], "stream": True},
            _messages_token,
        ),
    }


def straight_at_proxy(env: dict[str, str]) -> Call:
    """The chat proxy with the signed-in account's bearer and the proxy's headers, as the server sends them."""
    from xai_oauth import Account, Config
    from xai_oauth._models import parse_model
    from xai_oauth.transport._send import headers, target

    config = Config.from_env(env)
    with Account(config) as account:
        choice = parse_model(MODEL, signed_in=True)
        aim = target(config, "subscription", choice.display_id, model_id=choice.model_id)
        sent = headers(aim, account.access_token(), config.client_version)
    return Call(aim.origin + choice.path, sent, chat_body(MODEL), _chat_token)


def _aim(call: Call) -> tuple[str, dict[str, str]]:
    return call.url, call.headers


@contextlib.contextmanager
def _maybe_aiohttp_floor(call: Call) -> Iterator[str | None]:
    """The floor with aiohttp upstream instead of httpx2, when aiohttp is installed (it comes with LiteLLM)."""
    if importlib.util.find_spec("aiohttp") is None:
        yield None
        return
    with procs.passthrough(call.url, call.headers, client="aiohttp") as (_, origin):
        yield origin


# -- the client -----------------------------------------------------------


def timed(client: httpx2.Client, call: Call) -> tuple[float, float]:
    """Seconds to the first token and to the end of the answer (streamed), or to the whole body."""
    start = time.perf_counter()
    first = 0.0
    if not call.body.get("stream"):
        answer = client.post(call.url, json=call.body, headers=call.headers)
        assert answer.status_code == 200, (answer.status_code, answer.text[:300])
        assert answer.json()["choices"][0]["message"]["content"]
        end = time.perf_counter() - start
        return end, end
    with client.stream("POST", call.url, json=call.body, headers=call.headers) as answer:
        assert answer.status_code == 200, (answer.status_code, answer.read()[:300])
        for line in answer.iter_lines():
            if not line.startswith("data:") or line.endswith("[DONE]"):
                continue
            event = json.loads(line[5:])
            if not first and call.is_token(event):
                first = time.perf_counter() - start
    assert first, f"no token in the stream from {call.url}"
    return first, time.perf_counter() - start


def count_tokens(call: Call) -> int:
    """How many text deltas one answer holds (what the per-event costs are multiplied by)."""
    with (
        httpx2.Client(timeout=60, trust_env=False) as client,
        client.stream("POST", call.url, json=call.body, headers=call.headers) as answer,
    ):
        lines = [line[5:] for line in answer.iter_lines() if line.startswith("data:") and not line.endswith("[DONE]")]
    return sum(call.is_token(json.loads(line)) for line in lines)


@dataclass
class Samples:
    first: list[float]
    whole: list[float]

    def p(self, which: str, q: float) -> float:
        values = sorted(getattr(self, which))
        return values[min(len(values) - 1, round(q * (len(values) - 1)))] * 1000


def alternate(calls: dict[str, Call], requests: int, warmup: int = 30) -> dict[str, Samples]:
    """Every call ``requests`` times, in turn (A, B, C, A, B, C, ...), over one kept-alive client each."""
    samples = {name: Samples([], []) for name in calls}
    clients = {name: httpx2.Client(timeout=60, trust_env=False) for name in calls}
    try:
        for _ in range(warmup):
            for name, call in calls.items():
                timed(clients[name], call)
        for _ in range(requests):
            for name, call in calls.items():
                first, whole = timed(clients[name], call)
                samples[name].first.append(first)
                samples[name].whole.append(whole)
    finally:
        for client in clients.values():
            client.close()
    return samples


async def _at_once(call: Call, streams: int) -> tuple[int, float]:
    limits = httpx2.Limits(max_connections=streams, max_keepalive_connections=streams)
    async with httpx2.AsyncClient(timeout=120, limits=limits, trust_env=False) as client:

        async def one() -> bool:
            tokens = 0
            async with client.stream("POST", call.url, json=call.body, headers=call.headers) as answer:
                if answer.status_code != 200:
                    return False
                async for line in answer.aiter_lines():
                    if line.startswith("data:") and not line.endswith("[DONE]"):
                        tokens += call.is_token(json.loads(line[5:]))
            return tokens > 0

        start = time.perf_counter()
        done = await asyncio.gather(*(one() for _ in range(streams)), return_exceptions=True)
        return sum(ok is True for ok in done), time.perf_counter() - start


def at_once(call: Call, streams: int = 64, rounds: int = 3) -> tuple[int, float]:
    """``streams`` streams started together: the fewest that completed, and the median total time (s)."""
    results = [asyncio.run(_at_once(call, streams)) for _ in range(rounds)]
    return min(r[0] for r in results), statistics.median(r[1] for r in results)


# -- the runs -------------------------------------------------------------


def measure(requests: int = 500, streams: int = 64) -> dict[str, Any]:
    result: dict[str, Any] = {"requests": requests, "streams": streams, "litellm_missing": procs.litellm_missing()}
    with procs.emulator(API_KEY) as emulated, tempfile.TemporaryDirectory() as home:
        emulated.settings(reply_repeat=REPEAT)
        env = procs.signed_in_env(emulated, home)
        with (
            procs.served(env, CLIENT_KEY) as (server, origin),
            procs.passthrough(*_aim(straight_at_proxy(env))) as (_, bare_origin),
            _maybe_aiohttp_floor(straight_at_proxy(env)) as aio_origin,
        ):
            straight = straight_at_proxy(env)
            result["deltas"] = count_tokens(straight)
            ours = through_server(origin)
            runs = alternate({"straight": straight, **ours}, requests)
            result["overhead"] = {name: (runs[name], runs["straight"]) for name in ours}
            floors = {"bare": Call(f"{bare_origin}/v1/chat/completions", {}, straight.body, _chat_token)}
            if aio_origin is not None:
                floors["aiohttp"] = Call(f"{aio_origin}/v1/chat/completions", {}, straight.body, _chat_token)
            runs = alternate({"straight": straight, "ours": ours["/v1/chat/completions"], **floors}, requests)
            result["floor"] = {name: (runs[name], runs["straight"]) for name in ("ours", *floors)}
            at_once(ours["/v1/chat/completions"], streams, rounds=1)  # the emulator's small accept backlog, warmed
            result["concurrency"] = {
                "server": at_once(ours["/v1/chat/completions"], streams),
                "straight": at_once(straight, streams),
            }
            result["api_key"] = _api_key_side(emulated, origin, requests)
            result["server_rss_mb"] = server.peak_rss_mb()
    return result


def _api_key_side(emulated: procs.Emulated, origin: str, requests: int) -> dict[str, Any]:
    """Straight at the emulator's API, through our server (``xai/``), and through LiteLLM: whole and streamed."""
    key = {"Authorization": f"Bearer {emulated.api_key}"}
    ours = {"Authorization": f"Bearer {CLIENT_KEY}"}
    sides: dict[str, Any] = {}
    for stream in (False, True):
        calls = {
            "straight": Call(f"{emulated.api_url}/chat/completions", key, chat_body(MODEL, stream), _chat_token),
            "ours": Call(f"{origin}/v1/chat/completions", ours, chat_body("xai/" + MODEL, stream), _chat_token),
        }
        sides["streamed" if stream else "whole"] = calls
    if procs.litellm_missing():
        return {name: alternate(calls, requests) for name, calls in sides.items()}
    master = {"Authorization": f"Bearer {MASTER_KEY}"}
    with procs.litellm(emulated.api_url, emulated.api_key, MASTER_KEY, MODEL) as (proxy, lite_origin):
        for stream, calls in zip((False, True), sides.values(), strict=True):
            calls["litellm"] = Call(f"{lite_origin}/v1/chat/completions", master, chat_body(MODEL, stream), _chat_token)
        measured: dict[str, Any] = {name: alternate(calls, requests) for name, calls in sides.items()}
        measured["litellm_rss_mb"] = proxy.peak_rss_mb()
    return measured


# -- the report -----------------------------------------------------------


def goals(r: dict[str, Any]) -> dict[str, bool]:
    over = r["overhead"]
    api = r["api_key"]
    met = {
        "p50 overhead ≤ 2 ms (whole answer, every format)": all(
            s.p("whole", 0.5) - b.p("whole", 0.5) <= 2 for s, b in over.values()
        ),
        "≤ 1 ms added to the first token (p50, every format)": all(
            s.p("first", 0.5) - b.p("first", 0.5) <= 1 for s, b in over.values()
        ),
        f"{r['streams']} streams at once all complete": r["concurrency"]["server"][0] == r["streams"],
    }
    if "litellm_rss_mb" in api:
        ratios = {k: _added(api[k], "ours") / _added(api[k], "litellm") for k in ("whole", "streamed")}
        said = ", ".join(f"{k} {ratio:.2f}×" for k, ratio in ratios.items())
        met[f"p50 overhead ≤ a tenth of LiteLLM's, each kind (API key: {said})"] = max(ratios.values()) <= 0.1
        met["peak RSS ≤ a third of LiteLLM's"] = r["server_rss_mb"] <= api["litellm_rss_mb"] / 3
    return met


def _added(runs: dict[str, Samples], name: str, q: float = 0.5) -> float:
    return runs[name].p("whole", q) - runs["straight"].p("whole", q)


#: The overhead table's columns: the whole answer's p50 and p99, then the first token's.
_CELLS = (("whole", 0.5), ("whole", 0.99), ("first", 0.5), ("first", 0.99))


#: The floor table's rows, by the name each side was timed under.
_FLOOR_ROWS = {
    "ours": "xai-oauth serve",
    "bare": "the floor (bytes untouched)",
    "aiohttp": "the floor, aiohttp upstream",
}


def _row(label: str, side: Samples, straight: Samples) -> str:
    """One overhead table row: each cell with the straight call's in brackets, then what the side added."""
    cells = [f"{side.p(w, q):.2f} ({straight.p(w, q):.2f})" for w, q in _CELLS]
    added = [f"{side.p(w, q) - straight.p(w, q):+.2f}" for w, q in _CELLS]
    return f"| {label} | {' | '.join(cells)} | {added[0]} / {added[2]} | {added[1]} / {added[3]} |"


def report(r: dict[str, Any]) -> str:
    n = r["requests"]
    lines = [
        f"Overhead per streamed request on the subscription, an answer of {r['deltas']} text deltas "
        f"({n} requests each, alternating; "
        "ms, straight in brackets: the same answer from the chat proxy, bearer and headers in hand):",
        "",
        "| through the server | whole p50 | whole p99 | first token p50 | first token p99 "
        "| added p50 (whole / first) | added p99 (whole / first) |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [_row(name, *runs) for name, runs in r["overhead"].items()]
    lines += [
        "",
        "The floor of the stack, in a run of its own (straight, ours, the floor, in turn): a Starlette app on "
        "uvicorn with httpx2 handing the chat proxy's bytes on untouched (bench/passthrough_app.py):",
        "",
        "| chat completions | whole p50 | whole p99 | first token p50 | first token p99 "
        "| added p50 (whole / first) | added p99 (whole / first) |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [_row(_FLOOR_ROWS[name], *runs) for name, runs in r["floor"].items()]
    (done, total), (done_b, total_b) = r["concurrency"]["server"], r["concurrency"]["straight"]
    lines += [
        "",
        f"{r['streams']} streams at once (median of 3): through the server {done}/{r['streams']} complete in "
        f"{total * 1000:.0f} ms; straight at the proxy {done_b}/{r['streams']} in {total_b * 1000:.0f} ms.",
        "",
        f"Beside LiteLLM's proxy, API key (`xai/`), {n} requests each, ms:",
        "",
        "| call | side | p50 | p99 | added p50 | added p99 |",
        "|---|---|---|---|---|---|",
    ]
    api = r["api_key"]
    for kind in ("whole", "streamed"):
        for name, samples in api[kind].items():
            p50, p99 = _added(api[kind], name), _added(api[kind], name, 0.99)
            added = "" if name == "straight" else f"{p50:+.2f} | {p99:+.2f}"
            lines.append(
                f"| {kind} | {name} | {samples.p('whole', 0.5):.2f} | {samples.p('whole', 0.99):.2f} | "
                + (added or " | ")
                + " |"
            )
    lite = f"{api['litellm_rss_mb']:.0f} MB" if "litellm_rss_mb" in api else f"not measured: {r['litellm_missing']}"
    lines += ["", f"Peak RSS (VmHWM): xai-oauth serve {r['server_rss_mb']:.0f} MB; LiteLLM's proxy {lite}."]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500, help="requests per side and row (default 500)")
    parser.add_argument("--streams", type=int, default=64, help="streams at once (default 64)")
    args = parser.parse_args()
    result = measure(args.requests, args.streams)
    print(report(result))
    print()
    for goal, ok in goals(result).items():
        print(f"- {'met' if ok else 'MISSED'}: {goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
