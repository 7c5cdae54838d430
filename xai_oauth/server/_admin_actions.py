"""What an operator can read and do to the running pool, once for both faces: the JSON management API
(``_admin``) and the console (``console``).

Each function takes the server's ``Admin`` and plain arguments, and answers
a dict (or nothing). A request the pool cannot take (a bad profile name, one
not in the pool, the last account) raises ``Refusal`` with its status; a
failure of ours or xAI's raises from the exception tree. Each face writes
those in its own shape: JSON for the API, a page with a message for the
console. So the two never disagree on what a sign-in answers or when an
account may leave.

A new sign-in's answers are built from ``SIGNIN_FIELDS`` only: never the
device code.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .._exceptions import ConfigError, XaiOAuthError
from ._guard import Refusal
from ._history import BY, DAY, HOUR

if TYPE_CHECKING:
    from ..auth._account import Account
    from ._admin_state import Admin

__all__ = [
    "SIGNIN_FIELDS",
    "account_rows",
    "history",
    "parse_since",
    "poll_signin",
    "read_usage",
    "recent_requests",
    "remove_account",
    "reset_cooldowns",
    "runs_out_at",
    "start_signin",
]

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
#: The most requests one listing shows.
MAX_RECENT = 1000


async def account_rows(admin: Admin, refresh: bool = False, now: float | None = None) -> list[dict[str, Any]]:
    """One row per account (``Admin.accounts``), with what it served, its last error, and when its period's
    usage runs out at this rate (``usage_runs_out_at``, epoch seconds; None when it lasts the period)."""
    rows = await asyncio.to_thread(admin.accounts, refresh)
    now = time.time() if now is None else now
    for row in rows:
        row["served"] = admin.ledger.served(row["profile"])
        row["last_error"] = admin.ledger.last_errors.get(row["profile"])
        row["usage_runs_out_at"] = runs_out_at(row.get("usage_percent"), row.get("usage_period"), now)
    return rows


def runs_out_at(percent: object, period: object, now: float) -> float | None:
    """When the period's meter reaches 100 % if it goes on as it went since the period began (epoch seconds).

    None when that is not before the period's end (it lasts), or when the
    reading cannot say (no percentage, no period, or nothing used yet).
    ``now`` itself when the meter is already full.
    """
    if not isinstance(percent, (int, float)) or isinstance(percent, bool) or not math.isfinite(percent):
        return None
    start, end = (_epoch(period.get(k)) if isinstance(period, Mapping) else None for k in ("start", "end"))
    if start is None or percent <= 0 or now <= start:
        return None
    if percent >= 100:
        return now
    at = start + (now - start) * 100.0 / percent
    return None if end is not None and at >= end else at


def _epoch(text: object) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


async def start_signin(admin: Admin, profile: object) -> tuple[bool, dict[str, Any]]:
    """Start a device sign-in for a new profile: (False, the link and code a person opens), or (True, the row)
    when the profile was already signed in here and joined the pool at once."""
    from .._config import Config
    from .._settings import PROFILE_RULE, check_profile
    from ..auth._account import Account

    try:
        name = check_profile(profile)  # type: ignore[arg-type]
    except ConfigError:
        raise Refusal(400, "invalid_request", f"profile must be {PROFILE_RULE}.") from None
    if admin.member(name) is not None:
        raise Refusal(409, "conflict", f"The profile {name} is already in the pool.")
    account = admin.signins.get(name) or Account(Config.from_env({**os.environ, "XAI_OAUTH_PROFILE": name}))
    if await asyncio.to_thread(account.signed_in):
        return True, _joined(admin, name, account, {"status": "connected"})
    started = await asyncio.to_thread(account.start)
    admin.signins[name] = account
    return False, {"profile": name, **_allowed(started)}


async def poll_signin(admin: Admin, profile: str) -> dict[str, Any]:
    """Ask once whether the person approved; when they did, the account joins the running pool."""
    account = admin.signins.get(profile)
    if account is None:
        raise Refusal(404, "not_found", f"No sign-in for {profile} was started here.")
    try:
        result = await asyncio.to_thread(account.poll)
    except XaiOAuthError as error:
        if error.code != "network":
            admin.signins.pop(profile, None)  # denied or expired: the code is spent
        raise
    if result.get("status") != "connected":
        return {"profile": profile, **_allowed(result)}
    return _joined(admin, profile, account, result)


def _joined(admin: Admin, profile: str, account: Account, result: dict[str, Any]) -> dict[str, Any]:
    from ._pool import member_for

    admin.signins.pop(profile, None)
    admin.pool.add(member_for(account, admin.http, admin.timeout, admin.pool.acceptance))
    return {"profile": profile, **_allowed(result), "pooled": True}


def _allowed(result: Mapping[str, Any]) -> dict[str, Any]:
    return {k: result[k] for k in SIGNIN_FIELDS if k in result}


async def remove_account(admin: Admin, profile: str) -> dict[str, Any]:
    """Sign the profile out (revoked at xAI, forgotten here) and take it out of the pool; or cancel its
    sign-in when one was started here and not finished."""
    pending = admin.signins.pop(profile, None)
    if pending is not None:
        await asyncio.to_thread(pending.cancel_login)
        return {"profile": profile, "status": "cancelled"}
    member = admin.member(profile)
    if member is None:
        raise Refusal(404, "not_found", f"The profile {profile} is not in the pool.")
    if len(admin.pool.members) == 1:
        raise Refusal(409, "conflict", "This is the pool's last account; stop the server, or add another first.")
    admin.pool.remove(profile)
    result = await asyncio.to_thread(member.upstream.account.logout)
    return {"profile": profile, "status": result.get("status"), "revoked": result.get("revoked")}


async def reset_cooldowns(admin: Admin, profile: str) -> None:
    """End every cooldown of the profile's account, here and in the home (other servers see it too)."""
    member = admin.member(profile)
    if member is None:
        raise Refusal(404, "not_found", f"The profile {profile} is not in the pool.")
    await asyncio.to_thread(admin.pool.cooldowns.clear, member.slot)


