"""What body does a chat request become on each lane? Chat completions in, chat completions or Responses out.

One request shape (chat ``messages`` plus OpenAI-style parameters) goes to
either of xAI's endpoints: ``/chat/completions`` takes it nearly as it is,
``/responses`` (multi-agent models, server-side search) takes ``input`` items,
``reasoning.effort``, ``max_output_tokens`` and flat function tools. This
module is that translation, pure, so ``chat()`` and a local server that
received a body of its own build the same thing.

A field a lane cannot carry is decided by a ``FieldPolicy``: ``STRICT``
(``chat()``'s rule) refuses every one with ``UnsupportedParameter``, never
dropping anything silently; ``LENIENT`` (for a server fronting clients that
send everything they know) drops the fields that have no meaning for xAI,
with a debug line, and still refuses the fields that would change the answer.
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Callable
from typing import Any

from .._exceptions import RequestRejected, UnsupportedParameter
from .._models import CHAT_COMPLETIONS, RESPONSES, ModelChoice

__all__ = [
    "CHAT_PARAMS",
    "EFFORTS",
    "NO_INLINE_CITATIONS",
    "NO_MEANING_FOR_XAI",
    "RESPONSES_PARAMS",
    "RESPONSES_RENAMES",
    "SEARCH_TOOLS",
    "FieldPolicy",
    "build_request",
    "request_from_chat_body",
    "search_tools",
    "without_inline_citations",
]

EFFORTS = ("low", "medium", "high")

#: Passed through unchanged to /chat/completions (OpenAI-compatible names xAI accepts).
CHAT_PARAMS = frozenset(
    {
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
        "seed",
        "n",
        "presence_penalty",
        "frequency_penalty",
        "logprobs",
        "top_logprobs",
        "user",
        "search_parameters",
        "reasoning_effort",
        "stream_options",
    }
)
#: What /responses takes, after the renames below.
RESPONSES_PARAMS = frozenset(
    {
        "temperature",
        "top_p",
        "max_output_tokens",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "text",
        "user",
        "store",
        "previous_response_id",
        "instructions",
        "include",
        "metadata",
        "max_tool_calls",
    }
)
RESPONSES_RENAMES = {"max_tokens": "max_output_tokens", "max_completion_tokens": "max_output_tokens"}

#: Fields that label, bill, cache or store a request but never shape its answer: a lane that cannot carry
#: one loses nothing the caller would see, so ``FieldPolicy.LENIENT`` drops it.
NO_MEANING_FOR_XAI = frozenset(
    {"metadata", "prompt_cache_key", "safety_identifier", "service_tier", "store", "stream_options", "user"}
)

#: ``search=`` names and the Responses API's server-side tools they turn on.
SEARCH_TOOLS = {"web": "web_search", "x": "x_search"}
#: What xAI's Grok CLI adds to ``include`` when its model searches on xAI's own route: the text without inline
#: citation marks (the sources come as annotations, which every client of ours is given). Other Responses
#: providers refuse it, so it goes only where ``Config.reaches_xai`` says.
NO_INLINE_CITATIONS = "no_inline_citations"

_log = logging.getLogger("xai_oauth")


class FieldPolicy(enum.Enum):
    """What to do with a field the lane cannot carry."""

    #: Refuse it (``UnsupportedParameter``): ``chat()``'s rule, so nothing the caller asked for is lost unseen.
    STRICT = "strict"
    #: Drop it (debug log) when it has no meaning for xAI (``NO_MEANING_FOR_XAI``); refuse the rest.
    LENIENT = "lenient"


def without_inline_citations(body: dict[str, Any]) -> dict[str, Any]:
    """A /responses ``body`` that searches, asking xAI for its text without inline citation marks; else as it is."""
    tools: list[Any] = body["tools"] if isinstance(body.get("tools"), list) else []
    if not any(isinstance(tool, dict) and tool.get("type") in SEARCH_TOOLS.values() for tool in tools):
        return body
    include: list[Any] = body["include"] if isinstance(body.get("include"), list) else []
    return {**body, "include": list(dict.fromkeys([*include, NO_INLINE_CITATIONS]))}


def search_tools(search: Any) -> list[dict[str, str]]:
    """``["web", "x"]`` (or ``"web,x"``) as Responses tools; ``invalid_request`` for anything else."""
    names = search.split(",") if isinstance(search, str) else search
    if not isinstance(names, (list, tuple)) or not names or not all(isinstance(n, str) for n in names):
        names = [repr(search)]
    wanted = [n.strip().lower() for n in names]
    unknown = [n for n in wanted if n not in SEARCH_TOOLS]
    if unknown:
        raise RequestRejected(
            f"search={search!r}: {', '.join(unknown)} is not a search xAI offers.",
            parameter="search",
            action='Pass search=["web"], ["x"] or ["web", "x"] (on the command line: --search web,x).',
        )
    return [{"type": SEARCH_TOOLS[n]} for n in dict.fromkeys(wanted)]


def build_request(
    choice: ModelChoice,
    messages: list[dict[str, Any]],
    *,
    stream: bool,
    thinking: Any,
    params: dict[str, Any],
    proxy: bool = False,
    search: Any = None,
    policy: FieldPolicy = FieldPolicy.STRICT,
) -> dict[str, Any]:
    """The JSON body for ``choice.lane``; a field it cannot carry is refused or dropped as ``policy`` says.

    ``search`` (``["web", "x"]``) adds xAI's server-side search tools; they
    exist only on the Responses lane, so the caller picks that lane for it.

    ``proxy``: the body goes to the subscription's chat proxy, which serves
    most models only as streams and keeps nothing: ``stream`` is forced on
    (the caller reads a whole answer out of the stream), responses carry
    ``store: false``, and ``previous_response_id`` (a stored response) is refused.
    """
    if proxy:
        stream = True
        if choice.lane == RESPONSES and "previous_response_id" in params:
            raise UnsupportedParameter(
                "previous_response_id needs a stored response, and the subscription's chat proxy stores none "
                "(store: false); send the whole conversation in messages instead.",
                parameter="previous_response_id",
                action="Send the earlier turns in messages, or use the API key (xai/<model>) or XAI_OAUTH_ROUTE=api.",
            )
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise RequestRejected(
            "There is nothing to ask: messages must be a non-empty list of {'role', 'content'} objects.",
            parameter="messages",
            action='Pass the question as a string, or as messages=[{"role": "user", "content": "..."}].',
        )
    n = params.get("n")
    if n is not None and n != 1:
        raise UnsupportedParameter(
            f"n={n!r} asks for several answers; this library returns one answer (choice 0) and would drop the rest.",
            parameter="n",
            action="Leave n out (or set n=1), and call chat() once per answer you want.",
        )
    effort = _effort(thinking)
    if search and choice.lane != RESPONSES:
        raise UnsupportedParameter(
            "search runs on the Responses lane; this request was built for chat completions.", parameter="search"
        )
    body = _BODY_FOR_LANE[choice.lane](choice, messages, params, policy, search)
    if effort:
        if choice.lane == RESPONSES:
            body["reasoning"] = {"effort": effort}
        else:
            body["reasoning_effort"] = effort
    if stream:
        body["stream"] = True
        if choice.lane == CHAT_COMPLETIONS:
            body.setdefault("stream_options", {"include_usage": True})
    if proxy and choice.lane == RESPONSES:
        body["store"] = False
    return body


def request_from_chat_body(
    choice: ModelChoice,
    body: dict[str, Any],
    *,
    proxy: bool = False,
    policy: FieldPolicy = FieldPolicy.STRICT,
    search: Any = None,
) -> dict[str, Any]:
    """A chat-completions request body someone sent (``model``, ``messages``, ``stream``, ...) for ``choice.lane``.

    For a caller that received a body rather than building one (a local
    server): ``model`` was already read into ``choice``, ``reasoning_effort``
    becomes the lane's own effort field, and the rest goes through
    ``build_request`` under ``policy``.
    """
    params = {k: v for k, v in body.items() if k not in ("model", "messages", "stream", "reasoning_effort")}
    return build_request(
        choice,
        body.get("messages"),  # type: ignore[arg-type]  # checked by build_request
        stream=bool(body.get("stream")),
        thinking=body.get("reasoning_effort"),
        params=params,
        proxy=proxy,
        policy=policy,
        search=search,
    )


def _chat_completions_body(
    choice: ModelChoice, messages: list[dict[str, Any]], params: dict[str, Any], policy: FieldPolicy, search: Any
) -> dict[str, Any]:
    """Chat completions take the request nearly as it is."""
    return {"model": choice.model_id, "messages": messages, **_carried(params, CHAT_PARAMS, choice, policy)}


def _responses_body(
    choice: ModelChoice, messages: list[dict[str, Any]], params: dict[str, Any], policy: FieldPolicy, search: Any
) -> dict[str, Any]:
    """Responses take ``input`` items, renamed limits, ``text.format`` and flat function tools."""
    renamed = {RESPONSES_RENAMES.get(k, k): v for k, v in params.items()}
    response_format = renamed.pop("response_format", None)
    carried = _carried(renamed, RESPONSES_PARAMS, choice, policy)  # refused before the messages are read
    body = {
        "model": choice.model_id,
        "input": [_input_item(item) for m in messages for item in _split_tool_calls(m)],
        **carried,
    }
    if response_format is not None:
        body["text"] = {"format": _text_format(response_format)}
    if "tools" in body:
        body["tools"] = [_responses_tool(t) for t in body["tools"]]
    if "tool_choice" in body:
        body["tool_choice"] = _responses_tool_choice(body["tool_choice"])
    if search:
        body["tools"] = [*body.get("tools", []), *search_tools(search)]
    return body


def _responses_tool_choice(choice: Any) -> Any:
    """A forced function in the Responses shape, ``{"type": "function", "name"}`` (xAI's Grok CLI sends it so
    there), from chat completions' ``{"type": "function", "function": {"name"}}``; anything else as it is."""
    function = choice.get("function") if isinstance(choice, dict) and choice.get("type") == "function" else None
    if isinstance(function, dict):
        return {"type": "function", "name": function.get("name")}
    return choice


