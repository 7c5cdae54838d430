"""How a request reaches xAI: credential → origin → headers → send → failure mapping → the one forced refresh.

Nothing else in the package chooses an origin or builds the headers of an
API request. The decisions are pure functions, with no I/O and no clock, so
the local server can call the same rules from asyncio that ``chat()`` calls
from a thread:

- ``target``: which origin and route a credential's request goes to (the
  subscription's bearer only ever to xAI's own hosts, as ``Config`` checks);
- ``headers``: the bearer, plus the chat proxy's own (``_routes`` owns them);
- ``next_move``: what a refused answer means (refresh once, wait and send
  again under a ``RetryPolicy``, or fail with the README table's exception).

``Transport`` drives them with ``Http`` and a blocking ``sleep``;
``AsyncTransport`` with ``AsyncHttp`` and ``asyncio.sleep``. The retry policy
is a parameter: a single caller waits and retries (``API_RETRIES``), a pool of
accounts may rather fail at once and try the next account.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from ._answer import Answer, parse_retry_after
from ._api_errors import api_error, is_auth_failure
from ._exceptions import NotSignedIn, XaiOAuthError
from ._retry import API_RETRIES, RetryPolicy
from ._settings import KEY_PREFIX

if TYPE_CHECKING:
    from ._config import Config
    from ._http import AsyncEventStream, AsyncHttp, EventStream, Http

__all__ = [
    "AsyncTransport",
    "Fail",
    "Refresh",
    "Target",
    "TokenKeeper",
    "Transport",
    "Wait",
    "api_key",
    "headers",
    "next_move",
    "refusal",
    "target",
]


class TokenKeeper(Protocol):
    """The subscription's access tokens (``Account`` today): sync, file-locked, single flight across processes."""

    def access_token(self) -> str: ...

    def refresh(self, force: bool = False, *, replacing: str | None = None) -> Any: ...


# -- the pure decisions ----------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where one request goes and what its refusals are read against."""

    #: ``subscription`` or ``api_key``: who pays
    credential: str
    #: the base URL the request's path is appended to
    origin: str
    #: ``proxy`` or ``api`` for the subscription's text and account calls (so refusals can name the way out);
    #: None for the API key and for media
    route: str | None
    #: the model id (with its prefix) or the endpoint that error messages name
    what: str
    #: the bare model id the chat proxy routes on (its ``x-grok-model-override`` header)
    model_id: str | None = None
    #: images and video: api.x.ai with the bearer alone, whatever the route; their quotas are their own
    media: bool = False


def target(config: Config, credential: str, what: str, *, model_id: str | None = None, media: bool = False) -> Target:
    """Which origin and route this credential's request goes to: the API key to ``base_url``, the
    subscription's text to the chat proxy (or ``base_url`` on route api), its media to api.x.ai.
    """
    if credential == "api_key":
        return Target(credential, config.base_url, None, what, model_id, media)
    if media:
        return Target(credential, config.subscription_api_url, None, what, model_id, media)
    return Target(credential, config.subscription_text_url, config.route, what, model_id, media)


def headers(aim: Target, token: str, client_version: str) -> dict[str, str]:
    """The bearer, plus the chat proxy's own headers when the request goes there."""
    from ._routes import proxy_headers

    sent = {"Authorization": f"Bearer {token}"}
    if aim.route == "proxy":
        sent.update(proxy_headers(aim.model_id, client_version))
    return sent


def api_key(config: Config) -> str:
    """The API key's bearer, or ``NotSignedIn`` saying how to set one."""
    if not config.api_key:
        raise NotSignedIn(
            "That model id asks for the API key (xai/...), but no XAI_API_KEY is set.",
            action="Set XAI_API_KEY (or put it in .env.xai), or use xai-grok/<model>.",
        )
    return config.api_key


@dataclass(frozen=True)
class Refresh:
    """Force one refresh of the subscription's token (replacing the refused one) and send again."""


@dataclass(frozen=True)
class Wait:
    """Wait ``seconds`` and send again with the same token."""

    seconds: float


