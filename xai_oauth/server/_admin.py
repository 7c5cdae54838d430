"""The pool's management API (``/admin/*``) and ``/metrics``: what each route answers, as JSON.

An operator lists the accounts (who, tier, usage, why one is out, what each
served, its last error), signs a new profile in (device flow: the link and
code, then a poll), signs one out, ends a cooldown, and reads usage per
client key and per account. Who may call is ``_admin_door``'s; what each
route reads or does is in ``_admin_actions``, which the console calls too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .._exceptions import RequestRejected, XaiOAuthError
from ..wire._openai_errors import openai_error_body
from . import _admin_actions as actions
from ._admin_door import METRICS_PATH
from ._admin_state import Admin
from ._bodies import read_json
from ._errors import problem_for
from ._guard import Refusal
from ._metrics import CONTENT_TYPE

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable


__all__ = ["admin_routes"]


def _admin(request: Request) -> Admin:
    return request.app.state.xai.admin  # type: ignore[no-any-return]


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(openai_error_body(status, message, code), status_code=status)


def _failed(error: XaiOAuthError) -> JSONResponse:
    problem = problem_for(error)
    return JSONResponse(
        openai_error_body(problem.status, problem.message, problem.code),
        status_code=problem.status,
        headers=problem.headers,
    )


async def _answered(action: Awaitable[dict[str, Any]], status: int = 200) -> JSONResponse:
    """``action``'s dict as JSON; its refusal or failure as the client's error."""
    try:
        return JSONResponse(await action, status_code=status)
    except Refusal as refusal:
        return _error(refusal.status, refusal.code, refusal.message)
    except XaiOAuthError as error:
        return _failed(error)


async def list_accounts(request: Request) -> Response:
    admin = _admin(request)
    refresh = request.query_params.get("refresh", "") in ("1", "true", "yes")
    rows = await actions.account_rows(admin, refresh)
    return JSONResponse({"accounts": rows, "signing_in": sorted(admin.signins), "strategy": admin.pool.strategy})


async def add_account(request: Request) -> Response:
    """Start a device sign-in for a new profile: the link and code a person opens; ``/poll`` finishes it."""
    try:
        body = await read_json(request)
    except RequestRejected as error:
        return _error(400, "invalid_request", f'{error.message} Send {{"profile": "NAME"}} as JSON.')
    try:
        joined, answer = await actions.start_signin(
            _admin(request), body.get("profile") if isinstance(body, dict) else None
        )
    except Refusal as refusal:
        return _error(refusal.status, refusal.code, refusal.message)
    except XaiOAuthError as error:
        return _failed(error)
    return JSONResponse(answer, status_code=200 if joined else 202)


async def poll_account(request: Request) -> Response:
    """Ask once whether the person approved; when they did, the account joins the running pool."""
    return await _answered(actions.poll_signin(_admin(request), request.path_params["profile"]))


async def remove_account(request: Request) -> Response:
    """Sign the profile out (revoked at xAI, forgotten here) and take it out of the pool."""
    return await _answered(actions.remove_account(_admin(request), request.path_params["profile"]))


async def reset_account(request: Request) -> Response:
    """End every cooldown of the profile's account, here and in the home (other servers see it too)."""
    profile = request.path_params["profile"]

    async def reset() -> dict[str, Any]:
        await actions.reset_cooldowns(_admin(request), profile)
        return {"profile": profile, "cooldowns": []}

    return await _answered(reset())


async def read_usage(request: Request) -> Response:
    """Read the profile's usage meter from xAI again."""
    return await _answered(actions.read_usage(_admin(request), request.path_params["profile"]))


async def history(request: Request) -> Response:
    """Requests, tokens and errors per hour, by key, account or model (``?by=model&since=24h``)."""
    query = request.query_params
    return _sync(lambda: actions.history(_admin(request), query.get("by"), query.get("since")))


async def requests(request: Request) -> Response:
    """The latest requests, newest first (``?limit=300&model=…&account=…&client=…&status=…``)."""
    return _sync(lambda: actions.recent_requests(_admin(request), dict(request.query_params)))


def _sync(read: Callable[[], dict[str, Any]]) -> JSONResponse:
    try:
        return JSONResponse(read())
    except Refusal as refusal:
        return _error(refusal.status, refusal.code, refusal.message)


async def usage(request: Request) -> Response:
    return JSONResponse(_admin(request).ledger.usage())


async def metrics(request: Request) -> Response:
    return Response(_admin(request).metrics.render(), media_type=CONTENT_TYPE)


def admin_routes() -> list[Route]:
    return [
        Route("/admin/accounts", list_accounts, methods=["GET"]),
        Route("/admin/accounts", add_account, methods=["POST"]),
        Route("/admin/accounts/{profile}/poll", poll_account, methods=["POST"]),
        Route("/admin/accounts/{profile}/reset", reset_account, methods=["POST"]),
        Route("/admin/accounts/{profile}/usage", read_usage, methods=["POST"]),
        Route("/admin/accounts/{profile}", remove_account, methods=["DELETE"]),
        Route("/admin/usage", usage, methods=["GET"]),
        Route("/admin/history", history, methods=["GET"]),
        Route("/admin/requests", requests, methods=["GET"]),
        Route(METRICS_PATH, metrics, methods=["GET"]),
    ]
