"""The wire layer, pure: the policy for fields a lane cannot carry, a received body's translation, and read speed.

Speed is tested by what it rests on (one decoder built once, pieces joined
once, the same mended text), never by timing: ``bench/bench_stream_read.py``
holds the ratios.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xai_oauth import MalformedResponse, UnsupportedParameter
from xai_oauth._config import Config
from xai_oauth._models import ModelChoice, parse_model
from xai_oauth.wire._answers import mend_text
from xai_oauth.wire._requests import (
    NO_INLINE_CITATIONS,
    FieldPolicy,
    build_request,
    request_from_chat_body,
    without_inline_citations,
)
from xai_oauth.wire._streams import ChatCompletionsStream, ResponsesStream, new_stream, read_event

CHAT = parse_model("xai/grok-4.3", signed_in=False)
MULTI = parse_model("xai-grok/grok-4.20-multi-agent-0309", signed_in=True)
ASK = [{"role": "user", "content": "hi"}]


def _build(choice: ModelChoice, params: dict[str, Any], policy: FieldPolicy = FieldPolicy.STRICT) -> dict[str, Any]:
    return build_request(choice, ASK, stream=False, thinking=None, params=params, policy=policy)


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ({"type": "function", "function": {"name": "f"}}, {"type": "function", "name": "f"}),
        ({"type": "function", "name": "f"}, {"type": "function", "name": "f"}),
        ("required", "required"),
    ],
)
def test_a_forced_function_goes_to_the_responses_lane_in_its_shape(given: Any, sent: Any) -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    assert _build(MULTI, {"tools": tools, "tool_choice": given})["tool_choice"] == sent
    assert _build(CHAT, {"tools": tools, "tool_choice": given})["tool_choice"] == given  # chat: as it is


class TestXaisOwnExtensions:
    def test_a_searching_responses_body_asks_for_no_inline_citations_once(self) -> None:
        body = {"input": "q", "tools": [{"type": "web_search"}], "include": ["reasoning.encrypted_content"]}
        asked = without_inline_citations(without_inline_citations(body))
        assert asked["include"] == ["reasoning.encrypted_content", NO_INLINE_CITATIONS]
        assert body["include"] == ["reasoning.encrypted_content"]  # the caller's body is left as it was
        plain = {"input": "q", "tools": [{"type": "function", "name": "f"}]}
        assert without_inline_citations(plain) is plain

    @pytest.mark.parametrize(
        ("base_url", "issuer", "api_key_reaches_xai"),
        [
            ("https://api.x.ai/v1", "https://auth.x.ai", True),
            ("https://openrouter.ai/api/v1", "https://auth.x.ai", False),  # a third-party gateway
            ("http://127.0.0.1:9/v1", "http://127.0.0.1:8/", True),  # the emulator's own API
            ("http://127.0.0.1:9/v1", "https://auth.x.ai", False),  # a local gateway beside a real sign-in
        ],
    )
    def test_only_xai_itself_gets_them(self, base_url: str, issuer: str, api_key_reaches_xai: bool) -> None:
        config = Config.from_env({"XAI_BASE_URL": base_url, "XAI_OAUTH_ISSUER": issuer})
        assert config.reaches_xai("api_key") is api_key_reaches_xai
        assert config.reaches_xai("subscription")  # its bearer goes to xAI's hosts only


class TestFieldPolicy:
    @pytest.mark.parametrize(
        ("choice", "field"),
        [(CHAT, "store"), (CHAT, "metadata"), (CHAT, "service_tier"), (MULTI, "stream_options"), (MULTI, "seed")],
    )
    def test_strict_is_the_default_and_refuses_every_field_the_lane_cannot_carry(
        self, choice: ModelChoice, field: str
    ) -> None:
        with pytest.raises(UnsupportedParameter) as caught:
            _build(choice, {field: "x"})
        assert caught.value.details["parameter"] == field

    @pytest.mark.parametrize(
        ("choice", "field"),
        [
            (CHAT, "store"),
            (CHAT, "metadata"),
            (CHAT, "service_tier"),
            (CHAT, "prompt_cache_key"),
            (MULTI, "stream_options"),
        ],
    )
    def test_lenient_drops_fields_with_no_meaning_for_xai_and_says_so_at_debug(
        self, choice: ModelChoice, field: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.DEBUG, logger="xai_oauth"):
            body = _build(choice, {field: "SECRET-VALUE", "temperature": 0.5}, FieldPolicy.LENIENT)
        assert field not in body and body["temperature"] == 0.5
        assert [r.name for r in caplog.records] == ["xai_oauth"]
        assert field in caplog.text and "SECRET-VALUE" not in caplog.text  # names, never values

    @pytest.mark.parametrize(
        ("choice", "field"),
        [(CHAT, "logit_bias"), (CHAT, "max_tool_calls"), (MULTI, "seed"), (MULTI, "presence_penalty")],
    )
    def test_lenient_still_refuses_fields_that_would_change_the_answer(self, choice: ModelChoice, field: str) -> None:
        with pytest.raises(UnsupportedParameter) as caught:
            _build(choice, {field: 1, "store": True, "service_tier": "auto"}, FieldPolicy.LENIENT)
        assert caught.value.details["parameter"] == field

    def test_lenient_keeps_what_the_lane_takes(self) -> None:
        assert _build(MULTI, {"store": True, "metadata": {"a": "b"}}, FieldPolicy.LENIENT)["metadata"] == {"a": "b"}
        assert _build(CHAT, {"user": "u"}, FieldPolicy.LENIENT) == _build(CHAT, {"user": "u"})


class TestReceivedBody:
    def test_a_chat_body_for_the_responses_lane(self) -> None:
        received = {
            "model": "grok-4.20-multi-agent-0309",
            "messages": ASK,
            "stream": True,
            "reasoning_effort": "high",
            "max_tokens": 50,
            "service_tier": "auto",
        }
        body = request_from_chat_body(MULTI, received, policy=FieldPolicy.LENIENT)
        assert body == {
            "model": "grok-4.20-multi-agent-0309",
            "input": [{"role": "user", "content": "hi"}],
            "max_output_tokens": 50,
            "reasoning": {"effort": "high"},
            "stream": True,
        }
        with pytest.raises(UnsupportedParameter):
            request_from_chat_body(MULTI, received)  # strict by default

    def test_a_chat_body_for_the_chat_lane_is_what_chat_would_send(self) -> None:
        received = {"model": "xai/grok-4.3", "messages": ASK, "temperature": 0.1, "reasoning_effort": "low"}
        expected = build_request(CHAT, ASK, stream=False, thinking="low", params={"temperature": 0.1})
        assert request_from_chat_body(CHAT, received) == expected


def _chat_delta(text: str) -> str:
    return json.dumps({"choices": [{"index": 0, "delta": {"content": text}}]})


class TestReadSpeedRestsOn:
    def test_no_decoder_is_built_per_event(self, monkeypatch: pytest.MonkeyPatch) -> None:
        built = []
        real_init = json.JSONDecoder.__init__

        def counting_init(self: json.JSONDecoder, *args: Any, **kwargs: Any) -> None:
            built.append(1)
            real_init(self, *args, **kwargs)

        monkeypatch.setattr(json.JSONDecoder, "__init__", counting_init)
        chat, responses = ChatCompletionsStream(CHAT), ResponsesStream(MULTI)
        for i in range(1000):
            chat.feed("", _chat_delta(f"w{i} "))
            responses.feed("", json.dumps({"type": "response.output_text.delta", "delta": f"w{i} "}))
        chat.feed("", "[DONE]")
        responses.feed("", json.dumps({"type": "response.completed", "response": {"usage": {}}}))
        assert chat.result()["content"] == responses.result()["content"] == "".join(f"w{i} " for i in range(1000))
        assert built == []  # the one strict decoder was built when the module was imported

    @pytest.mark.parametrize(
        "data", ['{"x": NaN}', '{"x": Infinity}', '{"x": -Infinity}', '{"x": 1e400}', "[1]", '"s"', "{", "[" * 100_000]
    )
    def test_the_one_decoder_is_still_strict(self, data: str) -> None:
        with pytest.raises(MalformedResponse):
            read_event(data)
        with pytest.raises(MalformedResponse):
            new_stream(CHAT).feed("", data)

    def test_tool_call_arguments_from_20k_pieces(self) -> None:
        reader = ChatCompletionsStream(CHAT)
        pieces = [f'{{"n": {i}}},' for i in range(20_000)]
        first = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "write_", "arguments": ""}}
        reader.feed("", json.dumps({"choices": [{"index": 0, "delta": {"tool_calls": [first]}}]}))
        second = {"index": 1, "id": "call_2", "function": {"name": "other", "arguments": "{}"}}
        reader.feed("", json.dumps({"choices": [{"index": 0, "delta": {"tool_calls": [second]}}]}))
        for piece in pieces:
            call = {"index": 0, "function": {"name": "file" if piece == pieces[0] else None, "arguments": piece}}
            reader.feed("", json.dumps({"choices": [{"index": 0, "delta": {"tool_calls": [call]}}]}))
        reader.feed("", json.dumps({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}))
        reader.feed("", "[DONE]")
        calls = reader.result()["tool_calls"]
        assert calls == [
            {"id": "call_1", "type": "function", "function": {"name": "write_file", "arguments": "".join(pieces)}},
            {"id": "call_2", "type": "function", "function": {"name": "other", "arguments": "{}"}},
        ]
        assert reader.result()["tool_calls"] == calls  # reading the result twice gives the same answer


def _mend_text_as_it_was(text: str) -> str:
    """The per-character scan ``mend_text`` replaced: the reference its fast path must agree with."""
    if not any("\ud800" <= ch <= "\udfff" for ch in text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


SURROGATES = st.sampled_from(["\ud83d", "\ude00", "\udbff", "\udc00", "\ud800\udc00", "\ud83d\ude00"])
ANY_TEXT = st.lists(st.text(alphabet=st.characters(blacklist_categories=())) | SURROGATES, max_size=12).map("".join)


@settings(max_examples=500, deadline=None)
@given(ANY_TEXT)
def test_mend_text_gives_what_the_per_character_scan_gave(text: str) -> None:
    mended = mend_text(text)
    assert mended == _mend_text_as_it_was(text)
    mended.encode("utf-8")  # always printable and savable


def test_mend_text_returns_clean_text_itself() -> None:
    for text in ("plain", "héllo wörld 😀", ""):
        assert mend_text(text) is text
    assert mend_text("a\ud83d") == "a\ufffd" and mend_text("\ud83d\ude00") == "😀"


def test_model_choice_acts_as_a_frozen_value() -> None:
    one, same = parse_model("xai/grok-4.3", signed_in=True), ModelChoice("grok-4.3", "api_key", "chat_completions")
    assert one == same and hash(one) == hash(same) and one != parse_model("grok-4.3", signed_in=True)
    assert repr(one) == "ModelChoice(model_id='grok-4.3', credential='api_key', lane='chat_completions')"
    with pytest.raises(AttributeError):
        one.lane = "responses"  # type: ignore[misc]
    assert one.lane == "chat_completions"
