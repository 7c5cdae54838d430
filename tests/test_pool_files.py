"""Pool files someone else wrote: a damaged cooldown file or lock is reported and the pool keeps serving.

A cooldown ending in the year 10^300 and a ``cooldowns.lock`` that is a
symbolic link used to turn requests into 500s (an ``OverflowError`` when
every account was out; ``ELOOP`` when a 429 should have cooled an account).
Each is a damaged file now: logged, shown in the management API's account
rows and in ``xai-oauth pool``, and the request is answered.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from xai_oauth.emulator import Emulator, Fault
from xai_oauth.server._cooldowns import Cooldown, Cooldowns

from .support.served import ROOT, Served, serve, sign_in

ADMIN_KEY = "test-admin-key-" + "d" * 24
PEOPLE = {"ann": "ann@example.com", "bob": "bob@example.com"}
CHAT = "/v1/chat/completions"


@pytest.fixture
def env(emulator: Emulator, isolated_home: Path) -> dict[str, str]:
    environ = {**os.environ, **emulator.environ()}
    for profile, email in PEOPLE.items():
        sign_in(emulator, {**environ, "XAI_OAUTH_PROFILE": profile}, email=email)
    return environ


def call(served: Served, method: str, path: str, key: str, body: Any = None) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=60)
    try:
        sent = None if body is None else json.dumps(body)
        conn.request(
            method, path, body=sent, headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        )
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read() or b"null")
    finally:
        conn.close()


def chat(served: Served, text: str) -> tuple[int, Any]:
    body = {"model": "grok-4.3", "messages": [{"role": "user", "content": text}]}
    return call(served, "POST", CHAT, served.key, body)


def rows(served: Served) -> dict[str, dict[str, Any]]:
    status, answer = call(served, "GET", "/admin/accounts", ADMIN_KEY)
    assert status == 200, answer
    return {row["profile"]: row for row in answer["accounts"]}


def slots(home: Path) -> list[str]:
    return [str(p.parent.relative_to(home / "accounts")) for p in sorted(home.glob("accounts/*/*/state.json"))]


def plant(home: Path, text: str) -> Path:
    pool = home / "pool"
    pool.mkdir(mode=0o700, exist_ok=True)
    path = pool / "cooldowns.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, text.encode())
    os.close(fd)
    return path


def test_a_cooldown_that_ends_in_the_year_ten_to_the_300_is_a_damaged_file(
    env: dict[str, str], emulator: Emulator, isolated_home: Path
) -> None:
    since = time.time()
    planted = [{"slot": s, "reason": "rate_limited", "until": 1e308, "since": since} for s in slots(isolated_home)]
    assert len(planted) == 2
    path = plant(isolated_home, json.dumps({"cooldowns": planted}))
    with serve(env, "--profile", "ann", "--profile", "bob", "--admin-key", ADMIN_KEY) as running:
        status, answer = chat(running, "still there?")
        assert status == 200, answer  # was a 500 (OverflowError) for every request
        assert answer["choices"][0]["message"]["content"] == "You said: still there?"
        for row in rows(running).values():
            assert row["cooldowns"] == [] and row["cooldowns_problem"]["code"] == "store_corrupt", row
            assert "cooldowns.json" in row["cooldowns_problem"]["message"]
    assert list(path.parent.glob("cooldowns.json.corrupt-*")), "the damaged file is kept aside for a person"
    assert "pool cooldown file" in running.output() and "Traceback" not in running.output()

    plant(isolated_home, json.dumps({"cooldowns": planted}))  # again, for `xai-oauth pool` with no server running
    shown = subprocess.run(
        [sys.executable, "-m", "xai_oauth", "pool", "--port", "1"],
        env={**env, "PYTHONPATH": str(ROOT), "XAI_OAUTH_ADMIN_KEY": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr  # was an OverflowError: 1e308 as a local time
    assert shown.stdout.count("store_corrupt: The pool cooldown file") == 2, shown.stdout


def test_a_cooldowns_lock_that_is_a_symlink_still_fails_over(
    env: dict[str, str], emulator: Emulator, isolated_home: Path, tmp_path: Path
) -> None:
    pool = isolated_home / "pool"
    pool.mkdir(mode=0o700)
    (pool / "cooldowns.lock").symlink_to(tmp_path / "elsewhere")
    ann, bob = (next(g.sub for g in emulator.authority.grants.values() if g.email == PEOPLE[p]) for p in PEOPLE)
    emulator.inject(Fault(CHAT, status=429, account=ann, retry_after=30, body="{}", content_type="application/json"))
    with serve(env, "--profile", "ann", "--profile", "bob", "--admin-key", ADMIN_KEY) as running:
        status, answer = chat(running, "one")
        assert status == 200, answer  # ann's 429 moved on to bob (was a 500: ELOOP)
        status, answer = chat(running, "two")
        assert status == 200 and [r["account"] for r in emulator.api_requests] == [bob, bob]
        assert sorted(emulator.attempts.values()) == [1, 2]  # "two" did not ask ann: her cooldown held
        accounts = rows(running)
        assert [c["reason"] for c in accounts["ann"]["cooldowns"]] == ["rate_limited"]  # in force in this process
        for row in accounts.values():
            assert row["cooldowns_problem"]["code"] == "store_error", row
            assert "cooldowns.lock" in row["cooldowns_problem"]["message"]
    assert not (tmp_path / "elsewhere").exists()  # nothing written through the link
    assert "cooldowns.lock" in running.output() and "Traceback" not in running.output()


def test_the_table_says_why_it_holds_nobody_out(tmp_path: Path) -> None:
    now = time.time()
    table = Cooldowns(str(tmp_path))
    plant(tmp_path, json.dumps({"cooldowns": [{"slot": "a/ann", "reason": "rate_limited", "until": now + 40 * 86400}]}))
    assert table.active() == [] and table.problem is not None and table.problem.code == "store_corrupt"
    table.record(Cooldown("a/ann", "rate_limited", now + 30, since=now))  # written again: the problem is over
    assert table.problem is None and [c.slot for c in Cooldowns(str(tmp_path)).active()] == ["a/ann"]
