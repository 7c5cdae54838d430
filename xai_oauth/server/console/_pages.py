"""The console's pages (GET): overview, accounts, one sign-in, requests, settings, and the login form.

Each page reads what the management API reads (``_admin_actions``, the
server's ``History``), turns it into plain values (``_views``) and draws a
template. A page changes nothing. Without a session, every page but the
login sends the browser to the login form.

No page shows a token, a key, a device code, a prompt or an answer: the
rows they draw from carry none (``tests/test_console_browser.py`` scans
every page for them).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .. import _admin_actions as actions
from ._sessions import COOKIE, Session
from ._views import GROUPINGS, SPANS, account_card, choices, traffic

if TYPE_CHECKING:
    from ..._config import Config
    from .._admin_state import Admin
    from . import Console

__all__ = ["accounts", "login", "overview", "page", "requests", "settings", "signed_in", "signin"]

#: What ``page`` gives every template.
_EVERY_PAGE = frozenset({"csrf", "signed_in", "flash", "version", "now"})
#: The most requests the Requests page lists.
REQUESTS_SHOWN = 300


def _admin(request: Request) -> Admin:
    return request.app.state.xai.admin  # type: ignore[no-any-return]


def signed_in(console: Console, request: Request) -> Session | None:
    return console.sessions.find(request.cookies.get(COOKIE))


def to_login() -> Response:
    return RedirectResponse("/console/login", status_code=303)


def page(console: Console, request: Request, session: Session | None, name: str, **context: Any) -> Response:
    """Draw ``name`` with what every page shows: the CSRF token, the navigation, the messages kept for it."""
    clash = set(context) & _EVERY_PAGE
    if clash:
        raise ValueError(f"A page's own values may not be named {', '.join(sorted(clash))}: every page sets them.")
    context.update(
        csrf=session.csrf if session else "",
        signed_in=session is not None,
        flash=session.said() if session else [],
        version=console.version,
        now=time.time(),
    )
    context.setdefault("status_code", 200)
    status = context.pop("status_code")
    response = console.templates.TemplateResponse(request, name, context, status_code=status)
    response.headers["cache-control"] = "no-store"
    return response


async def login(console: Console, request: Request) -> Response:
    if signed_in(console, request) is not None:
        return RedirectResponse("/console/", status_code=303)
    return page(console, request, None, "login.html", nav="", login_token=console.sessions.login_token(), error="")


async def overview(console: Console, request: Request) -> Response:
    session = signed_in(console, request)
    if session is None:
        return to_login()
    admin = _admin(request)
    now = time.time()
    rows = await actions.account_rows(admin, now=now)
    span, by = request.query_params.get("span", "24h"), request.query_params.get("by", "model")
    return page(
        console,
        request,
        session,
        "overview.html",
        nav="overview",
        cards=[account_card(r, now) for r in rows],
        traffic=traffic(admin.history, span, by, now),
        spans=list(SPANS),
        groupings=GROUPINGS,
    )


async def accounts(console: Console, request: Request) -> Response:
    session = signed_in(console, request)
    if session is None:
        return to_login()
    admin = _admin(request)
    now = time.time()
    rows = await actions.account_rows(admin, now=now)
    return page(
        console,
        request,
        session,
        "accounts.html",
        nav="accounts",
        cards=[account_card(r, now) for r in rows],
        pending=sorted(admin.signins),
        strategy=admin.pool.strategy,
    )


async def signin(console: Console, request: Request) -> Response:
    """A sign-in started here: the QR code and the link for the person's phone, then waiting for approval."""
    import segno

    session = signed_in(console, request)
    if session is None:
        return to_login()
    profile = request.path_params["profile"]
    started = console.signins.get(profile)
    if started is None or profile not in _admin(request).signins:
        session.say("error", f"No sign-in for {profile} is waiting here; start one on this page.")
        return RedirectResponse("/console/accounts", status_code=303)
    link = str(started.get("verification_url_with_code") or started.get("verification_url") or "")
    qr = segno.make(link, error="m").svg_inline(
        scale=4, border=2, omitsize=True, svgclass="qr-code", lineclass="qr-line", dark="#111", light="#fff"
    )
    return page(
        console,
        request,
        session,
        "signin.html",
        nav="accounts",
        profile=profile,
        link=link,
        user_code=started.get("user_code", ""),
        interval=max(1, int(started.get("interval") or 5)),
        expires_at=started.get("expires_at"),
        qr=qr,
    )


async def requests(console: Console, request: Request) -> Response:
    session = signed_in(console, request)
    if session is None:
        return to_login()
    history = _admin(request).history
    query = request.query_params
    filters = {k: query.get(k, "").strip() for k in ("client", "account", "model", "status")}
    rows = history.recent(REQUESTS_SHOWN, **filters)
    return page(
        console,
        request,
        session,
        "requests.html",
        nav="requests",
        rows=rows,
        filters=filters,
        choices=choices(history.recent(history.keep)),
        shown=REQUESTS_SHOWN,
    )


async def settings(console: Console, request: Request) -> Response:
    """Read-only: the strategy, the model map, the version gate, where state and sign-ins are kept."""
    import asyncio

    session = signed_in(console, request)
    if session is None:
        return to_login()
    state = request.app.state.xai
    admin: Admin = state.admin
    stores = await asyncio.to_thread(_stores, admin)
    config = state.pool.primary.account.config
    from ...transport._version_gate import in_use, version_note

    version, why = in_use(config)
    setting = config.client_version if config.client_version_set else None
    return page(
        console,
        request,
        session,
        "settings.html",
        nav="settings",
        strategy=admin.pool.strategy,
        model_map=sorted(state.settings.model_map.items()),
        gate_version=version,
        version_why=why,
        version_note=version_note(setting, config.paths),
        stores=stores,
        state_store=_state_store(config),
        from_anywhere=state.settings.admin_from_anywhere,
        retention_days=admin.history.retention / 86400,
        kept_requests=admin.history.keep,
    )


def _stores(admin: Admin) -> list[dict[str, str]]:
    """Where each account's sign-in is kept (keyring or file), as status() says."""
    rows = []
    for member in list(admin.pool.members):
        try:
            storage = member.upstream.account.status().get("storage") or "none"
        except Exception:  # noqa: BLE001 - a page of settings still draws; the accounts page says what is wrong
            storage = "unreadable"
        rows.append({"profile": member.profile, "storage": str(storage)})
    return rows


def _state_store(config: Config) -> str:
    """The state store as people may see it: never its password."""
    if config.store_url:
        from ...store._database import shown_url

        return shown_url(config.store_url)
    return "the home's SQLite file (" + config.paths.home + ")"
