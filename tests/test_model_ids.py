"""Issue 21 item 8: a model id no HTTP header can carry (``xai-grok/模型``, ``grök-4``, a newline, a lone
surrogate, 100 KB of letters) is a clear ``model_not_found`` before anything is sent, through ``chat()`` and the
local server alike, whatever the HTTP client would make of it, and a listing that holds one neither offers it nor
makes it the default that every later call would use."""

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
from xai_oauth._models import MAX_ID_LENGTH, parse_model, pick_default, sendable
from xai_oauth.emulator import MODELS_BY_TIER, Emulator
from xai_oauth.store._state import read_state, write_state

from .support.served import serve, sign_in

PREFIXES = st.sampled_from(["", "xai-grok/", "xai/"])
#: any code point, lone surrogates and control characters included; or an id longer than any of xAI's
ANY_TEXT = st.text(st.characters(exclude_categories=()), min_size=1, max_size=12) | st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=MAX_ID_LENGTH - 2, max_size=MAX_ID_LENGTH + 40
)
UNSENDABLE = [
    "xai-grok/模型",
    "grök-4",
    "xai/grök-4",
    "xai-grok/a\nb",
    "xai-grok/a\x00b",
    "xai-grok/\ud800",
    "\udc00",
    "xai/grok-\udc00",
    "\x7f",
    "g" * (MAX_ID_LENGTH + 1),
    "xai-grok/" + "g" * 100_000,
]


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
    for model in ("xai-grok/grok-4.3", "grok-4.20-multi-agent-0309", "xai/grok-code-fast-1", "g" * MAX_ID_LENGTH):
        assert sendable(parse_model(model, signed_in=True).model_id)


def test_a_long_id_is_shown_cut_not_whole() -> None:
    with pytest.raises(ModelNotFound) as refused:
        parse_model("xai-grok/" + "g" * 100_000, signed_in=True)
    assert len(refused.value.message) < 400 and "(100009 characters)" in refused.value.message


@pytest.mark.parametrize("model", UNSENDABLE)
def test_chat_says_model_not_found_before_sending(signed_in: dict[str, str], emulator: Emulator, model: str) -> None:
    result = exports.chat(model=model, messages="hi")
    assert result["ok"] is False and result["error"] == "model_not_found", result
    assert "printable ASCII" in result["message"] and "models()" in result["action"]  # our words, not the API's
    assert emulator.api_requests == []  # nothing was sent


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
def test_unicode_ids_through_the_local_server_are_never_internal(signed_in: dict[str, str], emulator: Emulator) -> None:
    with serve(signed_in) as served:
        client = httpx2.Client(base_url=served.base_url, headers={"Authorization": f"Bearer {served.key}"}, timeout=30)

        def post(path: str, model: str) -> httpx2.Response:
            body = (
                {"model": model, "messages": [{"role": "user", "content": "hi"}]}
                if path == "/chat/completions"
                else {"model": model, "input": "hi"}
            )
            # as JSON text spells it (a lone surrogate escaped), so the test's own client never has to encode one
            return client.post(path, content=json.dumps(body).encode(), headers={"content-type": "application/json"})

        @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(st.sampled_from(["", "xai-grok/"]), ANY_TEXT, st.sampled_from(["/chat/completions", "/responses"]))
        def check(prefix: str, tail: str, path: str) -> None:
            answer = post(path, prefix + tail)
            assert answer.status_code < 500, answer.text
            assert "internal" not in answer.text and "Traceback" not in answer.text
            if not sendable((prefix + tail).strip().removeprefix("xai-grok/")):
                # a lone surrogate is no text at all, and the body is refused naming the field before any id is read
                assert answer.json()["error"]["code"] in ("model_not_found", "invalid_request"), answer.text

        with client:
            check()
            refused = {model: post("/chat/completions", model) for model in UNSENDABLE}
        assert all(sendable(sent["body"].get("model")) for sent in emulator.api_requests)  # nothing else went out
    for model, answer in refused.items():
        code = answer.json()["error"]["code"]
        if "\ud800" in model or "\udc00" in model:
            assert answer.status_code == 400 and code == "invalid_request", answer.text
            assert "model is not text" in answer.json()["error"]["message"]
        else:
            assert answer.status_code == 404 and code == "model_not_found", (model[:40], answer.text)
            assert len(answer.text) < 1000
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
