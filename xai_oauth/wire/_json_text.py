"""Can a value travel as JSON text that an API reads? Real text, finite numbers, a sane depth; else which field.

Two doors use it. The server reads every request body through
``server._bodies``, which refuses a body that breaks a rule before any
route sees it. And every JSON body this package sends is encoded here
(``json_bytes``, called by ``_http``), not by the HTTP client, so what goes
out does not depend on what a given httpx2 version makes of a lone
surrogate or a NaN: such a value is a ``RequestRejected`` naming the field
(``messages[0].content``), never an ``internal`` error from inside the
client.

The rules: every string real text (a lone surrogate such as ``"\\udc00"``
is a valid JSON escape, but no UTF-8 encoder can write it); every number
finite (``NaN``, ``Infinity``, and ``1e999``, which parses as infinity, are
not JSON numbers any API takes); at most ``MAX_DEPTH`` levels of objects
and arrays (a coding agent's deepest tool schema is a few dozen).
"""

from __future__ import annotations

import json
import math
from typing import Any

from .._exceptions import RequestRejected

__all__ = ["MAX_DEPTH", "fault_in", "json_bytes", "too_deep"]

#: How many levels of objects and arrays a body may nest (the body itself is level 1).
MAX_DEPTH = 128
#: A field path is shown up to this many segments (a fault deep in a schema would otherwise name a long path).
_SHOWN_SEGMENTS = 8
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)

#: A field's path as a chain of ``(parent, segment)`` pairs, built only for containers; ``None`` is the body.
_Path = tuple[Any, str] | None


def json_bytes(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON text; ``RequestRejected`` naming the field that cannot be written."""
    try:
        return _ENCODER.encode(value).encode("utf-8")
    except (ValueError, RecursionError):  # UnicodeEncodeError is a ValueError
        fault = fault_in(value)
        if fault is None:
            raise
        raise fault from None


def fault_in(value: Any) -> RequestRejected | None:
    """The first value that breaks a rule (see the module doc), as the refusal to raise; None when all is well.

    One walk, without recursion, so a body too deep for the interpreter's
    stack is measured rather than overflowing it.
    """
    stack: list[tuple[Any, int, _Path]] = [(value, 1, None)] if isinstance(value, (dict, list)) else []
    while stack:
        node, depth, path = stack.pop()
        if depth > MAX_DEPTH:
            return too_deep(_shown(path))
        pairs = node.items() if isinstance(node, dict) else enumerate(node)
        for key, inner in pairs:
            if isinstance(key, str) and not _is_text(key):
                return RequestRejected(
                    f"{_shown(path)} has a key that is not text (it holds a lone surrogate such as \\udc00).",
                    action="Send keys and strings as real Unicode text.",
                )
            if isinstance(inner, (dict, list)):
                stack.append((inner, depth + 1, (path, _segment(key))))
            elif isinstance(inner, str):
                if not _is_text(inner):
                    return RequestRejected(
                        f"{_shown((path, _segment(key)))} is not text: it holds a lone surrogate (such as \\udc00), "
                        "which no UTF-8 encoder can write.",
                        action="Send strings as real Unicode text.",
                    )
            elif isinstance(inner, float) and not math.isfinite(inner):
                return RequestRejected(
                    f"{_shown((path, _segment(key)))} is not a finite number ({inner!r}).",
                    action="Send a finite number, or leave the field out.",
                )
    return None


def too_deep(where: str) -> RequestRejected:
    return RequestRejected(
        f"The request body nests objects and arrays deeper than {MAX_DEPTH} levels (at {where}).",
        action=f"Send a body nested at most {MAX_DEPTH} levels deep.",
    )


def _is_text(value: str) -> bool:
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _segment(key: str | int) -> str:
    if isinstance(key, int):
        return f"[{key}]"
    if key.isascii() and key.isidentifier() and len(key) <= 64:
        return f".{key}"
    return f"[{json.dumps(key[:64])}]"  # escaped: a surrogate or a newline in a key is shown, never raw


def _shown(path: _Path) -> str:
    """The field's path as a client would write it (``messages[0].content``), its first segments only."""
    segments: list[str] = []
    while path is not None:
        path, segment = path
        segments.append(segment)
    segments.reverse()
    if not segments:
        return "the body"
    text = "".join(segments[:_SHOWN_SEGMENTS]).removeprefix(".")
    return text + ("..." if len(segments) > _SHOWN_SEGMENTS else "")
