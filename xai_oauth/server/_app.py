"""The server's ASGI app: its settings, its state, its routes, and one access-log line per request.

``create_app`` is the factory a developer mounts in their own ASGI server
(and what ``xai-oauth serve`` runs on uvicorn). The app is Starlette's small
router with the front door (``Guard``) outside it, so no route can forget
the client key, the body cap or the body timeout; outside that, a client
that hangs up cancels its request in whatever phase it is
(``_departures``).

The access log says who asked for what and how it went (method, path,
status, model, seconds) and never a prompt, an answer, a key or a token.
It also hands each finished request's ``Note`` to the management API's
ledger and metrics (``_admin``, ``_ledger``, ``_metrics``).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..wire._anthropic_stream import error_body
from ..wire._openai_errors import openai_error_body
from . import _messages, _openai
from ._admin import admin_routes
from ._admin_door import AdminDoor
from ._admin_state import Admin
from ._departures import CLIENT_LEFT, DEPARTED, CancelOnDeparture
from ._guard import Guard, Message, Receive, Scope, Send
from ._keys import ClientKeys
from ._ledger import Note, current_note
from ._state import ServerState, ServeSettings
from .console import console_mount

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..auth._account import Account
    from ..transport._http import AsyncHttp

__all__ = ["ServeSettings", "ServerState", "create_app"]

_log = logging.getLogger("xai_oauth.server")


def create_app(
    settings: ServeSettings,
    account: Account | Sequence[Account] | None = None,
    *,
    http: AsyncHttp | None = None,
) -> Any:
    """The ASGI app: the OpenAI- and Anthropic-compatible endpoints for ``account`` (default: the profile in force).

    Several accounts (one per profile) make a pool (``_pool``). ``http`` lets
    tests hand in an ``AsyncHttp`` over a mock transport.
    """
    from ..auth._account import Account
    from ..transport._http import AsyncHttp
    from ._pool import build_pool

    accounts = [account] if isinstance(account, Account) else list(account or [Account()])
    client = http or AsyncHttp()
    pool = build_pool(accounts, client, settings.timeout, settings.strategy)
    state = ServerState(settings, pool, Admin(pool, client, settings.timeout))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await client.aclose()

    routes = [
        Route("/healthz", _healthz, methods=["GET"]),
        Route("/v1/models", _openai.list_models, methods=["GET"]),
        Route("/v1/chat/completions", _openai.chat_completions, methods=["POST"]),
        Route("/v1/responses", _openai.responses, methods=["POST"]),
        Route("/v1/messages", _messages.messages, methods=["POST"]),
        Route("/v1/messages/count_tokens", _messages.count_message_tokens, methods=["POST"]),
        Route("/v1/images/generations", _openai.media, methods=["POST"]),
        Route("/v1/images/edits", _openai.media, methods=["POST"]),
        Route("/v1/videos/generations", _openai.media, methods=["POST"]),
        Route("/v1/videos/{request_id}", _openai.media, methods=["GET"]),
        Route("/v1/{rest:path}", _openai.passthrough, methods=["GET", "POST", "DELETE", "PUT", "PATCH"]),
        *admin_routes(),
        console_mount(),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={404: _not_found, 405: _not_allowed})
    app.state.xai = state
    door = AdminDoor(settings.admin_keys or ClientKeys((), "none", True), settings.admin_from_anywhere)
    guarded = Guard(
        app,
        keys=settings.keys,
        refuse=refusal_body,
        max_body=settings.max_body,
        body_timeout=settings.body_timeout,
        admin=door,
    )
    return _AccessLog(CancelOnDeparture(guarded), state.admin)


def refusal_body(path: str, status: int, code: str, message: str) -> dict[str, Any]:
    """An error body in the format the path speaks: Anthropic's under /v1/messages, OpenAI's elsewhere."""
    if path.startswith("/v1/messages"):
        return error_body(status, message)
    return openai_error_body(status, message, code)


async def _healthz(request: Request) -> Response:
    """Up, and how many accounts can serve now (counts only: this path needs no key)."""
    admin = request.app.state.xai.admin
    accounts = len(admin.pool.members)
    return JSONResponse({"ok": True, "accounts": accounts, "ready": accounts - admin.cooling()})


async def _not_found(request: Request, exc: Exception) -> Response:
    message = f"{request.url.path} is not an endpoint of this server."
    return JSONResponse(refusal_body(request.url.path, 404, "not_found", message), status_code=404)


async def _not_allowed(request: Request, exc: Exception) -> Response:
    message = f"{request.method} is not allowed on {request.url.path}."
    return JSONResponse(refusal_body(request.url.path, 405, "method_not_allowed", message), status_code=405)


class _AccessLog:
    """One line per request, when its answer is done: never a body, a key or a token."""

    def __init__(self, app: Any, admin: Admin) -> None:
        self.app, self.admin = app, admin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0
        note = Note()
        token = current_note.set(note)

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            current_note.reset(token)
            if not status and scope.get(DEPARTED):
                status = CLIENT_LEFT
            seconds = time.perf_counter() - started
            self.admin.finish(scope, note, status, seconds)
            client = scope.get("client") or ("-", 0)
            _log.info(
                "method=%s path=%s status=%s seconds=%.3f peer=%s",
                scope.get("method"),
                scope.get("path"),
                status or "-",
                seconds,
                client[0],
            )
