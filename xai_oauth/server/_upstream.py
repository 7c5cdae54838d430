"""One account's way upstream, for the server: a request in, neutral events out, one at a time.

Two ways in. ``events`` takes a chat-completions body (the pivot; see
``wire``), which chat completions and Anthropic Messages are translated to;
``events_for_body`` takes a ready /responses body, which a client's own
Responses request becomes with nothing translated (``wire._responses_policy``),
so its reasoning items reach xAI whole. Every answer comes back as
``wire._events``, so the endpoints share one reading path. It uses the same
rules as ``chat()``: ``parse_model`` picks the credential and lane,
``wire._requests`` builds the lane's body (under ``FieldPolicy.LENIENT``:
fields with no meaning for xAI are dropped, fields that change the answer
are refused), and ``AsyncTransport`` chooses the origin, adds the proxy's
headers, sends the subscription's bearer only to xAI, refreshes once on an
auth failure (in a worker thread, single flight across processes) and maps
refusals to the package's exceptions.

The chat proxy is always asked for a stream (it serves most models only
that way; a whole answer is the same events folded). The API key's
api.x.ai answers a whole chat request whole when the client asked for one:
a stream costs the server an event each, which bench/bench_serve.py found
was most of what it added to a whole answer. A Responses request is always
streamed.

Errors: before the first event, the package's exception is raised (by the
call itself for a request refused before it leaves, else by the first
``__anext__``), so the endpoint can answer with a status; after it, the
failure becomes a ``Failure`` event, because the client has already been
sent bytes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TYPE_CHECKING, Any

from .._exceptions import XaiOAuthError
from .._models import RESPONSES, ModelChoice, parse_model
from .._redact import scrub
from .._routes import REQUEST_ID_HEADER
from ..wire._events import Begin, Event, Failure
from ..wire._openai_chat import ChatChunkReader, chat_body_events
from ..wire._openai_responses import ResponsesEventReader, response_body_events
from ..wire._requests import FieldPolicy, request_from_chat_body, without_inline_citations
from ..wire._responses_policy import place_reasoning
from ..wire._streams import read_event
from ._streaming import by_loop_time

if TYPE_CHECKING:
    from ..auth._account import Account
    from ..transport._http import AsyncHttp
    from ..transport._send import Acceptance, AsyncTransport

__all__ = ["CALLER_KEYS", "Upstream"]

#: Seconds an upstream stream may take to end after its answer before its connection is dropped instead.
END_GRACE = 1.0

#: Keys a translator leaves in the chat body for the server (not for xAI): search, cache key, reasoning
#: items and tool namespaces (``keep_reasoning``, the reasoning to send back, is read before these go).
CALLER_KEYS = ("search", "search_filters", "prompt_cache_key", "reasoning_items", "namespaces")


class _SingleFlightKeeper:
    """The account's token keeper, one call at a time within this process.

    Across processes the keeper's own file lock makes a refresh single
    flight; within the server, worker threads would otherwise queue on that
    lock one by one, each reading the files again. A thread lock in front
    lets the first refresh finish and the others take its token.
    """

    def __init__(self, account: Account) -> None:
        self._account = account
        self._lock = threading.Lock()

    def access_token(self) -> str:
        with self._lock:
            return self._account.access_token()

    def fresh_token(self) -> tuple[str, float]:
        with self._lock:
            return self._account.fresh_token()

    def on_record(self) -> tuple[object, ...]:
        return self._account.on_record()

    def served_by(self, origin: str) -> bool:
        """Whether that API has listed models for a sign-in of this issuer (``Account.served_by``): after the one
        refresh, a refusal from an API that never served the issuer is the settings' fault (``config_invalid``)."""
        return self._account.served_by(origin)

    def refresh(self, force: bool = False, *, replacing: str | None = None) -> Any:
        with self._lock:
            return self._account.refresh(force, replacing=replacing)


