"""Neutral events written as the Responses API's stream, and a folded answer as a whole Responses object.

The sequence is the one Codex CLI reads: ``response.created``,
``response.in_progress``, then per output item ``output_item.added`` ...
``output_item.done`` (messages with their content part and text deltas,
reasoning with its summary text, function calls with their argument deltas,
a web search xAI ran as its ``web_search_call`` item with its three stages),
then ``response.completed`` (or ``response.incomplete``) with the whole
``response``; every event carries its ``sequence_number``. A ``Failure``
becomes an ``error`` event and ``response.failed``. Shapes follow the openai
SDK's ``openai.types.responses``; the tests validate against those types.
The reading half is ``_openai_responses``.
"""

from __future__ import annotations

from collections.abc import Iterator
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
    ReasoningSeal,
    Searched,
    TextDelta,
    ToolArguments,
    ToolCallBegin,
    ToolCallEnd,
    Usage,
)
from ._openai_errors import response_error_code
from ._openai_responses import INCOMPLETE_REASONS, response_usage

__all__ = ["ResponsesEventWriter", "answer_to_response", "response_object"]

_INCOMPLETE_BACK = {v: k for k, v in INCOMPLETE_REASONS.items()}


@dataclass
class ResponsesEventWriter:
    """Neutral events in, Responses stream events out (each with its ``sequence_number``).

    ``request`` is the client's request, echoed where the ``response`` object
    repeats it (tools, tool_choice, instructions, ...). ``namespaces`` maps a
    flattened tool name back to its ``(namespace, name)`` (see ``responses_to_chat``).
    """

    request: dict[str, Any] = field(default_factory=dict)
    namespaces: dict[str, tuple[str, str]] = field(default_factory=dict)
    sequence: int = 0
    head: dict[str, Any] = field(default_factory=dict)
    output: list[dict[str, Any]] = field(default_factory=list)
    message: int | None = None  # output index of the open message item
    reasoning: int | None = None  # output index of the open reasoning item
    calls: dict[int, int] = field(default_factory=dict)  # open tool calls: neutral index -> output index
    pending: list[Cited] = field(default_factory=list)  # citations waiting for a message to carry them

    def write(self, event: Event) -> list[dict[str, Any]]:
        """The Responses events one neutral event becomes."""
        if isinstance(event, Begin):
            self.head = {"id": event.id, "created_at": event.created, "model": event.model}
            return [self._emit("response.created", response=self._response("in_progress")),
                    self._emit("response.in_progress", response=self._response("in_progress"))]  # fmt: skip
        if isinstance(event, TextDelta):
            out = [*self._close_reasoning(), *self._open_message()]
            self.output[self._at_message()]["content"][0]["text"] += event.text
            return [*out, self._emit("response.output_text.delta", **self._part_ref(), delta=event.text, logprobs=[])]
        if isinstance(event, Reasoning):
            out = [*self._close_message(), *self._open_reasoning(None, None)]
            out += self._open_summary()
            at = self._at_reasoning()
            self.output[at]["summary"][0]["text"] += event.text
            ref = {"item_id": self.output[at]["id"], "output_index": at, "summary_index": 0}
            return [*out, self._emit("response.reasoning_summary_text.delta", **ref, delta=event.text)]
        if isinstance(event, ReasoningSeal):
            return self._seal(event)
        if isinstance(event, ToolCallBegin):
            out = [*self._close_message(), *self._close_reasoning()]
            name, namespace = self.namespaces.get(event.name, ("", event.name))[::-1]
            item = {"id": f"fc_{event.call_id}", "type": "function_call", "status": "in_progress",
                    "call_id": event.call_id, "name": name, "arguments": ""}  # fmt: skip
            self.calls[event.index] = len(self.output)
            return [*out, self._add({**item, **({"namespace": namespace} if namespace else {})})]
        if isinstance(event, ToolArguments) and event.index in self.calls:
            at = self.calls[event.index]
            self.output[at]["arguments"] += event.delta
            ref = {"item_id": self.output[at]["id"], "output_index": at}
            return [self._emit("response.function_call_arguments.delta", **ref, delta=event.delta)]
        if isinstance(event, ToolCallEnd) and event.index in self.calls:
            return self._close_call(event.index)
        if isinstance(event, Searched):
            return self._searched(event)
        if isinstance(event, Cited):
            self.pending.append(event)
            return self._annotate() if self.message is not None else []
        if isinstance(event, Finish):
            return self._finish(event)
        if isinstance(event, Failure):
            return self._fail(event)
        return []

    def _emit(self, kind: str, **fields: Any) -> dict[str, Any]:
        self.sequence += 1
        return {"type": kind, "sequence_number": self.sequence - 1, **fields}

    def _add(self, item: dict[str, Any]) -> dict[str, Any]:
        self.output.append(item)
        return self._emit("response.output_item.added", output_index=len(self.output) - 1, item=_copy(item))

    def _done(self, at: int) -> dict[str, Any]:
        self.output[at]["status"] = "completed"
        return self._emit("response.output_item.done", output_index=at, item=_copy(self.output[at]))

    def _item_id(self, kind: str) -> str:
        return f"{kind}_{self.head.get('id', '')}_{len(self.output)}"

    def _at_message(self) -> int:
        assert self.message is not None
        return self.message

    def _at_reasoning(self) -> int:
        assert self.reasoning is not None
        return self.reasoning

    def _part_ref(self) -> dict[str, Any]:
        return {"item_id": self.output[self._at_message()]["id"], "output_index": self.message, "content_index": 0}

    def _open_message(self) -> list[dict[str, Any]]:
        if self.message is not None:
            return []
        self.message = len(self.output)
        item = {"id": self._item_id("msg"), "type": "message", "role": "assistant", "status": "in_progress"}
        added = self._add({**item, "content": []})
        self.output[self.message]["content"] = [{"type": "output_text", "text": "", "annotations": []}]
        part = _copy(self.output[self.message]["content"][0])
        return [added, self._emit("response.content_part.added", **self._part_ref(), part=part)]

    def _annotate(self) -> list[dict[str, Any]]:
        part = self.output[self._at_message()]["content"][0]
        out = []
        for cited in self.pending:
            end = len(part["text"])
            note = {"type": "url_citation", "url": cited.url, "title": cited.title or "", "start_index": end,
                    "end_index": end}  # fmt: skip
            part["annotations"].append(note)
            index = len(part["annotations"]) - 1
            out.append(self._emit("response.output_text.annotation.added", **self._part_ref(),
                                  annotation_index=index, annotation=note))  # fmt: skip
        self.pending.clear()
        return out

    def _close_message(self) -> list[dict[str, Any]]:
        if self.message is None:
            return []
        at, part = self.message, _copy(self.output[self.message]["content"][0])
        out = [
            self._emit("response.output_text.done", **self._part_ref(), text=part["text"], logprobs=[]),
            self._emit("response.content_part.done", **self._part_ref(), part=part),
            self._done(at),
        ]
        self.message = None
        return out

    def _open_reasoning(self, item_id: str | None, sealed: str | None) -> list[dict[str, Any]]:
        if self.reasoning is not None:
            return []
        self.reasoning = len(self.output)
        item = {"id": item_id or self._item_id("rs"), "type": "reasoning", "summary": [], "status": "in_progress"}
        return [self._add({**item, **({"encrypted_content": sealed} if sealed else {})})]

    def _open_summary(self) -> list[dict[str, Any]]:
        item = self.output[self._at_reasoning()]
        if item["summary"]:
            return []
        item["summary"].append({"type": "summary_text", "text": ""})
        ref = {"item_id": item["id"], "output_index": self.reasoning, "summary_index": 0}
        return [self._emit("response.reasoning_summary_part.added", **ref, part=_copy(item["summary"][0]))]

    def _seal(self, event: ReasoningSeal) -> list[dict[str, Any]]:
        """A seal before any reasoning text opens its own item; after text, it seals and closes the open one."""
        if self.reasoning is not None and "encrypted_content" not in self.output[self.reasoning]:
            self.output[self.reasoning]["encrypted_content"] = event.sealed
            return self._close_reasoning()
        out = [*self._close_message(), *self._close_reasoning()]
        return [*out, *self._open_reasoning(event.id, event.sealed)]

    def _close_reasoning(self) -> list[dict[str, Any]]:
        if self.reasoning is None:
            return []
        at, item = self.reasoning, self.output[self.reasoning]
        out = []
        if item["summary"]:
            ref = {"item_id": item["id"], "output_index": at, "summary_index": 0}
            summary = _copy(item["summary"][0])
            out.append(self._emit("response.reasoning_summary_text.done", **ref, text=summary["text"]))
            out.append(self._emit("response.reasoning_summary_part.done", **ref, part=summary))
        self.reasoning = None
        return [*out, self._done(at)]

    def _searched(self, search: Searched) -> list[dict[str, Any]]:
        """A ``web_search_call`` item, added, searching and done at once (it ran upstream before we heard of it)."""
        out = [*self._close_message(), *self._close_reasoning()]
        at = len(self.output)
        sources = [{"type": "url", "url": c.url, **({"title": c.title} if c.title else {})} for c in search.sources]
        action = {"type": "search", "query": search.query, "sources": sources}
        item_id = search.call_id or self._item_id("ws")
        out.append(self._add({"id": item_id, "type": "web_search_call", "status": "in_progress", "action": action}))
        ref = {"item_id": item_id, "output_index": at}
        out += [self._emit(f"response.web_search_call.{stage}", **ref) for stage in ("in_progress", "searching")]
        if search.failed:
            self.output[at]["status"] = "failed"
            return [*out, self._emit("response.output_item.done", output_index=at, item=_copy(self.output[at]))]
        return [*out, self._emit("response.web_search_call.completed", **ref), self._done(at)]

    def _close_call(self, index: int) -> list[dict[str, Any]]:
        at = self.calls.pop(index)
        item = self.output[at]
        ref = {"item_id": item["id"], "output_index": at}
        done = self._emit("response.function_call_arguments.done", **ref, arguments=item["arguments"])
        return [done, self._done(at)]

    def _close_all(self) -> list[dict[str, Any]]:
        out = [*self._close_message(), *self._close_reasoning()]
        for index in list(self.calls):
            out += self._close_call(index)
        if self.pending:
            out += [*self._open_message(), *self._annotate(), *self._close_message()]
        return out

    def _finish(self, event: Finish) -> list[dict[str, Any]]:
        out = self._close_all()
        incomplete = _INCOMPLETE_BACK.get(event.reason)
        response = self._response("incomplete" if incomplete else "completed", usage=event.usage or Usage())
        if incomplete:
            response["incomplete_details"] = {"reason": incomplete}
        kind = "response.incomplete" if incomplete else "response.completed"
        return [*out, self._emit(kind, response=response)]

    def _fail(self, event: Failure) -> list[dict[str, Any]]:
        """The ``error`` event keeps our code; ``response.failed`` carries one the SDK knows."""
        error = self._emit("error", code=event.code, message=event.message, param=None)
        response = self._response("failed")
        response["error"] = {"code": response_error_code(event), "message": event.message}
        return [error, self._emit("response.failed", response=response)]

    def _response(self, status: str, usage: Usage | None = None) -> dict[str, Any]:
        return response_object(self.head, self.request, status, _copy(self.output), usage)


