"""Talking to Grok end to end: exports in fresh processes against the emulator's API over real HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

import xai_oauth
from xai_oauth.emulator import Emulator, Fault

from .conftest import Agent
from .test_e2e import signed_in

API_KEY = "xai-CANARY-APIKEY-" + "k" * 40
MULTI = "grok-4.20-multi-agent-0309"
CHAT = "/v1/chat/completions"


@pytest.fixture
def with_key(emulator: Emulator) -> dict[str, str]:
    emulator.settings.api_key = API_KEY
    return {"XAI_API_KEY": API_KEY}


def unauthenticated(status: int = 401, times: int = 1) -> Fault:
    """The chat endpoint refusing the bearer as xAI does, ``times`` times."""
    body = '{"code": "unauthenticated:bad-credentials"}'
    return Fault(CHAT, status=status, body=body, content_type="application/json", times=times)


def streamed_text(agent: Agent) -> str:
    """What the last export printed before its JSON line: the deltas, as they arrived."""
    lines = agent.outputs[-2].strip().splitlines()
    return "\n".join(lines[:-1])


class TestLanes:
    def test_chat_completions_whole_and_streamed(self, agent: Agent, emulator: Emulator) -> None:
        signed_in(agent)
        whole = agent("chat('xai-grok/grok-4.3', [{'role': 'user', 'content': 'hello grok'}], temperature=0.1)")
        assert whole == {
            "ok": True,
            "model": "xai-grok/grok-4.3",
            "lane": "chat_completions",
            "content": "You said: hello grok",
            "finish_reason": "stop",
            "usage": {"prompt_tokens": 2, "completion_tokens": 4, "total_tokens": 6},
            "tool_calls": [],
        }
        streamed = agent("chat('xai-grok/grok-4.3', 'hello grok', stream=True)")
        # the same conversation again (issue 23): its start is cached, and the answer says so
        assert streamed == {**whole, "usage": {**whole["usage"], "cached_tokens": 2}}
        assert streamed_text(agent) == "You said: hello grok"
        assert emulator.api_requests[0]["body"]["temperature"] == 0.1
        assert emulator.api_requests[1]["body"]["stream"] is True

    @pytest.mark.parametrize(("effort", "agents"), [("low", 4), ("medium", 4), ("high", 16)])
    def test_responses_lane_whole_and_streamed_with_effort(
        self, agent: Agent, emulator: Emulator, effort: str, agents: int
    ) -> None:
        signed_in(agent)
        call = (
            f"chat('xai-grok/{MULTI}', [{{'role': 'system', 'content': 'terse'}}, "
            f"{{'role': 'user', 'content': 'plan'}}], thinking={{'effort': '{effort}'}}, max_tokens=64"
        )
        whole = agent(call + ")")
        assert whole["lane"] == "responses" and whole["content"] == f"{agents} agents considered: plan"
        assert whole["usage"]["reasoning_tokens"] == 10 * agents
        streamed = agent(call + ", stream=True)")
        assert streamed["content"] == whole["content"] and streamed_text(agent) == whole["content"]
        sent = emulator.api_requests[0]
        assert sent["path"] == "/v1/responses" and sent["body"]["reasoning"] == {"effort": effort}
        assert sent["body"]["max_output_tokens"] == 64 and "max_tokens" not in sent["body"]
        assert sent["body"]["input"][0] == {"role": "system", "content": "terse"}

    def test_unsupported_parameter_is_an_error_before_sending(self, agent: Agent, emulator: Emulator) -> None:
        signed_in(agent)
        refused = agent(f"chat('xai-grok/{MULTI}', 'x', seed=1)")
        assert refused["error"] == "unsupported_parameter" and refused["parameter"] == "seed"
        assert emulator.api_requests == []


class TestByok:
    def test_prefixes_pick_the_credential(self, agent: Agent, emulator: Emulator, with_key: dict[str, str]) -> None:
        assert agent("chat('grok-4.3', 'bare, no sign-in', **{})", **with_key)["ok"]
        signed_in(agent)
        assert agent("chat('grok-4.3', 'bare, signed in')", **with_key)["model"] == "xai-grok/grok-4.3"
        assert agent("chat('xai/grok-4.3-heavy', 'by key')", **with_key)["model"] == "xai/grok-4.3-heavy"
        denied = agent("chat('xai-grok/grok-4.3-heavy', 'by subscription')", **with_key)
        assert denied["error"] == "tier_denied" and "API key" in denied["action"]
        assert [r["credential"] for r in emulator.api_requests] == [
            "api_key",
            "subscription",
            "api_key",
            "subscription",
        ]

    def test_models_lists_both_side_by_side(self, agent: Agent, with_key: dict[str, str]) -> None:
        signed_in(agent)
        listing = agent("models()", **with_key)
        ids = [m["id"] for m in listing["models"]]
        assert "xai-grok/grok-4.3" in ids and "xai/grok-4.3-heavy" in ids and "xai-grok/grok-4.3-heavy" not in ids
        assert {"id": f"xai/{MULTI}", "lane": "responses", "credential": "api_key"} in listing["models"]
        assert listing["default_model_id"] == "xai-grok/grok-4.3"
        assert (
            not any("imagine" in i for i in ids)
            and {"id": "xai/grok-imagine-video", "credential": "api_key"} in listing["video_models"]
            and not any("video" in m["id"] for m in listing["image_models"])
        )

    def test_one_credential_failing_does_not_hide_the_other(self, agent: Agent, emulator: Emulator) -> None:
        emulator.settings.api_key = API_KEY
        signed_in(agent)
        listing = agent("models()", XAI_API_KEY="xai-a-wrong-key")
        assert listing["ok"] and {m["credential"] for m in listing["models"]} == {"subscription"}
        assert "api_key_invalid" in listing["notes"][0]

    def test_key_from_env_file_in_home(self, agent: Agent, emulator: Emulator, isolated_home: Path) -> None:
        emulator.settings.api_key = API_KEY
        isolated_home.mkdir(parents=True, exist_ok=True)
        (isolated_home / ".env.xai").write_text(f"XAI_API_KEY={API_KEY}\nXAI_DEFAULT_MODEL=xai/grok-4-fast\n")
        answer = agent("chat(messages='default model, key from .env.xai')")
        assert answer["ok"] and answer["model"] == "xai/grok-4-fast"

    def test_both_credentials_in_one_process(self, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
        emulator.settings.api_key = API_KEY
        for name, value in {**emulator.environ(), "XAI_API_KEY": API_KEY}.items():
            monkeypatch.setenv(name, value)
        with xai_oauth.Client() as client:
            started = client.account.start()
            emulator.approve(started["user_code"])
            client.account.poll()
            by_key = client.chat("xai/grok-4.3", "one")
            by_plan = "".join(client.stream("xai-grok/grok-4.3", "two"))
        assert by_key["model"] == "xai/grok-4.3" and by_plan == "You said: two"
        assert [r["credential"] for r in emulator.api_requests] == ["api_key", "subscription"]
        assert API_KEY not in repr(client) and API_KEY not in repr(client.config)


class TestErrorTable:
    def test_401_refreshes_once_and_retries(self, agent: Agent, emulator: Emulator) -> None:
        signed_in(agent)
        emulator.authority.reject_issued_access_tokens()
        assert agent("chat('xai-grok/grok-4.3', 'after a 401')")["ok"]
        assert emulator.stats()["refreshes"] == 1

    def test_repeated_401_is_reauth_required(self, agent: Agent, emulator: Emulator) -> None:
        signed_in(agent)
        emulator.inject(unauthenticated(times=2))
        failed = agent("chat('xai-grok/grok-4.3', 'x')")
        assert failed["error"] == "reauth_required" and "logout()" in failed["action"] and failed["http_status"] == 401
        assert emulator.stats()["refreshes"] == 1

    def test_403_unauthenticated_counts_as_auth_failure(self, agent: Agent, emulator: Emulator) -> None:
        signed_in(agent)
        emulator.inject(unauthenticated(status=403))
        assert agent("chat('xai-grok/grok-4.3', 'x')")["ok"] and emulator.stats()["refreshes"] == 1

    def test_403_tier_and_404_model(self, agent: Agent) -> None:
        signed_in(agent)
        assert agent("chat('xai-grok/grok-4.3-heavy', 'x')")["error"] == "tier_denied"
        missing = agent("chat('xai-grok/grok-9', 'x')")
        assert (
            missing["error"] == "model_not_found" and "models()" in missing["action"] and missing["http_status"] == 404
        )

    def test_429_usage_exhausted(self, agent: Agent, emulator: Emulator) -> None:
        signed_in(agent)
        emulator.inject(
            Fault(
                CHAT,
                status=429,
                content_type="application/json",
                body='{"code": "subscription:free-usage-exhausted", "error": "usage exhausted"}',
                times=3,  # a short Retry-After (1 s) is waited out twice (issue 23); the third 429 is reported
            )
        )
        limited = agent("chat('xai-grok/grok-4.3', 'x')")
        assert limited == {
            **limited,
            "ok": False,
            "error": "rate_limited",
            "retry_after": 1.0,
            "server_code": "subscription:free-usage-exhausted",
            "http_status": 429,
        }
        assert "API key" in limited["action"]

    def test_5xx_retried_then_upstream_error(self, agent: Agent, emulator: Emulator) -> None:
        signed_in(agent)
        emulator.inject(Fault(CHAT, status=502, times=1))
        assert agent("chat('xai-grok/grok-4.3', 'x')")["ok"]
        emulator.inject(Fault(CHAT, status=503, times=3))
        failed = agent("chat('xai-grok/grok-4.3', 'x')")
        assert failed["error"] == "upstream_error" and "API key" in failed["action"]
        assert len(emulator.api_requests) == 1  # the faulted tries never reached the model

    def test_timeout_and_refused_connection_are_network(self, agent: Agent, emulator: Emulator) -> None:
        signed_in(agent)
        emulator.inject(Fault(CHAT, status=200, delay=3))
        slow = agent("chat('xai-grok/grok-4.3', 'x')", XAI_OAUTH_READ_TIMEOUT="0.5")
        assert slow["error"] == "network" and "in time" in slow["message"]
        refused = agent("chat('xai-grok/grok-4.3', 'x')", XAI_OAUTH_BASE_URL="http://127.0.0.1:9/v1")
        assert refused["error"] == "network" and "connection" in refused["action"]

    def test_nothing_to_sign_with(self, agent: Agent) -> None:
        nobody = agent("chat('grok-4.3', 'x')")
        assert nobody["error"] == "not_signed_in" and "XAI_API_KEY" in nobody["action"]
        assert agent("chat('xai/grok-4.3', 'x')")["error"] == "not_signed_in"

    @pytest.mark.parametrize("drop", [False, True])
    def test_truncated_stream_is_an_error_not_a_short_answer(
        self, agent: Agent, emulator: Emulator, drop: bool
    ) -> None:
        signed_in(agent)
        emulator.settings.reply_repeat = 5
        emulator.inject(Fault(CHAT, after=True, cut_stream=True, drop=drop))
        cut = agent("chat('xai-grok/grok-4.3', 'a long answer', stream=True)")
        assert cut["error"] == "stream_incomplete" and cut["partial_content"].startswith("You said")
        emulator.inject(Fault("/v1/responses", after=True, cut_stream=True, drop=drop))
        cut = agent(f"chat('xai-grok/{MULTI}', 'a long answer', stream=True)")
        assert cut["error"] == "stream_incomplete" and cut["partial_content"].startswith("4 agents")

    @pytest.mark.parametrize("stream", [False, True])
    def test_read_timeout_is_a_deadline_for_the_whole_answer(
        self, agent: Agent, emulator: Emulator, stream: bool
    ) -> None:
        """Each event arrives well within the timeout; the answer as a whole does not. It is cut at the deadline."""
        signed_in(agent)
        emulator.settings.reply_repeat = 20
        emulator.settings.stream_delay = 0.1  # ~60 events, 6 s in all
        late = agent(f"chat('xai-grok/grok-4.3', 'go on', stream={stream})", XAI_OAUTH_READ_TIMEOUT="1")
        assert late["error"] == "network" and "within 1 s" in late["message"], late

    def test_models_answer_from_cache_when_offline(self, agent: Agent) -> None:
        signed_in(agent)
        online = agent("models()")
        # refresh=True: past the fresh-listing TTL (issue 22/23), so the unreachable proxy is really tried
        offline = agent("models(refresh=True)", XAI_OAUTH_BASE_URL="http://127.0.0.1:9/v1")
        assert offline["ok"] and offline["cached"] and offline["models"] == online["models"]
        assert "cache" in offline["notes"][0]
        agent("logout()")
        assert "models" not in agent("status()")


def test_no_secret_in_any_chat_output(agent: Agent, emulator: Emulator, with_key: dict[str, str]) -> None:
    """Every path of this module's kind, errors included, scanned for every secret the emulator issued."""
    signed_in(agent)
    calls = [
        "models()",
        "chat('xai-grok/grok-4.3', 'x')",
        "chat('xai/grok-4.3', 'x', stream=True)",
        f"chat('xai-grok/{MULTI}', 'x', stream=True)",
        "chat('xai-grok/grok-4.3-heavy', 'x')",
    ]
    for call in calls:
        assert agent(call, **with_key)["ok"] in (True, False)
    emulator.inject(unauthenticated(times=2))
    agent("chat('xai-grok/grok-4.3', 'x')", **with_key)
    emulator.settings.api_key = "another-key"
    assert agent("chat('xai/grok-4.3', 'x')", **with_key)["error"] == "api_key_invalid"
    emulator.inject(Fault(CHAT, after=True, cut_stream=True, drop=True))
    agent("chat('xai-grok/grok-4.3', 'x', stream=True)", **with_key)
    secrets = [*emulator.authority.secrets(), API_KEY]
    for output in agent.outputs:
        for secret in secrets:
            assert secret not in output


