"""The emulator's api.x.ai: /v1/models, /v1/chat/completions and /v1/responses, apart from HTTP.

The "model" is deterministic, so tests can check what reached it: it echoes
the last user message, and on the responses lane it says how many agents the
reasoning effort bought (4 for low / medium, 16 for high, as xAI documents).
Errors are shaped like xAI's (``{"code": ..., "error": ...}``) with the same
statuses: 404 unknown model, 403 a model outside the tier, 400 a bad request
(a number out of range, such as a negative ``max_tokens``, is refused with
``"code": "Client specified an invalid argument"``, the code xAI's own CLI
tests against; the wording of ``error`` is ours).
Streams are real server-sent events: chat completion chunks ending in
``[DONE]``, and the Responses event sequence ending in ``response.completed``.

Tools (the convention lives in ``_tools``, with the refusals): when the last
user message holds ``[[call NAME {json args}]]`` and NAME is one of the
request's function tools, the model calls NAME with those arguments
(several markers: parallel calls, in order); when the conversation ends
with tool results, it answers ``Tool NAME said: <the result's text>``.
Every request is first checked against xAI's allow-lists (top-level fields,
input item, content part and tool types); anything else is a 400 with
``"code": "Client specified an invalid argument"``.

Reasoning (``_reasoning`` says how): a Responses request whose ``include``
asks for ``reasoning.encrypted_content`` gets a sealed reasoning item first,
and a sealed reasoning item sent back in ``input`` shows in the answer's
text as `` (continuing reasoning about: <what the earlier turn was about>)``.

Search: a Responses request with the ``web_search`` tool first streams a
``web_search_call`` item, as xAI's Grok CLI reads one (added in progress;
``response.web_search_call.in_progress``, ``.searching``, ``.completed``;
done with ``action``: ``type: search``, the last user message as its
``query``, and the fixed ``SOURCES`` as its ``sources``), then the text,
citing the sources (``url_citation`` annotations and ``citations``).
``x_search`` gives an ``x_search_call`` item in the whole body only.
``include: ["no_inline_citations"]`` (xAI's own, as its Grok CLI sends it)
is taken; the emulator's text has no inline citation marks either way.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._authority import MODELS_BY_TIER
from ._reasoning import continued, reasoning_output, sealing_asked, shifted
from ._tools import (
    Refused,
    ToolCall,
    chat_calls,
    chat_tool_reply,
    check_chat,
    check_responses,
    responses_calls,
    responses_tool_events,
    results_said,
    text_of,
)

__all__ = ["API_KEY_MODELS", "ApiRefusal", "Reply", "chat_completions", "responses"]

#: What an API key may use: every model (an API key is billed per token, not gated by tier).
API_KEY_MODELS = MODELS_BY_TIER[5]
KNOWN_MODELS = frozenset(m for models in MODELS_BY_TIER.values() for m in models)


class ApiRefusal(Exception):
    def __init__(self, status: int, code: str, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.body = {"code": code, "error": error}


@dataclass
class Reply:
    """A finished answer: the whole JSON, and the same answer as (event name, data) stream events."""

    whole: dict[str, Any]
    events: list[tuple[str | None, str]]


def _check_model(body: dict[str, Any], allowed: list[str]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ApiRefusal(400, "invalid-argument", "model is required")
    if model not in KNOWN_MODELS:
        raise ApiRefusal(
            404, "model_not_found", f"The model {model} does not exist or your team does not have access to it."
        )
    if model not in allowed:
        raise ApiRefusal(403, "permission-denied:tier", f"Your subscription does not include {model}.")
    return model


INVALID_ARGUMENT = "Client specified an invalid argument"

#: Numbers a request may carry and the range each must fall in (inclusive), per lane.
_TOKEN_LIMITS = ("max_tokens", "max_completion_tokens", "max_output_tokens")
_RANGES: dict[str, tuple[float, float]] = {
    **{name: (1, 2_000_000) for name in _TOKEN_LIMITS},
    "temperature": (0, 2),
    "top_p": (0, 1),
}


def _check_numbers(body: dict[str, Any]) -> None:
    """Refuse out-of-range numbers before sampling, as the real API does, instead of answering anyway."""
    for name, (low, high) in _RANGES.items():
        if name not in body or body[name] is None:
            continue
        value = body[name]
        whole = name in _TOKEN_LIMITS
        if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)):
            raise ApiRefusal(400, INVALID_ARGUMENT, f"{name} must be {'an integer' if whole else 'a number'}")
        if not low <= value <= high:
            raise ApiRefusal(400, INVALID_ARGUMENT, f"{name} must be between {low} and {high}, got {value}")


def _check_shape(check: Callable[[dict[str, Any]], None], body: dict[str, Any]) -> None:
    """Refuse what xAI refuses (``_tools``' allow-lists), as xAI's 400."""
    try:
        check(body)
    except Refused as refused:
        raise ApiRefusal(400, refused.code, refused.error) from None


def _words(text: str, repeat: int) -> list[str]:
    words = " ".join([text] * max(1, repeat)).split(" ")
    return [w + " " for w in words[:-1]] + words[-1:]


def chat_completions(body: dict[str, Any], allowed: list[str], *, repeat: int = 1, cached: int = 0) -> Reply:
    model = _check_model(body, allowed)
    if "multi-agent" in model:
        raise ApiRefusal(400, "invalid-argument", f"{model} is only served by /v1/responses.")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiRefusal(400, "invalid-argument", "messages must be a non-empty list")
    if "input" in body or "reasoning" in body:
        raise ApiRefusal(400, "invalid-argument", "unknown field for /v1/chat/completions")
    _check_shape(check_chat, body)
    _check_numbers(body)
    said = next((text_of(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
    tool_results = results_said(messages)  # answering results comes first: the marker that asked is still there
    calls = [] if tool_results else chat_calls(body, said)
    text = tool_results or f"You said: {said}"
    if body.get("reasoning_effort") and text.startswith("You said"):
        text += f" (thought with {body['reasoning_effort']} effort)"
    pieces = [call.arguments for call in calls] or _words(text, repeat)
    usage: dict[str, Any] = {
        "prompt_tokens": sum(len(text_of(m.get("content")).split()) for m in messages),
        "completion_tokens": len(pieces),
    }
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    if cached:
        usage["prompt_tokens_details"] = {"cached_tokens": cached}
    if calls:
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return Reply(*chat_tool_reply(model, calls, usage, include_usage))
    ident, created = "chatcmpl-" + uuid.uuid4().hex[:12], int(time.time())
    whole = {
        "id": ident,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "".join(pieces)}, "finish_reason": "stop"}
        ],
        "usage": usage,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> tuple[str | None, str]:
        return None, json.dumps(
            {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                **extra,
            }
        )

    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": piece}) for piece in pieces]
    events.append(chunk({}, "stop"))
    if (body.get("stream_options") or {}).get("include_usage"):
        events.append(
            (
                None,
                json.dumps(
                    {
                        "id": ident,
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": model,
                        "choices": [],
                        "usage": usage,
                    }
                ),
            )
        )
    events.append((None, "[DONE]"))
    return Reply(whole, events)


#: What the emulator's searches "find": fixed sources, so tests can check the citations that come back.
SOURCES = {
    "the web": [("https://docs.x.ai/docs/overview", "xAI documentation")],
    "X": [("https://x.com/xai/status/1", "xAI on X")],
}
SEARCH_NAMES = {"web_search": "the web", "x_search": "X"}


def _searches(tools: Any) -> list[str]:
    """The server-side searches a request turned on, by name; 400 for a tool shape xAI would not take."""
    found = []
    for tool in tools if isinstance(tools, list) else []:
        if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
            raise ApiRefusal(400, INVALID_ARGUMENT, "each tool must be an object with a type")
        if tool["type"] in SEARCH_NAMES:
            found.append(SEARCH_NAMES[tool["type"]])
    return found


def responses(body: dict[str, Any], allowed: list[str], *, repeat: int = 1, cached: int = 0) -> Reply:
    model = _check_model(body, allowed)
    items = body.get("input")
    if "messages" in body or "max_tokens" in body:
        raise ApiRefusal(400, "invalid-argument", "unknown field for /v1/responses (use input, max_output_tokens)")
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    if not isinstance(items, list) or not items:
        raise ApiRefusal(400, "invalid-argument", "input must be a string or a non-empty list")
    _check_shape(check_responses, body)
    _check_numbers(body)
    effort = (body.get("reasoning") or {}).get("effort", "low")
    agents = 16 if effort == "high" else 4
    said = next((text_of(i.get("content")) for i in reversed(items) if i.get("role") == "user"), "")
    searched = _searches(body.get("tools"))
    tool_results = results_said(items)  # answering results comes first: the marker that asked is still there
    calls = [] if tool_results else responses_calls(body, said)
    if tool_results:
        text = tool_results
    elif searched:
        text = f"Searched {' and '.join(searched)} for: {said}"
    elif "multi-agent" in model:
        text = f"{agents} agents considered: {said}"
    else:
        text = f"You said: {said}"
    pieces = _words(text + continued(items), repeat)
    input_tokens = sum(len(text_of(i.get("content")).split()) for i in items)
    output_tokens = len(calls) or len(pieces)
    usage = {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
        "output_tokens_details": {"reasoning_tokens": 10 * agents},
    }
    if cached:
        usage["input_tokens_details"] = {"cached_tokens": cached}
    base = {
        "id": "resp_" + uuid.uuid4().hex[:12],
        "object": "response",
        "created_at": int(time.time()),
        "model": model,
        "reasoning": {"effort": effort},
    }
    output, middle, citations = _calls_output(calls) if calls else _text_output("".join(pieces), pieces, searched, said)
    if sealing_asked(body):
        reasoning, sealing = reasoning_output(said)
        output, middle = [reasoning, *output], [*sealing, *shifted(middle, 1)]
    whole = {**base, "status": "completed", "output": output, "usage": usage}
    if citations:
        whole["citations"] = citations
    in_progress = {**base, "status": "in_progress", "output": []}
    sequence: list[tuple[str, dict[str, Any]]] = [
        ("response.created", {"response": in_progress}),
        ("response.in_progress", {"response": in_progress}),
        *middle,
        ("response.completed", {"response": whole}),
    ]
    events: list[tuple[str | None, str]] = [
        (kind, json.dumps({"type": kind, "sequence_number": n, **data})) for n, (kind, data) in enumerate(sequence)
    ]
    return Reply(whole, events)


#: A Responses answer's output items, the events between ``response.in_progress`` and ``response.completed``
#: that stream them, and the URLs its searches cite.
_Output = tuple[list[dict[str, Any]], list[tuple[str, dict[str, Any]]], list[str]]


def _calls_output(calls: list[ToolCall]) -> _Output:
    items, middle = responses_tool_events(calls)
    return items, middle, []


def _text_output(text: str, pieces: list[str], searched: list[str], query: str) -> _Output:
    item_id = "msg_" + uuid.uuid4().hex[:12]
    annotations: list[dict[str, Any]] = [
        {"type": "url_citation", "url": url, "title": title, "start_index": 0, "end_index": len(text)}
        for name in searched
        for url, title in SOURCES[name]
    ]
    message: dict[str, Any] = {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": annotations}],
    }
    calls = [
        _search_call(kind, item_id, query) for kind in ("web_search", "x_search") if SEARCH_NAMES[kind] in searched
    ]
    middle = [
        event for at, call in enumerate(calls) if call["type"] == "web_search_call" for event in _searching(at, call)
    ]
    where = {"item_id": item_id, "output_index": len(calls), "content_index": 0}
    middle += [
        (
            "response.output_item.added",
            {"output_index": len(calls), "item": {**message, "status": "in_progress", "content": []}},
        ),
        ("response.content_part.added", {**where, "part": {"type": "output_text", "text": "", "annotations": []}}),
        *[("response.output_text.delta", {**where, "delta": piece}) for piece in pieces],
        *[
            ("response.output_text.annotation.added", {**where, "annotation_index": n, "annotation": a})
            for n, a in enumerate(annotations)
        ],
        ("response.output_text.done", {**where, "text": text}),
        ("response.content_part.done", {**where, "part": message["content"][0]}),
        ("response.output_item.done", {"output_index": len(calls), "item": message}),
    ]
    return [*calls, message], middle, [a["url"] for a in annotations]


def _search_call(kind: str, item_id: str, query: str) -> dict[str, Any]:
    call: dict[str, Any] = {"id": f"{kind}_{item_id}", "type": f"{kind}_call", "status": "completed"}
    if kind == "web_search":
        sources = [{"type": "url", "url": url, "title": title} for url, title in SOURCES[SEARCH_NAMES[kind]]]
        call["action"] = {"type": "search", "query": query, "sources": sources}
    return call


def _searching(at: int, call: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """A web search's stream events: its item added, its three stages, its item done with the action."""
    ref = {"item_id": call["id"], "output_index": at}
    added = {"id": call["id"], "type": call["type"], "status": "in_progress", "action": {"type": "search"}}
    stages = [(f"response.web_search_call.{stage}", ref) for stage in ("in_progress", "searching", "completed")]
    return [
        ("response.output_item.added", {"output_index": at, "item": added}),
        *stages,
        ("response.output_item.done", {"output_index": at, "item": call}),
    ]
