"""Tool round trips through ``xai-oauth serve`` with the real SDKs, and the emulator refusing what xAI refuses.

The emulator's tool-call convention (``xai_oauth/emulator/_tools.py``): ``[[call NAME {json}]]`` in the last
user message makes the model call NAME; tool results at the end make it answer ``Tool NAME said: ...``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from xai_oauth.emulator import Emulator
from xai_oauth.emulator._api import ApiRefusal, chat_completions, responses
from xai_oauth.emulator._authority import MODELS_BY_TIER

from .support.served import Served, signed_in_server

ALL = MODELS_BY_TIER[5]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}
#: a 1x1 transparent PNG
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="


@pytest.fixture
def served(emulator: Emulator, isolated_home: Path) -> Iterator[Served]:
    with signed_in_server(emulator) as running:
        yield running


def sdk(served: Served) -> openai.OpenAI:
    return served.keep(openai.OpenAI(base_url=served.base_url, api_key=served.key, max_retries=0))


def sent_to_emulator(emulator: Emulator) -> dict[str, Any]:
    """The body of the last text request that reached the emulator."""
    body: dict[str, Any] = emulator.api_requests[-1]["body"]
    return body


# -- the emulator alone: the convention and the refusals ------------------------------------------------------


def chat_body(content: str, **extra: Any) -> dict[str, Any]:
    return {"model": "grok-4.3", "messages": [{"role": "user", "content": content}], "tools": [WEATHER], **extra}


def test_a_marker_naming_a_tool_is_a_call_and_anything_else_is_text() -> None:
    whole = chat_completions(chat_body('weather? [[call get_weather {"city": "Paris"}]]'), ALL).whole
    choice = whole["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    (call,) = choice["message"]["tool_calls"]
    assert call["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert call["id"].startswith("call_")
    # a tool the request does not offer, or arguments that are not a JSON object: plain text
    for said in ("[[call get_time {}]]", "[[call get_weather [1]]]", "[[call get_weather {nope}]]"):
        assert chat_completions(chat_body(said), ALL).whole["choices"][0]["message"]["content"] == f"You said: {said}"


def test_streamed_calls_come_in_pieces_and_several_markers_are_parallel_calls() -> None:
    said = '[[call get_weather {"city": "Paris"}]] and [[call get_time]]'
    reply = chat_completions(chat_body(said, tools=[WEATHER, TIME]), ALL)
    chunks = [json.loads(data) for _, data in reply.events if data != "[DONE]"]
    pieces: dict[int, list[str]] = {}
    for chunk in chunks:
        for call in chunk["choices"][0]["delta"].get("tool_calls") or []:
            pieces.setdefault(call["index"], []).append(call["function"].get("arguments", ""))
    assert "".join(pieces[0]) == '{"city": "Paris"}' and len([p for p in pieces[0] if p]) > 1
    assert "".join(pieces[1]) == "{}"
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    names = [c["function"]["name"] for c in reply.whole["choices"][0]["message"]["tool_calls"]]
    assert names == ["get_weather", "get_time"]


def test_tool_results_are_answered_by_the_name_of_the_call() -> None:
    messages = [
        {"role": "user", "content": "[[call get_weather {}]]"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}},
                {"id": "c2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "noon"}]},
    ]
    body = {"model": "grok-4.3", "messages": messages, "tools": [WEATHER, TIME]}
    answer = chat_completions(body, ALL).whole["choices"][0]
    assert answer["message"]["content"] == "Tool get_weather said: sunny Tool get_time said: noon"
    assert answer["finish_reason"] == "stop"
    items = [
        {"role": "user", "content": "go"},
        {"type": "function_call", "call_id": "c9", "name": "get_weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c9", "output": "rain"},
    ]
    tools = [{"type": "function", "name": "get_weather"}]
    answered = responses({"model": "grok-4.3", "input": items, "tools": tools}, ALL).whole
    assert answered["output"][0]["content"][0]["text"] == "Tool get_weather said: rain"


def test_responses_calls_are_function_call_items_whole_and_streamed() -> None:
    tools = [{"type": "function", "name": "get_weather", "parameters": {}}]
    reply = responses({"model": "grok-4.3", "input": '[[call get_weather {"city": "Oslo"}]]', "tools": tools}, ALL)
    (item,) = reply.whole["output"]
    assert item["type"] == "function_call" and item["name"] == "get_weather"
    assert item["arguments"] == '{"city": "Oslo"}' and item["call_id"].startswith("call_")
    kinds = [name for name, _ in reply.events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    deltas = [json.loads(d)["delta"] for name, d in reply.events if name == "response.function_call_arguments.delta"]
    assert len(deltas) > 1 and "".join(deltas) == item["arguments"]


@pytest.mark.parametrize(
    ("lane", "body", "named"),
    [
        (chat_completions, chat_body("hi", frobnicate=1), "frobnicate"),
        (chat_completions, chat_body("hi", tools=[{"type": "web_search"}]), "web_search"),
        (chat_completions, chat_body("hi", messages=[{"role": "user", "content": [{"type": "audio"}]}]), "audio"),
        (responses, {"model": "grok-4.3", "input": "hi", "frobnicate": 1}, "frobnicate"),
        (responses, {"model": "grok-4.3", "input": "hi", "tools": [{"type": "computer_use"}]}, "computer_use"),
        (responses, {"model": "grok-4.3", "input": [{"type": "item_reference", "id": "x"}]}, "item_reference"),
        (responses, {"model": "grok-4.3", "input": [{"role": "user", "content": [{"type": "input_audio"}]}]}, "audio"),
    ],
)
def test_the_emulator_refuses_what_xai_refuses(lane: Any, body: dict[str, Any], named: str) -> None:
    with pytest.raises(ApiRefusal) as refused:
        lane(body, ALL)
    assert refused.value.status == 400
    assert refused.value.body["code"] == "Client specified an invalid argument" and named in refused.value.body["error"]


# -- through the server, with the real SDKs -------------------------------------------------------------------


def test_openai_chat_tool_round_trip_whole_and_streamed(served: Served, emulator: Emulator) -> None:
    client = sdk(served)
    asked = [{"role": "user", "content": 'weather? [[call get_weather {"city": "Paris"}]]'}]
    first = client.chat.completions.create(model="grok-4.3", messages=asked, tools=[WEATHER])
    assert first.choices[0].finish_reason == "tool_calls"
    (call,) = first.choices[0].message.tool_calls or []
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Paris"}
    turn = [
        *asked,
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"},
    ]
    final = client.chat.completions.create(model="grok-4.3", messages=turn, tools=[WEATHER])
    assert final.choices[0].message.content == "Tool get_weather said: sunny, 21 C"
    assert final.choices[0].finish_reason == "stop"
    # the tool message reached xAI's chat lane as a tool message with its call id
    assert sent_to_emulator(emulator)["messages"][-1] == {
        "role": "tool",
        "tool_call_id": call.id,
        "content": "sunny, 21 C",
    }

    stream = client.chat.completions.create(model="grok-4.3", messages=asked, tools=[WEATHER], stream=True)
    chunks = list(stream)
    deltas = [c for chunk in chunks for c in (chunk.choices[0].delta.tool_calls or []) if chunk.choices]
    arguments = "".join(d.function.arguments or "" for d in deltas if d.function)
    assert json.loads(arguments) == {"city": "Paris"} and len(deltas) > 2  # opened, then arguments in pieces
    assert deltas[0].id and deltas[0].function and deltas[0].function.name == "get_weather"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"


def test_openai_chat_parallel_calls(served: Served) -> None:
    said = '[[call get_weather {"city": "Rome"}]] [[call get_time {}]]'
    answer = sdk(served).chat.completions.create(
        model="grok-4.3",
        messages=[{"role": "user", "content": said}],
        tools=[WEATHER, TIME],
        parallel_tool_calls=True,
    )
    calls = answer.choices[0].message.tool_calls or []
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]
    assert len({c.id for c in calls}) == 2


def test_openai_responses_tool_round_trip_whole_and_streamed(served: Served, emulator: Emulator) -> None:
    client = sdk(served)
    tools = [{"type": "function", "name": "get_weather", "parameters": WEATHER["function"]["parameters"]}]
    asked = [{"role": "user", "content": '[[call get_weather {"city": "Oslo"}]]'}]
    first = client.responses.create(model="grok-4.3", input=asked, tools=tools)
    (call,) = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Oslo"}
    turn = [
        *asked,
        {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.call_id, "output": "snow"},
    ]
    final = client.responses.create(model="grok-4.3", input=turn, tools=tools)
    assert final.output_text == "Tool get_weather said: snow"
    # on a multi-agent model (xAI's Responses lane) the items reach the emulator as Responses items
    multi = client.responses.create(model="grok-4.20-multi-agent-0309", input=turn, tools=tools)
    assert multi.output_text == "Tool get_weather said: snow"
    kinds = [item.get("type") for item in sent_to_emulator(emulator)["input"]]
    assert kinds[-2:] == ["function_call", "function_call_output"]

    with client.responses.stream(model="grok-4.3", input=asked, tools=tools) as stream:
        events = list(stream)
        done = stream.get_final_response()
    deltas = [e.delta for e in events if e.type == "response.function_call_arguments.delta"]
    assert json.loads("".join(deltas)) == {"city": "Oslo"}
    assert any(e.type == "response.output_item.added" and e.item.type == "function_call" for e in events)
    (streamed,) = [item for item in done.output if item.type == "function_call"]
    assert streamed.name == "get_weather" and streamed.call_id


def tool_turns(client: anthropic.Anthropic, result: dict[str, Any], *, stream: bool) -> str:
    """Ask for a call, answer it with ``result`` (a tool_result's fields), and return the final text."""
    tools = [{"name": "get_weather", "description": "weather", "input_schema": WEATHER["function"]["parameters"]}]
    asked = [{"role": "user", "content": '[[call get_weather {"city": "Lima"}]]'}]
    if stream:
        with client.messages.stream(model="grok-4.3", max_tokens=200, messages=asked, tools=tools) as events:
            first = events.get_final_message()
    else:
        first = client.messages.create(model="grok-4.3", max_tokens=200, messages=asked, tools=tools)
    assert first.stop_reason == "tool_use"
    (use,) = [block for block in first.content if block.type == "tool_use"]
    assert use.name == "get_weather" and use.input == {"city": "Lima"} and use.id
    turn = [
        *asked,
        {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, **result}]},
    ]
    final = client.messages.create(model="grok-4.3", max_tokens=200, messages=turn, tools=tools)
    assert final.stop_reason == "end_turn"
    return "".join(block.text for block in final.content if block.type == "text")


