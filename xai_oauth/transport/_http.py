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
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any

import httpx2

from .._exceptions import IncompleteStream, MalformedResponse, NetworkError
from .._version import __version__
from ..wire._json_text import json_bytes
from ._answer import Answer, parse_retry_after
from ._deadline import Deadline, Reading, Watchdog, origin, socket_cutter, timed
from ._sse import EventParser, EventTooLarge

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
) -> tuple[httpx2.Request, Deadline]:
    """The request with its per-read timeouts, and the deadline the whole answer must be in by.

    A JSON body is encoded here (``_json_text.json_bytes``), not by httpx2, so a value no encoder can write (a
    lone surrogate, a NaN) is a ``RequestRejected`` naming its field whatever httpx2's own encoder would do.
    """
    seconds = timeout or DEFAULT_DEADLINE
    if "json" in kwargs:
        headers = dict(kwargs.pop("headers", None) or {})
        if not any(name.lower() == "content-type" for name in headers):
            headers["Content-Type"] = "application/json"
        kwargs.update(content=json_bytes(kwargs.pop("json")), headers=headers)
    request = client.build_request(method, url, timeout=_timeouts(seconds), **kwargs)
    return request, Deadline(url, seconds)


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

    # Every method takes ``timeout``: seconds for the *whole* answer (a deadline, checked on every chunk read,
    # and a watchdog cuts a read still blocked when it passes), and whole answers take ``max_bytes``. A server
    # that drips one byte every few seconds, or sends 400 MB, meets a clear error, not a held lock or memory.
    # ``body_sink`` (``_send``'s docstring) streams a 200 body instead of holding it: the images' answers.

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

        Server-sent events are read by ``_sse.EventParser`` (comments,
        multi-line ``data:``, ``event:`` names, CR/LF variants; one event is at
        most 1 MiB). The stream as a whole must end within ``timeout`` seconds.
        """
        request, deadline = _request(self.client, "POST", url, timeout, json=body, headers=_sse(headers))
        with _mapped_errors(deadline):
            response = self.client.send(request, stream=True)
        try:
            if response.status_code == 200 and "text/event-stream" in response.headers.get("content-type", ""):
                with Watchdog(deadline, socket_cutter(response)):
                    yield EventStream(response, deadline)
            else:
                yield _answer(response, _read_body(response, deadline, MAX_ANSWER_BYTES))
        finally:
            response.close()

    def download(self, url: str, sink: Callable[[bytes], object], *, timeout: float, max_bytes: int) -> Answer:
        """GET a file with no credentials, its 200 body streamed to ``sink``; other answers come back whole.

        Redirects are not followed: the caller checks where each hop leads (``location`` header).
        """
        request, deadline = _request(self.client, "GET", url, timeout)
        with _mapped_errors(deadline):
            response = self.client.send(request, stream=True)
        try:
            if response.status_code == 200:
                _read_body(response, deadline, max_bytes, sink)
                return _answer(response, b"")
            return _answer(response, _read_body(response, deadline, MAX_ANSWER_BYTES))
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
        body_sink: Callable[[bytes], object] | None = None,
        **kwargs: Any,
    ) -> Answer:
        """``body_sink``: a 200 body goes there piece by piece as it arrives (under the same deadline and cap),
        and the ``Answer`` has no body; any other answer is read whole, as always (errors, retries).
        """
        request, deadline = _request(self.client, method, url, timeout, **kwargs)
        with _mapped_errors(deadline):
            response = self.client.send(request, stream=True)
        try:
            if body_sink is not None and response.status_code == 200:
                raw = _read_body(response, deadline, max_bytes, body_sink)
            else:  # a refusal beside a streamed answer is held to the usual cap, not to the picture's
                limit = max_bytes if body_sink is None else min(max_bytes, MAX_ANSWER_BYTES)
                raw = _read_body(response, deadline, limit)
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
        request, deadline = _request(self.client, "POST", url, timeout, json=body, headers=_sse(headers))
        with _mapped_errors(deadline):
            response = await self.client.send(request, stream=True)
        try:
            if response.status_code == 200 and "text/event-stream" in response.headers.get("content-type", ""):
                yield AsyncEventStream(response, deadline)
            else:
                yield _answer(response, await _aread_body(response, deadline, MAX_ANSWER_BYTES))
        finally:
            await response.aclose()

    async def _send(
        self, method: str, url: str, *, timeout: float | None = None, max_bytes: int = MAX_ANSWER_BYTES, **kwargs: Any
    ) -> Answer:
        request, deadline = _request(self.client, method, url, timeout, **kwargs)
        with _mapped_errors(deadline):
            response = await self.client.send(request, stream=True)
        try:
            raw = await _aread_body(response, deadline, max_bytes)
        finally:
            await response.aclose()
        return _answer(response, raw)


async def _aread_body(response: httpx2.Response, deadline: Deadline, max_bytes: int) -> bytes:
    """``_read_body`` for an async response: each chunk awaited for at most the time left."""
    reading = Reading(response.headers.get("content-length", ""), deadline, max_bytes)
    with _mapped_errors(deadline):
        async for chunk in timed(response.aiter_bytes(), deadline):
            reading.take(chunk)
    return reading.body()


def _read_body(
    response: httpx2.Response,
    deadline: Deadline,
    max_bytes: int,
    sink: Callable[[bytes], object] | None = None,
) -> bytes:
    """The whole body, refused past ``max_bytes`` or the deadline (then ``maybe_sent``: the server got it).

    With ``sink``, each piece goes there as it arrives instead (a file), and the result is empty. A watchdog
    cuts the connection at the deadline, so a server that stalls mid-body does not get a whole read timeout more.
    """
    reading = Reading(response.headers.get("content-length", ""), deadline, max_bytes, sink)
    with Watchdog(deadline, socket_cutter(response)), _mapped_errors(deadline):
        for chunk in response.iter_bytes():
            reading.take(chunk)
    return reading.body()


class EventStream:
    """The events of a streamed answer, as ``(event name, data)`` pairs; transport errors mapped to ours."""

    def __init__(self, response: httpx2.Response, deadline: Deadline) -> None:
        self._response = response
        self._deadline = deadline

    def __iter__(self) -> Iterator[tuple[str, str]]:
        parser = EventParser()
        with _stream_errors(self._deadline):
            for chunk in self._response.iter_bytes():
                yield from parser.feed(chunk)
                self._deadline.check()  # on every chunk, so a server sending only keep-alives is still held to it
            self._deadline.check_cut()


class AsyncEventStream(EventStream):
    """``EventStream`` for an async response: ``async for event, data in stream``."""

    async def __aiter__(self) -> AsyncIterator[tuple[str, str]]:
        parser = EventParser()
        with _stream_errors(self._deadline):
            async for chunk in timed(self._response.aiter_bytes(), self._deadline, socket_cutter(self._response)):
                for event in parser.feed(chunk):
                    yield event


@contextlib.contextmanager
def _stream_errors(deadline: Deadline) -> Iterator[None]:
    """httpx2's failures while reading an event stream, as ours (shared by the sync and async streams)."""
    try:
        yield
    except httpx2.HTTPError as error:
        raise _stream_error(deadline, error) from None
    except EventTooLarge as error:
        raise MalformedResponse(f"{origin(deadline.url)} sent a malformed event stream ({error}).") from None


