"""Several subscriptions behind one endpoint (issue 26): the emulator's several people, and the server's pool.

The emulator first: each sign-in can be its own person (email, ``sub``,
tier), a fault can aim at one account, and every text request is counted by
the client request id the local server sends, so a duplicate send is seen.
"""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

from xai_oauth import Account, Config
from xai_oauth._routes import REQUEST_ID_HEADER, proxy_headers
from xai_oauth.emulator import Emulator, Fault

from .support.served import sign_in


def _env(emulator: Emulator, profile: str) -> dict[str, str]:
    import os

    return {**os.environ, **emulator.environ(), "XAI_OAUTH_PROFILE": profile}


def _token(env: dict[str, str]) -> str:
    with Account(Config.from_env(env)) as account:
        return account.access_token()


def _chat(emulator: Emulator, token: str, request_id: str = "", model: str = "grok-4.3") -> tuple[int, Any]:
    """One streamed chat completion at the emulator's chat proxy, as the local server sends it."""
    where = urlsplit(emulator.proxy_url)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    headers.update(proxy_headers(model, "1.0.6"))
    if request_id:
        headers[REQUEST_ID_HEADER] = request_id
    body = {"model": model, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    conn = http.client.HTTPConnection(where.hostname or "127.0.0.1", where.port, timeout=10)
    try:
        conn.request("POST", "/v1/chat/completions", body=json.dumps(body), headers=headers)
        answer = conn.getresponse()
        raw = answer.read()
    finally:
        conn.close()
    return answer.status, raw


def test_each_sign_in_can_be_its_own_person_with_its_own_tier(emulator: Emulator) -> None:
    sign_in(emulator, _env(emulator, "ann"), email="ann@example.com", tier=1)
    sign_in(emulator, _env(emulator, "bob"), email="bob@example.com", tier=2)
    ann = Account(Config.from_env(_env(emulator, "ann"))).status()
    bob = Account(Config.from_env(_env(emulator, "bob"))).status()
    assert (ann["account"], bob["account"]) == ("ann@example.com", "bob@example.com")
    assert ann["tier"] == 1 and bob["tier"] == 2
    subs = {grant.sub for grant in emulator.authority.grants.values()}
    assert len(subs) == 2
    # bob's tier (X Basic) does not include grok-code-fast-1: refused for him only
    assert _chat(emulator, _token(_env(emulator, "ann")), model="grok-code-fast-1")[0] == 200
    assert _chat(emulator, _token(_env(emulator, "bob")), model="grok-code-fast-1")[0] == 403


def test_signing_in_again_is_the_same_account(emulator: Emulator) -> None:
    sign_in(emulator, _env(emulator, "ann"), email="ann@example.com")
    sign_in(emulator, _env(emulator, "ann2"), email="ann@example.com")
    assert len({grant.sub for grant in emulator.authority.grants.values()}) == 1


def test_a_fault_aimed_at_one_account_meets_only_its_requests(emulator: Emulator) -> None:
    sign_in(emulator, _env(emulator, "ann"), email="ann@example.com")
    sign_in(emulator, _env(emulator, "bob"), email="bob@example.com")
    ann, bob = _token(_env(emulator, "ann")), _token(_env(emulator, "bob"))
    emulator.inject(Fault("/v1/chat/completions", status=429, account="ann@example.com", times=2, retry_after=7))
    assert _chat(emulator, bob)[0] == 200
    assert _chat(emulator, ann)[0] == 429
    assert _chat(emulator, bob)[0] == 200
    assert _chat(emulator, ann)[0] == 429
    assert _chat(emulator, ann)[0] == 200  # spent
    sub = next(g.sub for g in emulator.authority.grants.values() if g.email == "bob@example.com")
    emulator.inject(Fault("/v1/chat/completions", status=402, account=sub, body="{}", content_type="application/json"))
    assert _chat(emulator, ann)[0] == 200
    assert _chat(emulator, bob)[0] == 402


def test_a_429_fault_says_its_own_retry_after(emulator: Emulator) -> None:
    emulator.inject(Fault("/v1/models", status=429, retry_after=42))
    conn = http.client.HTTPConnection("127.0.0.1", int(emulator.url.rsplit(":", 1)[1]), timeout=10)
    conn.request("GET", "/v1/models")
    answer = conn.getresponse()
    answer.read()
    conn.close()
    assert (answer.status, answer.getheader("Retry-After")) == (429, "42")


def test_attempts_and_answers_are_counted_per_client_request_id(emulator: Emulator) -> None:
    sign_in(emulator, _env(emulator, "ann"), email="ann@example.com")
    token = _token(_env(emulator, "ann"))
    emulator.inject(Fault("/v1/chat/completions", status=429, times=1))
    assert _chat(emulator, token, "req-1")[0] == 429
    assert _chat(emulator, token, "req-1")[0] == 200
    assert _chat(emulator, token, "req-2")[0] == 200
    assert _chat(emulator, token)[0] == 200  # no id: not counted
    assert dict(emulator.attempts) == {"req-1": 2, "req-2": 1}
    assert dict(emulator.answered) == {"req-1": 1, "req-2": 1}
    accounts = {r["account"] for r in emulator.api_requests}
    assert accounts == {next(iter(emulator.authority.grants.values())).sub}


def test_revoking_one_account_ends_only_its_grants(emulator: Emulator) -> None:
    sign_in(emulator, _env(emulator, "ann"), email="ann@example.com")
    sign_in(emulator, _env(emulator, "bob"), email="bob@example.com")
    ann, bob = _token(_env(emulator, "ann")), _token(_env(emulator, "bob"))
    assert emulator.revoke_account("ann@example.com") == 1
    assert _chat(emulator, ann)[0] == 401
    assert _chat(emulator, bob)[0] == 200


def test_faults_for_one_account_are_injected_over_the_control_endpoint_too() -> None:
    fault = Fault.from_json({"path": "/v1/responses", "status": 429, "account": "ann@example.com", "retry_after": 3})
    assert (fault.account, fault.retry_after) == ("ann@example.com", 3)
