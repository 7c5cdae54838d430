"""The emulator's HTTP side: two real servers on 127.0.0.1 (standard library ``http.server``) and which route
serves which request.

Routes (the behaviours live in the modules named)
    GET  /.well-known/openid-configuration                                   _auth_routes
    POST /oauth2/device/code          device authorization (RFC 8628 §3.1)   _auth_routes
    GET  /device?user_code=...        the verification page a person sees    _auth_routes
    POST /device                      its form: user_code, decision=approve|deny
    POST /oauth2/token                device_code and refresh_token grants
    POST /oauth2/revoke               RFC 7009
    GET  /oauth2/jwks
    GET  /v1/models                   models for the bearer's tier (or the API key's)          _api_routes
    POST /v1/chat/completions         whole or streamed (chat completion chunks, [DONE])
    POST /v1/responses                whole or streamed (Responses API events; web and X search with citations)
    POST /v1/images/generations | /v1/images/edits      images, as base64 or URLs             _media_routes
    POST /v1/videos/generations, GET /v1/videos/{id}    a video job: pending (202), then done
    GET  /_media/<name>               the generated files
    GET, POST /_emulator/*            test control, for the holder of ``control_token``       _control

The chat proxy (cli-chat-proxy.grok.com) on a second port (``proxy_url``), as
xAI's own Grok CLI meets it: subscription tokens only, ``X-XAI-Token-Auth:
xai-grok-cli`` required, 426 without ``x-grok-client-version`` (or older than
``min_client_version``), ``x-grok-model-override`` must name the body's model,
streams only (``grok-build`` excepted), ``store: false`` on responses.
    GET  /v1/models | /v1/models-v2 | /v1/settings | /v1/billing?format=credits | /v1/user?include=subscription
    POST /v1/chat/completions | /v1/responses

Every request first meets any ``Fault`` injected for its path. A ``/v1`` body whose fields have types the
emulator cannot read is a 422, as xAI refuses a body it cannot deserialize.
"""

from __future__ import annotations

import selectors
import socket
import threading
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from .._routes import REQUEST_ID_HEADER
from . import _api_routes, _auth_routes, _control, _media_routes
from ._authority import OAuthRefusal, Settings
from ._exchange import BadRequest, Exchange
from ._faults import Fault
from ._identity import Identity
from ._state import EmulatorState

__all__ = ["Emulator", "Fault", "Identity"]

#: A behaviour: answers the request on the exchange, given the request's path (without its query).
Route = Callable[[Exchange, str], None]

#: The auth + API origin, by (method, path); then by (method, path prefix).
ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/.well-known/openid-configuration"): _auth_routes.discovery,
    ("GET", "/oauth2/jwks"): _auth_routes.jwks,
    ("GET", "/device"): _auth_routes.device_page,
    ("POST", "/device"): _auth_routes.device_form,
    ("POST", "/oauth2/device/code"): _auth_routes.device_code,
    ("POST", "/oauth2/token"): _auth_routes.token,
    ("POST", "/oauth2/revoke"): _auth_routes.revoke,
    ("GET", "/v1/models"): _api_routes.models,
    ("POST", "/v1/chat/completions"): _api_routes.text,
    ("POST", "/v1/responses"): _api_routes.text,
    ("POST", "/v1/images/generations"): _media_routes.generate,
    ("POST", "/v1/images/edits"): _media_routes.generate,
    ("POST", "/v1/videos/generations"): _media_routes.generate,
}
PREFIX_ROUTES: list[tuple[str, str, Route]] = [
    ("GET", "/v1/videos/", _media_routes.video_status),
    ("GET", "/_media/", _media_routes.media_file),
    ("GET", "/_emulator/", _control.control),
    ("POST", "/_emulator/", _control.control),
]
#: The chat proxy's origin: its account endpoints answer every GET (after checking the bearer).
PROXY_ROUTES: dict[tuple[str, str], Route] = {
    ("POST", "/v1/chat/completions"): _api_routes.text,
    ("POST", "/v1/responses"): _api_routes.text,
}
PROXY_PREFIX_ROUTES: list[tuple[str, str, Route]] = [("GET", "/", _api_routes.proxy_account)]

#: Ports the emulator can take: the chat proxy listens on the next one.
HIGHEST_PORT = 65534


