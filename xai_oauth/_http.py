"""The one module that imports httpx2: ``Http`` for threads, ``AsyncHttp`` for asyncio, one rule set.

Everything above it deals in ``Answer`` (status, headers, parsed JSON) and
our own exceptions, so protocol logic can be tested without sockets and the
~200 ms httpx2 import happens only when a request is really made.

Transport failures become ``NetworkError`` with ``maybe_sent``: a refused
connection or a connect timeout means the server never saw the request; a
read timeout or a dropped connection means it may have, which matters for
one-time credentials (rotating refresh tokens, device codes).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any

import httpx2

from . import __version__
from ._answer import Answer, parse_retry_after
from ._exceptions import IncompleteStream, MalformedResponse, NetworkError

__all__ = [
    "DEFAULT_DEADLINE",
    "MAX_ANSWER_BYTES",
    "Answer",
    "AsyncEventStream",
    "AsyncHttp",
    "EventStream",
    "Http",
    "httpx2",
    "parse_retry_after",
]

#: An honest name: the chat proxy is told which client this is, never that it is xAI's own CLI.
USER_AGENT = f"xai-oauth/{__version__}"


#: Seconds a whole answer may take unless the caller says otherwise (chat passes XAI_OAUTH_READ_TIMEOUT).
DEFAULT_DEADLINE = 30.0
#: The most a whole (non-streamed) answer may hold; more is ``MalformedResponse``, not a memory bill.
MAX_ANSWER_BYTES = 16 * 1024 * 1024
CONNECT_TIMEOUT = 10.0


def _client_options() -> dict[str, Any]:
    """What the sync and the async client share: one User-Agent, JSON by default, no redirect followed."""
    return {
        "timeout": _timeouts(DEFAULT_DEADLINE),
        "headers": {"User-Agent": USER_AGENT, "Accept": "application/json"},
        "follow_redirects": False,
    }


def _request(
    client: httpx2.Client | httpx2.AsyncClient, method: str, url: str, timeout: float | None, **kwargs: Any
) -> tuple[httpx2.Request, float, float]:
    """The request with its per-read timeouts; the monotonic deadline and the seconds the whole answer has."""
    seconds = timeout or DEFAULT_DEADLINE
    request = client.build_request(method, url, timeout=_timeouts(seconds), **kwargs)
    return request, time.monotonic() + seconds, seconds


def _sse(headers: Mapping[str, str] | None) -> dict[str, str]:
    return {**(headers or {}), "Accept": "text/event-stream"}


def _timeouts(deadline: float) -> httpx2.Timeout:
    """httpx2's timeouts are per operation; the deadline is enforced between reads, these bound each one."""
    return httpx2.Timeout(deadline, connect=min(CONNECT_TIMEOUT, deadline))


