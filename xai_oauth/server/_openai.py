"""The OpenAI-compatible endpoints: chat completions, Responses, the model list, media, and the API key's rest.

Chat completions go through the chat-completions pivot (``wire``) to the
model's own lane, so any model works there. A Responses request goes to xAI's
/responses as it is, for every model (xAI serves them all there), after the
policy step of ``wire._responses_policy``: reasoning items and their
``encrypted_content`` survive. Both ask ``Upstream`` for neutral events and
write them back in their own format, one event at a time
(``ChatChunkWriter``, ``ResponsesEventWriter``) or folded into one body.

Media go to api.x.ai with the right credential (the subscription's bearer
or the key), as ``image()`` and ``video()`` send them. Any other ``/v1/*``
path (files, batches, embeddings, tokenize, ...) goes to ``XAI_BASE_URL``
with the API key only: the subscription's token never travels to an
endpoint the subscription does not serve. A client's path is passed on as
it was sent (percent-encoded), and the transport refuses one that would
leave the API's ``/v1`` (``_transport_rules.url``: no ``..``, no encoded
slash) with a 400, before any credential is sent. An answer passed on
whole is scrubbed first (``_redact.redact_json``): every secret this process
holds, and in a refusal anything token-shaped, as an upstream's error may
echo the key it was sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from .._exceptions import NotSignedIn, RequestRejected, XaiOAuthError
from .._redact import redact_json
from ..transport._answer import Answer as HttpAnswer
from ..wire._events import Answer, Event, Failure
from ..wire._openai_chat import ChatChunkWriter, answer_to_chat_completion
from ..wire._openai_errors import openai_error_body
from ..wire._openai_responses_writer import ResponsesEventWriter, answer_to_response
from ..wire._responses_policy import responses_for_xai
from ._bodies import read_json
from ._errors import problem_for
from ._pool import explicit_key
from ._streaming import KEEPALIVE, Opening, data_line, event_line, opening, paced_batches

if TYPE_CHECKING:
    from ._state import ServerState
    from ._upstream import Upstream

__all__ = ["chat_completions", "list_models", "media", "openai_error", "passthrough", "responses"]

_log = logging.getLogger("xai_oauth.server")
IMAGE_TIMEOUT = 300.0
MEDIA_TIMEOUT = 60.0


def openai_error(error: XaiOAuthError) -> JSONResponse:
    problem = problem_for(error)
    body = openai_error_body(problem.status, problem.message, problem.code)
    return JSONResponse(body, status_code=problem.status, headers=problem.headers)


def state_of(request: Request) -> ServerState:
    return request.app.state.xai  # type: ignore[no-any-return]


async def chat_completions(request: Request) -> Response:
    state = state_of(request)
    try:
        body = await read_json(request)
        model = _model(body)
        choice = state.pool.choose(model)
        events = state.pool.events(choice, body, shown_model=model, conversation=explicit_key(request.headers, body))
        opened = await opening(events, state.settings.keepalive if body.get("stream") else None)
    except XaiOAuthError as error:
        return openai_error(error)
    if not body.get("stream"):
        answer = await _fold(opened.first, events)
        if answer.failure is not None:
            return _failed(answer)
        return JSONResponse(answer_to_chat_completion(answer))
    options = body.get("stream_options")
    writer = ChatChunkWriter(include_usage=isinstance(options, dict) and bool(options.get("include_usage")))
    return _sse(_frames(opened, events, state.settings.keepalive, lambda event: map(data_line, writer.write(event))))


async def responses(request: Request) -> Response:
    state = state_of(request)
    try:
        body = await read_json(request)
        model = _model(body)
        passed = responses_for_xai(body)
        choice = state.pool.choose(model)
        conversation = explicit_key(request.headers, body)
        events = state.pool.events(choice, passed.body, shown_model=model, conversation=conversation, ready=True)
        opened = await opening(events, state.settings.keepalive if body.get("stream") else None)
    except XaiOAuthError as error:
        return openai_error(error)
    if not body.get("stream"):
        answer = await _fold(opened.first, events)
        if answer.failure is not None:
            return _failed(answer)
        return JSONResponse(answer_to_response(answer, body))
    writer = ResponsesEventWriter(request=body, namespaces=passed.namespaces)
    return _sse(_frames(opened, events, state.settings.keepalive, lambda event: map(event_line, writer.write(event))))


async def list_models(request: Request) -> Response:
    """The subscription's models under their plain ids (tools check ids), the API key's as ``xai/<id>``."""
    try:
        listing = await state_of(request).models()
    except XaiOAuthError as error:
        return openai_error(error)
    data = [{"id": model_id, "object": "model", "created": 0, "owned_by": "xai"} for model_id in listing]
    return JSONResponse({"object": "list", "data": data})


async def media(request: Request) -> Response:
    """Images and video: api.x.ai with the credential the model id names (bare ids: the subscription's), from the
    pool's account that takes the request; a video job's state from the account that started it."""
    state = state_of(request)
    path = client_path(request)
    try:
        if request.method == "GET":  # a video job's state

            async def read(upstream: Upstream, credential: str) -> HttpAnswer:
                return await upstream.transport.request(
                    credential, "video job", path, timeout=MEDIA_TIMEOUT, media=True, accept=(200, 202, 404)
                )

            job_id = path.removeprefix("/videos/")
            answer = await state.pool.job(job_id, read)
            if answer.status == 404:
                return _unknown_job(job_id)
        else:
            body = await read_json(request)
            default = "grok-imagine-video" if path.startswith("/videos") else "grok-imagine-image"
            choice = state.pool.choose(body.get("model") or default)
            sent = {**body, "model": choice.model_id}
            timeout = IMAGE_TIMEOUT if path.startswith("/images") else MEDIA_TIMEOUT

            async def make(upstream: Upstream, credential: str) -> HttpAnswer:
                return await upstream.transport.request(
                    credential, choice.display_id, path, sent, timeout=timeout, media=True, max_bytes=256 << 20
                )

            answer = await state.pool.send(choice, make)
    except XaiOAuthError as error:
        return openai_error(error)
    return relayed(answer)


def client_path(request: Request) -> str:
    """The request's path after ``/v1``, as the client sent it (percent-encoded): what goes upstream.

    Not Starlette's decoded path, in which ``%2F`` is already a slash; the
    transport's ``url`` refuses a path that would leave ``/v1``.
    """
    raw = request.scope.get("raw_path")
    sent = raw.decode("latin-1") if isinstance(raw, bytes) else request.url.path
    return sent[sent.index("/v1/") + 3 :] if "/v1/" in sent else sent


def relayed(answer: HttpAnswer) -> Response:
    """An upstream answer passed on as it is, but scrubbed: see the module docstring."""
    if answer.body is None:
        return Response(status_code=answer.status)
    return JSONResponse(redact_json(answer.body, shapes=answer.status >= 400), status_code=answer.status)


def _unknown_job(job_id: str) -> JSONResponse:
    """xAI's 404 for a video job no account here knows, in OpenAI's shape with our code and words."""
    problem = problem_for(
        RequestRejected(
            f"No video job {job_id[:80]!r} is known to xAI's video API for this server's accounts "
            "(expired, never started, or started with another account).",
            action="Pass the request_id that POST /v1/videos/generations returned, or start a new video.",
        )
    )
    return JSONResponse(openai_error_body(404, problem.message, problem.code), status_code=404)


async def passthrough(request: Request) -> Response:
    """Any other ``/v1/*`` path, to ``XAI_BASE_URL`` with the API key only (JSON bodies and GETs)."""
    state = state_of(request)
    path = client_path(request)
    if request.url.query:
        path += "?" + request.url.query
    try:
        if not state.upstream.account.config.api_key:
            raise NotSignedIn(
                f"{request.url.path} is served with an xAI API key only, and none is set; the subscription covers "
                "chat, responses, messages, models, images and video.",
                action="Set XAI_API_KEY (or put it in .env.xai) before starting the server.",
            )
        body = None if request.method in ("GET", "DELETE") else await read_json(request)
        if request.method not in ("GET", "POST"):
            raise RequestRejected(f"{request.method} is not passed on by this server.", action="Use GET or POST.")
        answer = await state.upstream.transport.request(
            "api_key", request.url.path, path, body, timeout=MEDIA_TIMEOUT, accept=tuple(range(200, 600))
        )
    except XaiOAuthError as error:
        return openai_error(error)
    return relayed(answer)


def _model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise RequestRejected("The request names no model.", action="Set model, e.g. grok-4.3 (GET /v1/models).")
    return model


async def _fold(first: Event | None, rest: AsyncIterator[Event]) -> Answer:
    events = [first] if first is not None else []
    events += [event async for event in rest]
    return Answer.fold(events)


def _failed(answer: Answer) -> JSONResponse:
    failure = answer.failure
    assert failure is not None
    return JSONResponse(
        openai_error_body(failure.status, failure.message, failure.code), status_code=failure.status or 502
    )


async def _frames(
    opened: Opening,
    rest: AsyncIterator[Event],
    every: float,
    write: Callable[[Event], Iterable[bytes]],
    keepalive: bytes = KEEPALIVE,
) -> AsyncIterator[bytes]:
    """The stream's bytes: each batch of events that arrived together in one write, keep-alives in the gaps.

    An answer whose first event had not come within ``every`` seconds
    (``opened.pending``) starts with keep-alive comments, one each interval,
    until it comes; a refusal then is the stream's error event (``_streaming``).
    """
    first = opened.first
    if opened.pending is not None:
        try:
            while not opened.pending.done():
                yield KEEPALIVE  # a comment, which every format's reader skips, even before the answer's start
                await asyncio.wait((opened.pending,), timeout=every)
            first = opened.pending.result()
        except XaiOAuthError as error:
            problem = problem_for(error)
            yield b"".join(write(Failure(problem.message, code=problem.code, status=problem.status)))
            return
        finally:
            opened.pending.cancel()  # the client left while it waited: the upstream request goes too
    async for batch in paced_batches(rest, every, first):
        out = keepalive if batch is None else b"".join(line for event in batch for line in write(event))
        if out:
            yield out


def _sse(frames: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(
        frames, media_type="text/event-stream", headers={"cache-control": "no-cache", "x-accel-buffering": "no"}
    )
