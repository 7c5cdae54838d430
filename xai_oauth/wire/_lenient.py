"""How the wire readers take a field from an upstream dict without trusting its type.

Readers are lenient: a field of the wrong type reads as absent (an empty
string, zero, an empty list), because one odd field should not cost the client
a whole answer; what must be there (a finish) still ends the stream in a
``Failure`` when it never comes. The whole-answer readers of ``chat()`` are
strict instead (``MalformedResponse``): there a person reads the answer.
"""

from __future__ import annotations

from typing import Any

__all__ = ["as_dict", "as_int", "as_list", "as_str"]


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def as_int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