@dataclass(frozen=True)
class Fail:
    """Stop: raise ``error`` (the README table's exception for this answer)."""

    error: XaiOAuthError


def next_move(
    aim: Target,
    answer: Answer,
    *,
    renewed: bool,
    attempt: int,
    policy: RetryPolicy = API_RETRIES,
    api_key: str | None = None,
) -> Refresh | Wait | Fail:
    """What to do after ``answer`` refused try number ``attempt`` (0-based); ``renewed``: the refresh is spent.

    An auth failure on the subscription earns one forced refresh; a 5xx or an
    HTML page what ``policy`` allows; anything else is the table's error.
    """
    if aim.credential == "subscription" and not renewed and is_auth_failure(answer.status, answer.body):
        return Refresh()
    retry_after = parse_retry_after(answer.headers.get("retry-after"))
    wait = policy.delay(answer.status, attempt=attempt, html=answer.is_html, retry_after=retry_after)
    if wait is not None:
        return Wait(wait)
    return Fail(refusal(aim, answer, retry_after=retry_after, api_key=api_key))


def refusal(aim: Target, answer: Answer, *, retry_after: float | None, api_key: str | None) -> XaiOAuthError:
    """The exception for a refused answer; a key that does not look like xAI's is told so."""
    error = api_error(
        answer.status,
        answer.body,
        credential=aim.credential,
        model=aim.what,
        retry_after=retry_after,
        route=aim.route,
        media=aim.media,
    )
    if error.code == "api_key_invalid" and not (api_key or "").startswith(KEY_PREFIX):
        error.action += f" xAI keys start with '{KEY_PREFIX}'; this one does not (a key for another service?)."
    return error


@dataclass(frozen=True)
class _Try:
    """Where a send stands: the token in hand, whether the one refresh is spent, and the try number."""

    token: str
    renewed: bool = False
    number: int = 0


# -- the drivers ---------------------------------------------------------------


class Transport:
    """The decisions above, driven by ``Http`` in the caller's thread.

    ``http`` is asked for on the first send, so the ~200 ms httpx2 import
    waits for a real request (a refusal decided locally never pays it).
    """

    def __init__(
        self,
        config: Config,
        keeper: TokenKeeper,
        http: Callable[[], Http],
        *,
        sleep: Callable[[float], None],
        policy: RetryPolicy = API_RETRIES,
    ) -> None:
        self.config, self.keeper, self.http, self.sleep, self.policy = config, keeper, http, sleep, policy

    def token(self, credential: str) -> str:
        return api_key(self.config) if credential == "api_key" else self.keeper.access_token()

    def request(
        self,
        credential: str,
        what: str,
        path: str,
        body: Any = None,
        *,
        timeout: float,
        model_id: str | None = None,
        media: bool = False,
        accept: tuple[int, ...] = (200,),
        **options: Any,
    ) -> Answer:
        """``GET <origin><path>`` (or POST ``body`` as JSON) until it succeeds or fails for good.

        ``options`` go to ``Http`` (``max_bytes``).
        """
        now = _Try(self.token(credential))
        aim = target(self.config, credential, what, model_id=model_id, media=media)
        while True:
            sent = headers(aim, now.token, self.config.client_version)
            if body is None:
                answer = self.http().get(aim.origin + path, headers=sent, timeout=timeout, **options)
            else:
                answer = self.http().post_json(aim.origin + path, body, headers=sent, timeout=timeout, **options)
            if answer.status in accept:
                return answer
            now = self._recover(aim, answer, now)

    @contextlib.contextmanager
    def open_stream(
        self, credential: str, what: str, path: str, body: Any, *, timeout: float, model_id: str | None = None
    ) -> Iterator[EventStream | Answer]:
        """POST ``body`` for an event stream: yields the stream, or a 200 ``Answer`` (a gateway that answered
        whole); a refusal goes through the same refresh and retry rules before it is raised.
        """
        from ._http import EventStream

        now = _Try(self.token(credential))
        aim = target(self.config, credential, what, model_id=model_id)
        while True:
            sent = headers(aim, now.token, self.config.client_version)
            with self.http().open_event_stream(aim.origin + path, body, headers=sent, timeout=timeout) as opened:
                if isinstance(opened, EventStream) or opened.status == 200:
                    yield opened
                    return
            now = self._recover(aim, opened, now)

    def _recover(self, aim: Target, answer: Answer, now: _Try) -> _Try:
        move = next_move(
            aim, answer, renewed=now.renewed, attempt=now.number, policy=self.policy, api_key=self.config.api_key
        )
        if isinstance(move, Refresh):
            self.keeper.refresh(force=True, replacing=now.token)
            return replace(now, token=self.keeper.access_token(), renewed=True)
        if isinstance(move, Wait):
            self.sleep(move.seconds)
            return replace(now, number=now.number + 1)
        raise move.error


