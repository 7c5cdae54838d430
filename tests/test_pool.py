"""Several subscriptions behind one endpoint (issue 26): the emulator's several people, and the server's pool.

The emulator first: each sign-in can be its own person (email, ``sub``,
tier), a fault can aim at one account, and every text request is counted by
the client request id the local server sends, so a duplicate send is seen.
"""

from __future__ import annotations

import http.client
import json
import os
import stat
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from xai_oauth import Account, Config
from xai_oauth._routes import REQUEST_ID_HEADER, proxy_headers
from xai_oauth.api._conversation import conversation_id
from xai_oauth.emulator import Emulator, Fault
from xai_oauth.server._cooldowns import Cooldown, Cooldowns
from xai_oauth.server._pool import explicit_key

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


# -- the cooldown table -------------------------------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


def test_a_cooldown_is_kept_0600_and_seen_by_another_table(tmp_path: Path) -> None:
    clock = _Clock()
    one = Cooldowns(str(tmp_path), now=clock, monotonic=clock)
    two = Cooldowns(str(tmp_path), now=clock, monotonic=clock)
    assert two.blocking("a/ann", "grok-4.3") is None
    one.record(Cooldown("a/ann", "rate_limited", clock.t + 30, since=clock.t))
    assert one.blocking("a/ann", "grok-4.3") is not None  # at once, here
    assert stat.S_IMODE(os.stat(one.path).st_mode) == 0o600
    clock.t += 1  # past the recheck: the other table looks at the file again
    assert two.blocking("a/ann", "grok-4.3") == one.blocking("a/ann", "grok-4.3")
    assert two.blocking("a/bob", "grok-4.3") is None
    clock.t += 30
    assert one.blocking("a/ann", "grok-4.3") is None and two.active() == []


def test_the_file_is_read_again_only_when_it_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock()
    table = Cooldowns(str(tmp_path), now=clock, monotonic=clock)
    Cooldowns(str(tmp_path), now=clock).record(Cooldown("a/ann", "no_credits", clock.t + 3600))
    reads: list[int] = []
    original = Cooldowns._read
    monkeypatch.setattr(Cooldowns, "_read", lambda self: reads.append(1) or original(self))
    for _ in range(50):
        assert table.blocking("a/ann", None) is not None
        clock.t += 0.1
    assert len(reads) == 1  # 5 s of choices, one read: the stat saw the same mtime


def test_tier_denied_skips_one_model_and_reauth_ends_with_a_new_sign_in(tmp_path: Path) -> None:
    clock = _Clock()
    saved: dict[str, float | None] = {"a/bob": None}
    table = Cooldowns(str(tmp_path), now=clock, monotonic=clock, saved_at=saved.get)  # type: ignore[arg-type]
    table.record(Cooldown("a/ann", "tier_denied", clock.t + 3600, model="grok-code-fast-1", since=clock.t))
    table.record(Cooldown("a/bob", "reauth_required", None, since=clock.t))
    assert table.blocking("a/ann", "grok-code-fast-1") is not None and table.blocking("a/ann", "grok-4.3") is None
    clock.t += 86400 * 30
    assert table.blocking("a/bob", "grok-4.3") is not None  # no end of its own
    saved["a/bob"] = clock.t  # `xai-oauth login --profile bob` saved a credential
    clock.t += 1
    assert table.blocking("a/bob", "grok-4.3") is None


def test_a_damaged_cooldown_file_holds_no_account_out(tmp_path: Path) -> None:
    table = Cooldowns(str(tmp_path))
    os.makedirs(table.dir, mode=0o700)
    fd = os.open(table.path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b'{"cooldowns": [{"slot": 1}, "x", {"slot": "a", "reason": "rate_limited", "until": "soon"}]}')
    os.close(fd)
    assert table.active() == []


def test_the_conversation_key_is_an_hmac_never_the_text() -> None:
    secret = b"s" * 32
    opening = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "my secret plan"}]
    later = [*opening, {"role": "assistant", "content": "ok"}, {"role": "user", "content": "and then?"}]
    key = conversation_id(secret, opening, None)
    assert key == conversation_id(secret, later, None)  # the same conversation, turn after turn
    assert key != conversation_id(b"t" * 32, opening, None) and "secret" not in (key or "")
    assert conversation_id(secret, later, "header:abc") != key
    assert explicit_key({"session_id": "abc"}, {}) == "header:abc"
    assert explicit_key({}, {"prompt_cache_key": "k"}) == "cache:k"
    assert explicit_key({}, {"metadata": {"user_id": "u"}}) == "user:u"


def test_the_headroom_strategy_places_a_new_conversation_on_the_least_used_account(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from xai_oauth.server._pool import Member, Pool

    members = [Member(p, f"slot/{p}", SimpleNamespace(account=None)) for p in ("ann", "bob", "cat")]  # type: ignore[arg-type]
    pool = Pool(members, Cooldowns(str(tmp_path)), strategy="headroom")
    for profile, used in (("ann", 80.0), ("bob", 10.0), ("cat", 45.0)):
        pool.headroom.note(profile, used)
    assert [m.profile for m in pool._order(None, "grok-4.3")] == ["bob", "cat", "ann"]
    pool.headroom.note("bob", 95.0)  # bob filled up: new conversations go elsewhere first
    assert [m.profile for m in pool._order(None, "grok-4.3")][0] == "cat"


def test_headroom_is_read_from_billing_in_the_background(emulator: Emulator) -> None:
    """An account never read counts as unused; on the event loop its /billing reading is fetched off the loop."""
    import asyncio

    from xai_oauth.server._headroom import Headroom

    env = _env(emulator, "ann")
    sign_in(emulator, env, email="ann@example.com", tier=1)
    emulator.settings.credit_usage_percent = 37.5

    async def read() -> float:
        headroom = Headroom()
        with Account(Config.from_env(env)) as account:
            assert headroom.used("ann", account) == 0.0  # unknown: tried first, read meanwhile
            while headroom._tasks:
                await asyncio.sleep(0.05)
            return headroom.used("ann", account)

    assert asyncio.run(read()) == 37.5
