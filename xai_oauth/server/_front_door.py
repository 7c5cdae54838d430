"""How long may a connection take to send its request head, and how many may be open at once?

uvicorn closes a connection that stays idle after an answer (its keep-alive
timeout), but nothing closes one that never sends a request, or sends its
head one line at a time: each holds a descriptor for ever, and enough of
them exhaust the process's descriptors without ever presenting a key. The
rules belong below the ASGI app, where connections are (the app sees only
requests, and only once their head is complete), so ``front_door_protocol``
makes a subclass of the HTTP protocol uvicorn would pick itself (httptools
when installed, else h11) with two rules:

* **A deadline for the request head.** From the moment a connection opens,
  and from the first byte of each later request on it, the request line and
  headers must be complete within ``head_timeout`` seconds, or the
  connection is closed. The body has its own deadline, one level up
  (``_guard``).
* **A cap on open connections.** When one more connection would make more
  than ``max_connections`` open, the connection that has waited longest for
  a request head (silent, dripping, or idle between requests) is closed to
  make room; a client that sends its request at once is never the one
  waiting longest, so keyed clients are served while such connections come
  and go. Only when every open connection is busy with a request is the
  new one turned away.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

__all__ = ["Door", "front_door_protocol"]

_log = logging.getLogger("xai_oauth.server")


class Door:
    """The connections one server has open, and those waiting for a request head, the longest-waiting first."""

    def __init__(self, head_timeout: float, max_connections: int) -> None:
        self.head_timeout, self.max_connections = head_timeout, max_connections
        self.open: set[Any] = set()
        self.waiting: dict[Any, None] = {}  # insertion order: the longest-waiting first

    def admit(self, connection: Any) -> bool:
        """Count a new connection in (waiting for its head); False when it must be turned away.

        Over the cap, the longest-waiting other connection is closed instead.
        """
        self.open.add(connection)
        self.waiting[connection] = None
        if len(self.open) <= self.max_connections:
            return True
        oldest = next((c for c in self.waiting if c is not connection), None)
        if oldest is None:
            self.forget(connection)
            return False
        self.forget(oldest)
        oldest.transport.close()
        return True

    def waits(self, connection: Any) -> None:
        """The connection waits for its next request head (it goes to the end of the line)."""
        if connection in self.open:
            self.waiting.pop(connection, None)
            self.waiting[connection] = None

    def busy(self, connection: Any) -> None:
        """The connection's request head is in: it is not to be closed to make room."""
        self.waiting.pop(connection, None)

    def forget(self, connection: Any) -> None:
        self.open.discard(connection)
        self.waiting.pop(connection, None)


def front_door_protocol(head_timeout: float, max_connections: int) -> type[asyncio.Protocol]:
    """uvicorn's own HTTP protocol with the two rules of the module doc, for ``uvicorn.Config(http=...)``."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    base: Any = AutoHTTPProtocol  # httptools' or h11's, both with the attributes read here
    door = Door(head_timeout, max_connections)

    class FrontDoorProtocol(base):  # type: ignore[misc]
        """One connection, under the server's ``door``."""

        def connection_made(self, transport: asyncio.Transport) -> None:
            self._head_timer: asyncio.TimerHandle | None = None
            self._seen_cycle: Any = None
            super().connection_made(transport)
            if not door.admit(self):
                _log.warning(
                    "turned a connection away: all %d open connections are busy with requests "
                    "(raise --max-connections if this is expected load)",
                    door.max_connections,
                )
                transport.close()
                return
            self._await_head()

        def data_received(self, data: bytes) -> None:
            if self._head_timer is None and self._between_requests():
                self._await_head()  # the first byte of the next request on a kept-alive connection
            super().data_received(data)
            self._check_head()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._check_head()  # h11 may start a pipelined request here
            if self._between_requests():
                door.waits(self)

        def connection_lost(self, exc: Exception | None) -> None:
            door.forget(self)
            self._stop_head_timer()
            super().connection_lost(exc)

        def _between_requests(self) -> bool:
            return self.cycle is None or bool(self.cycle.response_complete)

        def _await_head(self) -> None:
            self._head_timer = self.loop.call_later(door.head_timeout, self._head_too_slow)

        def _check_head(self) -> None:
            if self.cycle is not None and self.cycle is not self._seen_cycle:  # a request head was parsed
                self._seen_cycle = self.cycle
                self._stop_head_timer()
                door.busy(self)

        def _stop_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_too_slow(self) -> None:
            self._head_timer = None
            door.forget(self)
            if not self.transport.is_closing():
                self.transport.close()

    FrontDoorProtocol.door = door
    return FrontDoorProtocol
