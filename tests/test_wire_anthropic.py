"""Anthropic Messages <-> the neutral events and chat-completions requests, checked with the anthropic SDK's types."""

from __future__ import annotations

import json
import logging
from typing import Any

import anthropic
import pydantic
import pytest
from anthropic._streaming import SSEDecoder
from anthropic.lib.streaming._messages import accumulate_event

from xai_oauth._exceptions import RequestRejected, ServerError, UnsupportedParameter
from xai_oauth.wire._anthropic import DROPPED, count_tokens, effort_for_budget, messages_to_chat
from xai_oauth.wire._anthropic_models import model_for
from xai_oauth.wire._anthropic_stream import MessagesStreamWriter, answer_to_message, error_body, sse
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


def ask(**fields: Any) -> dict[str, Any]:
    return {"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}], **fields}


def chat(policy: str = "lenient", **fields: Any) -> dict[str, Any]:
    return messages_to_chat(ask(**fields), policy=policy).chat


# -- requests ---------------------------------------------------------------


def test_plain_fields_map_to_chat_names() -> None:
    body = chat(temperature=0.2, top_p=0.9, stop_sequences=["END"], stream=True)
    assert body == {
        "model": "claude-sonnet-4-5",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 100,
        "temperature": 0.2,
        "top_p": 0.9,
        "stop": ["END"],
        "stream": True,
    }


def test_system_as_string_or_blocks() -> None:
    assert chat(system="be brief")["messages"][0] == {"role": "system", "content": "be brief"}
    blocks = [{"type": "text", "text": "one", "cache_control": {"type": "ephemeral"}}, {"type": "text", "text": "two"}]
    assert chat(system=blocks)["messages"][0] == {"role": "system", "content": "one\n\ntwo"}
    with pytest.raises(RequestRejected):
        chat(system=[{"type": "image"}])


def test_system_turns_between_messages_stay_where_they_are() -> None:
    """Claude Code 2.1 sends its environment notes as a system turn after the user's (``per-turn-control``)."""
    notes = [{"type": "text", "text": "# Environment", "cache_control": {"type": "ephemeral"}}]
    turns = [{"role": "user", "content": "hi"}, {"role": "system", "content": notes}]
    assert chat(system="be brief", messages=turns)["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
        {"role": "system", "content": "# Environment"},
    ]
    with pytest.raises(RequestRejected):
        chat(messages=[{"role": "user", "content": "hi"}, {"role": "system", "content": [{"type": "image"}]}])


def test_text_and_image_blocks() -> None:
    content = [
        {"type": "text", "text": "what is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0"}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
    ]
    body = chat(messages=[{"role": "user", "content": content}])
    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
            ],
        }
    ]
    with pytest.raises(UnsupportedParameter):
        chat(messages=[{"role": "user", "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}]}])


def test_tool_round_trip_keeps_order_and_errors() -> None:
    turns = [
        {"role": "user", "content": "write two files"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Writing."},
                {"type": "tool_use", "id": "toolu_1", "name": "Write", "input": {"path": "a"}},
                {"type": "tool_use", "id": "toolu_2", "name": "Write", "input": {"path": "b"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_2",
                    "is_error": True,
                    "content": [{"type": "text", "text": "disk"}, {"type": "text", "text": "full"}],
                },
                {"type": "text", "text": "go on"},
            ],
        },
    ]
    messages = chat(messages=turns)["messages"]
    assert messages[1] == {
        "role": "assistant",
        "content": "Writing.",
        "tool_calls": [
            {"id": "toolu_1", "type": "function", "function": {"name": "Write", "arguments": '{"path":"a"}'}},
            {"id": "toolu_2", "type": "function", "function": {"name": "Write", "arguments": '{"path":"b"}'}},
        ],
    }
    assert messages[2:] == [
        {"role": "tool", "tool_call_id": "toolu_1", "content": "ok"},
        {"role": "tool", "tool_call_id": "toolu_2", "content": "Error: disk\nfull"},
        {"role": "user", "content": "go on"},
    ]


def test_images_in_a_tool_result_follow_the_tool_messages() -> None:
    image = {"type": "image", "source": {"type": "url", "url": "https://x/s.png"}}
    turns = [
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "Shot", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": [image]}]},
    ]
    messages = chat(messages=turns)["messages"]
    assert messages[0]["content"] is None
    assert messages[1] == {"role": "tool", "tool_call_id": "t", "content": ""}
    assert messages[2]["role"] == "user"
    assert messages[2]["content"][1] == {"type": "image_url", "image_url": {"url": "https://x/s.png"}}


def test_tools_and_tool_choice() -> None:
    tools = [
        {"name": "Read", "description": "read a file", "input_schema": {"type": "object", "properties": {}}},
        {"name": "Bare", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}},
    ]
    body = chat(tools=tools, tool_choice={"type": "any", "disable_parallel_tool_use": True})
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "Read",
                "parameters": {"type": "object", "properties": {}},
                "description": "read a file",
            },
        },
        {"type": "function", "function": {"name": "Bare", "parameters": {"type": "object"}}},
    ]
    assert body["tool_choice"] == "required" and body["parallel_tool_calls"] is False
    assert chat(tool_choice={"type": "auto"})["tool_choice"] == "auto"
    assert chat(tool_choice={"type": "none"})["tool_choice"] == "none"
    assert chat(tool_choice={"type": "tool", "name": "Read"})["tool_choice"] == {
        "type": "function",
        "function": {"name": "Read"},
    }
    with pytest.raises(RequestRejected):
        chat(tool_choice={"type": "sometimes"})


