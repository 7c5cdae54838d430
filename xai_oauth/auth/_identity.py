"""Who signed in, and whose tokens these are: the ID token, OIDC userinfo, and the issuer check.

``identity`` names the person for status() (an email when one can be
learnt, else the subject), never a token. ``check_issuer`` runs right before
a refresh token leaves: it goes only to the issuer that issued it, so a
changed ``XAI_OAUTH_ISSUER`` (or a discovery document naming another issuer)
never receives a token minted elsewhere.
"""

from __future__ import annotations

from typing import Any

from .._exceptions import ConfigError, XaiOAuthError
from ..store._credential import Credential
from ._session import Session

__all__ = ["USERINFO_TIMEOUT", "check_issuer", "identity", "userinfo"]

#: Seconds for the best-effort userinfo request made once at sign-in.
USERINFO_TIMEOUT = 5.0


def check_issuer(session: Session, credential: Credential, meta: dict[str, Any]) -> None:
    """Right before a refresh token leaves: it goes only to the issuer that issued it."""
    issuer = session.config.issuer
    issued_by = credential.issuer or meta.get("issuer")
    if issued_by != issuer or session.endpoints().issuer != issuer:
        raise ConfigError(
            f"The stored sign-in was issued by {issued_by or 'an unknown issuer'}, not {issuer}; "
            "its refresh token is only ever sent to the issuer that issued it.",
            action="Sign in again for this issuer (logout(), then start()), or set XAI_OAUTH_ISSUER back.",
        )


def identity(session: Session, credential: Credential, *, online: bool = True) -> str | None:
    """Who signed in: the ID token's email (or userinfo's, when ``online``), else the subject. Never a token."""
    from ..store._claims import unverified_claims

    claims: dict[str, Any] = {}
    if credential.id_token:
        id_claims = unverified_claims(credential.id_token)
        if id_claims.get("iss", session.config.issuer).rstrip("/") == session.config.issuer:
            claims = id_claims
    claims = {**unverified_claims(credential.access_token), **claims}
    if online and not isinstance(claims.get("email"), str):
        claims.update(userinfo(session, credential.access_token))
    for name in ("email", "preferred_username", "sub"):
        value = claims.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()[:200]
    return None


def userinfo(session: Session, access_token: str) -> dict[str, Any]:
    """The userinfo endpoint's claims (OIDC Core §5.3), best effort: ``{}`` on any trouble."""
    try:
        url = session.endpoints().userinfo_endpoint
        if not url:
            return {}
        answer = session.http.get(url, headers={"Authorization": f"Bearer {access_token}"}, timeout=USERINFO_TIMEOUT)
    except XaiOAuthError:
        return {}
    return answer.body if answer.status == 200 and isinstance(answer.body, dict) else {}
