"""Chat completions on the wire: its chunks and bodies read into events, and events written back as chunks.

xAI's ``/chat/completions`` lane and every OpenAI-compatible client speak
this format. The reader turns one parsed chunk at a time into neutral events
(``_events``); the writer turns events into ``chat.completion.chunk`` dicts in
OpenAI's exact shape, so a stream is translated as it arrives, never
buffered. Framing (``data: ...``) and sockets belong to the server.

Chat chunks never say where a tool call ends: a call ends when the next
index starts, or when the choice finishes. Usage, when the client asked for it
(``stream_options.include_usage``), rides on a last chunk with no choices,
after ``finish_reason``; so ``Finish`` is given out by ``end()``, at ``[DONE]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ._events import (
    Answer,
    Begin,
    Cited,
    Event,
    Failure,
    Finish,
    Reasoning,
    TextDelta,
    ToolArguments,
    ToolCallBegin,
    ToolCallEnd,
    Usage,
)
from ._lenient import as_dict as _dict
from ._lenient import as_int as _int
from ._lenient import as_list as _list
from ._lenient import as_str as _str
from ._openai_errors import failure_body, read_failure

__all__ = [
    "DONE",
    "ChatChunkReader",
    "ChatChunkWriter",
    "answer_to_chat_completion",
    "chat_body_events",
    "chat_usage",
    "cited_once",
    "read_chat_stream",
    "usage_from_chat",
]

#: The data of a chat stream's last event.
DONE = "[DONE]"

#: Neutral finish reasons chat completions has no word for.
_CHAT_FINISH = {"stop_sequence": "stop"}


def usage_from_chat(raw: Any) -> Usage | None:
    """Chat's ``usage`` (with ``prompt_tokens_details.cached_tokens``) as ``Usage``; None when there is none."""
    if not isinstance(raw, dict):
        return None
    prompt, completion = _dict(raw.get("prompt_tokens_details")), _dict(raw.get("completion_tokens_details"))
    return Usage(
        input_tokens=_int(raw.get("prompt_tokens")),
        output_tokens=_int(raw.get("completion_tokens")),
        cached_tokens=_int(prompt.get("cached_tokens")),
        reasoning_tokens=_int(completion.get("reasoning_tokens")),
    )


def chat_usage(usage: Usage) -> dict[str, Any]:
    """``Usage`` in chat's words; ``total_tokens`` is input plus output, as OpenAI counts it."""
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


# -- reading ----------------------------------------------------------------


@dataclass
class ChatChunkReader:
    """Chat-completion chunks (parsed) in, events out; call ``end()`` at ``[DONE]`` or when the stream stops."""

    begun: bool = False
    finished: bool = False
    open_calls: list[int] = field(default_factory=list)
    seen_calls: set[int] = field(default_factory=set)
    cited: set[str] = field(default_factory=set)
    finish_reason: str | None = None
    usage: Usage | None = None

    def feed(self, chunk: dict[str, Any]) -> list[Event]:
        """The events one chunk carries (none after a failure)."""
        if self.finished:
            return []
        if "error" in chunk:
            self.finished = True
            return [read_failure(chunk["error"])]
        events: list[Event] = []
        if not self.begun:
            self.begun = True
            events.append(Begin(_str(chunk.get("id")), _str(chunk.get("model")), _int(chunk.get("created"))))
        for choice in _list(chunk.get("choices")):
            choice = _dict(choice)
            if choice.get("index", 0) != 0:
                continue  # one answer: n > 1 is refused before the request leaves
            delta = _dict(choice.get("delta"))
            if isinstance(delta.get("reasoning_content"), str) and delta["reasoning_content"]:
                events.append(Reasoning(delta["reasoning_content"]))
            if isinstance(delta.get("content"), str) and delta["content"]:
                events.append(TextDelta(delta["content"]))
            for call in _list(delta.get("tool_calls")):
                events += self._call_piece(_dict(call))
            if isinstance(choice.get("finish_reason"), str):
                self.finish_reason = choice["finish_reason"]
                events += self._end_calls()
        events += cited_once(chunk.get("citations"), self.cited)
        self.usage = usage_from_chat(chunk.get("usage")) or self.usage
        return events

    def end(self) -> list[Event]:
        """``Finish`` (with usage), or a ``Failure`` when the stream stopped before it said why."""
        if self.finished:
            return []
        self.finished = True
        if self.finish_reason is None:
            cut = Failure("The upstream stream ended before the answer was finished.", code="stream_incomplete")
            return [*self._end_calls(), cut]
        return [Finish(self.finish_reason, self.usage)]

    def _call_piece(self, call: dict[str, Any]) -> list[Event]:
        index = call.get("index", 0)
        if not isinstance(index, int) or isinstance(index, bool):
            return []
        events: list[Event] = []
        function = _dict(call.get("function"))
        if index not in self.seen_calls:
            events += self._end_calls()
            self.seen_calls.add(index)
            self.open_calls.append(index)
            events.append(ToolCallBegin(index, _str(call.get("id")), _str(function.get("name"))))
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            events.append(ToolArguments(index, arguments))
        return events

    def _end_calls(self) -> list[Event]:
        ended: list[Event] = [ToolCallEnd(index) for index in self.open_calls]
        self.open_calls.clear()
        return ended