def test_web_search_becomes_a_search_marker_and_other_server_tools_are_refused() -> None:
    tool = {"type": "web_search_20250305", "name": "web_search", "allowed_domains": ["x.ai"], "max_uses": 3}
    request = messages_to_chat(ask(tools=[tool]), policy="lenient")
    assert request.search == ["web"] and request.search_filters == {"allowed_domains": ["x.ai"]}
    assert "tools" not in request.chat
    with pytest.raises(UnsupportedParameter):
        chat(tools=[{"type": "code_execution_20250522", "name": "code_execution"}])


@pytest.mark.parametrize(
    ("budget", "effort"), [(1024, "low"), (4095, "low"), (4096, "medium"), (16383, "medium"), (16384, "high")]
)
def test_thinking_budget_to_effort(budget: int, effort: str) -> None:
    assert effort_for_budget(budget) == effort
    assert chat(thinking={"type": "enabled", "budget_tokens": budget})["reasoning_effort"] == effort


def test_thinking_disabled_or_adaptive_sends_no_effort() -> None:
    assert "reasoning_effort" not in chat(thinking={"type": "disabled"})
    assert "reasoning_effort" not in chat(thinking={"type": "adaptive"})
    with pytest.raises(RequestRejected):
        chat(thinking={"type": "enabled"})


def test_thinking_sent_back_is_kept_for_the_responses_lane() -> None:
    turns = [
        {"role": "user", "content": "q"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "SEALED"},
                {"type": "redacted_thinking", "data": "SEALED2"},
                {"type": "thinking", "thinking": "no seal", "signature": ""},
                {"type": "text", "text": "a"},
            ],
        },
        {"role": "user", "content": "more"},
    ]
    request = messages_to_chat(ask(system="s", messages=turns), policy="lenient")
    assert request.chat["messages"][2] == {"role": "assistant", "content": "a"}
    assert request.reasoning_items == [
        (2, {"type": "reasoning", "encrypted_content": "SEALED", "summary": [{"type": "summary_text", "text": "hmm"}]}),
        (2, {"type": "reasoning", "encrypted_content": "SEALED2", "summary": []}),
    ]


def test_search_blocks_sent_back_are_accepted() -> None:
    message = answer_to_message(Answer(id="m", text="t", citations=[Cited("https://a", "A")]), "claude")
    turns = [{"role": "user", "content": "q"}, {"role": "assistant", "content": message["content"]}]
    assert chat(messages=turns)["messages"][1] == {"role": "assistant", "content": "t"}


def test_fields_without_xai_meaning_are_dropped_leniently_and_refused_strictly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    extra = {"metadata": {"user_id": "u"}, "context_management": {}, "output_config": {"effort": "low"}}
    with caplog.at_level(logging.DEBUG, logger="xai_oauth.wire"):
        body = chat(**extra)
    assert not set(extra) & set(body)
    assert {"metadata", "context_management", "output_config"} <= set(DROPPED)
    assert sum("dropped" in r.message for r in caplog.records) == 3
    with pytest.raises(UnsupportedParameter) as refused:
        chat("strict", metadata={"user_id": "u"})
    assert refused.value.details["parameter"] == "metadata"


def test_fields_that_cannot_be_honoured_are_refused_under_any_policy() -> None:
    for policy in ("lenient", "strict"):
        with pytest.raises(UnsupportedParameter):
            chat(policy, mcp_servers=[{"type": "url", "url": "https://m", "name": "m"}])


