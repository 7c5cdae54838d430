"""In step with xAI's own Grok CLI (issue 23), each point end to end against the emulator, one process per call.

The version gate heals itself from a 426 that names a version; conversation
ids make a pretend prompt cache hit from turn two on, across processes, and
miss when the start changes; ``x-should-retry: false`` is final; ``/models-v2``
gives limits; ``/billing`` gives money fields; a 403 ``bad-credentials`` is a
stale token and a spending limit is ``no_credits``.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest

import xai_oauth
from xai_oauth.api._conversation import conversation_id, grok_headers, turn_index
from xai_oauth.emulator import Emulator, Fault

from .conftest import Agent
from .support.served import sign_in

CHAT = "/v1/chat/completions"
MODEL = "xai-grok/grok-4.3"


def proxy_text(emulator: Emulator) -> list[dict[str, Any]]:
    return [r for r in emulator.api_requests if r["origin"] == "proxy"]


# -- the version gate ------------------------------------------------------------


def test_a_426_naming_a_version_is_followed_once_and_remembered(
    agent: Agent, emulator: Emulator, isolated_home: Path
) -> None:
    agent.sign_in()
    emulator.settings.min_client_version = "1.0.13"
    assert agent(f"chat('{MODEL}', 'hi')")["content"] == "You said: hi"
    assert proxy_text(emulator)[-1]["headers"]["x-grok-client-version"] == "1.0.13"
    remembered = json.loads((isolated_home / "client-version.json").read_text())
    assert remembered["version"] == "1.0.13"
    assert (isolated_home / "client-version.json").stat().st_mode & 0o777 == 0o600
    notes = agent("status()")["notes"]
    assert any("1.0.13" in n and "last asked for" in n for n in notes), notes
    # the next process sends it at once: the one request that reaches the model is the only one made
    before = len(emulator.api_requests)
    assert agent(f"chat('{MODEL}', 'again')")["ok"]
    assert len(emulator.api_requests) == before + 1


def test_an_explicit_version_wins_and_a_426_stays_client_outdated(agent: Agent, emulator: Emulator) -> None:
    agent.sign_in()
    emulator.settings.min_client_version = "1.0.13"
    outdated = agent(f"chat('{MODEL}', 'hi')", XAI_OAUTH_CLIENT_VERSION="1.0.6")
    assert outdated["error"] == "client_outdated" and "XAI_OAUTH_CLIENT_VERSION" in outdated["action"]
    assert any("XAI_OAUTH_CLIENT_VERSION" in n for n in agent("status()", XAI_OAUTH_CLIENT_VERSION="1.0.6")["notes"])


def test_a_426_that_names_no_version_changes_nothing(agent: Agent, emulator: Emulator, isolated_home: Path) -> None:
    agent.sign_in()
    emulator.settings.min_client_version = "1.0.13"
    emulator.settings.gate_names_version = False
    assert agent(f"chat('{MODEL}', 'hi')")["error"] == "client_outdated"
    assert not (isolated_home / "client-version.json").exists()


def _ask_through_auth(emulator: Emulator, statuses: list[int], *, use_async: bool = False) -> str:
    """A streamed question to the chat proxy with the openai SDK over an httpx2 client that uses ``Auth``."""
    hooks = {"response": [lambda r: statuses.append(r.status_code)]}
    said = [{"role": "user", "content": "hi"}]
    proxy = f"{emulator.proxy_url}/v1"
    if not use_async:
        with httpx2.Client(auth=xai_oauth.Auth(), event_hooks=hooks) as http:
            client = openai.OpenAI(base_url=proxy, api_key="-", http_client=http, max_retries=0)
            stream = client.chat.completions.create(model="grok-4.3", messages=said, stream=True)  # type: ignore[arg-type]
            return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

    async def hooked(response: httpx2.Response) -> None:
        statuses.append(response.status_code)

    async def ask() -> str:
        async with httpx2.AsyncClient(auth=xai_oauth.Auth(), event_hooks={"response": [hooked]}) as http:
            client = openai.AsyncOpenAI(base_url=proxy, api_key="-", http_client=http, max_retries=0)
            stream = await client.chat.completions.create(model="grok-4.3", messages=said, stream=True)  # type: ignore[arg-type]
            return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

    return asyncio.run(ask())


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_auth_follows_a_426_that_names_a_version_once_and_remembers_it(
    emulator: Emulator, isolated_home: Path, monkeypatch: pytest.MonkeyPatch, use_async: bool
) -> None:
    """``xai_oauth.Auth`` heals the version gate as ``chat()`` does, so SDK users are not stuck behind a 426."""
    for name, value in emulator.environ().items():
        monkeypatch.setenv(name, value)
    sign_in(emulator, dict(os.environ))
    emulator.settings.min_client_version = "1.0.13"
    statuses: list[int] = []
    assert _ask_through_auth(emulator, statuses, use_async=use_async) == "You said: hi"
    assert statuses == [426, 200]
    assert proxy_text(emulator)[-1]["headers"]["x-grok-client-version"] == "1.0.13"
    assert json.loads((isolated_home / "client-version.json").read_text())["version"] == "1.0.13"
    statuses.clear()  # a new client, a new Auth: the remembered version goes first, no 426
    assert _ask_through_auth(emulator, statuses, use_async=use_async) == "You said: hi" and statuses == [200]


def test_auth_keeps_a_version_a_person_set_and_the_426_reaches_the_caller(
    emulator: Emulator, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {**emulator.environ(), "XAI_OAUTH_CLIENT_VERSION": "1.0.6"}.items():
        monkeypatch.setenv(name, value)
    sign_in(emulator, dict(os.environ))
    emulator.settings.min_client_version = "1.0.13"
    statuses: list[int] = []
    with pytest.raises(openai.APIStatusError) as refused:
        _ask_through_auth(emulator, statuses)
    assert refused.value.status_code == 426 and statuses == [426]
    assert not (isolated_home / "client-version.json").exists()


# -- conversations and the prompt cache -----------------------------------------


def test_three_turns_from_three_processes_hit_the_cache_on_turns_two_and_three(
    agent: Agent, emulator: Emulator
) -> None:
    agent.sign_in()
    convo: list[dict[str, str]] = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "one"}]
    cached = []
    for turn in ("two", "three", None):
        answer = agent(f"chat('{MODEL}', {convo!r})")
        assert answer["ok"], answer
        cached.append(answer["usage"].get("cached_tokens", 0))
        if turn:
            convo += [{"role": "assistant", "content": answer["content"]}, {"role": "user", "content": turn}]
    assert cached[0] == 0 and cached[1] > 0 and cached[2] > cached[1], cached
    sent = [r["headers"] for r in proxy_text(emulator)]
    assert len({h["x-grok-conv-id"] for h in sent}) == 1  # one conversation
    assert len({h["x-grok-req-id"] for h in sent}) == 3  # one request id each
    assert [h["x-grok-turn-idx"] for h in sent] == ["0", "1", "2"]
    assert all(h["x-grok-client-mode"] == "headless" and h["x-grok-session-id"] == h["x-grok-conv-id"] for h in sent)
    assert all("one" not in h["x-grok-conv-id"] for h in sent)  # the start is never sent in clear


def test_the_same_id_with_a_changed_start_misses(agent: Agent, emulator: Emulator) -> None:
    agent.sign_in()
    first = [{"role": "user", "content": "alpha beta"}]
    assert agent(f"chat('{MODEL}', {first!r}, conversation='work')")["ok"]
    changed = [
        {"role": "user", "content": "gamma"},
        {"role": "assistant", "content": "x"},
        {"role": "user", "content": "y"},
    ]
    answer = agent(f"chat('{MODEL}', {changed!r}, conversation='work')")
    assert answer["ok"] and answer["usage"].get("cached_tokens", 0) == 0
    ids = {r["headers"]["x-grok-conv-id"] for r in proxy_text(emulator)}
    assert len(ids) == 1 and "work" not in ids.pop()  # named, and the name goes through the HMAC too


def test_one_request_id_across_retries(agent: Agent, emulator: Emulator) -> None:
    agent.sign_in()
    emulator.inject(Fault(CHAT, status=502, times=1))
    assert agent(f"chat('{MODEL}', 'x')")["ok"]
    (refused,) = emulator.faulted_headers
    assert refused["x-grok-req-id"] == proxy_text(emulator)[-1]["headers"]["x-grok-req-id"]


def test_conversation_ids_are_keyed_stable_and_start_bound() -> None:
    start = [{"role": "system", "content": "s"}, {"role": "user", "content": "Hello"}]
    later = [*start, {"role": "assistant", "content": "Hi"}, {"role": "user", "content": "More"}]
    a, b = b"a" * 32, b"b" * 32
    assert conversation_id(a, start, None) == conversation_id(a, later, None)
    assert conversation_id(a, start, None) != conversation_id(b, start, None)
    assert conversation_id(a, start, None) != conversation_id(a, [{"role": "user", "content": "Hello!"}], None)
    assert conversation_id(a, start, "x") == conversation_id(a, later, "x") != conversation_id(a, start, "y")
    assert turn_index(start) == 0 and turn_index(later) == 1 and turn_index([]) == 0
    headers = grok_headers("c", "r", 2, "s", "interactive")
    assert headers == {
        "x-grok-conv-id": "c",
        "x-grok-req-id": "r",
        "x-grok-session-id": "s",
        "x-grok-turn-idx": "2",
        "x-grok-client-mode": "interactive",
    }


def test_the_conversation_key_is_private_and_made_once(agent: Agent, isolated_home: Path) -> None:
    agent.sign_in()
    assert agent(f"chat('{MODEL}', 'x')")["ok"]
    (key,) = isolated_home.glob("accounts/*/*/conversation.key")
    made = key.read_bytes()
    assert len(made) == 32 and key.stat().st_mode & 0o777 == 0o600
    assert agent(f"chat('{MODEL}', 'y')")["ok"] and key.read_bytes() == made
    assert made.hex() not in "".join(agent.outputs)


# -- retries ---------------------------------------------------------------------


def test_x_should_retry_false_is_final(agent: Agent, emulator: Emulator) -> None:
    agent.sign_in()
    emulator.inject(Fault(CHAT, status=503, times=1, should_retry="false"))
    failed = agent(f"chat('{MODEL}', 'x')")
    assert failed["error"] == "upstream_error" and failed["http_status"] == 503
    emulator.inject(Fault(CHAT, status=503, times=1, should_retry="true"))
    assert agent(f"chat('{MODEL}', 'x')")["ok"]


# -- model limits, billing, refusals -------------------------------------------------


def test_models_carry_limits_and_a_fresh_listing_answers_from_the_cache(agent: Agent, emulator: Emulator) -> None:
    agent.sign_in()
    listed = agent("models()")
    chat = {m["id"]: m for m in listed["models"]}
    assert chat[MODEL]["context_window"] == 256_000 and chat[MODEL]["max_output_tokens"] == 64_000
    emulator.settings.context_window = 1_000_000
    again = agent("models()")
    assert again["cached"] is True and {m["id"]: m for m in again["models"]}[MODEL]["context_window"] == 256_000
    fresh = agent("models(refresh=True)")
    assert "cached" not in fresh and {m["id"]: m for m in fresh["models"]}[MODEL]["context_window"] == 1_000_000


def test_usage_gives_the_billing_detail(agent: Agent, emulator: Emulator) -> None:
    agent.sign_in()
    reading = agent("usage()")
    assert reading["on_demand_cap_cents"] == 5000 and reading["on_demand_used_cents"] == 1250
    assert reading["prepaid_balance_cents"] == 0 and reading["unified_billing"] is True
    emulator.settings.unified_billing = None
    emulator.settings.on_demand_cap_cents = None
    older = agent("usage()")
    assert "unified_billing" not in older and "on_demand_cap_cents" not in older


def test_bad_credentials_refreshes_once_then_reauth(agent: Agent, emulator: Emulator) -> None:
    agent.sign_in()
    refused = '{"code": "bad-credentials", "error": "stale"}'
    emulator.inject(Fault(CHAT, status=403, body=refused, content_type="application/json", times=1))
    assert agent(f"chat('{MODEL}', 'x')")["ok"]
    emulator.inject(Fault(CHAT, status=403, body=refused, content_type="application/json", times=2))
    assert agent(f"chat('{MODEL}', 'x')")["error"] == "reauth_required"


def test_a_spending_limit_is_no_credits(agent: Agent, emulator: Emulator) -> None:
    agent.sign_in()
    emulator.settings.spending_limit_reached = True
    refused = agent(f"chat('{MODEL}', 'x')")
    assert refused["error"] == "no_credits" and "spending limit" in refused["action"]
