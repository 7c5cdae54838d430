"""What every emulator route does on the wire: read a body safely, answer in one write, misbehave, know the bearer.

The behaviour modules (``_auth_routes``, ``_api_routes``, ``_media_routes``, ``_control``) are functions of an
``Exchange``; ``_server`` picks which one a request reaches. Kept here, once:

* loopback speed: TCP_NODELAY on every connection, and a small answer's status line, headers and body leave in
  one write (a header write then a body write lets a delayed ACK stall the next request on a kept-alive
  connection by ~40 ms);
* a body is read only with a valid ``Content-Length``: anything else is ``BadRequest`` (a 400, no traceback);
* ``Fault`` injection, and which credential a bearer is (the API key, or a subscription token and its claims).
"""

from __future__ import annotations

import json
import select
import socket
import time
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qs

from ._api import API_KEY_MODELS

if TYPE_CHECKING:
    import threading

    from ._state import EmulatorState

__all__ = ["BadRequest", "Exchange"]

#: The write buffer of a connection: larger than any small answer, so headers and body leave together.
WRITE_BUFFER = 64 * 1024


class BadRequest(Exception):
    """A request the emulator cannot read (its framing, not its content): answered 400 and the connection closed."""


def client_version(text: str) -> tuple[int, ...]:
    """``1.2.3-beta`` as ``(1, 2, 3)``; ``()`` when it is not a version."""
    try:
        return tuple(int(part) for part in text.strip().split("-")[0].split("."))
    except ValueError:
        return ()


