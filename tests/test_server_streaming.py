"""How the server passes a stream on, without sockets: batches, keep-alives, failures, hang-ups, and the upstream
stream read to its end so its connection is kept (bench/bench_serve.py measures what these are for)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest

from xai_oauth import Account, Config
from xai_oauth.server import _streaming, _upstream
from xai_oauth.server._streaming import BURST, paced_batches
from xai_oauth.server._upstream import Upstream
from xai_oauth.transport._http import AsyncHttp
from xai_oauth.wire._events import Event


async def burst(n: int) -> AsyncIterator[Any]:
    """``n`` events that are all there at once (never waiting on I/O)."""
    for i in range(n):
        yield i


async def collect(stream: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in stream]


def test_the_first_event_goes_alone_and_a_burst_in_parts_of_at_most_burst() -> None:
    batches = asyncio.run(collect(paced_batches(burst(5 * BURST), every=60)))
    assert batches[0] == [0]
    assert [event for batch in batches for event in batch] == list(range(5 * BURST))
    assert all(batch and len(batch) <= BURST for batch in batches)
    assert len(batches) <= 6  # one write per part, not one per event


def test_silence_is_filled_with_keepalives_and_events_keep_their_order() -> None:
    async def slow() -> AsyncIterator[Any]:
        for i in range(3):
            await asyncio.sleep(0.12)
            yield i

    batches = asyncio.run(collect(paced_batches(slow(), every=0.03)))
    items = [item for batch in batches for item in (batch if batch is not None else [None])]
    assert [item for item in items if item is not None] == [0, 1, 2]
    assert items.count(None) >= 3
    assert items[-1] == 2  # no keep-alive after the end


def test_a_failure_arrives_after_the_events_before_it() -> None:
    async def failing() -> AsyncIterator[Any]:
        yield 1
        yield 2
        raise ValueError("upstream broke")

    seen: list[Any] = []

    async def run() -> None:
        async for batch in paced_batches(failing(), every=60):
            seen.extend(batch or [])

    with pytest.raises(ValueError, match="upstream broke"):
        asyncio.run(run())
    assert seen == [1, 2]


def test_a_writer_that_stops_cancels_the_upstream_read_and_closes_it() -> None:
    closed: list[bool] = []

    async def endless() -> AsyncIterator[Any]:
        try:
            yield 1
            await asyncio.sleep(3600)
            yield 2
        finally:
            closed.append(True)

    async def run() -> list[Any]:
        stream = paced_batches(endless(), every=60)
        first = await stream.__anext__()
        await stream.aclose()  # the client hung up
        return first

    started = time.monotonic()
    assert asyncio.run(run()) == [1]
    assert closed == [True] and time.monotonic() - started < 5


def test_a_slow_writer_holds_the_upstream_read_at_read_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_streaming, "READ_AHEAD", 8)
    pulled: list[int] = []

    async def counted() -> AsyncIterator[Any]:
        for i in range(100):
            pulled.append(i)
            yield i

    async def run() -> int:
        stream = paced_batches(counted(), every=60)
        await stream.__anext__()
        await asyncio.sleep(0.05)  # the writer is busy: the reader must stop, not read all 100
        held = len(pulled)
        await stream.aclose()
        return held

    assert asyncio.run(run()) <= 8 + BURST


# -- the upstream stream is read to its end ---------------------------------


class Recorded(httpx2.AsyncByteStream):
    """An event stream whose bytes after ``[DONE]`` (the closing chunk) say whether anyone read them."""

    def __init__(self, after_done: float = 0.0) -> None:
        self.after_done, self.read_to_end = after_done, False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":"hi"}}]}\n\n'
        yield b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
        yield b"data: [DONE]\n\n"
        if self.after_done:
            await asyncio.sleep(self.after_done)
        yield b"\n"
        self.read_to_end = True


def answer(stream: Recorded) -> list[Event]:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, stream=stream)

    account = Account(Config.from_env({"XAI_API_KEY": "xai-" + "t" * 40}))
    upstream = Upstream(account, AsyncHttp(httpx2.MockTransport(handler)))
    body = {"model": "xai/grok-4.3", "messages": [{"role": "user", "content": "hi"}]}

    async def run() -> list[Event]:
        return await collect(upstream.events(upstream.choose("xai/grok-4.3"), body))

    return asyncio.run(run())


def test_the_upstream_stream_is_read_to_its_closing_chunk_so_its_connection_is_kept() -> None:
    stream = Recorded()
    events = answer(stream)
    assert events and stream.read_to_end


def test_a_stream_that_goes_on_after_its_answer_is_given_up_after_the_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_upstream, "END_GRACE", 0.05)
    stream = Recorded(after_done=3600)
    started = time.monotonic()
    events = answer(stream)
    assert events and not stream.read_to_end and time.monotonic() - started < 5
