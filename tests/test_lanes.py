"""The lane router, pure: prefixes, request translation, answer shapes, stream readers, the error table."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from xai_oauth import (
    ApiKeyRejected,
    IncompleteStream,
    ModelNotFound,
    RateLimited,
    ReauthRequired,
    RequestRejected,
    ServerError,
    TierDenied,
    UnsupportedParameter,
)
from xai_oauth._config import Config
from xai_oauth._models import parse_model
from xai_oauth._settings import read_env_file
from xai_oauth.transport._api_errors import api_error
from xai_oauth.wire._answers import read_answer
from xai_oauth.wire._requests import build_request
from xai_oauth.wire._streams import ChatCompletionsStream, ResponsesStream

MULTI = "grok-4.20-multi-agent-0309"


class TestPrefixes:
    @pytest.mark.parametrize(
        ("model", "signed_in", "credential", "model_id"),
        [
            ("xai-grok/grok-4.3", False, "subscription", "grok-4.3"),
            ("xai/grok-4.3", True, "api_key", "grok-4.3"),
            ("grok-4.3", True, "subscription", "grok-4.3"),
            ("grok-4.3", False, "api_key", "grok-4.3"),
        ],
    )
    def test_prefix_picks_the_credential(self, model: str, signed_in: bool, credential: str, model_id: str) -> None:
        choice = parse_model(model, signed_in=signed_in)
        assert (choice.credential, choice.model_id, choice.lane) == (credential, model_id, "chat_completions")

    def test_multi_agent_models_take_the_responses_lane(self) -> None:
        choice = parse_model(f"xai-grok/{MULTI}", signed_in=True)
        assert choice.lane == "responses" and choice.path == "/responses" and choice.display_id == f"xai-grok/{MULTI}"


class TestRequests:
    def test_chat_lane_passes_messages_and_params_unchanged(self) -> None:
        messages = [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
        body = build_request(
            parse_model("xai/grok-4.3", signed_in=False),
            messages,
            stream=True,
            thinking={"effort": "low"},
            params={"temperature": 0.2, "stop": ["x"]},
        )
        assert body == {
            "model": "grok-4.3",
            "messages": messages,
            "temperature": 0.2,
            "stop": ["x"],
            "reasoning_effort": "low",
            "stream": True,
            "stream_options": {"include_usage": True},
        }

    def test_responses_lane_translates_messages_effort_and_limits(self) -> None:
        messages = [
            {"role": "system", "content": "be brief"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image_url", "image_url": {"url": "https://i/x.png", "detail": "high"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "42"},
            {"role": "assistant", "content": [{"type": "text", "text": "so"}]},
        ]
        tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
        body = build_request(
            parse_model(f"xai-grok/{MULTI}", signed_in=True),
            messages,
            stream=False,
            thinking={"effort": "high"},
            params={"max_tokens": 99, "tools": tools, "response_format": {"type": "json_object"}},
        )
        assert body == {
            "model": MULTI,
            "input": [
                {"role": "system", "content": "be brief"},
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "look"},
                        {"type": "input_image", "image_url": "https://i/x.png", "detail": "high"},
                    ],
                },
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1", "output": "42"},
                {"role": "assistant", "content": [{"type": "output_text", "text": "so"}]},
            ],
            "max_output_tokens": 99,
            "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
            "text": {"format": {"type": "json_object"}},
            "reasoning": {"effort": "high"},
        }

    @pytest.mark.parametrize(
        ("model", "param"),
        [
            (f"xai-grok/{MULTI}", "stop"),
            (f"xai-grok/{MULTI}", "seed"),
            ("xai-grok/grok-4.3", "logit_bias"),
            ("xai-grok/grok-4.3", "reasoning"),
        ],
    )
    def test_unsupported_parameters_are_refused_not_dropped(self, model: str, param: str) -> None:
        with pytest.raises(UnsupportedParameter) as caught:
            build_request(
                parse_model(model, signed_in=True),
                [{"role": "user", "content": "x"}],
                stream=False,
                thinking=None,
                params={param: 1},
            )
        assert caught.value.details["parameter"] == param and param in caught.value.message

    @pytest.mark.parametrize(
        ("messages", "thinking"),
        [
            ([], None),
            ("hi", None),
            ([{"role": "user", "content": "x"}], {"effort": "max"}),
            ([{"role": "robot", "content": "x"}], None),
        ],
    )
    def test_bad_messages_and_thinking_are_invalid_requests(self, messages: Any, thinking: Any) -> None:
        """The request itself is wrong (not a lane's limit): invalid_request, with an action about what to pass."""
        with pytest.raises(RequestRejected) as caught:
            build_request(
                parse_model(f"xai-grok/{MULTI}", signed_in=True), messages, stream=False, thinking=thinking, params={}
            )
        assert caught.value.code == "invalid_request" and "other lane" not in caught.value.action
        if thinking:
            assert '"low"' in caught.value.action and "high" in caught.value.action

    @pytest.mark.parametrize("model", ["xai-grok/grok-4.3", f"xai-grok/{MULTI}"])
    def test_several_answers_are_refused_not_merged(self, model: str) -> None:
        with pytest.raises(UnsupportedParameter) as caught:
            build_request(
                parse_model(model, signed_in=True),
                [{"role": "user", "content": "hi"}],
                stream=True,
                thinking=None,
                params={"n": 2},
            )
        assert caught.value.details["parameter"] == "n"


class TestAnswers:
    def test_one_shape_for_both_lanes(self) -> None:
        chat = read_answer(
            parse_model("xai-grok/grok-4.3", signed_in=True),
            {
                "choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
            },
        )
        resp = read_answer(
            parse_model(f"xai-grok/{MULTI}", signed_in=True),
            {
                "status": "completed",
                "output": [
                    {"type": "reasoning"},
                    {
                        "type": "message",
                        "content": [{"type": "output_text", "text": "h"}, {"type": "output_text", "text": "i"}],
                    },
                ],
                "usage": {
                    "input_tokens": 1,
                    "output_tokens": 2,
                    "total_tokens": 3,
                    "output_tokens_details": {"reasoning_tokens": 7},
                },
            },
        )
        assert set(chat) == set(resp) == {"model", "lane", "content", "finish_reason", "usage", "tool_calls"}
        assert chat["tool_calls"] == resp["tool_calls"] == []  # always there, so callers need no .get
        assert chat["content"] == resp["content"] == "hi" and chat["finish_reason"] == resp["finish_reason"] == "stop"
        assert resp["usage"] == {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3, "reasoning_tokens": 7}

    def test_responses_tool_calls_and_length(self) -> None:
        choice = parse_model(f"xai-grok/{MULTI}", signed_in=True)
        calls = read_answer(
            choice, {"output": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}]}
        )
        assert calls["finish_reason"] == "tool_calls" and calls["tool_calls"][0]["function"]["name"] == "f"
        cut = read_answer(choice, {"output": [], "incomplete_details": {"reason": "max_output_tokens"}})
        assert cut["finish_reason"] == "length"

    def test_an_empty_answer_says_to_ask_again_on_every_path(self) -> None:
        chat, multi = parse_model("xai-grok/grok-4.3", signed_in=True), parse_model(f"xai-grok/{MULTI}", signed_in=True)
        whole_chat = read_answer(chat, {"choices": [{"message": {"content": " "}, "finish_reason": "stop"}]})
        whole_resp = read_answer(multi, {"output": [{"type": "message", "content": []}]})
        streamed_chat = ChatCompletionsStream(chat)
        streamed_chat.feed("message", "[DONE]")
        streamed_resp = ResponsesStream(multi)
        streamed_resp.feed("response.completed", json.dumps({"type": "response.completed", "response": {}}))
        for answer in (whole_chat, whole_resp, streamed_chat.result(), streamed_resp.result()):
            assert "asking again" in answer["note"], answer
        said = read_answer(chat, {"choices": [{"message": {"content": "hi"}}]})
        called = read_answer(multi, {"output": [{"type": "function_call", "call_id": "c", "name": "f"}]})
        assert "note" not in said and "note" not in called  # text, or a tool call, is an answer

    def test_a_streamed_responses_answer_is_not_called_empty(self) -> None:
        reader = ResponsesStream(parse_model(f"xai-grok/{MULTI}", signed_in=True))
        reader.feed("", json.dumps({"type": "response.output_text.delta", "delta": "Hi"}))
        completed = {"type": "response.completed", "response": {"output": [{"type": "message", "content": []}]}}
        reader.feed("", json.dumps(completed))
        assert reader.result()["content"] == "Hi" and "note" not in reader.result()


