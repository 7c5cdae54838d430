"""How the emulated auth.x.ai signs and checks its tokens: one RS256 key, its JWKS, and nothing about grants.

Apart from ``Authority`` so that the rules of the device grant, refresh rotation and revocation read without the
JWT plumbing, and so that the key is made in one place (a 2048-bit RSA key, fresh per emulator).
"""

from __future__ import annotations

import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = ["Signer"]


class Signer:
    """One signing key: signs claims, publishes the public half as a JWKS, and checks a token's signature."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = uuid.uuid4().hex[:16]

    def jwks(self) -> dict[str, Any]:
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})

    def claims(self, token: str, *, audience: str, issuer: str) -> dict[str, Any] | None:
        """The claims of a token this key signed for ``audience`` and ``issuer`` (expiry is the caller's rule)."""
        try:
            return jwt.decode(
                token,
                self.key.public_key(),
                algorithms=["RS256"],
                audience=audience,
                issuer=issuer,
                options={"verify_exp": False},
            )
        except jwt.PyJWTError:
            return None

    @staticmethod
    def token_id(token: str) -> str:
        """The ``jti`` of a token this emulator issued (read without checking: it is our own)."""
        return str(jwt.decode(token, options={"verify_signature": False}).get("jti"))