def test_anthropic_tool_use_round_trip_whole_and_streamed(served: Served) -> None:
    client = served.keep(anthropic.Anthropic(base_url=served.origin, api_key=served.key, max_retries=0))
    assert tool_turns(client, {"content": "warm"}, stream=False) == "Tool get_weather said: warm"
    assert tool_turns(client, {"content": "warm"}, stream=True) == "Tool get_weather said: warm"
    blocks = {"content": [{"type": "text", "text": "no such"}, {"type": "text", "text": "city"}], "is_error": True}
    said = tool_turns(client, blocks, stream=False)
    assert said.startswith("Tool get_weather said: Error:") and "no such" in said and "city" in said


def test_anthropic_image_blocks_reach_the_emulator_as_image_parts(served: Served, emulator: Emulator) -> None:
    client = served.keep(anthropic.Anthropic(base_url=served.origin, api_key=served.key, max_retries=0))
    content = [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
        {"type": "text", "text": "what are these?"},
    ]
    message = client.messages.create(
        model="grok-4.3",
        max_tokens=50,
        messages=[{"role": "user", "content": content}],
    )
    assert message.content[0].text == "You said: what are these?"
    parts = sent_to_emulator(emulator)["messages"][-1]["content"]
    images = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
    assert images == [f"data:image/png;base64,{PNG}", "https://example.com/cat.png"]


