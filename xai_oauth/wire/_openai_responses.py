"""The Responses API on the wire, read: its stream events and whole bodies as neutral events.

xAI serves every model on ``/responses`` and Codex CLI speaks only this
format, so the server reads it from upstream one parsed event at a time
(``ResponsesEventReader``) or as a whole body (``response_body_events``).
The writing half, for clients, is ``_openai_responses_writer``; Responses
requests turned into chat requests are ``_openai_requests``. Framing and
sockets are the server's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ._events import (
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
from ._lenient import as_dict, as_int, as_list, as_str
from ._openai_chat import cited_once
from ._openai_errors import read_failure

__all__ = [
    "INCOMPLETE_REASONS",
    "ResponsesEventReader",
    "read_responses_stream",
    "response_body_events",
    "response_usage",
    "searched",
    "usage_from_response",
]

#: ``incomplete_details.reason`` and the neutral finish reason it means (either way).
INCOMPLETE_REASONS = {"max_output_tokens": "length", "content_filter": "content_filter"}


def usage_from_response(raw: Any) -> Usage | None:
    """Responses' ``usage`` (with ``input_tokens_details.cached_tokens``) as ``Usage``; None when there is none."""
    if not isinstance(raw, dict):
        return None
    return Usage(
        input_tokens=as_int(raw.get("input_tokens")),
        output_tokens=as_int(raw.get("output_tokens")),
        cached_tokens=as_int(as_dict(raw.get("input_tokens_details")).get("cached_tokens")),
        reasoning_tokens=as_int(as_dict(raw.get("output_tokens_details")).get("reasoning_tokens")),
    )


def searched(item: dict[str, Any]) -> Searched | None:
    """A ``web_search_call`` item as ``Searched``, None when it is no search (xAI opening a page, say).

    The query and the sources sit under ``action``, or flat on the item: xAI's
    Grok CLI reads both. A failed search is one, found or not.
    """
    action = as_dict(item.get("action"))
    query = as_str(action.get("query")) or as_str(item.get("query"))
    listed = action.get("sources") if "sources" in action else item.get("sources")
    sources = tuple(
        Cited(url, as_str(source.get("title")) or None)
        for source in map(as_dict, as_list(listed))
        if (url := as_str(source.get("url")))
    )
    failed = item.get("status") == "failed"
    if not (failed or query or sources):
        return None
    return Searched(as_str(item.get("id")), query, sources, failed)


def response_usage(usage: Usage) -> dict[str, Any]:
    """``Usage`` in the Responses API's words."""
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens, "cache_write_tokens": 0},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.input_tokens + usage.output_tokens,
    }


# -- reading ----------------------------------------------------------------


