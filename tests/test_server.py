"""``xai-oauth serve`` end to end: the real command on loopback, the real openai and anthropic SDKs, the emulator."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx2
import openai
import pytest

from xai_oauth.emulator import Emulator, Fault

from .support.served import CLIENT_KEY, Served, serve, sign_in


@pytest.fixture
def env(emulator: Emulator, isolated_home: Path) -> dict[str, str]:
    environ = {**os.environ, **emulator.environ()}
    sign_in(emulator, environ)
    return environ


@pytest.fixture
def served(env: dict[str, str]) -> Iterator[Served]:
    with serve(env) as running:
        yield running


def sdk(served: Served) -> openai.OpenAI:
    return served.keep(openai.OpenAI(base_url=served.base_url, api_key=served.key, max_retries=0))


def test_chat_completions_whole_and_streamed(served: Served, emulator: Emulator) -> None:
    client = sdk(served)
    answer = client.chat.completions.create(model="grok-4.3", messages=[{"role": "user", "content": "hello"}])
    assert answer.choices[0].message.content == "You said: hello" and answer.model == "grok-4.3"
    assert answer.usage is not None and answer.usage.completion_tokens > 0
    stream = client.chat.completions.create(
        model="grok-4.3",
        messages=[{"role": "user", "content": "streamed"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "You said: streamed"
    assert chunks[-1].usage is not None
    # the subscription's text went the way xAI's own client sends it: the chat proxy, with its headers
    assert all(r["credential"] == "subscription" for r in emulator.api_requests)


@pytest.mark.slow
def test_the_api_key_answers_a_whole_request_whole_and_a_streamed_one_streamed(
    emulator: Emulator, isolated_home: Path
) -> None:
    """api.x.ai serves whole answers: a whole request is not streamed upstream (an event each costs the server)."""
    emulator.settings.api_key = "xai-" + "w" * 40
    env = {**os.environ, **emulator.environ()}
    sign_in(emulator, env)
    with serve(env) as running:
        client = sdk(running)
        whole = client.chat.completions.create(model="xai/grok-4.3", messages=[{"role": "user", "content": "hi"}])
        assert whole.choices[0].message.content == "You said: hi" and whole.model == "xai/grok-4.3"
        assert whole.usage is not None and whole.usage.completion_tokens > 0
        sent_whole = emulator.api_requests[-1]
        stream = client.chat.completions.create(
            model="xai/grok-4.3", messages=[{"role": "user", "content": "again"}], stream=True
        )
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "You said: again"
        sent_streamed = emulator.api_requests[-1]
    assert sent_whole["credential"] == sent_streamed["credential"] == "api_key"
    assert not sent_whole["body"].get("stream") and sent_streamed["body"]["stream"] is True


def test_responses_whole_and_streamed_for_both_lanes(served: Served) -> None:
    client = sdk(served)
    response = client.responses.create(model="grok-4.3", input="hi there")
    assert response.output_text == "You said: hi there"
    multi = client.responses.create(model="grok-4.20-multi-agent-0309", input="plan", reasoning={"effort": "high"})
    assert multi.output_text == "16 agents considered: plan"
    with client.responses.stream(model="grok-4.3", input="streamed") as stream:
        text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert text == "You said: streamed" and final.output_text == text and final.status == "completed"


def test_a_multi_agent_model_on_chat_completions_is_translated(served: Served) -> None:
    answer = sdk(served).chat.completions.create(
        model="grok-4.20-multi-agent-0309", messages=[{"role": "user", "content": "plan"}]
    )
    assert answer.choices[0].message.content == "4 agents considered: plan"


def test_the_model_list_uses_plain_ids(served: Served) -> None:
    ids = [m.id for m in sdk(served).models.list()]
    assert "grok-4.3" in ids and not any(i.startswith("xai-grok/") for i in ids)


def test_errors_are_openai_shaped_with_the_servers_own_words(served: Served) -> None:
    client = sdk(served)
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="grok-nope", messages=[{"role": "user", "content": "x"}])
    assert missing.value.body["code"] == "model_not_found"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as stored:
        client.responses.create(model="grok-4.3", input="x", previous_response_id="resp_1")
    assert "previous_response_id" in str(stored.value)
    wrong = served.keep(openai.OpenAI(base_url=served.base_url, api_key="not-the-key-not-the-key", max_retries=0))
    with pytest.raises(openai.AuthenticationError):
        wrong.models.list()


def test_reauth_says_to_run_the_login_command(served: Served, emulator: Emulator, env: dict[str, str]) -> None:
    emulator.authority.reject_issued_access_tokens()
    for grant in list(emulator.authority.grants.values()):  # the sign-in is gone at xAI: refresh fails too
        grant.revoked = True
    with pytest.raises(openai.AuthenticationError) as refused:
        sdk(served).chat.completions.create(model="grok-4.3", messages=[{"role": "user", "content": "x"}])
    message = str(refused.value)
    assert "xai-oauth login" in message and "start()" not in message


def test_the_anthropic_sdk_whole_streamed_and_count_tokens(served: Served) -> None:
    client = served.keep(anthropic.Anthropic(base_url=served.origin, api_key=served.key, max_retries=0))
    message = client.messages.create(
        model="claude-sonnet-4-6", max_tokens=100, messages=[{"role": "user", "content": "from claude"}]
    )
    assert message.content[0].type == "text" and message.content[0].text == "You said: from claude"
    assert message.stop_reason == "end_turn" and message.model == "claude-sonnet-4-6"
    with client.messages.stream(
        model="grok-4.3", max_tokens=100, system="be brief", messages=[{"role": "user", "content": "streamed"}]
    ) as stream:
        text = "".join(stream.text_stream)
    assert text == "You said: streamed"
    counted = client.messages.count_tokens(model="grok-4.3", messages=[{"role": "user", "content": "count me"}])
    assert counted.input_tokens > 0
    with pytest.raises(anthropic.NotFoundError) as missing:
        client.messages.create(model="gpt-4o", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert "grok-4.3" in str(missing.value)  # it lists what there is


def test_the_model_list_is_asked_of_xai_when_the_servers_own_cache_ends(
    env: dict[str, str], emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One cache, the server's: a listing the state file holds (fresh for a minute) is not stacked on it."""
    from xai_oauth import Account, Config
    from xai_oauth.emulator import _authority
    from xai_oauth.server import _app, _state
    from xai_oauth.server._keys import ClientKeys

    monkeypatch.setattr(_state, "MODELS_TTL", 0.0)
    keys = ClientKeys((CLIENT_KEY,), source="test", configured=True)

    async def listed(app: object) -> list[str]:
        transport = httpx2.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            answer = await http.get("/v1/models", headers={"authorization": f"Bearer {CLIENT_KEY}"})
        return [m["id"] for m in answer.json()["data"]]

    with Account(Config.from_env(env)) as account:
        app = _app.create_app(_app.ServeSettings(keys=keys), account)
        assert "grok-new" not in asyncio.run(listed(app))
        monkeypatch.setitem(_authority.MODELS_BY_TIER, 1, [*_authority.MODELS_BY_TIER[1], "grok-new"])
        assert "grok-new" in asyncio.run(listed(app))


