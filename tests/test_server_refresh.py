"""A 401 storm at the local server costs one forced refresh per access token, not one per request.

The emulator's chat proxy refuses every token of the account (401) while its
token endpoint goes on issuing new ones: each refresh is real, and counted
there (``refreshes``). A request whose token is refused refreshes once; the
token that refresh made, refused too, is the account's failure for every
request after it until a short backoff has passed (``REFRESH_BACKOFF``).
"""

from __future__ import annotations

import http.client
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from xai_oauth._config import Config
from xai_oauth.emulator import Emulator, Fault
from xai_oauth.transport._answer import Answer
from xai_oauth.transport._retry import API_RETRIES
from xai_oauth.transport._send_rules import REFRESH_BACKOFF, Fail, JustRefreshed, Try, move_for, target

from .support.served import Served, signed_in_server

CHAT = "/v1/chat/completions"
REFUSED = '{"code": "unauthenticated:bad-credentials", "error": "The token is not valid."}'


def ask(served: Served) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=60)
    body = {"model": "grok-4.3", "messages": [{"role": "user", "content": "hi"}]}
    try:
        conn.request("POST", CHAT, json.dumps(body), {"Authorization": f"Bearer {served.key}"})
        answer = conn.getresponse()
        answer.read()
        return answer.status
    finally:
        conn.close()


def most_refreshes(started: float) -> int:
    """One forced refresh per backoff window the run has lasted: the bound whatever the machine's speed."""
    return 1 + int((time.monotonic() - started) // REFRESH_BACKOFF)


def test_thirteen_refused_requests_make_one_refresh(emulator: Emulator, isolated_home: Path) -> None:
    with signed_in_server(emulator) as running:
        assert ask(running) == 200
        before = emulator.stats().get("refreshes", 0)
        emulator.inject(Fault(CHAT, status=401, body=REFUSED, content_type="application/json", times=1000))
        started = time.monotonic()
        statuses = [ask(running) for _ in range(13)]
        made = emulator.stats().get("refreshes", 0) - before
    assert statuses == [401] * 13  # the sign-in is refused: each client is told, and none waits on a refresh
    assert 1 <= made <= most_refreshes(started), made  # was 13: one refresh a request


def test_waves_of_twenty_refused_requests_make_one_refresh(emulator: Emulator, isolated_home: Path) -> None:
    with signed_in_server(emulator) as running:
        assert ask(running) == 200
        before = emulator.stats().get("refreshes", 0)
        emulator.inject(Fault(CHAT, status=401, body=REFUSED, content_type="application/json", times=10_000))
        started = time.monotonic()
        with ThreadPoolExecutor(20) as wave:
            statuses = [s for _ in range(5) for s in wave.map(lambda _: ask(running), range(20))]
        made = emulator.stats().get("refreshes", 0) - before
    assert statuses == [401] * 100
    assert 1 <= made <= most_refreshes(started), made


def test_the_backoff_ends_and_a_new_token_is_not_held() -> None:
    """Without sockets: the rule a long-lived transport follows."""
    config = Config(issuer="http://127.0.0.1:1", oauth_base_url="http://127.0.0.1:2/v1")
    aim = target(config, "subscription", "xai-grok/grok-4.3", model_id="grok-4.3")
    refused = Answer(401, {}, json.loads(REFUSED), "application/json")
    memory = JustRefreshed(backoff=60)
    memory.note("token-made-by-the-refresh", now=1000.0)

    later = Try("token-made-by-the-refresh", "1.0.6", True)  # another request, with the token just made
    spent = memory.spent(aim, later, 1030.0)
    assert spent.renewed  # no refresh for it: the account's failure at once
    move = move_for(config, API_RETRIES, aim, refused, spent, served=lambda _o: True)
    assert isinstance(move, Fail) and move.error.code == "reauth_required"
    assert not memory.spent(aim, later, 1061.0).renewed  # the backoff is over: one refresh again
    assert not memory.spent(aim, Try("a-new-sign-in", "1.0.6", True), 1030.0).renewed
