"""How is a stream read? One server-sent event at a time, into text deltas and then the one answer shape.

``ChatCompletionsStream`` reads ``/chat/completions`` chunks (``data: [DONE]``
ends it); ``ResponsesStream`` reads Responses API events
(``response.completed`` ends it). Both hand back each text delta as it
arrives and, at the end, the same answer ``read_answer`` gives for a whole
one. A local server reads, translates and re-emits every event, so the cost
per event is paid twice there: each event is parsed by one strict decoder
built once, text is checked for lone surrogates only where one can be, and a
tool call's arguments are kept as pieces and joined once at the end (linear,
however many deltas a long file write arrives in).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._exceptions import IncompleteStream, MalformedResponse, ServerError
from .._models import CHAT_COMPLETIONS, RESPONSES, ModelChoice
from ..store._files import loads_strict
from ._answers import (
    as_array,
    as_object,
    as_text,
    citations,
    error_text,
    from_response,
    mend_delta,
    mend_text,
    noted,
    read_usage,
    shape,
)

__all__ = ["ChatCompletionsStream", "ResponsesStream", "new_stream", "read_event"]


def read_event(data: str) -> dict[str, Any]:
    """One event's JSON object; ``bad_response`` for anything else (NaN, 1e400 and deep nesting included)."""
    try:
        value = loads_strict(data)
    except ValueError:
        raise MalformedResponse("The stream sent an event that is not JSON.") from None
    if not isinstance(value, dict):
        raise MalformedResponse("The stream sent an event that is not a JSON object.")
    return value


@dataclass
class ChatCompletionsStream:
    """Reads /chat/completions chunks; ``data: [DONE]`` ends the stream."""

    choice: ModelChoice
    text: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    cited: list[Any] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)
    calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    done: bool = False
    carry: str = ""
    #: Each call's name and argument pieces, by index: joined once in ``result()``, never ``+=`` per delta.
    call_pieces: dict[int, tuple[list[str], list[str]]] = field(default_factory=dict)

    def feed(self, event: str, data: str) -> str | None:
        """One server-sent event; returns the text delta it carried, if any."""
        if data.strip() == "[DONE]":
            self.done = True
            return None
        chunk = read_event(data)
        if "error" in chunk:
            raise ServerError(f"The stream reported an error: {error_text(chunk['error'])}")
        if chunk.get("usage"):
            self.usage = read_usage(chunk["usage"])
        if isinstance(chunk.get("citations"), list):
            self.cited = chunk["citations"]  # xAI sends the whole list, in the last chunks
        delta_text = ""
        # Every event passes here: a value of the expected type goes straight on, and only one of another
        # type (None included) goes through the checks that turn the server's mistake into bad_response.
        choices = chunk.get("choices")
        for item in choices if choices.__class__ is list else as_array(choices, "choices"):
            if item.__class__ is not dict:
                item = as_object(item, "choice")
            delta = item.get("delta")
            if delta.__class__ is not dict:
                delta = as_object(delta, "delta")
            content = delta.get("content")
            delta_text += content if content.__class__ is str else (as_text(content, "delta content") or "")
            if "tool_calls" in delta:
                for call in as_array(delta["tool_calls"], "tool_calls"):
                    self._merge_call(as_object(call, "tool call"))
            if item.get("finish_reason") is not None:
                self.finish_reason = as_text(item["finish_reason"], "finish_reason") or self.finish_reason
        if not delta_text:
            return None  # a tool-call or closing chunk: the carry waits for text
        emitted, self.carry = mend_delta(self.carry, delta_text)
        if emitted:
            self.text.append(emitted)
        return emitted or None

    def _merge_call(self, call: dict[str, Any]) -> None:
        index = call.get("index", len(self.calls))
        if not isinstance(index, int) or isinstance(index, bool):
            raise MalformedResponse("The answer's tool call index is not a number.")
        slot = self.calls.setdefault(index, {"id": None, "type": "function", "function": {"name": "", "arguments": ""}})
        names, arguments = self.call_pieces.setdefault(index, ([], []))
        slot["id"] = as_text(call.get("id"), "tool call id") or slot["id"]
        function = as_object(call.get("function"), "tool call's function")
        names.append(as_text(function.get("name"), "tool call name") or "")
        arguments.append(as_text(function.get("arguments"), "tool call arguments") or "")

    def result(self) -> dict[str, Any]:
        if not self.done:
            raise IncompleteStream("The chat stream ended before its [DONE] marker; the answer may be cut short.")
        for index, (names, arguments) in self.call_pieces.items():
            self.calls[index]["function"] = {"name": "".join(names), "arguments": "".join(arguments)}
        calls = [self.calls[i] for i in sorted(self.calls)]
        text = "".join(self.text) + mend_text(self.carry)
        return noted(shape(self.choice, text, self.finish_reason, self.usage, calls, citations(self.cited)))


@dataclass
class ResponsesStream:
    """Reads Responses API events; ``response.completed`` ends it, ``response.failed`` / ``error`` fail it.

    A function call's arguments are not gathered from their deltas: the
    terminal event carries the whole output, calls included.
    """

    choice: ModelChoice
    text: list[str] = field(default_factory=list)
    final: dict[str, Any] | None = None
    done: bool = False
    carry: str = ""
    cited: list[Any] = field(default_factory=list)

    def feed(self, event: str, data: str) -> str | None:
        if data.strip() == "[DONE]":
            return None  # some gateways add it; the terminal event is response.completed
        payload = read_event(data)
        kind = payload.get("type") or event
        if kind == "response.output_text.delta":
            emitted, self.carry = mend_delta(self.carry, as_text(payload.get("delta"), "delta") or "")
            if emitted:
                self.text.append(emitted)
                return emitted
        elif kind == "response.output_text.annotation.added":
            self.cited.append(payload.get("annotation"))
        elif kind in ("response.completed", "response.incomplete"):
            self.final = as_object(payload.get("response"), "response")
            self.done = True
        elif kind == "response.failed":
            response = payload.get("response") or {}
            raise ServerError(
                f"The model failed: {error_text(response.get('error') if isinstance(response, dict) else None)}"
            )
        elif kind == "error":
            raise ServerError(
                f"The stream reported an error: {error_text(payload.get('message') or payload.get('code'))}"
            )
        return None

    def result(self) -> dict[str, Any]:
        if not self.done or self.final is None:
            raise IncompleteStream("The response stream ended before response.completed; the answer may be cut short.")
        streamed = "".join(self.text) + mend_text(self.carry)
        if isinstance(self.final.get("output"), list):
            answer = from_response(self.choice, self.final)
            if not answer["content"]:
                answer["content"] = streamed
            cited = citations(answer.get("citations"), self.cited)
            if cited:
                answer["citations"] = cited
            return noted(answer)
        cited = citations(self.cited, self.final.get("citations"))
        return noted(shape(self.choice, streamed, "stop", read_usage(self.final.get("usage")), [], cited))


#: One reader per lane; a further wire format adds its own here.
_READER_FOR_LANE: dict[str, type[ChatCompletionsStream] | type[ResponsesStream]] = {
    CHAT_COMPLETIONS: ChatCompletionsStream,
    RESPONSES: ResponsesStream,
}


def new_stream(choice: ModelChoice) -> ChatCompletionsStream | ResponsesStream:
    """A fresh reader for ``choice.lane``'s events."""
    return _READER_FOR_LANE[choice.lane](choice)
