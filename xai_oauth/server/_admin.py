"""The pool's management API (``/admin/*``) and ``/metrics``: who may use them, and what they answer.

An operator lists the accounts (who, tier, usage, why one is out, what each
served, its last error), signs a new profile in (device flow: the link and
code, then a poll), signs one out, ends a cooldown, and reads usage per
client key and per account.

Who may call (``AdminDoor``, checked by the front door before any route):
* **only callers on loopback**, read from the connection's peer address
  (behind proxies the operator names with ``--forwarded-allow-ips``, the
  client they name), even when the server binds another address; ``--admin-from-anywhere``
  lifts this for an operator who puts the server behind their own network
  controls;
* **with the admin key**, which is apart from the client keys: a client
  key does not open ``/admin``, and the admin key does not open the client
  endpoints (unless the operator also made it a client key). It comes from
  ``--admin-key``, else ``XAI_OAUTH_ADMIN_KEY``, else ``<home>/admin-key``
  (made once, 0600, as ``_keys`` makes the client key).
* The admin key is never printed, not even when it is made here: it can
  sign accounts out, and a banner ends up in logs and scrollback. The banner
  names its file, and ``xai-oauth pool`` reads the file itself.
* ``/metrics`` is behind the same door: it names the pool's accounts.
* ``/console`` (the operator's pages, ``console``) is behind the same door
  for where the caller may be; the admin key opens it once, on its login
  page, and a session cookie carries the login from there.

What each route reads or does is in ``_admin_actions``, which the console
calls too; here each answer is written as JSON.

Answers carry profile names, e-mail addresses, tiers, counts, reasons and
scrubbed messages; never a token, a key or a device code (a new sign-in's
answer is built from a list of allowed fields).
"""

from __future__ import annotations

import ipaddress
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .._exceptions import RequestRejected, XaiOAuthError
from ..wire._openai_errors import openai_error_body
from . import _admin_actions as actions
from ._bodies import read_json
from ._errors import problem_for
from ._guard import Refusal, Scope
from ._history import History
from ._keys import ClientKeys, checked_keys, home_key, presented_key
from ._ledger import Ledger, Note, fingerprint
from ._metrics import CONTENT_TYPE, Metrics

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ..auth._account import Account
    from ..transport._http import AsyncHttp
    from ._pool import Member, Pool

__all__ = ["ADMIN_KEY_FILE", "Admin", "AdminDoor", "admin_routes", "is_loopback_peer", "load_admin_key"]

ADMIN_KEY_FILE = "admin-key"
ENV_ADMIN_KEY = "XAI_OAUTH_ADMIN_KEY"
METRICS_PATH = "/metrics"
CONSOLE_PATH = "/console"


def load_admin_key(home: str, explicit: str | None = None, environ: Mapping[str, str] | None = None) -> ClientKeys:
    """The admin key: ``explicit`` (--admin-key), else ``XAI_OAUTH_ADMIN_KEY``, else ``<home>/admin-key``."""
    environ = os.environ if environ is None else environ
    for key, where in ((explicit or "", "--admin-key"), (environ.get(ENV_ADMIN_KEY, ""), ENV_ADMIN_KEY)):
        if key.strip():
            return ClientKeys(tuple(checked_keys([key.strip()], where)), where, True)
    return ClientKeys((home_key(home, ADMIN_KEY_FILE),), os.path.join(home, ADMIN_KEY_FILE), False)


def is_loopback_peer(client: Any) -> bool:
    """True when the ASGI ``client`` (host, port) is this machine (127.0.0.0/8, ::1, or IPv4-mapped loopback)."""
    if not client:
        return False
    try:
        address = ipaddress.ip_address(str(client[0]))
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))


