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

The upstream is always asked for a stream: the chat proxy serves most models
only that way, and a whole answer is the same events folded.

Errors: before the first event, the package's exception is raised, so the
endpoint can answer with a status; after it, the failure becomes a
``Failure`` event, because the client has already been sent bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TYPE_CHECKING, Any

from .._exceptions import XaiOAuthError
from .._models import RESPONSES, ModelChoice, parse_model
from .._redact import scrub
from ..wire._events import Begin, Event, Failure
from ..wire._openai_chat import ChatChunkReader, chat_body_events
from ..wire._openai_responses import ResponsesEventReader, response_body_events
from ..wire._requests import FieldPolicy, request_from_chat_body
from ..wire._responses_policy import place_reasoning
from ..wire._streams import read_event

if TYPE_CHECKING:
    from .._account import Account
    from .._http import AsyncHttp
    from .._transport import AsyncTransport

__all__ = ["CALLER_KEYS", "Upstream"]

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

    def refresh(self, force: bool = False, *, replacing: str | None = None) -> Any:
        with self._lock:
            return self._account.refresh(force, replacing=replacing)


class Upstream:
    """One account (a profile's sign-in, and the API key beside it) as the server's way to xAI."""

    def __init__(self, account: Account, http: AsyncHttp, *, timeout: float | None = None) -> None:
        from .._transport import AsyncTransport

        self.account = account
        self.timeout = timeout or account.config.read_timeout
        self.transport: AsyncTransport = AsyncTransport(account.config, _SingleFlightKeeper(account), http)

    def choose(self, model: str) -> ModelChoice:
        """The credential and lane for a client's model id (bare ids are the subscription's when signed in)."""
        return parse_model(model, signed_in=self.account.signed_in())

    async def events(
        self,
        choice: ModelChoice,
        chat_body: dict[str, Any],
        *,
        shown_model: str | None = None,
        request_id: str | None = None,
    ) -> AsyncGenerator[Event, None]:
        """The answer to ``chat_body`` (the pivot) on the model's lane, as neutral events (errors: module docstring).

        Search, and reasoning to keep whole (``keep_reasoning``: signed
        thinking sent back, or thinking asked for), go to the Responses lane,
        the only one that carries them.
        """
        body = dict(chat_body)
        search = body.pop("search", None)
        kept = body.pop("keep_reasoning", None)
        for key in CALLER_KEYS:
            body.pop(key, None)
        if search or kept is not None:
            choice = ModelChoice(choice.model_id, choice.credential, RESPONSES)
        body["stream"] = True
        proxy = self._proxy(choice)
        sent = request_from_chat_body(choice, body, proxy=proxy, policy=FieldPolicy.LENIENT, search=search)
        if kept is not None:
            sent = place_reasoning(sent, body["messages"], kept)
        async with contextlib.aclosing(self._answer(choice, sent, shown_model, request_id)) as events:
            async for event in events:
                yield event

    async def events_for_body(
        self,
        choice: ModelChoice,
        body: dict[str, Any],
        *,
        shown_model: str | None = None,
        request_id: str | None = None,
    ) -> AsyncGenerator[Event, None]:
        """The answer to a ready /responses body (``wire._responses_policy``), sent as it is for any model.

        xAI serves every model on /responses, so nothing is translated: the
        reasoning items in ``input`` reach it whole. Only the model id (ours
        to xAI's) and, for the chat proxy, ``store: false`` are set here.
        """
        choice = ModelChoice(choice.model_id, choice.credential, RESPONSES)
        sent = {**body, "model": choice.model_id, "stream": True}
        if self._proxy(choice):
            sent["store"] = False
        async with contextlib.aclosing(self._answer(choice, sent, shown_model, request_id)) as events:
            async for event in events:
                yield event

    def _proxy(self, choice: ModelChoice) -> bool:
        """Whether ``choice`` goes to the subscription's chat proxy (streams only, nothing stored)."""
        return choice.credential == "subscription" and self.account.config.on_proxy

    async def _answer(
        self, choice: ModelChoice, sent: dict[str, Any], shown_model: str | None, request_id: str | None
    ) -> AsyncGenerator[Event, None]:
        """``sent`` upstream as a stream, read into events (the rest of both entry points)."""
        began = False
        try:
            async with self.transport.open_stream(
                choice.credential,
                choice.display_id,
                choice.path,
                sent,
                timeout=self.timeout,
                model_id=choice.model_id,
                request_id=request_id,
            ) as opened:
                async for event in self._read(choice, opened):
                    if isinstance(event, Begin) and shown_model:
                        event = dataclasses.replace(event, model=shown_model)
                    began = True
                    yield event
        except XaiOAuthError as error:
            if not began:
                raise
            yield Failure(scrub(error.message), code=error.code, status=error.http_status or 502)
        except (asyncio.CancelledError, GeneratorExit):
            raise  # the client went away: the ``async with`` above closes the upstream request

    async def _read(self, choice: ModelChoice, opened: Any) -> AsyncIterator[Event]:
        from .._http import AsyncEventStream

        if not isinstance(opened, AsyncEventStream):  # a gateway that ignored stream=True and answered whole
            whole = opened.body if isinstance(opened.body, dict) else {}
            for event in chat_body_events(whole) if choice.lane != RESPONSES else response_body_events(whole):
                yield event
            return
        reader: ChatChunkReader | ResponsesEventReader = (
            ResponsesEventReader() if choice.lane == RESPONSES else ChatChunkReader()
        )
        async for _name, data in opened:
            if data.strip() == "[DONE]":
                break
            for event in reader.feed(read_event(data)):
                yield event
            if reader.finished:
                break
        for event in reader.end():
            yield event
