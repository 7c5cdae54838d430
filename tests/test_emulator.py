"""The emulator itself: its test-control endpoints refuse what a web page could send, and it answers at loopback speed.

The control endpoints (``/_emulator/*``) can approve sign-ins and inject faults, so a page in the person's browser
(or a DNS-rebinding attack) must not reach them: they want the per-emulator control token, a loopback Host with
the emulator's own port, and an ``application/json`` body. Malformed requests are a 400, never a traceback.
Speed is checked by its causes (TCP_NODELAY, one write per small answer), never by timing.
"""

from __future__ import annotations

import http.client
import json
import selectors
import socket
import socketserver
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from xai_oauth.cli._emulator import banner, main
from xai_oauth.emulator import Emulator

TOKEN_HEADER = "X-Emulator-Token"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(interval=1.0) as emulator:
        yield emulator


def _request(
    emu: Emulator,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    *,
    port: int | None = None,
) -> tuple[int, Any]:
    """Send one request with exactly the headers given (http.client adds Host only when it is not given)."""
    port = port or int(emu.url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        answer = conn.getresponse()
        raw = answer.read()
    finally:
        conn.close()
    try:
        return answer.status, json.loads(raw or b"null")
    except ValueError:
        return answer.status, raw


def _control(emu: Emulator, command: str, data: Any, **headers: str) -> tuple[int, Any]:
    sent = {"Content-Type": "application/json", TOKEN_HEADER: emu.control_token, **headers}
    return _request(emu, "POST", f"/_emulator/{command}", json.dumps(data).encode(), sent)


def _user_code(emu: Emulator) -> str:
    return str(emu.authority.device_authorization(emu.settings.client_id, "openid")["user_code"])


# -- the control token --------------------------------------------------------------------------------------


def test_each_emulator_has_its_own_control_token_and_the_banner_shows_it(emu: Emulator) -> None:
    with Emulator() as other:
        assert emu.control_token != other.control_token
    assert len(emu.control_token) >= 32
    assert any(emu.control_token in line and TOKEN_HEADER in line for line in banner(emu))


def test_control_without_the_token_is_refused_and_does_nothing(emu: Emulator) -> None:
    code = _user_code(emu)
    status, body = _request(
        emu,
        "POST",
        "/_emulator/approve",
        json.dumps({"user_code": code}).encode(),
        {"Content-Type": "application/json"},
    )
    assert status == 403 and body["error"] == "control_token_required"
    status, body = _control(emu, "approve", {"user_code": code}, **{TOKEN_HEADER: "not-the-token"})
    assert status == 403 and body["error"] == "control_token_required"
    assert _request(emu, "GET", "/_emulator/stats")[0] == 403
    device = next(iter(emu.authority.devices.values()))
    assert device.decision == "pending"


def test_control_with_the_token_works(emu: Emulator) -> None:
    code = _user_code(emu)
    assert _control(emu, "approve", {"user_code": code}) == (200, {"ok": True})
    assert next(iter(emu.authority.devices.values())).decision == "approved"
    assert _control(emu, "settings", {"tier": 4}) == (200, {"ok": True})
    assert emu.settings.tier == 4
    status, stats = _request(emu, "GET", "/_emulator/stats", headers={TOKEN_HEADER: emu.control_token})
    assert status == 200 and stats["device_authorizations"] == 1


# -- DNS rebinding: the Host must be this emulator on loopback ----------------------------------------------


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:{port}", "127.0.0.1:1", "localhost", ""])
def test_control_refuses_a_host_that_is_not_this_emulator_on_loopback(emu: Emulator, host: str) -> None:
    port = emu.url.rsplit(":", 1)[1]
    status, body = _control(emu, "settings", {"tier": 4}, Host=host.format(port=port))
    assert status == 403 and body["error"] == "forbidden_host"
    assert emu.settings.tier == 1


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "LOCALHOST"])
def test_control_accepts_loopback_names_with_the_right_port(emu: Emulator, name: str) -> None:
    port = emu.url.rsplit(":", 1)[1]
    assert _control(emu, "settings", {"tier": 3}, Host=f"{name}:{port}") == (200, {"ok": True})


# -- bodies: JSON only, and malformed input is a 400 ---------------------------------------------------------


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_control_takes_only_json_bodies(emu: Emulator, content_type: str | None) -> None:
    headers = {TOKEN_HEADER: emu.control_token}
    if content_type:
        headers["Content-Type"] = content_type
    status, body = _request(emu, "POST", "/_emulator/settings", b'{"tier": 4}', headers)
    assert status == 415 and body["error"] == "unsupported_media_type"
    assert emu.settings.tier == 1


