"""Which body goes to xAI's /responses so that reasoning survives the trip? Pure, the step before sending.

xAI serves every model on /responses, and that endpoint takes back the
reasoning items of earlier turns, with their ``encrypted_content``, so the
model continues its own reasoning instead of starting afresh. Translating
through chat completions loses them. Two requests keep them:

**A client's Responses request** goes there as it is (``responses_for_xai``).
Only what xAI cannot take is touched, by the same rules and words as the
translation to chat (``wire._openai_requests``):

* dropped with a debug line: the ``DROPPED`` fields, except the two that
  /responses itself takes (``KEPT``): ``include`` (how encrypted reasoning
  is asked for) and ``store: false``;
* refused: ``store: true``, ``previous_response_id`` and the other fields that
  need a stored response (nothing is stored), an ``item_reference`` input
  item (the same), and any field or tool this server does not know;
* mapped: ``web_search`` / ``web_search_preview`` / ``x_search`` tools to
  xAI's ``web_search`` / ``x_search``; ``namespace`` tools flattened to
  ``namespace__name`` function tools (xAI has no namespaces), their calls
  in ``input`` likewise, with the map back in ``namespaces`` for
  ``ResponsesEventWriter``; ``reasoning.effort`` to xAI's efforts;
* set: ``stream`` (the server always reads a stream; a whole answer is the
  events folded). The chat proxy's ``store: false`` is the sender's
  (``Upstream.events_for_body``), which knows the route.

Every input item, reasoning included, passes untouched otherwise.

**An Anthropic request with thinking** (``keep_reasoning``): its signed
thinking blocks come back as ``(i, item)`` pairs, a reasoning item to place
before chat message ``i`` (``wire._anthropic``). Once the chat body has
been built for the Responses lane, ``place_reasoning`` puts each item before
the input items message ``i`` became, and asks for ``include:
["reasoning.encrypted_content"]``, so the answer's reasoning is sealed too
and its seal becomes the next turn's signature.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from .._exceptions import RequestRejected, UnsupportedParameter
from ._openai_requests import SEARCH_TYPES, Policy, drop_field, flat_name, reasoning_effort, refuse_state
from ._requests import SEARCH_TOOLS, _split_tool_calls

__all__ = ["CARRIED", "ENCRYPTED_REASONING", "KEPT", "XaiResponsesRequest", "place_reasoning", "responses_for_xai"]

_log = logging.getLogger("xai_oauth.wire")

#: What ``include`` asks for to get reasoning back sealed.
ENCRYPTED_REASONING = "reasoning.encrypted_content"
#: ``DROPPED`` fields that /responses takes as they are.
KEPT = frozenset({"include", "store"})
#: Fields carried to /responses as they are (``tools``, ``reasoning``, ``text`` and ``input`` are looked into).
CARRIED = frozenset(
    {
        "model",
        "input",
        "instructions",
        "stream",
        "temperature",
        "top_p",
        "max_output_tokens",
        "max_tool_calls",
        "tool_choice",
        "parallel_tool_calls",
        "top_logprobs",
        "user",
        *KEPT,
    }
)
_LOOKED_INTO = frozenset({"tools", "reasoning", "text", "prompt_cache_key", "previous_response_id"})


@dataclass
class XaiResponsesRequest:
    """The body for xAI's /responses, and the flattened tool names -> ``(namespace, name)`` for the writer."""

    body: dict[str, Any]
    namespaces: dict[str, tuple[str, str]] = field(default_factory=dict)