def test_bad_turns_are_rejected() -> None:
    with pytest.raises(RequestRejected):
        chat(messages=[])
    with pytest.raises(RequestRejected):
        chat(messages=[{"role": "system", "content": "x"}])
    with pytest.raises(RequestRejected):
        chat(messages=[{"role": "tool", "content": "x"}, {"role": "user", "content": "hi"}])
    with pytest.raises(RequestRejected):
        chat(messages=[{"role": "user", "content": [{"type": "tool_use"}]}])


def test_count_tokens_is_bytes_over_four_plus_fixed_costs() -> None:
    text = "x" * 400
    assert count_tokens({"model": "m", "messages": [{"role": "user", "content": text}]}) == 100 + 4
    image = {"type": "image", "source": {"type": "url", "url": "u"}}
    with_image = {"model": "m", "messages": [{"role": "user", "content": [image]}]}
    assert count_tokens(with_image) == 4 + 1600
    tools = [{"name": "T", "input_schema": {"type": "object"}}]
    assert count_tokens({"model": "m", "messages": [{"role": "user", "content": text}], "tools": tools}) > 104


# -- models -----------------------------------------------------------------

ACCOUNT = [
    "grok-3-mini",
    "grok-4-0709",
    "grok-4-1-fast-non-reasoning",
    "grok-4-1-fast-reasoning",
    "grok-4.3",
    "grok-code-fast-1",
    "grok-imagine-image",
    "grok-4.20-multi-agent-0309",
]


def test_claude_names_map_by_family_to_the_account_models() -> None:
    assert model_for("claude-opus-4-1", ACCOUNT, {}) == "grok-4.3"
    assert model_for("claude-sonnet-4-5-20250929", ACCOUNT, {}) == "grok-4.3"
    assert model_for("claude-haiku-4-5", ACCOUNT, {}) == "grok-4-1-fast-non-reasoning"
    assert model_for("claude-next-7", ACCOUNT, {}) == "grok-4.3"
    assert model_for("claude-3-5-haiku-latest", ["grok-4.3", "grok-3-mini"], {}) == "grok-3-mini"
    assert model_for("claude-haiku-4-5", ["grok-4.3"], {}) == "grok-4.3"
    assert model_for("claude-opus-4-1", [], {}) is None


def test_model_map_wins_by_full_name_then_family() -> None:
    model_map = {"sonnet": "grok-4-0709", "claude-sonnet-4-5": "grok-3-mini"}
    assert model_for("claude-sonnet-4-5", ACCOUNT, model_map) == "grok-3-mini"
    assert model_for("claude-sonnet-4", ACCOUNT, model_map) == "grok-4-0709"


def test_grok_ids_pass_and_others_are_none() -> None:
    assert model_for("grok-9", ACCOUNT, {}) == "grok-9"
    assert model_for("xai-grok/grok-4.3", ACCOUNT, {}) == "xai-grok/grok-4.3"
    assert model_for("gpt-5", ACCOUNT, {}) is None


# -- answers ----------------------------------------------------------------

EVENTS: list[Event] = [
    Begin(id="resp_1", model="grok-4.3"),
    Reasoning("thinking "),
    Reasoning("hard"),
    ReasoningSeal("SEAL"),
    TextDelta("Hello "),
    TextDelta("world"),
    Cited("https://a.example", "A"),
    ToolCallBegin(0, "call_a", "Write"),
    ToolCallBegin(1, "call_b", "Read"),
    ToolArguments(0, '{"path":'),
    ToolArguments(1, '{"path": "r"}'),
    ToolArguments(0, ' "w"}'),
    ToolCallEnd(0),
    ToolCallEnd(1),
    Finish("tool_calls", Usage(input_tokens=50, output_tokens=7, cached_tokens=20)),
]


def test_answer_to_message_parses_as_the_sdks_message() -> None:
    body = answer_to_message(Answer.fold(EVENTS), "claude-sonnet-4-5")
    message = anthropic.types.Message.model_validate(body)
    assert [b.type for b in message.content] == [
        "thinking",
        "server_tool_use",
        "web_search_tool_result",
        "text",
        "tool_use",
        "tool_use",
    ]
    thinking, _, results, text, write, read = message.content
    assert thinking.type == "thinking" and (thinking.thinking, thinking.signature) == ("thinking hard", "SEAL")
    assert results.type == "web_search_tool_result" and isinstance(results.content, list)
    assert results.content[0].url == "https://a.example"
    assert text.type == "text" and text.citations and text.citations[0].type == "web_search_result_location"
    assert write.type == "tool_use" and (write.id, write.input) == ("call_a", {"path": "w"})
    assert read.type == "tool_use" and read.input == {"path": "r"}
    assert message.id == "msg_resp_1" and message.model == "claude-sonnet-4-5"
    assert message.stop_reason == "tool_use"
    assert (message.usage.input_tokens, message.usage.output_tokens, message.usage.cache_read_input_tokens) == (
        30,
        7,
        20,
    )