@pytest.mark.parametrize(
    ("command", "raw"),
    [
        ("settings", b"{not json"),
        ("settings", b"[1, 2]"),
        ("inject", b'{"path": "/x", "no_such_field": 1}'),
        ("inject", b'{"times": 1}'),
        ("approve", b'"ABCD-EFGH"'),
    ],
)
def test_malformed_control_json_is_a_400_without_a_traceback(
    emu: Emulator, command: str, raw: bytes, capfd: pytest.CaptureFixture[str]
) -> None:
    headers = {"Content-Type": "application/json", TOKEN_HEADER: emu.control_token}
    status, body = _request(emu, "POST", f"/_emulator/{command}", raw, headers)
    assert status == 400 and body["error"] == "invalid_request", body
    assert emu.faults == []
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize("length", ["-1", "-100", "abc", "1e3"])
@pytest.mark.parametrize("path", ["/_emulator/settings", "/oauth2/token", "/v1/chat/completions", "/device"])
def test_an_invalid_content_length_is_a_400_without_a_traceback(
    emu: Emulator, length: str, path: str, capfd: pytest.CaptureFixture[str]
) -> None:
    headers = {"Content-Type": "application/json", TOKEN_HEADER: emu.control_token, "Content-Length": length}
    status, body = _request(emu, "POST", path, b"", headers)
    assert status == 400 and body["error"] == "invalid_request", body
    assert "Traceback" not in capfd.readouterr().err


# -- ports --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("port", ["65535", "70000", "-1"])
def test_a_port_without_room_for_the_proxy_is_a_usage_error(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--port", port])
    assert exited.value.code == 64  # the command's usage error (argparse's 2 means "sign-in denied" there)
    err = capsys.readouterr().err
    assert "--port" in err and "65534" in err and "Traceback" not in err


def test_the_emulator_refuses_a_port_without_room_for_the_proxy() -> None:
    with pytest.raises(ValueError, match="65534"):
        Emulator(port=65535)


# -- loopback speed -----------------------------------------------------------------------------------------


def _servers(emu: Emulator) -> list[socketserver.BaseServer]:
    return [emu._server, emu._proxy_server]


def test_every_served_connection_has_tcp_nodelay(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    for server in _servers(emu):
        handler = server.RequestHandlerClass
        original = handler.setup

        def setup(self: Any, original: Any = original) -> None:
            original(self)
            seen.append(self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

        monkeypatch.setattr(handler, "setup", setup)
    _request(emu, "GET", "/.well-known/openid-configuration")
    _request(emu, "GET", "/v1/models", port=int(emu.proxy_url.rsplit(":", 1)[1]))
    assert len(seen) == 2 and all(seen), seen


def test_a_small_answer_leaves_in_one_write(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """Headers and body in separate writes let a delayed ACK stall the next request on a kept-alive connection."""
    ports = {server.server_address[1] for server in _servers(emu)}
    writes: list[bytes] = []

    def counting(cls: Any, attribute: str, socket_of: Any) -> None:
        original = getattr(cls, attribute)

        def write(self: Any, data: Any) -> Any:
            if socket_of(self).getsockname()[1] in ports:  # the server's side of the connection
                writes.append(bytes(data))
            return original(self, data)

        monkeypatch.setattr(cls, attribute, write)

    counting(socket.SocketIO, "write", lambda io: io._sock)
    counting(socketserver._SocketWriter, "write", lambda writer: writer._sock)  # type: ignore[attr-defined]
    status, _ = _request(emu, "GET", "/.well-known/openid-configuration")
    assert status == 200
    assert len(writes) == 1, writes
    assert writes[0].startswith(b"HTTP/1.1 200") and writes[0].endswith(b"}")
    writes.clear()
    assert _request(emu, "GET", "/nowhere")[0] == 404
    assert len(writes) == 1, writes


def test_the_emulator_stops_without_waiting_for_a_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    """Teardown speed by its cause: both serve loops wait on their sockets with no timeout (socketserver's loop
    wakes every half second to look for a stop), and ``stop()`` still ends them: a wake-up reaches them."""
    timeouts: list[float | None] = []
    for kind in {selectors.DefaultSelector, selectors.PollSelector, selectors.SelectSelector}:

        def select(self: Any, timeout: float | None = None, original: Any = kind.select) -> Any:
            if threading.current_thread().name == "xai-oauth-emulator":
                timeouts.append(timeout)
            return original(self, timeout)

        monkeypatch.setattr(kind, "select", select)
    emulator = Emulator().start()
    assert _request(emulator, "GET", "/.well-known/openid-configuration")[0] == 200
    assert _request(emulator, "GET", "/v1/models", port=int(emulator.proxy_url.rsplit(":", 1)[1]))[0] == 401
    stopping = threading.Thread(target=emulator.stop, daemon=True)
    stopping.start()
    stopping.join(timeout=60)  # a hang guard: stop() takes milliseconds
    assert not stopping.is_alive(), "stop() did not return"
    assert timeouts and set(timeouts) == {None}, timeouts
