"""The subscription's own route: xAI's chat proxy with its headers, as xAI's Grok CLI uses it.

Against the emulator's proxy origin, which enforces what the real one does
for the official client (token-auth header, version gate, model override,
streams only, store: false), and an api.x.ai that bills OAuth text calls as
API credit (``api_bills_oauth``), as many subscribers see.
"""

from __future__ import annotations

from typing import Any

import pytest

from xai_oauth._exceptions import ClientOutdated, NoCredits, RateLimited, TierDenied
from xai_oauth.emulator import Emulator, Fault
from xai_oauth.transport._api_errors import api_error

from .conftest import Agent

CHAT, RESPONSES = "/v1/chat/completions", "/v1/responses"
MULTI = "xai-grok/grok-4.20-multi-agent-0309"


def subscription_requests(emulator: Emulator) -> list[dict[str, Any]]:
    return [r for r in emulator.api_requests if r["credential"] == "subscription"]


def test_subscription_text_goes_to_the_proxy_with_its_headers(agent: Agent, emulator: Emulator) -> None:
    agent.sign_in()
    whole = agent("chat('xai-grok/grok-4.3', 'hello')")
    assert whole == {
        "ok": True,
        "model": "xai-grok/grok-4.3",
        "lane": "chat_completions",
        "content": "You said: hello",
        "finish_reason": "stop",
        "usage": {"prompt_tokens": 1, "completion_tokens": 3, "total_tokens": 4},
        "tool_calls": [],
    }
    assert agent(f"chat('{MULTI}', 'plan', thinking={{'effort': 'high'}})")["content"] == "16 agents considered: plan"
    assert agent("chat('xai-grok/grok-4.3', 'streamed', stream=True)")["content"] == "You said: streamed"
    sent = subscription_requests(emulator)
    assert [r["origin"] for r in sent] == ["proxy"] * 3
    for request in sent:
        headers, body = request["headers"], request["body"]
        assert headers["x-xai-token-auth"] == "xai-grok-cli"
        assert headers["x-authenticateresponse"] == "authenticate-response"
        assert headers["x-grok-model-override"] == body["model"] and "/" not in body["model"]
        assert headers["x-grok-client-version"] == "1.0.6"
        assert headers["user-agent"].startswith("xai-oauth/")
        assert body["stream"] is True  # whole answers too: the proxy serves most models only as streams
    assert sent[1]["body"]["store"] is False


def test_the_proxy_keeps_the_subscription_promise_where_api_x_ai_bills_credit(agent: Agent, emulator: Emulator) -> None:
    emulator.settings.api_bills_oauth = True
    agent.sign_in()
    assert agent("chat('xai-grok/grok-4.3', 'hi')")["content"] == "You said: hi"
    billed = agent("chat('xai-grok/grok-4.3', 'hi')", XAI_OAUTH_ROUTE="api")
    assert billed["error"] == "rate_limited" and billed["server_code"] == "subscription:free-usage-exhausted"
    assert "XAI_OAUTH_ROUTE" in billed["action"] and "API credit" in billed["action"]
    assert [r["origin"] for r in subscription_requests(emulator)] == ["proxy", "api"]


def test_route_api_sends_subscription_text_to_xai_base_url(agent: Agent, emulator: Emulator) -> None:
    agent.sign_in()
    assert agent("chat('xai-grok/grok-4.3', 'hi')", XAI_OAUTH_ROUTE="api")["content"] == "You said: hi"
    assert agent("models()", XAI_OAUTH_ROUTE="api")["ok"]
    sent = subscription_requests(emulator)
    assert [r["origin"] for r in sent] == ["api"] and "x-xai-token-auth" not in sent[0]["headers"]
    assert "stream" not in sent[0]["body"]


