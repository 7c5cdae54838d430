"""What the emulator's model does with tools, and which request shapes it refuses the way xAI does.

Two questions, kept apart from ``_api`` (which answers text) because both are
rules a test writes against, not behaviour a lane owns:

**The tool-call convention.** The "model" is deterministic, so a test (or a
real coding agent) can make it call a tool on demand:

* the last user message's text holds ``[[call NAME {json args}]]`` and NAME is
  one of the request's function tools (chat: ``tools[].function.name``;
  Responses: ``tools[]`` of type ``function``, ``name``): the answer is one
  call to NAME with those arguments (a fresh call id; the JSON re-serialized
  compactly; ``{}`` when the braces are left out). Several markers are
  parallel calls, in order. A marker naming no such tool, or with arguments
  that are not a JSON object, is plain text. The answer ends with
  ``finish_reason: "tool_calls"`` (chat) or holds ``function_call`` output
  items (Responses); streamed, the arguments arrive in several pieces;
* the conversation ends with tool results (chat: ``role: "tool"`` messages;
  Responses: ``function_call_output`` items): the answer is ``Tool NAME said:
  <the result's text>``, NAME found from the matching call id earlier in the
  conversation (several trailing results: one such sentence each, joined by a
  space);
* otherwise the lane answers as before (``You said: ...``).

**Refusals.** The allow-lists are the emulator's own, deliberately not
``wire._requests``' tables: a judge that read the client's list would accept
whatever the client sends. Without refusals, translation tests would only prove that our
emulator accepts what we send it. Each lane has an allow-list of top-level
fields, taken from xAI's API reference (its chat and Responses request
bodies, including the fields it lists as accepted for compatibility only)
plus what our own client sends (``prompt_cache_key``, the conversation id of
issue 23), and lists of the input item, content part and tool types xAI
documents. Anything else is a 400 in xAI's shape, ``{"code": "Client
specified an invalid argument", "error": ...}``.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CHAT_FIELDS",
    "RESPONSES_FIELDS",
    "Refused",
    "ToolCall",
    "chat_calls",
    "chat_tool_reply",
    "check_chat",
    "check_responses",
    "responses_calls",
    "responses_tool_events",
    "results_said",
    "text_of",
]

#: /v1/chat/completions: xAI's chat request body, as its API reference lists it, and our client's conversation id.
CHAT_FIELDS = frozenset(
    {
        "model",
        "messages",
        "stream",
        "stream_options",
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "n",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "response_format",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "user",
        "reasoning_effort",
        "search_parameters",
        "web_search_options",
        "deferred",
        "prompt_cache_key",
    }
)
#: /v1/responses: xAI's Responses request body (``background``, ``metadata``, ``service_tier`` and ``truncation``
#: are listed by xAI as accepted for compatibility), and our client's conversation id.
RESPONSES_FIELDS = frozenset(
    {
        "model",
        "input",
        "instructions",
        "stream",
        "temperature",
        "top_p",
        "max_output_tokens",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "max_tool_calls",
        "text",
        "reasoning",
        "include",
        "logprobs",
        "top_logprobs",
        "store",
        "previous_response_id",
        "search_parameters",
        "user",
        "metadata",
        "background",
        "service_tier",
        "truncation",
        "prompt_cache_key",
    }
)
#: Tool types per lane: chat takes function tools (its search is ``search_parameters``); Responses also takes
#: xAI's server-side tools.
CHAT_TOOL_TYPES = frozenset({"function"})
RESPONSES_TOOL_TYPES = frozenset({"function", "web_search", "x_search", "code_interpreter", "file_search", "mcp"})
CHAT_PART_TYPES = frozenset({"text", "image_url"})
RESPONSES_PART_TYPES = frozenset({"input_text", "input_image", "input_file", "output_text"})
#: Input items Responses takes back: messages, the function calls and their outputs, and earlier output items.
RESPONSES_ITEM_TYPES = frozenset(
    {"message", "function_call", "function_call_output", "reasoning", "web_search_call", "x_search_call"}
)

INVALID_ARGUMENT = "Client specified an invalid argument"

#: ``[[call NAME {json}]]``: the name, then (optionally) a JSON object up to the first ``}]]``.
_MARKER = re.compile(r"\[\[call\s+([A-Za-z0-9_.:-]+)\s*(\{.*?\})?\s*\]\]", re.DOTALL)
#: How many pieces a streamed call's arguments are cut into (at most), as xAI streams them.
ARGUMENT_PIECES = 3


class Refused(Exception):
    """A request xAI would refuse: ``_api`` turns it into its ``ApiRefusal``."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.code = INVALID_ARGUMENT
        self.error = error


