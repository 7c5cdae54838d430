"""The pool end to end (issue 26): ``xai-oauth serve`` over two or three signed-in profiles, against the emulator.

Every request goes through the real command in its own process; faults are
aimed at one account at the emulator, which counts the attempts of each
client request (by the id the server sends), so failover and duplicate sends
are checked where they happen.
"""

from __future__ import annotations

import http.client
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from xai_oauth._routes import REQUEST_ID_HEADER
from xai_oauth.emulator import Emulator, Fault

from .support.served import Served, serve, sign_in

#: every test here starts fresh interpreters or waits in real time
pytestmark = pytest.mark.slow

PEOPLE = {"ann": ("ann@example.com", 1), "bob": ("bob@example.com", 2), "cat": ("cat@example.com", 1)}
CHAT = "/v1/chat/completions"
JSON = "application/json"


@pytest.fixture
def env(emulator: Emulator, isolated_home: Path) -> dict[str, str]:
    environ = {**os.environ, **emulator.environ()}
    for profile, (email, tier) in PEOPLE.items():
        sign_in(emulator, {**environ, "XAI_OAUTH_PROFILE": profile}, email=email, tier=tier)
    return environ


def sub_of(emulator: Emulator, profile: str) -> str:
    return next(g.sub for g in emulator.authority.grants.values() if g.email == PEOPLE[profile][0])


def ask(
    served: Served,
    messages: list[dict[str, Any]],
    *,
    path: str = CHAT,
    model: str = "grok-4.3",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], str]:
    """One streamed request to the local server: status, headers, and the raw body."""
    body: dict[str, Any] = {"model": model, "stream": True, "messages": messages}
    if path == "/v1/messages":
        body["max_tokens"] = 100
    sent = {"Authorization": f"Bearer {served.key}", "x-api-key": served.key, "Content-Type": "application/json"}
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=60)
    try:
        conn.request("POST", path, body=json.dumps(body), headers={**sent, **(headers or {})})
        answer = conn.getresponse()
        raw = answer.read().decode()
    finally:
        conn.close()
    return answer.status, {k.lower(): v for k, v in answer.getheaders()}, raw


def text_of(raw: str) -> str:
    """The answer's text from a chat-completions stream."""
    text = ""
    for line in raw.splitlines():
        if line.startswith("data: {"):
            for choice in json.loads(line[6:]).get("choices", []):
                text += choice.get("delta", {}).get("content") or ""
    return text


def served_by(emulator: Emulator, since: int = 0) -> list[str | None]:
    """Whose account each text request reached (after ``since`` requests), as the emulator saw it."""
    return [r["account"] for r in emulator.api_requests[since:]]


