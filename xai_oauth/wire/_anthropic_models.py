"""Which Grok model answers a ``claude-*`` name? Claude Code asks for Claude models by name; every one gets one.

Claude Code asks for a main model (opus or sonnet) and a small fast one
(haiku) for side tasks, and new Claude names appear with each release, so
names map by family, through the operator's map first and then by
heuristics over the account's own model ids (documented on ``model_for``).
Grok ids pass as they are; any other name is None, which the server answers
with a 404 listing what is available. Pure: the caller passes the ids.
"""

from __future__ import annotations

__all__ = ["FAMILIES", "model_for"]

#: Anthropic model families, in the order a name is searched for them.
FAMILIES = ("opus", "sonnet", "haiku")
#: Words in a model id that rule it out as the flagship (reasoning) model for opus and sonnet.
_NOT_FLAGSHIP = ("non-reasoning", "mini", "fast", "image", "imagine", "video", "multi-agent", "code", "vision")
#: Words that make a model a fast one for haiku, the best first.
_FAST = ("non-reasoning", "fast", "mini")


def model_for(requested: str, available: list[str], model_map: dict[str, str]) -> str | None:
    """The Grok model to answer ``requested``: Grok ids as they are, ``claude-*`` by family, else None.

    ``model_map`` is keyed by a full ``claude-*`` name or by a family
    (``opus``, ``sonnet``, ``haiku``). Without an entry the default comes
    from ``available``: for opus and sonnet (and a ``claude-*`` name of no
    known family) the newest id without any of ``_NOT_FLAGSHIP`` in it (the
    reasoning flagship, e.g. grok-4.3); for haiku the newest id with
    ``non-reasoning`` in it, else ``fast``, else ``mini``, else the flagship.
    "Newest" reads the version after ``grok-`` (4.3 > 4.1 > 4 > 3).
    """
    bare = requested.split("/", 1)[-1]
    if requested in available or bare.startswith("grok"):
        return requested
    if not bare.startswith("claude"):
        return None
    family = next((f for f in FAMILIES if f in bare), "sonnet")
    mapped = model_map.get(requested) or model_map.get(bare) or model_map.get(family)
    if mapped:
        return mapped
    flagship = _newest([m for m in available if not any(w in m for w in _NOT_FLAGSHIP)]) or _newest(available)
    if family != "haiku":
        return flagship
    for word in _FAST:
        fast = _newest([m for m in available if word in m and "image" not in m and "video" not in m])
        if fast:
            return fast
    return flagship


def _newest(ids: list[str]) -> str | None:
    return max(ids, key=_version, default=None)


def _version(model_id: str) -> tuple[int, ...]:
    """``grok-4.3`` -> (4, 3), ``grok-4-1-fast`` -> (4, 1), ``grok-4-0709`` -> (4,): short numbers after grok-."""
    tail = model_id.split("/", 1)[-1].removeprefix("grok-").replace(".", "-")
    numbers: list[int] = []
    for piece in tail.split("-"):
        if not piece.isdigit() or len(piece) > 2:
            break
        numbers.append(int(piece))
    return tuple(numbers)
