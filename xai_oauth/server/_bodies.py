"""What may a request body hold before any route reads it? A JSON object of real text and finite numbers, not too deep.

Every route that takes a JSON body (the ``/v1`` endpoints, the passthrough,
``/admin``) reads it through ``read_json``, so one parser decides for all of
them, and what reaches the translations and the upstream is always
something a JSON encoder can write back out:

* **UTF-8 text**, decoded strictly (``json.loads`` on bytes would let
  encoded surrogates through);
* **a JSON object** whose every value passes ``_json_text``'s rules: nested
  at most ``MAX_DEPTH`` levels (a body 100,000 levels deep is refused here
  rather than overflowing a stack inside the JSON parser or a
  translation), every string real text (no lone surrogate), every number
  finite (no ``NaN``, ``Infinity`` or ``1e999``).

A refusal is ``RequestRejected`` naming the field (``messages[0].content``),
so each route answers 400 in its own client's shape.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .._exceptions import RequestRejected
from ..wire._json_text import MAX_DEPTH, fault_in, too_deep

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = ["MAX_DEPTH", "parse_json_body", "read_json"]

_SEND_JSON = "Send a JSON object (UTF-8)."


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
        raise too_deep("the body") from None
    except ValueError:
        raise RequestRejected("The request body is not JSON.", action=_SEND_JSON) from None
    if not isinstance(body, dict):
        raise RequestRejected("The request body is not a JSON object.", action=_SEND_JSON)
    fault = fault_in(body)
    if fault is not None:
        raise fault
    return body
