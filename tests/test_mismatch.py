"""Issue 21 item 6: an issuer and base URLs that are not one service (one emulator's issuer, another's base
URLs) are named as such: chat() says the settings disagree instead of sending the person through a sign-in that
cannot help, and poll() and status() name no default model the subscription did not list."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

import exports
from xai_oauth._config import Config
from xai_oauth._exceptions import ConfigError, ReauthRequired
from xai_oauth.emulator import Emulator
from xai_oauth.transport._answer import Answer
from xai_oauth.transport._retry import API_RETRIES
from xai_oauth.transport._send_rules import Fail, Try, move_for, target

from .support.served import serve

REFUSED = Answer(401, {}, {"code": "unauthenticated:bad-credentials"}, "application/json")


@pytest.fixture
def two_emulators() -> Iterator[tuple[Emulator, Emulator]]:
    with Emulator(interval=1.0) as issuer, Emulator(interval=1.0) as api:
        yield issuer, api


def mixed_sign_in(issuer: Emulator, api: Emulator, monkeypatch: pytest.MonkeyPatch, **extra: str) -> dict[str, object]:
    """Sign in at ``issuer`` with ``api``'s base URLs in force; poll()'s connected answer."""
    for name, value in {**api.environ(), "XAI_OAUTH_ISSUER": issuer.url, **extra}.items():
        monkeypatch.setenv(name, value)
    started = exports.start()
    assert started["ok"], started
    issuer.approve(str(started["user_code"]))
    connected = exports.poll(wait=True, timeout=20)
    assert connected.get("status") == "connected", connected
    return connected


def test_a_mixed_set_up_is_named_and_claims_no_default(
    two_emulators: tuple[Emulator, Emulator], monkeypatch: pytest.MonkeyPatch, isolated_home: Path
) -> None:
    issuer, api = two_emulators
    connected = mixed_sign_in(issuer, api, monkeypatch)
    assert connected["default_model_id"] is None, connected
    assert any("XAI_OAUTH_ISSUER" in note for note in connected["notes"]), connected  # type: ignore[union-attr]

    status = exports.status()
    assert status["connected"] and status["default_model_id"] is None, status
    assert any("could not be listed" in note and "XAI_OAUTH_BASE_URL" in note for note in status["notes"])

    answer = exports.chat(messages="hi")
    assert answer["error"] == "config_invalid" and answer["http_status"] == 401, answer
    for said in (issuer.url, api.proxy_url, "XAI_OAUTH_ISSUER", "XAI_OAUTH_BASE_URL", "XAI_BASE_URL"):
        assert said in answer["message"] + answer["action"], said
    assert "logout()" not in answer["action"] and "start()" not in answer["action"]
    assert issuer.stats()["refreshes"] >= 1  # the forced refresh was made: the refused token was a fresh one


@pytest.mark.slow
def test_the_server_names_a_mixed_set_up_too(
    two_emulators: tuple[Emulator, Emulator], monkeypatch: pytest.MonkeyPatch, isolated_home: Path
) -> None:
    """``xai-oauth serve`` meets the same refusal: its error says the settings disagree, not "sign in again"."""
    issuer, api = two_emulators
    mixed_sign_in(issuer, api, monkeypatch)
    with serve(dict(os.environ)) as running:
        answer = httpx2.post(
            running.base_url + "/chat/completions",
            headers={"authorization": f"Bearer {running.key}"},
            json={"model": "grok-4.3", "messages": [{"role": "user", "content": "hi"}], "stream": True},
            timeout=60,
        )
    error = answer.json()["error"]
    assert error["code"] == "config_invalid", error
    assert "XAI_OAUTH_ISSUER" in error["message"] and "xai-oauth login" not in error["message"], error


def test_with_an_api_key_the_mixed_set_up_lists_its_models_but_claims_no_subscription_default(
    two_emulators: tuple[Emulator, Emulator], monkeypatch: pytest.MonkeyPatch, isolated_home: Path
) -> None:
    issuer, api = two_emulators
    api.settings.api_key = "xai-" + "k" * 40
    connected = mixed_sign_in(issuer, api, monkeypatch)
    assert connected["models"] and all(str(m).startswith("xai/") for m in connected["models"])  # type: ignore[union-attr]
    assert connected["default_model_id"] is None, connected
    assert any("Some models are missing" in note for note in connected["notes"])  # type: ignore[union-attr]
    assert exports.status()["default_model_id"] is None


def test_fixing_the_settings_lists_again_and_the_default_comes_back(
    two_emulators: tuple[Emulator, Emulator], monkeypatch: pytest.MonkeyPatch, isolated_home: Path
) -> None:
    issuer, api = two_emulators
    mixed_sign_in(issuer, api, monkeypatch)
    for name, value in issuer.environ().items():  # the same service's base URLs now
        monkeypatch.setenv(name, value)
    assert exports.models(refresh=True)["default_model_id"] == "xai-grok/grok-4.3"
    status = exports.status()
    assert status["default_model_id"] == "xai-grok/grok-4.3"
    assert not any("No default model" in note for note in status.get("notes", []))  # type: ignore[attr-defined]
    assert exports.chat(messages="hi")["ok"]


def test_a_subscription_with_no_chat_models_names_no_default(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, isolated_home: Path
) -> None:
    for name, value in emulator.environ().items():
        monkeypatch.setenv(name, value)
    started = exports.start()
    emulator.approve(str(started["user_code"]), email="free@example.com", tier=0)  # Free: lists nothing
    connected = exports.poll(wait=True, timeout=20)
    assert connected["status"] == "connected" and connected["default_model_id"] is None, connected
    assert any("listed no chat models" in note for note in connected["notes"])
    status = exports.status()
    assert status["default_model_id"] is None
    assert any("no chat models" in note for note in status["notes"])


# -- the rule, without sockets ----------------------------------------------------------------------------------


def _after_the_refresh(config: Config, served: bool | None) -> Fail:
    aim = target(config, "subscription", "xai-grok/grok-4.3", model_id="grok-4.3")
    now = Try("fresh-token", "1.0.6", True, renewed=True)
    move = move_for(config, API_RETRIES, aim, REFUSED, now, served=None if served is None else lambda _o: served)
    assert isinstance(move, Fail)
    return move


def test_xais_own_settings_keep_reauth_required() -> None:
    assert isinstance(_after_the_refresh(Config(), served=False).error, ReauthRequired)


def test_an_api_that_served_this_sign_in_before_keeps_reauth_required() -> None:
    mixed = Config(issuer="http://127.0.0.1:1", oauth_base_url="http://127.0.0.1:2/v1")
    assert isinstance(_after_the_refresh(mixed, served=True).error, ReauthRequired)
    assert isinstance(_after_the_refresh(mixed, served=None).error, ReauthRequired)  # a keeper that cannot tell
    error = _after_the_refresh(mixed, served=False).error
    assert isinstance(error, ConfigError) and "http://127.0.0.1:1" in error.message


def test_before_the_refresh_a_401_still_earns_one() -> None:
    mixed = Config(issuer="http://127.0.0.1:1", oauth_base_url="http://127.0.0.1:2/v1")
    aim = target(mixed, "subscription", "xai-grok/grok-4.3", model_id="grok-4.3")
    move = move_for(mixed, API_RETRIES, aim, REFUSED, Try("t", "1.0.6", True), served=lambda _o: False)
    assert not isinstance(move, Fail)