def _stream_error(deadline: Deadline, error: httpx2.HTTPError) -> Exception:
    """Any failure once the deadline has passed is the deadline's: the watchdog cut the connection."""
    where = origin(deadline.url)
    if deadline.passed():
        return deadline.late()
    if isinstance(error, httpx2.RemoteProtocolError):
        return IncompleteStream(f"{where} closed the stream mid-answer.")
    if isinstance(error, httpx2.TimeoutException):
        return NetworkError(f"{where} stopped sending mid-answer.", maybe_sent=True)
    return IncompleteStream(f"The connection to {where} failed mid-answer.")


@contextlib.contextmanager
def _mapped_errors(deadline: Deadline) -> Iterator[None]:
    """httpx2's transport exceptions as ``NetworkError``, with ``maybe_sent`` set honestly."""
    try:
        yield
    except httpx2.HTTPError as error:
        raise _network_error(deadline, error) from None


def _network_error(deadline: Deadline, error: httpx2.HTTPError) -> NetworkError:
    """Never connected: not sent. Past the deadline (the watchdog's cut included): the deadline's error."""
    where = origin(deadline.url)
    if isinstance(error, (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.UnsupportedProtocol, httpx2.InvalidURL)):
        return NetworkError(f"Could not connect to {where}.", maybe_sent=False)
    if isinstance(error, httpx2.PoolTimeout):
        return NetworkError(f"Timed out waiting for a connection to {where}.")
    if isinstance(error, httpx2.TimeoutException):
        return NetworkError(f"{where} did not answer in time.", maybe_sent=True)
    if deadline.passed():
        return deadline.late()
    return NetworkError(f"The connection to {where} failed mid-request.", maybe_sent=True)


def _answer(response: httpx2.Response, raw: bytes) -> Answer:
    from ..store._files import loads_strict

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
