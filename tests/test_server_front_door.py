"""The front door of a real ``xai-oauth serve`` process, over real sockets: bodies too big or too slow, connections
that never send a request, forged forwarding headers, and the red team's malformed bodies.

Counts, not clocks: each test waits for the event it is about (the server's answer, the server closing a socket,
the descriptor count settling) with a generous hang guard, and asserts what must hold once it has happened.
"""

from __future__ import annotations

import json
import os
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from xai_oauth.emulator import Emulator
from xai_oauth.server._front_door import Door

from .support.served import Served, serve, sign_in

HANG_GUARD = 60.0


@pytest.fixture
def env(emulator: Emulator, isolated_home: Path) -> dict[str, str]:
    environ = {**os.environ, **emulator.environ()}
    sign_in(emulator, environ)
    return environ


def connect(served: Served) -> socket.socket:
    raw = socket.create_connection(("127.0.0.1", served.port), timeout=HANG_GUARD)
    return raw


def read_answer(raw: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 answer with a Content-Length body, read from ``raw``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = raw.recv(65536)
        assert chunk, f"the server closed the connection without an answer: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    while len(body) < int(headers.get("content-length", "0")):
        chunk = raw.recv(65536)
        assert chunk, "the server closed the connection mid-answer"
        body += chunk
    return int(lines[0].split()[1]), headers, body


def head(path: str, key: str, *extra: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Bearer {key}", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def closed_by_server(raw: socket.socket, timeout: float = HANG_GUARD) -> bool:
    """Whether the server closes ``raw`` (EOF or reset) within the hang guard; what it sent before is ignored."""
    raw.settimeout(timeout)
    try:
        while raw.recv(65536):
            pass
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False
    return True


def descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def settles(count: Callable[[], int], at_most: int, timeout: float = HANG_GUARD) -> int:
    """``count()`` once it is at most ``at_most`` (or its last value when the hang guard ends)."""
    deadline = time.monotonic() + timeout
    value = count()
    while value > at_most and time.monotonic() < deadline:
        time.sleep(0.1)
        value = count()
    return value


def chat(served: Served) -> httpx2.Response:
    with httpx2.Client(timeout=HANG_GUARD) as http:
        return http.post(
            served.base_url + "/chat/completions",
            headers={"authorization": f"Bearer {served.key}"},
            json={"model": "grok-4.3", "messages": [{"role": "user", "content": "hi"}]},
        )


# -- bodies too big or too slow ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages"])
def test_a_chunked_body_over_the_cap_is_a_413_in_the_clients_shape(env: dict[str, str], path: str) -> None:
    """40 MiB sent chunked (no Content-Length to refuse it by): the answer comes while the client is still sending."""
    with serve(env) as served:
        raw = connect(served)
        raw.sendall(head(path, served.key, "Content-Type: application/json", "Transfer-Encoding: chunked"))
        piece = b"x" * (1 << 20)
        frame = b"%x\r\n" % len(piece) + piece + b"\r\n"
        for _ in range(40):
            if select.select([raw], [], [], 0)[0]:
                break  # the server has answered
            try:
                raw.sendall(frame)
            except (BrokenPipeError, ConnectionResetError):
                break
        status, headers, body = read_answer(raw)
        raw.close()
    assert status == 413 and headers.get("connection") == "close", (status, headers)
    answer = json.loads(body)
    if path == "/v1/messages":
        assert answer["type"] == "error" and answer["error"]["type"] == "request_too_large", answer
    else:
        assert answer["error"]["code"] == "request_too_large", answer
    assert "Traceback" not in served.output() and "Internal Server Error" not in served.output()


@pytest.mark.parametrize("path", ["/v1/responses", "/v1/messages"])
def test_a_body_that_stalls_is_a_408_in_the_clients_shape(env: dict[str, str], path: str) -> None:
    with serve(env, "--body-timeout", "1") as served:
        raw = connect(served)
        raw.sendall(head(path, served.key, "Content-Type: application/json", "Content-Length: 100") + b'{"model":')
        status, headers, body = read_answer(raw)  # 9 of 100 bytes, then nothing
        assert closed_by_server(raw)
        raw.close()
    assert status == 408 and headers.get("connection") == "close", (status, headers)
    answer = json.loads(body)
    if path == "/v1/messages":
        assert answer["type"] == "error" and "did not arrive within 1 s" in answer["error"]["message"], answer
    else:
        assert answer["error"]["code"] == "request_timeout", answer
    assert "Traceback" not in served.output()


# -- connections that send nothing, or drip their head ---------------------------------------------------------


class Connection:
    """What the door reads of a connection: its transport, which it may close."""

    def __init__(self) -> None:
        self.closed = False
        self.transport = self

    def close(self) -> None:
        self.closed = True


def test_the_door_makes_room_by_closing_the_connection_that_waited_longest_for_its_head() -> None:
    door = Door(head_timeout=1.0, max_connections=3)
    first, second, third, fourth = (Connection() for _ in range(4))
    assert door.admit(first) and door.admit(second) and door.admit(third)
    door.busy(second)  # its request head is in
    door.waits(first)  # it finished a request and waits for the next: the end of the line
    assert door.admit(fourth)
    assert third.closed and not first.closed and not second.closed
    assert door.open == {first, second, fourth}


def test_the_door_turns_a_new_connection_away_only_when_every_open_one_is_busy() -> None:
    door = Door(head_timeout=1.0, max_connections=2)
    busy = [Connection(), Connection()]
    for connection in busy:
        assert door.admit(connection)
        door.busy(connection)
    late = Connection()
    assert not door.admit(late)
    assert door.open == set(busy) and not any(c.closed for c in busy)
    door.forget(busy[0])  # one ends: room again
    assert door.admit(late)


class Drip:
    """Sockets that each send a request line and then one header line every ``every`` seconds, never finishing."""

    def __init__(self, sockets: list[socket.socket], every: float = 0.2) -> None:
        self.sockets, self.every = sockets, every
        self.closed: set[int] = set()
        self.lines = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Drip:
        for raw in self.sockets:
            raw.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=HANG_GUARD)

    def _run(self) -> None:
        while not self._stop.wait(self.every) and len(self.closed) < len(self.sockets):
            self.lines += 1
            for index, raw in enumerate(self.sockets):
                if index in self.closed:
                    continue
                try:
                    raw.sendall(b"X-Drip-%d: 1\r\n" % self.lines)
                except OSError:
                    self.closed.add(index)


@pytest.fixture
def sockets() -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    yield opened
    for raw in opened:
        raw.close()


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--head-timeout", "0"), ("--body-timeout", "-1"), ("--head-timeout", "nan"), ("--max-connections", "0")],
)
def test_front_door_settings_out_of_range_are_usage_errors(
    flag: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from xai_oauth.cli._main import main

    assert main(["serve", flag, value]) == 64
    assert flag in capsys.readouterr().err


def test_silent_and_dripping_connections_are_closed_and_keyed_clients_served_meanwhile(
    env: dict[str, str], sockets: list[socket.socket]
) -> None:
    """300 silent connections and 100 that drip header lines, against a cap of 50 and a 1 s head deadline."""
    with serve(env, "--head-timeout", "1", "--max-connections", "50") as served:
        assert chat(served).status_code == 200  # warm: the upstream connection and the model listing are made
        pid = served.process.pid
        baseline = descriptors(pid)
        silent = [connect(served) for _ in range(300)]
        sockets += silent
        dripping = [connect(served) for _ in range(100)]
        sockets += dripping
        with Drip(dripping) as drip:
            during = chat(served)  # served while the attack is on
            # every connection above was accepted before this request's, and its answer needed the loop to turn
            peak = descriptors(pid)
            assert all(closed_by_server(raw) for raw in silent), "a silent connection was never closed"
            assert all(closed_by_server(raw) for raw in dripping), "a dripping connection was never closed"
            drip_lines = drip.lines
        after = settles(lambda: descriptors(pid), baseline)
    assert during.status_code == 200 and during.json()["choices"][0]["message"]["content"] == "You said: hi"
    assert peak <= baseline + 50 + 2, (baseline, peak)
    assert after <= baseline, (baseline, after)
    assert drip_lines >= 1
    assert "Traceback" not in served.output()


def test_a_kept_alive_connection_that_drips_its_next_head_is_closed(env: dict[str, str]) -> None:
    """Each byte resets uvicorn's idle timer, so only the head deadline can end this one."""
    with serve(env, "--head-timeout", "1") as served:
        raw = connect(served)
        body = json.dumps({"model": "grok-4.3", "messages": [{"role": "user", "content": "hi"}]}).encode()
        raw.sendall(head("/v1/chat/completions", served.key, f"Content-Length: {len(body)}") + body)
        status, _, _ = read_answer(raw)
        assert status == 200
        with Drip([raw]) as drip:
            closed = closed_by_server(raw)
            lines = drip.lines
        raw.close()
    assert closed, "the dripping connection was never closed"
    assert lines >= 1


def test_a_client_that_sends_its_head_at_once_is_not_cut_by_the_head_deadline(env: dict[str, str]) -> None:
    """The deadline is for the head only: a slow upstream answer on a kept-alive connection is waited for."""
    with serve(env, "--head-timeout", "1") as served:
        raw = connect(served)
        body = json.dumps({"model": "grok-4.3", "messages": [{"role": "user", "content": "again"}]}).encode()
        for _ in range(3):  # several requests on one connection, each head sent at once
            raw.sendall(head("/v1/chat/completions", served.key, f"Content-Length: {len(body)}") + body)
            status, _, answer = read_answer(raw)
            assert status == 200 and b"You said: again" in answer
        raw.close()


# -- the logged peer -------------------------------------------------------------------------------------------


def forged_get(served: Served, path: str, forwarded_for: str, key: str | None = None) -> int:
    with httpx2.Client(timeout=HANG_GUARD) as http:
        answer = http.get(
            served.origin + path,
            headers={"authorization": f"Bearer {key or served.key}", "x-forwarded-for": forwarded_for},
        )
    return answer.status_code


def test_a_forged_forwarded_for_is_not_logged_as_the_peer(env: dict[str, str]) -> None:
    with serve(env) as served:
        assert forged_get(served, "/v1/models", "203.0.113.7") == 200
    logged = [line for line in served.output().splitlines() if "path=/v1/models" in line]
    assert logged and all("peer=127.0.0.1" in line for line in logged), logged
    assert "203.0.113.7" not in served.output()


def test_named_proxies_are_believed_and_the_admin_door_reads_the_client_they_name(
    env: dict[str, str], isolated_home: Path
) -> None:
    with serve(env, "--forwarded-allow-ips", "127.0.0.1") as served:
        assert forged_get(served, "/v1/models", "203.0.113.7") == 200
        admin_key = (isolated_home / "admin-key").read_text().strip()
        # through a trusted proxy, the caller is the client it names: not this machine, so not the admin
        assert forged_get(served, "/admin/accounts", "203.0.113.8", key=admin_key) == 403
        assert forged_get(served, "/admin/accounts", "127.0.0.1", key=admin_key) == 200
    logged = [line for line in served.output().splitlines() if "path=/v1/models" in line]
    assert logged and all("peer=203.0.113.7" in line for line in logged), logged


# -- the red team's malformed bodies -------------------------------------------------------------------------

DEEP = "[" * 100_000 + "]" * 100_000
SCHEMA_5000 = '{"a":' * 5000 + "1" + "}" * 5000
MALFORMED: list[tuple[str, str, str]] = [
    ("/v1/chat/completions", DEEP, "deeper than"),
    ("/v1/responses", DEEP, "deeper than"),
    ("/v1/messages", DEEP, "deeper than"),
    (
        "/v1/messages/count_tokens",
        '{"model":"grok-4.3","messages":[{"role":"user","content":"hi"}],'
        f'"tools":[{{"name":"t","input_schema":{SCHEMA_5000}}}]}}',
        "deeper than",
    ),
    (
        "/v1/messages/count_tokens",
        '{"model":"grok-4.3","messages":[{"role":"user","content":"hi"}],'
        '"tools":[{"name":"t","input_schema":' + '{"a":' * 200 + "1" + "}" * 200 + "}]}",
        "deeper than",
    ),
    ("/v1/chat/completions", '{"model":"grok-4.3","temperature":1e999,"messages":[]}', "temperature"),
    ("/v1/chat/completions", '{"model":"grok-4.3","temperature":NaN,"messages":[]}', "temperature"),
    ("/v1/responses", '{"model":"grok-4.3","temperature":-Infinity,"input":"hi"}', "temperature"),
    ("/v1/messages", '{"model":"grok-4.3","max_tokens":9,"temperature":NaN,"messages":[]}', "temperature"),
    (
        "/v1/chat/completions",
        '{"model":"grok-4.3","messages":[{"role":"user","content":"\\udc00"}]}',
        "messages[0].content",
    ),
    (
        "/v1/messages",
        '{"model":"grok-4.3","max_tokens":9,"messages":[{"role":"user","content":[{"type":"text","text":"a\\udc00"}]}]}',
        "messages[0].content[0].text",
    ),
    ("/v1/responses", '{"model":"grok-4.3","input":"hi","tools":[{"type":"namespace","tools":5}]}', "tools"),
    (
        "/v1/messages",
        '{"model":"grok-4.3","max_tokens":9,"messages":[{"role":"user","content":'
        '[{"type":"tool_result","tool_use_id":"x","content":5}]}]}',
        "content",
    ),
    ("/v1/images/generations", '{"prompt":"\\udc00"}', "prompt"),
    ("/v1/videos/generations", '{"prompt":"a cat","duration":1e999}', "duration"),
]


def test_the_red_teams_malformed_bodies_are_400s_naming_the_field(env: dict[str, str], isolated_home: Path) -> None:
    with serve(env) as served, httpx2.Client(timeout=HANG_GUARD) as http:
        headers = {"authorization": f"Bearer {served.key}", "content-type": "application/json"}
        for path, body, named in MALFORMED:
            answer = http.post(served.origin + path, content=body.encode(), headers=headers)
            assert answer.status_code == 400, (path, body[:120], answer.status_code, answer.text[:300])
            error = answer.json()
            if path.startswith("/v1/messages"):
                assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error", error
                message = error["error"]["message"]
            else:
                assert error["error"]["code"] in ("invalid_request", "unsupported_parameter"), error
                message = error["error"]["message"]
            assert named in message, (path, message)
        admin = {"authorization": "Bearer " + (isolated_home / "admin-key").read_text().strip()}
        for body in (DEEP, '{"profile": "\\udc00"}', '{"profile": NaN}'):
            answer = http.post(served.origin + "/admin/accounts", content=body.encode(), headers=admin)
            assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_request", answer.text
        # the connection was kept alive through all of it, and still answers
        assert http.post(served.base_url + "/chat/completions", headers=headers, json=CHAT).status_code == 200
    output = served.output()
    assert "Traceback" not in output and "status=500" not in output


CHAT: dict[str, Any] = {"model": "grok-4.3", "messages": [{"role": "user", "content": "hi"}]}
