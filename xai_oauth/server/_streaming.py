"""How the server sends a stream: the first event before any byte, keep-alives while the model thinks, SSE framing.

An endpoint pulls the first event itself (``opening``), so a refusal that
comes before any answer is still an HTTP error with its status, and a pool
can try its next account meanwhile; once the first event is in hand the
response starts, and later events are written as they arrive, never
buffered. A client is never left without a byte for longer than the
keep-alive interval, though: when no first event has come by then, the
response starts anyway (200, a keep-alive comment, another each interval)
while the wait goes on behind it, failover included, and a refusal that
comes after that is the stream's error event in the client's format. ``paced_batches`` hands over, at
once, every event that arrived while the last was being written, so a burst
costs one write to the client, not one each; while the upstream is silent (a
long reasoning) it yields ``None`` every ``every`` seconds, which the
endpoint writes as its format's keep-alive (a comment, or Anthropic's
``ping``), so proxies and clients with idle timeouts do not cut the answer.
The batching matters: bench/bench_serve.py found the write, a syscall per
event, the largest cost the server added to a stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator, Awaitable, Mapping
from typing import Any, NamedTuple, TypeVar

from .._exceptions import ConfigError
from .._numbers import bounded
from ..wire._events import Event

__all__ = [
    "BURST",
    "KEEPALIVE",
    "KEEPALIVE_SECONDS",
    "READ_AHEAD",
    "Opening",
    "by_loop_time",
    "data_line",
    "event_line",
    "first_event",
    "keepalive_seconds",
    "opening",
    "paced_batches",
]

T = TypeVar("T")

#: A comment line: every SSE reader skips it.
KEEPALIVE = b": keep-alive\n\n"


#: Seconds of silence before a keep-alive (``ServeSettings.keepalive``; ``XAI_OAUTH_SERVE_KEEPALIVE`` sets it).
KEEPALIVE_SECONDS = 15.0
ENV_KEEPALIVE = "XAI_OAUTH_SERVE_KEEPALIVE"


def keepalive_seconds(environ: Mapping[str, str] = os.environ) -> float:
    """The keep-alive interval ``XAI_OAUTH_SERVE_KEEPALIVE`` sets (0.05 to 300 s), else ``KEEPALIVE_SECONDS``."""
    text = environ.get(ENV_KEEPALIVE, "").strip()
    if not text:
        return KEEPALIVE_SECONDS
    seconds = bounded(text, 0.05, 300.0)
    if seconds is None:
        raise ConfigError(
            f"{ENV_KEEPALIVE} must be a number of seconds from 0.05 to 300, not {text[:40]!r}.",
            action=f"Set {ENV_KEEPALIVE} to e.g. 15 (the default), or unset it.",
        )
    return seconds


async def first_event(events: AsyncIterator[Event]) -> Event | None:
    """The first event, or None when the stream had none; the package's exceptions propagate."""
    async for event in events:
        return event
    return None


class Opening(NamedTuple):
    """How an answer began: its ``first`` event (None: it had none), or, when none came within the keep-alive
    interval, the wait for it, still going (``pending``: its result is the first event, or the refusal)."""

    first: Event | None
    pending: asyncio.Task[Event | None] | None = None


async def opening(events: AsyncIterator[Event], every: float | None) -> Opening:
    """The first event of ``events``, waited for at most ``every`` seconds (None: for as long as it takes).

    A refusal that comes within that time is raised here, so the endpoint
    answers with its status. Past it, the wait goes on in a task of its own
    (``Opening.pending``), which the endpoint's stream hands over to
    ``paced_batches`` once it ends; cancelling this call cancels the wait.
    """
    if every is None:
        return Opening(await first_event(events))
    pending = asyncio.ensure_future(first_event(events))
    try:
        await asyncio.wait((pending,), timeout=every)
    except asyncio.CancelledError:
        pending.cancel()
        raise
    return Opening(pending.result()) if pending.done() else Opening(None, pending)


