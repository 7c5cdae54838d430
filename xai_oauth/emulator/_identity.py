"""Who is behind a sign-in at the emulator, when a test signs in several people at once (a pool of accounts).

Its own module because the authority (which issues each person's tokens),
the exchange (which tells whose bearer a request carries, for faults aimed
at one account) and the tests all need it. A person is an email and a tier;
their ``sub`` follows from the email, so signing in again is the same
account, as at a real provider.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

__all__ = ["Identity"]


@dataclass(frozen=True)
class Identity:
    """Who approves a sign-in: the email in the ID token, and the tier in the access token."""

    email: str
    tier: int | str | None = 1

    @property
    def sub(self) -> str:
        """The same person gets the same ``sub`` at every sign-in."""
        return "user-" + hashlib.sha256(self.email.encode()).hexdigest()[:8]