@dataclass(frozen=True)
class ToolCall:
    call_id: str
    name: str
    arguments: str


# -- refusals ---------------------------------------------------------------


def check_chat(body: dict[str, Any]) -> None:
    """Refuse what xAI's /chat/completions refuses: unknown fields, tool types, a tool choice in another shape and
    content part types."""
    _fields(body, CHAT_FIELDS, "/v1/chat/completions")
    _tool_types(body.get("tools"), CHAT_TOOL_TYPES)
    _tool_choice(body, lambda c: isinstance(c.get("function"), dict) and isinstance(c["function"].get("name"), str))
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        _part_types(content, CHAT_PART_TYPES)


def check_responses(body: dict[str, Any]) -> None:
    """Refuse what xAI's /responses refuses: unknown fields, tool types, a tool choice in another shape, input item
    types and part types."""
    _fields(body, RESPONSES_FIELDS, "/v1/responses")
    _tool_types(body.get("tools"), RESPONSES_TOOL_TYPES)
    _tool_choice(
        body, lambda c: isinstance(c.get("name"), str) and "function" not in c, RESPONSES_TOOL_TYPES - {"function"}
    )
    items = body.get("input")
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            raise Refused("each input item must be an object")
        kind = item.get("type", "message")
        if kind not in RESPONSES_ITEM_TYPES:
            raise Refused(f"unknown input item type {kind!r}")
        if kind == "message":
            _part_types(item.get("content"), RESPONSES_PART_TYPES)


def _fields(body: dict[str, Any], allowed: frozenset[str], path: str) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise Refused(f"unknown field for {path}: {', '.join(unknown)}")


def _tool_types(tools: Any, allowed: frozenset[str]) -> None:
    for tool in tools if isinstance(tools, list) else []:
        kind = tool.get("type") if isinstance(tool, dict) else None
        if not isinstance(kind, str):
            raise Refused("each tool must be an object with a type")
        if kind not in allowed:
            raise Refused(f"unknown tool type {kind!r} (this endpoint takes {', '.join(sorted(allowed))})")


def _tool_choice(
    body: dict[str, Any], names_a_function: Callable[[dict[str, Any]], bool], hosted: frozenset[str] = frozenset()
) -> None:
    """A mode (``auto``, ``none``, ``required``), one function in the endpoint's own shape (chat completions'
    ``{"type": "function", "function": {"name"}}``, Responses' ``{"type": "function", "name"}``, as xAI's Grok
    CLI sends it there), or on Responses one of its server-side tools (``{"type": "web_search"}``)."""
    choice = body.get("tool_choice")
    if choice is None or choice in ("auto", "none", "required"):
        return
    if isinstance(choice, dict) and choice.get("type") == "function" and names_a_function(choice):
        return
    if isinstance(choice, dict) and choice.get("type") in hosted:
        return
    raise Refused(f"tool_choice {json.dumps(choice)[:100]} is not in this endpoint's shape")


def _part_types(content: Any, allowed: frozenset[str]) -> None:
    for part in content if isinstance(content, list) else []:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in allowed:
            raise Refused(f"unknown content part type {kind!r}")


# -- the convention ---------------------------------------------------------


def text_of(content: Any) -> str:
    """A message's or an output's text: a string as it is, the text parts of a list joined by spaces."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and "text" in p)
    return ""


def _marked_calls(said: str, names: set[str]) -> list[ToolCall]:
    calls = []
    for name, raw in _MARKER.findall(said):
        try:
            arguments = json.loads(raw) if raw else {}
        except ValueError:
            continue
        if name in names and isinstance(arguments, dict):
            calls.append(ToolCall("call_" + uuid.uuid4().hex[:24], name, json.dumps(arguments)))
    return calls


def _function_names(tools: Any, *, nested: bool) -> set[str]:
    names = set()
    for tool in tools if isinstance(tools, list) else []:
        if isinstance(tool, dict) and tool.get("type") == "function":
            holder = tool.get("function") if nested else tool
            if isinstance(holder, dict) and isinstance(holder.get("name"), str):
                names.add(holder["name"])
    return names


def chat_calls(body: dict[str, Any], said: str) -> list[ToolCall]:
    """The calls a chat request's last user message (``said``) asks for, among its function tools."""
    return _marked_calls(said, _function_names(body.get("tools"), nested=True))


