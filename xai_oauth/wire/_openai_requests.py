"""A Responses request as a chat-completions request: what maps, what is dropped, and what is refused.

Requests pivot on the chat shape (chat -> Responses already exists for
``chat()``), so a client speaking Responses to a model served on the chat
lane is translated here. Every field lands in one of three places:

* **mapped**: ``input`` items to ``messages``, ``instructions`` to a system
  message, function tools (and the function tools inside a ``namespace``
  tool, flattened) to chat tools, ``max_output_tokens`` to ``max_tokens``,
  ``reasoning.effort`` to ``reasoning_effort``, ``text.format`` to
  ``response_format``, and so on;
* **dropped** with a debug line (``DROPPED`` says why for each): fields with
  no meaning on xAI's chat lane that do not change the answer;
* **refused** with ``UnsupportedParameter``: what cannot be honoured
  statelessly (``store: true``, ``previous_response_id``) and anything unknown,
  since a field we do not know might change the answer.

Some results are for the caller, not xAI, and it pops them before sending:
``CALLER_KEYS``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from .._exceptions import UnsupportedParameter

__all__ = [
    "CALLER_KEYS",
    "DROPPED",
    "EFFORT_ALIASES",
    "SEARCH_TYPES",
    "Policy",
    "drop_field",
    "flat_name",
    "reasoning_effort",
    "refuse_state",
    "responses_to_chat",
]

log = logging.getLogger("xai_oauth.wire")

#: Request fields with no meaning on xAI's chat lane that leave the answer unchanged, and why each goes.
DROPPED = {
    "include": "asks for extra output (encrypted reasoning, sources) the chat lane does not return",
    "client_metadata": "the client's own labels; nothing for the model",
    "metadata": "stored with a response, and nothing is stored",
    "store": "false is what a stateless translation does anyway",
    "service_tier": "xAI has no service tiers",
    "safety_identifier": "OpenAI's abuse-tracking id; xAI has none",
    "truncation": "the chat lane never truncates the conversation itself",
    "reasoning.summary": "xAI decides what reasoning it shows",
    "text.verbosity": "an OpenAI model hint; xAI models take no such setting",
    "stream_options": "the translated stream always asks for usage",
}

#: Keys of the result that are for the caller to act on (and pop) before the body goes to xAI.
#: ``search``: ``["web", "x"]`` for ``search_tools``; ``prompt_cache_key``: the conversation id;
#: ``reasoning_items``: reasoning items of earlier turns, kept aside; ``namespaces``: flattened tool names
#: -> ``(namespace, name)``, for ``ResponsesEventWriter``.
CALLER_KEYS = ("search", "prompt_cache_key", "reasoning_items", "namespaces")

#: Responses fields carried over under the same name.
_SAME = ("model", "temperature", "top_p", "parallel_tool_calls", "user", "stream", "top_logprobs")
#: Responses search tools and the ``search=`` name each turns on.
SEARCH_TYPES = {"web_search": "web", "web_search_preview": "web", "x_search": "x"}
#: Responses reasoning efforts and the xAI effort each becomes.
EFFORT_ALIASES = {"low": "low", "medium": "medium", "high": "high", "minimal": "low"}


@dataclass(frozen=True)
class Policy:
    """What the translation may do with fields it cannot carry.

    ``drop`` (default on) lets the ``DROPPED`` fields go with a debug line;
    off, they are refused too (a strict client, or a test that wants to see
    everything). ``stateless`` (default on) refuses what needs stored state.
    """

    drop: bool = True
    stateless: bool = True


def responses_to_chat(body: dict[str, Any], *, policy: Policy | None = None) -> dict[str, Any]:
    """The chat-completions request for a Responses request; ``UnsupportedParameter`` for what cannot go."""
    policy = policy or Policy()
    refuse_state(body, policy)
    chat: dict[str, Any] = {k: body[k] for k in _SAME if k in body}
    handled = {*_SAME, "input", "instructions", "tools", "tool_choice", "max_output_tokens", "reasoning", "text"}
    handled |= {"prompt_cache_key", "previous_response_id"}
    for key in sorted(set(body) - handled):
        drop_field(key, policy)
    messages: list[dict[str, Any]] = []
    if isinstance(body.get("instructions"), str) and body["instructions"]:
        messages.append({"role": "system", "content": body["instructions"]})
    reasoning_items = _messages(body.get("input"), messages)
    chat["messages"] = messages
    if chat.get("stream"):
        chat["stream_options"] = {"include_usage": True}
    if "max_output_tokens" in body:
        chat["max_tokens"] = body["max_output_tokens"]
    chat.update(reasoning_effort(body.get("reasoning"), policy))
    chat.update(_text(body.get("text"), policy))
    chat.update(_tools(body.get("tools"), body.get("tool_choice")))
    if isinstance(body.get("prompt_cache_key"), str):
        chat["prompt_cache_key"] = body["prompt_cache_key"]
    if reasoning_items:
        chat["reasoning_items"] = reasoning_items
    return chat


def refuse_state(body: dict[str, Any], policy: Policy) -> None:
    """``UnsupportedParameter`` for what needs state kept between requests (``policy.stateless``): none is kept."""
    if not policy.stateless:
        return
    if body.get("previous_response_id"):
        raise UnsupportedParameter(
            "previous_response_id points at a stored response, and this server keeps none: each request must carry "
            "the whole conversation.",
            parameter="previous_response_id",
            action="Send the earlier turns in input, and no previous_response_id (Codex: keep storage off).",
        )
    if body.get("store") is True:
        raise UnsupportedParameter(
            "store: true asks for the response to be kept for later, and this server keeps nothing.",
            parameter="store",
            action="Send store: false (or leave it out) and carry the conversation in input.",
        )
    for key in ("background", "conversation", "prompt"):
        if body.get(key):
            raise UnsupportedParameter(
                f"{key} needs state kept on the server, and this server keeps none.", parameter=key
            )


def flat_name(namespace: Any, name: Any) -> str:
    """A namespace tool's function as one flat name (xAI has no namespaces); ``ResponsesEventWriter`` splits it."""
    return f"{namespace}__{name}"


