"""What a request body may hold: the one parser every route reads through, a property over every endpoint's body
(chat completions, Responses, Messages, count_tokens, images, videos, /admin) that no input is a 5xx, and the same
rules for what the library itself sends (a refusal naming the field, never ``internal``)."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx2
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from xai_oauth._exceptions import RequestRejected
from xai_oauth.emulator import Emulator
from xai_oauth.server._bodies import MAX_DEPTH, parse_json_body
from xai_oauth.wire._json_text import json_bytes

from .support.served import sign_in

T = TypeVar("T")


def nested(depth: int) -> bytes:
    """A body ``depth`` levels deep (the body itself is level 1)."""
    return ('{"a":' + "[" * (depth - 1) + "]" * (depth - 1) + "}").encode()


def refused(raw: bytes) -> str:
    with pytest.raises(RequestRejected) as caught:
        parse_json_body(raw)
    return caught.value.message


def test_nesting_is_bounded_at_max_depth_whatever_the_interpreters_stack() -> None:
    assert parse_json_body(nested(MAX_DEPTH))["a"] is not None
    assert f"deeper than {MAX_DEPTH} levels" in refused(nested(MAX_DEPTH + 1))
    assert f"deeper than {MAX_DEPTH} levels" in refused(("[" * 100_000 + "]" * 100_000).encode())
    assert f"deeper than {MAX_DEPTH} levels" in refused(b'{"x":' + b'{"a":' * 5000 + b"1" + b"}" * 5001)


def test_a_deep_fault_names_where_it_starts() -> None:
    message = refused(b'{"tools":[{"input_schema":' + b'{"a":' * 200 + b"1" + b"}" * 201 + b"]}")
    assert "tools[0].input_schema.a.a.a.a.a..." in message


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        (b'{"temperature": NaN}', "temperature is not a finite number"),
        (b'{"temperature": 1e999}', "temperature is not a finite number"),
        (b'{"top_p": -Infinity}', "top_p is not a finite number"),
        (b'{"messages": [{"content": "\\udc00"}]}', "messages[0].content is not text"),
        (b'{"messages": [{"content": ["ok", "a\\ud800b"]}]}', "messages[0].content[1] is not text"),
        (b'{"tools": [{"\\udc00": 1}]}', "tools[0] has a key that is not text"),
        (b'{"odd key\\n": {"x": "\\udfff"}}', '["odd key\\n"].x is not text'),
    ],
)
def test_what_no_encoder_could_write_back_is_refused_naming_the_field(raw: bytes, named: str) -> None:
    assert named in refused(raw)


def test_pairs_of_surrogates_and_real_text_pass() -> None:
    body = parse_json_body(b'{"t": "\\ud83d\\ude00 gr\\u00f6k \xe6\xa8\xa1", "n": 1e308, "i": 10}')
    assert body == {"t": "\U0001f600 grök 模", "n": 1e308, "i": 10}


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        (b"", "not JSON"),
        (b"{", "not JSON"),
        (b"[1]", "not a JSON object"),
        (b'"x"', "not a JSON object"),
        (b'{"a": "\xed\xb0\x80"}', "not UTF-8"),  # an encoded surrogate, which json.loads on bytes would pass
        (b'{"a": "\xff"}', "not UTF-8"),
    ],
)
def test_what_is_not_a_json_object_is_refused(raw: bytes, said: str) -> None:
    assert said in refused(raw)


def test_json_bytes_writes_what_httpx2_would_and_names_what_nobody_could() -> None:
    body = {"model": "grok-4.3", "messages": [{"role": "user", "content": "grök \U0001f600"}], "n": 1.5}
    assert json_bytes(body) == httpx2.Request("POST", "http://x", json=body).content
    with pytest.raises(RequestRejected) as nan:
        json_bytes({"temperature": float("nan")})
    assert "temperature is not a finite number" in nan.value.message
    with pytest.raises(RequestRejected) as surrogate:
        json_bytes({"input": [{"content": [{"text": "\udc00"}]}]})
    assert "input[0].content[0].text is not text" in surrogate.value.message


@pytest.mark.parametrize(
    ("call", "named"),
    [
        ({"messages": "a\udc00"}, "messages[0].content is not text"),
        ({"messages": "hi", "temperature": float("nan")}, "temperature is not a finite number"),
        ({"messages": "hi", "top_p": float("inf")}, "top_p is not a finite number"),
    ],
)
def test_chat_refuses_what_no_encoder_could_write_by_name_before_sending(
    emulator: Emulator, isolated_home: Path, monkeypatch: pytest.MonkeyPatch, call: dict[str, Any], named: str
) -> None:
    import exports

    for name, value in emulator.environ().items():
        monkeypatch.setenv(name, value)
    sign_in(emulator, dict(os.environ))
    result = exports.chat(**call)
    assert result["ok"] is False and result["error"] == "invalid_request", result
    assert named in result["message"]
    assert emulator.api_requests == []
    image = exports.image("a cat \udc00")
    assert image["error"] == "invalid_request" and "prompt is not text" in image["message"], image


# -- every endpoint's body, through the app, against the emulator ----------------------------------------------

CLIENT_KEY = "test-client-key-" + "c" * 24
ADMIN_KEY = "test-admin-key-" + "a" * 24
TOOL_SCHEMA = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
SEEDS: dict[str, list[dict[str, Any]]] = {
    "/v1/chat/completions": [
        {"model": "grok-4.3", "messages": [{"role": "user", "content": "hi"}]},
        {
            "model": "grok-4.3",
            "messages": [
                {"role": "system", "content": "be brief"},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "look"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                    ],
                },
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "done"},
            ],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": TOOL_SCHEMA}}],
            "tool_choice": "auto",
            "temperature": 0.5,
            "max_tokens": 20,
            "stop": ["\n\n"],
            "reasoning_effort": "low",
            "response_format": {"type": "text"},
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    ],
    "/v1/responses": [
        {"model": "grok-4.3", "input": "hi"},
        {
            "model": "grok-4.3",
            "instructions": "be brief",
            "input": [
                {"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
                {"type": "reasoning", "encrypted_content": "sealed", "summary": []},
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
                {"type": "function_call", "call_id": "c2", "namespace": "ns", "name": "g", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1", "output": "done"},
            ],
            "tools": [
                {"type": "function", "name": "f", "parameters": TOOL_SCHEMA},
                {
                    "type": "namespace",
                    "name": "ns",
                    "tools": [{"type": "function", "name": "g", "parameters": TOOL_SCHEMA}],
                },
                {"type": "web_search"},
            ],
            "reasoning": {"effort": "low", "summary": "auto"},
            "text": {"format": {"type": "text"}, "verbosity": "low"},
            "include": ["reasoning.encrypted_content"],
            "store": False,
            "prompt_cache_key": "conversation-1",
            "max_output_tokens": 50,
            "stream": True,
        },
    ],
    "/v1/messages": [
        {
            "model": "grok-4.3",
            "max_tokens": 20,
            "messages": [{"role": "user", "content": "hi"}],
            "stop_sequences": ["X"],
        },
        {
            "model": "claude-sonnet-4-5",
            "max_tokens": 20,
            "system": [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}],
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "hi"},
                        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
                    ],
                },
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "hmm", "signature": "sealed"},
                        {"type": "text", "text": "calling"},
                        {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": "x"}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "t1",
                            "content": [{"type": "text", "text": "done"}],
                            "is_error": False,
                        },
                        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "doc"}},
                    ],
                },
            ],
            "tools": [
                {"name": "f", "description": "a tool", "input_schema": TOOL_SCHEMA},
                {"type": "web_search_20250305", "name": "web_search", "allowed_domains": ["x.ai"], "max_uses": 2},
            ],
            "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
            "thinking": {"type": "enabled", "budget_tokens": 2048},
            "temperature": 1,
            "top_p": 0.9,
            "metadata": {"user_id": "u"},
            "stream": True,
        },
    ],
    "/v1/images/generations": [
        {"model": "grok-imagine-image", "prompt": "a cat", "n": 1, "response_format": "b64_json"},
        {"prompt": "a cat", "aspect_ratio": "16:9", "response_format": "url"},
    ],
    "/v1/images/edits": [
        {"model": "grok-imagine-image", "prompt": "make it blue", "image": {"url": "data:image/png;base64,AAAA"}},
    ],
    "/v1/videos/generations": [
        {"model": "grok-imagine-video", "prompt": "a cat", "duration": 5, "aspect_ratio": "16:9"},
    ],
    "/admin/accounts": [{"profile": "newcomer"}],
}
SEEDS["/v1/messages/count_tokens"] = SEEDS["/v1/messages"]
#: Field names and values the endpoints look at, so mutations reach past the first type check.
NAMES = sorted(
    {"model", "messages", "role", "content", "type", "text", "tools", "tool_choice", "name", "input", "input_schema",
     "parameters", "function", "arguments", "tool_calls", "tool_call_id", "tool_use_id", "source", "image_url", "url",
     "thinking", "budget_tokens", "signature", "system", "stream", "stop", "stop_sequences", "reasoning", "effort",
     "include", "namespace", "call_id", "output", "summary", "encrypted_content", "prompt", "n", "image", "duration",
     "response_format", "stream_options", "include_usage", "temperature", "max_tokens", "data", "media_type",
     "is_error", "id", "format", "allowed_domains", "blocked_domains", "profile", "store", "instructions", "search"}
)  # fmt: skip
WORDS = st.sampled_from(
    ["user", "assistant", "system", "tool", "developer", "function", "text", "input_text", "image", "image_url",
     "tool_use", "tool_result", "thinking", "redacted_thinking", "document", "base64", "url", "namespace",
     "web_search", "web_search_20250305", "x_search", "function_call", "function_call_output", "reasoning",
     "item_reference", "message", "auto", "any", "none", "required", "enabled", "disabled", "json_schema",
     "grok-4.3", "xai/grok-4.3", "xai-grok/grok-4.3", "claude-opus-4", "grok-imagine-image", "low", "high", ""]
)  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | WORDS
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(NAMES) | st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)
#: Rarely, what the parser itself refuses.
ODD = st.floats(allow_nan=True, allow_infinity=True).filter(lambda f: f != f or abs(f) == float("inf")) | st.just(
    "\udc00"
)


def _paths(value: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield at
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _paths(inner, (*at, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _paths(inner, (*at, index))


def _replace(value: Any, at: tuple[Any, ...], new: Any) -> Any:
    if not at:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[at[0]] = _replace(value[at[0]], at[1:], new)  # type: ignore[index]
    return copy


def _without(value: Any, at: tuple[Any, ...]) -> Any:
    if len(at) == 1:
        copy = dict(value) if isinstance(value, dict) else list(value)
        del copy[at[0]]  # type: ignore[arg-type]
        return copy
    return _replace(value, at[:1], _without(value[at[0]], at[1:]))


@st.composite
def mutated(draw: st.DrawFn, path: str) -> Any:
    """A seed body of ``path`` with one to three of its values replaced, removed or added to."""
    body: Any = draw(st.sampled_from(SEEDS[path]))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.sampled_from(list(_paths(body))))
        target = body
        for step in at:
            target = target[step]
        action = draw(st.sampled_from(["replace", "replace", "remove", "add"]))
        if action == "remove" and at:
            body = _without(body, at)
        elif action == "add" and isinstance(target, (dict, list)):
            new = draw(VALUES)
            grown = {**target, draw(st.sampled_from(NAMES)): new} if isinstance(target, dict) else [*target, new]
            body = _replace(body, at, grown)
        else:
            body = _replace(body, at, draw(VALUES | ODD) if draw(st.integers(0, 9)) == 0 else draw(VALUES))
    return body


class Loop:
    """One event loop in a thread for the whole property: the app's upstream client keeps its connections."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=120)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=30)
        self.loop.close()