def say(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


@pytest.fixture
def pool(env: dict[str, str]) -> Iterator[Served]:
    with serve(env, "--profile", "ann", "--profile", "bob") as running:
        yield running


def test_a_429_fails_over_before_the_first_byte_and_cools_the_account(pool: Served, emulator: Emulator) -> None:
    ann, bob = sub_of(emulator, "ann"), sub_of(emulator, "bob")
    status, _, body = ask(pool, say("warm up"))
    assert status == 200 and served_by(emulator) == [ann]  # fill-first: ann
    emulator.inject(Fault(CHAT, status=429, account=ann, retry_after=30, body="{}", content_type="application/json"))
    status, _, body = ask(pool, say("hello"))
    assert status == 200 and text_of(body) == "You said: hello" and "[DONE]" in body
    assert served_by(emulator, 1) == [bob]  # ann's 429 met no route, so only bob's attempt is recorded
    assert max(emulator.attempts.values()) == 2 and max(emulator.answered.values()) == 1
    status, _, _ = ask(pool, say("again"))
    assert status == 200 and served_by(emulator, 2) == [bob]  # ann is cooling: not asked at all
    cooldowns = json.loads((Path(os.environ["XAI_OAUTH_HOME"]) / "pool" / "cooldowns.json").read_text())["cooldowns"]
    assert [(c["reason"], c["slot"].endswith("/ann")) for c in cooldowns] == [("rate_limited", True)]
    assert cooldowns[0]["until"] - cooldowns[0]["since"] == pytest.approx(30)  # the Retry-After


def test_when_every_account_cools_the_client_gets_a_429_in_its_own_format(pool: Served, emulator: Emulator) -> None:
    for profile, wait in (("ann", 40), ("bob", 20)):
        emulator.inject(
            Fault(
                CHAT,
                status=429,
                account=sub_of(emulator, profile),
                retry_after=wait,
                times=5,
                body="{}",
                content_type=JSON,
            )
        )
    status, headers, body = ask(pool, say("anyone?"))
    assert status == 429 and 15 <= int(headers["retry-after"]) <= 20
    error = json.loads(body)["error"]
    assert "ann: rate_limited" in error["message"] and "bob: rate_limited" in error["message"]
    status, headers, body = ask(pool, say("anyone?"), path="/v1/messages")
    assert status == 429 and json.loads(body)["type"] == "error" and int(headers["retry-after"]) <= 20
    assert len(emulator.api_requests) == 0  # no attempt reached a model


def test_the_request_s_own_fault_never_cools_an_account(pool: Served, emulator: Emulator) -> None:
    emulator.inject(
        Fault(
            CHAT,
            status=400,
            body='{"code": "invalid-argument", "error": "Content violates usage guidelines"}',
            content_type="application/json",
        )
    )
    status, _, body = ask(pool, say("something refused"))
    assert status == 400 and "content_refused" in body
    assert list(emulator.attempts.values()) == [1]  # not tried on bob
    assert not (Path(os.environ["XAI_OAUTH_HOME"]) / "pool" / "cooldowns.json").exists()


def test_tier_denied_skips_that_model_only(env: dict[str, str], emulator: Emulator) -> None:
    ann, bob = sub_of(emulator, "ann"), sub_of(emulator, "bob")
    with serve(env, "--profile", "bob", "--profile", "ann") as running:
        assert ask(running, say("code"), model="grok-code-fast-1")[0] == 200  # bob's tier lacks it: ann answers
        assert served_by(emulator) == [bob, ann]  # bob was refused (403), ann answered
        assert ask(running, say("code again"), model="grok-code-fast-1")[0] == 200
        assert ask(running, say("chat"))[0] == 200  # bob still serves the models he has
        assert served_by(emulator, 2) == [ann, bob]


def test_a_revoked_grant_is_out_until_a_new_sign_in(env: dict[str, str], emulator: Emulator) -> None:
    ann, bob = sub_of(emulator, "ann"), sub_of(emulator, "bob")
    with serve(env, "--profile", "ann", "--profile", "bob") as running:
        emulator.revoke_account("ann@example.com")
        assert ask(running, say("one"))[0] == 200 and served_by(emulator) == [bob]
        assert ask(running, say("two"))[0] == 200 and served_by(emulator, 1) == [bob]
        refreshes = emulator.stats()["refresh_requests"]
        assert refreshes == 1  # the one forced refresh, then ann is out: no refresh per request
        sign_in(emulator, {**env, "XAI_OAUTH_PROFILE": "ann"}, email="ann@example.com")
        time.sleep(1.0)  # the pool looks at the sign-in on its recheck
        assert ask(running, say("three"))[0] == 200 and served_by(emulator, 2) == [ann]


def test_a_cut_stream_is_an_error_event_and_is_never_sent_again(pool: Served, emulator: Emulator) -> None:
    emulator.inject(Fault(CHAT, after=True, cut_stream=True))
    status, _, body = ask(pool, say("a long answer"))
    assert status == 200 and '"error"' in body and "[DONE]" not in body
    assert list(emulator.attempts.values()) == [1] and list(emulator.answered.values()) == [1]


def test_a_restart_keeps_the_cooldowns_and_two_servers_agree(env: dict[str, str], emulator: Emulator) -> None:
    ann, bob = sub_of(emulator, "ann"), sub_of(emulator, "bob")
    no_credits = Fault(
        CHAT, status=402, account=ann, body='{"code": "no-credits", "error": "out of credit"}', content_type=JSON
    )
    with (
        serve(env, "--profile", "ann", "--profile", "bob") as first,
        serve(env, "--profile", "ann", "--profile", "bob") as second,
    ):
        emulator.inject(no_credits)
        assert ask(first, say("one"))[0] == 200 and served_by(emulator) == [bob]
        time.sleep(1.0)
        assert ask(second, say("two"))[0] == 200 and served_by(emulator, 1) == [bob]
        assert sum(emulator.attempts.values()) == 3  # ann was asked once, by the first server only
    with serve(env, "--profile", "ann", "--profile", "bob") as again:
        assert ask(again, say("three"))[0] == 200 and served_by(emulator, 2) == [bob]
    cooldowns = json.loads((Path(os.environ["XAI_OAUTH_HOME"]) / "pool" / "cooldowns.json").read_text())["cooldowns"]
    assert cooldowns[0]["reason"] == "no_credits" and cooldowns[0]["until"] - time.time() > 4 * 86400  # /billing


def test_one_profile_behaves_as_before(env: dict[str, str], emulator: Emulator) -> None:
    with serve({**env, "XAI_OAUTH_PROFILE": "ann"}) as running:
        emulator.inject(
            Fault(CHAT, status=429, retry_after=7, body="{}", content_type=JSON, account=sub_of(emulator, "ann"))
        )
        status, headers, _ = ask(running, say("one"))
        assert status == 429 and headers["retry-after"] == "7"
        assert ask(running, say("two"))[0] == 200  # no cooldown held against the only account
    assert not (Path(os.environ["XAI_OAUTH_HOME"]) / "pool").exists()


IMAGES, VIDEOS = "/v1/images/generations", "/v1/videos/generations"


def call(served: Served, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    """One JSON request to the local server: status and the parsed answer."""
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=60)
    try:
        sent = json.dumps(body) if body is not None else None
        conn.request(method, path, body=sent, headers={"Authorization": f"Bearer {served.key}", "Content-Type": JSON})
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read() or b"null")
    finally:
        conn.close()


