"""OIDC discovery, pinned to the issuer.

The discovery document decides where we send device codes and refresh
tokens, so we do not take it on trust (OpenID Connect Discovery 1.0 §4.3):

* its ``issuer`` must equal the configured issuer exactly;
* every endpoint must be https, on the issuer's host or under the issuer's
  registrable domain (``auth.x.ai`` -> ``x.ai`` and ``*.x.ai``);
* plain http is accepted only when the configured issuer is itself loopback,
  and then endpoints must be on that same loopback host.

The document is cached in ``discovery.json`` for ``CACHE_TTL`` seconds and
validated again whenever it is read back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from .._exceptions import DiscoveryError
from .._routes import is_loopback_host
from ..store._errors import StoreCorrupt
from ..store._files import read_json, remove, write_json

__all__ = ["CACHE_TTL", "Endpoints", "load_endpoints", "registrable_domain", "validate_discovery"]

CACHE_TTL = 24 * 3600.0
WELL_KNOWN = "/.well-known/openid-configuration"

# Second-level labels under which country-code TLDs sell domains (example.co.uk).
# Without the Public Suffix List we err on the narrow side: for these, the
# registrable domain keeps three labels.
_SECOND_LEVEL = frozenset({"co", "com", "net", "org", "gov", "edu", "ac", "ne", "or", "go"})


@dataclass(frozen=True)
class Endpoints:
    """The endpoints we use, all validated."""

    issuer: str
    device_authorization_endpoint: str
    token_endpoint: str
    revocation_endpoint: str | None
    jwks_uri: str | None
    userinfo_endpoint: str | None = None


def registrable_domain(host: str) -> str:
    """The domain a host belongs to: ``auth.x.ai`` -> ``x.ai``; ``a.b.co.uk`` -> ``b.co.uk``."""
    labels = host.lower().rstrip(".").split(".")
    if len(labels) <= 2:
        return ".".join(labels)
    if len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def _check_endpoint(name: str, url: object, issuer: str) -> str:
    if not isinstance(url, str) or not url:
        raise DiscoveryError(f"The discovery document has no usable {name}.")
    issuer_parts = urlsplit(issuer)
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    issuer_host = (issuer_parts.hostname or "").lower()
    if parts.username or parts.password:
        raise DiscoveryError(f"The discovery document's {name} carries credentials in its URL.")
    if is_loopback_host(issuer_host):
        if parts.scheme not in ("http", "https") or host != issuer_host:
            raise DiscoveryError(
                f"The {name} ({url}) is not on {issuer_host}: a loopback issuer's endpoints must be on the very "
                "same host, since plain http is trusted only there."
            )
        return url
    if parts.scheme != "https":
        raise DiscoveryError(f"The {name} ({url}) is not https.")
    domain = registrable_domain(issuer_host)
    if host != issuer_host and host != domain and not host.endswith("." + domain):
        raise DiscoveryError(f"The {name} ({url}) is outside the issuer's domain {domain}.")
    return url


def validate_discovery(document: Mapping[str, object], issuer: str) -> Endpoints:
    """Endpoints from a discovery document, or ``DiscoveryError`` saying what is wrong."""
    served = document.get("issuer")
    if served != issuer:
        named = repr(served)[:120] if isinstance(served, str) else "no issuer"
        spelling = (
            " (localhost, 127.0.0.1 and ::1 are the same machine but different issuers: use the URL the server prints)"
            if isinstance(served, str)
            and is_loopback_host(urlsplit(served).hostname)
            and is_loopback_host(urlsplit(issuer).hostname)
            else ""
        )
        raise DiscoveryError(
            f"XAI_OAUTH_ISSUER is {issuer}, but its discovery document names {named}; they must match exactly "
            f"(OpenID Connect Discovery §4.3){spelling}, so nothing was sent.",
            action=f"Set XAI_OAUTH_ISSUER to the issuer the server names ({named}) if you trust it, or unset it "
            "for https://auth.x.ai.",
        )
    revocation = document.get("revocation_endpoint")
    jwks = document.get("jwks_uri")
    userinfo = document.get("userinfo_endpoint")
    return Endpoints(
        issuer=issuer,
        device_authorization_endpoint=_check_endpoint(
            "device_authorization_endpoint", document.get("device_authorization_endpoint"), issuer
        ),
        token_endpoint=_check_endpoint("token_endpoint", document.get("token_endpoint"), issuer),
        revocation_endpoint=_check_endpoint("revocation_endpoint", revocation, issuer) if revocation else None,
        jwks_uri=_check_endpoint("jwks_uri", jwks, issuer) if jwks else None,
        userinfo_endpoint=_check_endpoint("userinfo_endpoint", userinfo, issuer) if userinfo else None,
    )


def load_endpoints(
    issuer: str,
    cache_path: str,
    fetch: Callable[[str], Mapping[str, object]],
    now: Callable[[], float],
) -> Endpoints:
    """Endpoints from the on-disk cache when fresh, else by fetching the discovery document.

    ``fetch(url)`` returns the parsed JSON object (or raises); it is the only I/O.
    A cached document that no longer validates is dropped and fetched again.
    """
    try:
        cached = read_json(cache_path, what="discovery cache")
    except StoreCorrupt:
        cached = None
    if cached and cached.get("issuer") == issuer:
        fetched_at = cached.get("fetched_at")
        document = cached.get("document")
        if isinstance(fetched_at, (int, float)) and 0 <= now() - fetched_at < CACHE_TTL and isinstance(document, dict):
            try:
                return validate_discovery(document, issuer)
            except DiscoveryError:
                remove(cache_path)
    document = fetch(issuer + WELL_KNOWN)
    endpoints = validate_discovery(document, issuer)
    write_json(cache_path, {"issuer": issuer, "fetched_at": now(), "document": dict(document)})
    return endpoints
