"""The transport's rules: pure decisions (origin, headers, what a refusal means) and the two senders driving them.

The async sender is driven with ``asyncio.run`` over ``httpx2.MockTransport``
and an async handler: no sockets, no event-loop plugin.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import httpx2
import pytest

from xai_oauth._config import Config
from xai_oauth._exceptions import (
    ApiKeyRejected,
    ConfigError,
    MalformedResponse,
    NetworkError,
    NotSignedIn,
    RateLimited,
    ReauthRequired,
    ServerError,
)
from xai_oauth.transport._answer import Answer
from xai_oauth.transport._http import AsyncEventStream, AsyncHttp, Http
from xai_oauth.transport._retry import API_RETRIES, RetryPolicy, retry_delay
from xai_oauth.transport._send import (
    AsyncTransport,
    Fail,
    Refresh,
    Transport,
    Wait,
    api_key,
    headers,
    next_move,
    target,
)

KEY = "xai-" + "k" * 40
GATEWAY = Config(base_url="https://gateway.example.com/v1", api_key=KEY)
ON_API = Config(route="api")


def answer(status: int, body: Any = None, **headers: str) -> Answer:
    return Answer(status=status, headers=headers, body=body, content_type="application/json")


class Keeper:
    """A token keeper that rotates on every forced refresh and notes which thread each call ran in."""

    def __init__(self) -> None:
        self.token = "access-1"
        self.refreshes: list[str | None] = []
        self.threads: set[int] = set()

    def access_token(self) -> str:
        self.threads.add(threading.get_ident())
        return self.token

    def refresh(self, force: bool = False, *, replacing: str | None = None) -> dict[str, Any]:
        self.threads.add(threading.get_ident())
        assert force
        self.refreshes.append(replacing)
        self.token = f"access-{len(self.refreshes) + 1}"
        return {}


class Upstream:
    """An async handler that answers from a script and keeps every request it saw."""

    def __init__(self, *answers: httpx2.Response) -> None:
        self.answers = list(answers)
        self.seen: list[httpx2.Request] = []

    async def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.seen.append(request)
        return self.answers.pop(0)

    def sync(self, request: httpx2.Request) -> httpx2.Response:
        self.seen.append(request)
        return self.answers.pop(0)


def async_transport(upstream: Upstream, config: Config | None = None, **options: Any) -> tuple[AsyncTransport, Keeper]:
    keeper = Keeper()
    http = AsyncHttp(httpx2.MockTransport(upstream))
    return AsyncTransport(config or Config(), keeper, http, **options), keeper


# -- the pure decisions ----------------------------------------------------


def test_each_credential_goes_to_its_own_origin() -> None:
    assert target(Config(), "subscription", "m").origin == "https://cli-chat-proxy.grok.com/v1"
    assert target(Config(), "subscription", "m").route == "proxy"
    assert target(ON_API, "subscription", "m").origin == "https://api.x.ai/v1"
    assert target(ON_API, "subscription", "m").route == "api"
    assert target(Config(), "subscription", "m", media=True).origin == "https://api.x.ai/v1"
    assert target(Config(), "subscription", "m", media=True).route is None
    assert target(GATEWAY, "api_key", "m").origin == "https://gateway.example.com/v1"
    assert target(GATEWAY, "api_key", "m").route is None


def test_the_subscription_never_aims_at_an_api_key_gateway() -> None:
    assert target(GATEWAY, "subscription", "m").origin == "https://cli-chat-proxy.grok.com/v1"
    with pytest.raises(ConfigError):
        target(GATEWAY, "subscription", "m", media=True)
    with pytest.raises(ConfigError):
        target(Config(route="api", base_url="https://gateway.example.com/v1"), "subscription", "m")


def test_the_proxy_gets_its_headers_and_nobody_else_does() -> None:
    proxied = headers(target(Config(), "subscription", "m", model_id="grok-4.3"), "tok", "9.9")
    assert proxied["Authorization"] == "Bearer tok"
    assert proxied["X-XAI-Token-Auth"] == "xai-grok-cli"
    assert proxied["x-grok-model-override"] == "grok-4.3"
    assert proxied["x-grok-client-version"] == "9.9"
    for aim in (
        target(ON_API, "subscription", "m", model_id="grok-4.3"),
        target(Config(), "subscription", "m", model_id="grok-4.3", media=True),
        target(GATEWAY, "api_key", "m", model_id="grok-4.3"),
    ):
        assert headers(aim, "tok", "9.9") == {"Authorization": "Bearer tok"}


def test_an_api_key_request_without_a_key_says_how_to_set_one() -> None:
    assert api_key(GATEWAY) == KEY
    with pytest.raises(NotSignedIn, match="XAI_API_KEY"):
        api_key(Config())


def test_an_auth_failure_earns_one_refresh_for_the_subscription_only() -> None:
    aim = target(Config(), "subscription", "xai-grok/m")
    refused = answer(403, {"code": "unauthenticated:bad-credentials"})
    assert next_move(aim, answer(401), renewed=False, attempt=0) == Refresh()
    assert next_move(aim, refused, renewed=False, attempt=0) == Refresh()
    move = next_move(aim, answer(401), renewed=True, attempt=0)
    assert isinstance(move, Fail) and isinstance(move.error, ReauthRequired)
    move = next_move(target(GATEWAY, "api_key", "xai/m"), answer(401), renewed=False, attempt=0, api_key=KEY)
    assert isinstance(move, Fail) and isinstance(move.error, ApiKeyRejected)


def test_a_key_that_is_not_xais_is_told_so() -> None:
    aim = target(GATEWAY, "api_key", "xai/m")
    refused = answer(400, {"code": "invalid_api_key"})
    wrong = next_move(aim, refused, renewed=False, attempt=0, api_key="sk-other")
    right = next_move(aim, refused, renewed=False, attempt=0, api_key=KEY)
    assert isinstance(wrong, Fail) and "start with 'xai-'" in wrong.error.action
    assert isinstance(right, Fail) and "start with 'xai-'" not in right.error.action


def test_server_failures_wait_by_the_policy_and_usage_windows_are_reported() -> None:
    aim = target(Config(), "subscription", "xai-grok/m")
    assert next_move(aim, answer(503), renewed=False, attempt=0) == Wait(0.5)
    assert next_move(aim, answer(502), renewed=False, attempt=1) == Wait(1.5)
    last = next_move(aim, answer(503), renewed=False, attempt=2)
    assert isinstance(last, Fail) and isinstance(last.error, ServerError)
    limited = next_move(aim, answer(429, {"code": "x"}, **{"retry-after": "7"}), renewed=False, attempt=0)
    assert isinstance(limited, Fail) and isinstance(limited.error, RateLimited) and limited.error.retry_after == 7
    # a pool that tries the next account instead of waiting, and one that waits out short windows
    assert isinstance(next_move(aim, answer(503), renewed=False, attempt=0, policy=RetryPolicy(attempts=1)), Fail)
    patient = RetryPolicy(rate_limited=True)
    assert next_move(aim, answer(429, **{"retry-after": "2"}), renewed=False, attempt=0, policy=patient) == Wait(2)


def test_the_default_policies_are_todays_rules() -> None:
    for status in (None, 200, 400, 401, 429, 500, 503):
        for attempt in range(4):
            for html in (False, True):
                for after in (None, 3.0, 60.0):
                    expected = retry_delay(status, attempt=attempt, html=html, retry_after=after)
                    assert RetryPolicy().delay(status, attempt=attempt, html=html, retry_after=after) == expected
                    api = API_RETRIES.delay(status, attempt=attempt, html=html, retry_after=after)
                    assert api == (None if status == 429 else expected)


# -- the async sender --------------------------------------------------------


def test_async_sends_the_bearer_and_proxy_headers_to_the_proxy_and_the_key_to_the_gateway() -> None:
    upstream = Upstream(httpx2.Response(200, json={"ok": 1}), httpx2.Response(200, json={"ok": 2}))
    transport, keeper = async_transport(upstream, GATEWAY)

    async def run() -> list[Answer]:
        first = await transport.request("subscription", "xai-grok/m", "/chat", {"q": 1}, timeout=5, model_id="m")
        second = await transport.request("api_key", "xai/m", "/models", timeout=5)
        await transport.http.aclose()
        return [first, second]

    first, second = asyncio.run(run())
    assert (first.body, second.body) == ({"ok": 1}, {"ok": 2})
    to_proxy, to_gateway = upstream.seen
    assert str(to_proxy.url) == "https://cli-chat-proxy.grok.com/v1/chat"
    assert to_proxy.headers["authorization"] == "Bearer access-1"
    assert to_proxy.headers["x-xai-token-auth"] == "xai-grok-cli"
    assert to_proxy.headers["x-grok-model-override"] == "m"
    assert json.loads(to_proxy.content) == {"q": 1}
    assert str(to_gateway.url) == "https://gateway.example.com/v1/models"
    assert to_gateway.headers["authorization"] == f"Bearer {KEY}"
    assert "x-xai-token-auth" not in to_gateway.headers
    assert threading.get_ident() not in keeper.threads  # the keeper ran in a worker thread, not on the loop


class HoldingKeeper(Keeper):
    """A keeper that says when its token falls due and marks its files (a counter the test moves)."""

    def __init__(self) -> None:
        super().__init__()
        self.due = 1_000.0
        self.mark = 0
        self.reads = 0

    def fresh_token(self) -> tuple[str, float]:
        self.reads += 1
        return self.access_token(), self.due

    def on_record(self) -> tuple[object, ...]:
        return (self.mark,)


def test_async_holds_a_fresh_token_until_it_falls_due_or_its_files_change() -> None:
    clock = [100.0]
    upstream = Upstream(*(httpx2.Response(200, json={"n": n}) for n in range(5)))
    keeper = HoldingKeeper()
    transport = AsyncTransport(Config(), keeper, AsyncHttp(httpx2.MockTransport(upstream)), now=lambda: clock[0])

    async def ask() -> None:
        await transport.request("subscription", "xai-grok/m", "/models", timeout=5)

    async def run() -> list[int]:
        reads = []
        for step in ("first", "held", "files changed", "held again", "due"):
            if step == "files changed":
                keeper.mark, keeper.token = 1, "access-9"  # another process refreshed
            if step == "due":
                clock[0] = keeper.due
            await ask()
            reads.append(keeper.reads)
        await transport.http.aclose()
        return reads

    assert asyncio.run(run()) == [1, 1, 2, 2, 3]
    bearers = [r.headers["authorization"] for r in upstream.seen]
    assert bearers == ["Bearer access-1", "Bearer access-1", "Bearer access-9", "Bearer access-9", "Bearer access-9"]
    assert threading.get_ident() not in keeper.threads


def test_async_asks_a_keeper_that_cannot_say_when_its_token_falls_due_every_time() -> None:
    upstream = Upstream(httpx2.Response(200, json={}), httpx2.Response(200, json={}))
    transport, keeper = async_transport(upstream)

    async def run() -> None:
        for token in ("access-1", "access-7"):
            keeper.token = token
            await transport.request("subscription", "xai-grok/m", "/models", timeout=5)
        await transport.http.aclose()

    asyncio.run(run())
    assert [r.headers["authorization"] for r in upstream.seen] == ["Bearer access-1", "Bearer access-7"]


def test_async_never_sends_the_subscription_bearer_to_a_gateway() -> None:
    upstream = Upstream()
    transport, _ = async_transport(upstream, GATEWAY)
    with pytest.raises(ConfigError):
        asyncio.run(
            transport.request("subscription", "xai-grok/grok-imagine-image", "/images", {}, timeout=5, media=True)
        )
    assert upstream.seen == []


def test_async_refreshes_once_on_401_off_the_loop_then_raises_reauth_required() -> None:
    upstream = Upstream(httpx2.Response(401, json={"error": "no"}), httpx2.Response(401, json={"error": "no"}))
    transport, keeper = async_transport(upstream)
    with pytest.raises(ReauthRequired):
        asyncio.run(transport.request("subscription", "xai-grok/m", "/models", timeout=5))
    assert [r.headers["authorization"] for r in upstream.seen] == ["Bearer access-1", "Bearer access-2"]
    assert keeper.refreshes == ["access-1"]
    assert threading.get_ident() not in keeper.threads


def test_async_maps_429_with_retry_after_to_rate_limited_without_waiting() -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    upstream = Upstream(httpx2.Response(429, json={"error": "slow down"}, headers={"Retry-After": "12"}))
    transport, _ = async_transport(upstream, sleep=sleep)
    with pytest.raises(RateLimited) as caught:
        asyncio.run(transport.request("subscription", "xai-grok/m", "/chat", {"q": 1}, timeout=5))
    assert caught.value.retry_after == 12 and caught.value.code == "rate_limited"
    assert waits == [] and len(upstream.seen) == 1


def test_async_waits_out_a_server_failure_with_the_injected_sleep() -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    upstream = Upstream(httpx2.Response(503, json={}), httpx2.Response(200, json={"ok": True}))
    transport, _ = async_transport(upstream, sleep=sleep)
    done = asyncio.run(transport.request("subscription", "xai-grok/m", "/models", timeout=5))
    assert done.body == {"ok": True} and waits == [0.5]


def test_async_stream_refreshes_then_yields_events() -> None:
    events = b'data: {"a": 1}\n\nevent: done\ndata: [DONE]\n\n'
    upstream = Upstream(
        httpx2.Response(401, json={}),
        httpx2.Response(200, content=events, headers={"content-type": "text/event-stream"}),
    )
    transport, keeper = async_transport(upstream)

    async def run() -> list[tuple[str, str]]:
        async with transport.open_stream("subscription", "xai-grok/m", "/chat", {"stream": True}, timeout=5) as opened:
            assert isinstance(opened, AsyncEventStream)
            return [pair async for pair in opened]

    assert asyncio.run(run()) == [("message", '{"a": 1}'), ("done", "[DONE]")]
    assert keeper.refreshes == ["access-1"]
    assert upstream.seen[1].headers["accept"] == "text/event-stream"


def test_async_http_keeps_the_size_cap_and_maps_transport_errors() -> None:
    big = Upstream(httpx2.Response(200, content=b"x" * 2048))
    with pytest.raises(MalformedResponse, match="over"):
        asyncio.run(AsyncHttp(httpx2.MockTransport(big)).get("https://api.x.ai/v1/models", max_bytes=1024))

    async def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("refused", request=request)

    with pytest.raises(NetworkError) as caught:
        asyncio.run(AsyncHttp(httpx2.MockTransport(refuse)).get("https://api.x.ai/v1/models?secret=1"))
    assert caught.value.maybe_sent is False and "secret" not in caught.value.message


# -- the sync sender ---------------------------------------------------------------


def test_sync_transport_follows_the_same_rules() -> None:
    upstream = Upstream(
        httpx2.Response(503, json={}), httpx2.Response(401, json={}), httpx2.Response(200, json={"ok": 1})
    )
    keeper, waits, http = Keeper(), [], Http(httpx2.MockTransport(upstream.sync))
    transport = Transport(Config(), keeper, lambda: http, sleep=waits.append)
    assert transport.request("subscription", "xai-grok/m", "/models", timeout=5).body == {"ok": 1}
    assert waits == [0.5] and keeper.refreshes == ["access-1"]
    assert [r.headers["authorization"] for r in upstream.seen] == ["Bearer access-1"] * 2 + ["Bearer access-2"]


@pytest.mark.slow
def test_a_refusal_decided_locally_never_loads_httpx2() -> None:
    """The sync transport asks for its HTTP client on the first send, as ``Client`` did before the split."""
    import subprocess
    import sys

    from .conftest import ROOT

    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r}); import exports; "
        "print(exports.models()['error'], exports.chat('xai/grok-4.3', 'hi')['error'], 'httpx2' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == ["not_signed_in", "not_signed_in", "False"], done.stderr
