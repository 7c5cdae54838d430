"""How does an Anthropic Messages request become a chat-completions request? Pure, so the server stays thin.

Anthropic clients (Claude Code, the anthropic SDKs) speak Messages; xAI
speaks chat completions and Responses, and chat -> Responses already exists
in this package. So a Messages request pivots on the chat-completions body
(an OpenAI ``/chat/completions`` dict), and ``messages_to_chat`` returns it
in a ``ChatRequest`` together with what a chat body has no place for:

* ``search``: Anthropic's web search server tool (``web_search_*``) becomes
  ``["web"]``, the ``search=`` names ``wire._requests.search_tools`` turns
  into xAI's ``web_search`` tool (Responses lane only), with its domain
  filters in ``search_filters`` (xAI's ``allowed_domains`` / ``excluded_domains``).
* ``reasoning_items``: a thinking block sent back by the client carries, as
  its ``signature``, xAI's reasoning ``encrypted_content`` (the
  ``ReasoningSeal`` our writers put there). Chat completions has no place
  for it, so it is kept for the Responses lane: each entry is ``(i, item)``,
  a Responses ``reasoning`` input item to place before chat message ``i``
  (``wire._responses_policy.place_reasoning``). ``keeps_reasoning`` says when
  the request should go there: thinking asked for, or signed thinking sent
  back, and no ``stop_sequences`` (/responses has none; then the chat lane
  it is, the items are dropped, and xAI reasons afresh).

Fields with no meaning for xAI (``DROPPED``) are dropped with a debug line on
``xai_oauth.wire`` under the lenient policy, refused under the strict one;
fields that cannot be honoured (``REFUSED``, Anthropic-run tools other than
web search, file and PDF sources) raise ``UnsupportedParameter`` under both.
``cache_control`` marks and a text block's ``citations`` are always dropped:
they label content, never change an answer.

Thinking budgets map to xAI's reasoning efforts (``effort_for_budget``):
under 4,096 tokens ``low``, under 16,384 ``medium``, else ``high``; disabled,
adaptive or absent thinking sends no effort (the model's own default).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from .._exceptions import RequestRejected, UnsupportedParameter

__all__ = [
    "DROPPED",
    "REFUSED",
    "ChatRequest",
    "count_tokens",
    "effort_for_budget",
    "messages_to_chat",
]

_log = logging.getLogger("xai_oauth.wire")

#: Top-level fields with no meaning for xAI, and why each can go without changing the answer.
DROPPED: dict[str, str] = {
    "metadata": "labels the request for Anthropic's abuse checks (user_id)",
    "context_management": "asks Anthropic to prune old tool results server-side; the client sends what it keeps",
    "output_config": "effort and format hints for Claude (thinking sets xAI's effort)",
    "service_tier": "Anthropic's capacity tier",
    "container": "Anthropic's code-execution container, unused without its tools",
    "top_k": "a sampling knob xAI does not offer",
    "inference_geo": "where Anthropic runs the request",
    "betas": "Anthropic beta flags",
    "speed": "Anthropic's fast-mode switch",
}
#: Fields that would change the answer and cannot be honoured: refused under every policy.
REFUSED: dict[str, str] = {
    "mcp_servers": "remote MCP servers are called by Anthropic's servers; xAI has none to call them",
}
#: Fields ``messages_to_chat`` translates.
_TRANSLATED = frozenset(
    {
        "model",
        "messages",
        "system",
        "max_tokens",
        "temperature",
        "top_p",
        "stop_sequences",
        "stream",
        "tools",
        "tool_choice",
        "thinking",
    }
)
_WEB_SEARCH = "web_search_"
#: Thinking budgets (tokens) below which each effort is chosen; at or above the last, ``high``.
BUDGET_EFFORTS = ((4096, "low"), (16384, "medium"))


@dataclass
class ChatRequest:
    """A chat-completions body, plus what Anthropic asked for that a chat body cannot hold (see the module doc)."""

    chat: dict[str, Any]
    search: list[str] = field(default_factory=list)
    search_filters: dict[str, list[str]] = field(default_factory=dict)
    reasoning_items: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    @property
    def keeps_reasoning(self) -> bool:
        """Whether the Responses lane should carry it, so reasoning travels sealed both ways (see the module doc)."""
        thinking = bool(self.reasoning_items or self.chat.get("reasoning_effort"))
        return thinking and "stop" not in self.chat


def _lenient(policy: object) -> bool:
    """``FieldPolicy.LENIENT`` (``wire._requests``) or its value ``"lenient"``; anything else is strict."""
    return getattr(policy, "value", policy) == "lenient"


def messages_to_chat(body: dict[str, Any], *, policy: object) -> ChatRequest:
    """An Anthropic Messages request as a chat-completions request; ``policy`` decides ``DROPPED`` fields."""
    if not isinstance(body, dict):
        raise RequestRejected("The request body must be a JSON object.", parameter="body")
    _check_fields(body, lenient=_lenient(policy))
    request = ChatRequest(chat={})
    messages = _system(body.get("system"))
    turns = body.get("messages")
    if not isinstance(turns, list) or not turns:
        raise RequestRejected("messages must be a non-empty list of user and assistant turns.", parameter="messages")
    for turn in turns:
        messages += _turn(turn, request, len(messages))
    if all(isinstance(t, dict) and t.get("role") == "system" for t in turns):
        raise RequestRejected("messages holds only system turns; add a user turn.", parameter="messages")
    chat: dict[str, Any] = {"model": body.get("model"), "messages": messages}
    for name in ("max_tokens", "temperature", "top_p"):
        if body.get(name) is not None:
            chat[name] = body[name]
    if body.get("stop_sequences"):
        chat["stop"] = _strings(body["stop_sequences"], "stop_sequences")
    listed = body.get("tools") or []
    if not isinstance(listed, list):
        raise RequestRejected("tools must be a list of tools.", parameter="tools")
    tools = [t for t in (_tool(t, request) for t in listed) if t is not None]
    if tools:
        chat["tools"] = tools
    _tool_choice(body.get("tool_choice"), chat)
    effort = _thinking(body.get("thinking"))
    if effort:
        chat["reasoning_effort"] = effort
    if body.get("stream"):
        chat["stream"] = True
    request.chat = chat
    return request


def _check_fields(body: dict[str, Any], *, lenient: bool) -> None:
    for name in sorted(set(body) - _TRANSLATED):
        if name in REFUSED and body[name]:
            raise UnsupportedParameter(f"{name} cannot be honoured: {REFUSED[name]}.", parameter=name)
        if name in REFUSED:
            continue
        why = DROPPED.get(name, "not a field this translation knows")
        if not lenient:
            raise UnsupportedParameter(f"{name} has no meaning for xAI ({why}).", parameter=name)
        _log.debug("anthropic: dropped %s: %s", name, why)


def _system(system: Any) -> list[dict[str, Any]]:
    if system is None or system == "" or system == []:
        return []
    if isinstance(system, str):
        return [{"role": "system", "content": system}]
    if isinstance(system, list) and all(isinstance(b, dict) and b.get("type") == "text" for b in system):
        return [{"role": "system", "content": "\n\n".join(str(b.get("text", "")) for b in system)}]
    raise RequestRejected("system must be a string or a list of text blocks.", parameter="system")


def _turn(turn: Any, request: ChatRequest, at: int) -> list[dict[str, Any]]:
    """One Anthropic turn as chat messages; ``at`` is where the first of them will sit in ``messages``."""
    role = turn.get("role") if isinstance(turn, dict) else None
    if role == "system":  # Claude Code 2.1 puts its environment notes mid-conversation as system turns
        return _system(turn.get("content"))
    if role not in ("user", "assistant"):
        raise RequestRejected(f"A turn has role {role!r}; use user, assistant or system.", parameter="messages")
    content = turn.get("content")
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    if not isinstance(content, list):
        raise RequestRejected("A turn's content must be a string or a list of blocks.", parameter="messages")
    if role == "assistant":
        return [_assistant(content, request, at)]
    return _user(content)


def _assistant(blocks: list[Any], request: ChatRequest, at: int) -> dict[str, Any]:
    text: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in blocks:
        kind = _kind(block)
        if kind == "text":
            text.append(str(block.get("text", "")))
        elif kind == "tool_use":
            arguments = json.dumps(block.get("input") or {}, ensure_ascii=False, separators=(",", ":"))
            function = {"name": block.get("name"), "arguments": arguments}
            calls.append({"id": block.get("id"), "type": "function", "function": function})
        elif kind in ("thinking", "redacted_thinking"):
            sealed = block.get("signature") if kind == "thinking" else block.get("data")
            if sealed:
                summary = [{"type": "summary_text", "text": block["thinking"]}] if block.get("thinking") else []
                item = {"type": "reasoning", "encrypted_content": sealed, "summary": summary}
                request.reasoning_items.append((at, item))
        elif kind in ("server_tool_use", "web_search_tool_result"):
            _log.debug("anthropic: dropped a %s block sent back: the answer's text already carries it", kind)
        else:
            raise RequestRejected(f"An assistant turn has a {kind!r} block; xAI cannot take it.", parameter="messages")
    message: dict[str, Any] = {"role": "assistant", "content": "".join(text) or None}
    if calls:
        message["tool_calls"] = calls
    return message


def _user(blocks: list[Any]) -> list[dict[str, Any]]:
    """Tool results first (chat wants them right after the assistant's calls), then the rest as one user message."""
    results: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for block in blocks:
        kind = _kind(block)
        if kind == "tool_result":
            text, images = _tool_result(block)
            results.append({"role": "tool", "tool_call_id": block.get("tool_use_id"), "content": text})
            if images:
                note = f"(images returned by tool call {block.get('tool_use_id')})"
                parts += [{"type": "text", "text": note}, *images]
        else:
            parts.append(_part(block))
    if parts and all(p["type"] == "text" for p in parts):
        return [*results, {"role": "user", "content": "".join(p["text"] for p in parts)}]
    return results + ([{"role": "user", "content": parts}] if parts else [])


def _tool_result(block: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """Its text (``Error: `` first when ``is_error``, which chat has no field for) and any images."""
    content = block.get("content")
    if content is not None and not isinstance(content, (str, list)):
        raise RequestRejected(
            "A tool_result's content must be a string or a list of text and image blocks.", parameter="messages"
        )
    text: list[str] = []
    images: list[dict[str, Any]] = []
    for part in [{"type": "text", "text": content}] if isinstance(content, str) else content or ():
        translated = _part(part)
        if translated["type"] == "text":
            text.append(translated["text"])
        else:
            images.append(translated)
    joined = "\n".join(text)
    return (f"Error: {joined}" if block.get("is_error") else joined), images


def _part(block: Any) -> dict[str, Any]:
    kind = _kind(block)
    if kind == "text":
        return {"type": "text", "text": str(block.get("text", ""))}
    if kind == "image":
        return {"type": "image_url", "image_url": {"url": _image_url(block.get("source"))}}
    if kind == "document":
        source = block.get("source")
        if isinstance(source, dict) and source.get("type") == "text":
            return {"type": "text", "text": str(source.get("data", ""))}
        raise UnsupportedParameter("Only text documents can be sent to xAI; send PDFs as text.", parameter="messages")
    raise RequestRejected(f"A user turn has a {kind!r} block; xAI cannot take it.", parameter="messages")


def _image_url(source: Any) -> str:
    kind = source.get("type") if isinstance(source, dict) else None
    if kind == "base64":
        return f"data:{source.get('media_type')};base64,{source.get('data')}"
    if kind == "url":
        return str(source.get("url"))
    raise UnsupportedParameter(
        f"An image source of type {kind!r} cannot be sent to xAI (Files API ids live at Anthropic).",
        parameter="messages",
        action="Send the image as base64 or as a URL.",
    )


def _strings(value: Any, name: str) -> list[str]:
    """``value`` when it is a list of strings; ``invalid_request`` naming the field otherwise."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise RequestRejected(f"{name} must be a list of strings.", parameter=name.partition("[")[0])
    return list(value)


def _kind(block: Any) -> str | None:
    if not isinstance(block, dict):
        raise RequestRejected("A content block must be an object with a type.", parameter="messages")
    kind = block.get("type")
    return kind if isinstance(kind, str) else None


def _tool(tool: Any, request: ChatRequest) -> dict[str, Any] | None:
    """A client tool as a chat function tool; web search as ``request.search`` (None); other server tools refused."""
    if not isinstance(tool, dict):
        raise RequestRejected("Each tool must be an object.", parameter="tools")
    kind = tool.get("type")
    if kind in (None, "custom"):
        function = {"name": tool.get("name"), "parameters": tool.get("input_schema") or {"type": "object"}}
        if tool.get("description"):
            function["description"] = tool["description"]
        return {"type": "function", "function": function}
    if isinstance(kind, str) and kind.startswith(_WEB_SEARCH):
        request.search = ["web"]
        for ours, theirs in (("allowed_domains", "allowed_domains"), ("excluded_domains", "blocked_domains")):
            if tool.get(theirs):
                request.search_filters[ours] = _strings(tool[theirs], f"tools[].{theirs}")
        dropped = sorted(k for k in ("max_uses", "user_location") if tool.get(k))
        if dropped:
            _log.debug("anthropic: dropped web search %s: xAI's web_search has no such knob", ", ".join(dropped))
        return None
    raise UnsupportedParameter(
        f"The tool type {kind!r} runs on Anthropic's servers; xAI cannot run it.",
        parameter="tools",
        action="Define it as a client tool (name, description, input_schema), or leave it out.",
    )


def _tool_choice(choice: Any, chat: dict[str, Any]) -> None:
    if choice is None:
        return
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind == "tool":
        chat["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
    elif kind in ("auto", "any", "none"):
        chat["tool_choice"] = {"auto": "auto", "any": "required", "none": "none"}[kind]
    else:
        raise RequestRejected(f"tool_choice type {kind!r} is not auto, any, tool or none.", parameter="tool_choice")
    if choice.get("disable_parallel_tool_use") and kind != "none":
        chat["parallel_tool_calls"] = False


def effort_for_budget(budget: int) -> str:
    """xAI's reasoning effort for an Anthropic thinking budget (``BUDGET_EFFORTS``)."""
    return next((effort for limit, effort in BUDGET_EFFORTS if budget < limit), "high")


def _thinking(thinking: Any) -> str | None:
    kind = thinking.get("type") if isinstance(thinking, dict) else thinking
    if kind in (None, "disabled", "adaptive", "between_tools"):
        return None
    budget = thinking.get("budget_tokens") if isinstance(thinking, dict) else None
    if kind != "enabled" or not isinstance(budget, int) or isinstance(budget, bool):
        raise RequestRejected(
            f"thinking {thinking!r} is not one this server knows.",
            parameter="thinking",
            action='Send {"type": "enabled", "budget_tokens": N}, {"type": "disabled"} or leave it out.',
        )
    return effort_for_budget(budget)


#: Tokens an image is counted as: Anthropic's cost of an image near its 1.15-megapixel cap (about 1,600).
IMAGE_TOKENS = 1600
#: Tokens per message for the role and framing around its content.
MESSAGE_TOKENS = 4


def count_tokens(body: dict[str, Any]) -> int:
    """An estimate, not a tokenizer's count: the request translated, then UTF-8 bytes / 4 of its text.

    Counted: every message's text, tool calls' arguments and tool results,
    the tools' JSON, plus ``MESSAGE_TOKENS`` per message and ``IMAGE_TOKENS``
    per image. English runs near 4 bytes a token for both Anthropic's and
    xAI's tokenizers; code and other scripts differ, so take it as a guide.
    """
    chat = messages_to_chat({**body, "max_tokens": 1}, policy="lenient").chat
    size, images = 0, 0
    for message in chat["messages"]:
        content = message.get("content") or ""
        for part in [content] if isinstance(content, str) else content:
            if isinstance(part, str) or part.get("type") == "text":
                size += len((part if isinstance(part, str) else part["text"]).encode("utf-8"))
            else:
                images += 1
        for call in message.get("tool_calls") or ():
            size += len(json.dumps(call["function"], ensure_ascii=False).encode("utf-8"))
    if chat.get("tools"):
        size += len(json.dumps(chat["tools"], ensure_ascii=False).encode("utf-8"))
    return -(-size // 4) + MESSAGE_TOKENS * len(chat["messages"]) + IMAGE_TOKENS * images