def test_pictures_and_video_jobs_fail_over_and_a_job_is_read_from_its_own_account(
    env: dict[str, str], emulator: Emulator
) -> None:
    ann, cat = sub_of(emulator, "ann"), sub_of(emulator, "cat")  # both SuperGrok: both may use Imagine
    made_by = lambda path: [r["account"] for r in emulator.api_requests if r["path"] == path]  # noqa: E731
    with serve(env, "--profile", "ann", "--profile", "cat") as running:
        emulator.inject(Fault(IMAGES, status=429, account=ann, retry_after=30, body="{}", content_type=JSON))
        status, picture = call(running, "POST", IMAGES, {"prompt": "a cat", "response_format": "b64_json"})
        assert status == 200 and picture["data"][0]["b64_json"]
        assert made_by(IMAGES) == [cat]  # ann's 429 moved the picture on, and ann now cools
        status, job = call(running, "POST", VIDEOS, {"prompt": "a cat", "duration": 2})
        assert status == 200 and made_by(VIDEOS) == [cat]
        status, state = call(running, "GET", f"/v1/videos/{job['request_id']}")
        assert status == 202 and state["status"] == "pending"  # asked of cat, whose job it is
    with serve(env, "--profile", "ann", "--profile", "cat") as again:  # a new server does not know whose it is
        status, state = call(again, "GET", f"/v1/videos/{job['request_id']}")
        assert status in (200, 202) and state["status"] in ("pending", "done")  # ann: unknown to her; then cat
        status, unknown = call(again, "GET", "/v1/videos/no-such-job")
        assert status == 404 and unknown["error"]["code"] == "invalid_request"
        assert "No video job 'no-such-job' is known" in unknown["error"]["message"]


#: The load: requests from 8 concurrent clients, 10 turns per conversation.
LOAD_REQUESTS = int(os.environ.get("XAI_OAUTH_POOL_LOAD", "1000"))
CLIENTS, TURNS, CUTS = 8, 10, 5
#: A hang guard only: the clients go on past ``LOAD_REQUESTS`` until every fault has met its requests.
MOST_REQUESTS = 3 * LOAD_REQUESTS


def kept_cooldowns() -> set[tuple[str, str]]:
    """(profile, reason) of each cooldown the pool keeps in the home."""
    path = Path(os.environ["XAI_OAUTH_HOME"]) / "pool" / "cooldowns.json"
    kept = json.loads(path.read_text())["cooldowns"] if path.exists() else []
    return {(c["slot"].rsplit("/", 1)[1], c["reason"]) for c in kept}


