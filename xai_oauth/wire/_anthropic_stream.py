"""What does an answer look like to an Anthropic client? Whole messages, stream events and errors, from our events.

``answer_to_message`` builds a whole Messages answer from an ``Answer``;
``MessagesStreamWriter`` turns the neutral events into Anthropic's stream one
event at a time (never buffering the answer), and ``sse`` frames them;
``error_body`` is Anthropic's error shape for a status.

Mappings kept here:
- stop reasons (``STOP_REASONS``): stop -> end_turn, length -> max_tokens,
  tool_calls -> tool_use, stop_sequence -> stop_sequence, content_filter ->
  refusal; a "stop" that carries tool calls is tool_use, as Anthropic says it.
- usage: Anthropic's ``input_tokens`` excludes cache reads, so it is xAI's
  input minus ``cached_tokens``, which become ``cache_read_input_tokens``.
- reasoning: a thinking block whose ``signature`` is the ``ReasoningSeal``
  (xAI's ``encrypted_content``), given back verbatim on the next turn.
- search: each search xAI ran (``Searched``: its query and the sources it
  found) becomes a ``server_tool_use`` (name ``web_search``, ``input.query``)
  and a ``web_search_tool_result`` listing the sources, where it ran, as
  Anthropic's API and xAI's own Grok CLI lay them out (a streamed
  ``server_tool_use`` gets its input as one ``input_json_delta``); a failed
  search's result is a ``web_search_tool_result_error`` (``unavailable``).
  The sources the text cites (``Cited``) are ``web_search_result_location``
  citations on the text. xAI gives neither the cited passage nor Anthropic's
  encrypted fields, so ``cited_text`` and those are empty: what a client
  sends back of them is dropped on the way in. A lane with citations but no
  search items (chat completions) gets one search pair made from the
  citations, with an empty query: last in a stream, before the text in a
  whole message.
"""

from __future__ import annotations

import json
from typing import Any

from .._exceptions import ServerError
from ._events import (
    Answer,
    Begin,
    Cited,
    Event,
    Failure,
    Finish,
    Reasoning,
    ReasoningSeal,
    Searched,
    TextDelta,
    ToolArguments,
    ToolCallBegin,
    ToolCallEnd,
    Usage,
)

__all__ = ["ERROR_TYPES", "STOP_REASONS", "MessagesStreamWriter", "answer_to_message", "error_body", "sse"]

#: Neutral stop reasons as Anthropic's.
STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "stop_sequence": "stop_sequence",
    "content_filter": "refusal",
}
#: HTTP statuses as Anthropic's documented error types (the SDK's types lack request_too_large; its docs have it);
#: another 4xx is invalid_request_error, another 5xx api_error.
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}

SSE = tuple[str, dict[str, Any]]
_EMPTY: dict[str, dict[str, Any]] = {
    "text": {"type": "text", "text": ""},
    "thinking": {"type": "thinking", "thinking": "", "signature": ""},
}