def test_a_client_that_leaves_mid_stream_cancels_the_upstream(served: Served, emulator: Emulator) -> None:
    emulator.settings.reply_repeat = 20000  # a long answer
    with httpx2.Client(timeout=30) as http:
        with http.stream(
            "POST",
            served.base_url + "/chat/completions",
            headers={"authorization": f"Bearer {served.key}"},
            json={"model": "grok-4.3", "messages": [{"role": "user", "content": "long"}], "stream": True},
        ) as response:
            assert response.status_code == 200
            for _ in response.iter_bytes():
                break  # the client leaves after the first bytes
    ok = sdk(served).chat.completions.create(model="grok-4.3", messages=[{"role": "user", "content": "still"}])
    assert ok.choices[0].message.content.startswith("You said: still")


@pytest.mark.slow
def test_an_upstream_that_falls_silent_is_cut_at_the_read_deadline(env: dict[str, str], emulator: Emulator) -> None:
    """The server reads upstream on uvloop, where the deadline is a loop timer that shuts the socket.

    A comment at once, the next at 0.9 x the deadline, then silence: checked only per chunk, the stream would
    end at the comment after that (1.8 x); only the cut ends it at the deadline itself.
    """
    with serve({**env, "XAI_OAUTH_READ_TIMEOUT": "4"}) as running:
        emulator.inject(Fault("/v1/chat/completions", keep_alive=3.6))
        started = time.monotonic()
        with httpx2.Client(timeout=60) as http:
            answer = http.post(
                running.base_url + "/chat/completions",
                headers={"authorization": f"Bearer {running.key}"},
                json={"model": "grok-4.3", "messages": [{"role": "user", "content": "hello?"}], "stream": True},
            )
        assert time.monotonic() - started < 7.0  # the comment after the deadline comes at 7.2 s at the earliest
        assert answer.status_code >= 500 and "within 4 s" in answer.text