def responses_for_xai(request: dict[str, Any], *, policy: Policy | None = None) -> XaiResponsesRequest:
    """A client's Responses request as xAI's /responses takes it; ``UnsupportedParameter`` for what cannot go."""
    policy = policy or Policy()
    refuse_state(request, policy)
    body = {k: v for k, v in request.items() if k in CARRIED}
    for key in sorted(set(request) - CARRIED - _LOOKED_INTO):
        drop_field(key, policy)
    if "prompt_cache_key" in request:  # the conversation's id: the server's to use, not a field sent as it is
        _log.debug("prompt_cache_key kept for the conversation id, not sent")
    body["stream"] = True
    if not isinstance(body.get("include"), list) or not body["include"]:
        body.pop("include", None)
    elif not all(isinstance(name, str) for name in body["include"]):
        raise RequestRejected("include must be a list of strings.", parameter="include")
    effort = reasoning_effort(request.get("reasoning"), policy).get("reasoning_effort")
    if effort:
        body["reasoning"] = {"effort": effort}
    text = dict(request["text"]) if isinstance(request.get("text"), dict) else {}
    if text.pop("verbosity", None) is not None:
        drop_field("text.verbosity", policy)
    if text:
        body["text"] = text
    passed = XaiResponsesRequest(body)
    if "tools" in request:
        body["tools"] = _tools(request["tools"], passed.namespaces)
    if "input" in request:
        body["input"] = _input(request["input"])
    return passed


def _tools(raw: Any, namespaces: dict[str, tuple[str, str]]) -> list[dict[str, Any]]:
    tools: list[dict[str, Any]] = []
    for tool in raw if isinstance(raw, list) else []:
        kind = tool.get("type") if isinstance(tool, dict) else None
        if not isinstance(tool, dict) or not isinstance(kind, str):
            raise UnsupportedParameter("Each tool must be an object with a type.", parameter="tools")
        if kind == "function":
            tools.append(tool)
        elif kind in SEARCH_TYPES:
            search = {"type": SEARCH_TOOLS[SEARCH_TYPES[kind]]}
            if search not in tools:
                tools.append(search)
        elif kind == "namespace":
            inners = tool.get("tools") or []
            if not isinstance(inners, list):
                raise UnsupportedParameter(
                    "A namespace tool's tools must be a list of function tools.", parameter="tools"
                )
            for inner in inners:
                if not isinstance(inner, dict) or inner.get("type") != "function":
                    raise UnsupportedParameter("A namespace tool may hold only function tools here.", parameter="tools")
                flat = flat_name(tool.get("name"), inner.get("name"))
                namespaces[flat] = (str(tool.get("name")), str(inner.get("name")))
                tools.append({**inner, "name": flat})
        else:
            raise UnsupportedParameter(f"A tool of type {kind!r} cannot be carried to xAI.", parameter="tools")
    return tools


def _input(raw: Any) -> Any:
    """``input`` as it is, but for namespaced calls (flattened) and references to stored items (refused)."""
    if not isinstance(raw, list):
        return raw
    items = []
    for item in raw:
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "item_reference":
            raise UnsupportedParameter(
                "An item_reference input item points at a stored item, and this server keeps none.",
                parameter="input",
                action="Send the item itself in input.",
            )
        if kind == "function_call" and isinstance(item, dict) and item.get("namespace"):
            flat = flat_name(item["namespace"], item.get("name"))
            item = {**{k: v for k, v in item.items() if k != "namespace"}, "name": flat}
        items.append(item)
    return items


def place_reasoning(
    body: dict[str, Any], messages: list[dict[str, Any]], kept: list[tuple[int, dict[str, Any]]]
) -> dict[str, Any]:
    """A Responses body built from ``messages``, with each kept ``(i, item)`` before message ``i``'s input items.

    ``include`` asks for the answer's reasoning sealed as well, so the next
    turn can hand it back in the same way.
    """
    before: dict[int, list[dict[str, Any]]] = {}
    for index, item in kept:
        before.setdefault(min(max(index, 0), len(messages)), []).append(item)
    built = list(body.get("input") or [])
    items, at = [], 0
    for index, message in enumerate(messages):  # the input items each message became, as the body builder splits
        size = len(_split_tool_calls(message))
        items += [*before.get(index, []), *built[at : at + size]]
        at += size
    items += [*before.get(len(messages), []), *built[at:]]
    include = [*(body.get("include") or []), ENCRYPTED_REASONING]
    return {**body, "input": items, "include": list(dict.fromkeys(include))}
