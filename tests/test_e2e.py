"""Every user-visible flow, the agent's way: exports in a fresh process per call, the emulator over real HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.request import Request, urlopen

import pytest

from xai_oauth.emulator import Emulator, Fault
from xai_oauth.emulator._demo import approve_in_browser

from .conftest import ROOT, Agent, account_dir


def signed_in(agent: Agent) -> dict[str, object]:
    started = agent("start()")
    approve_in_browser(str(started["verification_url_with_code"]))
    return agent("poll()")


def test_full_sign_in_status_models_refresh_logout(agent: Agent, emulator: Emulator, isolated_home: Path) -> None:
    started = agent("start()")
    assert started["ok"] and started["status"] == "pending"
    assert started["verification_url_with_code"] == f"{emulator.url}/device?user_code={started['user_code']}"
    assert {"verification_url", "expires_in", "expires_at", "interval"} <= set(started)
    assert agent("status()")["state"] == "pending"

    not_yet = agent("poll()")
    assert not_yet == {**not_yet, "ok": True, "status": "pending"} and not_yet["retry_after"] > 0

    approve_in_browser(str(started["verification_url_with_code"]))
    import time

    time.sleep(1.0)  # the emulator's interval: poll again only when allowed
    connected = agent("poll()")
    assert connected == {
        **connected,
        "ok": True,
        "status": "connected",
        "tier": 1,
        "tier_name": "SuperGrok",
        "default_model_id": "xai-grok/grok-4.3",
        "storage": "file",
    }

    status = agent("status()")
    assert status["connected"] and status["state"] == "connected" and 21_500 < status["expires_in"] <= 21_600

    models = agent("models()")
    assert models["default_model_id"] == "xai-grok/grok-4.3"
    listed = {m["id"]: m for m in models["models"]}
    assert listed["xai-grok/grok-4.20-multi-agent-0309"] == {
        "id": "xai-grok/grok-4.20-multi-agent-0309",
        "lane": "responses",
        "credential": "subscription",
        "context_window": 256_000,  # from the chat proxy's /models-v2 (issue 23)
        "max_output_tokens": 64_000,
    }
    assert models["image_models"] == [{"id": "xai-grok/grok-imagine-image", "credential": "subscription"}]
    assert models["video_models"] == [{"id": "xai-grok/grok-imagine-video", "credential": "subscription"}]
    status_models = agent("status()")["models"]
    assert status_models == agent("models()")["models"]  # one shape in both places
    assert "xai-grok/grok-4.3" in [m["id"] for m in status_models]

    assert agent("refresh()")["refreshed"] is False
    assert agent("refresh(force=True)")["refreshed"] is True
    assert emulator.stats()["refreshes"] == 1

    assert agent("logout()") == {"ok": True, "status": "logged_out", "revoked": True, "was_signed_in": True}
    assert emulator.stats()["live_grants"] == 0
    assert agent("logout()")["ok"]
    assert agent("status()")["state"] == "logged_out"
    lost = agent("poll()")
    assert lost["error"] == "no_pending_login" and "start()" in lost["action"]
    assert "xai-oauth" not in json.dumps(lost)  # the exports name calls; only the command names commands


def test_a_poll_right_after_approval_says_connected(agent: Agent, emulator: Emulator) -> None:
    """The person approves a moment after a poll; the next poll waits out the interval and asks, never
    reporting a "pending" the server did not say (and never polling faster than the interval)."""
    emulator.settings.interval = 3
    started = agent("start()")
    assert agent("poll()")["status"] == "pending"
    emulator.approve(str(started["user_code"]))
    assert agent("poll()")["status"] == "connected"
    assert emulator.stats()["device_polls"] == 2
    assert emulator.stats().get("slow_downs", 0) == 0


def test_denied(agent: Agent, emulator: Emulator) -> None:
    started = agent("start()")
    form = f"user_code={started['user_code']}&decision=deny".encode()
    urlopen(Request(f"{emulator.url}/device", data=form), timeout=5).read()
    denied = agent("poll()")
    assert denied == {**denied, "ok": False, "error": "access_denied", "code": "AccountAccessDenied"}
    assert "console.x.ai" in denied["action"]
    assert agent("poll()")["error"] == "no_pending_login"


def test_expired(agent: Agent, emulator: Emulator) -> None:
    started = agent("start()")
    emulator.expire(str(started["user_code"]))
    expired = agent("poll()")
    assert expired == {**expired, "ok": False, "error": "expired", "action": "call start() again"}


def test_slow_down(agent: Agent, emulator: Emulator, isolated_home: Path) -> None:
    agent("start()")
    emulator.inject(Fault("/oauth2/token", status=400, body='{"error": "slow_down"}', content_type="application/json"))
    slowed = agent("poll()")
    assert slowed["ok"] and slowed["status"] == "pending" and slowed["interval"] == 6
    assert json.loads((account_dir(agent.env) / "pending.json").read_text())["interval"] == 6


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault("/oauth2/token"), "upstream_error"),
        (Fault("/oauth2/token", status=200, body="<html>Just a moment...</html>"), "bad_response"),
        (Fault("/oauth2/token", status=200, body='{"access_tok', content_type="application/json"), "bad_response"),
        (Fault("/oauth2/token", status=429, body="{}", content_type="application/json"), "rate_limited"),
        (Fault("/oauth2/token", drop=True), "network"),
    ],
)
def test_bad_server_answers_keep_the_pending_login(agent: Agent, emulator: Emulator, fault: Fault, error: str) -> None:
    started = agent("start()")
    approve_in_browser(str(started["verification_url_with_code"]))
    emulator.inject(fault)
    failed = agent("poll()")
    assert failed["ok"] is False and failed["error"] == error and failed["action"]
    import time

    time.sleep(1.0)
    assert agent("poll()")["status"] == "connected"


def test_unreachable_issuer_is_a_network_error(agent: Agent) -> None:
    result = agent("start()", XAI_OAUTH_ISSUER="http://127.0.0.1:9")
    assert result["error"] == "network" and result["action"]


def test_keyring_store_across_processes(agent: Agent, tmp_path: Path, isolated_home: Path) -> None:
    keyring_env = {
        "XAI_OAUTH_STORE": "auto",
        "PYTHON_KEYRING_BACKEND": "tests.support.fake_keyrings.FileKeyring",
        "FAKE_KEYRING_FILE": str(tmp_path / "keyring.json"),
    }
    agent.env.update(keyring_env)
    assert signed_in(agent)["storage"] == "keyring"
    assert not (account_dir(agent.env) / "credentials.json").exists()
    assert (tmp_path / "keyring.json").exists()
    assert agent("status()")["storage"] == "keyring"
    assert agent("refresh(force=True)")["refreshed"] is True
    agent("logout()")
    assert json.loads((tmp_path / "keyring.json").read_text()) == {}


def test_hanging_keyring_falls_back_to_file_and_remembers(agent: Agent, isolated_home: Path) -> None:
    agent.env.update(
        {
            "XAI_OAUTH_STORE": "auto",
            "XAI_OAUTH_KEYRING_TIMEOUT": "0.5",
            "PYTHON_KEYRING_BACKEND": "tests.support.fake_keyrings.HangingKeyring",
        }
    )
    connected = signed_in(agent)
    assert connected["ok"] and connected["storage"] == "file"
    state = json.loads((account_dir(agent.env) / "state.json").read_text())
    assert "did not answer within 0.5 s" in state["keyring_unusable"]
    assert agent("refresh(force=True)")["ok"]  # the remembered choice: no second probe, no hang


def test_corrupt_state_file_is_reported_and_kept(agent: Agent, isolated_home: Path) -> None:
    signed_in(agent)
    (account_dir(agent.env) / "state.json").write_text("{not json")
    broken = agent("status()")
    assert broken == {**broken, "ok": False, "error": "store_corrupt"}
    assert list(account_dir(agent.env).glob("state.json.corrupt-*"))
    assert agent("refresh(force=True)")["ok"]  # the credential itself was never touched
    assert agent("status()")["connected"]


def test_missing_dependency_is_a_clear_error(agent: Agent, tmp_path: Path) -> None:
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "httpx2.py").write_text("raise ModuleNotFoundError(\"No module named 'httpx2'\", name='httpx2')\n")
    result = agent("start()", PYTHONPATH=f"{blocker}:{ROOT}")
    assert result == {**result, "ok": False, "error": "missing_dependency"} and "pip install" in result["action"]


def test_auth_renews_a_refused_token_for_a_developer_client(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """xai_oauth.Auth in an httpx2.Client over real HTTP: a 401 from the API costs one refresh and one retry."""
    import httpx2

    import xai_oauth

    for name, value in emulator.environ().items():
        monkeypatch.setenv(name, value)
    with xai_oauth.Account() as account, httpx2.Client(auth=xai_oauth.Auth(account)) as client:
        started = account.start()
        emulator.approve(started["user_code"])
        assert account.poll()["status"] == "connected"
        assert client.get(f"{emulator.api_url}/models").status_code == 200
        emulator.authority.reject_issued_access_tokens()
        response = client.get(f"{emulator.api_url}/models")
    assert response.status_code == 200 and "grok-4.3" in response.text
    assert emulator.stats()["refreshes"] == 1 and emulator.stats()["live_grants"] == 1