def test_version_gate_and_a_refusing_proxy_name_the_way_out(agent: Agent, emulator: Emulator) -> None:
    agent.sign_in()
    emulator.settings.min_client_version = "9.0.0"
    emulator.settings.gate_names_version = False  # a 426 that names a version heals itself: test_official.py
    outdated = agent("chat('xai-grok/grok-4.3', 'hi')")
    assert outdated["error"] == "client_outdated" and "XAI_OAUTH_CLIENT_VERSION" in outdated["action"]
    assert agent("chat('xai-grok/grok-4.3', 'hi')", XAI_OAUTH_CLIENT_VERSION="9.0.1")["ok"]
    emulator.settings.min_client_version = "1.0.0"
    emulator.inject(Fault(CHAT, status=403, body='{"code": "permission-denied", "error": "no"}', content_type="json"))
    refused = agent("chat('xai-grok/grok-4.3', 'hi')")
    assert refused["error"] == "tier_denied" and "XAI_OAUTH_ROUTE=api" in refused["action"]


def test_stored_responses_are_refused_on_the_proxy_with_the_reason(agent: Agent) -> None:
    agent.sign_in()
    refused = agent(f"chat('{MULTI}', 'again', previous_response_id='resp_1')")
    assert refused["error"] == "unsupported_parameter" and "store" in refused["message"]


def test_models_and_default_come_from_the_proxy(agent: Agent, emulator: Emulator) -> None:
    emulator.settings.proxy_default_model = "grok-4-fast"
    agent.sign_in()
    listed = agent("models()")
    assert listed["default_model_id"] == "xai-grok/grok-4-fast"
    assert agent("status()")["default_model_id"] == "xai-grok/grok-4-fast"
    assert agent("chat(messages='which?')")["model"] == "xai-grok/grok-4-fast"


def test_usage_meter_and_a_stale_tier_claim(agent: Agent, emulator: Emulator) -> None:
    agent.sign_in()
    reading = agent("usage()")
    assert reading["credit_usage_percent"] == 12.5 and reading["period"]["type"] == "USAGE_PERIOD_TYPE_WEEKLY"
    assert (reading["tier"], reading["tier_name"], reading["tier_matches_token"]) == (1, "SuperGrok", True)
    assert emulator.stats().get("refreshes", 0) == 0
    cached = agent("status()")["usage"]
    assert cached["credit_usage_percent"] == 12.5 and 0 <= cached["age_seconds"] < 60
    for grant in emulator.authority.grants.values():  # the person upgraded to Heavy; the token still says 1
        grant.tier = 5
    emulator.settings.live_tier = 5
    upgraded = agent("usage()")
    assert (upgraded["tier"], upgraded["tier_name"], upgraded["tier_matches_token"]) == (5, "SuperGrok Heavy", True)
    assert emulator.stats()["refreshes"] == 1 and agent("status()")["tier"] == 5


@pytest.mark.parametrize(
    ("status", "body", "route", "error", "action_names"),
    [
        (429, {"code": "subscription:free-usage-exhausted"}, "api", RateLimited, "XAI_OAUTH_ROUTE"),
        (402, {"code": "personal-team-blocked:spending-limit"}, "api", NoCredits, "XAI_OAUTH_ROUTE"),
        (403, {"code": "personal-team-blocked:spending-limit"}, "api", NoCredits, "XAI_OAUTH_ROUTE"),
        (403, {"error": "You are out of credits"}, "api", NoCredits, "XAI_OAUTH_ROUTE"),
        (402, {}, None, NoCredits, "console.x.ai"),
        (402, {}, "proxy", NoCredits, "usage()"),
        (426, {}, "proxy", ClientOutdated, "XAI_OAUTH_CLIENT_VERSION"),
        (403, {"code": "permission-denied"}, "proxy", TierDenied, "XAI_OAUTH_ROUTE=api"),
        (429, {"code": "rate-limited"}, "proxy", RateLimited, "rolling window"),
    ],
)
def test_each_refusal_names_its_way_out(
    status: int, body: dict[str, str], route: str | None, error: type, action_names: str
) -> None:
    credential = "subscription" if route else "api_key"
    exc = api_error(status, body, credential=credential, model="xai-grok/grok-4.3", route=route)
    assert isinstance(exc, error) and action_names in exc.action  # type: ignore[attr-defined]