def drop_field(key: str, policy: Policy) -> None:
    """Let a ``DROPPED`` field go with a debug line (``policy.drop``); refuse it, or any unknown field, otherwise."""
    if key in DROPPED and policy.drop:
        log.debug("dropped %s: %s", key, DROPPED[key])
        return
    if key in DROPPED:
        raise UnsupportedParameter(f"{key} has no meaning on xAI's chat lane: {DROPPED[key]}.", parameter=key)
    raise UnsupportedParameter(f"{key} is not a Responses field this server can carry to xAI.", parameter=key)


def _messages(raw: Any, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``input`` (a string, or items) appended to ``messages``; the reasoning items, kept aside, returned."""
    if isinstance(raw, str):
        messages.append({"role": "user", "content": raw})
        return []
    if not isinstance(raw, list):
        raise UnsupportedParameter("input must be a string or a list of items.", parameter="input")
    aside: list[dict[str, Any]] = []
    for item in raw:
        kind = item.get("type", "message") if isinstance(item, dict) else None
        if kind == "message" and isinstance(item, dict):
            messages.append(_message(item))
        elif kind == "function_call" and isinstance(item, dict):
            _call(item, messages)
        elif kind == "function_call_output" and isinstance(item, dict):
            messages.append(
                {"role": "tool", "tool_call_id": item.get("call_id"), "content": _output(item.get("output"))}
            )
        elif kind == "reasoning" and isinstance(item, dict):
            aside.append(item)
        elif kind == "web_search_call":
            log.debug("dropped a web_search_call item: the search's findings are in the message after it")
        else:
            raise UnsupportedParameter(
                f"An input item of type {kind!r} cannot be carried to xAI's chat lane.", parameter="input"
            )
    return aside


def _message(item: dict[str, Any]) -> dict[str, Any]:
    role, content = item.get("role"), item.get("content")
    if role not in ("user", "assistant", "system", "developer"):
        raise UnsupportedParameter(
            f"A message has role {role!r}; use user, assistant, system or developer.", parameter="input"
        )
    if isinstance(content, str):
        return {"role": role, "content": content}
    parts = [_part(p) for p in content] if isinstance(content, list) else None
    if parts is None:
        raise UnsupportedParameter("A message's content must be a string or a list of parts.", parameter="input")
    if role != "user":  # only user messages take images; the others are text
        return {"role": role, "content": "".join(p.get("text", "") for p in parts)}
    return {"role": role, "content": parts}


def _part(part: Any) -> dict[str, Any]:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in ("input_text", "output_text", "text") and isinstance(part, dict):
        return {"type": "text", "text": part.get("text", "")}
    if kind == "refusal" and isinstance(part, dict):
        return {"type": "text", "text": part.get("refusal", "")}
    if kind == "input_image" and isinstance(part, dict) and isinstance(part.get("image_url"), str):
        detail = part.get("detail")
        image = {"url": part["image_url"], **({"detail": detail} if detail else {})}
        return {"type": "image_url", "image_url": image}
    raise UnsupportedParameter(
        f"A content part of type {kind!r} cannot be carried to xAI's chat lane.", parameter="input"
    )


def _call(item: dict[str, Any], messages: list[dict[str, Any]]) -> None:
    """A ``function_call`` item joins the assistant message before it (parallel calls are one message)."""
    name = item.get("name", "")
    if item.get("namespace"):
        name = flat_name(item["namespace"], name)
    call = {
        "id": item.get("call_id"),
        "type": "function",
        "function": {"name": name, "arguments": item.get("arguments", "")},
    }
    last = messages[-1] if messages else None
    if last is None or last.get("role") != "assistant":
        last = {"role": "assistant", "content": None}
        messages.append(last)
    last.setdefault("tool_calls", []).append(call)


def _output(output: Any) -> str:
    if isinstance(output, str):
        return output
    if isinstance(output, list) and all(
        isinstance(p, dict) and p.get("type") in ("input_text", "output_text") for p in output
    ):
        return "".join(str(p.get("text", "")) for p in output)
    return json.dumps(output)


def reasoning_effort(raw: Any, policy: Policy) -> dict[str, Any]:
    """``{"reasoning_effort": ...}`` for a Responses ``reasoning`` (``none``: nothing); ``summary`` is dropped."""
    reasoning = raw if isinstance(raw, dict) else {}
    if reasoning.get("summary") is not None:
        drop_field("reasoning.summary", policy)
    effort = reasoning.get("effort")
    if effort is None or effort == "none":
        return {}
    if not isinstance(effort, str) or effort not in EFFORT_ALIASES:
        raise UnsupportedParameter(
            f"reasoning.effort {effort!r} is not one xAI knows (low, medium, high).", parameter="reasoning"
        )
    return {"reasoning_effort": EFFORT_ALIASES[effort]}


def _text(raw: Any, policy: Policy) -> dict[str, Any]:
    text = raw if isinstance(raw, dict) else {}
    if text.get("verbosity") is not None:
        drop_field("text.verbosity", policy)
    fmt = text.get("format")
    if not isinstance(fmt, dict) or fmt.get("type") in (None, "text"):
        return {}
    if fmt.get("type") == "json_schema":
        schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if k in fmt}
        return {"response_format": {"type": "json_schema", "json_schema": schema}}
    return {"response_format": {"type": fmt["type"]}}


def _tools(raw: Any, choice: Any) -> dict[str, Any]:
    tools: list[dict[str, Any]] = []
    search: list[str] = []
    namespaces: dict[str, tuple[str, str]] = {}
    for tool in raw if isinstance(raw, list) else []:
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind == "function":
            tools.append(_function(tool))
        elif kind in SEARCH_TYPES:
            search.append(SEARCH_TYPES[kind])
        elif kind == "namespace":
            for inner in tool.get("tools") or []:
                if not isinstance(inner, dict) or inner.get("type") != "function":
                    raise UnsupportedParameter("A namespace tool may hold only function tools here.", parameter="tools")
                flat = flat_name(tool.get("name"), inner.get("name"))
                namespaces[flat] = (str(tool.get("name")), str(inner.get("name")))
                tools.append(_function({**inner, "name": flat}))
        else:
            raise UnsupportedParameter(
                f"A tool of type {kind!r} cannot be carried to xAI's chat lane.", parameter="tools"
            )
    out: dict[str, Any] = {"tools": tools} if tools else {}
    if search:
        out["search"] = list(dict.fromkeys(search))
    if namespaces:
        out["namespaces"] = namespaces
    if choice is not None:
        out["tool_choice"] = _tool_choice(choice)
    return out


def _function(tool: dict[str, Any]) -> dict[str, Any]:
    function = {k: tool[k] for k in ("name", "description", "parameters", "strict") if k in tool}
    return {"type": "function", "function": function}


def _tool_choice(choice: Any) -> Any:
    if choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, dict) and choice.get("type") == "function":
        return {"type": "function", "function": {"name": choice.get("name")}}
    raise UnsupportedParameter(f"tool_choice {choice!r} cannot be carried to xAI's chat lane.", parameter="tool_choice")
