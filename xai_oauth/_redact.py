"""Scrub secrets out of text that came from a server: every value we hold, and anything token-shaped.

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

Shape is not enough: a device code or an opaque token may look like a UUID or
plain hex, which is what a model id or request id looks like too. So the
process also keeps the exact secret values it holds and sends
(``remember_secret``: tokens as they are loaded or received, device codes,
API keys), and ``redact`` replaces each of those wherever it appears, whatever
its shape. Only the values are kept, in this process's memory, never written.
"""

import re
from typing import Any

__all__ = ["forget_secrets", "redact", "redact_json", "remember_secret", "scrub"]

_JWT = re.compile(r"eyJ[\w-]*\.[\w-]*\.?[\w-]*")
_API_KEY = re.compile(r"xai-[\w-]{16,}")
_RUN = re.compile(r"[A-Za-z0-9_\-+=]{24,}")
_MAX = 200
#: Shorter values are not remembered: replacing every "abc" would garble messages, and no secret of ours is short.
_MIN_SECRET = 8
#: Enough for every token a long-lived process rotates through in a day; the oldest go first.
_MAX_SECRETS = 256
_secrets: "dict[str, None]" = {}  # insertion-ordered set
_pattern: "re.Pattern[str] | None" = None


def remember_secret(value: object) -> None:
    """Redact ``value`` (a token, device code or key this process holds or sends) from every later message."""
    global _pattern
    if not isinstance(value, str) or len(value) < _MIN_SECRET or value in _secrets:
        return
    _secrets[value] = None
    while len(_secrets) > _MAX_SECRETS:
        del _secrets[next(iter(_secrets))]
    _pattern = None


def forget_secrets() -> None:
    """Drop every remembered value (tests; a process that signed out need not keep them)."""
    global _pattern
    _secrets.clear()
    _pattern = None


def _known(text: str) -> str:
    global _pattern
    if not _secrets:
        return text
    if _pattern is None:  # longest first, so a secret that contains another is replaced whole
        _pattern = re.compile("|".join(re.escape(v) for v in sorted(_secrets, key=len, reverse=True)))
    return _pattern.sub("[redacted]", text)


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
    """``text`` with remembered secrets and token-shaped runs replaced, layout kept: for multi-line text too."""
    return _RUN.sub(_random_looking, _API_KEY.sub("[redacted]", _JWT.sub("[redacted]", _known(text))))


def redact_json(value: Any, *, shapes: bool = True) -> Any:
    """``value`` (parsed JSON) with every string in it, keys too, passed through ``redact``: for a body relayed
    whole, such as an upstream's answer the local server passes on.

    Without ``shapes`` only the remembered secrets are replaced: an answer
    that worked holds ids and base64 data that look random by design (a
    file id, a picture), and only an echoed secret is to be taken out.
    """
    clean = redact if shapes else _known
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {clean(k) if isinstance(k, str) else k: redact_json(v, shapes=shapes) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_json(v, shapes=shapes) for v in value]
    return value