def responses_calls(body: dict[str, Any], said: str) -> list[ToolCall]:
    """The calls a Responses request's last user message (``said``) asks for, among its function tools."""
    return _marked_calls(said, _function_names(body.get("tools"), nested=False))


def results_said(conversation: list[Any]) -> str | None:
    """``Tool NAME said: ...`` for the tool results that end a chat or Responses conversation; None if none do."""
    names: dict[Any, str] = {}
    for entry in conversation:
        if not isinstance(entry, dict):
            continue
        if entry.get("type") == "function_call":
            names[entry.get("call_id")] = str(entry.get("name"))
        for call in entry.get("tool_calls") or [] if entry.get("role") == "assistant" else []:
            if isinstance(call, dict):
                names[call.get("id")] = str((call.get("function") or {}).get("name"))
    said: list[str] = []
    for entry in reversed(conversation):
        if isinstance(entry, dict) and entry.get("role") == "tool":
            said.append(f"Tool {names.get(entry.get('tool_call_id'), '?')} said: {text_of(entry.get('content'))}")
        elif isinstance(entry, dict) and entry.get("type") == "function_call_output":
            output = entry.get("output")
            said.append(f"Tool {names.get(entry.get('call_id'), '?')} said: {text_of(output)}")
        else:
            break
    return " ".join(reversed(said)) or None


def _pieces(arguments: str) -> list[str]:
    size = max(1, -(-len(arguments) // ARGUMENT_PIECES))
    return [arguments[i : i + size] for i in range(0, len(arguments), size)] or [""]


# -- answers ----------------------------------------------------------------


def chat_tool_reply(
    model: str, calls: list[ToolCall], usage: dict[str, int], include_usage: bool
) -> tuple[dict[str, Any], list[tuple[str | None, str]]]:
    """A chat completion that calls ``calls``: the whole JSON, and its chunks (arguments in pieces, ``[DONE]``)."""
    ident, created = "chatcmpl-" + uuid.uuid4().hex[:12], int(time.time())
    whole_calls = [
        {"id": c.call_id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in calls
    ]
    head = {"id": ident, "created": created, "model": model}
    whole = {
        **head,
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "tool_calls": whole_calls},
                "finish_reason": "tool_calls",
            }
        ],
        "usage": usage,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> tuple[str | None, str]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return None, json.dumps({**head, "object": "chat.completion.chunk", "choices": [choice]})

    events = [chunk({"role": "assistant", "content": None})]
    for index, call in enumerate(calls):
        opened = {"index": index, "id": call.call_id, "type": "function"}
        events.append(chunk({"tool_calls": [{**opened, "function": {"name": call.name, "arguments": ""}}]}))
        events += [
            chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
            for piece in _pieces(call.arguments)
        ]
    events.append(chunk({}, "tool_calls"))
    if include_usage:
        events.append((None, json.dumps({**head, "object": "chat.completion.chunk", "choices": [], "usage": usage})))
    events.append((None, "[DONE]"))
    return whole, events


def responses_tool_events(calls: list[ToolCall]) -> tuple[list[dict[str, Any]], list[tuple[str, dict[str, Any]]]]:
    """``function_call`` output items for ``calls``, and the events that stream them (arguments in pieces)."""
    items, sequence = [], []
    for at, call in enumerate(calls):
        item = {
            "id": "fc_" + uuid.uuid4().hex[:12],
            "type": "function_call",
            "call_id": call.call_id,
            "name": call.name,
            "arguments": call.arguments,
            "status": "completed",
        }
        items.append(item)
        where = {"item_id": item["id"], "output_index": at}
        sequence.append(
            (
                "response.output_item.added",
                {"output_index": at, "item": {**item, "arguments": "", "status": "in_progress"}},
            )
        )
        sequence += [("response.function_call_arguments.delta", {**where, "delta": p}) for p in _pieces(call.arguments)]
        sequence.append(("response.function_call_arguments.done", {**where, "arguments": call.arguments}))
        sequence.append(("response.output_item.done", {"output_index": at, "item": item}))
    return items, sequence