#: One body builder per lane; a further wire format adds its own here.
_BODY_FOR_LANE: dict[
    str, Callable[[ModelChoice, list[dict[str, Any]], dict[str, Any], FieldPolicy, Any], dict[str, Any]]
] = {CHAT_COMPLETIONS: _chat_completions_body, RESPONSES: _responses_body}


def _effort(thinking: Any) -> str | None:
    if thinking is None:
        return None
    effort = thinking.get("effort") if isinstance(thinking, dict) else thinking
    if effort not in EFFORTS:
        raise RequestRejected(
            f"thinking effort {effort!r} is not one xAI knows.",
            parameter="thinking",
            action=f'Use thinking={{"effort": "low"}}, "medium" or "high" ({", ".join(EFFORTS)}), or leave it out.',
        )
    return str(effort)


def _carried(
    params: dict[str, Any], allowed: frozenset[str], choice: ModelChoice, policy: FieldPolicy
) -> dict[str, Any]:
    """``params`` the lane takes; the rest refused, or under ``LENIENT`` dropped when they mean nothing to xAI."""
    unknown = set(params) - allowed
    if not unknown:
        return params
    if policy is FieldPolicy.LENIENT:
        dropped = sorted(unknown & NO_MEANING_FOR_XAI)
        if dropped:
            _log.debug("dropped %s: no meaning for xAI on %s", ", ".join(dropped), choice.path)
            unknown -= NO_MEANING_FOR_XAI
    if unknown:
        where = "/responses (multi-agent models)" if choice.lane == RESPONSES else "/chat/completions"
        names = sorted(unknown)
        raise UnsupportedParameter(
            f"{', '.join(names)} cannot be sent to {where} for {choice.display_id}.", parameter=names[0]
        )
    return {k: v for k, v in params.items() if k in allowed}