class Http:
    """A lazily created httpx2 client with our error mapping.

    ``transport`` is injected by tests (``httpx2.MockTransport``) and by
    developers who need a proxy or custom TLS.
    """

    def __init__(self, transport: httpx2.BaseTransport | None = None) -> None:
        self._transport = transport
        self._client: httpx2.Client | None = None

    @property
    def client(self) -> httpx2.Client:
        if self._client is None:
            self._client = httpx2.Client(transport=self._transport, **_client_options())
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # Every method takes ``timeout``: seconds for the *whole* answer (a deadline, checked between reads and
    # bounding each read), and whole answers take ``max_bytes``. A server that drips one byte every few
    # seconds, or sends 400 MB, meets a clear error instead of holding a lock or the memory.

    def get(
        self, url: str, *, headers: Mapping[str, str] | None = None, timeout: float | None = None, **options: Any
    ) -> Answer:
        return self._send("GET", url, headers=headers, timeout=timeout, **options)

    def post_form(
        self,
        url: str,
        data: Mapping[str, str],
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> Answer:
        """``options``: ``max_bytes``, and ``on_arrival(status, raw)`` called with the body before it is parsed."""
        return self._send("POST", url, data=data, headers=headers, timeout=timeout, **options)

    def post_json(
        self,
        url: str,
        body: Mapping[str, Any],
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> Answer:
        return self._send("POST", url, json=body, headers=headers, timeout=timeout, **options)

    @contextlib.contextmanager
    def open_event_stream(
        self,
        url: str,
        body: Mapping[str, Any],
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Iterator[EventStream | Answer]:
        """POST ``body`` and yield an ``EventStream`` for a 200 ``text/event-stream`` answer, else the ``Answer``.

        Server-sent events are parsed by httpx2's own ``EventSource`` (comments,
        multi-line ``data:``, ``event:`` names, CR/LF variants; one event is at
        most 1 MiB). The stream as a whole must end within ``timeout`` seconds.
        """
        request, deadline, seconds = _request(self.client, "POST", url, timeout, json=body, headers=_sse(headers))
        with _mapped_errors(url):
            response = self.client.send(request, stream=True)
        try:
            if response.status_code == 200 and "text/event-stream" in response.headers.get("content-type", ""):
                yield EventStream(response, url, deadline, seconds)
            else:
                yield _answer(response, _read_body(response, url, deadline, seconds, MAX_ANSWER_BYTES))
        finally:
            response.close()

    def download(self, url: str, sink: Callable[[bytes], object], *, timeout: float, max_bytes: int) -> Answer:
        """GET a file with no credentials, its 200 body streamed to ``sink``; other answers come back whole.

        Redirects are not followed: the caller checks where each hop leads (``location`` header).
        """
        request, deadline, _ = _request(self.client, "GET", url, timeout)
        with _mapped_errors(url):
            response = self.client.send(request, stream=True)
        try:
            if response.status_code == 200:
                _read_body(response, url, deadline, timeout, max_bytes, sink)
                return _answer(response, b"")
            return _answer(response, _read_body(response, url, deadline, timeout, MAX_ANSWER_BYTES))
        finally:
            response.close()

    def _send(
        self,
        method: str,
        url: str,
        *,
        timeout: float | None = None,
        max_bytes: int = MAX_ANSWER_BYTES,
        on_arrival: Callable[[int, bytes], None] | None = None,
        **kwargs: Any,
    ) -> Answer:
        request, deadline, seconds = _request(self.client, method, url, timeout, **kwargs)
        with _mapped_errors(url):
            response = self.client.send(request, stream=True)
        try:
            raw = _read_body(response, url, deadline, seconds, max_bytes)
        finally:
            response.close()
        if on_arrival is not None:
            on_arrival(response.status_code, raw)
        return _answer(response, raw)


class AsyncHttp:
    """``Http`` for asyncio (the server): its deadline, size cap and error mapping over ``httpx2.AsyncClient``."""

    def __init__(self, transport: httpx2.AsyncBaseTransport | None = None) -> None:
        self._transport = transport
        self._client: httpx2.AsyncClient | None = None

    @property
    def client(self) -> httpx2.AsyncClient:
        if self._client is None:
            self._client = httpx2.AsyncClient(transport=self._transport, **_client_options())
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def get(self, url: str, **options: Any) -> Answer:
        """``options`` as ``Http.get``'s: ``headers``, ``timeout``, ``max_bytes``."""
        return await self._send("GET", url, **options)

    async def post_json(self, url: str, body: Mapping[str, Any], **options: Any) -> Answer:
        return await self._send("POST", url, json=body, **options)

    @contextlib.asynccontextmanager
    async def open_event_stream(
        self,
        url: str,
        body: Mapping[str, Any],
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[AsyncEventStream | Answer]:
        """As ``Http.open_event_stream``: an ``AsyncEventStream`` for a 200 event stream, else the ``Answer``."""
        request, deadline, seconds = _request(self.client, "POST", url, timeout, json=body, headers=_sse(headers))
        with _mapped_errors(url):
            response = await self.client.send(request, stream=True)
        try:
            if response.status_code == 200 and "text/event-stream" in response.headers.get("content-type", ""):
                yield AsyncEventStream(response, url, deadline, seconds)
            else:
                yield _answer(response, await _aread_body(response, url, deadline, seconds, MAX_ANSWER_BYTES))
        finally:
            await response.aclose()

    async def _send(
        self, method: str, url: str, *, timeout: float | None = None, max_bytes: int = MAX_ANSWER_BYTES, **kwargs: Any
    ) -> Answer:
        request, deadline, seconds = _request(self.client, method, url, timeout, **kwargs)
        with _mapped_errors(url):
            response = await self.client.send(request, stream=True)
        try:
            raw = await _aread_body(response, url, deadline, seconds, max_bytes)
        finally:
            await response.aclose()
        return _answer(response, raw)


async def _aread_body(response: httpx2.Response, url: str, deadline: float, seconds: float, max_bytes: int) -> bytes:
    """``_read_body`` for an async response."""
    reading = _Reading(response, url, deadline, seconds, max_bytes)
    with _mapped_errors(url):
        async for chunk in response.aiter_bytes():
            reading.take(chunk)
    return reading.body()


def _read_body(
    response: httpx2.Response,
    url: str,
    deadline: float,
    seconds: float,
    max_bytes: int,
    sink: Callable[[bytes], object] | None = None,
) -> bytes:
    """The whole body, refused past ``max_bytes`` or the deadline (then ``maybe_sent``: the server got it).

    With ``sink``, each piece goes there as it arrives instead (a file), and the result is empty.
    """
    reading = _Reading(response, url, deadline, seconds, max_bytes, sink)
    with _mapped_errors(url):
        for chunk in response.iter_bytes():
            reading.take(chunk)
    return reading.body()


class _Reading:
    """One body as it arrives, held to its size cap and deadline: the rule both senders read bodies by."""

    def __init__(
        self,
        response: httpx2.Response,
        url: str,
        deadline: float,
        seconds: float,
        max_bytes: int,
        sink: Callable[[bytes], object] | None = None,
    ) -> None:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise _too_large(url, max_bytes)
        self._url, self._deadline, self._seconds, self._max_bytes, self._sink = url, deadline, seconds, max_bytes, sink
        self._chunks: list[bytes] = []
        self._size = 0

    def take(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self._max_bytes:
            raise _too_large(self._url, self._max_bytes)
        if self._sink is None:
            self._chunks.append(chunk)
        else:
            self._sink(chunk)
        if time.monotonic() > self._deadline:
            raise _late(self._url, self._seconds)

    def body(self) -> bytes:
        return b"".join(self._chunks)


def _too_large(url: str, max_bytes: int) -> MalformedResponse:
    return MalformedResponse(f"{_origin(url)} sent an answer over {max_bytes / 1048576:g} MiB; it was not read.")


def _late(url: str, seconds: float) -> NetworkError:
    return NetworkError(f"{_origin(url)} did not finish answering within {seconds:g} s.", maybe_sent=True)


class EventStream:
    """The events of a streamed answer, as ``(event name, data)`` pairs; transport errors mapped to ours."""

    def __init__(self, response: httpx2.Response, url: str, deadline: float, seconds: float) -> None:
        self._response = response
        self._url = url
        self._deadline = deadline
        self._seconds = seconds

    def __iter__(self) -> Iterator[tuple[str, str]]:
        with _stream_errors(self._url):
            for event in httpx2.EventSource(self._response):
                if time.monotonic() > self._deadline:
                    raise _late(self._url, self._seconds)
                yield event.event, event.data


class AsyncEventStream(EventStream):
    """``EventStream`` for an async response: ``async for event, data in stream``."""

    async def __aiter__(self) -> AsyncIterator[tuple[str, str]]:
        with _stream_errors(self._url):
            async for event in httpx2.EventSource(self._response):
                if time.monotonic() > self._deadline:
                    raise _late(self._url, self._seconds)
                yield event.event, event.data


@contextlib.contextmanager
def _stream_errors(url: str) -> Iterator[None]:
    """httpx2's failures while reading an event stream, as ours (shared by the sync and async streams)."""
    try:
        yield
    except httpx2.SSEError:
        raise MalformedResponse(f"{_origin(url)} sent a malformed event stream.") from None
    except httpx2.RemoteProtocolError:
        raise IncompleteStream(f"{_origin(url)} closed the stream mid-answer.") from None
    except httpx2.TimeoutException:
        raise NetworkError(f"{_origin(url)} stopped sending mid-answer.", maybe_sent=True) from None
    except httpx2.HTTPError:
        raise IncompleteStream(f"The connection to {_origin(url)} failed mid-answer.") from None


@contextlib.contextmanager
def _mapped_errors(url: str) -> Iterator[None]:
    """httpx2's transport exceptions as ``NetworkError``, with ``maybe_sent`` set honestly."""
    try:
        yield
    except (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.UnsupportedProtocol, httpx2.InvalidURL):
        raise NetworkError(f"Could not connect to {_origin(url)}.", maybe_sent=False) from None
    except httpx2.PoolTimeout:
        raise NetworkError(f"Timed out waiting for a connection to {_origin(url)}.") from None
    except httpx2.TimeoutException:
        raise NetworkError(f"{_origin(url)} did not answer in time.", maybe_sent=True) from None
    except httpx2.HTTPError:
        raise NetworkError(f"The connection to {_origin(url)} failed mid-request.", maybe_sent=True) from None


def _answer(response: httpx2.Response, raw: bytes) -> Answer:
    from ._files import loads_strict

    try:
        body = loads_strict(raw) if raw else None
    except (ValueError, UnicodeDecodeError):
        body = None
    return Answer(
        status=response.status_code,
        headers={k.lower(): v for k, v in response.headers.items()},
        body=body,
        content_type=response.headers.get("content-type", "").lower(),
    )


def _origin(url: str) -> str:
    """Scheme and host only: URLs never carry secrets into messages, but paths and queries could."""
    parsed = httpx2.URL(url)
    return f"{parsed.scheme}://{parsed.netloc.decode()}" if parsed.host else "the server"
