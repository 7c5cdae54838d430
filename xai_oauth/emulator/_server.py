"""The emulator's HTTP side: a real server on 127.0.0.1 (standard library ``http.server``).

Routes
    GET  /.well-known/openid-configuration
    POST /oauth2/device/code          device authorization (RFC 8628 §3.1)
    GET  /device?user_code=...        the verification page a person sees
    POST /device                      its form: user_code, decision=approve|deny
    POST /oauth2/token                device_code and refresh_token grants
    POST /oauth2/revoke               RFC 7009
    GET  /oauth2/jwks
    GET  /v1/models                   models for the bearer's tier (or the API key's)
    POST /v1/chat/completions         whole or streamed (chat completion chunks, [DONE])
    POST /v1/responses                whole or streamed (Responses API events; web and X search with citations)
    POST /v1/images/generations | /v1/images/edits      images, as base64 or URLs (see ``_media``)
    POST /v1/videos/generations, GET /v1/videos/{id}    a video job: pending (202), then done
    GET  /_media/<name>               the generated files

The chat proxy (cli-chat-proxy.grok.com) on a second port (``proxy_url``), as
xAI's own Grok CLI meets it: subscription tokens only, ``X-XAI-Token-Auth:
xai-grok-cli`` required, 426 without ``x-grok-client-version`` (or older than
``min_client_version``), ``x-grok-model-override`` must name the body's model,
streams only (``grok-build`` excepted), ``store: false`` on responses.
    GET  /v1/models | /v1/settings | /v1/billing?format=credits | /v1/user?include=subscription
    POST /v1/chat/completions | /v1/responses

Test control (JSON bodies), the same things ``Emulator`` offers in-process
    POST /_emulator/approve | deny | expire   {"user_code": ...}
    POST /_emulator/inject   {"path", "status", "body", "content_type", "times", "delay", "drop", "after", "cut_stream"}
    POST /_emulator/settings {any field of Settings}
    GET  /_emulator/stats
"""

from __future__ import annotations

import html
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .._tiers import USER_TIERS
from ._api import API_KEY_MODELS, ApiRefusal, Reply, chat_completions, responses
from ._authority import Authority, OAuthRefusal, Settings
from ._media import Studio

__all__ = ["Emulator", "Fault"]


@dataclass
class Fault:
    """A canned misbehaviour for the next ``times`` requests to ``path``."""

    path: str
    status: int = 503
    body: str = "<html><body><h1>503 Service Unavailable</h1></body></html>"
    content_type: str = "text/html"
    times: int = 1
    delay: float = 0.0  # seconds to wait before answering (or before dropping)
    drop: bool = False  # close the connection without an answer
    after: bool = False  # let the request reach the authority first (then misbehave)
    #: for streamed answers (with ``after``): end the stream halfway, cleanly (no terminal event)
    #: or, with ``drop``, by cutting the connection mid-chunk
    cut_stream: bool = False


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up mid-answer is normal here (tests cut streams, SDKs close pools): no traceback."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Emulator:
    """A local auth.x.ai + api.x.ai. ``with Emulator() as emu:`` serves on ``emu.url`` until the block ends."""

    def __init__(
        self, settings: Settings | None = None, *, host: str = "127.0.0.1", port: int = 0, **overrides: Any
    ) -> None:
        settings = settings or Settings()
        for name, value in overrides.items():
            setattr(settings, name, value)
        self.authority = Authority(settings)
        self.faults: list[Fault] = []
        self._faults_lock = threading.Lock()
        #: generated images and clips, and video jobs
        self.studio = Studio()
        self._server = _QuietServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._proxy_server = _QuietServer((host, port + 1 if port else 0), _handler_for(self, proxy=True))
        self._proxy_server.daemon_threads = True
        self.proxy_url = f"http://{host}:{self._proxy_server.server_address[1]}"
        #: every API request body (no credentials: those travel in headers), with its path and credential kind
        self.api_requests: list[dict[str, Any]] = []
        #: called after each token answer has been written to the socket (tests time kills by it)
        self.on_token_answer: Callable[[], None] | None = None
        self.url = f"http://{host}:{self._server.server_address[1]}"
        self.authority.issuer = self.url

    # -- lifecycle --------------------------------------------------------

    def start(self) -> Emulator:
        for server in (self._server, self._proxy_server):
            threading.Thread(target=server.serve_forever, name="xai-oauth-emulator", daemon=True).start()
        return self

    def stop(self) -> None:
        for server in (self._server, self._proxy_server):
            server.shutdown()
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

    # -- control ----------------------------------------------------------

    @property
    def settings(self) -> Settings:
        return self.authority.settings

    def approve(self, user_code: str) -> bool:
        return self.authority.decide(user_code, "approved")

    def deny(self, user_code: str) -> bool:
        return self.authority.decide(user_code, "denied")

    def expire(self, user_code: str) -> bool:
        return self.authority.expire(user_code)

    def inject(self, fault: Fault) -> None:
        with self._faults_lock:
            self.faults.append(fault)

    def stats(self) -> dict[str, int]:
        with self.authority.lock:
            return {**self.authority.stats, "live_grants": self.authority.live_grants()}

    def take_fault(self, path: str, after: bool) -> Fault | None:
        with self._faults_lock:
            for fault in self.faults:
                if fault.path == path and fault.after == after and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None


