"""Scrub anything token-shaped out of text that came from a server.

Our own messages never contain secrets; a server's ``error_description``
might echo one back. Before such text joins a message it passes through
``scrub``, which replaces JWTs and long opaque token-like runs and caps the
length. Belt and braces: the canary tests check the result.
"""

import re

__all__ = ["redact", "scrub"]

_JWT = re.compile(r"eyJ[\w-]*\.[\w-]*\.?[\w-]*")
_OPAQUE = re.compile(r"[A-Za-z0-9_\-./+=]{24,}")
_MAX = 200


def scrub(text: str) -> str:
    """``text`` with token-shaped runs replaced by ``[redacted]``, on one line and capped in length."""
    text = " ".join(redact(text).split())
    return text if len(text) <= _MAX else text[: _MAX - 1] + "…"


def redact(text: str) -> str:
    """``text`` with token-shaped runs replaced, layout kept: for multi-line text such as tracebacks."""
    return _OPAQUE.sub("[redacted]", _JWT.sub("[redacted]", text))
