"""The floor of the server's stack: a Starlette app on uvicorn that hands the chat proxy's bytes on untouched.

``bench_serve.py`` runs it in its own process beside ``xai-oauth serve``: the same question, the same
upstream, the same uvicorn (uvloop, httptools) and Starlette ``StreamingResponse``, the same httpx2
``AsyncClient`` with one kept-alive connection, but no client key, no translation, no token keeper, no
deadline, no pool: the bearer and the proxy's headers are read from a JSON file (``PASSTHROUGH_CALL``)
written by the benchmark. What it adds to a request is what the stack itself costs, which no work in
``xai_oauth.server`` can go below.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator

import httpx2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

with open(os.environ["PASSTHROUGH_CALL"]) as called:
    CALL = json.load(called)
CLIENT = httpx2.AsyncClient(timeout=60, trust_env=False)


async def chat_completions(request: Request) -> StreamingResponse:
    sent = CLIENT.build_request("POST", CALL["url"], content=await request.body(), headers=CALL["headers"])
    answer = await CLIENT.send(sent, stream=True)

    async def body() -> AsyncIterator[bytes]:
        try:
            async for chunk in answer.aiter_raw():
                yield chunk
        finally:
            await answer.aclose()

    return StreamingResponse(body(), media_type="text/event-stream")


app = Starlette(routes=[Route("/v1/chat/completions", chat_completions, methods=["POST"])])
