"""Which conversation a chat request belongs to, and the ``x-grok-*`` headers that say so. Pure: no I/O, no clock.

xAI's prompt cache follows a conversation id (``x-grok-conv-id``); a random id
per request keeps ``cached_tokens`` at zero. Agents send each turn from a
fresh process, so the id cannot live in memory: it is derived from what every
turn of one conversation shares, its start (the system prompt and the first
user message). That start may be personal and a short one ("Hello") is easy
to guess from a plain hash, so the id is an HMAC-SHA256 under a secret kept
per profile (``_conversation_key``); neither the secret nor the conversation
leaves the machine. A ``conversation=`` name is put through the same HMAC.

The headers follow xAI's own Grok CLI (grok-build's sampler): the conversation,
one request id per client request (kept across its retries), the session
(here the conversation itself: each turn is its own process), the prompt's
index in the conversation, and whether a person is typing
(``interactive``) or not (``headless``). The local server calls these same two
functions.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

__all__ = ["HEADLESS", "INTERACTIVE", "conversation_id", "grok_headers", "turn_index"]

HEADLESS = "headless"
INTERACTIVE = "interactive"
#: The roles that set a conversation up before its first user message.
_SETUP_ROLES = ("system", "developer")


def conversation_id(secret: bytes, messages: list[dict[str, Any]], explicit: str | None) -> str:
    """A stable id for the conversation ``messages`` belong to (or the one ``explicit`` names), UUID-shaped.

    The same start gives the same id on every turn and in every process; a
    different start (or secret) gives another.
    """
    if explicit is not None:
        material = "name\0" + explicit
    else:
        material = "start\0" + json.dumps(_start(messages), sort_keys=True, ensure_ascii=False, default=str)
    digest = hmac.new(secret, material.encode(), hashlib.sha256).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def _start(messages: list[dict[str, Any]]) -> list[list[Any]]:
    """The system / developer messages up to the first user message, and that message: role and content only."""
    start: list[list[Any]] = []
    for message in messages:
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        if role in _SETUP_ROLES or role == "user":
            start.append([role, message.get("content")])
        if role == "user":
            break
    return start


def turn_index(messages: list[dict[str, Any]]) -> int:
    """The prompt's 0-based index in its conversation: how many user messages came before the last one."""
    users = sum(1 for m in messages if isinstance(m, dict) and m.get("role") == "user")
    return max(users - 1, 0)


def grok_headers(conv_id: str, request_id: str, turn_index: int, session_id: str, mode: str) -> dict[str, str]:
    """The ``x-grok-*`` headers of one chat request (sent unchanged on each of its retries)."""
    return {
        "x-grok-conv-id": conv_id,
        "x-grok-req-id": request_id,
        "x-grok-session-id": session_id,
        "x-grok-turn-idx": str(turn_index),
        "x-grok-client-mode": mode,
    }
