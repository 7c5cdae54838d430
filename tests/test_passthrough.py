"""The server's passthrough stays under the API's /v1, and what it relays carries no secret.

A real ``xai-oauth serve`` in front of a recording upstream (``XAI_BASE_URL``
points at it), with the emulator as the issuer and chat proxy. Requests are
written by hand on a socket: HTTP clients resolve ``..`` before sending, and a
hostile client does not.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from xai_oauth._config import Config
from xai_oauth._exceptions import RequestRejected
from xai_oauth.emulator import Emulator
from xai_oauth.transport._send_rules import target, url

from .support.served import Served, serve, sign_in

API_KEY = "xai-" + "CanaryKey0123456789abcdefXYZ" * 2


class Recorder:
    """An upstream that records each request (method, path as sent, bearer) and answers by path."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                self.answer()

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.answer()

            def answer(self) -> None:
                bearer = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                recorder.seen.append((self.command, self.path, bearer))
                if self.path.startswith("/v1/files") and self.command == "POST":  # an error that echoes the key
                    status, body = 400, {"error": f"Incorrect API key provided: {bearer}", "key": bearer}
                elif self.path.startswith("/v1/api-key"):  # an answer that worked, naming the key it was sent
                    status, body = 200, {"name": "mine", "echo": bearer, "id": "file-Ab3dEf9hIj2kLm8nOp4qRs7t"}
                else:
                    status, body = 200, {"object": "list", "data": [], "path": self.path}
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    running = Recorder()
    yield running
    running.close()


@pytest.fixture
def served(emulator: Emulator, recorder: Recorder, isolated_home: Path) -> Iterator[Served]:
    env = {**os.environ, **emulator.environ()}
    sign_in(emulator, env)
    env.update(XAI_BASE_URL=recorder.url, XAI_API_KEY=API_KEY)
    with serve(env) as running:
        yield running


def raw_request(served: Served, method: str, target_path: str, body: bytes = b"") -> tuple[int, str]:
    """One request with the request line exactly as written: status and body."""
    head = (
        f"{method} {target_path} HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\n"
        f"Authorization: Bearer {served.key}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", served.port), timeout=60) as conn:
        conn.sendall(head.encode() + body)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    header, _, rest = received.partition(b"\r\n\r\n")
    status = int(header.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in header.lower():
        rest = _unchunked(rest)
    return status, rest.decode()


def _unchunked(data: bytes) -> bytes:
    out = b""
    while data:
        size, _, data = data.partition(b"\r\n")
        length = int(size, 16)
        if length == 0:
            break
        out, data = out + data[:length], data[length + 2 :]
    return out


CLIMBS = [
    ("GET", "/v1/../../../../etc/passwd"),
    ("GET", "/v1/..%2F..%2Fx"),
    ("GET", "/v1/videos/.."),
    ("GET", "/v1/files/%2e%2e/%2E%2E/admin"),
    ("GET", "/v1/files/a%2Fb"),
    ("GET", "/v1/files/a%5c..%5cb"),
    ("GET", "/v1/./files"),
    ("POST", "/v1/files/../../x"),
]


def test_a_path_that_would_leave_v1_is_refused_before_anything_is_sent(served: Served, recorder: Recorder) -> None:
    for method, path in CLIMBS:
        status, body = raw_request(served, method, path, b"{}" if method == "POST" else b"")
        assert status == 400, (path, status, body)
        assert json.loads(body)["error"]["code"] == "invalid_request", (path, body)
    assert recorder.seen == []  # neither the API key nor the subscription's bearer went anywhere

    status, body = raw_request(served, "GET", "/v1/files/a%20b?limit=2")
    assert status == 200 and json.loads(body)["path"] == "/v1/files/a%20b?limit=2"  # passed on as it was sent
    assert recorder.seen == [("GET", "/v1/files/a%20b?limit=2", API_KEY)]


def test_a_relayed_body_carries_no_secret(served: Served, recorder: Recorder) -> None:
    status, body = raw_request(served, "POST", "/v1/files", b'{"purpose": "x"}')
    assert status == 400 and recorder.seen[-1][2] == API_KEY  # the upstream did echo it
    assert API_KEY not in body and "[redacted]" in body, body
    status, body = raw_request(served, "GET", "/v1/api-key")
    assert status == 200 and API_KEY not in body, body
    assert json.loads(body)["id"] == "file-Ab3dEf9hIj2kLm8nOp4qRs7t"  # an answer that worked keeps its ids
    assert API_KEY not in served.output()


def test_every_request_of_the_package_stays_under_its_origin() -> None:
    aim = target(Config(api_key=API_KEY), "api_key", "xai/grok-4.3")
    for path in ("/chat/completions", "/models", "/billing?format=credits", "/videos/abc-123", "/files/a%20b"):
        assert url(aim, path) == aim.origin + path
    for path in ("/../x", "/a/..", "/%2e%2e/x", "/.%2E/x", "/a%2fb", "/a\\b", "x", "/a b", "/a#/../..", "/ü"):
        with pytest.raises(RequestRejected):
            url(aim, path)
