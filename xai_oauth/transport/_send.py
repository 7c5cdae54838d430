"""How a request reaches xAI: credential → origin → headers → send → failure mapping → the one forced refresh.

Nothing else in the package chooses an origin or builds the headers of an
API request. The decisions are pure functions in ``_transport_rules`` (and
are re-exported here), with no I/O and no clock, so the local server can call
the same rules from asyncio that ``chat()`` calls from a thread:

- ``target``: which origin and route a credential's request goes to (the
  subscription's bearer only ever to xAI's own hosts, as ``Config`` checks);
- ``url``: that origin and the request's path, which must stay under it;
- ``headers``: the bearer, plus the chat proxy's own (``_routes`` owns them);
- ``next_move``: what a refused answer means (refresh once, send once more
  with the Grok CLI version a 426 names, wait and send again under a
  ``RetryPolicy``, or fail with the README table's exception).

A request's extra headers (the conversation's ``x-grok-*``, ``_conversation``)
are sent unchanged on every try: one client request, one request id.

``Transport`` drives them with ``Http`` and a blocking ``sleep``;
``AsyncTransport`` with ``AsyncHttp`` and ``asyncio.sleep``. The retry policy
is a parameter: a single caller waits out a short 429 (``CALLER_RETRIES``),
the default reports it (``API_RETRIES``), a pool of accounts may rather fail
at once and try the next account.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

from .._exceptions import NotSignedIn
from ._retry import API_RETRIES, RetryPolicy
from ._send_rules import (
    Fail,
    JustRefreshed,
    Refresh,
    Target,
    TokenKeeper,
    Try,
    Upgrade,
    Wait,
    api_key,
    headers,
    move_for,
    next_move,
    refusal,
    signed_out,
    target,
    url,
)

if TYPE_CHECKING:
    from .._config import Config
    from ._answer import Answer
    from ._http import AsyncEventStream, AsyncHttp, EventStream, Http

__all__ = [
    "Acceptance",
    "AsyncTransport",
    "Fail",
    "Refresh",
    "Target",
    "TokenKeeper",
    "Transport",
    "Upgrade",
    "Wait",
    "api_key",
    "headers",
    "next_move",
    "refusal",
    "target",
    "url",
]


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
        now: Callable[[], float] | None = None,
    ) -> None:
        self.config, self.keeper, self.http, self.sleep, self.policy = config, keeper, http, sleep, policy
        self.now = now

    def token(self, credential: str, what: str = "") -> str:
        if credential == "api_key":
            return api_key(self.config)
        try:
            return self.keeper.access_token()
        except NotSignedIn as error:
            raise signed_out(error, self.config, what) from None

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
        extra_headers: dict[str, str] | None = None,
        **options: Any,
    ) -> Answer:
        """``GET <origin><path>`` (or POST ``body`` as JSON) until it succeeds or fails for good.

        ``options`` go to ``Http`` (``max_bytes``).
        """
        aim = target(self.config, credential, what, model_id=model_id, media=media)
        where = url(aim, path)
        now = Try.first(self.token(credential, what), self.config)
        while True:
            sent = headers(aim, now.token, now.version, extra_headers)
            if body is None:
                answer = self.http().get(where, headers=sent, timeout=timeout, **options)
            else:
                answer = self.http().post_json(where, body, headers=sent, timeout=timeout, **options)
            if answer.status in accept:
                return answer
            now = self._recover(aim, answer, now)

    @contextlib.contextmanager
    def open_stream(
        self,
        credential: str,
        what: str,
        path: str,
        body: Any,
        *,
        timeout: float,
        model_id: str | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> Iterator[EventStream | Answer]:
        """POST ``body`` for an event stream: yields the stream, or a 200 ``Answer`` (a gateway that answered
        whole); a refusal goes through the same refresh and retry rules before it is raised. Once the stream
        is yielded nothing is sent again: a retried stream would show a person text twice.
        """
        from ._http import EventStream

        aim = target(self.config, credential, what, model_id=model_id)
        where = url(aim, path)
        now = Try.first(self.token(credential, what), self.config)
        while True:
            sent = headers(aim, now.token, now.version, extra_headers)
            with self.http().open_event_stream(where, body, headers=sent, timeout=timeout) as opened:
                if isinstance(opened, EventStream) or opened.status == 200:
                    yield opened
                    return
            now = self._recover(aim, opened, now)

    def _recover(self, aim: Target, answer: Answer, now: Try) -> Try:
        move = move_for(self.config, self.policy, aim, answer, now, served=getattr(self.keeper, "served_by", None))
        if isinstance(move, Fail):
            raise move.error
        if isinstance(move, Refresh):
            self.keeper.refresh(force=True, replacing=now.token)
            return now.after(move, self.keeper.access_token())
        if isinstance(move, Upgrade):
            _remember_version(self.config, move, self.now)
        else:
            self.sleep(move.seconds)
        return now.after(move, now.token)


def _remember_version(config: Config, move: Upgrade, now: Callable[[], float] | None) -> None:
    """Keep the version a 426 named for later calls (``_version_gate.remember``)."""
    import time

    from ._version_gate import remember

    remember(config.paths, move.version, (now or time.time)())


class Acceptance:
    """Which APIs have accepted which issuer's subscription tokens, as this process has seen them answer.

    Whether an API takes an issuer's tokens is a fact of the settings, not
    of one sign-in: once the chat proxy has answered any account of the
    issuer, a refusal of another account's fresh token is that account's
    failure (``reauth_required``), never ``settings_disagree``'s. A pool
    shares one, so an account added while the server runs is judged by what
    its neighbours have been served.
    """

    def __init__(self) -> None:
        self._seen: set[tuple[str, str]] = set()

    def note(self, issuer: str, origin: str) -> None:
        self._seen.add((issuer, origin))

    def knows(self, issuer: str, origin: str) -> bool:
        return (issuer, origin) in self._seen


class AsyncTransport:
    """The decisions above, driven by ``AsyncHttp`` on an event loop (the local server).

    Refresh never blocks the loop: the token keeper is sync (a file lock,
    single flight across processes, a journal written with fsync), so its
    ``access_token()`` and the forced refresh run in a worker thread
    (``asyncio.to_thread``) while other requests go on. The first try's
    token and version are held in memory while they are fresh and their
    files unchanged (``_first``): a request then reaches xAI with no thread
    hop and no read of the store, which was a third of what the server
    added before the first token. It lives as long as the server, so it
    remembers a token the API refused right after its forced refresh
    (``JustRefreshed``): a 401 storm costs one refresh, not one a request.
    """

    def __init__(
        self,
        config: Config,
        keeper: TokenKeeper,
        http: AsyncHttp,
        *,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        policy: RetryPolicy = API_RETRIES,
        now: Callable[[], float] | None = None,
        acceptance: Acceptance | None = None,
    ) -> None:
        import asyncio
        import time

        self.config, self.keeper, self.http, self.policy = config, keeper, http, policy
        self.acceptance = acceptance or Acceptance()
        self.sleep = sleep or asyncio.sleep
        self.now = now or time.time
        self._held: dict[str, tuple[Try, float, tuple[object, ...]]] = {}
        #: the token the last forced refresh made: a refusal of it is final, not a reason to refresh per request
        self.just_refreshed = JustRefreshed()
        self._refreshing = asyncio.Lock()

    async def _first(self, credential: str) -> Try:
        """The first try: held while it is fresh and the keeper's files are unchanged, else read in a thread.

        Holding needs a keeper that answers ``fresh_token()`` (the token and
        when it falls due) and ``on_record()`` (a cheap mark of its files,
        taken before the read, so a change made while reading is seen next
        time); any other keeper is asked on every request. A token the API
        refuses is not held past the refusal: the forced refresh rewrites
        the files, and the mark with them.
        """
        import asyncio

        on_record = getattr(self.keeper, "on_record", None)
        mark = on_record() if on_record is not None else None
        held = self._held.get(credential)
        if held is not None and held[2] == mark and self.now() < held[1]:
            return held[0]
        first, due = await asyncio.to_thread(self._read_first, credential)  # reads the home: off the loop
        if mark is not None:
            self._held[credential] = (first, due, mark)
        return first

    def _read_first(self, credential: str) -> tuple[Try, float]:
        if credential == "api_key":
            token, due = api_key(self.config), float("inf")
        elif hasattr(self.keeper, "fresh_token"):
            token, due = self.keeper.fresh_token()
        else:
            token, due = self.keeper.access_token(), 0.0
        return Try.first(token, self.config), due

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
        extra_headers: dict[str, str] | None = None,
        **options: Any,
    ) -> Answer:
        """``Transport.request`` on the event loop."""
        aim = target(self.config, credential, what, model_id=model_id, media=media)
        where = url(aim, path)
        now = await self._first(credential)
        while True:
            sent = headers(aim, now.token, now.version, extra_headers)
            if body is None:
                answer = await self.http.get(where, headers=sent, timeout=timeout, **options)
            else:
                answer = await self.http.post_json(where, body, headers=sent, timeout=timeout, **options)
            if answer.status in accept:
                if credential == "subscription" and 200 <= answer.status < 300:
                    self.acceptance.note(self.config.issuer, aim.origin)
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
        extra_headers: dict[str, str] | None = None,
    ) -> AsyncIterator[AsyncEventStream | Answer]:
        """``Transport.open_stream`` on the event loop: ``async for event, data in stream``."""
        from ._http import AsyncEventStream

        aim = target(self.config, credential, what, model_id=model_id)
        where = url(aim, path)
        now = await self._first(credential)
        while True:
            sent = headers(aim, now.token, now.version, extra_headers)
            async with self.http.open_event_stream(where, body, headers=sent, timeout=timeout) as opened:
                if isinstance(opened, AsyncEventStream) or opened.status == 200:
                    if credential == "subscription":
                        self.acceptance.note(self.config.issuer, aim.origin)
                    yield opened
                    return
            now = await self._recover(aim, opened, now)

    def _served(self) -> Callable[[str], bool] | None:
        """Whether the API at an origin accepts this issuer's tokens: it answered one here (``acceptance``), or
        listed models for a sign-in of the issuer (the keeper's ``served_by``); None: a keeper that cannot tell."""
        served_by = getattr(self.keeper, "served_by", None)
        if served_by is None:
            return None
        issuer = self.config.issuer
        return lambda origin: self.acceptance.knows(issuer, origin) or bool(served_by(origin))

    async def _recover(self, aim: Target, answer: Answer, now: Try) -> Try:
        import asyncio

        async with self._refreshing:  # a forced refresh under way names its token before another request decides
            now = self.just_refreshed.spent(aim, now, self.now())
            move = move_for(self.config, self.policy, aim, answer, now, served=self._served())
            if isinstance(move, Refresh):
                await asyncio.to_thread(lambda: self.keeper.refresh(force=True, replacing=now.token))
                token = await asyncio.to_thread(self.keeper.access_token)
                self.just_refreshed.note(token, self.now())
                return now.after(move, token)
        if isinstance(move, Fail):
            raise move.error
        if isinstance(move, Upgrade):
            await asyncio.to_thread(_remember_version, self.config, move, None)
        else:
            await self.sleep(move.seconds)
        return now.after(move, now.token)
