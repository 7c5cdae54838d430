"""The emulated authorization server's state and rules, apart from HTTP.

Modelled on how careful providers behave, so that the client is tested
against the hard cases, not the easy ones:

* device codes (RFC 8628) with ``slow_down`` when polled faster than the
  interval, expiry, approve / deny by user code, single use;
* access tokens as RS256 JWTs carrying ``tier``, ``sub``, ``exp``, ``iat``;
* **rotating refresh tokens with reuse detection**: every refresh returns a
  new refresh token, and presenting a rotated-away one revokes the whole
  grant (RFC 9700 §4.14.2), logging the person out everywhere;
* revocation (RFC 7009) and JWKS.

All times come from ``now`` so tests can drive expiry without sleeping.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._identity import Identity
from ._settings import MODELS_BY_TIER, Settings
from ._signing import Signer

__all__ = ["MODELS_BY_TIER", "Authority", "Settings"]


@dataclass
class Device:
    user_code: str
    scope: str
    expires_at: float
    interval: float
    decision: str = "pending"  # pending | approved | denied
    last_poll: float | None = None
    spent: bool = False
    #: who approved it (None: the settings' one person, with a new ``sub`` at each sign-in)
    identity: Identity | None = None


@dataclass
class Grant:
    sub: str
    tier: int | str | None
    scope: str
    refresh_token: str
    revoked: bool = False
    used_refresh_tokens: set[str] = field(default_factory=set)
    #: the token the current one replaced, and when: honoured again within the rotation grace
    predecessor: str | None = None
    rotated_at: float = 0.0
    #: the person's email, for the ID token (None: the settings' email)
    email: str | None = None


class OAuthRefusal(Exception):
    """An RFC 6749 §5.2 error answer."""

    def __init__(self, error: str, description: str = "", status: int = 400) -> None:
        super().__init__(error)
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        body = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        return body


class Authority:
    """Thread-safe: the HTTP server calls it from many threads at once."""

    def __init__(self, settings: Settings | None = None, now: Callable[[], float] = time.time) -> None:
        self.settings = settings or Settings()
        self.now = now
        self.lock = threading.RLock()
        #: the RS256 key behind every token and the JWKS
        self.signer = Signer()
        self.issuer = ""  # set by the server once its port is known
        self.devices: dict[str, Device] = {}
        self.by_user_code: dict[str, str] = {}
        self.grants: dict[str, Grant] = {}
        self.refresh_index: dict[str, str] = {}  # every refresh token ever issued -> grant id
        self.stats: Counter[str] = Counter()
        #: access tokens refused before their expiry (``reject_issued_access_tokens``), by ``jti``
        self.rejected_jtis: set[str] = set()
        #: every access and id token issued, so tests can scan output for any of them
        self.issued_tokens: list[str] = []

    # -- keys -------------------------------------------------------------

    def jwks(self) -> dict[str, Any]:
        return self.signer.jwks()

    def verify_access_token(self, token: str) -> dict[str, Any] | None:
        """The claims when ``token`` is ours, unexpired and its grant is alive; else None."""
        claims = self.signer.claims(token, audience=self.settings.client_id, issuer=self.issuer)
        if claims is None or claims.get("exp", 0) <= self.now():
            return None
        with self.lock:
            if claims.get("jti") in self.rejected_jtis:
                return None
            grant = self.grants.get(claims.get("sid", ""))
            if grant is None or grant.revoked:
                return None
        return claims

    # -- device authorization --------------------------------------------

    def device_authorization(self, client_id: str, scope: str) -> dict[str, Any]:
        self._check_client(client_id)
        with self.lock:
            self.stats["device_authorizations"] += 1
            device_code = "dc_" + secrets.token_urlsafe(32)
            user_code = self._new_user_code()
            s = self.settings
            self.devices[device_code] = Device(
                user_code=user_code,
                scope=scope,
                expires_at=self.now() + s.device_code_lifetime,
                interval=s.interval,
                decision="approved" if s.auto_approve else "pending",
            )
            self.by_user_code[user_code] = device_code
            verification_uri = f"{self.issuer}/device"
            return {
                "device_code": device_code,
                "user_code": user_code,
                "verification_uri": verification_uri,
                "verification_uri_complete": f"{verification_uri}?user_code={user_code}",
                "expires_in": int(s.device_code_lifetime),
                "interval": s.interval,
            }

    def _new_user_code(self) -> str:
        alphabet = "BCDFGHJKLMNPQRSTVWXZ"  # RFC 8628 §6.1: no vowels, no look-alikes
        while True:
            raw = "".join(secrets.choice(alphabet) for _ in range(8))
            code = f"{raw[:4]}-{raw[4:]}"
            if code not in self.by_user_code:
                return code

    def decide(self, user_code: str, decision: str, identity: Identity | None = None) -> bool:
        """Approve or deny a user code, as the person does on the verification page (``identity``: as whom)."""
        with self.lock:
            device = self.devices.get(self.by_user_code.get(user_code.strip().upper(), ""))
            if device is None or device.spent or device.expires_at <= self.now():
                return False
            device.decision = decision
            device.identity = identity
            return True

    def expire(self, user_code: str) -> bool:
        with self.lock:
            device = self.devices.get(self.by_user_code.get(user_code, ""))
            if device is None:
                return False
            device.expires_at = self.now() - 1
            return True

    # -- token endpoint ---------------------------------------------------

    def token(self, form: dict[str, str]) -> dict[str, Any]:
        self._check_client(form.get("client_id", ""))
        grant_type = form.get("grant_type")
        if grant_type == "urn:ietf:params:oauth:grant-type:device_code":
            return self._device_grant(form.get("device_code", ""))
        if grant_type == "refresh_token":
            return self._refresh_grant(form.get("refresh_token", ""))
        raise OAuthRefusal("unsupported_grant_type")

    def _device_grant(self, device_code: str) -> dict[str, Any]:
        with self.lock:
            self.stats["device_polls"] += 1
            device = self.devices.get(device_code)
            now = self.now()
            if device is None or device.spent:
                raise OAuthRefusal("invalid_grant", "unknown or used device code")
            if device.expires_at <= now:
                raise OAuthRefusal("expired_token")
            if device.decision == "denied":
                device.spent = True
                raise OAuthRefusal("access_denied")
            too_fast = (
                device.last_poll is not None and now - device.last_poll < device.interval - self.settings.poll_tolerance
            )
            device.last_poll = now
            if device.decision == "pending":
                if too_fast:
                    device.interval += 5
                    self.stats["slow_downs"] += 1
                    raise OAuthRefusal("slow_down")
                raise OAuthRefusal("authorization_pending")
            device.spent = True
            grant_id = "g_" + secrets.token_urlsafe(8)
            refresh = self._new_refresh_token(grant_id)
            who = device.identity
            self.grants[grant_id] = Grant(
                sub=who.sub if who else "user-" + secrets.token_hex(4),
                tier=who.tier if who else self.settings.tier,
                scope=device.scope,
                refresh_token=refresh,
                email=who.email if who else None,
            )
            self.stats["grants_issued"] += 1
            return self._token_answer(grant_id, refresh)

    def _refresh_grant(self, refresh_token: str) -> dict[str, Any]:
        with self.lock:
            self.stats["refresh_requests"] += 1
            grant_id = self.refresh_index.get(refresh_token)
            grant = self.grants.get(grant_id or "")
            if grant is None:
                self.stats["refresh_refused"] += 1
                raise OAuthRefusal("invalid_grant", "unknown refresh token")
            if grant.revoked:
                self.stats["refresh_refused"] += 1
                raise OAuthRefusal("invalid_grant", "the grant was revoked")
            in_grace = (
                refresh_token == grant.predecessor and self.now() - grant.rotated_at <= self.settings.rotation_grace
            )
            if in_grace:
                self.stats["grace_reuse"] += 1  # its answer was lost: the successor nobody saw is replaced
            elif refresh_token != grant.refresh_token:
                # Reuse of a rotated-away token: assume it was stolen, end the grant.
                grant.revoked = True
                self.stats["refresh_refused"] += 1
                self.stats["reuse_detected"] += 1
                raise OAuthRefusal("invalid_grant", "refresh token reuse detected; the grant was revoked")
            if self.settings.rotate_refresh_tokens:
                grant.used_refresh_tokens.add(refresh_token)
                if not in_grace:
                    grant.predecessor, grant.rotated_at = refresh_token, self.now()
                grant.refresh_token = self._new_refresh_token(grant_id or "")
            self.stats["refreshes"] += 1
            return self._token_answer(grant_id or "", grant.refresh_token)

    def _new_refresh_token(self, grant_id: str) -> str:
        token = "rt_" + secrets.token_urlsafe(32)
        self.refresh_index[token] = grant_id
        return token

    def _token_answer(self, grant_id: str, refresh_token: str) -> dict[str, Any]:
        grant = self.grants[grant_id] if grant_id in self.grants else None
        now = self.now()
        lifetime = self.settings.access_token_lifetime
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.settings.client_id,
            "sub": grant.sub if grant else "user",
            "sid": grant_id,
            "iat": int(now),
            "exp": int(now + lifetime),
            "jti": uuid.uuid4().hex,
            "scope": grant.scope if grant else "",
        }
        tier = grant.tier if grant else self.settings.tier
        if tier is not None:
            claims["tier"] = tier
        access = self.signer.sign(claims)
        identity = {k: claims[k] for k in ("iss", "aud", "sub", "iat", "exp")}
        if "email" in str(claims["scope"]).split():
            identity.update(email=(grant.email if grant else None) or self.settings.email, email_verified=True)
        id_token = self.signer.sign(identity)
        self.issued_tokens += [access, id_token]
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": int(lifetime),
            "refresh_token": refresh_token,
            "id_token": id_token,
            "scope": claims["scope"],
        }

    # -- revocation -------------------------------------------------------

    def revoke(self, form: dict[str, str]) -> None:
        """RFC 7009: revoking a refresh token ends its grant; unknown tokens are not an error."""
        self._check_client(form.get("client_id", ""))
        with self.lock:
            self.stats["revocations"] += 1
            grant = self.grants.get(self.refresh_index.get(form.get("token", ""), ""))
            if grant is not None:
                grant.revoked = True

    def revoke_account(self, who: str) -> int:
        """End every grant of one person (by email or ``sub``), as when they revoke the app: how many ended."""
        with self.lock:
            ended = [g for g in self.grants.values() if not g.revoked and who in (g.sub, g.email)]
            for grant in ended:
                grant.revoked = True
            return len(ended)

    def reject_issued_access_tokens(self) -> None:
        """Make the API refuse every access token issued so far (as after a key rotation at xAI)."""
        with self.lock:
            for token in self.issued_tokens:
                self.rejected_jtis.add(self.signer.token_id(token))

    def secrets(self) -> list[str]:
        """Every secret this authority ever handed out: device codes, access, id and refresh tokens."""
        with self.lock:
            return [*self.devices, *self.refresh_index, *self.issued_tokens]

    def live_grants(self) -> int:
        with self.lock:
            return sum(1 for g in self.grants.values() if not g.revoked)

    def _check_client(self, client_id: str) -> None:
        if client_id != self.settings.client_id:
            raise OAuthRefusal("invalid_client", "unknown client", status=401)

    def models_for(self, tier: object) -> list[str]:
        try:
            level = int(tier)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            level = 0
        return MODELS_BY_TIER.get(level, MODELS_BY_TIER[0])
