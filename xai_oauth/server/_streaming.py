"""How the server sends a stream: the first event before any byte, keep-alives while the model thinks, SSE framing.

An endpoint pulls the first event itself (``first_event``), so a refusal
that comes before any answer is still an HTTP error with its status; once
the first event is in hand the response starts, and each later event is
written as it arrives, never buffered. While the upstream is silent (a long
reasoning), ``paced`` yields ``None`` every ``every`` seconds, which the
endpoint writes as its format's keep-alive (a comment, or Anthropic's
``ping``), so proxies and clients with idle timeouts do not cut the answer.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from ..wire._events import Event

__all__ = ["KEEPALIVE", "data_line", "event_line", "first_event", "paced"]

#: A comment line: every SSE reader skips it.
KEEPALIVE = b": keep-alive\n\n"


async def first_event(events: AsyncIterator[Event]) -> Event | None:
    """The first event, or None when the stream had none; the package's exceptions propagate."""
    async for event in events:
        return event
    return None


async def paced(events: AsyncIterator[Event], every: float) -> AsyncIterator[Event | None]:
    """``events``, with a ``None`` after each ``every`` seconds of silence; closes ``events`` when stopped."""
    iterator = events.__aiter__()
    pending: asyncio.Future[Event] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(iterator.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=every)
            if not done:
                yield None
                continue
            try:
                event = pending.result()
            except StopAsyncIteration:
                return
            pending = None
            yield event
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
            try:
                await pending
            except (asyncio.CancelledError, StopAsyncIteration, Exception):  # noqa: BLE001 - closing on the way out
                pass
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()


def data_line(payload: dict[str, Any] | str) -> bytes:
    """``data: <json>`` (chat completions), or ``data: [DONE]``."""
    text = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    return b"data: " + text.encode() + b"\n\n"


def event_line(payload: dict[str, Any]) -> bytes:
    """``event: <type>`` then ``data: <json>`` (Responses events name their type in both)."""
    return b"event: " + str(payload.get("type", "message")).encode() + b"\n" + data_line(payload)
