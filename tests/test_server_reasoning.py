"""Reasoning kept whole through ``xai-oauth serve``: the real SDKs, the real command, the emulator's sealed reasoning.

xAI continues a model's reasoning from the ``encrypted_content`` of the
reasoning items a client sends back. The emulator seals its reasoning when
asked (``include``) and says in its answer what sealed reasoning it read
(``emulator._reasoning``), so these tests see a whole round trip: Responses
items passed through untouched, and Anthropic thinking signatures turned
into the same items.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from xai_oauth.emulator import Emulator
from xai_oauth.emulator._reasoning import seal

from .support.served import Served, signed_in_server

SEALED = ["reasoning.encrypted_content"]
CONTINUED = "You said: second (continuing reasoning about: first)"


@pytest.fixture
def served(emulator: Emulator, isolated_home: Path) -> Iterator[Served]:
    with signed_in_server(emulator) as running:
        yield running


def last_sent(emulator: Emulator) -> dict[str, Any]:
    request: dict[str, Any] = emulator.api_requests[-1]
    return request


def reasoning_sent(emulator: Emulator) -> list[dict[str, Any]]:
    return [item for item in last_sent(emulator)["body"]["input"] if item.get("type") == "reasoning"]


@pytest.mark.parametrize("stream", [False, True])
def test_openai_responses_reasoning_items_reach_xai_intact(served: Served, emulator: Emulator, stream: bool) -> None:
    client = served.keep(openai.OpenAI(base_url=served.base_url, api_key=served.key, max_retries=0))
    if stream:
        with client.responses.stream(model="grok-4.3", input="first", include=SEALED) as events:
            first = events.get_final_response()
    else:
        first = client.responses.create(model="grok-4.3", input="first", include=SEALED)
    reasoning = first.output[0]
    assert reasoning.type == "reasoning" and reasoning.encrypted_content == seal("first")
    assert first.output_text == "You said: first"
    # the request went as it was, on the subscription's proxy, with nothing stored there
    sent = last_sent(emulator)
    assert sent["path"].endswith("/responses") and sent["credential"] == "subscription" and sent["origin"] == "proxy"
    assert sent["body"]["store"] is False and sent["body"]["include"] == SEALED

    turn = [
        {"role": "user", "content": "first"},
        *[item.model_dump(exclude_none=True) for item in first.output],
        {"role": "user", "content": "second"},
    ]
    second = client.responses.create(model="grok-4.3", input=turn)
    assert second.output_text == CONTINUED
    assert reasoning_sent(emulator) == [turn[1]]  # the item, encrypted_content and all, exactly as the client sent it


def test_a_chat_lane_model_answers_responses_on_xais_responses_too(served: Served, emulator: Emulator) -> None:
    client = served.keep(openai.OpenAI(base_url=served.base_url, api_key=served.key, max_retries=0))
    answer = client.responses.create(model="grok-code-fast-1", input="hi", instructions="be brief")
    assert answer.output_text == "You said: hi" and answer.model == "grok-code-fast-1"
    sent = last_sent(emulator)
    assert sent["path"].endswith("/responses") and sent["body"]["instructions"] == "be brief"


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_thinking_signature_round_trip(served: Served, emulator: Emulator, stream: bool) -> None:
    client = served.keep(anthropic.Anthropic(base_url=served.origin, api_key=served.key, max_retries=0))
    asked: dict[str, Any] = {
        "model": "grok-4.3",
        "max_tokens": 4000,
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "messages": [{"role": "user", "content": "first"}],
    }
    if stream:
        with client.messages.stream(**asked) as events:
            first = events.get_final_message()
    else:
        first = client.messages.create(**asked)
    thinking, text = first.content
    assert thinking.type == "thinking" and thinking.thinking == "Thinking about: first"
    assert thinking.signature == seal("first")  # xAI's sealed reasoning, carried as the signature
    assert text.type == "text" and text.text == "You said: first"
    assert last_sent(emulator)["body"]["include"] == SEALED

    turn = [
        *asked["messages"],
        {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
        {"role": "user", "content": "second"},
    ]
    second = client.messages.create(**{**asked, "messages": turn})
    assert [block.text for block in second.content if block.type == "text"] == [CONTINUED]
    (sent,) = reasoning_sent(emulator)
    assert sent["encrypted_content"] == thinking.signature
    kinds = [item.get("type", item.get("role")) for item in last_sent(emulator)["body"]["input"]]
    assert kinds == ["user", "reasoning", "assistant", "user"]  # in its place: before the answer it led to


def test_anthropic_without_thinking_stays_on_the_models_lane(served: Served, emulator: Emulator) -> None:
    client = served.keep(anthropic.Anthropic(base_url=served.origin, api_key=served.key, max_retries=0))
    message = client.messages.create(model="grok-4.3", max_tokens=50, messages=[{"role": "user", "content": "hi"}])
    assert [block.type for block in message.content] == ["text"]
    assert last_sent(emulator)["path"].endswith("/chat/completions")
