"""Does this answer end on time and within its size? The clock and the cap every body and stream is read by.

A deadline checked only between events never runs while a server sends nothing but comments or blank lines, and
httpx2's per-read timeout never fires while bytes keep coming (issue 21 item 1). And a read that starts just
before the deadline may wait a whole read timeout more, nearly doubling it (item 15). So the rule has two parts:

* ``Deadline.check`` runs on every chunk read, whatever the chunk holds;
* ``Watchdog`` cuts the connection at the deadline itself, so a read blocked on a silent server ends then.

Pure of httpx2 (``_http`` hands the watchdog a ``cut`` that shuts the socket), and the clock is passed in.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Any

from .._exceptions import MalformedResponse, NetworkError
from .._routes import split_url

__all__ = ["Deadline", "Reading", "Watchdog", "origin", "socket_cutter", "timed", "too_large"]


def origin(url: str) -> str:
    """Scheme and host only: URLs never carry secrets into messages, but paths and queries could."""
    parts = split_url(url)
    return f"{parts.scheme}://{parts.netloc}" if parts is not None and parts.hostname else "the server"


def too_large(url: str, max_bytes: int) -> MalformedResponse:
    return MalformedResponse(f"{origin(url)} sent an answer over {max_bytes / 1048576:g} MiB; it was not read.")


class Deadline:
    """The moment a whole answer (headers, body, every event) must be in by: ``seconds`` from now."""

    def __init__(self, url: str, seconds: float, now: Callable[[], float] = time.monotonic) -> None:
        self.url, self.seconds, self._now = url, seconds, now
        self.at = now() + seconds
        #: set by ``Watchdog`` when it cut the connection: a close-delimited body then looks complete, but is not
        self.cut = False

    def left(self) -> float:
        """Seconds still to go (never below zero): what the next read may wait at most."""
        return max(0.0, self.at - self._now())

    def passed(self) -> bool:
        return self._now() >= self.at

    def check(self) -> None:
        """Called on every chunk read and at the end: ``NetworkError`` once the deadline has passed (or cut)."""
        if self.cut or self.passed():
            raise self.late()

    def check_cut(self) -> None:
        """Called when a body ends: one the watchdog ended is late, however cleanly it seemed to close."""
        if self.cut:
            raise self.late()

    def late(self) -> NetworkError:
        """Past the deadline the server has the request: ``maybe_sent`` (one-time credentials are spent)."""
        return NetworkError(f"{origin(self.url)} did not finish answering within {self.seconds:g} s.", maybe_sent=True)


class Watchdog:
    """``with Watchdog(deadline, cut):`` calls ``cut()`` (from a timer thread) if the block outlives the deadline.

    ``cut`` must make a blocked read return (shutting the socket does; closing it from another thread does not
    wake a ``recv`` on Linux). The reader then meets a broken connection and, the deadline having passed, says
    so with ``Deadline.late``. A cut that fails (the socket already gone) is ignored: the read has ended anyway.
    """

    def __init__(self, deadline: Deadline, cut: Callable[[], None]) -> None:
        self._deadline, self._cut = deadline, cut
        self._timer: threading.Timer | None = None

    def __enter__(self) -> Watchdog:
        self._timer = threading.Timer(self._deadline.left(), self._fire)
        self._timer.daemon = True
        self._timer.start()
        return self

    def _fire(self) -> None:
        _cut_now(self._deadline, self._cut)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._timer is not None:
            self._timer.cancel()


class Reading:
    """One body as it arrives, held to its size cap and deadline: the rule both senders read bodies by.

    With ``sink``, each piece goes there as it arrives (a file) instead of being kept, and ``body()`` is empty.
    """

    def __init__(
        self,
        declared: str,
        deadline: Deadline,
        max_bytes: int,
        sink: Callable[[bytes], object] | None = None,
    ) -> None:
        if declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
            raise too_large(deadline.url, max_bytes)
        self._deadline, self._max_bytes, self._sink = deadline, max_bytes, sink
        self._chunks: list[bytes] = []
        self._size = 0

    def take(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self._max_bytes:
            raise too_large(self._deadline.url, self._max_bytes)
        if self._sink is None:
            self._chunks.append(chunk)
        else:
            self._sink(chunk)
        self._deadline.check()

    def body(self) -> bytes:
        self._deadline.check_cut()
        return b"".join(self._chunks)


def socket_cutter(response: Any) -> Callable[[], None]:
    """What the watchdog calls at the deadline: shut the response's socket, which wakes a blocked ``recv``.

    ``socket.socket.shutdown`` itself, not ``SSLSocket.shutdown`` (which also drops the TLS state under the
    reader's feet). On an event loop the socket comes wrapped by the loop's transport (asyncio's
    ``TransportSocket``; uvloop's ``PseudoSocket``, which refuses ``shutdown``), with TLS done in memory above
    it: a duplicate of its descriptor is shut instead, which shuts the one connection both name.
    No socket (a mock transport): nothing to cut, the per-chunk clock check still holds.
    """

    def cut() -> None:
        stream = response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        elif sock is not None and hasattr(sock, "fileno"):
            try:
                sock.shutdown(socket.SHUT_RDWR)  # asyncio's wrapper passes it on
            except TypeError:  # uvloop's refuses it
                with socket.fromfd(sock.fileno(), sock.family, sock.type) as duplicate:
                    duplicate.shutdown(socket.SHUT_RDWR)

    return cut


async def timed(
    chunks: AsyncIterator[Any], deadline: Deadline, cut: Callable[[], None] | None = None
) -> AsyncIterator[Any]:
    """Each item of ``chunks`` awaited for at most the time left (anyio: asyncio and trio alike).

    With ``cut`` on asyncio, one timer on the loop cuts the connection at
    the deadline instead (``Watchdog``'s rule, without a thread), and each
    chunk costs only a clock check: a cancel scope per chunk was the
    largest cost of reading a stream of small events (bench/bench_serve.py).
    """
    import asyncio

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # another event loop (trio): a cancel scope around each read
        loop = None
    if cut is None or loop is None:
        async for chunk in _each_within(chunks, deadline):
            yield chunk
        return
    timer = loop.call_later(deadline.left(), _cut_now, deadline, cut)
    try:
        async for chunk in chunks:
            yield chunk
            deadline.check()
    finally:
        timer.cancel()
    deadline.check_cut()


def _cut_now(deadline: Deadline, cut: Callable[[], None]) -> None:
    deadline.cut = True
    try:
        cut()
    except (OSError, AttributeError, ValueError):
        pass  # the socket is already gone: the read has ended anyway


async def _each_within(chunks: AsyncIterator[Any], deadline: Deadline) -> AsyncIterator[Any]:
    import anyio  # httpx2's own dependency: loaded with it, never on the status path

    iterator = chunks.__aiter__()
    while True:
        try:
            with anyio.fail_after(deadline.left()):
                chunk = await iterator.__anext__()
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise deadline.late() from None
        yield chunk
        deadline.check()