class Upstream:
    """One account (a profile's sign-in, and the API key beside it) as the server's way to xAI."""

    def __init__(
        self, account: Account, http: AsyncHttp, *, timeout: float | None = None, acceptance: Acceptance | None = None
    ) -> None:
        """``acceptance``: which APIs took which issuer's tokens, shared by a pool's accounts (``Acceptance``)."""
        from ..transport._send import AsyncTransport

        self.account = account
        self.timeout = timeout or account.config.read_timeout
        self._secret: bytes | None = None
        self._signed_in: tuple[object, bool] = (None, False)
        keeper = _SingleFlightKeeper(account)
        self.transport: AsyncTransport = AsyncTransport(account.config, keeper, http, acceptance=acceptance)

    def choose(self, model: str) -> ModelChoice:
        """The credential and lane for a client's model id (bare ids are the subscription's when signed in)."""
        return parse_model(model, signed_in=self.signed_in())

    def signed_in(self) -> bool:
        """``Account.signed_in``, read again only when the account's files have changed (not per request)."""
        mark = self.account.on_record()
        if mark != self._signed_in[0]:
            self._signed_in = (mark, self.account.signed_in())
        return self._signed_in[1]

    def events(
        self,
        choice: ModelChoice,
        chat_body: dict[str, Any],
        *,
        shown_model: str | None = None,
        request_id: str | None = None,
        conversation: str | None = None,
    ) -> AsyncGenerator[Event, None]:
        """The answer to ``chat_body`` (the pivot) on the model's lane, as neutral events (errors: module docstring).

        Search, and reasoning to keep whole (``keep_reasoning``: signed
        thinking sent back, or thinking asked for), go to the Responses lane,
        the only one that carries them. ``request_id`` is the server's id for
        its client's request, the same on every account tried; ``conversation``
        the key the client named the conversation by (else its start names it).
        """
        body = dict(chat_body)
        search = body.pop("search", None)
        kept = body.pop("keep_reasoning", None)
        for key in CALLER_KEYS:
            body.pop(key, None)
        if search or kept is not None:
            choice = ModelChoice(choice.model_id, choice.credential, RESPONSES)
        proxy = self._proxy(choice)
        sent = request_from_chat_body(choice, body, proxy=proxy, policy=FieldPolicy.LENIENT, search=search)
        if kept is not None:
            sent = place_reasoning(sent, body["messages"], kept)
        return self._answer(
            choice, self._for_route(choice, sent), shown_model, request_id, body.get("messages"), conversation
        )

    def events_for_body(
        self,
        choice: ModelChoice,
        body: dict[str, Any],
        *,
        shown_model: str | None = None,
        request_id: str | None = None,
        conversation: str | None = None,
    ) -> AsyncGenerator[Event, None]:
        """The answer to a ready /responses body (``wire._responses_policy``), sent as it is for any model.

        xAI serves every model on /responses, so nothing is translated: the
        reasoning items in ``input`` reach it whole. Only the model id (ours
        to xAI's), for the chat proxy ``store: false``, and xAI's own
        ``include`` extension (``_for_route``) are set here.
        """
        choice = ModelChoice(choice.model_id, choice.credential, RESPONSES)
        sent = self._for_route(choice, {**body, "model": choice.model_id, "stream": True})
        if self._proxy(choice):
            sent["store"] = False
        said = body.get("input")
        said = [{"role": "user", "content": said}] if isinstance(said, str) else said
        if isinstance(body.get("instructions"), str) and isinstance(said, list):
            said = [{"role": "system", "content": body["instructions"]}, *said]
        return self._answer(choice, sent, shown_model, request_id, said, conversation)

    def _for_route(self, choice: ModelChoice, sent: dict[str, Any]) -> dict[str, Any]:
        """``sent`` with xAI's own extensions where it goes to xAI (``Config.reaches_xai``): no inline citation
        marks when it searches, as xAI's Grok CLI asks."""
        return without_inline_citations(sent) if self.account.config.reaches_xai(choice.credential) else sent

    def _proxy(self, choice: ModelChoice) -> bool:
        """Whether ``choice`` goes to the subscription's chat proxy (streams only, nothing stored)."""
        return choice.credential == "subscription" and self.account.config.on_proxy

    async def _answer(
        self,
        choice: ModelChoice,
        sent: dict[str, Any],
        shown_model: str | None,
        request_id: str | None,
        messages: Any,
        conversation: str | None,
    ) -> AsyncGenerator[Event, None]:
        """``sent`` upstream as a stream, read into events (the rest of both entry points)."""
        from ..transport._http import AsyncEventStream

        extra = self._conversation_headers(choice, messages, sent, request_id or uuid.uuid4().hex, conversation)
        began = False
        try:
            async with self.transport.open_stream(
                choice.credential,
                choice.display_id,
                choice.path,
                sent,
                timeout=self.timeout,
                model_id=choice.model_id,
                extra_headers=extra,
            ) as opened:
                if not isinstance(opened, AsyncEventStream):  # a gateway that ignored stream=True: answered whole
                    for event in _whole_answer_events(choice, opened.body):
                        began = True
                        yield _shown(event, shown_model)
                    return
                # read here, not in a generator of its own: each layer of generators costs every event a hop
                reader = ResponsesEventReader() if choice.lane == RESPONSES else ChatChunkReader()
                stream = opened.__aiter__()
                async for _name, data in stream:
                    if data.strip() == "[DONE]":
                        break
                    for event in reader.feed(read_event(data)):
                        began = True
                        yield _shown(event, shown_model)
                    if reader.finished:
                        break
                for event in reader.end():
                    began = True
                    yield event
                await _read_to_end(stream)
        except XaiOAuthError as error:
            if not began:
                raise
            yield Failure(scrub(error.message), code=error.code, status=error.http_status or 502)
        except (asyncio.CancelledError, GeneratorExit):
            raise  # the client went away: the ``async with`` above closes the upstream request

    def _conversation_headers(
        self,
        choice: ModelChoice,
        messages: Any,
        sent: dict[str, Any],
        request_id: str,
        conversation: str | None,
    ) -> dict[str, str]:
        """The ``x-grok-*`` headers xAI's prompt cache follows, by the same rule as ``chat()``: an HMAC of the
        conversation's start (or of the name the client gave it) under this account's own secret; on the
        Responses lane the same id goes as ``prompt_cache_key``. Plus the server's request id."""
        from ..api._conversation import HEADLESS, conversation_id, grok_headers, turn_index
        from ..api._conversation_key import conversation_key

        messages = [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []
        if self._secret is None:
            self._secret = conversation_key(self.account.paths)
        conv = conversation_id(self._secret, messages, conversation)
        if choice.lane == RESPONSES:
            sent.setdefault("prompt_cache_key", conv)
        headers = grok_headers(conv, f"xai-oauth-{request_id}", turn_index(messages), conv, HEADLESS)
        return {**headers, REQUEST_ID_HEADER: request_id}


def _shown(event: Event, shown_model: str | None) -> Event:
    """The answer's start (``Begin``, once per answer) naming the model as the client asked for it (``grok-4.3``,
    ``claude-sonnet-4-5``); any other event as it is."""
    return dataclasses.replace(event, model=shown_model) if isinstance(event, Begin) and shown_model else event


def _whole_answer_events(choice: ModelChoice, body: Any) -> list[Event]:
    whole = body if isinstance(body, dict) else {}
    return list(chat_body_events(whole) if choice.lane != RESPONSES else response_body_events(whole))


async def _read_to_end(stream: AsyncIterator[tuple[str, str]]) -> None:
    """The stream's last bytes after the answer (its closing chunk), so the connection goes back to the pool.

    Closing a response with bytes unread drops its connection: each request
    then paid a new connection upstream (and the emulator a new thread),
    which bench/bench_serve.py measured as most of the time the server added
    before the first token. A stream that goes on past its answer is given
    up on after ``END_GRACE`` seconds (and its connection with it).
    """

    async def rest() -> None:
        async for _ in stream:
            pass

    try:
        await by_loop_time(asyncio.get_running_loop().time() + END_GRACE, rest())
    except (asyncio.TimeoutError, XaiOAuthError):
        pass