def test_a_field_the_server_cannot_carry_is_a_clear_400_in_the_clients_shape(
    served: Served, emulator: Emulator
) -> None:
    client = sdk(served)
    before = len(emulator.api_requests)
    with pytest.raises(openai.BadRequestError) as chat:
        client.chat.completions.create(
            model="grok-4.3", messages=[{"role": "user", "content": "hi"}], extra_body={"frobnicate": 1}
        )
    assert "frobnicate" in chat.value.message and chat.value.status_code == 400
    with pytest.raises(openai.BadRequestError) as answer:
        client.responses.create(model="grok-4.3", input="hi", extra_body={"frobnicate": 1})
    assert "frobnicate" in answer.value.message
    body = answer.value.body
    assert isinstance(body, dict) and {"message", "type", "code"} <= set(body)
    assert len(emulator.api_requests) == before  # refused by the server, before anything went upstream


# -- search ---------------------------------------------------------------------------------------------------


def test_anthropic_web_search_shows_the_query_xai_ran_and_what_it_found_whole_and_streamed(
    served: Served, emulator: Emulator
) -> None:
    client = served.keep(anthropic.Anthropic(base_url=served.origin, api_key=served.key, max_retries=0))
    asked: list[Any] = [{"role": "user", "content": "who makes grok?"}]
    search = {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}
    whole = client.messages.create(model="grok-4.3", max_tokens=200, messages=asked, tools=[search])
    with client.messages.stream(model="grok-4.3", max_tokens=200, messages=asked, tools=[search]) as events:
        streamed = events.get_final_message()
    sent = sent_to_emulator(emulator)
    assert sent["tools"] == [{"type": "web_search"}]  # on /responses, as xAI's search
    assert sent["include"] == ["no_inline_citations"]  # the text without inline citation marks, as the Grok CLI asks
    for message in (whole, streamed):
        assert [b.type for b in message.content] == ["server_tool_use", "web_search_tool_result", "text"]
        use, found, text = message.content
        assert use.type == "server_tool_use" and use.input == {"query": "who makes grok?"}
        assert found.type == "web_search_tool_result" and isinstance(found.content, list)
        assert [(r.url, r.title) for r in found.content] == [("https://docs.x.ai/docs/overview", "xAI documentation")]
        assert text.type == "text" and text.text == "Searched the web for: who makes grok?"
        assert text.citations and text.citations[0].url == "https://docs.x.ai/docs/overview"
        assert message.usage.server_tool_use and message.usage.server_tool_use.web_search_requests == 1
    # the next turn carries the search blocks back, as Claude Code does: accepted, and the answer goes on
    turn = [
        *asked,
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in streamed.content]},
        {"role": "user", "content": "thanks"},
    ]
    again = client.messages.create(model="grok-4.3", max_tokens=200, messages=turn, tools=[search])
    assert again.content[-1].type == "text" and again.content[-1].text == "Searched the web for: thanks"