@dataclass(frozen=True)
class AdminDoor:
    """Who may reach ``/admin/*`` and ``/metrics``: loopback peers (unless ``from_anywhere``) with the admin key."""

    keys: ClientKeys
    from_anywhere: bool = False

    @staticmethod
    def covers(path: str) -> bool:
        return path == METRICS_PATH or any(path == p or path.startswith(p + "/") for p in ("/admin", CONSOLE_PATH))

    def refusal(self, scope: Scope, headers: Mapping[str, str]) -> Refusal | None:
        """Why this caller may not pass, or None. The console checks its own login (a session cookie)."""
        if not self.from_anywhere and not is_loopback_peer(scope.get("client")):
            return Refusal(403, "forbidden", _NOT_LOCAL)
        path = str(scope.get("path", ""))
        if path == CONSOLE_PATH or path.startswith(CONSOLE_PATH + "/"):
            return None
        if not self.keys.allows(presented_key(headers)):
            return Refusal(401, "invalid_api_key", _NO_ADMIN_KEY)
        return None


class Admin:
    """What the management API keeps: the ledger, the metrics, and the sign-ins it started (by profile)."""

    def __init__(self, pool: Pool, http: AsyncHttp, timeout: float | None, history: History | None = None) -> None:
        self.pool, self.http, self.timeout = pool, http, timeout
        self.ledger = Ledger()
        self.history = history or History()
        self.metrics = Metrics(cooling=self.cooling)
        self.signins: dict[str, Account] = {}

    def cooling(self) -> int:
        """How many of the pool's accounts are out for every model now."""
        out = {c.slot for c in self.pool.cooldowns.active() if c.model is None}
        return sum(1 for m in self.pool.members if m.slot in out)

    def finish(self, scope: Scope, note: Note, status: int, seconds: float = 0.0) -> None:
        """Count one client request, when its answer is done (the access log calls this)."""
        path = str(scope.get("path", ""))
        if not path.startswith("/v1/") or status in (401, 403):
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}
        key = presented_key(headers)
        client = fingerprint(key) if key else None
        self.ledger.record(note, client)
        self.metrics.record(note, status)
        self.history.record(time.time(), client, note, status, seconds)

    def member(self, profile: str) -> Member | None:
        return next((m for m in self.pool.members if m.profile == profile), None)

    def accounts(self, refresh: bool) -> list[dict[str, Any]]:
        """One row per account of the pool (runs in a worker thread: it reads files, and /billing on ``refresh``)."""
        rows = []
        for member in list(self.pool.members):
            account = member.upstream.account
            row: dict[str, Any] = {"profile": member.profile}
            try:
                status = account.status()
                row.update(account=status.get("account"), state=status.get("state"), tier=status.get("tier_name"))
                usage = status.get("usage") or {}
                row.update(usage_percent=usage.get("credit_usage_percent"), usage_age_seconds=usage.get("age_seconds"))
                row.update(usage_period=usage.get("period") or None)
                if refresh:
                    from ..api._client import Client

                    reading = Client(account).usage()
                    row.update(usage_percent=reading.get("credit_usage_percent"), usage_age_seconds=0)
                    row.update(usage_period=reading.get("period") or None)
            except XaiOAuthError as error:
                row["error"] = {"code": error.code, "message": problem_for(error).message}
            row["cooldowns"] = [_shown(asdict(c)) for c in self.pool.cooldowns.active() if c.slot == member.slot]
            damaged = self.pool.cooldowns.problem  # the file's trouble: which accounts are out is known here only
            if damaged is not None:
                row["cooldowns_problem"] = {"code": damaged.code, "message": damaged.message}
            rows.append(row)
        return rows


def _shown(cooldown: dict[str, Any]) -> dict[str, Any]:
    cooldown.pop("slot", None)
    return {k: v for k, v in cooldown.items() if v not in (None, "")}


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


_NOT_LOCAL = (
    "The management API answers only on this machine (loopback). Run the request here, "
    "or start the server with --admin-from-anywhere behind your own network controls."
)
_NO_ADMIN_KEY = (
    "The management API needs the admin key: send it as 'Authorization: Bearer <key>'. It is kept in "
    "<home>/admin-key (or was given as --admin-key / XAI_OAUTH_ADMIN_KEY); a client key does not open it."
)
