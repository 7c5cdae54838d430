"""The step before a Responses request goes to xAI as it is, the placing of kept reasoning, the emulator's seal."""

from __future__ import annotations

import copy
import json
import logging
from typing import Any

import pytest

from xai_oauth._exceptions import UnsupportedParameter
from xai_oauth.emulator._api import responses
from xai_oauth.emulator._authority import MODELS_BY_TIER
from xai_oauth.emulator._reasoning import seal
from xai_oauth.wire._anthropic import messages_to_chat
from xai_oauth.wire._openai_requests import DROPPED, Policy, responses_to_chat
from xai_oauth.wire._responses_policy import KEPT, place_reasoning, responses_for_xai

from .test_wire_openai import CODEX_REQUEST

ALL = MODELS_BY_TIER[5]


# -- responses_for_xai ---------------------------------------------------------------------------------------


def test_a_codex_request_goes_as_it_is_but_for_what_xai_cannot_take(caplog: pytest.LogCaptureFixture) -> None:
    before = copy.deepcopy(CODEX_REQUEST)
    with caplog.at_level(logging.DEBUG, logger="xai_oauth.wire"):
        passed = responses_for_xai(CODEX_REQUEST)
    body = passed.body
    assert CODEX_REQUEST == before  # the client's request is left alone
    # the reasoning item, with its encrypted_content, is untouched; so are the other items but the namespaced call
    assert body["input"][1] == {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "blob"}
    assert body["input"][:4] == CODEX_REQUEST["input"][:4] and body["input"][5:] == CODEX_REQUEST["input"][5:]
    assert body["input"][4] == {"type": "function_call", "call_id": "c2", "name": "mcp__search", "arguments": "{}"}
    assert body["tools"] == [
        CODEX_REQUEST["tools"][0],
        {"type": "web_search"},
        {"type": "function", "name": "mcp__search"},
    ]
    assert passed.namespaces == {"mcp__search": ("mcp", "search")}
    assert body["reasoning"] == {"effort": "high"}  # summary: xAI decides what reasoning it shows
    assert body["include"] == ["reasoning.encrypted_content"] and body["store"] is False and body["stream"] is True
    assert body["text"] == CODEX_REQUEST["text"] and body["instructions"] == "You are Codex."
    assert body["max_output_tokens"] == 500 and body["tool_choice"] == "auto"
    for gone in ("client_metadata", "prompt_cache_key"):
        assert gone not in body
    assert "client_metadata" in caplog.text and "reasoning.summary" in caplog.text


def test_the_emulator_takes_what_the_policy_sends() -> None:
    body = {**responses_for_xai(CODEX_REQUEST).body, "text": {"format": {"type": "text"}}}
    assert responses(body, ALL).whole["status"] == "completed"


@pytest.mark.parametrize("key", sorted(set(DROPPED) - KEPT - {"reasoning.summary", "text.verbosity"}))
def test_dropped_fields_go_unless_the_policy_refuses_them(key: str) -> None:
    request = {"model": "m", "input": "hi", key: {"a": 1}}
    assert key not in responses_for_xai(request).body
    with pytest.raises(UnsupportedParameter, match=key):
        responses_for_xai(request, policy=Policy(drop=False))


def test_stream_is_forced_and_verbosity_and_effort_none_go() -> None:
    body = responses_for_xai(
        {"model": "m", "input": "hi", "reasoning": {"effort": "none"}, "text": {"verbosity": "low"}}
    ).body
    assert body == {"model": "m", "input": "hi", "stream": True}
    assert responses_for_xai({"model": "m", "input": "hi", "reasoning": {"effort": "minimal"}}).body["reasoning"] == {
        "effort": "low"
    }


@pytest.mark.parametrize(
    "extra",
    [{"previous_response_id": "resp_1"}, {"store": True}, {"background": True}, {"conversation": "c"}],
)
def test_stateful_requests_are_refused_in_the_same_words_as_the_chat_translation(extra: dict[str, Any]) -> None:
    request = {"model": "m", "input": "hi", **extra}
    with pytest.raises(UnsupportedParameter) as passed:
        responses_for_xai(request)
    with pytest.raises(UnsupportedParameter) as translated:
        responses_to_chat(request)
    assert str(passed.value) == str(translated.value) and passed.value.action == translated.value.action