def error_body(status: int, message: str) -> dict[str, Any]:
    """Anthropic's error body for an HTTP status; ``message`` must already be scrubbed of secrets."""
    kind = ERROR_TYPES.get(status) or ("invalid_request_error" if 400 <= status < 500 else "api_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


#: One encoder for every event (``json.dumps`` with options builds a new one per call).
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def sse(event: str, data: dict[str, Any]) -> bytes:
    """One server-sent event as Anthropic frames it: ``event:`` and ``data:`` lines and a blank line."""
    return f"event: {event}\ndata: {_COMPACT.encode(data)}\n\n".encode()


def _message_id(raw: str) -> str:
    return raw if raw.startswith("msg_") else f"msg_{raw or 'local'}"


def _stop(finish: Finish | None, called: bool) -> tuple[str, str | None]:
    reason = STOP_REASONS.get(finish.reason, "end_turn") if finish else "end_turn"
    if called and reason == "end_turn":
        reason = "tool_use"
    return reason, (finish.stop_sequence if finish and reason == "stop_sequence" else None)


def _usage(usage: Usage | None, searches: int) -> dict[str, Any]:
    usage = usage or Usage()
    counts: dict[str, Any] = {
        "input_tokens": max(usage.input_tokens - usage.cached_tokens, 0),
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": usage.cached_tokens,
    }
    if searches:
        counts["server_tool_use"] = {"web_search_requests": searches, "web_fetch_requests": 0}
    return counts


def _citation(cited: Cited) -> dict[str, Any]:
    return {
        "type": "web_search_result_location",
        "url": cited.url,
        "title": cited.title,
        "cited_text": "",
        "encrypted_index": "",
    }


#: What a failed search gives an Anthropic client: the error its web search tool reports when it cannot search.
_SEARCH_FAILED = {"type": "web_search_tool_result_error", "error_code": "unavailable"}


def _search_blocks(search: Searched) -> list[dict[str, Any]]:
    """One search as Anthropic's pair of blocks (see the module doc for what is left empty)."""
    call_id = f"srvtoolu_{search.call_id}"
    results = [
        {"type": "web_search_result", "url": c.url, "title": c.title or c.url, "encrypted_content": ""}
        for c in search.sources
    ]
    return [
        {"type": "server_tool_use", "id": call_id, "name": "web_search", "input": {"query": search.query}},
        {
            "type": "web_search_tool_result",
            "tool_use_id": call_id,
            "content": dict(_SEARCH_FAILED) if search.failed else results,
        },
    ]


def _from_citations(citations: list[Cited], message_id: str) -> Searched:
    """The one search a lane without search items stands for: the sources its answer cites, its query unknown."""
    return Searched(message_id.removeprefix("msg_"), "", tuple(citations))


def _searches_counted(searches: list[Searched], citations: list[Cited]) -> int:
    """``web_search_requests``: the searches that ran (not a failed one, as xAI's Grok CLI counts), else one for
    an answer that only cites."""
    if searches:
        return sum(not s.failed for s in searches)
    return 1 if citations else 0


def _tool_input(arguments: str) -> dict[str, Any]:
    """A tool call's JSON arguments as Anthropic's ``input``; text that is no JSON object is kept as ``arguments``."""
    if not arguments.strip():
        return {}
    try:
        value = json.loads(arguments)
    except ValueError:
        return {"arguments": arguments}
    return value if isinstance(value, dict) else {"arguments": value}


def answer_to_message(answer: Answer, model: str) -> dict[str, Any]:
    """A whole Anthropic message; an answer that failed raises ``ServerError`` (the face writes ``error_body``)."""
    if answer.failure:
        raise ServerError(answer.failure.message, http_status=answer.failure.status)
    message_id = _message_id(answer.id)
    content: list[dict[str, Any]] = []
    seals = [seal.sealed for seal in answer.seals]
    if answer.reasoning or seals:
        content.append({"type": "thinking", "thinking": answer.reasoning, "signature": seals[0] if seals else ""})
        content += [{"type": "thinking", "thinking": "", "signature": s} for s in seals[1:]]
    for search in answer.searches or ([_from_citations(answer.citations, message_id)] if answer.citations else []):
        content += _search_blocks(search)
    if answer.text or not answer.tool_calls:
        text: dict[str, Any] = {"type": "text", "text": answer.text}
        if answer.citations:
            text["citations"] = [_citation(c) for c in answer.citations]
        content.append(text)
    for call in answer.tool_calls:
        block = {"type": "tool_use", "id": call.call_id, "name": call.name, "input": _tool_input(call.arguments)}
        content.append(block)
    stop_reason, stop_sequence = _stop(answer.finish, bool(answer.tool_calls))
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": _usage(
            answer.finish.usage if answer.finish else None, _searches_counted(answer.searches, answer.citations)
        ),
    }