def test_openai_responses_web_search_is_a_web_search_call_item_whole_and_streamed(
    served: Served, emulator: Emulator
) -> None:
    client = sdk(served)
    whole = client.responses.create(model="grok-4.3", input="who makes grok?", tools=[{"type": "web_search"}])
    with client.responses.stream(model="grok-4.3", input="who makes grok?", tools=[{"type": "web_search"}]) as s:
        streamed = s.get_final_response()
    for response in (whole, streamed):
        call, message = response.output
        assert call.type == "web_search_call" and call.status == "completed"
        assert call.action.type == "search" and call.action.query == "who makes grok?"
        assert call.action.sources and call.action.sources[0].url == "https://docs.x.ai/docs/overview"
        assert message.type == "message" and response.output_text == "Searched the web for: who makes grok?"
    assert sent_to_emulator(emulator)["include"] == ["no_inline_citations"]


def test_a_forced_tool_reaches_the_responses_lane_in_that_lane_s_shape(served: Served, emulator: Emulator) -> None:
    # Claude Code with thinking goes to /responses, where a forced function is {"type": "function", "name"}
    # (as xAI's Grok CLI sends it), not chat completions' {"type": "function", "function": {"name"}}
    client = served.keep(anthropic.Anthropic(base_url=served.origin, api_key=served.key, max_retries=0))
    tools = [{"name": "get_weather", "description": "weather", "input_schema": WEATHER["function"]["parameters"]}]
    message = client.messages.create(
        model="grok-4.3",
        max_tokens=4000,
        thinking={"type": "enabled", "budget_tokens": 2048},
        tools=tools,
        tool_choice={"type": "tool", "name": "get_weather"},
        messages=[{"role": "user", "content": '[[call get_weather {"city": "Lima"}]]'}],
    )
    assert message.stop_reason == "tool_use"
    assert emulator.api_requests[-1]["path"].endswith("/responses")
    assert sent_to_emulator(emulator)["tool_choice"] == {"type": "function", "name": "get_weather"}