@pytest.fixture
def app_client(emulator: Emulator, isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Loop, Any]]:
    """The server's app in this process for a signed-in emulator account, with an admin key, and a client for it."""
    from xai_oauth import Account, Config
    from xai_oauth.server._app import ServeSettings, create_app
    from xai_oauth.server._keys import ClientKeys
    from xai_oauth.transport._http import AsyncHttp

    for name, value in emulator.environ().items():
        monkeypatch.setenv(name, value)  # /admin signs new profiles in from the environment
    env = dict(os.environ)
    sign_in(emulator, env)
    loop = Loop()
    http = AsyncHttp()
    keys = ClientKeys((CLIENT_KEY,), "test", True)
    with Account(Config.from_env(env)) as account:
        app = create_app(
            ServeSettings(keys=keys, admin_keys=ClientKeys((ADMIN_KEY,), "test", True)), account, http=http
        )
        transport = httpx2.ASGITransport(app=app)  # type: ignore[arg-type]
        client = httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1", timeout=60)
        try:
            yield loop, client
        finally:
            loop.run(client.aclose())
            loop.run(http.aclose())
            loop.close()
            for started in app.admin.signins.values():  # sign-ins /admin began and nobody finished
                started.close()


async def _post(client: Any, path: str, body: Any) -> tuple[int, bytes]:
    key = ADMIN_KEY if path.startswith("/admin") else CLIENT_KEY
    raw = json.dumps(body, allow_nan=True).encode()  # NaN and lone surrogates travel as JSON text can spell them
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    async with client.stream("POST", path, content=raw, headers=headers) as answer:
        return answer.status_code, await answer.aread()


@pytest.mark.parametrize("path", list(SEEDS))
def test_no_body_is_a_server_error(app_client: tuple[Loop, Any], path: str) -> None:
    loop, client = app_client
    for seed in SEEDS[path]:  # the seeds themselves are served
        status, answer = loop.run(_post(client, path, seed))
        assert status in (200, 202), (path, status, answer[:300])

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(mutated(path))
    def check(body: Any) -> None:
        status, answer = loop.run(_post(client, path, body))
        event(f"HTTP {status}")  # --hypothesis-show-statistics: how many reached the upstream and were served
        assert status < 500, (json.dumps(body)[:400], status, answer[:400])
        if status >= 400:
            error = json.loads(answer)
            shaped = error.get("type") == "error" if path.startswith("/v1/messages") else "error" in error
            assert shaped and "Traceback" not in answer.decode(), error

    check()
