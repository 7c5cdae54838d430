"""The stream readers alone, with no socket and no Client: what reading one event costs.

1. **Tool-call arguments, linear.** A tool call whose arguments arrive in N
   deltas of 32 characters (a long file write), read by
   ``ChatCompletionsStream``: the cost per delta at 80k deltas against 20k.
   Goal: the same (ratio about 1.0; joining with ``+=`` made it 6.7x slower per
   delta at 80k).
2. **A reader against ``json.loads``.** The same 200k pre-rendered events
   (text deltas), fed to ``ChatCompletionsStream`` / ``ResponsesStream``
   against a loop that only runs ``json.loads`` on each: the least any client
   does. Runs alternate (A, B, A, B, ...) and medians are compared. Goal:
   at most 1.1x.

Ratios only; run with ``python bench/bench_stream_read.py [--rounds N]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from xai_oauth._models import parse_model  # noqa: E402
from xai_oauth.wire._streams import ChatCompletionsStream, ResponsesStream, new_stream  # noqa: E402

CHAT = parse_model("xai/grok-4.3", signed_in=False)
MULTI = parse_model("xai/grok-4.20-multi-agent-0309", signed_in=False)
PIECE = '"line": "abcdefghijklmnopqrst",'  # 32 characters of a tool call's JSON arguments


def tool_call_events(n: int) -> list[str]:
    """A chat stream whose one tool call's arguments arrive in ``n`` deltas."""
    head = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "write_file", "arguments": ""}}
    events = [json.dumps({"choices": [{"index": 0, "delta": {"tool_calls": [head]}}]})]
    delta = json.dumps(
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": PIECE}}]}}]}
    )
    events += [delta] * n
    events.append(json.dumps({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}))
    return [*events, "[DONE]"]


def chat_events(n: int) -> list[str]:
    deltas = [json.dumps({"choices": [{"index": 0, "delta": {"content": f"word{i} "}}]}) for i in range(n)]
    return [*deltas, json.dumps({"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": n}}), "[DONE]"]


def responses_events(n: int) -> list[str]:
    deltas = [json.dumps({"type": "response.output_text.delta", "delta": f"word{i} "}) for i in range(n)]
    done = json.dumps({"type": "response.completed", "response": {"usage": {"input_tokens": 1, "output_tokens": n}}})
    return [*deltas, done]


def read_with(reader: ChatCompletionsStream | ResponsesStream, events: list[str]) -> float:
    gc.collect()
    start = time.perf_counter()
    for data in events:
        reader.feed("", data)
    reader.result()
    return time.perf_counter() - start


def read_with_json_loads(events: list[str]) -> float:
    gc.collect()
    start = time.perf_counter()
    loads = json.loads
    for data in events:
        if data != "[DONE]":
            loads(data)
    return time.perf_counter() - start


def alternate(a: Callable[[], float], b: Callable[[], float], rounds: int) -> tuple[float, float]:
    """Medians of ``a`` and ``b`` run in turn, so machine load hits both alike."""
    times_a, times_b = [], []
    for _ in range(rounds):
        times_a.append(a())
        times_b.append(b())
    return statistics.median(times_a), statistics.median(times_b)


def measure(rounds: int = 5, deltas: int = 200_000) -> dict[str, float]:
    small, large = tool_call_events(20_000), tool_call_events(80_000)
    t_small, t_large = alternate(
        lambda: read_with(ChatCompletionsStream(CHAT), small),
        lambda: read_with(ChatCompletionsStream(CHAT), large),
        rounds,
    )
    per_small, per_large = t_small / 20_000, t_large / 80_000
    chat, responses = chat_events(deltas), responses_events(deltas)
    chat_ours, chat_plain = alternate(
        lambda: read_with(new_stream(CHAT), chat), lambda: read_with_json_loads(chat), rounds
    )
    resp_ours, resp_plain = alternate(
        lambda: read_with(new_stream(MULTI), responses), lambda: read_with_json_loads(responses), rounds
    )
    return {
        "tool_delta_us_20k": per_small * 1e6,
        "tool_delta_us_80k": per_large * 1e6,
        "tool_delta_ratio": per_large / per_small,
        "chat_ratio": chat_ours / chat_plain,
        "responses_ratio": resp_ours / resp_plain,
        "chat_event_us": chat_ours / deltas * 1e6,
        "json_loads_event_us": chat_plain / deltas * 1e6,
        "responses_event_us": resp_ours / deltas * 1e6,
    }


def report(r: dict[str, float]) -> str:
    return "\n".join(
        [
            "| reading | ours | baseline | ratio | goal |",
            "|---|---|---|---|---|",
            f"| tool-call arguments, per delta: 80k deltas vs 20k | {r['tool_delta_us_80k']:.2f} µs "
            f"| {r['tool_delta_us_20k']:.2f} µs | {r['tool_delta_ratio']:.2f}x | ≈ 1.0x |",
            f"| ChatCompletionsStream.feed vs json.loads, 200k events | {r['chat_event_us']:.2f} µs "
            f"| {r['json_loads_event_us']:.2f} µs | {r['chat_ratio']:.2f}x | ≤ 1.1x |",
            f"| ResponsesStream.feed vs json.loads, 200k events | {r['responses_event_us']:.2f} µs "
            f"| (its own json.loads) | {r['responses_ratio']:.2f}x | ≤ 1.1x |",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--deltas", type=int, default=200_000)
    args = parser.parse_args()
    print(report(measure(args.rounds, args.deltas)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
