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

Answers carry profile names, e-mail addresses, tiers, counts, reasons and
scrubbed messages; never a token, a key or a device code (a new sign-in's
answer is built from a list of allowed fields).
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .._exceptions import ConfigError, RequestRejected, XaiOAuthError
from ..wire._openai_errors import openai_error_body
from ._bodies import read_json
from ._errors import problem_for
from ._guard import Refusal, Scope
from ._keys import ClientKeys, checked_keys, home_key, presented_key
from ._ledger import Ledger, Note, fingerprint
from ._metrics import CONTENT_TYPE, Metrics

if TYPE_CHECKING:
    from ..auth._account import Account
    from ..transport._http import AsyncHttp
    from ._pool import Member, Pool

__all__ = ["ADMIN_KEY_FILE", "Admin", "AdminDoor", "admin_routes", "is_loopback_peer", "load_admin_key"]

ADMIN_KEY_FILE = "admin-key"
ENV_ADMIN_KEY = "XAI_OAUTH_ADMIN_KEY"
METRICS_PATH = "/metrics"
#: What a new sign-in's answers may show (never the device code).
SIGNIN_FIELDS = (
    "status",
    "verification_url_with_code",
    "verification_url",
    "user_code",
    "expires_in",
    "interval",
    "retry_after",
    "account",
    "tier_name",
)


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
        return path == METRICS_PATH or path == "/admin" or path.startswith("/admin/")

    def refusal(self, scope: Scope, headers: Mapping[str, str]) -> Refusal | None:
        """Why this caller may not pass, or None."""
        if not self.from_anywhere and not is_loopback_peer(scope.get("client")):
            return Refusal(403, "forbidden", _NOT_LOCAL)
        if not self.keys.allows(presented_key(headers)):
            return Refusal(401, "invalid_api_key", _NO_ADMIN_KEY)
        return None


class Admin:
    """What the management API keeps: the ledger, the metrics, and the sign-ins it started (by profile)."""

    def __init__(self, pool: Pool, http: AsyncHttp, timeout: float | None) -> None:
        self.pool, self.http, self.timeout = pool, http, timeout
        self.ledger = Ledger()
        self.metrics = Metrics(cooling=self.cooling)
        self.signins: dict[str, Account] = {}

    def cooling(self) -> int:
        """How many of the pool's accounts are out for every model now."""
        out = {c.slot for c in self.pool.cooldowns.active() if c.model is None}
        return sum(1 for m in self.pool.members if m.slot in out)

    def finish(self, scope: Scope, note: Note, status: int) -> None:
        """Count one client request, when its answer is done (the access log calls this)."""
        path = str(scope.get("path", ""))
        if not path.startswith("/v1/") or status in (401, 403):
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}
        key = presented_key(headers)
        self.ledger.record(note, fingerprint(key) if key else None)
        self.metrics.record(note, status)

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
                if refresh:
                    from ..api._client import Client

                    row.update(usage_percent=Client(account).usage().get("credit_usage_percent"), usage_age_seconds=0)
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


async def list_accounts(request: Request) -> Response:
    admin = _admin(request)
    refresh = request.query_params.get("refresh", "") in ("1", "true", "yes")
    rows = await asyncio.to_thread(admin.accounts, refresh)
    for row in rows:
        row["served"] = admin.ledger.served(row["profile"])
        row["last_error"] = admin.ledger.last_errors.get(row["profile"])
    return JSONResponse({"accounts": rows, "signing_in": sorted(admin.signins), "strategy": admin.pool.strategy})


async def add_account(request: Request) -> Response:
    """Start a device sign-in for a new profile: the link and code a person opens; ``/poll`` finishes it."""
    from .._config import Config
    from .._settings import PROFILE_RULE, check_profile
    from ..auth._account import Account

    admin = _admin(request)
    try:
        body = await read_json(request)
        profile = check_profile(body.get("profile"))  # type: ignore[arg-type]
    except RequestRejected as error:
        return _error(400, "invalid_request", f'{error.message} Send {{"profile": "NAME"}} as JSON.')
    except ConfigError:
        return _error(400, "invalid_request", f"profile must be {PROFILE_RULE}.")
    if admin.member(profile) is not None:
        return _error(409, "conflict", f"The profile {profile} is already in the pool.")
    account = admin.signins.get(profile) or Account(Config.from_env({**os.environ, "XAI_OAUTH_PROFILE": profile}))
    try:
        if await asyncio.to_thread(account.signed_in):
            return JSONResponse(_joined(admin, profile, account, {"status": "connected"}))
        started = await asyncio.to_thread(account.start)
    except XaiOAuthError as error:
        return _failed(error)
    admin.signins[profile] = account
    return JSONResponse({"profile": profile, **_allowed(started)}, status_code=202)


async def poll_account(request: Request) -> Response:
    """Ask once whether the person approved; when they did, the account joins the running pool."""
    admin = _admin(request)
    profile = request.path_params["profile"]
    account = admin.signins.get(profile)
    if account is None:
        return _error(404, "not_found", f"No sign-in for {profile} was started here (POST /admin/accounts).")
    try:
        result = await asyncio.to_thread(account.poll)
    except XaiOAuthError as error:
        if error.code != "network":
            admin.signins.pop(profile, None)  # denied or expired: the code is spent
        return _failed(error)
    if result.get("status") != "connected":
        return JSONResponse({"profile": profile, **_allowed(result)})
    return JSONResponse(_joined(admin, profile, account, result))


def _joined(admin: Admin, profile: str, account: Account, result: dict[str, Any]) -> dict[str, Any]:
    from ._pool import member_for

    admin.signins.pop(profile, None)
    admin.pool.add(member_for(account, admin.http, admin.timeout, admin.pool.acceptance))
    return {"profile": profile, **_allowed(result), "pooled": True}


def _allowed(result: Mapping[str, Any]) -> dict[str, Any]:
    return {k: result[k] for k in SIGNIN_FIELDS if k in result}


async def remove_account(request: Request) -> Response:
    """Sign the profile out (revoked at xAI, forgotten here) and take it out of the pool."""
    admin = _admin(request)
    profile = request.path_params["profile"]
    pending = admin.signins.pop(profile, None)
    if pending is not None:
        await asyncio.to_thread(pending.cancel_login)
        return JSONResponse({"profile": profile, "status": "cancelled"})
    member = admin.member(profile)
    if member is None:
        return _error(404, "not_found", f"The profile {profile} is not in the pool.")
    if len(admin.pool.members) == 1:
        return _error(409, "conflict", "This is the pool's last account; stop the server, or add another first.")
    admin.pool.remove(profile)
    try:
        result = await asyncio.to_thread(member.upstream.account.logout)
    except XaiOAuthError as error:
        return _failed(error)
    return JSONResponse({"profile": profile, "status": result.get("status"), "revoked": result.get("revoked")})


async def reset_account(request: Request) -> Response:
    """End every cooldown of the profile's account, here and in the home (other servers see it too)."""
    admin = _admin(request)
    profile = request.path_params["profile"]
    member = admin.member(profile)
    if member is None:
        return _error(404, "not_found", f"The profile {profile} is not in the pool.")
    try:
        await asyncio.to_thread(admin.pool.cooldowns.clear, member.slot)
    except XaiOAuthError as error:
        return _failed(error)
    return JSONResponse({"profile": profile, "cooldowns": []})


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
        Route("/admin/accounts/{profile}", remove_account, methods=["DELETE"]),
        Route("/admin/usage", usage, methods=["GET"]),
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