@pytest.mark.parametrize(
    ("reason", "expected"),
    [("stop", "end_turn"), ("length", "max_tokens"), ("tool_calls", "tool_use"), ("stop_sequence", "stop_sequence")],
)
def test_stop_reasons(reason: str, expected: str) -> None:
    finish = Finish(reason, stop_sequence="END" if reason == "stop_sequence" else None)
    body = answer_to_message(Answer(id="msg_x", text="t", finish=finish), "claude")
    message = anthropic.types.Message.model_validate(body)
    assert message.stop_reason == expected
    assert message.stop_sequence == ("END" if reason == "stop_sequence" else None)


def test_unparseable_tool_arguments_are_kept_and_a_failed_answer_raises() -> None:
    answer = Answer.fold([Begin("r", "m"), ToolCallBegin(0, "c", "T"), ToolArguments(0, "not json"), ToolCallEnd(0)])
    assert answer_to_message(answer, "m")["content"][0]["input"] == {"arguments": "not json"}
    with pytest.raises(ServerError):
        answer_to_message(Answer(failure=Failure("upstream broke", status=502)), "m")


# -- streams ----------------------------------------------------------------


STREAM_EVENT: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(anthropic.types.RawMessageStreamEvent)


def through_sdk(pairs: list[tuple[str, dict[str, Any]]]) -> anthropic.types.Message:
    """Frame the writer's events as SSE bytes, read them with the SDK's decoder, and fold them with its accumulator."""
    raw = b"".join(sse(name, data) for name, data in pairs)
    snapshot = None
    json_bufs: dict[int, bytes] = {}
    for event in SSEDecoder().iter_bytes(iter([raw])):
        data = json.loads(event.data)
        assert data["type"] == event.event
        if event.event == "ping":
            continue
        STREAM_EVENT.validate_python(data)  # each event is one of the SDK's own, strictly
        snapshot = accumulate_event(event=data, current_snapshot=snapshot, json_bufs=json_bufs)
    assert snapshot is not None
    return anthropic.types.Message.model_validate(snapshot.model_dump())


def written(events: list[Event], writer: MessagesStreamWriter | None = None) -> list[tuple[str, dict[str, Any]]]:
    writer = writer or MessagesStreamWriter("claude-sonnet-4-5", input_tokens=12)
    return [pair for event in events for pair in writer.write(event)]


def test_stream_event_order_and_indexes() -> None:
    pairs = written(EVENTS)
    names = [name for name, _ in pairs]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    starts = [d["index"] for n, d in pairs if n == "content_block_start"]
    stops = [d["index"] for n, d in pairs if n == "content_block_stop"]
    assert starts == list(range(len(starts))) and sorted(stops) == starts
    deltas = [d["delta"]["type"] for n, d in pairs if n == "content_block_delta"]
    assert {"thinking_delta", "signature_delta", "text_delta", "citations_delta", "input_json_delta"} == set(deltas)
    for name, data in pairs:
        assert data["type"] == name


def test_stream_through_the_sdk_accumulator_equals_the_whole_message() -> None:
    message = through_sdk(written(EVENTS))
    whole = anthropic.types.Message.model_validate(answer_to_message(Answer.fold(EVENTS), "claude-sonnet-4-5"))
    by_type = sorted(message.content, key=lambda b: b.type)
    assert [b.model_dump() for b in by_type] == [b.model_dump() for b in sorted(whole.content, key=lambda b: b.type)]
    assert message.stop_reason == "tool_use" and message.usage.output_tokens == 7
    assert message.usage.cache_read_input_tokens == 20 and message.usage.input_tokens == 30


SEARCHES: list[Event] = [
    Begin(id="resp_s", model="grok-4.3"),
    Searched("ws_1", "rust async runtime", (Cited("https://tokio.rs", "Tokio"), Cited("https://async.rs"))),
    TextDelta("Use Tokio."),
    Cited("https://tokio.rs", "Tokio"),
    Searched("ws_2", "tokio vs smol", failed=True),
    TextDelta(" Or not."),
    Finish("stop", Usage(input_tokens=9, output_tokens=4)),
]


