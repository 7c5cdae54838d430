"""The credential (the token set) and the rule for when it is due for refresh.

Pure: no I/O, time comes in as ``now``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .._exceptions import MalformedResponse
from .._tiers import describe_tier
from ._claims import unverified_claims

__all__ = [
    "MAX_LEEWAY",
    "MAX_LIFETIME",
    "Credential",
    "as_seconds",
    "credential_from_token_response",
    "fingerprint",
    "refresh_leeway",
]

#: Refresh at most this long before expiry ...
MAX_LEEWAY = 300.0
#: ... and never earlier than this fraction of the token's lifetime before it.
LEEWAY_FRACTION = 0.25
#: No access token lives longer than a year: a server (or file) that says otherwise is wrong, not generous.
MAX_LIFETIME = 366 * 24 * 3600.0
#: Timestamps we accept on disk: after 1970 and before the year 5000.
_EPOCH_RANGE = (0.0, 9.5e10)


def fingerprint(secret: str) -> str:
    """A short one-way name for a secret, so records can say which refresh token they mean without holding it."""
    import hashlib

    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def as_seconds(value: object, *, name: str) -> float | None:
    """A non-negative number of seconds from an int, float or numeric string; None when absent."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise MalformedResponse(f"The server sent a non-numeric {name}.")
    if isinstance(value, (int, float, str)):
        try:
            number = float(value.strip() if isinstance(value, str) else value)
        except ValueError:
            raise MalformedResponse(f"The server sent a non-numeric {name}.") from None
        except OverflowError:
            number = float("inf")
    else:
        raise MalformedResponse(f"The server sent a non-numeric {name}.")
    if number < 0 or number != number or number == float("inf"):
        raise MalformedResponse(f"The server sent an impossible {name} ({value!r:.40}).")
    return number


@dataclass(frozen=True)
class Credential:
    """What the token endpoint gave us. Secrets are left out of ``repr``."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: float
    lifetime: float
    issued_at: float
    id_token: str | None = field(default=None, repr=False)
    token_type: str = "Bearer"
    scope: str | None = None
    #: the issuer whose token endpoint issued it: its refresh token is never sent anywhere else
    issuer: str | None = None

    def __post_init__(self) -> None:
        from .._redact import remember_secret

        for secret in (self.access_token, self.refresh_token, self.id_token):
            remember_secret(secret)  # every credential loaded, received or merged: scrub knows its exact values

    @property
    def tier(self) -> tuple[int | None, str]:
        return describe_tier(unverified_claims(self.access_token).get("tier"))

    def to_dict(self) -> dict[str, Any]:
        """The stored form (secret: goes only to the keyring or the 0600 file)."""
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "id_token": self.id_token,
            "token_type": self.token_type,
            "scope": self.scope,
            "expires_at": self.expires_at,
            "lifetime": self.lifetime,
            "issued_at": self.issued_at,
            "issuer": self.issuer,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Credential:
        """Inverse of ``to_dict``; ``ValueError`` when the stored form is not one."""
        access = data.get("access_token")
        refresh = data.get("refresh_token")
        numbers = [data.get(k) for k in ("expires_at", "lifetime", "issued_at")]
        if not isinstance(access, str) or not access:
            raise ValueError("no access token")
        if refresh is not None and not isinstance(refresh, str):
            raise ValueError("bad refresh token")
        if not all(isinstance(n, (int, float)) and not isinstance(n, bool) for n in numbers):
            raise ValueError("bad times")
        try:
            expires_at, lifetime, issued_at = (float(n) for n in numbers)  # type: ignore[arg-type]
        except OverflowError:
            raise ValueError("times out of range") from None
        low, high = _EPOCH_RANGE
        if not (low <= expires_at < high and low <= issued_at < high and 0 <= lifetime <= MAX_LIFETIME):
            raise ValueError("times out of range")
        id_token = data.get("id_token")
        issuer = data.get("issuer")
        return cls(
            issuer=issuer if isinstance(issuer, str) else None,
            access_token=access,
            refresh_token=refresh,
            id_token=id_token if isinstance(id_token, str) else None,
            token_type=str(data.get("token_type") or "Bearer"),
            scope=data.get("scope") if isinstance(data.get("scope"), str) else None,
            expires_at=expires_at,
            lifetime=lifetime,
            issued_at=issued_at,
        )

    def expires_in(self, now: float) -> float:
        return self.expires_at - now

    def refresh_due(self, now: float) -> bool:
        """True when the remaining life is below the leeway for this token's lifetime."""
        return self.expires_at - now <= refresh_leeway(self.lifetime)

    def succeeded_by(self, newer: Credential) -> Credential:
        """``newer`` with what a refresh answer may omit (refresh token, id token) carried over.

        RFC 6749 §6: the server MAY issue a new refresh token; when it does
        not, the old one stays valid.
        """
        return replace(
            newer,
            refresh_token=newer.refresh_token or self.refresh_token,
            id_token=newer.id_token or self.id_token,
            issuer=newer.issuer or self.issuer,
        )


