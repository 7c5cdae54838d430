"""The server's front door, as plain ASGI: who may call, how big a body may be, and how long it may take to arrive.

It sits outside the routes, so no handler can forget it. It reads the whole
body itself before any route runs, counting the bytes and timing the reads,
and hands the route the body as one message: every route takes JSON whole
anyway, and a refusal found while reading is answered here, where nothing
has been sent yet, instead of surfacing as an exception inside a route
(where the framework's error handler would answer it with a bare 500).
uvicorn has no timeout for receiving a request body (its keep-alive timeout
covers only idle connections), so a client that opens a request and drips
its body would otherwise hold a worker slot for ever. (The request head has
its own deadline, one level down: ``_front_door``.)

A refusal is written in the caller's own wire format (``refuse`` decides the
shape by path), with the status a client library expects: 401 without a
valid key, 413 for a body over the cap, 408 for a body that is too slow.
After a 413 or 408 the connection is closed, rather than kept open to drain
the rest of a body that is too big or too slow.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any, Protocol

from ._keys import ClientKeys, presented_key
from ._streaming import by_loop_time

__all__ = ["OPEN_PATHS", "Door", "Guard", "Refusal"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
#: (path, status, code, message) -> the body a client of that path understands
Refuse = Callable[[str, int, str, str], dict[str, Any]]

#: Paths any local caller may read without a key: they say nothing about the account.
OPEN_PATHS = frozenset({"/healthz"})


class Refusal(Exception):
    """Why the front door turns a request away: the status, our code and the words the client shows."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Door(Protocol):
    """A door the guard hands some paths to instead of the client key (the management API's: ``_admin_door``)."""

    def covers(self, path: str) -> bool: ...

    def refusal(self, scope: Scope, headers: Mapping[str, str]) -> Refusal | None: ...


class Guard:
    """Checks the client key, reads the body within its cap and its timeout, then hands both on to ``app``.

    Paths the ``admin`` door covers (``/admin/*``, ``/metrics``) need the admin key and a caller it accepts
    instead of a client key (see ``_admin``).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        keys: ClientKeys,
        refuse: Refuse,
        max_body: int,
        body_timeout: float,
        open_paths: frozenset[str] = OPEN_PATHS,
        admin: Door | None = None,
    ) -> None:
        self.app, self.keys, self.refuse, self.admin = app, keys, refuse, admin
        self.max_body, self.body_timeout, self.open_paths = max_body, body_timeout, open_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}
        barred: Refusal | None = None
        if self.admin is not None and self.admin.covers(path):  # the admin key, never a client key
            barred = self.admin.refusal(scope, headers)
        elif path not in self.open_paths and not self.keys.allows(presented_key(headers)):
            barred = Refusal(401, "invalid_api_key", _NO_KEY)
        if barred is not None:
            await self._answer(send, path, barred)
            return
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            await self._answer(send, path, _too_large(self.max_body))
            return
        try:
            body = await self._whole_body(receive)
        except Refusal as refusal:
            await self._answer(send, path, refusal)
            return
        if body is not None:  # None: the client left before its body was in, and nobody is left to answer
            await self.app(scope, _replayed(body, receive), send)

    async def _whole_body(self, receive: Receive) -> bytes | None:
        """The request body, once it is all in: a ``Refusal`` when it grows over the cap or is slower than the
        timeout, None when the client leaves first."""
        deadline = asyncio.get_running_loop().time() + self.body_timeout
        chunks: list[bytes] = []
        received = 0
        while True:
            try:
                message = await by_loop_time(deadline, receive())
            except asyncio.TimeoutError:
                raise Refusal(408, "request_timeout", _TOO_SLOW.format(self.body_timeout)) from None
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_body:
                raise _too_large(self.max_body)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _answer(self, send: Send, path: str, refusal: Refusal) -> None:
        body = json.dumps(self.refuse(path, refusal.status, refusal.code, refusal.message)).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if refusal.status == 401:
            headers.append((b"www-authenticate", b'Bearer realm="xai-oauth"'))
        if refusal.status in (408, 413):  # not kept open to drain what is left of that body
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _replayed(body: bytes, receive: Receive) -> Receive:
    """``receive`` for the app: the whole body as one message, then the connection's own (a disconnect)."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


_NO_KEY = (
    "This xai-oauth server needs its client key: send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'. "
    "The key was printed when the server started (xai-oauth serve), and is not an xAI key."
)
_TOO_SLOW = "The request body did not arrive within {:g} s."


def _too_large(limit: int) -> Refusal:
    return Refusal(413, "request_too_large", f"The request body is over this server's limit of {limit} bytes.")