class AsyncTransport:
    """The decisions above, driven by ``AsyncHttp`` on an event loop (the local server).

    Refresh never blocks the loop: the token keeper is sync (a file lock,
    single flight across processes, a journal written with fsync), so its
    ``access_token()`` and the forced refresh run in a worker thread
    (``asyncio.to_thread``) while other requests go on.
    """

    def __init__(
        self,
        config: Config,
        keeper: TokenKeeper,
        http: AsyncHttp,
        *,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        policy: RetryPolicy = API_RETRIES,
    ) -> None:
        import asyncio

        self.config, self.keeper, self.http, self.policy = config, keeper, http, policy
        self.sleep = sleep or asyncio.sleep

    async def token(self, credential: str) -> str:
        import asyncio

        if credential == "api_key":
            return api_key(self.config)
        return await asyncio.to_thread(self.keeper.access_token)

    async def request(
        self,
        credential: str,
        what: str,
        path: str,
        body: Any = None,
        *,
        timeout: float,
        model_id: str | None = None,
        media: bool = False,
        accept: tuple[int, ...] = (200,),
        **options: Any,
    ) -> Answer:
        """``Transport.request`` on the event loop."""
        now = _Try(await self.token(credential))
        aim = target(self.config, credential, what, model_id=model_id, media=media)
        while True:
            sent = headers(aim, now.token, self.config.client_version)
            if body is None:
                answer = await self.http.get(aim.origin + path, headers=sent, timeout=timeout, **options)
            else:
                answer = await self.http.post_json(aim.origin + path, body, headers=sent, timeout=timeout, **options)
            if answer.status in accept:
                return answer
            now = await self._recover(aim, answer, now)

    @contextlib.asynccontextmanager
    async def open_stream(
        self,
        credential: str,
        what: str,
        path: str,
        body: Any,
        *,
        timeout: float,
        model_id: str | None = None,
        request_id: str | None = None,
    ) -> AsyncIterator[AsyncEventStream | Answer]:
        """``Transport.open_stream`` on the event loop: ``async for event, data in stream``.

        ``request_id``: the local server's id for its client's request, sent on every attempt (``REQUEST_ID_HEADER``).
        """
        from ._http import AsyncEventStream
        from ._routes import REQUEST_ID_HEADER

        now = _Try(await self.token(credential))
        aim = target(self.config, credential, what, model_id=model_id)
        while True:
            sent = headers(aim, now.token, self.config.client_version)
            if request_id:
                sent[REQUEST_ID_HEADER] = request_id
            async with self.http.open_event_stream(aim.origin + path, body, headers=sent, timeout=timeout) as opened:
                if isinstance(opened, AsyncEventStream) or opened.status == 200:
                    yield opened
                    return
            now = await self._recover(aim, opened, now)

    async def _recover(self, aim: Target, answer: Answer, now: _Try) -> _Try:
        import asyncio

        move = next_move(
            aim, answer, renewed=now.renewed, attempt=now.number, policy=self.policy, api_key=self.config.api_key
        )
        if isinstance(move, Refresh):
            await asyncio.to_thread(lambda: self.keeper.refresh(force=True, replacing=now.token))
            return replace(now, token=await asyncio.to_thread(self.keeper.access_token), renewed=True)
        if isinstance(move, Wait):
            await self.sleep(move.seconds)
            return replace(now, number=now.number + 1)
        raise move.error