def _claim_time(claims: Mapping[str, Any], name: str) -> float | None:
    """A JWT time claim as a float; not a number counts as absent, a number no clock reaches is refused."""
    value = claims.get(name)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int past 1e308
        number = float("inf")
    if not abs(number) < _EPOCH_RANGE[1]:
        raise MalformedResponse(f"The access token's {name} claim is not a time ({value!r:.24}).")
    return number


def refresh_leeway(lifetime: float) -> float:
    """How long before expiry a token counts as due: min(5 min, a quarter of its life).

    A 15-minute token is refreshed in its last 3.75 minutes, not on every
    call (a fixed one-hour leeway would burn a rotating refresh token per
    call); a 6-hour token in its last 5 minutes.
    """
    return max(0.0, min(MAX_LEEWAY, lifetime * LEEWAY_FRACTION))


def credential_from_token_response(body: Mapping[str, Any], now: float) -> Credential:
    """Build a ``Credential`` from a successful token endpoint answer (RFC 6749 §5.1).

    Expiry comes from the access token's ``exp`` claim when it is a JWT, else
    from ``expires_in``. When the JWT also has ``iat``, ``exp`` is moved onto
    our own clock (``now + exp - iat``): a machine whose clock is minutes off
    then still refreshes on time instead of too late or on every call.
    The lifetime is ``expires_in`` (the server's own number), else ``exp - iat``.
    A lifetime or expiry outside (0, one year] is ``MalformedResponse``,
    raised before anything is saved: ``exp: 1e308`` must not become a
    credential that breaks status() until logout.
    """
    access = body.get("access_token")
    if not isinstance(access, str) or not access:
        raise MalformedResponse("The token endpoint's answer has no access_token.")
    token_type = body.get("token_type", "Bearer")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise MalformedResponse("The token endpoint issued a token type other than Bearer.")
    refresh = body.get("refresh_token")
    if refresh is not None and (not isinstance(refresh, str) or not refresh):
        raise MalformedResponse("The token endpoint sent an unusable refresh_token.")
    id_token = body.get("id_token")
    expires_in = as_seconds(body.get("expires_in"), name="expires_in")
    claims = unverified_claims(access)
    exp = _claim_time(claims, "exp")
    iat = _claim_time(claims, "iat")
    if exp is not None and iat is not None and exp > iat:
        expires_at = now + (exp - iat)
    elif exp is not None and now < exp:
        expires_at = exp
    elif expires_in is not None:
        expires_at = now + expires_in
    else:
        expires_at = now + 3600.0  # RFC 6749 leaves it to us; an hour is the common default
    if expires_in is not None:
        lifetime = expires_in
    elif exp is not None and iat is not None and exp > iat:
        lifetime = exp - iat
    else:
        lifetime = max(0.0, expires_at - now)
    if not (0 < lifetime <= MAX_LIFETIME and now < expires_at <= now + MAX_LIFETIME):
        raise MalformedResponse(
            f"The token endpoint gave the access token an impossible lifetime ({expires_at - now:.0f} s); "
            "nothing was saved."
        )
    scope = body.get("scope")
    return Credential(
        access_token=access,
        refresh_token=refresh,
        id_token=id_token if isinstance(id_token, str) and id_token else None,
        token_type="Bearer",
        scope=scope if isinstance(scope, str) else None,
        expires_at=expires_at,
        lifetime=lifetime,
        issued_at=now,
    )