def test_each_search_is_its_pair_of_blocks_where_it_ran_with_its_query_and_what_it_found() -> None:
    pairs = written(SEARCHES)
    message = through_sdk(pairs)
    assert [b.type for b in message.content] == [
        "server_tool_use",
        "web_search_tool_result",
        "text",
        "server_tool_use",
        "web_search_tool_result",
        "text",
    ]
    use, found, text, second, failed, _ = message.content
    assert use.type == "server_tool_use" and use.input == {"query": "rust async runtime"}
    assert found.type == "web_search_tool_result" and found.tool_use_id == use.id and isinstance(found.content, list)
    assert [(r.url, r.title) for r in found.content] == [
        ("https://tokio.rs", "Tokio"),
        ("https://async.rs", "https://async.rs"),
    ]
    assert text.type == "text" and text.citations and text.citations[0].url == "https://tokio.rs"
    assert second.type == "server_tool_use" and second.input == {"query": "tokio vs smol"}
    assert failed.type == "web_search_tool_result" and not isinstance(failed.content, list)
    assert failed.content.error_code == "unavailable"
    assert message.usage.server_tool_use and message.usage.server_tool_use.web_search_requests == 1  # ran, not failed
    # as Anthropic streams a server tool's input: an empty input at the start, then the query in one delta
    start = next(d for n, d in pairs if n == "content_block_start" and d["content_block"]["type"] == "server_tool_use")
    assert start["content_block"]["input"] == {}
    deltas = [d["delta"] for n, d in pairs if n == "content_block_delta" and d["index"] == start["index"]]
    assert deltas == [{"type": "input_json_delta", "partial_json": '{"query":"rust async runtime"}'}]


def test_a_whole_message_puts_each_search_before_the_text() -> None:
    body = answer_to_message(Answer.fold(SEARCHES), "claude-sonnet-4-5")
    message = anthropic.types.Message.model_validate(body)
    kinds = ["server_tool_use", "web_search_tool_result"]
    assert [b.type for b in message.content] == [*kinds, *kinds, "text"]
    assert message.content[0].type == "server_tool_use" and message.content[0].input == {"query": "rust async runtime"}
    assert message.usage.server_tool_use and message.usage.server_tool_use.web_search_requests == 1


def test_a_stream_without_usage_keeps_the_estimate_and_ping_is_harmless() -> None:
    writer = MessagesStreamWriter("claude-haiku-4-5", input_tokens=12)
    pairs = [writer.ping(), *written([Begin("r", "m"), TextDelta("hi"), Finish("stop")], writer)]
    message = through_sdk(pairs)
    assert message.content[0].type == "text" and message.content[0].text == "hi"
    assert message.usage.input_tokens == 12 and message.stop_reason == "end_turn"
    assert writer.write(TextDelta("late")) == []


def test_a_seal_without_reasoning_text_is_its_own_thinking_block() -> None:
    message = through_sdk(
        written([Begin("r", "m"), TextDelta("a"), ReasoningSeal("S"), TextDelta("b"), Finish("stop")])
    )
    assert [(b.type, getattr(b, "signature", None)) for b in message.content] == [
        ("text", None),
        ("thinking", "S"),
        ("text", None),
    ]


@pytest.mark.parametrize(("status", "kind"), [(502, "api_error"), (503, "overloaded_error"), (529, "overloaded_error")])
def test_failure_mid_stream_is_an_error_event(status: int, kind: str) -> None:
    pairs = written([Begin("r", "m"), TextDelta("par"), Failure("upstream broke", status=status)])
    assert pairs[-1] == ("error", {"type": "error", "error": {"type": kind, "message": "upstream broke"}})
    raw = b"".join(sse(n, d) for n, d in pairs)
    assert raw.endswith(
        b'event: error\ndata: {"type":"error","error":{"type":"%s","message":"upstream broke"}}\n\n' % kind.encode()
    )


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (402, "billing_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (413, "request_too_large"),
        (422, "invalid_request_error"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (502, "api_error"),
        (503, "overloaded_error"),
        (504, "timeout_error"),
        (529, "overloaded_error"),
    ],
)
def test_error_body(status: int, kind: str) -> None:
    body = error_body(status, "why")
    assert body == {"type": "error", "error": {"type": kind, "message": "why"}}
    if status != 413:  # Anthropic's error docs list request_too_large for 413; the SDK's error types do not
        assert anthropic.types.ErrorResponse.model_validate(body).error.type == kind
