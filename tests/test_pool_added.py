"""An account added through ``/admin`` while the server runs is a full member of the pool.

Refused by the API (401) after its one refresh, it cools (``reauth_required``)
and its requests fail over, as for an account signed in with the command. The
question whether the API accepts the issuer's tokens at all (else the settings
are at fault: ``config_invalid``, ``tests/test_mismatch.py``) is answered per
issuer and API: by what the API has served any of the pool's accounts, or by a
listing made for any profile at the issuer, not by the new sign-in's own.
"""

from __future__ import annotations

import http.client
import json
import os
from pathlib import Path
from typing import Any

from xai_oauth import Account, Config
from xai_oauth.emulator import Emulator, Fault

from .support.served import Served, serve, sign_in

ADMIN_KEY = "test-admin-key-" + "g" * 24
CHAT = "/v1/chat/completions"
REFUSED = '{"code": "unauthenticated:bad-credentials", "error": "The token is not valid."}'


def call(served: Served, method: str, path: str, key: str = ADMIN_KEY, body: Any = None) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=60)
    try:
        sent = None if body is None else json.dumps(body)
        conn.request(method, path, sent, {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read() or b"null")
    finally:
        conn.close()


def chat(served: Served, text: str) -> tuple[int, Any]:
    body = {"model": "grok-4.3", "messages": [{"role": "user", "content": text}]}
    return call(served, "POST", CHAT, served.key, body)


def test_an_account_added_at_run_time_fails_over_like_any_other(emulator: Emulator, isolated_home: Path) -> None:
    env = {**os.environ, **emulator.environ()}
    sign_in(emulator, {**env, "XAI_OAUTH_PROFILE": "default"}, email="dee@example.com")
    sign_in(emulator, {**env, "XAI_OAUTH_PROFILE": "frank"}, email="frank@example.com")
    args = ("--profile", "default", "--profile", "frank", "--strategy", "round-robin", "--admin-key", ADMIN_KEY)
    with serve(env, *args) as running:
        assert [chat(running, "warm up")[0] for _ in range(2)] == [200, 200]
        status, started = call(running, "POST", "/admin/accounts", body={"profile": "gina"})
        assert status == 202 and emulator.approve(started["user_code"], email="gina@example.com")
        status, joined = call(running, "POST", "/admin/accounts/gina/poll")
        assert status == 200 and joined["pooled"], joined

        emulator.inject(
            Fault(
                CHAT, status=401, body=REFUSED, content_type="application/json", account="gina@example.com", times=100
            )
        )
        answers = [chat(running, f"turn {n}") for n in range(9)]
        assert [status for status, _ in answers] == [200] * 9, answers  # was a 500 config_invalid every third
        status, listed = call(running, "GET", "/admin/accounts")
        rows = {row["profile"]: row for row in listed["accounts"]}
    assert [c["reason"] for c in rows["gina"]["cooldowns"]] == ["reauth_required"], rows["gina"]
    assert rows["default"]["cooldowns"] == [] and rows["frank"]["cooldowns"] == []
    assert emulator.stats()["refreshes"] == 1  # gina's one forced refresh, then she is out


def test_a_listing_for_any_profile_at_the_issuer_answers_for_a_new_sign_in(
    emulator: Emulator, isolated_home: Path
) -> None:
    env = {**os.environ, **emulator.environ()}
    for profile in ("listed", "new"):
        sign_in(emulator, {**env, "XAI_OAUTH_PROFILE": profile})
    with Account(Config.from_env({**env, "XAI_OAUTH_PROFILE": "new"})) as new:
        assert not new.served_by(emulator.proxy_url + "/v1")  # nobody at the issuer has listed anything yet
        with Account(Config.from_env({**env, "XAI_OAUTH_PROFILE": "listed"})) as listed:
            listed.remember_models({"models": [{"id": "xai-grok/grok-4.3"}]}, origin=emulator.proxy_url + "/v1")
        assert new.served_by(emulator.proxy_url + "/v1")
        assert not new.served_by("http://127.0.0.1:1/v1")  # another API: still unknown