class Exchange(BaseHTTPRequestHandler):
    """One request and its answer, on the auth + API origin or (``proxy``) on the chat proxy's origin."""

    protocol_version = "HTTP/1.1"
    server_version = "xai-oauth-emulator"
    disable_nagle_algorithm = True
    wbufsize = WRITE_BUFFER
    #: set by the server on the subclass it serves with
    emulator: ClassVar[EmulatorState]
    proxy: ClassVar[bool] = False
    credential = ""  # which kind of bearer the current API request carried
    subject = ""  # and, for a subscription token, whose (its ``sub``)
    _read_body: bytes | None = None  # the body, once read (a held request reads it first: see ``hold``)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass  # quiet: tests and the demo print what matters

    # -- answers ----------------------------------------------------------

    def send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        """Answer whole: status line, headers and body are buffered, then leave in one write."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self.send(status, json.dumps(data).encode(), "application/json", headers)

    def html(self, status: int, text: str) -> None:
        self.send(status, text.encode(), "text/html; charset=utf-8")

    def refuse(self, status: int, code: str, error: str) -> None:
        """An xAI-shaped API error: ``{"code": ..., "error": ...}``."""
        self.json(status, {"code": code, "error": error})

    # -- the request ------------------------------------------------------

    def body(self) -> bytes:
        """The request body; ``BadRequest`` when its ``Content-Length`` is not a whole number of bytes."""
        if self._read_body is not None:
            return self._read_body
        text = (self.headers.get("Content-Length") or "0").strip()
        if not (text.isascii() and text.isdigit()):
            raise BadRequest("Content-Length must be a non-negative whole number")
        length = int(text)
        self._read_body = self.rfile.read(length) if length else b""
        return self._read_body

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body().decode(), keep_blank_values=True).items()}

    def misbehave(self, path: str, after: bool) -> bool:
        """Play the ``Fault`` injected for ``path`` at this point, if any; True when it answered (or hung up)."""
        fault = self.emulator.take_fault(path, after, self.account)
        if fault is None:
            return False
        self.emulator.faulted_headers.append(
            {k.lower(): v for k, v in self.headers.items() if k.lower() != "authorization"}
        )
        if fault.delay and not self.hold(fault.delay, fault.release):
            return True  # the client hung up while it waited: nobody to answer
        if fault.drop:
            self.close_connection = True
            self.connection.shutdown(2)
            return True
        if fault.keep_alive > 0:
            self.keep_alive_forever(fault.keep_alive)
            return True
        headers = {"Retry-After": f"{fault.retry_after or 1:g}"} if fault.status == 429 else {}
        if fault.should_retry is not None:
            headers["x-should-retry"] = fault.should_retry
        self.send(fault.status, fault.body.encode(), fault.content_type, headers)
        return True

    def hold(self, seconds: float, release: threading.Event | None = None) -> bool:
        """Wait ``seconds`` (or until ``release`` is set) before answering, as a slow upstream does, watching the
        connection: False, counted in ``Emulator.hung_up``, when the client hangs up meanwhile."""
        if self.command == "POST":
            self.body()  # read first: unread bytes would hide the end of the connection
        ends = time.monotonic() + seconds
        while (left := ends - time.monotonic()) > 0 and not (release is not None and release.is_set()):
            readable, _, _ = select.select([self.connection], [], [], min(left, 0.05 if release else left))
            if readable:
                try:
                    gone = not self.connection.recv(1, socket.MSG_PEEK)
                except OSError:
                    gone = True
                if gone:
                    self.close_connection = True
                    self.emulator.note_hang_up()
                    return False
                if release is not None:  # bytes of a next request: the end cannot be seen before them
                    release.wait(left)
                else:
                    time.sleep(left)
                break
        return True

    def keep_alive_forever(self, every: float) -> None:
        """A 200 event stream of comments only, one every ``every`` seconds, until the client hangs up."""
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        ends = time.monotonic() + 300
        try:
            while time.monotonic() < ends:
                self.wfile.write(b": keep-alive\n\n")
                self.wfile.flush()
                time.sleep(every)
        except OSError:
            self.emulator.note_hang_up()  # the client hung up: what a deadline should make it do

    def account(self) -> tuple[str, ...]:
        """Whose bearer this request carries, as ``(sub, email)``; ``()`` for none, or one that is not ours."""
        header = self.headers.get("Authorization", "")
        authority = self.emulator.authority
        claims = authority.verify_access_token(header[7:]) if header.startswith("Bearer ") else None
        if claims is None:
            return ()
        with authority.lock:
            grant = authority.grants.get(claims.get("sid", ""))
        return (str(claims.get("sub", "")), (grant.email if grant else None) or authority.settings.email)

    # -- the bearer -------------------------------------------------------

    def claims(self) -> dict[str, Any] | None:
        """The bearer's claims (``{}`` for the API key); None after answering when it is not accepted here."""
        authority = self.emulator.authority
        header = self.headers.get("Authorization", "")
        bearer = header[7:] if header.startswith("Bearer ") else ""
        if self.proxy and self.headers.get("X-XAI-Token-Auth") != "xai-grok-cli":
            self.json(401, {"code": "unauthenticated:token-auth", "error": "missing X-XAI-Token-Auth"})
            return None
        if bearer and bearer == authority.settings.api_key and not self.proxy:
            self.credential = "api_key"
            return {}
        claims = authority.verify_access_token(bearer) if bearer else None
        if claims is None:
            self.json(401, {"code": "unauthenticated:bad-credentials", "error": "invalid or expired token"})
            return None
        sent = self.headers.get("x-grok-client-version", "")
        if self.proxy and client_version(sent) < client_version(authority.settings.min_client_version):
            # the proxy's own words, as issue reports quote them; ``gate_names_version`` off: a 426 naming none
            wanted = authority.settings.min_client_version
            said = f"Your Grok CLI version ({sent or 'none'}) is outdated. Please update to version {wanted} or later"
            if not authority.settings.gate_names_version:
                said = "Please update to the latest Grok CLI."
            self.json(426, {"code": "upgrade-required", "error": said})
            return None
        self.credential = "subscription"
        self.subject = str(claims.get("sub", ""))
        return claims

    def models_of(self, claims: dict[str, Any]) -> list[str]:
        authority = self.emulator.authority
        return API_KEY_MODELS if self.credential == "api_key" else authority.models_for(claims.get("tier"))

    def allowed_models(self) -> list[str] | None:
        """The models the bearer may use; None (after answering 401) when it is not accepted."""
        claims = self.claims()
        return None if claims is None else self.models_of(claims)

    def recorded_body(self, path: str, raw: bytes) -> dict[str, Any] | None:
        """The request's JSON object, kept in ``api_requests`` (headers but the bearer); None after a 400."""
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self.refuse(400, "invalid-argument", "the body must be a JSON object")
            return None
        self.emulator.api_requests.append(
            {
                "path": path,
                "origin": "proxy" if self.proxy else "api",
                "credential": self.credential,
                "account": self.subject if self.credential == "subscription" else None,
                "body": body,
                "headers": {k.lower(): v for k, v in self.headers.items() if k.lower() != "authorization"},
            }
        )
        return body