#: Events read in one burst before the writer gets a turn: one write holds at most this many (the first alone).
BURST = 16
#: Events read ahead of a slow client at most; the upstream read waits beyond that (back-pressure).
READ_AHEAD = 256


class _Raised:
    """The upstream's exception, handed from the reading task to the writer in order."""

    def __init__(self, error: Exception) -> None:
        self.error = error


_END = object()


async def paced_batches(
    events: AsyncIterator[Event], every: float, first: Event | None = None
) -> AsyncIterator[list[Event] | None]:
    """``first`` (the event already pulled, if any) then ``events``, in batches of what has arrived since the
    last one, ``None`` after ``every`` s of silence.

    One task reads the upstream while the endpoint writes: a batch holds
    every event that arrived while the last one was being written, so the
    endpoint can send it in one write (one syscall for a burst, never a wait
    for more). The first event goes out alone, at once, and a long burst
    (an answer that was all there) in parts of ``BURST``, so reading the
    rest never holds back the first token.
    Waiting costs a future and a timer, not a task per event. The reading
    task is cancelled, and ``events`` closed, when the writer stops (a client
    that hung up cancels its upstream call).
    """
    loop = asyncio.get_running_loop()
    arrived: list[Any] = []
    wake: asyncio.Future[None] | None = None
    room: asyncio.Future[None] | None = None

    def arrive(item: Any) -> None:
        arrived.append(item)
        if wake is not None and not wake.done():
            wake.set_result(None)

    async def read() -> None:
        nonlocal room
        count = 0
        try:
            async for event in events:
                count += 1
                arrive(event)
                if count == 1 or count % BURST == 0:
                    await asyncio.sleep(0)  # let the writer send the first event now, and a long burst in parts
                if len(arrived) >= READ_AHEAD:
                    room = loop.create_future()
                    await room
        except Exception as error:  # noqa: BLE001 - handed to the writer, raised there in order
            arrive(_Raised(error))
        else:
            arrive(_END)

    reader = loop.create_task(read())
    try:
        if first is not None:
            yield [first]
        while True:
            if not arrived:
                wake = loop.create_future()
                timer = loop.call_later(every, _settle, wake)
                try:
                    await wake
                finally:
                    timer.cancel()
                    wake = None
                if not arrived:
                    yield None
                    continue
            batch = arrived.copy()
            arrived.clear()
            if room is not None and not room.done():
                room.set_result(None)
            tail = batch.pop() if batch[-1] is _END or isinstance(batch[-1], _Raised) else None
            if batch:
                yield batch
            if tail is _END:
                return
            if isinstance(tail, _Raised):
                raise tail.error
    finally:
        if not reader.done():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()


async def by_loop_time(deadline: float, awaitable: Awaitable[T]) -> T:
    """``awaitable``, or ``asyncio.TimeoutError`` at the loop time ``deadline``.

    A timer on the running task (``asyncio.timeout_at``, Python 3.11), not
    the task ``asyncio.wait_for`` wraps every call in: the server awaits
    this for each request's body and each upstream stream's end. Python
    3.10 has only ``wait_for``.
    """
    timeout_at = getattr(asyncio, "timeout_at", None)
    if timeout_at is None:
        return await asyncio.wait_for(awaitable, max(0.0, deadline - asyncio.get_running_loop().time()))
    async with timeout_at(deadline):
        return await awaitable


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


#: One encoder for every event (``json.dumps`` with options builds a new one per call).
_COMPACT = json.JSONEncoder(separators=(",", ":"))


def data_line(payload: dict[str, Any] | str) -> bytes:
    """``data: <json>`` (chat completions), or ``data: [DONE]``."""
    text = payload if isinstance(payload, str) else _COMPACT.encode(payload)
    return b"data: " + text.encode() + b"\n\n"


def event_line(payload: dict[str, Any]) -> bytes:
    """``event: <type>`` then ``data: <json>`` (Responses events name their type in both)."""
    return b"event: " + str(payload.get("type", "message")).encode() + b"\n" + data_line(payload)