class _QuietServer(ThreadingHTTPServer):
    """A threading HTTP server that stops in a moment: its loop sleeps on the listening socket and a wake-up
    socket, not on socketserver's half-second poll, so a test's teardown does not wait for the poll to come round.
    """

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[Exchange]) -> None:
        # before binding: a port that is taken makes socketserver close the server at once (``server_close``)
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._stopping = False
        super().__init__(address, handler)

    def serve_until_stopped(self) -> None:
        """Answer connections until ``stop_serving``; each connection gets its own (daemon) thread."""
        with selectors.DefaultSelector() as selector:
            selector.register(self, selectors.EVENT_READ)
            selector.register(self._wake_reader, selectors.EVENT_READ)
            while not self._stopping:
                for key, _ in selector.select():
                    if key.fileobj is self and not self._stopping:
                        self._accept()

    def _accept(self) -> None:
        """One waiting connection to its own thread (what ``serve_forever`` does with a ready socket)."""
        try:
            request, client_address = self.get_request()
        except OSError:  # the client gave up before it was accepted
            return
        try:
            self.process_request(request, client_address)
        except Exception:  # noqa: BLE001 - as socketserver: report, close, keep serving
            self.handle_error(request, client_address)
            self.shutdown_request(request)

    def stop_serving(self) -> None:
        """Ask the loop to end (it ends at once, between two connections); the caller joins its thread."""
        self._stopping = True
        self._wake_writer.send(b"\0")

    def server_close(self) -> None:
        super().server_close()
        self._wake_reader.close()
        self._wake_writer.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up mid-answer is normal here (tests cut streams, SDKs close pools): no traceback."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Emulator(EmulatorState):
    """A local auth.x.ai + api.x.ai. ``with Emulator() as emu:`` serves on ``emu.url`` until the block ends."""

    def __init__(
        self, settings: Settings | None = None, *, host: str = "127.0.0.1", port: int = 0, **overrides: Any
    ) -> None:
        if not 0 <= port <= HIGHEST_PORT:
            raise ValueError(f"port must be between 0 and {HIGHEST_PORT} (the chat proxy takes the next one)")
        settings = settings or Settings()
        for name, value in overrides.items():
            setattr(settings, name, value)
        super().__init__(settings)
        self._server = _QuietServer((host, port), _handler_for(self))
        self._proxy_server = _QuietServer((host, port + 1 if port else 0), _handler_for(self, proxy=True))
        self._loops: list[threading.Thread] = []
        self.proxy_url = f"http://{host}:{self._proxy_server.server_address[1]}"
        self.url = f"http://{host}:{self._server.server_address[1]}"
        self.authority.issuer = self.url

    # -- lifecycle --------------------------------------------------------

    def start(self) -> Emulator:
        for server in (self._server, self._proxy_server):
            loop = threading.Thread(target=server.serve_until_stopped, name="xai-oauth-emulator", daemon=True)
            loop.start()
            self._loops.append(loop)
        return self

    def stop(self) -> None:
        """Stop both origins together; requests still being answered finish on their own threads."""
        servers = (self._server, self._proxy_server)
        for server in servers:
            server.stop_serving()
        for loop in self._loops:
            loop.join()
        self._loops.clear()
        for server in servers:
            server.server_close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def api_url(self) -> str:
        return f"{self.url}/v1"

    def environ(self) -> dict[str, str]:
        """The environment that points xai-oauth at this emulator (auth.x.ai, api.x.ai and the chat proxy)."""
        env = {"XAI_OAUTH_ISSUER": self.url, "XAI_BASE_URL": self.api_url, "XAI_OAUTH_BASE_URL": f"{self.proxy_url}/v1"}
        if self.settings.api_key:
            env["XAI_API_KEY"] = self.settings.api_key
        return env


class _Router(Exchange):
    """Sends each request to its route, after any injected fault; refusals and unreadable requests become JSON."""

    routes: dict[tuple[str, str], Route] = ROUTES
    prefix_routes: list[tuple[str, str, Route]] = PREFIX_ROUTES
    not_found: dict[str, str] = {"error": "not_found"}  # noqa: RUF012 - read only

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._dispatch()

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch()

    def _dispatch(self) -> None:
        self._read_body = None  # a kept-alive connection's handler serves its requests one after another
        path = urlsplit(self.path).path
        if not path.startswith("/v1/"):
            self._answer(path)
            return
        if self.command == "POST":
            self.emulator.count(self.emulator.attempts, self.headers.get(REQUEST_ID_HEADER))
        self.emulator.note_open(1)
        try:
            self._answer(path)
        finally:
            self.emulator.note_open(-1)

    def _answer(self, path: str) -> None:
        try:
            if self.misbehave(path, after=False):
                if self.command == "POST":
                    self.body()
                return
            route = self._route(path)
            if route is not None:
                try:
                    route(self, path)
                except (AttributeError, IndexError, KeyError, TypeError, ValueError):
                    if not path.startswith("/v1/") or self.command != "POST":
                        raise
                    # xAI reads a body into typed structures first: one it cannot read is refused whole
                    self.json(422, _UNREADABLE)
                return
            if self.command == "POST":
                self.body()
            self.json(404, self.not_found)
        except OAuthRefusal as refusal:
            self.json(refusal.status, refusal.body())
        except BadRequest as bad:
            self.close_connection = True  # the body's end is unknown: the connection cannot carry another request
            self.json(400, {"error": "invalid_request", "error_description": str(bad)})

    def _route(self, path: str) -> Route | None:
        route = self.routes.get((self.command, path))
        if route is None:
            route = next((r for m, p, r in self.prefix_routes if m == self.command and path.startswith(p)), None)
        return route


#: xAI's answer to a body whose fields are not of the types it expects (its deserializer's words).
_UNREADABLE = {
    "code": "Client specified an invalid argument",
    "error": "Failed to deserialize the JSON body into the target type",
}


class _ProxyRouter(_Router):
    proxy = True
    routes = PROXY_ROUTES
    prefix_routes = PROXY_PREFIX_ROUTES
    not_found = {"code": "not-found", "error": "not found"}  # noqa: RUF012 - read only


def _handler_for(emulator: Emulator, proxy: bool = False) -> type[Exchange]:
    """The request handler for the auth + API origin, or (``proxy``) for the chat proxy's origin."""
    base = _ProxyRouter if proxy else _Router
    return type("Handler", (base,), {"emulator": emulator})
