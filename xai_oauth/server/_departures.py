"""Has the client left? Its request's work is cancelled as soon as it hangs up, in every phase of the answer.

uvicorn tells an app that its client hung up only through ``receive()``
(``http.disconnect``), and only an app that asks hears it. Starlette asks
while it writes a stream, but nobody asked while an endpoint waited for the
upstream's first event or folded a whole answer: a client that left then
kept its upstream request running to its end (a minute, for a long answer).

``CancelOnDeparture`` asks for every request, from the moment its body has
been read (at once for a request without one), in a small task beside the
request's own, and when the client leaves before the answer is complete it
cancels the request's task. The cancellation closes the upstream request
where it is opened (``Upstream``'s ``async with``), on the event loop's next
turn. The request itself runs in its own task as before, so an answer that
completes costs no extra hop. It sits outside the front door (``Guard``),
which never reads a body itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._guard import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CLIENT_LEFT", "DEPARTED", "CancelOnDeparture"]

#: Set in the scope when the request was cancelled because its client left before any answer.
DEPARTED = "xai_oauth.departed"
#: The status the access log and metrics give such a request (nginx's "client closed request").
CLIENT_LEFT = 499


class CancelOnDeparture:
    """Runs ``app`` for each HTTP request, cancelled when the client hangs up before the answer is complete."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        body_read: asyncio.Future[None] = loop.create_future()
        early: list[Message] = []
        complete = False
        if not _has_body(scope):  # its empty body is there at once: read it here, so the watch can begin
            early.append(await receive())
            body_read.set_result(None)

        async def receiving() -> Message:
            if early:
                return early.pop()
            message = await receive()
            if not body_read.done() and not (message["type"] == "http.request" and message.get("more_body")):
                body_read.set_result(None)
            return message

        async def sending(message: Message) -> None:
            nonlocal complete
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                complete = True  # before the send: a disconnect seen after it is the connection's normal end
            await send(message)

        task = asyncio.current_task()
        departed = False

        async def watch() -> None:
            nonlocal departed
            await body_read
            while (await receive())["type"] != "http.disconnect":
                pass
            if not complete and task is not None:
                departed = scope[DEPARTED] = True
                task.cancel()

        watcher = loop.create_task(watch())
        try:
            await self.app(scope, receiving, sending)
        except asyncio.CancelledError:
            if not departed:
                raise
            _uncancel(task)
        else:
            if departed:  # the client left as the app ended: the cancel is taken here, not by uvicorn's next await
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.sleep(0)
                _uncancel(task)
        finally:
            watcher.cancel()


def _uncancel(task: asyncio.Task[object] | None) -> None:
    """Take back the cancel this module asked for (Python 3.11 counts them; 3.10 has nothing to take back)."""
    uncancel = getattr(task, "uncancel", None)
    if uncancel is not None:
        uncancel()


def _has_body(scope: Scope) -> bool:
    """Whether the request's head announces a body (a length above zero, or a transfer coding)."""
    for name, value in scope.get("headers", ()):
        name = name.lower()
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() not in (b"", b"0")):
            return True
    return False