def cited_once(raw: Any, seen: set[str]) -> list[Event]:
    """``Cited`` for each URL in ``raw`` not in ``seen`` (which grows): URLs, or ``url_citation`` objects.

    xAI repeats the whole list in a chat stream's last chunks, and Responses
    cite in annotations and again in a top-level list; each URL is said once.
    """
    events: list[Event] = []
    for entry in _list(raw):
        found = {"url": entry} if isinstance(entry, str) else _dict(entry)
        url, title = _str(found.get("url")), _str(found.get("title"))
        if url and url not in seen and found.get("type", "url_citation") == "url_citation":
            seen.add(url)
            events.append(Cited(url, title or None))
    return events


def read_chat_stream(chunks: Iterable[dict[str, Any]]) -> Iterator[Event]:
    """Every event of a whole chunk sequence, ``end()`` included: for tests and whole-answer folding."""
    reader = ChatChunkReader()
    for chunk in chunks:
        yield from reader.feed(chunk)
    yield from reader.end()


def chat_body_events(body: dict[str, Any]) -> list[Event]:
    """A whole ``chat.completion`` as the events a stream of it would have given."""
    if "error" in body:
        return [read_failure(body["error"])]
    choice = next((_dict(c) for c in _list(body.get("choices")) if _dict(c).get("index", 0) == 0), {})
    message = _dict(choice.get("message"))
    events: list[Event] = [Begin(_str(body.get("id")), _str(body.get("model")), _int(body.get("created")))]
    if isinstance(message.get("reasoning_content"), str) and message["reasoning_content"]:
        events.append(Reasoning(message["reasoning_content"]))
    if isinstance(message.get("content"), str) and message["content"]:
        events.append(TextDelta(message["content"]))
    for index, call in enumerate(_list(message.get("tool_calls"))):
        function = _dict(_dict(call).get("function"))
        events.append(ToolCallBegin(index, _str(_dict(call).get("id")), _str(function.get("name"))))
        if _str(function.get("arguments")):
            events.append(ToolArguments(index, _str(function.get("arguments"))))
        events.append(ToolCallEnd(index))
    events += cited_once(body.get("citations"), set())
    reason = choice.get("finish_reason")
    events.append(Finish(reason if isinstance(reason, str) else "stop", usage_from_chat(body.get("usage"))))
    return events


# -- writing ----------------------------------------------------------------


@dataclass
class ChatChunkWriter:
    """Events in, ``chat.completion.chunk`` dicts out, then ``DONE``; ``include_usage`` adds the usage chunk.

    ``ReasoningSeal`` has no place in chat completions and is left out;
    citations ride on the finishing chunk as xAI sends them (a list of URLs).
    A ``Failure`` is the last data, OpenAI's error body, with no ``DONE``
    after it: the SDK raises ``APIError`` on it, and a client that waits for
    ``DONE`` knows the answer is not whole.
    """

    include_usage: bool = False
    id: str = ""
    model: str = ""
    created: int = 0
    citations: list[str] = field(default_factory=list)

    def write(self, event: Event) -> list[dict[str, Any] | str]:
        """What one event becomes: zero or more chunks, and ``DONE`` after the last."""
        if isinstance(event, Begin):
            self.id, self.model, self.created = event.id, event.model, event.created
            return [self._chunk({"role": "assistant", "content": ""})]
        if isinstance(event, TextDelta):
            return [self._chunk({"content": event.text})]
        if isinstance(event, Reasoning):
            return [self._chunk({"reasoning_content": event.text})]
        if isinstance(event, ToolCallBegin):
            call = {"index": event.index, "id": event.call_id, "type": "function"}
            return [self._chunk({"tool_calls": [{**call, "function": {"name": event.name, "arguments": ""}}]})]
        if isinstance(event, ToolArguments):
            return [self._chunk({"tool_calls": [{"index": event.index, "function": {"arguments": event.delta}}]})]
        if isinstance(event, Cited):
            self.citations.append(event.url)
            return []
        if isinstance(event, Finish):
            return self._finish(event)
        if isinstance(event, Failure):
            return [failure_body(event)]
        return []  # ToolCallEnd (implicit in chat) and ReasoningSeal (no place here)

    def _finish(self, event: Finish) -> list[dict[str, Any] | str]:
        last = self._chunk({}, _CHAT_FINISH.get(event.reason, event.reason))
        if self.citations:
            last["citations"] = list(self.citations)
        chunks: list[dict[str, Any] | str] = [last]
        if self.include_usage:
            chunks.append({**self._chunk({}), "choices": [], "usage": chat_usage(event.usage or Usage())})
        return [*chunks, DONE]

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        chunk = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model}
        return {**chunk, "choices": [choice], **({"usage": None} if self.include_usage else {})}


def answer_to_chat_completion(answer: Answer) -> dict[str, Any]:
    """A whole ``chat.completion`` (OpenAI's error body instead, when the answer failed)."""
    if answer.failure is not None:
        return failure_body(answer.failure)
    finish = answer.finish or Finish("stop")
    message: dict[str, Any] = {"role": "assistant", "content": answer.text or None, "refusal": None}
    if answer.reasoning:
        message["reasoning_content"] = answer.reasoning
    if answer.tool_calls:
        message["tool_calls"] = [
            {"id": c.call_id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in answer.tool_calls
        ]
    reason = _CHAT_FINISH.get(finish.reason, finish.reason)
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": reason}
    body: dict[str, Any] = {
        "id": answer.id,
        "object": "chat.completion",
        "created": answer.created,
        "model": answer.model,
        "choices": [choice],
        "usage": chat_usage(finish.usage or Usage()),
    }
    if answer.citations:
        body["citations"] = [c.url for c in answer.citations]
    return body
