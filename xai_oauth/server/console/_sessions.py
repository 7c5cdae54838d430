"""Who is signed in to the console: sessions kept in the server's memory, their cookie, and their CSRF tokens.

The admin key opens the console once, on its login page; from then on a
session cookie carries the login. The cookie holds only a random session id
(the key never leaves the login form), and the server keeps the session's
SHA-256, so its memory holds nothing a cookie could be made from. The
cookie is ``HttpOnly`` (no script reads it), ``SameSite=Strict`` (no other
site's page sends it), scoped to ``/console``, expires with the session,
and is ``Secure`` when the request came over https. Logging out forgets the
session here, so the cookie opens nothing after it even if it was copied.

Every change (a POST) carries a CSRF token: the session's own, compared in
constant time. The login form has no session yet; its token is stateless
(its time, signed with a secret this process drew) and is good for an hour.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["COOKIE", "SESSION_SECONDS", "Session", "Sessions", "csrf_ok", "set_cookie"]

COOKIE = "xai_oauth_console"
#: How long a login lasts, in seconds (the cookie expires with it).
SESSION_SECONDS = 8 * 3600
#: How long a login form's token is good, in seconds.
LOGIN_TOKEN_SECONDS = 3600
#: The most sessions kept at once; the oldest is forgotten first.
MAX_SESSIONS = 100


@dataclass
class Session:
    """One signed-in browser: its CSRF token, when it ends, and a message for its next page."""

    csrf: str
    expires_at: float
    flash: list[tuple[str, str]] = field(default_factory=list)

    def say(self, kind: str, text: str) -> None:
        """Keep a message (``kind``: ``ok`` or ``error``) for the next page this browser sees."""
        self.flash.append((kind, text))

    def said(self) -> list[tuple[str, str]]:
        """The kept messages, once."""
        messages, self.flash = self.flash, []
        return messages


class Sessions:
    """The console's sessions, in memory: a server restart signs everyone out."""

    def __init__(self, now: Callable[[], float] = time.time, lifetime: float = SESSION_SECONDS) -> None:
        self.now, self.lifetime = now, lifetime
        self._secret = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def open(self) -> tuple[str, Session]:
        """A new session: the cookie's value (the only copy of the id) and the session."""
        cookie = secrets.token_urlsafe(32)
        session = Session(secrets.token_urlsafe(32), self.now() + self.lifetime)
        with self._lock:
            self._forget_ended()
            while len(self._sessions) >= MAX_SESSIONS:
                del self._sessions[next(iter(self._sessions))]
            self._sessions[_digest(cookie)] = session
        return cookie, session

    def find(self, cookie: str | None) -> Session | None:
        """The live session this cookie opens, or None."""
        if not cookie:
            return None
        with self._lock:
            session = self._sessions.get(_digest(cookie))
            if session is not None and session.expires_at <= self.now():
                del self._sessions[_digest(cookie)]
                return None
            return session

    def close(self, cookie: str | None) -> None:
        """Forget the session (log out): its cookie opens nothing from now on."""
        if cookie:
            with self._lock:
                self._sessions.pop(_digest(cookie), None)

    def login_token(self) -> str:
        """A token for the login form: its time, signed."""
        issued = str(int(self.now()))
        return f"{issued}.{self._sign(issued)}"

    def login_token_ok(self, token: str | None) -> bool:
        issued, _, signature = (token or "").partition(".")
        if not issued.isdigit() or not hmac.compare_digest(signature.encode(), self._sign(issued).encode()):
            return False
        return 0 <= self.now() - int(issued) <= LOGIN_TOKEN_SECONDS

    def _sign(self, text: str) -> str:
        return hmac.new(self._secret, text.encode(), hashlib.sha256).hexdigest()

    def _forget_ended(self) -> None:
        now = self.now()
        for digest in [d for d, s in self._sessions.items() if s.expires_at <= now]:
            del self._sessions[digest]


def csrf_ok(session: Session, presented: str | None) -> bool:
    """True when ``presented`` is the session's CSRF token (compared in constant time)."""
    return bool(presented) and hmac.compare_digest(session.csrf.encode(), (presented or "").encode())


def set_cookie(value: str, *, max_age: int, secure: bool) -> str:
    """The ``Set-Cookie`` header's value for the session cookie (``max_age`` 0 removes it)."""
    flags = f"{COOKIE}={value}; Path=/console; Max-Age={max_age}; HttpOnly; SameSite=Strict"
    return flags + ("; Secure" if secure else "")


def _digest(cookie: str) -> str:
    return hashlib.sha256(cookie.encode("utf-8", "surrogateescape")).hexdigest()
