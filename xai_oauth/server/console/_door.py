"""What every console request must show before a page is drawn, and what every console answer carries.

The server's front door (``_guard`` with ``_admin_door.AdminDoor``) has already
kept out callers that are not on this machine (unless
``--admin-from-anywhere``). This door adds what a browser needs:

* **the Host header must name this server** as it listens: the address and
  port the connection reached (``scope["server"]``), and for a loopback
  address also ``localhost``, ``127.0.0.1`` and ``[::1]`` at that port. A
  page of another site whose name was pointed at 127.0.0.1 (DNS rebinding)
  sends its own name, and is refused;
* **no change from another site**: a POST whose ``Sec-Fetch-Site`` is not
  ``same-origin`` (or ``none``: typed by the person) is refused before any
  handler runs; a browser too old to send it is judged by ``Origin``, which
  must be this server. (With ``Referrer-Policy: no-referrer`` a browser
  sends ``Origin: null`` even on its own forms, so ``Sec-Fetch-Site``, which
  no page can set, decides first.) The CSRF token is checked after, by the
  handler;
* **no CORS**: no ``Access-Control-*`` header is ever sent, and a preflight
  (``OPTIONS``) is refused;
* **every answer** forbids inline script, ``eval``, plugins and framing
  (Content-Security-Policy), MIME sniffing and the Referer, and is not
  cached (a page holds account names and numbers).
"""

from __future__ import annotations

from typing import Any

from .._admin_door import is_loopback_peer
from .._guard import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CONTENT_SECURITY_POLICY", "ConsoleDoor", "allowed_hosts"]

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
SAFE_METHODS = frozenset({"GET", "HEAD"})
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


def allowed_hosts(server: Any, scheme: str) -> frozenset[str]:
    """The ``Host`` values that name this server, for the (address, port) a connection reached."""
    if not server or len(server) < 2:
        return frozenset()
    default = 443 if scheme == "https" else 80
    address, port = str(server[0]), default if server[1] is None else int(server[1])
    names = {f"[{address}]".lower() if ":" in address else address.lower()}
    if is_loopback_peer(server):
        names.update(LOOPBACK_NAMES)
    hosts = {f"{name}:{port}" for name in names}
    if port == default:
        hosts |= names
    return frozenset(hosts)


def _origin_of(scope: Scope, host: str) -> str:
    return f"{scope.get('scheme', 'http')}://{host}"


class ConsoleDoor:
    """Checks the Host, refuses cross-site changes and preflights, and adds the security headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}
        host = headers.get("host", "").strip().lower()
        method = str(scope.get("method", "GET")).upper()
        refused = self._refusal(scope, headers, host, method)
        if refused is not None:
            await _plain(send, *refused)
            return

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if not k.lower().startswith(b"access-control-")]
                message["headers"] = kept + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, secured)

    @staticmethod
    def _refusal(scope: Scope, headers: dict[str, str], host: str, method: str) -> tuple[int, str] | None:
        if host not in allowed_hosts(scope.get("server"), str(scope.get("scheme", "http"))):
            return 421, _WRONG_HOST
        if method == "OPTIONS":
            return 405, "The console answers no preflight: it is not for other sites' pages."
        if method in SAFE_METHODS:
            return None
        site = headers.get("sec-fetch-site")
        if site is not None:  # set by the browser, never by a page: it says where the request came from
            return None if site in ("same-origin", "none") else (403, _CROSS_SITE)
        origin = headers.get("origin")  # an older browser: its Origin ("null" under no-referrer is refused too)
        if origin is not None and origin.lower() != _origin_of(scope, host):
            return 403, _CROSS_SITE
        return None


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + SECURITY_HEADERS})
    await send({"type": "http.response.body", "body": body})


_WRONG_HOST = (
    "This console answers only under the name and port the server listens on (for a server on this machine: "
    "http://127.0.0.1:PORT or http://localhost:PORT). Another name can be a page of another site in disguise."
)
_CROSS_SITE = "The console takes changes only from its own pages, not from another site's."