def _version(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.strip().split("-")[0].split("."))
    except ValueError:
        return ()


def _handler_for(emulator: Emulator, proxy: bool = False) -> type[BaseHTTPRequestHandler]:
    """The request handler for the auth + API origin, or (``proxy``) for the chat proxy's origin."""
    authority = emulator.authority

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "xai-oauth-emulator"
        credential = ""  # which kind of bearer the current API request carried

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass  # quiet: tests and the demo print what matters

        # -- plumbing -----------------------------------------------------

        def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
            self._send(status, json.dumps(data).encode(), "application/json", headers)

        def _html(self, status: int, text: str) -> None:
            self._send(status, text.encode(), "text/html; charset=utf-8")

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _form(self) -> dict[str, str]:
            return {k: v[0] for k, v in parse_qs(self._body().decode(), keep_blank_values=True).items()}

        def _misbehave(self, path: str, after: bool) -> bool:
            fault = emulator.take_fault(path, after)
            if fault is None:
                return False
            if fault.delay:
                time.sleep(fault.delay)
            if fault.drop:
                self.close_connection = True
                self.connection.shutdown(2)
                return True
            self._send(
                fault.status,
                fault.body.encode(),
                fault.content_type,
                {"Retry-After": "1"} if fault.status == 429 else None,
            )
            return True

        @contextmanager
        def _route(self, path: str) -> Iterator[None]:
            try:
                yield
            except OAuthRefusal as refusal:
                self._json(refusal.status, refusal.body())

        # -- GET ----------------------------------------------------------

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            url = urlsplit(self.path)
            if self._misbehave(url.path, after=False):
                return
            if proxy:
                self._proxy_get(url.path)
            elif url.path == "/.well-known/openid-configuration":
                base = emulator.url
                self._json(
                    200,
                    {
                        "issuer": base,
                        "device_authorization_endpoint": f"{base}/oauth2/device/code",
                        "token_endpoint": f"{base}/oauth2/token",
                        "revocation_endpoint": f"{base}/oauth2/revoke",
                        "jwks_uri": f"{base}/oauth2/jwks",
                        "grant_types_supported": ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"],
                        "token_endpoint_auth_methods_supported": ["none"],
                    },
                )
            elif url.path == "/oauth2/jwks":
                self._json(200, authority.jwks())
            elif url.path == "/device":
                code = parse_qs(url.query).get("user_code", [""])[0]
                self._html(200, _verification_page(code))
            elif url.path == "/v1/models":
                allowed = self._allowed_models()
                if allowed is None:
                    return
                self._json(
                    200, {"object": "list", "data": [{"id": m, "object": "model", "owned_by": "xai"} for m in allowed]}
                )
            elif url.path.startswith("/v1/videos/"):
                self._read_video(url.path.removeprefix("/v1/videos/"))
            elif url.path.startswith("/_media/"):
                kept = emulator.studio.file(url.path.removeprefix("/_media/"))
                if kept is None:
                    self._json(404, {"error": "not_found"})
                else:
                    self._send(200, kept[0], kept[1])
            elif url.path == "/_emulator/stats":
                self._json(200, emulator.stats())
            else:
                self._json(404, {"error": "not_found"})

        def _claims(self) -> dict[str, Any] | None:
            """The bearer's claims (``{}`` for the API key); None after answering when it is not accepted here."""
            header = self.headers.get("Authorization", "")
            bearer = header[7:] if header.startswith("Bearer ") else ""
            if proxy and self.headers.get("X-XAI-Token-Auth") != "xai-grok-cli":
                self._json(401, {"code": "unauthenticated:token-auth", "error": "missing X-XAI-Token-Auth"})
                return None
            if bearer and bearer == authority.settings.api_key and not proxy:
                self.credential = "api_key"
                return {}
            claims = authority.verify_access_token(bearer) if bearer else None
            if claims is None:
                self._json(401, {"code": "unauthenticated:bad-credentials", "error": "invalid or expired token"})
                return None
            if proxy and _version(self.headers.get("x-grok-client-version", "")) < _version(
                authority.settings.min_client_version
            ):
                self._json(426, {"code": "upgrade-required", "error": "Please update to the latest Grok CLI."})
                return None
            self.credential = "subscription"
            return claims

        def _allowed_models(self) -> list[str] | None:
            """The models the bearer may use; None (after answering 401) when it is not accepted."""
            claims = self._claims()
            return None if claims is None else self._models_of(claims)

        def _models_of(self, claims: dict[str, Any]) -> list[str]:
            return API_KEY_MODELS if self.credential == "api_key" else authority.models_for(claims.get("tier"))

        def _recorded_body(self, path: str, raw: bytes) -> dict[str, Any] | None:
            """The request's JSON object, kept in ``api_requests`` (headers but the bearer); None after a 400."""
            try:
                body = json.loads(raw or b"null")
            except ValueError:
                body = None
            if not isinstance(body, dict):
                self._json(400, {"code": "invalid-argument", "error": "the body must be a JSON object"})
                return None
            emulator.api_requests.append(
                {
                    "path": path,
                    "origin": "proxy" if proxy else "api",
                    "credential": self.credential,
                    "body": body,
                    "headers": {k.lower(): v for k, v in self.headers.items() if k.lower() != "authorization"},
                }
            )
            return body

        def _proxy_get(self, path: str) -> None:
            """The chat proxy's account endpoints, as xAI's own CLI reads them."""
            claims = self._claims()
            if claims is None:
                return
            tier = authority.settings.live_tier if authority.settings.live_tier is not None else claims.get("tier")
            if path == "/v1/models":
                models = authority.models_for(claims.get("tier"))
                self._json(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in models]})
            elif path == "/v1/settings":
                self._json(200, {"default_model": authority.settings.proxy_default_model})
            elif path == "/v1/billing":
                now = time.time()
                self._json(
                    200,
                    {
                        "config": {
                            "creditUsagePercent": authority.settings.credit_usage_percent,
                            "currentPeriod": {
                                "type": "USAGE_PERIOD_TYPE_WEEKLY",
                                "start": _iso(now - 2 * 86400),
                                "end": _iso(now + 5 * 86400),
                            },
                        }
                    },
                )
            elif path == "/v1/user":
                names = {level: name for name, level in USER_TIERS.items()}
                self._json(200, {"id": claims.get("sub"), "subscription_tier": names.get(tier) if tier else None})
            else:
                self._json(404, {"code": "not-found", "error": "not found"})

        def _api(self, path: str) -> None:
            raw = self._body()
            allowed = self._allowed_models()
            if allowed is None:
                return
            body = self._recorded_body(path, raw)
            if body is None:
                return
            refusal = self._proxy_refusal(path, body) if proxy else None
            billed = not proxy and self.credential == "subscription" and authority.settings.api_bills_oauth
            if refusal is None and billed:
                refusal = (429, "subscription:free-usage-exhausted", "Free usage exhausted; add API credits.")
            if refusal is not None:
                self._json(refusal[0], {"code": refusal[1], "error": refusal[2]})
                return
            lane = chat_completions if path == "/v1/chat/completions" else responses
            try:
                reply = lane(body, allowed, repeat=authority.settings.reply_repeat)
            except ApiRefusal as refused:
                self._json(refused.status, refused.body)
                return
            if body.get("stream"):
                self._stream(path, reply)
            elif not self._misbehave(path, after=True):
                self._json(200, reply.whole)

        def _imagine(self, path: str) -> None:
            """Images and video on api.x.ai, for the subscription's bearer and the API key alike."""
            raw = self._body()
            claims = self._claims()
            if claims is None:
                return
            allowed = self._models_of(claims)
            body = self._recorded_body(path, raw)
            if body is None:
                return
            settings = authority.settings
            try:
                if path.startswith("/v1/images/"):
                    answer = emulator.studio.image(path, body, allowed, claims.get("tier"), settings, emulator.url)
                else:
                    answer = emulator.studio.start_video(body, allowed, claims.get("tier"), settings)
            except ApiRefusal as refused:
                self._json(refused.status, refused.body)
                return
            if not self._misbehave(path, after=True):
                self._json(200, answer)

        def _read_video(self, request_id: str) -> None:
            if self._claims() is None:
                return
            status, answer = emulator.studio.read_video(request_id, authority.settings, emulator.url)
            retry = authority.settings.video_retry_after
            headers = {"Retry-After": f"{retry:g}"} if status == 202 and retry is not None else None
            self._json(status, answer, headers)

        def _proxy_refusal(self, path: str, body: dict[str, Any]) -> tuple[int, str, str] | None:
            """What the chat proxy says no to, in the body or in the headers that must agree with it."""
            model = body.get("model")
            if self.headers.get("x-grok-model-override") != model:
                return 400, "invalid-argument", "x-grok-model-override must name the model in the body"
            if body.get("stream") is not True and model != "grok-build":
                return 400, "invalid-argument", f"{model} is served only as a stream; send stream: true"
            if path.endswith("/responses") and body.get("store") is not False:
                return 400, "invalid-argument", "the CLI proxy stores no responses; send store: false"
            return None

        def _stream(self, path: str, reply: Reply) -> None:
            """Server-sent events over chunked transfer, with a keep-alive comment first."""
            fault = emulator.take_fault(path, after=True)
            events = reply.events
            if fault is not None and fault.cut_stream:
                events = events[: len(events) // 2]
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()

            def chunk(text: str) -> None:
                data = text.encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

            chunk(": keep-alive\n\n")
            for name, data in events:
                if authority.settings.stream_delay:
                    time.sleep(authority.settings.stream_delay)
                chunk((f"event: {name}\n" if name else "") + f"data: {data}\n\n")
            if fault is not None and fault.drop:
                self.wfile.write(b"40\r\npartial")  # a chunk that never completes
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self.wfile.write(b"0\r\n\r\n")

        # -- POST ---------------------------------------------------------

        def do_POST(self) -> None:  # noqa: N802
            path = urlsplit(self.path).path
            if self._misbehave(path, after=False):
                self._body()
                return
            with self._route(path):
                if proxy:
                    if path in ("/v1/chat/completions", "/v1/responses"):
                        self._api(path)
                    else:
                        self._body()
                        self._json(404, {"code": "not-found", "error": "not found"})
                elif path == "/oauth2/device/code":
                    form = self._form()
                    self._json(200, authority.device_authorization(form.get("client_id", ""), form.get("scope", "")))
                elif path == "/oauth2/token":
                    answer = authority.token(self._form())
                    time.sleep(authority.settings.token_answer_delay)
                    if not self._misbehave(path, after=True):
                        self._json(200, answer)
                        if emulator.on_token_answer is not None:
                            emulator.on_token_answer()
                elif path == "/oauth2/revoke":
                    authority.revoke(self._form())
                    self._send(200, b"", "text/plain")
                elif path == "/device":
                    form = self._form()
                    decision = "approved" if form.get("decision") == "approve" else "denied"
                    ok = authority.decide(form.get("user_code", ""), decision)
                    self._html(200 if ok else 400, _result_page(decision if ok else "unknown"))
                elif path in ("/v1/chat/completions", "/v1/responses"):
                    self._api(path)
                elif path in ("/v1/images/generations", "/v1/images/edits", "/v1/videos/generations"):
                    self._imagine(path)
                elif path.startswith("/_emulator/"):
                    self._control(path.removeprefix("/_emulator/"), json.loads(self._body() or b"{}"))
                else:
                    self._json(404, {"error": "not_found"})

        def _control(self, command: str, data: dict[str, Any]) -> None:
            if command in ("approve", "deny", "expire"):
                ok = getattr(emulator, command)(str(data.get("user_code", "")))
                self._json(200 if ok else 404, {"ok": ok})
            elif command == "inject":
                emulator.inject(Fault(**data))
                self._json(200, {"ok": True})
            elif command == "settings":
                known = {f.name for f in fields(Settings)}
                for name, value in data.items():
                    if name in known:
                        setattr(authority.settings, name, value)
                self._json(200, {"ok": True})
            else:
                self._json(404, {"error": "unknown control command"})

    return Handler


def _iso(when: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))


def _verification_page(user_code: str) -> str:
    code = html.escape(user_code)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>xAI emulator: approve sign-in</title></head>
<body style="font-family: sans-serif; max-width: 32em; margin: 4em auto">
<h1>Sign in to Grok (emulator)</h1>
<p>An app is asking to use your subscription. Check that this code matches the one it showed you.</p>
<form method="post" action="/device">
<p><label>Code <input name="user_code" value="{code}" style="font-size: 1.5em; letter-spacing: .1em"></label></p>
<button name="decision" value="approve">Approve</button>
<button name="decision" value="deny">Deny</button>
</form></body></html>"""


def _result_page(outcome: str) -> str:
    text = {
        "approved": "Approved. You can close this page and go back to the app.",
        "denied": "Denied. The app will not get access.",
    }.get(outcome, "That code is unknown or expired. Start the sign-in again.")
    return f"<!doctype html><html><body style='font-family: sans-serif'><h1>{html.escape(text)}</h1></body></html>"
