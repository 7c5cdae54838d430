"""``Auth``: the subscription's bearer for any httpx2 client, and so for the openai SDK.

    import httpx2, openai, xai_oauth

    client = openai.OpenAI(
        base_url="https://api.x.ai/v1",
        api_key="unused",  # replaced by the subscription's bearer on every request
        http_client=httpx2.Client(auth=xai_oauth.Auth()),
    )

The bearer is added only to requests for the subscription's own origins: the
chat proxy (``XAI_OAUTH_BASE_URL``, where it also adds the proxy's headers,
the model override read from the JSON body) and ``XAI_BASE_URL`` when that is
an xAI host; a client shared with other hosts never sends it there.
It is refreshed first when due; when the API still refuses it (401, or 403
with an ``unauthenticated:*`` code) one forced refresh is made and the request
is sent once more. Refreshes go through ``Account``, so they are single-flight
across every process on the machine. The chat proxy is told the Grok CLI
version ``chat()`` would tell it, and a 426 that names a newer one is
followed as ``chat()`` follows it: sent once more, and remembered in the
home (unless a person set the version).
"""

from __future__ import annotations

import threading
from collections.abc import AsyncGenerator, Generator
from typing import Any, NamedTuple

from .._routes import CLIENT_VERSION_HEADER
from ..auth._account import Account
from ..transport._api_errors import is_auth_failure
from ..transport._http import httpx2

__all__ = ["Auth"]


class Auth(httpx2.Auth):
    """An ``httpx2.Auth`` that signs requests with the stored subscription sign-in.

    ``account`` defaults to ``Account()`` (settings from the environment),
    created on first use. Raises ``NotSignedIn`` / ``ReauthRequired`` from the
    request when there is no usable sign-in. In an ``AsyncClient`` the store
    and the refresh run in a worker thread, off the event loop.
    """

    requires_request_body = True  # a request retried after a refresh is sent again whole

    def __init__(self, account: Account | None = None) -> None:
        self._account = account
        self._owns_account = account is None  # then its connections are ours to close
        self._lock = threading.Lock()

    @property
    def account(self) -> Account:
        with self._lock:
            if self._account is None:
                self._account = Account()
            return self._account

    def __repr__(self) -> str:
        return (
            "xai_oauth.Auth()"
            if self._account is None
            else f"xai_oauth.Auth(subscription_url={self._account.config.oauth_base_url!r})"
        )

    # -- the two flows httpx2 drives -------------------------------------

    def sync_auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        if not self._applies_to(request):
            yield request
            return
        request.read()
        token, gate = self._token(), self._gate(request)
        response = yield self._signed(request, token, gate)
        if gate.may_heal and response.status_code == 426:
            response.read()
            if self._healed(request, gate, _json_or_none(response)):
                response = yield request
        body = None
        if response.status_code == 403:
            response.read()  # its error code is in the body; other answers (streams) stay unread
            body = _json_or_none(response)
        if is_auth_failure(response.status_code, body):  # httpx2 reads and closes the refused answer itself
            yield self._signed(request, self._renewed(token), gate)

    async def async_auth_flow(self, request: httpx2.Request) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        import asyncio

        if not self._applies_to(request):
            yield request
            return
        await request.aread()
        token, gate = await asyncio.to_thread(lambda: (self._token(), self._gate(request)))
        response = yield self._signed(request, token, gate)
        if gate.may_heal and response.status_code == 426:
            await response.aread()
            if await asyncio.to_thread(self._healed, request, gate, _json_or_none(response)):
                response = yield request
        body = None
        if response.status_code == 403:
            await response.aread()
            body = _json_or_none(response)
        if is_auth_failure(response.status_code, body):
            yield self._signed(request, await asyncio.to_thread(self._renewed, token), gate)

    # -- helpers ----------------------------------------------------------

    def _token(self) -> str:
        try:
            return self.account.access_token()
        finally:
            self._release()

    def _renewed(self, refused_token: str) -> str:
        """A token other than ``refused_token``: one forced refresh, unless another process already did it."""
        try:
            self.account.refresh(force=True, replacing=refused_token)
            return self.account.access_token()
        finally:
            self._release()

    def _release(self) -> None:
        """Close the token endpoint connection we opened (a refresh is hours away; httpx2 has no Auth.close)."""
        if self._owns_account:
            self.account.close()

    def _applies_to(self, request: httpx2.Request) -> bool:
        """Only xAI's own hosts get the bearer: the chat proxy, and ``XAI_BASE_URL``'s origin when it is one."""
        from .._routes import is_subscription_url, same_origin

        config, url = self.account.config, str(request.url)
        return is_subscription_url(url, issuer=config.issuer) and (
            same_origin(url, config.oauth_base_url) or same_origin(url, config.base_url)
        )

    def _gate(self, request: httpx2.Request) -> _Gate:
        """The Grok CLI version the chat proxy is told (``_version_gate.in_use``: a setting, the one a 426 last
        asked for, or the built-in one), and whether a 426 may move it: not when a person set it, in
        ``XAI_OAUTH_CLIENT_VERSION`` or in the request's own header, and never off the chat proxy."""
        from .._routes import same_origin
        from ..transport._version_gate import in_use

        config = self.account.config
        version, why = in_use(config)
        on_proxy = same_origin(str(request.url), config.oauth_base_url)
        return _Gate(version, on_proxy and why != "setting" and CLIENT_VERSION_HEADER not in request.headers)

    def _healed(self, request: httpx2.Request, gate: _Gate, refusal: Any) -> bool:
        """After a 426: when it names a newer version, remember it for every later call and tell it this time."""
        import time

        from ..transport._version_gate import newer_named, remember

        wanted = newer_named(refusal, gate.version)
        if wanted is None:
            return False
        remember(self.account.config.paths, wanted, time.time())
        request.headers[CLIENT_VERSION_HEADER] = wanted
        return True

    def _signed(self, request: httpx2.Request, token: str, gate: _Gate) -> httpx2.Request:
        """The request with the bearer, and on the chat proxy its headers (an explicit caller's value is kept)."""
        from .._routes import proxy_headers, same_origin

        request.headers["Authorization"] = f"Bearer {token}"
        config = self.account.config
        if same_origin(str(request.url), config.oauth_base_url):
            body = _json_or_none(request) if request.content else None
            model = body.get("model") if isinstance(body, dict) else None
            for name, value in proxy_headers(model if isinstance(model, str) else None, gate.version).items():
                request.headers.setdefault(name, value)
        return request


class _Gate(NamedTuple):
    """The Grok CLI version one request tells the chat proxy, and whether a 426 may move it."""

    version: str
    may_heal: bool


def _json_or_none(message: httpx2.Request | httpx2.Response) -> Any:
    import json

    try:
        return json.loads(message.content)
    except ValueError:
        return None
