"""Hosts, routes and the headers a host needs: the one module that decides where a request goes.

xAI's own Grok CLI (xai-org/grok-build) sends the subscription's text
inference to its chat proxy, ``https://cli-chat-proxy.grok.com/v1``, and adds
the proxy's headers in one place keyed on the URL; API keys, and the
subscription's image and video calls, go to ``https://api.x.ai/v1``. api.x.ai
bills many subscribers' OAuth calls against API credit, so the proxy is the
default route for the subscription (``XAI_OAUTH_ROUTE=api`` restores the old
way).

The subscription's bearer goes only to https hosts on ``x.ai`` or
``grok.com``, or to loopback when the issuer itself is on loopback (the
emulator's case): never to a gateway that was configured for an API key, and
a local API-key gateway (a LiteLLM-style proxy on 127.0.0.1) is such a
gateway when the sign-in was made at auth.x.ai.

Every check here is total: a URL that ``urlsplit`` cannot take (``https://[x``,
a port out of range) is simply not an xAI host, or is a ``ConfigError`` for a
setting, never a ``ValueError`` escaping as ``internal``.

Only ``ipaddress`` and ``urllib.parse`` here (the ``Config`` path, not status()).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import SplitResult, urlsplit

from ._exceptions import ConfigError
from ._version import GROK_CLI_VERSION  # re-exported for the request headers

__all__ = [
    "CLIENT_VERSION_HEADER",
    "DEFAULT_API_URL",
    "DEFAULT_PROXY_URL",
    "GROK_CLI_VERSION",
    "REQUEST_ID_HEADER",
    "ROUTES",
    "is_loopback_host",
    "is_subscription_url",
    "proxy_headers",
    "require_https",
    "same_origin",
    "split_url",
]

DEFAULT_API_URL = "https://api.x.ai/v1"
DEFAULT_PROXY_URL = "https://cli-chat-proxy.grok.com/v1"
ROUTES = ("proxy", "api")
SUBSCRIPTION_DOMAINS = ("x.ai", "grok.com")
#: The header the chat proxy gates on: an old (or no) Grok CLI version is refused with 426.
CLIENT_VERSION_HEADER = "x-grok-client-version"
#: One random id per client request of the local server, the same on each account it is tried on, so a
#: duplicate send can be told apart from a retry (a name OpenAI's own SDKs use for the same purpose).
REQUEST_ID_HEADER = "x-client-request-id"


def is_loopback_host(host: str | None) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1: the only hosts where plain http is allowed."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def split_url(url: object) -> SplitResult | None:
    """``urlsplit(url)`` with its port read, or None where that would raise (``https://[x``, port 99999)."""
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
        parts.hostname  # noqa: B018
    except ValueError:
        return None
    return parts


def require_https(name: str, url: str) -> None:
    """Tokens travel to ``url``: https, or plain http only on a loopback address."""
    parts = split_url(url)
    if parts is None or parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(
            f"{name} must be a URL starting with https:// (or http:// on this machine's loopback), got {url!r}."
        )
    if parts.username or parts.password:
        raise ConfigError(f"{name} must not carry credentials in the URL.")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigError(
            f"{name} is plain http on {parts.hostname}, which is not this machine; tokens may travel over plain "
            "http only to a loopback address (localhost, 127.0.0.0/8 or ::1, as the built-in emulator uses). "
            "Use https."
        )


def is_subscription_url(url: str, *, issuer: str) -> bool:
    """True when the subscription's bearer (issued by ``issuer``) may go to ``url``.

    https on x.ai / grok.com; or loopback, only when ``issuer`` is loopback
    too: the emulator issues pretend tokens for its own pretend API, while a
    real sign-in's token must never reach a local gateway.
    """
    parts, issued_by = split_url(url), split_url(issuer)
    if parts is None or issued_by is None:
        return False
    host = (parts.hostname or "").lower().rstrip(".")
    if is_loopback_host(host):
        return parts.scheme in ("http", "https") and is_loopback_host(issued_by.hostname)
    return parts.scheme == "https" and any(host == d or host.endswith("." + d) for d in SUBSCRIPTION_DOMAINS)


def same_origin(a: str, b: str) -> bool:
    """Scheme, host and port equal (default ports filled in); never for a URL that cannot be read."""

    def origin(url: str) -> tuple[str, str, int | None] | None:
        parts = split_url(url)
        if parts is None:
            return None
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
        return parts.scheme, (parts.hostname or "").lower(), port

    mine = origin(a)
    return mine is not None and mine == origin(b)


def proxy_headers(model_id: str | None, client_version: str) -> dict[str, str]:
    """What the chat proxy requires besides the bearer (grok-build's README, "Using auth.json for API Access").

    ``X-XAI-Token-Auth`` makes its auth middleware read the bearer as a CLI
    session token; ``x-grok-model-override`` routes to the model's backend
    (the proxy reads it, not the body); ``x-grok-client-version`` is gated.
    """
    headers = {
        "X-XAI-Token-Auth": "xai-grok-cli",
        "x-authenticateresponse": "authenticate-response",
        CLIENT_VERSION_HEADER: client_version,
    }
    if model_id:
        headers["x-grok-model-override"] = model_id
    return headers
