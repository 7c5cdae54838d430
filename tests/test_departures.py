"""A client that leaves is noticed in every phase, and a streaming client never waits a keep-alive interval in silence.

A real ``xai-oauth serve`` (keep-alive interval 0.3 s, ``XAI_OAUTH_SERVE_KEEPALIVE``)
against the emulator made slow: a ``Fault`` that holds its answer (``delay``,
watching the connection) or a 200 stream of comments that never sends an event
(``keep_alive``). The emulator counts the upstream requests still open and the
ones whose client hung up, so each test waits for those counts to change (with
a hang guard), never for a time to pass.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from xai_oauth.emulator import Emulator, Fault

from .support.served import Served, serve, sign_in

CHAT = "/v1/chat/completions"
KEEPALIVE = b": keep-alive\n\n"
#: A hang guard, far beyond what each wait needs and below the faults' own hold (a minute or more).
GUARD = 30.0


@pytest.fixture
def env(emulator: Emulator, isolated_home: Path) -> dict[str, str]:
    emulator.settings.api_key = "xai-" + "k" * 40  # for the passthrough's requests
    environ = {**os.environ, **emulator.environ(), "XAI_OAUTH_SERVE_KEEPALIVE": "0.3"}
    for profile, email in (("ann", "ann@example.com"), ("bob", "bob@example.com")):
        sign_in(emulator, {**environ, "XAI_OAUTH_PROFILE": profile}, email=email)
    return environ


@pytest.fixture
def one(env: dict[str, str]) -> Iterator[Served]:
    with serve({**env, "XAI_OAUTH_PROFILE": "ann"}) as running:
        yield running


class Client:
    """One request written on a socket, read as it arrives: what a client that may hang up sees."""

    def __init__(self, served: Served, path: str, body: dict[str, object] | None) -> None:
        raw = b"" if body is None else json.dumps(body).encode()
        head = (
            f"{'GET' if body is None else 'POST'} {path} HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\n"
            f"Authorization: Bearer {served.key}\r\nx-api-key: {served.key}\r\n"
            + (f"Content-Type: application/json\r\nContent-Length: {len(raw)}\r\n" if body is not None else "")
            + "\r\n"
        )
        self.conn = socket.create_connection(("127.0.0.1", served.port), timeout=GUARD)
        self.conn.sendall(head.encode() + raw)
        self.received = b""

    def until(self, seen: Callable[[bytes], bool]) -> bytes:
        """Read until ``seen(received)`` (the socket's timeout is the hang guard)."""
        while not seen(self.received):
            chunk = self.conn.recv(65536)
            assert chunk, f"the server closed the connection: {self.received!r}"
            self.received += chunk
        return self.received

    def rest(self) -> bytes:
        """Everything up to the end of the chunked body."""
        return self.until(lambda got: got.endswith(b"\r\n0\r\n\r\n"))

    def leave(self) -> None:
        self.conn.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.close()


def wait_for(what: Callable[[], bool], why: str) -> None:
    """Until ``what()`` holds; the guard only ends a hang."""
    ends = time.monotonic() + GUARD
    while not what():
        assert time.monotonic() < ends, why
        time.sleep(0.02)


def body_of(received: bytes) -> bytes:
    """The chunked body's bytes, joined."""
    _, _, data = received.partition(b"\r\n\r\n")
    out = b""
    while data:
        size, _, data = data.partition(b"\r\n")
        length = int(size, 16)
        if not length:
            break
        out, data = out + data[:length], data[length + 2 :]
    return out


def text_of(body: str) -> str:
    """The answer's text from a chat-completions stream."""
    chunks = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: {")]
    return "".join(c.get("delta", {}).get("content") or "" for chunk in chunks for c in chunk.get("choices", []))


def ask(text: str, stream: bool) -> dict[str, object]:
    return {"model": "grok-4.3", "stream": stream, "messages": [{"role": "user", "content": text}]}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (CHAT, ask("a long answer", stream=False)),
        ("/v1/images/generations", {"prompt": "a slow cat"}),
        ("/v1/files", None),  # the API key's passthrough, a request with no body
    ],
)
def test_a_whole_answer_whose_client_left_is_cancelled_upstream(
    one: Served, emulator: Emulator, path: str, body: dict[str, object] | None
) -> None:
    emulator.inject(Fault(path, delay=120, status=200, body="{}", content_type="application/json"))
    client = Client(one, path, body)
    wait_for(lambda: emulator.faulted_headers and emulator.open_requests == 1, "the request never reached upstream")
    client.leave()
    wait_for(lambda: emulator.hung_up == 1, "the upstream request stayed open after the client left")  # was 120 s
    wait_for(lambda: emulator.open_requests == 0, "an upstream request is still open")
    wait_for(lambda: "status=499" in one.output(), "the access log has no line for the request")  # client closed
    assert "Traceback" not in one.output()


