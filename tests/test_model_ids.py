"""Issue 21 item 8: a model id no HTTP header can carry (``xai-grok/模型``, ``grök-4``, a newline) is a clear
``model_not_found`` before anything is sent, through ``chat()`` and the local server alike, and a listing that
holds one neither offers it nor makes it the default that every later call would use."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import exports
from xai_oauth._config import Config
from xai_oauth._exceptions import ModelNotFound
from xai_oauth._models import parse_model, pick_default, sendable
from xai_oauth._state import read_state, write_state
from xai_oauth.emulator import MODELS_BY_TIER, Emulator

from .support.served import serve, sign_in

PREFIXES = st.sampled_from(["", "xai-grok/", "xai/"])
#: any code point, lone surrogates and control characters included
ANY_TEXT = st.text(st.characters(exclude_categories=()), min_size=1, max_size=12)
UNSENDABLE = ["xai-grok/模型", "grök-4", "xai/grök-4", "xai-grok/a\nb", "xai-grok/a\x00b", "xai-grok/\ud800", "\x7f"]


@pytest.fixture
def signed_in(emulator: Emulator, isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    environ = {**os.environ, **emulator.environ()}
    for name, value in emulator.environ().items():
        monkeypatch.setenv(name, value)
    sign_in(emulator, environ)
    return environ


@pytest.mark.parametrize("model", UNSENDABLE)
def test_an_id_no_header_can_carry_is_model_not_found(model: str) -> None:
    with pytest.raises(ModelNotFound) as refused:
        parse_model(model, signed_in=True)
    assert "printable ASCII" in refused.value.message
    json.dumps(refused.value.message)  # a lone surrogate is shown escaped, never raw


def test_plain_ids_still_parse() -> None:
    for model in ("xai-grok/grok-4.3", "grok-4.20-multi-agent-0309", "xai/grok-code-fast-1"):
        assert sendable(parse_model(model, signed_in=True).model_id)


@pytest.mark.parametrize("model", UNSENDABLE)
def test_chat_says_model_not_found_before_sending(signed_in: dict[str, str], model: str) -> None:
    result = exports.chat(model=model, messages="hi")
    assert result["ok"] is False and result["error"] == "model_not_found", result
    assert "printable ASCII" in result["message"] and "models()" in result["action"]  # our words, not the API's


def test_unicode_ids_through_chat_are_never_internal(
    signed_in: dict[str, str], capfd: pytest.CaptureFixture[str]
) -> None:
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(PREFIXES, ANY_TEXT)
    def check(prefix: str, tail: str) -> None:
        result = exports.chat(model=prefix + tail, messages="hi")
        json.dumps(result)
        assert result.get("error") != "internal", result
        if not sendable((prefix + tail).strip().removeprefix("xai-grok/").removeprefix("xai/")):
            assert result["error"] in ("model_not_found", "unsupported_parameter"), result

    check()
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err


@pytest.mark.slow
def test_unicode_ids_through_the_local_server_are_never_internal(signed_in: dict[str, str]) -> None:
    with serve(signed_in) as served:
        client = httpx2.Client(base_url=served.base_url, headers={"Authorization": f"Bearer {served.key}"}, timeout=30)

        @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(st.sampled_from(["", "xai-grok/"]), ANY_TEXT, st.sampled_from(["/chat/completions", "/responses"]))
        def check(prefix: str, tail: str, path: str) -> None:
            body = (
                {"model": prefix + tail, "messages": [{"role": "user", "content": "hi"}]}
                if path == "/chat/completions"
                else {"model": prefix + tail, "input": "hi"}
            )
            answer = client.post(path, json=body)
            assert answer.status_code < 500, answer.text
            assert "internal" not in answer.text and "Traceback" not in answer.text

        with client:
            check()
            answer = client.post(
                "/chat/completions", json={"model": "grök-4", "messages": [{"role": "user", "content": "x"}]}
            )
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "model_not_found", answer.text
    assert "Traceback" not in served.output()


# -- listings and the cached default ----------------------------------------------------------------------------


@pytest.fixture
def garbled_listing(monkeypatch: pytest.MonkeyPatch, emulator: Emulator) -> Iterator[None]:
    """The emulator lists ids no header can carry, and its chat proxy names one of them its default."""
    monkeypatch.setitem(MODELS_BY_TIER, 1, ["grök-4", "模型", "bad\nid", *MODELS_BY_TIER[1]])
    monkeypatch.setattr(emulator.settings, "proxy_default_model", "grök-4")
    yield


def test_a_listing_skips_ids_no_request_could_carry(signed_in: dict[str, str], garbled_listing: None) -> None:
    listed = exports.models(refresh=True)
    assert listed["ok"], listed
    ids = [m["id"] for m in listed["models"]]
    assert "xai-grok/grok-4.3" in ids and all(sendable(i) for i in ids), ids
    assert listed["default_model_id"] == "xai-grok/grok-4.3"
    assert exports.status()["default_model_id"] == "xai-grok/grok-4.3"
    assert exports.chat(messages="hi")["ok"]


def test_a_poisoned_cached_default_is_passed_over(signed_in: dict[str, str]) -> None:
    """A listing cached before this check (or planted) may name any default: chat() and status() pass it over."""
    assert exports.models(refresh=True)["ok"]
    paths = Config.from_env().paths
    state = read_state(paths)
    state["models"]["default_model_id"] = "xai-grok/grök-4"
    write_state(paths, state)
    answer = exports.chat(messages="hi")
    assert answer["ok"] and answer["model"] == "xai-grok/grok-4.3", answer
    assert exports.status()["default_model_id"] == "xai-grok/grok-4.3"


def test_pick_default_never_picks_an_unsendable_id() -> None:
    assert pick_default(["xai-grok/grök-4", "xai-grok/grok-4.3"], "xai-grok/grök-4") == "xai-grok/grok-4.3"
    assert pick_default(["xai-grok/模型"]) is None