@pytest.mark.parametrize(
    ("request_", "named"),
    [
        ({"model": "m", "input": "hi", "frobnicate": 1}, "frobnicate"),
        ({"model": "m", "input": "hi", "tools": [{"type": "computer_use_preview"}]}, "computer_use_preview"),
        (
            {"model": "m", "input": "hi", "tools": [{"type": "namespace", "name": "n", "tools": [{"type": "x"}]}]},
            "only",
        ),
        ({"model": "m", "input": [{"type": "item_reference", "id": "msg_1"}]}, "item_reference"),
        ({"model": "m", "input": "hi", "reasoning": {"effort": "max"}}, "max"),
    ],
)
def test_what_cannot_go_is_refused(request_: dict[str, Any], named: str) -> None:
    with pytest.raises(UnsupportedParameter, match=named):
        responses_for_xai(request_)


def test_search_tools_become_xais_once() -> None:
    tools = [{"type": "web_search"}, {"type": "web_search_preview"}, {"type": "x_search"}]
    body = responses_for_xai({"model": "m", "input": "hi", "tools": tools}).body
    assert body["tools"] == [{"type": "web_search"}, {"type": "x_search"}]


# -- place_reasoning and keeps_reasoning -------------------------------------------------------------------------


def test_kept_reasoning_goes_before_the_items_its_message_became() -> None:
    messages = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "u"},
        {"role": "assistant", "content": "t", "tool_calls": [{"id": "c", "function": {"name": "f"}}]},
        {"role": "tool", "tool_call_id": "c", "content": "r"},
        {"role": "assistant", "content": "done"},
    ]
    built = ["sys", "user", "text", "call", "result", "done"]  # the assistant with a call became two items
    first, second, third = ({"type": "reasoning", "encrypted_content": n} for n in ("A", "B", "C"))
    body = place_reasoning({"input": built, "include": ["x"]}, messages, [(2, first), (2, second), (4, third)])
    assert body["input"] == ["sys", "user", first, second, "text", "call", "result", third, "done"]
    assert body["include"] == ["x", "reasoning.encrypted_content"]
    assert place_reasoning({"input": ["u"]}, messages[1:2], [])["input"] == ["u"]


def test_anthropic_thinking_keeps_reasoning_unless_stop_sequences_hold_it_on_chat() -> None:
    signed = {
        "model": "m",
        "max_tokens": 10,
        "messages": [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "S"}]},
            {"role": "user", "content": "b"},
        ],
    }
    assert messages_to_chat(signed, policy="lenient").keeps_reasoning
    asked = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "a"}]}
    assert not messages_to_chat(asked, policy="lenient").keeps_reasoning
    thinking = {**asked, "thinking": {"type": "enabled", "budget_tokens": 2000}}
    assert messages_to_chat(thinking, policy="lenient").keeps_reasoning
    assert not messages_to_chat({**signed, "stop_sequences": ["END"]}, policy="lenient").keeps_reasoning


# -- the emulator's sealed reasoning -------------------------------------------------------------------------


def test_the_emulator_seals_reasoning_when_include_asks_and_reads_it_back() -> None:
    plain = responses({"model": "grok-4.3", "input": "first"}, ALL).whole
    assert [item["type"] for item in plain["output"]] == ["message"]
    asked = {"model": "grok-4.3", "input": "first", "include": ["reasoning.encrypted_content"]}
    reply = responses(asked, ALL)
    reasoning, message = reply.whole["output"]
    assert reasoning["type"] == "reasoning" and reasoning["encrypted_content"] == seal("first")
    assert reasoning["summary"] == [{"type": "summary_text", "text": "Thinking about: first"}]
    events = [json.loads(data) for _, data in reply.events]
    done = [e for e in events if e["type"] == "response.output_item.done"]
    assert [(e["output_index"], e["item"]["type"]) for e in done] == [(0, "reasoning"), (1, "message")]
    assert all(e.get("output_index", 1) == 1 for e in events if e["type"].startswith("response.output_text"))

    turn = [{"role": "user", "content": "first"}, reasoning, message, {"role": "user", "content": "second"}]
    again = responses({"model": "grok-4.3", "input": turn}, ALL).whole["output"][0]["content"][0]["text"]
    assert again == "You said: second (continuing reasoning about: first)"
    cut = [{**reasoning, "encrypted_content": reasoning["encrypted_content"][:-4]}, *turn[2:]]
    said = responses({"model": "grok-4.3", "input": cut}, ALL).whole["output"][0]["content"][0]["text"]
    assert said == "You said: second (reasoning it could not read)"
