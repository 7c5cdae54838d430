"""Scrub anything token-shaped out of text that came from a server.

Our own messages never contain secrets; a server's ``error_description``
might echo one back. Before such text joins a message it passes through
``scrub``, which replaces what is token-shaped and caps the length. Belt and
braces: the canary tests check the result.

Token-shaped means: a JWT; an xAI API key (``xai-...``); or a long run that
looks random: 24+ characters mixing upper case, lower case and digits (what
base64 of random bytes is, nearly always), or 40+ word characters without a
break. Model ids (``grok-4.20-multi-agent-0309``), file paths and exception
names are none of these, so they stay readable ("the model [redacted] does not
exist" helped nobody).
"""

import re

__all__ = ["redact", "scrub"]

_JWT = re.compile(r"eyJ[\w-]*\.[\w-]*\.?[\w-]*")
_API_KEY = re.compile(r"xai-[\w-]{16,}")
_RUN = re.compile(r"[A-Za-z0-9_\-+=]{24,}")
_MAX = 200


def _random_looking(match: "re.Match[str]") -> str:
    run = match.group()
    mixed = any(c.isupper() for c in run) and any(c.islower() for c in run) and any(c.isdigit() for c in run)
    unbroken = len(run) >= 40 and "-" not in run
    return "[redacted]" if mixed or unbroken else run


def scrub(text: str) -> str:
    """``text`` with token-shaped runs replaced by ``[redacted]``, on one line and capped in length."""
    text = " ".join(redact(text).split())
    return text if len(text) <= _MAX else text[: _MAX - 1] + "…"


def redact(text: str) -> str:
    """``text`` with token-shaped runs replaced, layout kept: for multi-line text such as tracebacks."""
    return _RUN.sub(_random_looking, _API_KEY.sub("[redacted]", _JWT.sub("[redacted]", text)))
