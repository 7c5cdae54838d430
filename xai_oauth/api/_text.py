"""Text: one whole answer (``chat``) or its deltas as they arrive (``stream``), over either lane.

``_models`` decides the endpoint from the model id and ``wire`` the body; ``_transport``
adds the credential and sends. On the chat proxy a whole answer is read out
of a stream (it serves most models only that way); the dict is the same.

Every request says which conversation it belongs to (``_conversation``: a
stable ``x-grok-conv-id`` derived from the conversation's start, so xAI's
prompt cache can serve turn two from turn one's work even when each turn
comes from a fresh process), with one request id kept across its retries; on
the Responses lane the same id goes as ``prompt_cache_key``. A stream is
never sent again once its first byte arrived (``Transport.open_stream``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .._exceptions import MalformedResponse, NotSignedIn
from .._models import (
    API_KEY_PREFIX,
    DEFAULT_MODEL_ID,
    RESPONSES,
    SUBSCRIPTION_PREFIX,
    ModelChoice,
    parse_model,
    sendable,
)
from ..transport._send_rules import signed_out
from ..wire._answers import read_answer
from ..wire._json_text import fault_in
from ..wire._requests import build_request, without_inline_citations
from ..wire._streams import new_stream
from ._conversation import HEADLESS

if TYPE_CHECKING:
    from ..auth._account import Account
    from ..transport._send import Transport

__all__ = ["ChatStream", "chat", "default_model", "stream"]


class ChatStream:
    """An iterator of text deltas; after it is exhausted, ``result`` holds the whole answer dict."""

    def __init__(self, source: Iterator[str | dict[str, Any]]) -> None:
        self._source = source
        self.result: dict[str, Any] | None = None

    def __iter__(self) -> Iterator[str]:
        for item in self._source:
            if isinstance(item, dict):
                self.result = item
            else:
                yield item

    def __repr__(self) -> str:
        return f"ChatStream(done={self.result is not None})"


def chat(
    account: Account,
    transport: Transport,
    model: str | None,
    messages: Any,
    *,
    thinking: Any = None,
    timeout: float | None = None,
    search: Any = None,
    lane: str | None = None,
    conversation: str | None = None,
    mode: str = HEADLESS,
    **params: Any,
) -> dict[str, Any]:
    """One whole answer; ``Client.chat`` says what it holds."""
    choice, body = _prepare(account, model, messages, thinking, params, stream=False, search=search, lane=lane)
    sent = _conversation_headers(account, choice, body, conversation, mode)
    seconds = timeout or account.config.read_timeout
    if body.get("stream"):
        deltas = ChatStream(_stream_deltas(transport, choice, body, seconds, sent))
        for _ in deltas:
            pass
        assert deltas.result is not None
        return deltas.result
    answer = transport.request(
        choice.credential,
        choice.display_id,
        choice.path,
        body,
        timeout=seconds,
        model_id=choice.model_id,
        extra_headers=sent,
    )
    if not isinstance(answer.body, dict):
        raise MalformedResponse("The chat answer is not a JSON object.", http_status=answer.status)
    return read_answer(choice, answer.body)


def stream(
    account: Account,
    transport: Transport,
    model: str | None,
    messages: Any,
    *,
    thinking: Any = None,
    timeout: float | None = None,
    search: Any = None,
    lane: str | None = None,
    conversation: str | None = None,
    mode: str = HEADLESS,
    **params: Any,
) -> ChatStream:
    """Text deltas as they arrive; the whole answer is in ``.result`` once the iterator is exhausted."""
    choice, body = _prepare(account, model, messages, thinking, params, stream=True, search=search, lane=lane)
    sent = _conversation_headers(account, choice, body, conversation, mode)
    return ChatStream(_stream_deltas(transport, choice, body, timeout or account.config.read_timeout, sent))


def default_model(account: Account) -> str:
    """``XAI_DEFAULT_MODEL``, else the last listing's default (if it could be sent), else ``xai-grok/grok-4.3``.

    With an API key and no sign-in, the key's own ``xai/grok-4.3``: a key
    alone must work without naming a model.
    """
    config = account.config
    if config.default_model:
        return config.default_model
    if config.api_key and not account.signed_in():
        return API_KEY_PREFIX + DEFAULT_MODEL_ID.removeprefix(SUBSCRIPTION_PREFIX)
    cached = (account.cached_models() or {}).get("default_model_id")
    return str(cached) if sendable(cached) else DEFAULT_MODEL_ID  # a listing cached by an older version may hold any id


def _prepare(
    account: Account,
    model: str | None,
    messages: Any,
    thinking: Any,
    params: dict[str, Any],
    *,
    stream: bool,
    search: Any,
    lane: str | None,
) -> tuple[ModelChoice, dict[str, Any]]:
    """The model choice (which credential, lane and path) and the request body for it.

    A subscription model with nobody signed in is refused here, before the
    conversation key is made: a chat that cannot be sent leaves no file behind
    (after a sign-out, none of the sign-in's).
    """
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    lane = RESPONSES if search else lane
    signed_in = account.signed_in()
    choice = parse_model(model or default_model(account), signed_in=signed_in, lane=lane)
    if choice.credential == "subscription" and not signed_in:
        raise signed_out(NotSignedIn("Nobody is signed in."), account.config, choice.display_id)
    proxy = choice.credential == "subscription" and account.config.on_proxy
    body = build_request(choice, messages, stream=stream, thinking=thinking, params=params, proxy=proxy, search=search)
    fault = fault_in(body)  # a lone surrogate or a NaN, refused by name before the conversation id hashes it
    if fault is not None:
        raise fault
    return choice, without_inline_citations(body) if account.config.reaches_xai(choice.credential) else body


def _conversation_headers(
    account: Account, choice: ModelChoice, body: dict[str, Any], explicit: str | None, mode: str
) -> dict[str, str]:
    """This request's ``x-grok-*`` headers (and, on the Responses lane, its ``prompt_cache_key``)."""
    import uuid

    from ._conversation import conversation_id, grok_headers, turn_index
    from ._conversation_key import conversation_key

    messages = body.get("messages") if choice.lane != RESPONSES else body.get("input")
    messages = [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []
    if choice.lane == RESPONSES and isinstance(body.get("instructions"), str):
        messages = [{"role": "system", "content": body["instructions"]}, *messages]
    conv = conversation_id(conversation_key(account.paths), messages, explicit)
    if choice.lane == RESPONSES:
        body.setdefault("prompt_cache_key", conv)
    return grok_headers(conv, f"xai-oauth-{uuid.uuid4()}", turn_index(messages), conv, mode)


def _stream_deltas(
    transport: Transport, choice: ModelChoice, body: dict[str, Any], timeout: float, sent: dict[str, str]
) -> Iterator[str | dict[str, Any]]:
    """Yields text deltas, then the final answer dict."""
    from ..transport._http import EventStream

    opening = transport.open_stream(
        choice.credential,
        choice.display_id,
        choice.path,
        body,
        timeout=timeout,
        model_id=choice.model_id,
        extra_headers=sent,
    )
    with opening as opened:
        if isinstance(opened, EventStream):
            reader = new_stream(choice)
            for event, data in opened:
                delta = reader.feed(event, data)
                if delta:
                    yield delta
                if reader.done:
                    break
            yield reader.result()
            return
        answer = opened
    # a gateway that ignored stream=True and answered whole
    if not isinstance(answer.body, dict):
        raise MalformedResponse("The chat answer is neither an event stream nor JSON.", http_status=200)
    whole = read_answer(choice, answer.body)
    if whole["content"]:
        yield whole["content"]
    yield whole
