"""The pool's management API and /metrics (issue 26, items 4 and 5): end to end through ``xai-oauth serve``.

Two signed-in profiles (ann, bob) behind the real command, against the
emulator; the door (loopback, admin key) is also checked on a fake ASGI
scope, since a test cannot call from another machine.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from xai_oauth.emulator import Emulator, Fault
from xai_oauth.server._admin_door import AdminDoor, is_loopback_peer, load_admin_key
from xai_oauth.server._guard import Guard
from xai_oauth.server._keys import ClientKeys
from xai_oauth.server._ledger import fingerprint

from .support.served import ROOT, Served, serve, sign_in

#: every test here starts fresh interpreters or waits in real time
pytestmark = pytest.mark.slow

ADMIN_KEY = "test-admin-key-" + "a" * 24
PEOPLE = {"ann": ("ann@example.com", 1), "bob": ("bob@example.com", 2), "cat": ("cat@example.com", 1)}
JSON = "application/json"


@pytest.fixture
def env(emulator: Emulator, isolated_home: Path) -> dict[str, str]:
    environ = {**os.environ, **emulator.environ()}
    for profile in ("ann", "bob"):
        email, tier = PEOPLE[profile]
        sign_in(emulator, {**environ, "XAI_OAUTH_PROFILE": profile}, email=email, tier=tier)
    return environ


@pytest.fixture
def pool(env: dict[str, str]) -> Iterator[Served]:
    with serve(env, "--profile", "ann", "--profile", "bob", "--admin-key", ADMIN_KEY) as running:
        yield running


def call(
    served: Served, method: str, path: str, *, key: str = ADMIN_KEY, body: Any = None
) -> tuple[int, dict[str, str], str]:
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=60)
    try:
        headers = {"Authorization": f"Bearer {key}", "Content-Type": JSON}
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        answer = conn.getresponse()
        text = answer.read().decode()
    finally:
        conn.close()
    return answer.status, {k.lower(): v for k, v in answer.getheaders()}, text


def chat(served: Served, text: str, *, key: str | None = None) -> tuple[int, str]:
    body = {"model": "grok-4.3", "stream": True, "messages": [{"role": "user", "content": text}]}
    status, _, raw = call(served, "POST", "/v1/chat/completions", key=key or served.key, body=body)
    return status, raw


def accounts(served: Served) -> dict[str, dict[str, Any]]:
    status, _, text = call(served, "GET", "/admin/accounts")
    assert status == 200, text
    return {row["profile"]: row for row in json.loads(text)["accounts"]}


def tokens_in(data: Any) -> Iterator[str]:
    """Every string kept under a key that names a token, anywhere in ``data``."""
    if isinstance(data, dict):
        for name, value in data.items():
            if isinstance(value, str) and "token" in name:
                yield value
            else:
                yield from tokens_in(value)
    elif isinstance(data, list):
        for item in data:
            yield from tokens_in(item)


def sub_of(emulator: Emulator, email: str) -> str:
    return next(g.sub for g in emulator.authority.grants.values() if g.email == email)


def test_accounts_lists_who_tier_cooldowns_and_what_each_served(pool: Served, emulator: Emulator) -> None:
    assert chat(pool, "one")[0] == 200 and chat(pool, "two")[0] == 200  # fill-first: ann serves both
    rows = accounts(pool)
    assert list(rows) == ["ann", "bob"]
    assert rows["ann"]["account"] == "ann@example.com" and rows["bob"]["account"] == "bob@example.com"
    assert rows["ann"]["tier"] and rows["ann"]["state"] == "connected" and rows["ann"]["cooldowns"] == []
    served = rows["ann"]["served"]
    assert served["requests"] == 2 and served["input_tokens"] > 0 and served["output_tokens"] > 0
    assert rows["bob"]["served"]["requests"] == 0 and rows["bob"]["last_error"] is None
    status, _, text = call(pool, "GET", "/admin/accounts?refresh=1")  # reads /billing for each account
    assert status == 200 and all(isinstance(r["usage_percent"], (int, float)) for r in json.loads(text)["accounts"])


def test_a_cooldown_shows_its_reason_and_reset_ends_it(pool: Served, emulator: Emulator) -> None:
    ann = sub_of(emulator, "ann@example.com")
    emulator.inject(
        Fault("/v1/chat/completions", status=429, account=ann, retry_after=120, body="{}", content_type=JSON)
    )
    assert chat(pool, "hello")[0] == 200  # ann refused, bob answered
    rows = accounts(pool)
    [cooldown] = rows["ann"]["cooldowns"]
    assert cooldown["reason"] == "rate_limited" and cooldown["until"] - cooldown["since"] == pytest.approx(120)
    assert rows["ann"]["last_error"]["code"] == "rate_limited" and rows["bob"]["served"]["requests"] == 1
    assert call(pool, "POST", "/admin/accounts/ann/reset")[0] == 200
    assert accounts(pool)["ann"]["cooldowns"] == []
    assert json.loads((Path(os.environ["XAI_OAUTH_HOME"]) / "pool" / "cooldowns.json").read_text())["cooldowns"] == []
    before = len(emulator.api_requests)
    assert chat(pool, "again")[0] == 200 and emulator.api_requests[before]["account"] == ann  # ann serves again
    assert call(pool, "POST", "/admin/accounts/nobody/reset")[0] == 404


def test_delete_signs_the_profile_out_and_takes_it_out_of_the_pool(pool: Served, emulator: Emulator) -> None:
    bob = sub_of(emulator, "bob@example.com")
    status, _, text = call(pool, "DELETE", "/admin/accounts/ann")
    assert status == 200 and json.loads(text) == {"profile": "ann", "status": "logged_out", "revoked": True}
    assert list(accounts(pool)) == ["bob"]
    before = len(emulator.api_requests)
    assert chat(pool, "after")[0] == 200 and emulator.api_requests[before]["account"] == bob
    listed = subprocess.run(
        [sys.executable, "-m", "xai_oauth", "--profile", "ann", "status", "--json"],
        env={**os.environ, **emulator.environ(), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    assert json.loads(listed.stdout)["state"] == "logged_out"
    status, _, text = call(pool, "DELETE", "/admin/accounts/bob")
    assert status == 409 and "last account" in text  # a pool keeps one account


def test_a_new_profile_signs_in_through_post_and_poll_and_joins_the_pool(pool: Served, emulator: Emulator) -> None:
    assert call(pool, "POST", "/admin/accounts", body={"profile": "../x"})[0] == 400
    assert call(pool, "POST", "/admin/accounts", body={"profile": "ann"})[0] == 409
    status, _, text = call(pool, "POST", "/admin/accounts", body={"profile": "cat"})
    started = json.loads(text)
    assert status == 202 and started["status"] == "pending" and started["verification_url_with_code"]
    assert "device_code" not in text
    status, _, text = call(pool, "POST", "/admin/accounts/cat/poll")
    assert status == 200 and json.loads(text)["status"] == "pending"
    assert emulator.approve(started["user_code"], email="cat@example.com", tier=1)
    status, _, text = call(pool, "POST", "/admin/accounts/cat/poll")
    joined = json.loads(text)
    assert status == 200 and joined.pop("expires_in") > 0 and joined.pop("tier_name")
    assert joined == {"profile": "cat", "status": "connected", "account": "cat@example.com", "pooled": True}
    assert list(accounts(pool)) == ["ann", "bob", "cat"]
    for profile in ("ann", "bob"):  # cat is last in order: make it the one left to serve
        assert call(pool, "DELETE", f"/admin/accounts/{profile}")[0] == 200
    before = len(emulator.api_requests)
    assert chat(pool, "cat?")[0] == 200 and emulator.api_requests[before]["account"] == sub_of(
        emulator, "cat@example.com"
    )


def test_usage_counts_per_client_key_and_per_account_by_fingerprint(env: dict[str, str]) -> None:
    other = "second-client-key-" + "z" * 24
    with serve(env, "--profile", "ann", "--profile", "bob", "--admin-key", ADMIN_KEY, "--api-key", other) as running:
        for text in ("a", "b", "c"):
            assert chat(running, text)[0] == 200
        assert chat(running, "d", key=other)[0] == 200
        status, _, text = call(running, "GET", "/admin/usage")
    usage = json.loads(text)
    assert status == 200 and running.key not in text and other not in text
    assert usage["clients"][fingerprint(running.key)]["requests"] == 3
    assert usage["clients"][fingerprint(other)]["requests"] == 1
    assert usage["accounts"]["ann"]["requests"] == 4 and usage["accounts"]["ann"]["output_tokens"] > 0


def test_keys_do_not_cross_client_keys_are_refused_on_admin_and_the_admin_key_on_clients(pool: Served) -> None:
    for path in ("/admin/accounts", "/admin/usage", "/metrics"):
        status, headers, text = call(pool, "GET", path, key=pool.key)
        assert status == 401 and "admin key" in text
    assert call(pool, "GET", "/admin/accounts", key="")[0] == 401
    status, _ = chat(pool, "hi", key=ADMIN_KEY)
    assert status == 401
    assert call(pool, "GET", "/v1/models", key=ADMIN_KEY)[0] == 401


def test_a_caller_not_on_loopback_is_refused_unless_the_operator_allows_it() -> None:
    keys = ClientKeys((ADMIN_KEY,), "test", True)
    headers = [(b"authorization", f"Bearer {ADMIN_KEY}".encode())]

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    def status_for(peer: tuple[str, int] | None, door: AdminDoor, path: str = "/admin/accounts") -> int:
        sent: list[Any] = []

        async def send(message: Any) -> None:
            sent.append(message)

        async def receive() -> Any:
            return {"type": "http.request", "body": b""}

        guard = Guard(
            inner,
            keys=ClientKeys(("client-key-" + "c" * 20,), "t", True),
            refuse=lambda p, s, c, m: {"error": {"code": c}},
            max_body=1000,
            body_timeout=5,
            admin=door,
        )
        scope = {"type": "http", "path": path, "method": "GET", "headers": headers, "client": peer}
        asyncio.run(guard(scope, receive, send))
        return int(sent[0]["status"])

    local = AdminDoor(keys)
    assert status_for(("127.0.0.1", 5), local) == 200 and status_for(("::1", 5), local) == 200
    assert status_for(("::ffff:127.0.0.1", 5), local) == 200
    for peer in (("192.168.1.20", 5), ("10.0.0.1", 5), ("::ffff:8.8.8.8", 5), ("testclient", 5), None):
        assert status_for(peer, local) == 403
    assert status_for(("192.168.1.20", 5), local, "/metrics") == 403
    assert status_for(("192.168.1.20", 5), AdminDoor(keys, from_anywhere=True)) == 200
    assert status_for(("192.168.1.20", 5), local, "/v1/models") == 401  # a client path: the client key, not this door
    assert not is_loopback_peer(("localhost.evil", 1)) and is_loopback_peer(("127.8.9.1", 1))


def test_metrics_parse_and_count_requests_tokens_and_cooling(pool: Served, emulator: Emulator) -> None:
    for text in ("one", "two"):
        assert chat(pool, text)[0] == 200
    emulator.inject(
        Fault(
            "/v1/chat/completions",
            status=429,
            account=sub_of(emulator, "ann@example.com"),
            retry_after=60,
            body="{}",
            content_type=JSON,
        )
    )
    assert chat(pool, "three")[0] == 200
    status, headers, text = call(pool, "GET", "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    req = "xai_oauth_requests_total"
    assert samples[(req, (("account", "ann"), ("model", "grok-4.3"), ("status", "200")))] == 2
    assert samples[(req, (("account", "bob"), ("model", "grok-4.3"), ("status", "200")))] == 1
    assert samples[("xai_oauth_tokens_total", (("account", "ann"), ("kind", "output")))] > 0
    assert samples[("xai_oauth_upstream_seconds_count", ())] == 4  # ann twice, then ann refused and bob
    assert samples[("xai_oauth_accounts_cooling", ())] == 1
    assert not any(name.startswith(req) and dict(labels).get("account") == "-" for name, labels in samples)


def test_the_admin_key_is_made_once_0600_and_never_printed(env: dict[str, str], isolated_home: Path) -> None:
    with serve(env, "--profile", "ann") as running:
        key_file = isolated_home / "admin-key"
        key = key_file.read_text().strip()
        assert oct(key_file.stat().st_mode & 0o777) == "0o600"
        assert key not in running.banner and str(key_file) in running.banner
        assert call(running, "GET", "/admin/accounts", key=key)[0] == 200
        table = subprocess.run(
            [sys.executable, "-m", "xai_oauth", "pool", "--port", str(running.port)],
            env={**env, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
        )
    assert table.returncode == 0 and "ann@example.com" in table.stdout and "from the server" in table.stdout
    assert load_admin_key(str(isolated_home)).keys == (key,)  # the next start keeps it
    offline = subprocess.run(
        [sys.executable, "-m", "xai_oauth", "pool", "--port", str(running.port), "--json"],
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    found = json.loads(offline.stdout)
    assert "from the home" in found["source"]
    assert sorted(r["profile"] for r in found["accounts"]) == ["ann", "bob"]


def test_no_token_or_key_in_any_admin_answer_or_the_log(pool: Served, emulator: Emulator) -> None:
    ann = sub_of(emulator, "ann@example.com")
    emulator.inject(
        Fault("/v1/chat/completions", status=429, account=ann, retry_after=60, body="{}", content_type=JSON)
    )
    answers = [chat(pool, "canary")[1]]
    started = call(pool, "POST", "/admin/accounts", body={"profile": "cat"})[2]
    answers += [started, call(pool, "POST", "/admin/accounts/cat/poll")[2]]
    for path in ("/admin/accounts", "/admin/accounts?refresh=1", "/admin/usage", "/metrics", "/healthz"):
        answers.append(call(pool, "GET", path)[2])
    answers.append(call(pool, "DELETE", "/admin/accounts/cat")[2])
    secrets = {ADMIN_KEY, pool.key, *emulator.authority.devices}
    secrets |= {g.refresh_token for g in emulator.authority.grants.values()}
    home = Path(os.environ["XAI_OAUTH_HOME"])
    for path in [*home.rglob("credentials.json"), *home.rglob("access-token.json")]:
        secrets |= set(tokens_in(json.loads(path.read_text())))
    assert sum(s.startswith("ey") for s in secrets) >= 2  # the access tokens (JWTs) of ann and bob are in the scan
    pool.stop()  # everything it logged, to its last line
    seen = "\n".join(answers) + pool.output()
    leaked = [s[:8] for s in secrets if len(s) >= 16 and s in seen]
    assert not leaked
    assert len(secrets) > 4  # the scan looked at real secrets