def test_a_chat_call_loads_neither_jwt_nor_keyring(agent: Agent, emulator: Emulator, with_key: dict[str, str]) -> None:
    """They cost ~90 and ~120 ms at start-up; a chat call needs neither unless it must refresh."""
    signed_in(agent)
    for model in ("xai-grok/grok-4.3", "xai/grok-4.3"):
        expression = f"chat({model!r}, 'x')['ok'] and sorted(__import__('sys').modules.keys() & {{'jwt', 'keyring'}})"
        assert agent(expression, **with_key) == [], model


def test_connecting_lists_the_models_and_says_how_to_switch(agent: Agent) -> None:
    connected = signed_in(agent)
    assert "xai-grok/grok-4.3" in connected["models"] and "/model" not in connected["switch_hint"]  # no such command
    assert "chat(model='xai-grok/grok-4.3')" in connected["switch_hint"]
    assert agent("status()")["models"]  # listed at connect: status() has them without a models() call


def test_a_key_that_is_not_an_xai_key_gets_a_hint(agent: Agent, emulator: Emulator) -> None:
    emulator.settings.api_key = "xai-the-real-one-" + "k" * 30
    wrong = agent("chat('xai/grok-4.3', 'x')", XAI_API_KEY="sk-" + "q" * 40)
    assert wrong["error"] == "api_key_invalid" and "start with 'xai-'" in wrong["action"], wrong
    assert any("xai-" in note for note in agent("status()", XAI_API_KEY="sk-" + "q" * 40)["notes"])


def test_an_empty_answer_carries_a_note_to_ask_again(agent: Agent, emulator: Emulator) -> None:
    signed_in(agent)
    empty = '{"choices": [{"index": 0, "message": {"role": "assistant", "content": ""}, "finish_reason": "stop"}]}'
    emulator.inject(Fault(CHAT, status=200, body=empty, content_type="application/json"))
    answer = agent("chat('xai-grok/grok-4.3', 'x')")
    assert answer["ok"] and answer["content"] == "" and "asking again" in answer["note"]
    assert "note" not in agent("chat('xai-grok/grok-4.3', 'x')")


@pytest.mark.parametrize(("model", "limit"), [("grok-4.3", "max_tokens"), (MULTI, "max_output_tokens")])
def test_nonsense_numbers_are_refused_by_the_api_as_invalid_requests(agent: Agent, model: str, limit: str) -> None:
    signed_in(agent)
    refused = agent(f"chat('xai-grok/{model}', 'x', max_tokens=-5)")
    assert refused["error"] == "invalid_request" and limit in refused["message"] and "-5" in refused["message"]
    assert agent(f"chat('xai-grok/{model}', 'x', temperature=7)")["error"] == "invalid_request"
