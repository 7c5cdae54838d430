"""The console: the pool's pages under ``/console``, for a person looking after it from a browser.

``xai-oauth serve`` mounts it (``console_mount``) behind the same door as
``/admin``: callers on this machine only, unless ``--admin-from-anywhere``.
Which module answers which question:

* ``_door``: the Host check, refusing other sites' changes, the security headers;
* ``_sessions``: the login, its cookie and the CSRF tokens;
* ``_pages``: the pages (overview, accounts, a sign-in, requests, settings, login);
* ``_actions``: the changes (log in and out, add, poll, reset, read usage, sign out);
* ``_views`` and ``_charts``: the numbers and the charts' geometry, pure.

Pages are drawn on the server from Jinja2 templates, which escape every
value unless told otherwise; the only markup not written by a template is
segno's QR code and nothing a caller sent reaches it. One small script
(``static/console.js``, no build step) counts cooldowns down and waits for a
sign-in's approval; every page works without it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route, Router

from ._door import ConsoleDoor
from ._sessions import Sessions

__all__ = ["CONSOLE", "Console", "console_mount"]

CONSOLE = "/console"
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}

Handler = Callable[["Console", Request], Awaitable[Response]]


class Console:
    """What the console keeps between requests: its sessions, templates, files, and the sign-ins it shows."""

    def __init__(self, sessions: Sessions | None = None) -> None:
        import jinja2
        from starlette.templating import Jinja2Templates

        from . import _views
        from ._charts import compact

        self.sessions = sessions or Sessions()
        env = jinja2.Environment(
            loader=jinja2.PackageLoader(__name__, "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters.update(when=_views.when, ago=_views.ago, duration=_views.duration, compact=compact)
        env.filters.update(clock=_views.clock, iso=_views.iso, num=lambda n: f"{n:,}")
        self.templates = Jinja2Templates(env=env)
        self.files: dict[str, tuple[bytes, str]] = {}
        folder = resources.files(__name__) / "static"
        for item in folder.iterdir():
            suffix = "." + item.name.rpartition(".")[2]
            if suffix in STATIC_TYPES:
                self.files[item.name] = (item.read_bytes(), STATIC_TYPES[suffix])
        digest = hashlib.sha256(b"".join(body for body, _ in sorted(self.files.values())))
        #: the files' version, in their URLs: a changed file is fetched anew, an unchanged one comes from the cache
        self.version = digest.hexdigest()[:12]
        #: what each sign-in started here shows (the link and code; never the device code), by profile
        self.signins: dict[str, dict[str, Any]] = {}

    async def static(self, request: Request) -> Response:
        found = self.files.get(request.path_params["name"])
        if found is None:
            return Response("Not a file of the console.", status_code=404, media_type="text/plain")
        body, media_type = found
        return Response(body, media_type=media_type, headers={"cache-control": "public, max-age=86400"})


def console_mount(console: Console | None = None) -> Mount:
    """The console's routes, behind its door, mounted at ``/console``."""
    from . import _actions, _pages

    console = console or Console()

    def bound(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await handler(console, request)

        endpoint.__name__ = handler.__name__
        return endpoint

    get, post = ["GET"], ["POST"]
    routes = [
        Route("/", bound(_pages.overview), methods=get),
        Route("/login", bound(_pages.login), methods=get),
        Route("/login", bound(_actions.login), methods=post),
        Route("/logout", bound(_actions.logout), methods=post),
        Route("/accounts", bound(_pages.accounts), methods=get),
        Route("/accounts", bound(_actions.add_account), methods=post),
        Route("/accounts/{profile}/signin", bound(_pages.signin), methods=get),
        Route("/accounts/{profile}/poll", bound(_actions.poll), methods=post),
        Route("/accounts/{profile}/reset", bound(_actions.reset), methods=post),
        Route("/accounts/{profile}/usage", bound(_actions.usage), methods=post),
        Route("/accounts/{profile}/remove", bound(_actions.remove), methods=post),
        Route("/requests", bound(_pages.requests), methods=get),
        Route("/settings", bound(_pages.settings), methods=get),
        Route("/static/{name}", console.static, methods=get),
    ]
    return Mount(CONSOLE, app=ConsoleDoor(Router(routes)))
