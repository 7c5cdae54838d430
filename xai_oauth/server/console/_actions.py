"""The console's changes (POST): log in and out, add an account by device sign-in, wait for its approval,
end a cooldown, read usage again, sign an account out of the pool.

Every change needs the session's CSRF token (a form field, or the
``X-CSRF-Token`` header from the console's script), and is refused with 403
without it; ``_door`` has already refused other sites' POSTs. The work
itself is ``_admin_actions``'s, the same the JSON management API does; here
its answer becomes a message on the next page (Post/Redirect/Get), or JSON
for the script that waits for a sign-in.

Logging in compares the admin key in constant time and then starts a new
session (a fresh id: a session id planted before login opens nothing).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from ..._exceptions import XaiOAuthError
from .. import _admin_actions as actions
from .._errors import problem_for
from .._guard import Refusal
from ._pages import page, signed_in
from ._sessions import COOKIE, Session, csrf_ok, set_cookie

if TYPE_CHECKING:
    from .._admin_state import Admin
    from . import Console

__all__ = ["add_account", "login", "logout", "poll", "remove", "reset", "usage"]

#: The largest form the console takes, in bytes (a profile name and a token).
MAX_FORM = 4096
ACCOUNTS = "/console/accounts"


async def form_of(request: Request) -> dict[str, str]:
    """The urlencoded form (first value of each field); empty for any other body."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return {}
    body = await request.body()
    if len(body) > MAX_FORM:
        return {}
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}


def _admin(request: Request) -> Admin:
    return request.app.state.xai.admin  # type: ignore[no-any-return]


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


async def _checked(console: Console, request: Request) -> tuple[Session | None, dict[str, str], Response | None]:
    """The session and form of a change, or the refusal: no session (401), no CSRF token or a wrong one (403)."""
    form = await form_of(request)
    session = signed_in(console, request)
    if session is None:
        return None, form, PlainTextResponse("Log in to the console first.", status_code=401)
    if not csrf_ok(session, form.get("csrf") or request.headers.get("x-csrf-token")):
        return None, form, PlainTextResponse(_NO_CSRF, status_code=403)
    return session, form, None


async def login(console: Console, request: Request) -> Response:
    form = await form_of(request)
    if not console.sessions.login_token_ok(form.get("login_token")):
        return PlainTextResponse(_NO_CSRF, status_code=403)
    keys = request.app.state.xai.settings.admin_keys
    if keys is None or not keys.allows(form.get("admin_key", "").strip()):
        context = {"nav": "", "login_token": console.sessions.login_token(), "status_code": 401}
        return page(console, request, None, "login.html", error=_WRONG_KEY, **context)
    console.sessions.close(request.cookies.get(COOKIE))
    cookie, _ = console.sessions.open()
    response = RedirectResponse("/console/", status_code=303)
    response.headers["set-cookie"] = set_cookie(cookie, max_age=int(console.sessions.lifetime), secure=_secure(request))
    return response


async def logout(console: Console, request: Request) -> Response:
    if signed_in(console, request) is not None:
        _, _, refused = await _checked(console, request)
        if refused is not None:
            return refused  # a page of another site may not log the person out either
    console.sessions.close(request.cookies.get(COOKIE))
    response = RedirectResponse("/console/login", status_code=303)
    response.headers["set-cookie"] = set_cookie("", max_age=0, secure=_secure(request))
    return response


async def _done(
    console: Console, request: Request, work: Callable[[Session, dict[str, str]], Awaitable[str]], back: str
) -> Response:
    """Run a change and say how it went on the next page (``back``)."""
    session, form, refused = await _checked(console, request)
    if refused is not None or session is None:
        return refused or PlainTextResponse("Log in to the console first.", status_code=401)
    try:
        session.say("ok", await work(session, form))
    except Refusal as refusal:
        session.say("error", refusal.message)
    except XaiOAuthError as error:
        session.say("error", problem_for(error).message)
    return RedirectResponse(back, status_code=303)


