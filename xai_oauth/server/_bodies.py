"""What may a request body hold before any route reads it? A JSON object of real text and finite numbers, not too deep.

Every route that takes a JSON body (the ``/v1`` endpoints, the passthrough,
``/admin``) reads it through ``read_json``, so one parser decides for all of
them, and what reaches the translations and the upstream is always
something a JSON encoder can write back out:

* **UTF-8 text**, decoded strictly (``json.loads`` on bytes would let
  encoded surrogates through);
* **nested at most ``MAX_DEPTH`` levels**: a coding agent's deepest tool
  schema is a few dozen levels, and the translations walk what they get,
  so a body 100,000 levels deep is refused here rather than overflowing a
  stack inside the JSON parser or a translation;
* **every string real text**: a lone surrogate (``"\\udc00"``) parses, but no
  UTF-8 encoder (ours, httpx's, Starlette's) can write it out again;
* **every number finite**: ``NaN``, ``Infinity`` and ``1e999`` (which
  parses as infinity) are not JSON numbers any API accepts, and an answer
  that echoes them could not be encoded.

A refusal is ``RequestRejected`` naming the field (``messages[0].content``),
so each route answers 400 in its own client's shape.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from .._exceptions import RequestRejected

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = ["MAX_DEPTH", "parse_json_body", "read_json"]

#: How many levels of objects and arrays a body may nest (the body itself is level 1).
MAX_DEPTH = 128
#: A field path is shown up to this many segments (a fault deep in a schema would otherwise name a long path).
_SHOWN_SEGMENTS = 8
_SEND_JSON = "Send a JSON object (UTF-8)."

#: A field's path as a chain of ``(parent, segment)`` pairs, built only for containers; ``None`` is the body.
_Path = tuple[Any, str] | None


async def read_json(request: Request) -> dict[str, Any]:
    """The request's body as a JSON object; ``RequestRejected`` (400) for anything else (see the module doc)."""
    return parse_json_body(await request.body())


def parse_json_body(raw: bytes) -> dict[str, Any]:
    """``raw`` as a JSON object that passes every rule of the module doc; ``RequestRejected`` naming the fault."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestRejected("The request body is not UTF-8 text.", action=_SEND_JSON) from None
    try:
        body = json.loads(text)
    except RecursionError:  # deeper than the interpreter's stack allows, so certainly deeper than MAX_DEPTH
        raise _too_deep("the body") from None
    except ValueError:
        raise RequestRejected("The request body is not JSON.", action=_SEND_JSON) from None
    if not isinstance(body, dict):
        raise RequestRejected("The request body is not a JSON object.", action=_SEND_JSON)
    _check(body)
    return body


def _check(body: dict[str, Any]) -> None:
    """Walk the body once, without recursion, and raise at the first value that breaks a rule."""
    stack: list[tuple[Any, int, _Path]] = [(body, 1, None)]
    while stack:
        node, depth, path = stack.pop()
        if depth > MAX_DEPTH:
            raise _too_deep(_shown(path))
        pairs = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in pairs:
            if isinstance(key, str) and not _is_text(key):
                raise RequestRejected(
                    f"{_shown(path)} has a key that is not text (it holds a lone surrogate such as \\udc00).",
                    action="Send keys and strings as real Unicode text.",
                )
            if isinstance(value, (dict, list)):
                stack.append((value, depth + 1, (path, _segment(key))))
            elif isinstance(value, str):
                if not _is_text(value):
                    raise RequestRejected(
                        f"{_shown((path, _segment(key)))} is not text: it holds a lone surrogate (such as \\udc00), "
                        "which no UTF-8 encoder can write.",
                        action="Send strings as real Unicode text.",
                    )
            elif isinstance(value, float) and not math.isfinite(value):
                raise RequestRejected(
                    f"{_shown((path, _segment(key)))} is not a finite number ({value!r}).",
                    action="Send a finite number, or leave the field out.",
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


def _too_deep(where: str) -> RequestRejected:
    return RequestRejected(
        f"The request body nests objects and arrays deeper than {MAX_DEPTH} levels (at {where}).",
        action=f"Send a body nested at most {MAX_DEPTH} levels deep.",
    )