def _split_tool_calls(message: dict[str, Any]) -> list[dict[str, Any]]:
    """An assistant message with ``tool_calls`` becomes its text (if any) plus one item per call."""
    calls = message.get("tool_calls") if message.get("role") == "assistant" else None
    if not calls:
        return [message]
    text = [{**message, "tool_calls": None}] if message.get("content") else []
    return text + [{"role": "_function_call", **call} for call in calls]


def _input_item(message: dict[str, Any]) -> dict[str, Any]:
    role = message.get("role")
    if role == "_function_call":
        function = message.get("function") or {}
        return {
            "type": "function_call",
            "call_id": message.get("id"),
            "name": function.get("name"),
            "arguments": function.get("arguments", ""),
        }
    if role == "tool":
        content = message.get("content")
        return {
            "type": "function_call_output",
            "call_id": message.get("tool_call_id"),
            "output": content if isinstance(content, str) else json.dumps(content),
        }
    if role not in ("system", "developer", "user", "assistant"):
        raise RequestRejected(
            f"A message has role {role!r}; use system, developer, user, assistant or tool.", parameter="messages"
        )
    content = message.get("content")
    if isinstance(content, str):
        return {"role": role, "content": content}
    if not isinstance(content, list):
        raise RequestRejected("A message's content must be a string or a list of parts.", parameter="messages")
    return {"role": role, "content": [_input_part(part, role) for part in content]}


def _input_part(part: Any, role: str) -> dict[str, Any]:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "text":
        return {"type": "output_text" if role == "assistant" else "input_text", "text": part.get("text", "")}
    if kind == "image_url":
        image = part.get("image_url")
        url, detail = (image.get("url"), image.get("detail")) if isinstance(image, dict) else (image, None)
        return {"type": "input_image", "image_url": url, **({"detail": detail} if detail else {})}
    if kind in ("input_text", "input_image", "output_text"):
        return dict(part)  # already Responses-shaped
    raise RequestRejected(f"A message part has type {kind!r}; use text or image_url.", parameter="messages")


def _text_format(response_format: Any) -> Any:
    """Chat's ``response_format`` as Responses' ``text.format`` (json_schema is flattened one level)."""
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        schema = response_format.get("json_schema") or {}
        return {"type": "json_schema", **schema}
    return response_format


def _responses_tool(tool: Any) -> Any:
    """Chat's ``{"type": "function", "function": {...}}`` as Responses' flat function tool."""
    if isinstance(tool, dict) and tool.get("type") == "function" and isinstance(tool.get("function"), dict):
        return {"type": "function", **tool["function"]}
    return tool