@dataclass
class ResponsesEventReader:
    """Responses stream events (parsed) in, neutral events out; call ``end()`` when the stream stops."""

    finished: bool = False
    calls: dict[int, int] = field(default_factory=dict)  # output_index -> neutral tool-call index
    with_arguments: set[int] = field(default_factory=set)  # output indexes whose arguments were streamed
    sealed: set[str] = field(default_factory=set)  # reasoning item ids whose seal was given out
    cited: set[str] = field(default_factory=set)

    def feed(self, event: dict[str, Any]) -> list[Event]:
        """The events one Responses stream event carries (none after the terminal one)."""
        if self.finished:
            return []
        kind = as_str(event.get("type"))
        if kind in ("response.output_text.delta", "response.reasoning_summary_text.delta"):
            delta = as_str(event.get("delta"))
            return [TextDelta(delta) if kind == "response.output_text.delta" else Reasoning(delta)] if delta else []
        if kind == "response.function_call_arguments.delta":
            at = as_int(event.get("output_index"))
            if at in self.calls and as_str(event.get("delta")):
                self.with_arguments.add(at)
                return [ToolArguments(self.calls[at], as_str(event.get("delta")))]
            return []
        if kind == "response.output_text.annotation.added":
            return cited_once([event.get("annotation")], self.cited)
        if kind in ("response.output_item.added", "response.output_item.done"):
            return self._item(as_dict(event.get("item")), as_int(event.get("output_index")), kind.endswith("done"))
        if kind == "response.created":
            response = as_dict(event.get("response"))
            return [
                Begin(as_str(response.get("id")), as_str(response.get("model")), as_int(response.get("created_at")))
            ]
        if kind in ("response.completed", "response.incomplete", "response.failed", "error"):
            self.finished = True
            return self._last(kind, event)
        return []

    def end(self) -> list[Event]:
        """A ``Failure`` when the stream stopped before its terminal event; nothing otherwise."""
        if self.finished:
            return []
        self.finished = True
        return [Failure("The upstream stream ended before the response was completed.", code="stream_incomplete")]

    def _item(self, item: dict[str, Any], at: int, done: bool) -> list[Event]:
        kind = item.get("type")
        events: list[Event] = []
        if kind == "reasoning" and as_str(item.get("encrypted_content")) and as_str(item.get("id")) not in self.sealed:
            self.sealed.add(as_str(item.get("id")))
            events.append(ReasoningSeal(as_str(item.get("encrypted_content")), as_str(item.get("id")) or None))
        elif kind == "function_call" and not done and at not in self.calls:
            self.calls[at] = len(self.calls)
            events.append(ToolCallBegin(self.calls[at], as_str(item.get("call_id")), as_str(item.get("name"))))
            if as_str(item.get("arguments")):
                self.with_arguments.add(at)
                events.append(ToolArguments(self.calls[at], as_str(item.get("arguments"))))
        elif kind == "function_call" and done and at in self.calls:
            if at not in self.with_arguments and as_str(item.get("arguments")):
                events.append(ToolArguments(self.calls[at], as_str(item.get("arguments"))))
            events.append(ToolCallEnd(self.calls[at]))
        elif kind == "message" and done:
            for part in as_list(item.get("content")):
                events += cited_once(as_dict(part).get("annotations"), self.cited)
        elif kind == "web_search_call" and done and (search := searched(item)):
            events.append(search)
        return events

    def _last(self, kind: str, event: dict[str, Any]) -> list[Event]:
        if kind == "error":
            return [read_failure(event)]
        response = as_dict(event.get("response"))
        if kind == "response.failed":
            return [read_failure(response.get("error"))]
        cited = cited_once(response.get("citations"), self.cited)
        return [*cited, _finish(response, bool(self.calls))]


def _begin(response: dict[str, Any]) -> Begin:
    return Begin(as_str(response.get("id")), as_str(response.get("model")), as_int(response.get("created_at")))


def _finish(response: dict[str, Any], called: bool) -> Finish:
    incomplete = as_str(as_dict(response.get("incomplete_details")).get("reason"))
    reason = INCOMPLETE_REASONS.get(incomplete) or ("tool_calls" if called else "stop")
    return Finish(reason, usage_from_response(response.get("usage")))


def read_responses_stream(events: Iterable[dict[str, Any]]) -> Iterator[Event]:
    """Every event of a whole Responses stream, ``end()`` included: for tests and whole-answer folding."""
    reader = ResponsesEventReader()
    for event in events:
        yield from reader.feed(event)
    yield from reader.end()


def response_body_events(body: dict[str, Any]) -> list[Event]:
    """A whole Responses object as the events its stream would have given."""
    if "error" in body and not isinstance(body.get("output"), list):
        return [read_failure(body["error"])]
    events: list[Event] = [_begin(body)]
    calls, cited = 0, set[str]()
    for item in map(as_dict, as_list(body.get("output"))):
        if item.get("type") == "reasoning":
            events += [Reasoning(as_str(as_dict(s).get("text"))) for s in as_list(item.get("summary"))]
            if as_str(item.get("encrypted_content")):
                events.append(ReasoningSeal(as_str(item.get("encrypted_content")), as_str(item.get("id")) or None))
        elif item.get("type") == "message":
            for part in map(as_dict, as_list(item.get("content"))):
                events += [TextDelta(as_str(part.get("text")))] if as_str(part.get("text")) else []
                events += cited_once(part.get("annotations"), cited)
        elif item.get("type") == "function_call":
            events.append(ToolCallBegin(calls, as_str(item.get("call_id")), as_str(item.get("name"))))
            events += [ToolArguments(calls, as_str(item.get("arguments")))] if as_str(item.get("arguments")) else []
            events.append(ToolCallEnd(calls))
            calls += 1
        elif item.get("type") == "web_search_call" and (search := searched(item)):
            events.append(search)
    if body.get("status") == "failed":
        return [*events, read_failure(body.get("error"))]
    return [*events, *cited_once(body.get("citations"), cited), _finish(body, calls > 0)]