class MessagesStreamWriter:
    """Neutral events in, Anthropic stream events out: ``write(event)`` returns the (name, data) pairs it makes.

    One text or thinking block is open at a time; each tool call is a
    ``tool_use`` block from its ``ToolCallBegin`` to its ``ToolCallEnd``
    (parallel calls keep their own block indexes). A ``ReasoningSeal`` ends
    its thinking block with a ``signature_delta``. After ``Finish`` or
    ``Failure`` the writer is done and writes nothing more.
    """

    def __init__(self, model: str, *, input_tokens: int = 0) -> None:
        """``model``: the id the client asked for; ``input_tokens``: the estimate message_start reports."""
        self._model = model
        self._input_tokens = input_tokens
        self._id = ""
        self._started = False
        self._done = False
        self._blocks = 0
        self._open: tuple[str, int] | None = None  # ("text" | "thinking", block index)
        self._tools: dict[int, int] = {}  # tool call index -> block index
        self._called = False
        self._citations: list[Cited] = []
        self._searches: list[Searched] = []

    def ping(self) -> SSE:
        """A keep-alive Anthropic clients ignore, for the waits before and between events."""
        return ("ping", {"type": "ping"})

    def write(self, event: Event) -> list[SSE]:
        if self._done:
            return []
        if isinstance(event, Failure):
            self._done = True
            kind = "overloaded_error" if event.status in (503, 529) else "api_error"
            return [("error", {"type": "error", "error": {"type": kind, "message": event.message}})]
        out: list[SSE] = []
        if not self._started:
            out.append(self._message_start(event if isinstance(event, Begin) else Begin(id="", model=self._model)))
        if isinstance(event, TextDelta):
            out += self._delta("text", {"type": "text_delta", "text": event.text})
        elif isinstance(event, Reasoning):
            out += self._delta("thinking", {"type": "thinking_delta", "thinking": event.text})
        elif isinstance(event, ReasoningSeal):
            out += self._delta("thinking", {"type": "signature_delta", "signature": event.sealed})
            out += self._close()
        elif isinstance(event, ToolCallBegin):
            out += self._tool_begin(event)
        elif isinstance(event, ToolArguments) and event.index in self._tools:
            delta = {"type": "input_json_delta", "partial_json": event.delta}
            out.append(_block_delta(self._tools[event.index], delta))
        elif isinstance(event, ToolCallEnd) and event.index in self._tools:
            out.append(("content_block_stop", {"type": "content_block_stop", "index": self._tools.pop(event.index)}))
        elif isinstance(event, Cited):
            out += self._cited(event)
        elif isinstance(event, Searched):
            self._searches.append(event)
            out += self._searched(event)
        elif isinstance(event, Finish):
            out += self._finish(event)
        return out

    def _message_start(self, begin: Begin) -> SSE:
        self._started = True
        self._id = _message_id(begin.id)
        message: dict[str, Any] = {
            "id": self._id,
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {**_usage(Usage(input_tokens=self._input_tokens), 0), "output_tokens": 1},
        }
        return ("message_start", {"type": "message_start", "message": message})

    def _start(self, block: dict[str, Any]) -> tuple[int, SSE]:
        index, self._blocks = self._blocks, self._blocks + 1
        return index, ("content_block_start", {"type": "content_block_start", "index": index, "content_block": block})

    def _close(self) -> list[SSE]:
        if self._open is None:
            return []
        index, self._open = self._open[1], None
        return [("content_block_stop", {"type": "content_block_stop", "index": index})]

    def _delta(self, kind: str, delta: dict[str, Any]) -> list[SSE]:
        """``delta`` on the open block of ``kind``, closing another and opening one first where needed."""
        out: list[SSE] = []
        if self._open is None or self._open[0] != kind:
            out += self._close()
            index, start = self._start(_EMPTY[kind])
            self._open = (kind, index)
            out.append(start)
        out.append(_block_delta(self._open[1], delta))
        return out

    def _tool_begin(self, event: ToolCallBegin) -> list[SSE]:
        out = self._close()
        self._called = True
        index, start = self._start({"type": "tool_use", "id": event.call_id, "name": event.name, "input": {}})
        self._tools[event.index] = index
        return [*out, start]

    def _searched(self, search: Searched) -> list[SSE]:
        """The pair of blocks, whole: the query as the ``server_tool_use``'s one ``input_json_delta``."""
        out = self._close()
        for block in _search_blocks(search):
            if block["type"] == "server_tool_use":
                index, start = self._start({**block, "input": {}})
                query = {"type": "input_json_delta", "partial_json": _COMPACT.encode(block["input"])}
                out += [start, _block_delta(index, query)]
            else:
                index, start = self._start(block)
                out.append(start)
            out.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
        return out

    def _cited(self, event: Cited) -> list[SSE]:
        if any(c.url == event.url for c in self._citations):
            return []
        self._citations.append(event)
        if self._open is not None and self._open[0] == "text":
            return [_block_delta(self._open[1], {"type": "citations_delta", "citation": _citation(event)})]
        return []

    def _finish(self, finish: Finish) -> list[SSE]:
        self._done = True
        out = self._close()
        out += [("content_block_stop", {"type": "content_block_stop", "index": i}) for i in self._tools.values()]
        self._tools.clear()
        if self._citations and not self._searches:
            out += self._searched(_from_citations(self._citations, self._id))
        stop_reason, stop_sequence = _stop(finish, self._called)
        delta = {"stop_reason": stop_reason, "stop_sequence": stop_sequence}
        usage = _usage(
            finish.usage or Usage(input_tokens=self._input_tokens), _searches_counted(self._searches, self._citations)
        )
        out.append(("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}))
        out.append(("message_stop", {"type": "message_stop"}))
        return out


def _block_delta(index: int, delta: dict[str, Any]) -> SSE:
    return ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
