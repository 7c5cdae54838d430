"""Read the access token's claims, for display and expiry only.

No signature check: the token came straight from the token endpoint over
TLS, and the API server verifies it on every call. We only want ``tier``
and ``exp``; a token that is not a JWT simply has no claims.
"""

from __future__ import annotations

from typing import Any

__all__ = ["preload", "unverified_claims"]


def preload() -> None:
    """Import pyjwt now: a grant's answer must not wait ~100 ms for it while the only copy is in memory."""
    import jwt  # noqa: F401


def unverified_claims(token: str) -> dict[str, Any]:
    """The JWT payload, or ``{}`` when ``token`` is not a readable JWT.

    pyjwt is imported here, not at the top: with ``cryptography`` installed it
    costs ~90 ms, and only sign-in and refresh need claims (a chat call does not).
    """
    import jwt

    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except (jwt.PyJWTError, ValueError, TypeError, RecursionError):  # any token a server could send is "no claims"
        return {}
    return claims if isinstance(claims, dict) else {}
