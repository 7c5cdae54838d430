"""The README's developer example, for real: the openai SDK over an httpx2 client with ``xai_oauth.Auth``."""

from __future__ import annotations

import httpx2
import openai
import pytest

import xai_oauth
from xai_oauth.emulator import Emulator


@pytest.mark.slow
def test_openai_sdk_with_auth_on_both_lanes(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in emulator.environ().items():
        monkeypatch.setenv(name, value)
    with xai_oauth.Account() as account:
        started = account.start()
        emulator.approve(started["user_code"])
        account.poll()
    with httpx2.Client(auth=xai_oauth.Auth()) as http:
        client = openai.OpenAI(base_url=emulator.api_url, api_key="unused", http_client=http)
        answer = client.chat.completions.create(model="grok-4.3", messages=[{"role": "user", "content": "via sdk"}])
        assert answer.choices[0].message.content == "You said: via sdk"

        emulator.authority.reject_issued_access_tokens()  # the next call meets a 401: one refresh, one retry
        assert "grok-4.3" in [m.id for m in client.models.list()]
        assert emulator.stats()["refreshes"] == 1

        stream = client.chat.completions.create(
            model="grok-4.3", messages=[{"role": "user", "content": "streamed"}], stream=True
        )
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "You said: streamed"
        response = client.responses.create(
            model="grok-4.20-multi-agent-0309", input="plan", reasoning={"effort": "high"}
        )
        assert response.output_text == "16 agents considered: plan"
    assert all(r["credential"] == "subscription" for r in emulator.api_requests)