async def add_account(console: Console, request: Request) -> Response:
    """Start a device sign-in for a new profile, then show its QR code and link."""
    session, form, refused = await _checked(console, request)
    if refused is not None or session is None:
        return refused or PlainTextResponse("Log in to the console first.", status_code=401)
    try:
        joined, answer = await actions.start_signin(_admin(request), form.get("profile", "").strip())
    except Refusal as refusal:
        session.say("error", refusal.message)
        return RedirectResponse(ACCOUNTS, status_code=303)
    except XaiOAuthError as error:
        session.say("error", problem_for(error).message)
        return RedirectResponse(ACCOUNTS, status_code=303)
    profile = answer["profile"]
    if joined:
        session.say("ok", f"{profile} was already signed in here, and joined the pool.")
        return RedirectResponse(ACCOUNTS, status_code=303)
    expires_in = answer.get("expires_in")
    expires_at = time.time() + expires_in if isinstance(expires_in, (int, float)) else None
    console.signins[profile] = {**answer, "expires_at": expires_at}
    return RedirectResponse(f"{ACCOUNTS}/{profile}/signin", status_code=303)


async def poll(console: Console, request: Request) -> Response:
    """Ask once whether the person approved: JSON for the waiting page's script, else back to a page."""
    session, _, refused = await _checked(console, request)
    if refused is not None or session is None:
        return refused or PlainTextResponse("Log in to the console first.", status_code=401)
    profile = request.path_params["profile"]
    outcome: dict[str, Any]
    try:
        result = await actions.poll_signin(_admin(request), profile)
    except (Refusal, XaiOAuthError) as error:
        if isinstance(error, Refusal) and _admin(request).member(profile) is not None:
            # another tab's poll saw the approval first: the sign-in is done, not failed
            outcome = {"status": "connected", "message": f"{profile} is in the pool.", "next": ACCOUNTS}
        else:
            message = error.message if isinstance(error, Refusal) else problem_for(error).message
            outcome = {"status": "failed", "message": message, "next": ACCOUNTS}
        if profile not in _admin(request).signins:  # denied or expired: the link is spent
            console.signins.pop(profile, None)
    else:
        status = str(result.get("status", "pending"))
        if result.get("pooled"):
            console.signins.pop(profile, None)
            who = result.get("account") or profile
            outcome = {"status": "connected", "message": f"{who} signed in and joined the pool as {profile}."}
            outcome["next"] = ACCOUNTS
        else:
            wait = result.get("interval") or result.get("retry_after")
            outcome = {"status": status, "message": "Waiting for the approval…", "interval": wait}
    if outcome["status"] in ("connected", "failed"):
        session.say("ok" if outcome["status"] == "connected" else "error", outcome["message"])
    if _wants_json(request):
        return JSONResponse(outcome)
    if outcome["status"] not in ("connected", "failed"):
        session.say("ok", "Not approved yet: open the link, approve, then check again.")
        return RedirectResponse(f"{ACCOUNTS}/{profile}/signin", status_code=303)
    return RedirectResponse(ACCOUNTS, status_code=303)


async def reset(console: Console, request: Request) -> Response:
    profile = request.path_params["profile"]

    async def work(session: Session, form: dict[str, str]) -> str:
        await actions.reset_cooldowns(_admin(request), profile)
        return f"The cooldowns of {profile} are over: it serves again."

    return await _done(console, request, work, ACCOUNTS)


async def usage(console: Console, request: Request) -> Response:
    profile = request.path_params["profile"]

    async def work(session: Session, form: dict[str, str]) -> str:
        reading = await actions.read_usage(_admin(request), profile)
        percent = reading.get("credit_usage_percent")
        shown = f"{percent:g} %" if isinstance(percent, (int, float)) else "no percentage"
        return f"Usage of {profile} read again from xAI: {shown} of the period."

    return await _done(console, request, work, ACCOUNTS)


async def remove(console: Console, request: Request) -> Response:
    profile = request.path_params["profile"]

    async def work(session: Session, form: dict[str, str]) -> str:
        result = await actions.remove_account(_admin(request), profile)
        console.signins.pop(profile, None)
        if result.get("status") == "cancelled":
            return f"The sign-in for {profile} was cancelled."
        revoked = "revoked at xAI" if result.get("revoked") else "forgotten here (xAI did not confirm the revocation)"
        return f"{profile} was signed out ({revoked}) and taken out of the pool."

    return await _done(console, request, work, ACCOUNTS)


_NO_CSRF = (
    "This change came without the console's token: reload the console's page and try again. "
    "(A page of another site cannot make changes here.)"
)
_WRONG_KEY = "That is not the admin key. It is kept in <home>/admin-key, or was given as --admin-key."
