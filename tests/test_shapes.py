"""Property tests: whatever a server or a damaged file holds, the readers answer or raise a typed error.

The one failure these rule out is ``internal``: a ``TypeError``, ``KeyError``,
``RecursionError``, ``OverflowError`` or ``UnicodeEncodeError`` escaping a
reader, which ``exports`` can only report as our own bug.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xai_oauth._exceptions import XaiOAuthError
from xai_oauth._models import parse_model
from xai_oauth.auth._device_rules import PendingLogin
from xai_oauth.store._backends import FileStore
from xai_oauth.store._claims import unverified_claims
from xai_oauth.store._credential import credential_from_token_response
from xai_oauth.store._files import read_json
from xai_oauth.store._journal import read_journal
from xai_oauth.store._paths import Paths
from xai_oauth.store._state import read_state
from xai_oauth.wire._answers import read_answer
from xai_oauth.wire._streams import new_stream

CHAT = parse_model("xai-grok/grok-4.3", signed_in=True)
MULTI = parse_model("xai-grok/grok-4.20-multi-agent", signed_in=True)

#: Any JSON value, with the keys our readers look for more likely than chance would make them.
KEYS = st.sampled_from(
    [
        "choices", "delta", "content", "tool_calls", "function", "name", "arguments", "index", "id",
        "finish_reason", "message", "usage", "output", "type", "text", "response", "status", "error",
        "call_id", "access_token", "refresh_token", "expires_in", "token_type", "exp", "iat", "tier",
        "credential", "models", "expires_at", "fetched_at", "lifetime", "issued_at", "x",
    ]
)  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["response.output_text.delta", "response.completed", "message", "output_text", "Bearer"])
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS | st.text(max_size=5), inner, max_size=6),
    max_leaves=30,
)
OBJECTS = st.dictionaries(KEYS, JSON, max_size=8)
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def typed(call: Any, *args: Any) -> Any:
    try:
        return call(*args)
    except XaiOAuthError:
        return None


@FAST
@given(OBJECTS)
def test_whole_answers_of_both_lanes(body: dict[str, Any]) -> None:
    for choice in (CHAT, MULTI):
        answer = typed(read_answer, choice, body)
        if answer is not None:
            assert isinstance(answer["content"], str) and isinstance(answer["tool_calls"], list)
            answer["content"].encode("utf-8")  # printable: no lone surrogate made it through
            json.dumps(answer)


EVENT_DATA = st.one_of(
    OBJECTS.map(json.dumps),
    st.text(max_size=40),
    st.just("[DONE]"),
    st.text(alphabet="\ud800\udbff\udc00\udfffab", max_size=6).map(
        lambda t: json.dumps({"choices": [{"delta": {"content": t}}], "type": "response.output_text.delta", "delta": t})
    ),
)


@FAST
@given(st.lists(st.tuples(st.sampled_from(["", "message", "response.completed"]), EVENT_DATA), max_size=8))
def test_event_streams_of_both_lanes(events: list[tuple[str, str]]) -> None:
    for choice in (CHAT, MULTI):
        reader = new_stream(choice)
        try:
            for name, data in events:
                delta = reader.feed(name, data)
                if delta is not None:
                    delta.encode("utf-8")
            result = reader.result()
        except XaiOAuthError:
            continue
        result["content"].encode("utf-8")
        json.dumps(result)


def test_a_surrogate_pair_split_across_two_deltas_is_joined() -> None:
    reader = new_stream(CHAT)
    first = reader.feed("", '{"choices": [{"delta": {"content": "smile \\ud83d"}}]}')
    second = reader.feed("", '{"choices": [{"delta": {"content": "\\ude00!"}}]}')
    reader.feed("", "[DONE]")
    assert (first, second) == ("smile ", "\U0001f600!")
    assert reader.result()["content"] == "smile \U0001f600!"


def test_a_lone_surrogate_becomes_a_replacement_character() -> None:
    reader = new_stream(MULTI)
    assert reader.feed("", '{"type": "response.output_text.delta", "delta": "a\\udc00b"}') == "a\ufffdb"


@FAST
@given(OBJECTS, st.floats(min_value=0, max_value=2e9))
def test_token_answers(body: dict[str, Any], now: float) -> None:
    credential = typed(credential_from_token_response, body, now)
    if credential is not None:
        assert 0 < credential.lifetime <= 366 * 86400 and now < credential.expires_at


@FAST
@given(st.text(max_size=200) | OBJECTS.map(lambda o: "e30." + json.dumps(o) + ".x"))
def test_claims_reader_never_raises(token: str) -> None:
    assert isinstance(unverified_claims(token), dict)


@pytest.fixture
def slot(tmp_path: Path) -> Paths:
    paths = Paths(str(tmp_path / "home"), "slot")
    os.makedirs(paths.dir, mode=0o700)
    return paths


def write(path: str, raw: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(raw)
    os.chmod(path, 0o600)


FILE_CONTENTS = st.one_of(
    OBJECTS.map(lambda o: json.dumps(o).encode()),
    st.binary(max_size=64),
    st.sampled_from([b"[" * 50_000, b'{"a":' * 50_000, b'{"expires_at": 1e999}', b"NaN", b'{"x": Infinity}']),
)
FILES = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@FILES
@given(FILE_CONTENTS)
def test_every_local_file_loader(slot: Paths, raw: bytes) -> None:
    loaders = [
        (slot.state, lambda: read_state(slot)),
        (slot.credentials, lambda: FileStore(slot.credentials).load()),
        (slot.pending, lambda: PendingLogin.from_dict(read_json(slot.pending) or {})),
        (slot.discovery, lambda: read_json(slot.discovery)),
        (slot.journal, lambda: read_journal(slot.journal)),
    ]
    for path, load in loaders:
        write(path, raw)
        try:
            load()
        except (XaiOAuthError, ValueError):  # ValueError: PendingLogin's own "not a pending login"
            pass
        for leftover in Path(slot.dir).glob("*.corrupt-*"):
            leftover.unlink()
