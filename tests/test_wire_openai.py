"""The OpenAI side of the wire: readers and writers round-trip, and the writers' output is the openai SDK's shape."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx2 as httpx
import pydantic
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseStreamEvent

from xai_oauth._exceptions import UnsupportedParameter
from xai_oauth.wire._events import (
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
from xai_oauth.wire._openai_chat import (
    DONE,
    ChatChunkReader,
    ChatChunkWriter,
    answer_to_chat_completion,
    chat_body_events,
    read_chat_stream,
)
from xai_oauth.wire._openai_errors import openai_error_body
from xai_oauth.wire._openai_requests import DROPPED, Policy, responses_to_chat
from xai_oauth.wire._openai_responses import ResponsesEventReader, read_responses_stream, response_body_events, searched
from xai_oauth.wire._openai_responses_writer import ResponsesEventWriter, answer_to_response

STREAM_EVENT = pydantic.TypeAdapter(ResponseStreamEvent)

BEGIN = Begin("resp_1", "grok-4.3", 1_700_000_000)
USAGE = Usage(input_tokens=120, output_tokens=40, cached_tokens=100, reasoning_tokens=12)


def tool_calls(pieces: int) -> list[Event]:
    """Two calls one after the other, each argument sent in many pieces."""
    events: list[Event] = []
    for index, (call_id, name) in enumerate([("call_a", "read_file"), ("call_b", "list_dir")]):
        text = json.dumps({"path": f"/tmp/{name}", "n": index})
        step = max(1, len(text) // pieces)
        events.append(ToolCallBegin(index, call_id, name))
        events += [ToolArguments(index, text[i : i + step]) for i in range(0, len(text), step)]
        events.append(ToolCallEnd(index))
    return events


STORIES: dict[str, list[Event]] = {
    "text": [BEGIN, TextDelta("Hel"), TextDelta("lo"), Finish("stop", USAGE)],
    "reasoning": [BEGIN, Reasoning("think "), Reasoning("hard"), TextDelta("42"), Finish("stop", USAGE)],
    "tools": [BEGIN, TextDelta("Let me look."), *tool_calls(7), Finish("tool_calls", USAGE)],
    "citations": [BEGIN, TextDelta("See"), Cited("https://x.ai/a"), Cited("https://x.ai/b"), Finish("stop", USAGE)],
    "length": [BEGIN, TextDelta("cut"), Finish("length", USAGE)],
    "failure": [BEGIN, TextDelta("par"), Failure("upstream went away", code="server_error")],
}


def chat_chunks(events: list[Event], include_usage: bool = True) -> list[dict[str, Any] | str]:
    writer = ChatChunkWriter(include_usage=include_usage)
    return [chunk for event in events for chunk in writer.write(event)]


def responses_events(events: list[Event], **kw: Any) -> list[dict[str, Any]]:
    writer = ResponsesEventWriter(**kw)
    return [out for event in events for out in writer.write(event)]


# -- chat completions -------------------------------------------------------


@pytest.mark.parametrize("story", sorted(STORIES))
def test_chat_stream_round_trips(story: str) -> None:
    events = STORIES[story]
    chunks = chat_chunks(events)
    data = [c for c in chunks if c != DONE]
    assert all(isinstance(c, dict) for c in data)
    read = list(read_chat_stream(c for c in data if isinstance(c, dict)))
    assert read == events  # chat cites by URL only: the stories' citations have no titles
    assert (chunks[-1] == DONE) == (story != "failure")


@pytest.mark.parametrize("story", sorted(STORIES))
def test_chat_chunks_are_the_sdk_shape(story: str) -> None:
    for chunk in chat_chunks(STORIES[story]):
        if chunk == DONE:
            continue
        assert isinstance(chunk, dict)
        if "error" in chunk:
            assert chunk == openai_error_body(502, "upstream went away", "server_error")
            assert chunk["error"]["type"] == "server_error"
            continue
        parsed = ChatCompletionChunk.model_validate(chunk)
        assert parsed.object == "chat.completion.chunk"
    usage = [c for c in chat_chunks(STORIES["text"]) if isinstance(c, dict) and c.get("usage")]
    assert ChatCompletionChunk.model_validate(usage[0]).usage.prompt_tokens_details.cached_tokens == 100  # type: ignore[union-attr]


def test_chat_usage_only_when_asked() -> None:
    chunks = chat_chunks(STORIES["text"], include_usage=False)
    assert not any(isinstance(c, dict) and "usage" in c for c in chunks)
    read = list(read_chat_stream(c for c in chunks if isinstance(c, dict)))
    assert read[-1] == Finish("stop", None)


def test_chat_reader_ends_a_call_when_the_next_index_starts_and_cuts_become_failures() -> None:
    reader = ChatChunkReader()
    head = {"id": "c", "model": "m", "created": 1}
    first = {
        **head,
        "choices": [
            {
                "index": 0,
                "delta": {"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": "{"}}]},
            }
        ],
    }
    second = {
        **head,
        "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 1, "id": "b", "function": {"name": "g"}}]}}],
    }
    assert reader.feed(first) == [Begin("c", "m", 1), ToolCallBegin(0, "a", "f"), ToolArguments(0, "{")]
    assert reader.feed(second) == [ToolCallEnd(0), ToolCallBegin(1, "b", "g")]
    end = reader.end()
    assert end[0] == ToolCallEnd(1) and isinstance(end[1], Failure) and end[1].code == "stream_incomplete"


def test_chat_reader_scrubs_upstream_error_text() -> None:
    secret = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlX3NpZ25hdHVyZQ"
    (failure,) = ChatChunkReader().feed({"error": {"message": f"bad token {secret}", "code": "unauthorized"}})
    assert isinstance(failure, Failure) and secret not in failure.message and failure.code == "unauthorized"


@pytest.mark.parametrize("story", sorted(set(STORIES) - {"failure"}))
def test_whole_chat_completion_round_trips_and_is_the_sdk_shape(story: str) -> None:
    answer = Answer.fold(STORIES[story])
    body = answer_to_chat_completion(answer)
    ChatCompletion.model_validate(body)
    assert Answer.fold(chat_body_events(body)) == answer


def test_whole_chat_failure_is_an_openai_error_body() -> None:
    body = answer_to_chat_completion(Answer.fold(STORIES["failure"]))
    assert body == {
        "error": {"message": "upstream went away", "type": "server_error", "code": "server_error", "param": None}
    }
    assert chat_body_events(body) == [Failure("upstream went away", "server_error")]


def test_openai_error_body_types_follow_the_status() -> None:
    assert openai_error_body(401, "m", "reauth_required")["error"]["type"] == "authentication_error"
    assert openai_error_body(429, "m", "rate_limited")["error"]["type"] == "rate_limit_error"
    assert openai_error_body(400, "m", None, "x")["error"] == {"message": "m", "type": "x", "code": None, "param": None}


# -- Responses --------------------------------------------------------------


SEALED = [BEGIN, ReasoningSeal("opaque-blob", "rs_up_0"), Reasoning("plan"), TextDelta("done"), Finish("stop", USAGE)]
#: Stories only the Responses API can tell: the searches xAI ran (chat completions has no item for them).
SEARCHES: dict[str, list[Event]] = {
    "searched": [
        BEGIN,
        Searched("ws_1", "grok news", (Cited("https://x.ai/a", "A"), Cited("https://x.ai/b"))),
        TextDelta("See"),
        Cited("https://x.ai/a", "A"),
        Finish("stop", USAGE),
    ],
    "search failed": [BEGIN, Searched("ws_2", "grok news", failed=True), TextDelta("Nothing."), Finish("stop", USAGE)],
}
RESPONSES_STORIES = {**STORIES, "sealed": SEALED, **SEARCHES}


@pytest.mark.parametrize("story", sorted(RESPONSES_STORIES))
def test_responses_stream_round_trips(story: str) -> None:
    events = RESPONSES_STORIES[story]
    assert list(read_responses_stream(responses_events(events))) == events


def test_parallel_calls_interleaved_round_trip_on_responses() -> None:
    events: list[Event] = [
        BEGIN,
        ToolCallBegin(0, "call_a", "f"),
        ToolCallBegin(1, "call_b", "g"),
        ToolArguments(0, '{"a":'),
        ToolArguments(1, '{"b":'),
        ToolArguments(1, "2}"),
        ToolArguments(0, "1}"),
        ToolCallEnd(1),
        ToolCallEnd(0),
        Finish("tool_calls", USAGE),
    ]
    assert list(read_responses_stream(responses_events(events))) == events


def test_seal_after_reasoning_text_seals_the_open_item() -> None:
    events = [BEGIN, Reasoning("plan"), ReasoningSeal("blob"), TextDelta("x"), Finish("stop", USAGE)]
    read = list(read_responses_stream(responses_events(events)))
    seal = read[2]
    assert isinstance(seal, ReasoningSeal) and seal.sealed == "blob" and seal.id
    assert read[:2] + read[3:] == events[:2] + events[3:]


@pytest.mark.parametrize("story", sorted(RESPONSES_STORIES))
def test_responses_events_are_the_sdk_shape_in_order(story: str) -> None:
    events = RESPONSES_STORIES[story]
    written = responses_events(events, request={"tools": [], "tool_choice": "auto"})
    parsed = [STREAM_EVENT.validate_python(event) for event in written]
    assert [p.sequence_number for p in parsed] == list(range(len(parsed)))
    kinds = [p.type for p in parsed]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    if story == "failure":
        assert kinds[-2:] == ["error", "response.failed"]
        return
    assert kinds[-1] == ("response.incomplete" if story == "length" else "response.completed")
    final = Response.model_validate(written[-1]["response"])
    assert final.usage is not None and final.usage.input_tokens_details.cached_tokens == 100
    assert kinds.count("response.output_item.added") == kinds.count("response.output_item.done") == len(final.output)


def test_a_message_item_has_the_event_sequence_codex_reads() -> None:
    kinds = [e["type"] for e in responses_events(STORIES["text"])]
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]


@pytest.mark.parametrize("story", sorted(set(RESPONSES_STORIES) - {"failure"}))
def test_whole_response_round_trips_and_is_the_sdk_shape(story: str) -> None:
    answer = Answer.fold(RESPONSES_STORIES[story])
    body = answer_to_response(answer)
    Response.model_validate(body)
    assert Answer.fold(response_body_events(body)) == answer


def test_a_search_is_a_web_search_call_item_as_xais_grok_cli_reads_one() -> None:
    written = responses_events(SEARCHES["searched"])
    kinds = [e["type"] for e in written]
    assert kinds[2:7] == [
        "response.output_item.added",
        "response.web_search_call.in_progress",
        "response.web_search_call.searching",
        "response.web_search_call.completed",
        "response.output_item.done",
    ]
    item = written[6]["item"]
    assert (item["type"], item["id"], item["status"]) == ("web_search_call", "ws_1", "completed")
    assert item["action"]["query"] == "grok news" and item["action"]["sources"][1] == {
        "type": "url",
        "url": "https://x.ai/b",
    }
    failed = responses_events(SEARCHES["search failed"])
    assert [e["item"]["status"] for e in failed if e["type"] == "response.output_item.done"][0] == "failed"


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"id": "ws", "status": "completed", "action": {"type": "open_page", "url": "https://x.ai"}}, None),
        ({"id": "ws", "status": "completed", "query": "flat", "sources": [{"url": "https://a"}, {"title": "no url"}]},
         Searched("ws", "flat", (Cited("https://a"),))),
        ({"id": "ws", "status": "failed"}, Searched("ws", "", failed=True)),
    ],
)  # fmt: skip
def test_a_web_search_call_that_is_no_search_is_nothing_and_a_flat_one_is_read(
    item: dict[str, Any], expected: Searched | None
) -> None:
    assert searched({**item, "type": "web_search_call"}) == expected


def test_failed_whole_response() -> None:
    body = answer_to_response(Answer.fold(STORIES["failure"]))
    assert Response.model_validate(body).status == "failed"
    assert response_body_events(body)[-1] == Failure("upstream went away", "server_error")


def test_responses_reader_cut_short_is_a_failure() -> None:
    reader = ResponsesEventReader()
    for event in responses_events(STORIES["text"])[:-1]:
        reader.feed(event)
    (cut,) = reader.end()
    assert isinstance(cut, Failure) and cut.code == "stream_incomplete"


def sse(events: list[dict[str, Any]]) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


def test_the_openai_sdk_streams_our_responses_events() -> None:
    import openai

    body = sse(responses_events(STORIES["tools"], request={"tools": []}))

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    http = httpx.Client(transport=httpx.MockTransport(handler))
    client = openai.OpenAI(api_key="test", base_url="http://127.0.0.1:9/v1", http_client=http)
    with client.responses.stream(model="grok-4.3", input="hi") as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[-1] == "response.completed"
    calls = [item for item in final.output if item.type == "function_call"]
    assert [c.name for c in calls] == ["read_file", "list_dir"]
    assert json.loads(calls[1].arguments) == {"path": "/tmp/list_dir", "n": 1}
    assert final.output_text == "Let me look."


def test_the_openai_sdk_streams_our_chat_chunks() -> None:
    import openai

    chunks = chat_chunks(STORIES["tools"])
    body = b"".join(f"data: {c if c == DONE else json.dumps(c)}\n\n".encode() for c in chunks)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    http = httpx.Client(transport=httpx.MockTransport(handler))
    client = openai.OpenAI(api_key="test", base_url="http://127.0.0.1:9/v1", http_client=http)
    with client.chat.completions.stream(model="grok-4.3", messages=[{"role": "user", "content": "hi"}]) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    message = final.choices[0].message
    assert message.content == "Let me look."
    assert [c.function.name for c in message.tool_calls or [] if c.type == "function"] == ["read_file", "list_dir"]


# -- Responses requests as chat requests -------------------------------------


IMAGE = "data:image/png;base64,AA"
CODEX_REQUEST: dict[str, Any] = {
    "model": "grok-4.3",
    "instructions": "You are Codex.",
    "input": [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "fix it"},
                                                        {"type": "input_image", "image_url": IMAGE, "detail": "low"}]},
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "blob"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Looking."}]},
        {"type": "function_call", "call_id": "c1", "name": "shell", "arguments": '{"cmd":"ls"}'},
        {"type": "function_call", "call_id": "c2", "name": "search", "namespace": "mcp", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "a.py"},
        {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "none"}]},
    ],
    "tools": [
        {"type": "function", "name": "shell", "description": "run", "parameters": {"type": "object"}, "strict": False},
        {"type": "web_search"},
        {"type": "namespace", "name": "mcp", "description": "tools", "tools": [{"type": "function", "name": "search"}]},
    ],
    "tool_choice": "auto",
    "parallel_tool_calls": True,
    "reasoning": {"effort": "high", "summary": "auto"},
    "store": False,
    "stream": True,
    "include": ["reasoning.encrypted_content"],
    "prompt_cache_key": "conv-123",
    "client_metadata": {"x": "y"},
    "max_output_tokens": 500,
    "text": {"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": True}},
}  # fmt: skip


def test_a_codex_request_becomes_a_chat_request(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="xai_oauth.wire"):
        chat = responses_to_chat(CODEX_REQUEST)
    assert chat["messages"] == [
        {"role": "system", "content": "You are Codex."},
        {"role": "user", "content": [{"type": "text", "text": "fix it"},
                                     {"type": "image_url", "image_url": {"url": IMAGE, "detail": "low"}}]},
        {"role": "assistant", "content": "Looking.", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "shell", "arguments": '{"cmd":"ls"}'}},
            {"id": "c2", "type": "function", "function": {"name": "mcp__search", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "a.py"},
        {"role": "tool", "tool_call_id": "c2", "content": "none"},
    ]  # fmt: skip
    assert chat["tools"] == [
        {"type": "function", "function": {"name": "shell", "description": "run", "parameters": {"type": "object"},
                                          "strict": False}},
        {"type": "function", "function": {"name": "mcp__search"}},
    ]  # fmt: skip
    assert chat["search"] == ["web"] and chat["namespaces"] == {"mcp__search": ("mcp", "search")}
    assert chat["prompt_cache_key"] == "conv-123" and chat["reasoning_items"][0]["id"] == "rs_1"
    assert chat["max_tokens"] == 500 and chat["reasoning_effort"] == "high" and chat["tool_choice"] == "auto"
    assert chat["response_format"] == {
        "type": "json_schema", "json_schema": {"name": "out", "schema": {"type": "object"}, "strict": True},
    }  # fmt: skip
    assert chat["stream"] is True and chat["stream_options"] == {"include_usage": True}
    assert chat["parallel_tool_calls"] is True
    for key in ("include", "client_metadata", "store", "reasoning.summary"):
        assert f"dropped {key}" in caplog.text
        assert key in DROPPED
    for key in ("include", "client_metadata", "store", "text", "reasoning", "input", "instructions"):
        assert key not in chat


def test_a_namespaced_call_goes_back_under_its_namespace() -> None:
    chat = responses_to_chat(CODEX_REQUEST)
    events = [BEGIN, ToolCallBegin(0, "c9", "mcp__search"), ToolCallEnd(0), Finish("tool_calls", USAGE)]
    written = responses_events(events, namespaces=chat["namespaces"])
    item = next(e["item"] for e in written if e["type"] == "response.output_item.done")
    assert (item["name"], item["namespace"]) == ("search", "mcp")
    STREAM_EVENT.validate_python(written[-1])


def test_a_string_input_is_one_user_message() -> None:
    chat = responses_to_chat({"model": "m", "input": "hi", "store": False})
    assert chat == {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("previous_response_id", "resp_9"),
        ("store", True),
        ("background", True),
        ("frobnicate", 1),
        ("tools", [{"type": "computer_use_preview"}]),
        ("input", [{"type": "item_reference", "id": "x"}]),
        ("input", [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]),
        ("reasoning", {"effort": "extreme"}),
        ("tool_choice", {"type": "allowed_tools"}),
    ],
)
def test_what_cannot_be_honoured_is_refused(field: str, value: Any) -> None:
    body = {"model": "m", "input": "hi", field: value}
    with pytest.raises(UnsupportedParameter) as refused:
        responses_to_chat(body)
    assert refused.value.code == "unsupported_parameter"
    assert refused.value.details["parameter"] in (field, "input")


def test_the_refusals_say_why() -> None:
    with pytest.raises(UnsupportedParameter, match="keeps none"):
        responses_to_chat({"model": "m", "input": "hi", "previous_response_id": "resp_1"})
    with pytest.raises(UnsupportedParameter, match="keeps nothing"):
        responses_to_chat({"model": "m", "input": "hi", "store": True})


def test_a_strict_policy_refuses_the_droppable() -> None:
    with pytest.raises(UnsupportedParameter, match="include"):
        responses_to_chat({"model": "m", "input": "hi", "include": []}, policy=Policy(drop=False))
    assert responses_to_chat({"model": "m", "input": "hi", "store": True}, policy=Policy(stateless=False, drop=True))
