"""Anthropic Messages on the local server: ``POST /v1/messages`` (whole and streamed) and ``count_tokens``.

Claude Code and the anthropic SDKs speak this format. The request becomes
the chat-completions pivot (``wire._anthropic``), the answer comes back as
neutral events from ``Upstream`` and leaves as Anthropic's event sequence
(``MessagesStreamWriter``) or one message, so every model on either xAI lane
works here. With thinking, the request goes to the Responses lane, so the
answer's reasoning comes back sealed as the thinking block's signature, and
the signature sent back on the next turn reaches xAI as its reasoning item.
``claude-*`` names are mapped by family to the account's Grok models
(``--model-map`` overrides); a Grok id is taken as it is; anything else is a
404 that lists what is available. Errors use Anthropic's shape.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .._exceptions import ModelNotFound, RequestRejected, XaiOAuthError
from .._models import shown_id
from ..wire._anthropic import count_tokens, messages_to_chat
from ..wire._anthropic_models import model_for
from ..wire._anthropic_stream import MessagesStreamWriter, answer_to_message, error_body, sse
from ..wire._events import Event
from ..wire._requests import FieldPolicy
from ._bodies import read_json
from ._errors import problem_for
from ._openai import _fold, _frames, _sse, state_of
from ._pool import explicit_key
from ._streaming import opening

if TYPE_CHECKING:
    from ._state import ServerState

__all__ = ["anthropic_error", "count_message_tokens", "messages"]


def anthropic_error(error: XaiOAuthError) -> JSONResponse:
    problem = problem_for(error)
    return JSONResponse(
        error_body(problem.status, problem.message), status_code=problem.status, headers=problem.headers
    )


async def messages(request: Request) -> Response:
    state = state_of(request)
    try:
        body = await read_json(request)
        asked = body.get("model")
        if not isinstance(asked, str) or not asked.strip():
            raise RequestRejected(
                "The request names no model.", action="Set model, e.g. claude-sonnet-4-5 or grok-4.3."
            )
        model = await _grok_model(state, asked)
        translated = messages_to_chat(body, policy=FieldPolicy.LENIENT)
        chat = {**translated.chat, "model": model}
        if translated.search:
            chat["search"] = translated.search
        if translated.keeps_reasoning:  # the Responses lane, where xAI's sealed reasoning comes and goes
            chat["keep_reasoning"] = translated.reasoning_items
        choice = state.pool.choose(model)
        events = state.pool.events(choice, chat, shown_model=asked, conversation=explicit_key(request.headers, body))
        opened = await opening(events, state.settings.keepalive if body.get("stream") else None)
    except XaiOAuthError as error:
        return anthropic_error(error)
    if not body.get("stream"):
        answer = await _fold(opened.first, events)
        if answer.failure is not None:
            status = answer.failure.status or 502
            return JSONResponse(error_body(status, answer.failure.message), status_code=status)
        return JSONResponse(answer_to_message(answer, asked))
    writer = MessagesStreamWriter(asked, input_tokens=count_tokens(body))

    def write(event: Event) -> list[bytes]:
        return [sse(name, data) for name, data in writer.write(event)]

    ping = sse(*writer.ping())
    return _sse(_frames(opened, events, state.settings.keepalive, write, ping))


async def count_message_tokens(request: Request) -> Response:
    """An estimate (``wire._anthropic.count_tokens`` says how it is made): xAI has no counting endpoint here."""
    try:
        body = await read_json(request)
        messages_to_chat(body, policy=FieldPolicy.LENIENT)  # the same refusals as a real request
    except XaiOAuthError as error:
        return anthropic_error(error)
    return JSONResponse({"input_tokens": count_tokens(body)})


async def _grok_model(state: ServerState, asked: str) -> str:
    """The Grok model for ``asked``; ``model_not_found`` listing what there is."""
    available = await state.models()
    plain = [m for m in available if not m.startswith("xai/")]
    chosen = model_for(asked, plain or available, state.settings.model_map)
    if chosen is None:
        raise ModelNotFound(
            f"{shown_id(asked)} is not a model this server knows. Available: {', '.join(available) or 'none'}; "
            "claude-* names are mapped to Grok models by family (opus, sonnet, haiku).",
            action="Ask for one of the listed ids, or map claude-* names with `xai-oauth serve --model-map`.",
        )
    return chosen
