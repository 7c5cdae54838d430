"""How the emulator's model seals its reasoning, and how an answer shows that sealed reasoning came back.

xAI's /responses gives its reasoning back sealed (a ``reasoning`` output item
with ``encrypted_content``) when the request's ``include`` asks for
``reasoning.encrypted_content``; a client that sends that item back in a
later ``input`` lets the model continue its reasoning. Whether a server
keeps that round trip whole is what tests need to see, so the emulator does
the same, checkably:

* **Sealing.** Asked for, the answer starts with a reasoning item: the
  summary ``Thinking about: <the last user message>`` and the
  ``encrypted_content`` ``SEAL_PREFIX`` + URL-safe base64 of ``{"about": <that
  message>}``. It streams as xAI streams it: ``response.output_item.added``,
  the summary part and text events, ``response.output_item.done`` with the
  seal. The items after it move one output index down.
* **Continuing.** Each reasoning input item whose ``encrypted_content`` the
  emulator can read adds `` (continuing reasoning about: <about>)`` to the
  answer's text; one it cannot read (cut, changed, or another's) adds
  `` (reasoning it could not read)``. A reasoning item without
  ``encrypted_content`` adds nothing: it has nothing to continue from.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from typing import Any

__all__ = ["SEAL_PREFIX", "continued", "reasoning_output", "seal", "sealing_asked", "shifted"]

SEAL_PREFIX = "emu-reasoning."
ENCRYPTED_REASONING = "reasoning.encrypted_content"


def seal(about: str) -> str:
    """The ``encrypted_content`` of reasoning about ``about``: opaque to a client, readable by ``continued``."""
    packed = json.dumps({"about": about}, ensure_ascii=False).encode()
    return SEAL_PREFIX + base64.urlsafe_b64encode(packed).decode()


def _unsealed(sealed: str) -> str | None:
    if not sealed.startswith(SEAL_PREFIX):
        return None
    try:
        about = json.loads(base64.urlsafe_b64decode(sealed[len(SEAL_PREFIX) :].encode())).get("about")
    except (binascii.Error, ValueError, AttributeError):
        return None
    return about if isinstance(about, str) else None


def sealing_asked(body: dict[str, Any]) -> bool:
    include = body.get("include")
    return isinstance(include, list) and ENCRYPTED_REASONING in include


def continued(items: list[Any]) -> str:
    """The note an answer carries for the sealed reasoning items in ``items`` (see the module docstring)."""
    notes = []
    for item in items:
        if not isinstance(item, dict) or item.get("type") != "reasoning" or not item.get("encrypted_content"):
            continue
        about = _unsealed(str(item["encrypted_content"]))
        notes.append(" (reasoning it could not read)" if about is None else f" (continuing reasoning about: {about})")
    return "".join(notes)


def reasoning_output(about: str) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    """The sealed reasoning item (output index 0) and the events that stream it."""
    summary = {"type": "summary_text", "text": f"Thinking about: {about}"}
    item = {
        "id": "rs_" + uuid.uuid4().hex[:12],
        "type": "reasoning",
        "status": "completed",
        "summary": [summary],
        "encrypted_content": seal(about),
    }
    where = {"item_id": item["id"], "output_index": 0, "summary_index": 0}
    empty = {"type": "summary_text", "text": ""}
    added = {k: v for k, v in item.items() if k != "encrypted_content"}
    events: list[tuple[str, dict[str, Any]]] = [
        ("response.output_item.added", {"output_index": 0, "item": {**added, "status": "in_progress", "summary": []}}),
        ("response.reasoning_summary_part.added", {**where, "part": empty}),
        ("response.reasoning_summary_text.delta", {**where, "delta": summary["text"]}),
        ("response.reasoning_summary_text.done", {**where, "text": summary["text"]}),
        ("response.reasoning_summary_part.done", {**where, "part": summary}),
        ("response.output_item.done", {"output_index": 0, "item": item}),
    ]
    return item, events


def shifted(events: list[tuple[str, dict[str, Any]]], by: int) -> list[tuple[str, dict[str, Any]]]:
    """``events`` with every ``output_index`` moved ``by`` (the items after a reasoning item)."""
    return [
        (kind, {**data, "output_index": data["output_index"] + by} if "output_index" in data else data)
        for kind, data in events
    ]
