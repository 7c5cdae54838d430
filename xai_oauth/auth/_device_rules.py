"""The device authorization grant (RFC 8628) as pure steps.

``begin`` turns the device authorization answer into a ``PendingLogin``;
``step`` turns one token endpoint answer into the next state: still pending,
slow down (interval + 5 s), approved (a ``Credential``), or an exception for
the terminal errors. The caller does the HTTP and the persistence, so every
branch here is testable with plain dicts and a number for ``now``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from .._exceptions import AccessDenied, LoginExpired, MalformedResponse, OAuthError
from ..store._credential import Credential, as_seconds, credential_from_token_response

__all__ = ["DEVICE_GRANT", "Approved", "PendingLogin", "Waiting", "begin", "step"]

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_INTERVAL = 5.0  # RFC 8628 §3.2
SLOW_DOWN_STEP = 5.0  # RFC 8628 §3.5
DEFAULT_EXPIRES_IN = 900.0
#: Bounds on what a device authorization answer may ask of us: a code that lives a day, a poll every 10 min.
MAX_EXPIRES_IN = 86400.0
MAX_INTERVAL = 600.0


@dataclass(frozen=True)
class PendingLogin:
    """A sign-in between start() and a terminal poll(); persisted in ``pending.json`` (0600)."""

    device_code: str = field(repr=False)
    user_code: str
    verification_url: str
    verification_url_with_code: str
    expires_at: float
    interval: float
    next_poll_at: float
    issuer: str
    client_id: str

    def __post_init__(self) -> None:
        from .._redact import remember_secret

        remember_secret(self.device_code)  # a UUID-shaped device code passes scrub's shape test

    def expired(self, now: float) -> bool:
        return now >= self.expires_at

    def retry_after(self, now: float) -> float:
        """Seconds until the next poll may be sent (0 when it may be sent now)."""
        return max(0.0, self.next_poll_at - now)

    def polled(self, now: float) -> PendingLogin:
        """This login after a poll sent at ``now``: the next one waits ``interval``."""
        return replace(self, next_poll_at=now + self.interval)

    def to_dict(self) -> dict[str, Any]:
        return {
            "device_code": self.device_code,
            "user_code": self.user_code,
            "verification_url": self.verification_url,
            "verification_url_with_code": self.verification_url_with_code,
            "expires_at": self.expires_at,
            "interval": self.interval,
            "next_poll_at": self.next_poll_at,
            "issuer": self.issuer,
            "client_id": self.client_id,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PendingLogin:
        """Inverse of ``to_dict``; ``ValueError`` when ``data`` is not one (wrong types included)."""
        texts = ("device_code", "user_code", "verification_url", "verification_url_with_code", "issuer", "client_id")
        numbers = ("expires_at", "interval", "next_poll_at")
        if not all(isinstance(data.get(k), str) for k in texts) or not all(
            isinstance(data.get(k), (int, float)) and not isinstance(data.get(k), bool) for k in numbers
        ):
            raise ValueError("not a pending login")
        login = cls(
            device_code=data["device_code"],
            user_code=data["user_code"],
            verification_url=data["verification_url"],
            verification_url_with_code=data["verification_url_with_code"],
            issuer=data["issuer"],
            client_id=data["client_id"],
            expires_at=float(data["expires_at"]),
            interval=float(data["interval"]),
            next_poll_at=float(data["next_poll_at"]),
        )
        if not 0 <= login.interval <= MAX_INTERVAL or not abs(login.expires_at) < 1e11:
            raise ValueError("not a pending login")
        return login


@dataclass(frozen=True)
class Waiting:
    """Not approved yet. ``slowed_down`` when the server asked for a longer interval."""

    login: PendingLogin
    slowed_down: bool = False


@dataclass(frozen=True)
class Approved:
    credential: Credential


def _with_user_code(url: str, user_code: str) -> str:
    parts = urlsplit(url)
    query = parts.query + ("&" if parts.query else "") + urlencode({"user_code": user_code})
    return urlunsplit(parts._replace(query=query))


def begin(body: Mapping[str, Any], *, now: float, issuer: str, client_id: str) -> PendingLogin:
    """A ``PendingLogin`` from the device authorization answer (RFC 8628 §3.2).

    Numbers sent as strings are accepted; a missing interval means 5 s.
    """
    device_code = body.get("device_code")
    user_code = body.get("user_code")
    verification_uri = body.get("verification_uri") or body.get("verification_url")
    for name, value in (("device_code", device_code), ("user_code", user_code), ("verification_uri", verification_uri)):
        if not isinstance(value, str) or not value:
            raise MalformedResponse(f"The device authorization answer has no {name}.")
    assert isinstance(device_code, str) and isinstance(user_code, str) and isinstance(verification_uri, str)
    if urlsplit(verification_uri).scheme not in ("https", "http"):
        raise MalformedResponse("The device authorization answer's verification_uri is not a web address.")
    complete = body.get("verification_uri_complete")
    if not isinstance(complete, str) or urlsplit(complete).scheme not in ("https", "http"):
        complete = _with_user_code(verification_uri, user_code)
    expires_in = as_seconds(body.get("expires_in"), name="expires_in")
    interval = as_seconds(body.get("interval"), name="interval")
    if (expires_in is not None and expires_in > MAX_EXPIRES_IN) or (interval is not None and interval > MAX_INTERVAL):
        raise MalformedResponse("The device authorization answer asks for an impossible expiry or poll interval.")
    return PendingLogin(
        device_code=device_code,
        user_code=user_code,
        verification_url=verification_uri,
        verification_url_with_code=complete,
        expires_at=now + (expires_in if expires_in is not None else DEFAULT_EXPIRES_IN),
        interval=interval if interval is not None else DEFAULT_INTERVAL,
        next_poll_at=now,
        issuer=issuer,
        client_id=client_id,
    )


def step(login: PendingLogin, status: int, body: Mapping[str, Any], *, now: float) -> Waiting | Approved:
    """Interpret one token endpoint answer to a device-code poll sent at ``now``.

    Returns ``Waiting`` (authorization_pending, slow_down) or ``Approved``;
    raises ``AccessDenied``, ``LoginExpired``, ``OAuthError`` or
    ``MalformedResponse`` for the terminal outcomes (RFC 8628 §3.5).
    """
    polled = login.polled(now)
    if 200 <= status < 300:
        return Approved(credential_from_token_response(body, now))
    error = body.get("error")
    if error == "authorization_pending":
        return Waiting(polled)
    if error == "slow_down":
        interval = login.interval + SLOW_DOWN_STEP
        return Waiting(replace(polled, interval=interval, next_poll_at=now + interval), slowed_down=True)
    if error == "access_denied":
        raise AccessDenied("The sign-in was refused.", http_status=status, code="AccountAccessDenied")
    if error == "expired_token":
        raise LoginExpired("The sign-in code expired before it was approved.", http_status=status)
    raise OAuthError.from_body("token endpoint", status, dict(body))