def test_a_thousand_requests_from_eight_clients_with_faults(env: dict[str, str], emulator: Emulator) -> None:
    """ann cools (a 429), then runs out (402s); cat's grant is revoked; some streams are cut. No client error else.

    The faults are counted by request, not by time: the 429 and the cuts meet the next requests they can, and
    running out and a revoked grant are states that refuse every request of that account from then on. The
    clients go on past the thousand until the server has kept each account's cooldown, however fast or slow the
    machine. What must hold is checked, not how many retries a run happens to see: no client error, no answer
    begun twice, at most one attempt per account, and each request a fault refused answered once by another.
    """
    import threading

    ann, bob = sub_of(emulator, "ann"), sub_of(emulator, "bob")
    rate_limit = Fault(CHAT, status=429, account=ann, retry_after=1, body="{}", content_type=JSON)
    # every request of ann's from then on: whenever ann is tried again, her 429 over or not, she is out of credits
    ran_out = Fault(
        CHAT, status=402, account=ann, body='{"code": "no-credits"}', content_type=JSON, times=MOST_REQUESTS
    )
    cuts = Fault(CHAT, after=True, cut_stream=True, times=CUTS)
    expected = {("ann", "no_credits"), ("cat", "reauth_required")}
    counter, lock = iter(range(MOST_REQUESTS)), threading.Lock()
    outcomes: list[tuple[str, int, str]] = []  # (conversation, turn, "ok" | "cut" | what went wrong)

    def events(n: int) -> None:
        """The faults, at fixed request numbers of the run."""
        if n == LOAD_REQUESTS // 10:
            emulator.inject(rate_limit)
        elif n == LOAD_REQUESTS * 4 // 10:
            emulator.revoke_account("cat@example.com")
        elif n == LOAD_REQUESTS * 6 // 10:
            emulator.inject(cuts)
        elif n == LOAD_REQUESTS * 8 // 10:
            emulator.inject(ran_out)

    def settled() -> bool:
        """Every fault has met its requests, and the server keeps the cooldowns they earn."""
        return rate_limit.times == cuts.times == 0 and kept_cooldowns() == expected

    def client(number: int, served: Served) -> None:
        conversation, turn = 0, TURNS
        while True:
            with lock:
                n = next(counter, None)
                if n is not None and n >= LOAD_REQUESTS and settled():
                    n = None
                if n is not None:
                    events(n)
            if n is None:
                return
            if turn == TURNS:
                conversation, turn = conversation + 1, 0
            name = f"c{number}-{conversation}"
            messages = [
                {"role": "system", "content": f"conversation {name}"},
                {"role": "user", "content": f"start {name}"},
                {"role": "assistant", "content": "ok"},
                {"role": "user", "content": f"turn {turn}"},
            ]
            status, _, raw = ask(served, messages)
            if status == 200 and text_of(raw) == f"You said: turn {turn}" and "[DONE]" in raw:
                result = "ok"
            elif status == 200 and '"error"' in raw and "[DONE]" not in raw:
                result = "cut"
            else:
                result = f"{status}: {raw[:300]}"
            with lock:
                outcomes.append((name, turn, result))
            turn += 1

    started = time.monotonic()
    with serve(env, "--all-profiles", "--strategy", "round-robin") as served:
        threads = [threading.Thread(target=client, args=(i, served)) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    took = time.monotonic() - started

    sent = len(outcomes)
    assert settled(), f"the faults had not all met their requests in {sent} requests"
    assert LOAD_REQUESTS <= sent < MOST_REQUESTS
    failures = [o for o in outcomes if o[2] not in ("ok", "cut")]
    assert failures == []
    assert sum(1 for o in outcomes if o[2] == "cut") == CUTS  # a cut after the answer began is not sent again
    assert sum(emulator.answered.values()) == sent
    assert max(emulator.answered.values()) == 1  # no request went upstream again once an answer had begun
    assert max(emulator.attempts.values()) <= 3  # each account at most once
    # each request ann refused (the 429, the 402s) was sent on, and answered once, by another account
    refused = [headers[REQUEST_ID_HEADER] for headers in emulator.faulted_headers]
    assert len(refused) == 1 + MOST_REQUESTS - ran_out.times >= 2
    assert all(emulator.attempts[request] >= 2 and emulator.answered[request] == 1 for request in refused)
    # stickiness: a conversation moves only when its account is out; bob is never out
    by_conversation: dict[str, list[str]] = {}
    for record in emulator.api_requests:
        name = str(record["body"]["messages"][0]["content"]).removeprefix("conversation ")
        by_conversation.setdefault(name, []).append(record["account"])
    turns = moves = 0
    for accounts in by_conversation.values():
        for before, after in zip(accounts, accounts[1:], strict=False):
            turns += 1
            moves += before != after
            assert before != bob or after == bob, "a conversation left a healthy account"
    assert moves <= 0.05 * turns, (moves, turns)
    assert {a for accounts in by_conversation.values() for a in accounts} == {ann, bob, sub_of(emulator, "cat")}
    print(f"\n{sent} requests from {CLIENTS} clients in {took:.1f} s; {moves} moves in {turns} turns")


def test_a_named_profile_nobody_signed_in_to_stops_the_start(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from xai_oauth._exceptions import ConfigError
    from xai_oauth.cli._serve import pool_accounts

    for name, value in env.items():
        if name.startswith("XAI_"):
            monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as refused:
        pool_accounts(["ann", "nobody"])
    assert "xai-oauth login --profile nobody" in refused.value.action
    assert [a.config.profile for a in pool_accounts(None, all_profiles=True)] == ["ann", "bob", "cat"]
    assert [a.config.profile for a in pool_accounts(["cat", "ann"])] == ["cat", "ann"]
