"""The floor of the server's stack: a Starlette app on uvicorn that hands the chat proxy's bytes on untouched.

``bench_serve.py`` runs it in its own process beside ``xai-oauth serve``: the same question, the same
upstream, the same uvicorn (uvloop, httptools) and Starlette ``StreamingResponse``, one kept-alive
connection upstream, but no client key, no translation, no token keeper, no deadline, no pool: the bearer
and the proxy's headers are read from a JSON file (``PASSTHROUGH_CALL``) written by the benchmark. What it
adds to a request is what the stack itself costs, which no work in ``xai_oauth.server`` can go below.

``PASSTHROUGH_CLIENT`` picks the upstream client: ``httpx2`` (the server's own, the default) or
``aiohttp`` (in the bench extra, through LiteLLM), to show what the choice of client costs on its own.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

with open(os.environ["PASSTHROUGH_CALL"]) as called:
    CALL = json.load(called)
CLIENT = os.environ.get("PASSTHROUGH_CLIENT", "httpx2")
_clients: dict[str, Any] = {}


async def _httpx2(body: bytes) -> AsyncIterator[bytes]:
    import httpx2

    client = _clients.get("httpx2") or _clients.setdefault("httpx2", httpx2.AsyncClient(timeout=60, trust_env=False))
    answer = await client.send(
        client.build_request("POST", CALL["url"], content=body, headers=CALL["headers"]), stream=True
    )
    try:
        async for chunk in answer.aiter_raw():
            yield chunk
    finally:
        await answer.aclose()


async def _aiohttp(body: bytes) -> AsyncIterator[bytes]:
    import aiohttp

    session = _clients.get("aiohttp") or _clients.setdefault("aiohttp", aiohttp.ClientSession())
    async with session.post(CALL["url"], data=body, headers=CALL["headers"]) as answer:
        async for chunk in answer.content.iter_any():
            yield chunk


async def chat_completions(request: Request) -> StreamingResponse:
    chunks = (_aiohttp if CLIENT == "aiohttp" else _httpx2)(await request.body())
    first = await chunks.__anext__()  # the answer has begun upstream before the response starts, as in the server

    async def body() -> AsyncIterator[bytes]:
        yield first
        async for chunk in chunks:
            yield chunk

    return StreamingResponse(body(), media_type="text/event-stream")


app = Starlette(routes=[Route("/v1/chat/completions", chat_completions, methods=["POST"])])
