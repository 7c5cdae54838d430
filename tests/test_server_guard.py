"""The local server's front door, without sockets: client keys, body cap, body timeout (plain ASGI calls)."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from xai_oauth._exceptions import ConfigError
from xai_oauth.server._guard import Guard
from xai_oauth.server._keys import KEY_PREFIX, ClientKeys, load_client_keys, presented_key
from xai_oauth.store._errors import StoreError

KEY = "k" * 40


def refuse(path: str, status: int, code: str, message: str) -> dict[str, Any]:
    return {"path": path, "status": status, "code": code, "message": message}


async def echo_app(scope: Any, receive: Any, send: Any) -> None:
    """Reads the whole body, answers its length."""
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})


def call(
    guard: Guard, *, path: str = "/v1/chat/completions", headers: dict[str, str] | None = None, chunks: Any = (b"{}",)
) -> tuple[int, bytes]:
    async def run() -> tuple[int, bytes]:
        queue: list[Any] = list(chunks)
        sent: list[Any] = []

        async def receive() -> dict[str, Any]:
            if not queue:
                await asyncio.sleep(3600)  # a client that stops sending
            item = queue.pop(0)
            if isinstance(item, float):
                await asyncio.sleep(item)
                item = queue.pop(0)
            return {"type": "http.request", "body": item, "more_body": bool(queue)}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "method": "POST",
            "path": path,
            "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        }
        await guard(scope, receive, send)
        status = next(m["status"] for m in sent if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return status, body

    return asyncio.run(run())


def guard(max_body: int = 1000, body_timeout: float = 0.5) -> Guard:
    keys = ClientKeys((KEY,), "test", True)
    return Guard(echo_app, keys=keys, refuse=refuse, max_body=max_body, body_timeout=body_timeout)


def test_a_request_without_the_key_gets_401_in_the_shape_the_path_asks_for() -> None:
    status, body = call(guard())
    assert status == 401 and json.loads(body)["code"] == "invalid_api_key"
    status, body = call(guard(), path="/v1/messages", headers={"authorization": "Bearer wrong-key-wrong-key"})
    assert status == 401 and json.loads(body)["path"] == "/v1/messages"


@pytest.mark.parametrize("header", ["authorization", "x-api-key"])
def test_the_key_is_taken_as_a_bearer_or_as_x_api_key(header: str) -> None:
    value = f"Bearer {KEY}" if header == "authorization" else KEY
    assert call(guard(), headers={header: value}) == (200, b"2")


def test_healthz_needs_no_key() -> None:
    assert call(guard(), path="/healthz")[0] == 200


def test_a_declared_body_over_the_cap_is_refused_before_it_is_read() -> None:
    status, body = call(guard(), headers={"x-api-key": KEY, "content-length": "1001"}, chunks=())
    assert status == 413 and json.loads(body)["code"] == "request_too_large"


def test_a_chunked_body_that_grows_over_the_cap_is_refused() -> None:
    status, _ = call(guard(), headers={"x-api-key": KEY}, chunks=[b"x" * 600, b"x" * 600])
    assert status == 413


@pytest.mark.slow
def test_a_body_that_drips_is_cut_off_at_the_timeout() -> None:
    status, body = call(guard(body_timeout=2.0), headers={"x-api-key": KEY}, chunks=[b"x", 0.05, b"x"])
    assert status == 200  # in time
    status, body = call(guard(body_timeout=2.0), headers={"x-api-key": KEY}, chunks=[b"x"] * 2 + [5.0, b"x"])
    assert status == 408 and json.loads(body)["code"] == "request_timeout"


def test_a_body_refused_as_it_arrives_is_answered_by_the_guard_never_by_the_apps_error_handler() -> None:
    """Starlette answers any exception that leaves a route with a bare 500: the refusal must never pass through it."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def route(request: Request) -> JSONResponse:
        return JSONResponse({"size": len(await request.body())})

    app = Starlette(routes=[Route("/v1/chat/completions", route, methods=["POST"])])
    keys = ClientKeys((KEY,), "test", True)
    guarded = Guard(app, keys=keys, refuse=refuse, max_body=1000, body_timeout=0.2)
    assert call(guarded, headers={"x-api-key": KEY}, chunks=[b"x" * 600, b"x" * 300]) == (200, b'{"size":900}')
    status, body = call(guarded, headers={"x-api-key": KEY}, chunks=[b"x" * 600, b"x" * 600])
    assert status == 413 and json.loads(body)["code"] == "request_too_large"
    status, body = call(guarded, headers={"x-api-key": KEY}, chunks=[b"x", 5.0, b"x"])
    assert status == 408 and json.loads(body)["code"] == "request_timeout"


def test_keys_are_compared_whole() -> None:
    keys = ClientKeys((KEY,), "test", True)
    assert keys.allows(KEY) and not keys.allows(KEY[:-1]) and not keys.allows(KEY + "k") and not keys.allows(None)
    assert KEY not in repr(keys)


def test_presented_key_reads_both_headers() -> None:
    assert presented_key({"authorization": "Bearer abc"}) == "abc"
    assert presented_key({"authorization": "Basic abc", "x-api-key": "def"}) == "def"
    assert presented_key({}) is None


def test_keys_come_from_the_flag_then_the_environment_then_the_home(tmp_path: Path) -> None:
    assert load_client_keys(str(tmp_path), [KEY], {}).source == "--api-key"
    from_env = load_client_keys(str(tmp_path), [], {"XAI_OAUTH_SERVE_KEYS": f"{KEY}, {'j' * 20}"})
    assert from_env.configured and from_env.allows("j" * 20)
    made = load_client_keys(str(tmp_path / "home"), [], {})
    assert not made.configured and made.keys[0].startswith(KEY_PREFIX)
    path = tmp_path / "home" / "serve-key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_client_keys(str(tmp_path / "home"), [], {}).keys == made.keys  # kept, not made again


def test_a_short_key_or_a_tampered_key_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_client_keys(str(tmp_path), ["short"], {})
    load_client_keys(str(tmp_path), [], {})
    os.chmod(tmp_path / "serve-key", 0o644)
    with pytest.raises(StoreError):
        load_client_keys(str(tmp_path), [], {})