class TestStreams:
    def test_chat_stream_collects_deltas_tool_calls_and_usage(self) -> None:
        reader = ChatCompletionsStream(parse_model("xai-grok/grok-4.3", signed_in=True))
        chunks = [
            {"choices": [{"delta": {"role": "assistant", "content": ""}}]},
            {"choices": [{"delta": {"content": "Hel"}}]},
            {"choices": [{"delta": {"content": "lo"}}]},
            {
                "choices": [
                    {"delta": {"tool_calls": [{"index": 0, "id": "c", "function": {"name": "f", "arguments": '{"a"'}}]}}
                ]
            },
            {
                "choices": [
                    {
                        "delta": {"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]},
                        "finish_reason": "tool_calls",
                    }
                ]
            },
            {"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}},
        ]
        deltas = [reader.feed("message", json.dumps(c)) for c in chunks]
        assert deltas == [None, "Hel", "lo", None, None, None]
        with pytest.raises(IncompleteStream):
            reader.result()  # no [DONE] yet
        reader.feed("message", "[DONE]")
        result = reader.result()
        assert result["content"] == "Hello" and result["finish_reason"] == "tool_calls"
        assert result["tool_calls"] == [
            {"id": "c", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
        ]
        assert result["usage"]["total_tokens"] == 3

    def test_responses_stream_needs_completed_and_fails_on_failed(self) -> None:
        choice = parse_model(f"xai-grok/{MULTI}", signed_in=True)
        reader = ResponsesStream(choice)
        assert reader.feed("response.created", json.dumps({"type": "response.created", "response": {}})) is None
        assert (
            reader.feed("response.output_text.delta", json.dumps({"type": "response.output_text.delta", "delta": "Hi"}))
            == "Hi"
        )
        with pytest.raises(IncompleteStream):
            reader.result()
        reader.feed(
            "response.completed",
            json.dumps({"type": "response.completed", "response": {"usage": {"output_tokens": 1}}}),
        )
        assert reader.result()["content"] == "Hi"
        with pytest.raises(ServerError):
            ResponsesStream(choice).feed(
                "response.failed", json.dumps({"type": "response.failed", "response": {"error": {"message": "boom"}}})
            )
        with pytest.raises(ServerError):
            ResponsesStream(choice).feed("error", json.dumps({"type": "error", "message": "overloaded"}))


class TestErrorTable:
    @pytest.mark.parametrize(
        ("status", "body", "credential", "error"),
        [
            (401, {}, "subscription", ReauthRequired),
            (403, {"code": "unauthenticated:bad-credentials"}, "subscription", ReauthRequired),
            (401, {}, "api_key", ApiKeyRejected),
            (403, {"code": "permission-denied:tier"}, "subscription", TierDenied),
            (404, {"code": "model_not_found"}, "subscription", ModelNotFound),
            (400, {"code": "model_not_found"}, "api_key", ModelNotFound),
            (429, {"code": "subscription:free-usage-exhausted"}, "subscription", RateLimited),
            (503, None, "subscription", ServerError),
            (400, {"error": "messages must not be empty"}, "subscription", RequestRejected),
        ],
    )
    def test_rows(self, status: int, body: Any, credential: str, error: type) -> None:
        exc = api_error(status, body, credential=credential, model="xai-grok/grok-4.3", retry_after=7)
        assert type(exc) is error and exc.details.get("http_status") == status and exc.action  # type: ignore[attr-defined]
        if error is RateLimited:
            assert exc.retry_after == 7 and "API key" in exc.action  # type: ignore[attr-defined]

    def test_server_text_is_scrubbed(self) -> None:
        leaked = "xai-" + "K" * 60
        exc = api_error(400, {"error": f"bad key {leaked}"}, credential="api_key", model="xai/grok-4.3")
        assert leaked not in str(exc) and "[redacted]" in str(exc)


class TestByokConfig:
    def test_env_file_in_cwd_then_home_and_env_wins(self, tmp_path: Any) -> None:
        home, cwd = tmp_path / "home", tmp_path / "cwd"
        home.mkdir()
        cwd.mkdir()
        (home / ".env.xai").write_text("XAI_API_KEY=from-home\nXAI_DEFAULT_MODEL=xai/grok-4.3\n")
        (cwd / ".env.xai").write_text(
            '# mine\nexport XAI_API_KEY="from-cwd"\nXAI_BASE_URL=http://127.0.0.1:9/v1 # local\nOTHER=x\n'
        )
        config = Config.from_env({"XAI_OAUTH_HOME": str(home)}, cwd=str(cwd))
        assert (config.api_key, config.base_url, config.default_model) == (
            "from-cwd",
            "https://api.x.ai/v1",  # a working-directory file never says where credentials go
            "xai/grok-4.3",
        )
        assert "XAI_BASE_URL" in config.notes[0]
        assert (
            Config.from_env({"XAI_OAUTH_HOME": str(home), "XAI_API_KEY": "from-env"}, cwd=str(cwd)).api_key
            == "from-env"
        )
        assert "from-" not in repr(config)
        assert read_env_file(str(tmp_path / "missing"), trusted=False) == {}

    def test_plain_http_api_off_loopback_is_refused(self) -> None:
        from xai_oauth import ConfigError

        with pytest.raises(ConfigError):
            Config.from_env({"XAI_BASE_URL": "http://gateway.example/v1"})


class TestEventStreamParsing:
    """Awkward but valid server-sent events, through the real client over httpx2.MockTransport."""

    @staticmethod
    def client(body: bytes, content_type: str = "text/event-stream") -> Any:
        import httpx2

        from xai_oauth import Client

        def handler(request: httpx2.Request) -> httpx2.Response:
            return httpx2.Response(200, headers={"content-type": content_type}, content=body)

        config = Config.from_env({"XAI_API_KEY": "k", "XAI_OAUTH_HOME": os.environ["XAI_OAUTH_HOME"]})
        return Client(config=config, transport=httpx2.MockTransport(handler))

    def test_comments_crlf_multiline_data_and_event_names(self) -> None:
        chunk = json.dumps({"choices": [{"delta": {"content": "two"}}]})
        body = (
            b": keep-alive\r\n\r\n"
            b'data: {"choices": [{"delta": {"content": "one "}}]}\r\n\r\n'
            + b"event: message\ndata: "
            + chunk[:10].encode()
            + b"\ndata: "
            + chunk[10:].encode()
            + b"\n\n"
            b": ping\n\n"
            b'data: {"choices": [{"delta": {}, "finish_reason": "stop"}]}\n\n'
            b"data: [DONE]\n\n"
        )
        stream = self.client(body).stream("xai/grok-4.3", "hi")
        assert list(stream) == ["one ", "two"]
        assert stream.result is not None and stream.result["content"] == "one two"

    def test_multiline_data_joins_with_a_newline(self) -> None:
        """Per the SSE spec two data lines are one payload joined by \\n, which JSON reads as whitespace."""
        body = b'data: {"choices":\ndata: [{"delta": {"content": "x"}}]}\n\ndata: [DONE]\n\n'
        assert list(self.client(body).stream("xai/grok-4.3", "hi")) == ["x"]

    def test_a_stream_without_done_is_incomplete(self) -> None:
        body = b'data: {"choices": [{"delta": {"content": "cut"}}]}\n\n'
        stream = self.client(body).stream("xai/grok-4.3", "hi")
        with pytest.raises(IncompleteStream):
            list(stream)

    def test_a_gateway_that_answers_whole_json_still_works(self) -> None:
        whole = json.dumps({"choices": [{"message": {"content": "whole"}, "finish_reason": "stop"}]}).encode()
        assert list(self.client(whole, "application/json").stream("xai/grok-4.3", "hi")) == ["whole"]

    def test_garbage_event_is_bad_response(self) -> None:
        from xai_oauth import MalformedResponse

        with pytest.raises(MalformedResponse):
            list(self.client(b"data: <html>\n\n").stream("xai/grok-4.3", "hi"))
