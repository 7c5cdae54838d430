"""No token, refresh token, id token or device code in any output, on any path, errors included."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx2
import jwt
import pytest

import exports
import xai_oauth.api._client  # noqa: F401 - loaded before its Account is patched below
from xai_oauth import Account
from xai_oauth._exceptions import XaiOAuthError
from xai_oauth.emulator import Emulator, Fault
from xai_oauth.emulator._demo import approve_in_browser

from .conftest import Agent, account_dir
from .support.fake_server import FakeAuthServer, FakeClock, device_code_answer

CANARY_ACCESS = jwt.encode({"tier": 2, "exp": 4_000_000_000, "canary": "CANARY-IN-JWT"}, "k" * 32, algorithm="HS256")
CANARIES = [
    CANARY_ACCESS,
    "CANARY-REFRESH-TOKEN-abcdef0123456789",
    "CANARY-ID-TOKEN-abcdef",
    "CANARY-DEVICE-CODE-0123456789",
]
ECHO = f"token {CANARIES[1]} was {CANARY_ACCESS}"  # a server that echoes secrets back in its error text

TOKEN_OK = (
    200,
    {
        "access_token": CANARY_ACCESS,
        "token_type": "Bearer",
        "expires_in": 60,
        "refresh_token": CANARIES[1],
        "id_token": CANARIES[2],
    },
)


def scenarios() -> list[tuple[str, list[tuple[str, Any]]]]:
    echo = (400, {"error": "invalid_request", "error_description": ECHO})
    html = httpx2.Response(503, text=f"<html>{ECHO}</html>", headers={"content-type": "text/html"})
    return [
        ("connect", [("/oauth2/token", TOKEN_OK)]),
        ("echoing error", [("/oauth2/token", echo)]),
        ("html page", [("/oauth2/token", html)]),
        ("denied", [("/oauth2/token", (400, {"error": "access_denied", "error_description": ECHO}))]),
        ("timeout", [("/oauth2/token", httpx2.ReadTimeout(ECHO))]),
        ("refresh echo", [("/oauth2/token", TOKEN_OK), ("/oauth2/token", echo)]),
        (
            "refresh invalid_grant",
            [
                ("/oauth2/token", TOKEN_OK),
                ("/oauth2/token", (400, {"error": "invalid_grant", "error_description": ECHO})),
            ],
        ),
        ("refresh html", [("/oauth2/token", TOKEN_OK), ("/oauth2/token", html)]),
        ("models 401", [("/oauth2/token", TOKEN_OK), ("/v1/models", (401, {"error": ECHO}))]),
        ("models html", [("/oauth2/token", TOKEN_OK), ("/v1/models", html)]),
        ("revoke fails", [("/oauth2/token", TOKEN_OK), ("/oauth2/revoke", (500, {"error": ECHO}))]),
        ("usage echo", [("/oauth2/token", TOKEN_OK), ("/v1/billing", (402, {"error": ECHO}))]),
        ("usage html", [("/oauth2/token", TOKEN_OK), ("/v1/billing", html)]),
    ]


@pytest.mark.parametrize(("name", "script"), scenarios(), ids=[s[0] for s in scenarios()])
def test_in_process_outputs_carry_no_secret(
    name: str,
    script: list[tuple[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    isolated_home: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    server = FakeAuthServer()
    server.queue("/oauth2/device/code", device_code_answer(device_code=CANARIES[3]))
    for path, answer in script:
        server.queue(path, answer)
    clock = FakeClock()
    account = Account(transport=server.transport(), now=clock, sleep=clock.sleep)
    monkeypatch.setattr("xai_oauth.api._client.Account", lambda *a, **k: account)
    monkeypatch.setenv("XAI_BASE_URL", "https://api.x.ai/v1")
    outputs: list[Any] = []
    for call in (
        exports.start,
        exports.poll,
        exports.status,
        lambda: exports.refresh(force=True),
        exports.models,
        exports.usage,
        exports.status,
        exports.logout,
        exports.poll,
        exports.refresh,
    ):
        result = call()
        outputs.append(result)
        json.dumps(result)  # JSON-ready, always
    for error_class in XaiOAuthError.__subclasses__():
        outputs.append(repr(error_class("m")))
    outputs += [repr(account), caplog.text]
    outputs += [p.read_text() for p in account_dir().glob("*.json") if p.name in ("state.json", "discovery.json")]
    blob = json.dumps(outputs, default=str)
    for canary in CANARIES:
        assert canary not in blob, f"{name}: a secret leaked"
    assert "CANARY" not in blob


def test_subprocess_outputs_carry_no_emulator_secret(agent: Agent, emulator: Emulator, isolated_home: Path) -> None:
    """The agent's view: stdout and stderr of every call, error paths included, vs every secret the emulator issued."""
    import time

    started = agent("start()")
    agent("poll()")
    approve_in_browser(str(started["verification_url_with_code"]))
    emulator.inject(Fault("/oauth2/token", status=503))
    time.sleep(1.1)
    assert agent("poll()")["error"] == "upstream_error"
    time.sleep(1.1)
    assert agent("poll()")["status"] == "connected"
    for expression in ("status()", "models()", "refresh(force=True)"):
        assert agent(expression)["ok"]
    emulator.settings.rotation_grace = 0  # a strict provider: the old token is never honoured again
    emulator.inject(Fault("/oauth2/token", status=200, body="{trunc", content_type="application/json", after=True))
    assert agent("refresh(force=True)")["error"] == "bad_response"  # token rotated, answer unreadable
    assert agent("refresh(force=True)")["error"] == "reauth_required"  # reuse detected: grant revoked
    assert agent("models()")["error"] == "reauth_required"
    agent("status()")
    agent("logout()")
    secrets = emulator.authority.secrets()
    assert len(secrets) >= 6
    blob = "\n".join(agent.outputs)
    for secret in secrets:
        assert secret not in blob