async def read_usage(admin: Admin, profile: str) -> dict[str, Any]:
    """Read the profile's usage meter from xAI again (``/billing``): its percentage, period and tier."""
    from ..api._client import Client

    member = admin.member(profile)
    if member is None:
        raise Refusal(404, "not_found", f"The profile {profile} is not in the pool.")
    reading = await asyncio.to_thread(Client(member.upstream.account).usage)
    keep = ("credit_usage_percent", "period", "tier_name")
    return {"profile": profile, **{k: reading[k] for k in keep if k in reading}}


def parse_since(text: str | None, now: float, default: float = DAY) -> float:
    """``24h``, ``7d``, ``90m`` or a number of seconds, as the epoch time that long before ``now``."""
    text = (text or "").strip().lower()
    if not text:
        return now - default
    units = {"m": 60, "h": HOUR, "d": DAY}
    scale = units.get(text[-1], 1)
    number = text[:-1] if text[-1] in units else text
    try:
        seconds = float(number) * scale
    except ValueError:
        raise Refusal(400, "invalid_request", f"since takes a span such as 24h, 7d or 90m, not {text!r}.") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise Refusal(400, "invalid_request", f"since takes a positive span such as 24h or 7d, not {text!r}.")
    return now - seconds


def history(admin: Admin, by: str | None, since: str | None, now: float | None = None) -> dict[str, Any]:
    """``GET /admin/history``: the hours since ``since`` (default 24 h), grouped ``by`` key, account or model."""
    now = time.time() if now is None else now
    by = by or "model"
    if by not in BY:
        raise Refusal(400, "invalid_request", f"by takes one of {', '.join(BY)}, not {by!r}.")
    start = parse_since(since, now)
    return {"by": by, "since": int(start), "hours": [asdict(r) for r in admin.history.hours(start, by)]}


def recent_requests(admin: Admin, query: Mapping[str, str]) -> dict[str, Any]:
    """``GET /admin/requests``: the latest requests, newest first, filtered by client, account, model or status."""
    limit_text = query.get("limit", "300")
    if not limit_text.isdigit() or not 0 < int(limit_text) <= MAX_RECENT:
        raise Refusal(400, "invalid_request", f"limit takes a whole number from 1 to {MAX_RECENT}.")
    filters = {k: v for k, v in query.items() if k != "limit"}
    try:
        rows = admin.history.recent(int(limit_text), **filters)
    except ValueError as error:
        raise Refusal(400, "invalid_request", str(error)) from None
    return {"requests": [asdict(r) for r in rows]}