@pytest.mark.parametrize("silence", ["before its headers", "after its headers, before its first event"])
def test_a_silent_stream_gets_keep_alives_and_its_client_leaving_is_noticed(
    one: Served, emulator: Emulator, silence: str
) -> None:
    if silence == "before its headers":
        emulator.inject(Fault(CHAT, delay=120, status=200, body="{}", content_type="application/json"))
    else:
        emulator.inject(Fault(CHAT, keep_alive=0.05))  # a 200 stream of comments only, never an event
    client = Client(one, CHAT, ask("think hard", stream=True))
    got = client.until(lambda got: got.count(KEEPALIVE) >= 2)  # was 0 bytes: nothing before the first event
    assert got.startswith(b"HTTP/1.1 200") and b"text/event-stream" in got
    assert body_of(got).replace(KEEPALIVE, b"") == b""  # keep-alives only, so far
    client.leave()
    wait_for(lambda: emulator.hung_up == 1, "the upstream request stayed open after the client left")
    wait_for(lambda: emulator.open_requests == 0, "an upstream request is still open")
    wait_for(lambda: "status=200" in one.output(), "the access log has no line for the request")
    assert "Traceback" not in one.output()


def test_failover_goes_on_behind_the_keep_alives(env: dict[str, str], emulator: Emulator) -> None:
    released = threading.Event()
    late_429 = Fault(CHAT, status=429, delay=120, release=released, account="ann@example.com", body="{}")
    emulator.inject(late_429)
    with serve(env, "--profile", "ann", "--profile", "bob") as running:
        with Client(running, CHAT, ask("who answers?", stream=True)) as client:
            client.until(lambda got: KEEPALIVE in got)  # the 200 is out: ann's refusal has not come yet
            released.set()
            body = body_of(client.rest()).decode()
    assert body.startswith(KEEPALIVE.decode()) and text_of(body) == "You said: who answers?" and "[DONE]" in body
    assert list(emulator.attempts.values()) == [2] and list(emulator.answered.values()) == [1]  # ann, then bob


SAID = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("path", "upstream", "body", "error"),
    [
        (CHAT, CHAT, {"messages": SAID}, '"code":"rate_limited"'),
        ("/v1/responses", "/v1/responses", {"input": "hi"}, '"type":"error"'),
        ("/v1/messages", CHAT, {"messages": SAID, "max_tokens": 50}, "event: error"),
    ],
)
def test_a_refusal_after_the_keep_alives_is_an_error_event(
    one: Served, emulator: Emulator, path: str, upstream: str, body: dict[str, object], error: str
) -> None:
    released = threading.Event()
    emulator.inject(
        Fault(upstream, status=429, delay=120, release=released, body="{}", content_type="application/json")
    )
    with Client(one, path, {"model": "grok-4.3", "stream": True, **body}) as client:
        client.until(lambda got: KEEPALIVE in got)  # the 200 is out: the refusal has not come yet
        released.set()
        said = body_of(client.rest()).decode()
    assert error in said and "[DONE]" not in said and "Traceback" not in said, said