def test_a_body_over_the_cap_and_a_slow_body_are_refused(served: Served) -> None:
    with socket.create_connection(("127.0.0.1", served.port), timeout=90) as conn:
        head = (
            "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {served.key}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {64 << 20}\r\n\r\n"
        )
        conn.sendall(head.encode())
        answer = conn.recv(4096).decode()
    assert answer.startswith("HTTP/1.1 413")


def test_nothing_secret_reaches_a_client_or_the_log(served: Served, emulator: Emulator) -> None:
    client = sdk(served)
    seen = [
        client.chat.completions.create(model="grok-4.3", messages=[{"role": "user", "content": "x"}]).model_dump_json()
    ]
    emulator.authority.reject_issued_access_tokens()
    seen.append(json.dumps([m.id for m in client.models.list()]))
    served.process.send_signal(2)
    served.process.wait(timeout=15)
    seen.append(served.output())
    assert "path=/v1/chat/completions status=200" in seen[-1]  # the access log is there, and was scanned
    blob = "\n".join(seen)
    assert not [s for s in emulator.authority.secrets() if s in blob]


def test_binding_beyond_loopback_needs_a_chosen_key(env: dict[str, str]) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "xai_oauth", "serve", "--host", "0.0.0.0", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 64 and "--api-key" in done.stderr  # a usage error, as the README says


@pytest.mark.slow
def test_a_made_key_is_kept_0600_and_shown_in_the_banner(env: dict[str, str], isolated_home: Path) -> None:
    with serve(env, key=None) as running:
        key = (isolated_home / "serve-key").read_text().strip()
        assert key in running.banner and oct((isolated_home / "serve-key").stat().st_mode & 0o777) == "0o600"
        client = running.keep(openai.OpenAI(base_url=running.base_url, api_key=key, max_retries=0))
        assert client.models.list().data


def test_healthz_answers_without_a_key(served: Served) -> None:
    deadline = time.monotonic() + 60  # a hang guard
    while True:
        try:
            assert httpx2.get(served.origin + "/healthz", timeout=30).json() == {"ok": True, "accounts": 1, "ready": 1}
            return
        except httpx2.TransportError:
            assert time.monotonic() < deadline
            time.sleep(0.1)


def test_a_conversation_keeps_its_id_so_the_prompt_cache_hits(served: Served, emulator: Emulator) -> None:
    """The server sends x-grok-conv-id by chat()'s rule: turn 2 of one conversation reads turn 1's prefix."""
    client = sdk(served)
    turn = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "first question"}]
    first = client.chat.completions.create(model="grok-4.3", messages=turn)
    turn += [{"role": "assistant", "content": first.choices[0].message.content or ""}]
    second = client.chat.completions.create(model="grok-4.3", messages=[*turn, {"role": "user", "content": "next"}])
    details = second.usage.prompt_tokens_details if second.usage else None
    assert details is not None and (details.cached_tokens or 0) > 0
    other = client.chat.completions.create(model="grok-4.3", messages=[{"role": "user", "content": "unrelated"}])
    other_details = other.usage.prompt_tokens_details if other.usage else None
    assert other_details is None or not other_details.cached_tokens
    sent = [r for r in emulator.api_requests if r.get("path", "").endswith("/chat/completions")]
    assert len(sent) >= 3
