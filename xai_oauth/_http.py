"""The one module that imports httpx2.

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
import email.utils
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx2

from . import __version__
from ._exceptions import IncompleteStream, MalformedResponse, NetworkError, RateLimited, ServerError

__all__ = ["DEFAULT_DEADLINE", "MAX_ANSWER_BYTES", "Answer", "EventStream", "Http", "httpx2", "parse_retry_after"]

#: An honest name: the chat proxy is told which client this is, never that it is xAI's own CLI.
USER_AGENT = f"xai-oauth/{__version__}"


#: Seconds a whole answer may take unless the caller says otherwise (chat passes XAI_OAUTH_READ_TIMEOUT).
DEFAULT_DEADLINE = 30.0
#: The most a whole (non-streamed) answer may hold; more is ``MalformedResponse``, not a memory bill.
MAX_ANSWER_BYTES = 16 * 1024 * 1024
CONNECT_TIMEOUT = 10.0


def _timeouts(deadline: float) -> httpx2.Timeout:
    """httpx2's timeouts are per operation; the deadline is enforced between reads, these bound each one."""
    return httpx2.Timeout(deadline, connect=min(CONNECT_TIMEOUT, deadline))


@dataclass(frozen=True)
class Answer:
    """A finished HTTP response, reduced to what protocol code needs."""

    status: int
    headers: Mapping[str, str] = field(repr=False)
    body: Any = field(repr=False)  # parsed JSON, or None when the body was not JSON
    content_type: str = ""

    @property
    def is_html(self) -> bool:
        return "html" in self.content_type

    def json_object(self, what: str) -> dict[str, Any]:
        """The body as a JSON object, raising the right error for 429, 5xx and non-JSON answers."""
        if self.status == 429:
            raise RateLimited(
                f"The {what} is rate limited (HTTP 429).",
                retry_after=parse_retry_after(self.headers.get("retry-after")),
                http_status=429,
            )
        if self.status >= 500:
            raise ServerError(f"The {what} failed with HTTP {self.status}.", http_status=self.status)
        if not isinstance(self.body, dict):
            kind = "an HTML page" if self.is_html else "something that is not a JSON object"
            raise MalformedResponse(f"The {what} answered with {kind} (HTTP {self.status}).", http_status=self.status)
        return self.body


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


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
            self._client = httpx2.Client(
                transport=self._transport,
                timeout=_timeouts(DEFAULT_DEADLINE),
                headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
                follow_redirects=False,
            )
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
        seconds = timeout or DEFAULT_DEADLINE
        deadline = time.monotonic() + seconds
        request = self.client.build_request(
            "POST",
            url,
            json=body,
            headers={**(headers or {}), "Accept": "text/event-stream"},
            timeout=_timeouts(seconds),
        )
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
        deadline = time.monotonic() + timeout
        request = self.client.build_request("GET", url, timeout=_timeouts(timeout))
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
        seconds = timeout or DEFAULT_DEADLINE
        deadline = time.monotonic() + seconds
        request = self.client.build_request(method, url, timeout=_timeouts(seconds), **kwargs)
        with _mapped_errors(url):
            response = self.client.send(request, stream=True)
        try:
            raw = _read_body(response, url, deadline, seconds, max_bytes)
        finally:
            response.close()
        if on_arrival is not None:
            on_arrival(response.status_code, raw)
        return _answer(response, raw)


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
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(url, max_bytes)
    chunks: list[bytes] = []
    size = 0
    with _mapped_errors(url):
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise _too_large(url, max_bytes)
            if sink is None:
                chunks.append(chunk)
            else:
                sink(chunk)
            if time.monotonic() > deadline:
                raise _late(url, seconds)
    return b"".join(chunks)


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
        try:
            for event in httpx2.EventSource(self._response):
                if time.monotonic() > self._deadline:
                    raise _late(self._url, self._seconds)
                yield event.event, event.data
        except httpx2.SSEError:
            raise MalformedResponse(f"{_origin(self._url)} sent a malformed event stream.") from None
        except httpx2.RemoteProtocolError:
            raise IncompleteStream(f"{_origin(self._url)} closed the stream mid-answer.") from None
        except httpx2.TimeoutException:
            raise NetworkError(f"{_origin(self._url)} stopped sending mid-answer.", maybe_sent=True) from None
        except httpx2.HTTPError:
            raise IncompleteStream(f"The connection to {_origin(self._url)} failed mid-answer.") from None


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