def response_object(
    head: dict[str, Any], request: dict[str, Any], status: str, output: list[dict[str, Any]], usage: Usage | None
) -> dict[str, Any]:
    """The ``response`` object around ``output``: ``head`` gives id, created_at, model; ``request`` the echoes."""
    return {
        "id": head.get("id", ""),
        "object": "response",
        "created_at": head.get("created_at", 0),
        "model": head.get("model", ""),
        "status": status,
        "output": output,
        "error": None,
        "incomplete_details": None,
        "instructions": request.get("instructions"),
        "metadata": request.get("metadata"),
        "parallel_tool_calls": request.get("parallel_tool_calls", True),
        "temperature": request.get("temperature"),
        "top_p": request.get("top_p"),
        "tool_choice": request.get("tool_choice", "auto"),
        "tools": request.get("tools", []),
        "max_output_tokens": request.get("max_output_tokens"),
        "store": False,
        "usage": response_usage(usage) if usage is not None else None,
    }


def answer_to_response(answer: Answer, request: dict[str, Any] | None = None) -> dict[str, Any]:
    """A whole Responses object from a folded answer, by writing its events and keeping the last ``response``."""
    writer = ResponsesEventWriter(request=request or {})
    last: dict[str, Any] = {}
    for event in _answer_events(answer):
        for written in writer.write(event):
            last = written.get("response", last)
    return last


def _answer_events(answer: Answer) -> Iterator[Event]:
    """An answer's events again, in the order the writer lays out items: reasoning, text, calls."""
    yield Begin(answer.id, answer.model, answer.created)
    yield from answer.seals  # first, so the reasoning item keeps the seal's id
    if answer.reasoning:
        yield Reasoning(answer.reasoning)
    yield from answer.searches
    if answer.text:
        yield TextDelta(answer.text)
    yield from answer.citations
    for index, call in enumerate(answer.tool_calls):
        yield ToolCallBegin(index, call.call_id, call.name)
        yield ToolArguments(index, call.arguments)
        yield ToolCallEnd(index)
    if answer.failure is not None:
        yield answer.failure
    else:
        yield answer.finish or Finish("stop")


def _copy(value: Any) -> Any:
    """A deep copy of plain JSON data, so an event given out never changes under its reader."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
