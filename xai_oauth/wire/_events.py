"""The neutral vocabulary of an answer: what every wire format's stream says, in one set of small events.

Three wire formats meet in the local server: chat completions and Responses
(xAI's two lanes, and what OpenAI clients speak) and Anthropic Messages. Each
format gets a reader (its chunks or events -> these) and a writer (these ->
its chunks or events), so N formats need 2N pure functions rather than N²
translators, and a stream is translated one event at a time, never buffered.

A whole (non-streamed) answer is the same events folded by ``Answer.fold``;
its writers build each format's whole body from the ``Answer``.

Rules every reader keeps:
- ``Begin`` comes first; ``Finish`` (or ``Failure``) comes last, once.
- A tool call is ``ToolCallBegin``, zero or more ``ToolArguments``, then
  ``ToolCallEnd``; ``index`` tells parallel calls apart.
- ``Searched`` is a search xAI ran for the answer (its query and what it
  found), where it ran; ``Cited`` is a source the text cites, however the
  upstream says so (a lane without search items gives only these).
- ``Reasoning`` text is shown to a person only where the client asked for it;
  ``ReasoningSeal`` carries what the provider needs to continue its reasoning
  on the next turn (xAI's ``encrypted_content``), opaque to us.
- No event holds a credential.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeAlias

__all__ = [
    "STOP_REASONS",
    "Answer",
    "Begin",
    "Cited",
    "Event",
    "Failure",
    "Finish",
    "Reasoning",
    "ReasoningSeal",
    "Searched",
    "TextDelta",
    "ToolArguments",
    "ToolCall",
    "ToolCallBegin",
    "ToolCallEnd",
    "Usage",
]

#: Why an answer stopped, in the neutral words (chat completions' own, plus ``stop_sequence``).
STOP_REASONS = ("stop", "length", "tool_calls", "content_filter", "stop_sequence")


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts; ``cached_tokens`` is the part of ``input_tokens`` served from the provider's prompt cache."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Begin:
    """The answer starts: its id (the upstream's, or one we made) and the model id the client should see."""

    id: str
    model: str
    created: int = 0


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class Reasoning:
    """A piece of the model's visible reasoning (a summary, on xAI)."""

    text: str


@dataclass(frozen=True, slots=True)
class ReasoningSeal:
    """What the provider needs back to continue its reasoning (opaque); Anthropic clients carry it as a signature."""

    sealed: str
    id: str | None = None


@dataclass(frozen=True, slots=True)
class ToolCallBegin:
    index: int
    call_id: str
    name: str


@dataclass(frozen=True, slots=True)
class ToolArguments:
    """A piece of a tool call's JSON arguments; the pieces joined are the whole JSON text."""

    index: int
    delta: str


@dataclass(frozen=True, slots=True)
class ToolCallEnd:
    index: int


@dataclass(frozen=True, slots=True)
class Cited:
    url: str
    title: str | None = None


@dataclass(frozen=True, slots=True)
class Searched:
    """A search xAI ran on the way to the answer (a ``web_search_call``): what it asked, what it found.

    ``failed``: it ran and came back with nothing to use (xAI's ``failed``
    status), which Anthropic clients see as a search error, not a result.
    """

    call_id: str
    query: str
    sources: tuple[Cited, ...] = ()
    failed: bool = False


@dataclass(frozen=True, slots=True)
class Finish:
    """The answer is whole. ``reason`` is one of ``STOP_REASONS``; ``stop_sequence`` names the one that matched."""

    reason: str
    usage: Usage | None = None
    stop_sequence: str | None = None


@dataclass(frozen=True, slots=True)
class Failure:
    """The upstream failed mid-answer; writers turn it into their format's error event. Text already scrubbed."""

    message: str
    code: str = "server_error"
    status: int = 502


Event: TypeAlias = (
    Begin
    | TextDelta
    | Reasoning
    | ReasoningSeal
    | ToolCallBegin
    | ToolArguments
    | ToolCallEnd
    | Cited
    | Searched
    | Finish
    | Failure
)


@dataclass(slots=True)
class ToolCall:
    call_id: str
    name: str
    arguments: str = ""


@dataclass(slots=True)
class Answer:
    """A whole answer, folded from its events (tool arguments joined once, so folding is linear)."""

    id: str = ""
    model: str = ""
    created: int = 0
    text: str = ""
    reasoning: str = ""
    seals: list[ReasoningSeal] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    citations: list[Cited] = field(default_factory=list)
    searches: list[Searched] = field(default_factory=list)
    finish: Finish | None = None
    failure: Failure | None = None

    @classmethod
    def fold(cls, events: Iterable[Event]) -> Answer:
        """Fold an iterable of events into one answer."""
        answer = cls()
        text: list[str] = []
        reasoning: list[str] = []
        calls: dict[int, ToolCall] = {}
        pieces: dict[int, list[str]] = {}
        for event in events:
            if isinstance(event, TextDelta):
                text.append(event.text)
            elif isinstance(event, Reasoning):
                reasoning.append(event.text)
            elif isinstance(event, ToolArguments):
                pieces.setdefault(event.index, []).append(event.delta)
            elif isinstance(event, ToolCallBegin):
                calls[event.index] = ToolCall(event.call_id, event.name)
            elif isinstance(event, Begin):
                answer.id, answer.model, answer.created = event.id, event.model, event.created
            elif isinstance(event, ReasoningSeal):
                answer.seals.append(event)
            elif isinstance(event, Cited):
                if all(c.url != event.url for c in answer.citations):
                    answer.citations.append(event)
            elif isinstance(event, Searched):
                answer.searches.append(event)
            elif isinstance(event, Finish):
                answer.finish = event
            elif isinstance(event, Failure):
                answer.failure = event
        for index, call in calls.items():
            call.arguments = "".join(pieces.get(index, ()))
        answer.text, answer.reasoning = "".join(text), "".join(reasoning)
        answer.tool_calls = [calls[i] for i in sorted(calls)]
        return answer
