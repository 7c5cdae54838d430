"""The emulated api.x.ai and chat proxy over HTTP: model listings, the two text lanes (whole or streamed), and
the proxy's account endpoints and its rules.

What the "model" answers lives in ``_api``; this module checks the bearer, records the request, applies the
chat proxy's rules as xAI's own Grok CLI meets them (``X-XAI-Token-Auth``, ``x-grok-client-version``,
``x-grok-model-override``, streams only but ``grok-build``, ``store: false``) and writes the answer.
"""

from __future__ import annotations

import time
from typing import Any

from .._routes import REQUEST_ID_HEADER
from .._tiers import USER_TIERS
from ._api import ApiRefusal, Reply, chat_completions, responses
from ._exchange import Exchange

__all__ = ["models", "proxy_account", "text"]


def models(ex: Exchange, path: str) -> None:
    """api.x.ai's ``/v1/models``: the bearer's tier's models, or every model for the API key."""
    allowed = ex.allowed_models()
    if allowed is not None:
        ex.json(200, {"object": "list", "data": [{"id": m, "object": "model", "owned_by": "xai"} for m in allowed]})


def proxy_account(ex: Exchange, path: str) -> None:
    """The chat proxy's account endpoints, as xAI's own CLI reads them (every GET on its origin)."""
    claims = ex.claims()
    if claims is None:
        return
    settings = ex.emulator.authority.settings
    tier = settings.live_tier if settings.live_tier is not None else claims.get("tier")
    if path == "/v1/models":
        listed = ex.emulator.authority.models_for(claims.get("tier"))
        ex.json(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in listed]})
    elif path == "/v1/settings":
        ex.json(200, {"default_model": settings.proxy_default_model})
    elif path == "/v1/billing":
        now = time.time()
        period = {"type": "USAGE_PERIOD_TYPE_WEEKLY", "start": _iso(now - 2 * 86400), "end": _iso(now + 5 * 86400)}
        ex.json(200, {"config": {"creditUsagePercent": settings.credit_usage_percent, "currentPeriod": period}})
    elif path == "/v1/user":
        names = {level: name for name, level in USER_TIERS.items()}
        ex.json(200, {"id": claims.get("sub"), "subscription_tier": names.get(tier) if tier else None})
    else:
        ex.refuse(404, "not-found", "not found")


def text(ex: Exchange, path: str) -> None:
    """``/v1/chat/completions`` and ``/v1/responses``, on api.x.ai or the chat proxy."""
    raw = ex.body()
    allowed = ex.allowed_models()
    if allowed is None:
        return
    body = ex.recorded_body(path, raw)
    if body is None:
        return
    settings = ex.emulator.authority.settings
    refusal = _proxy_refusal(ex, path, body) if ex.proxy else None
    billed = not ex.proxy and ex.credential == "subscription" and settings.api_bills_oauth
    if refusal is None and billed:
        refusal = (429, "subscription:free-usage-exhausted", "Free usage exhausted; add API credits.")
    if refusal is not None:
        ex.refuse(*refusal)
        return
    lane = chat_completions if path == "/v1/chat/completions" else responses
    try:
        reply = lane(body, allowed, repeat=settings.reply_repeat)
    except ApiRefusal as refused:
        ex.json(refused.status, refused.body)
        return
    if body.get("stream"):
        _stream(ex, path, reply)
    elif not ex.misbehave(path, after=True):
        ex.emulator.count(ex.emulator.answered, ex.headers.get(REQUEST_ID_HEADER))
        ex.json(200, reply.whole)


def _proxy_refusal(ex: Exchange, path: str, body: dict[str, Any]) -> tuple[int, str, str] | None:
    """What the chat proxy says no to, in the body or in the headers that must agree with it."""
    model = body.get("model")
    if ex.headers.get("x-grok-model-override") != model:
        return 400, "invalid-argument", "x-grok-model-override must name the model in the body"
    if body.get("stream") is not True and model != "grok-build":
        return 400, "invalid-argument", f"{model} is served only as a stream; send stream: true"
    if path.endswith("/responses") and body.get("store") is not False:
        return 400, "invalid-argument", "the CLI proxy stores no responses; send store: false"
    return None


def _stream(ex: Exchange, path: str, reply: Reply) -> None:
    """Server-sent events over chunked transfer, with a keep-alive comment first: one write per event."""
    fault = ex.emulator.take_fault(path, True, ex.account)
    events = reply.events
    if fault is not None and fault.cut_stream:
        events = events[: len(events) // 2]
    ex.emulator.count(ex.emulator.answered, ex.headers.get(REQUEST_ID_HEADER))
    ex.send_response(200)
    ex.send_header("Content-Type", "text/event-stream")
    ex.send_header("Cache-Control", "no-store")
    ex.send_header("Transfer-Encoding", "chunked")
    ex.end_headers()  # buffered: leaves with the first event

    def chunk(text: str) -> None:
        data = text.encode()
        ex.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        ex.wfile.flush()

    chunk(": keep-alive\n\n")
    delay = ex.emulator.authority.settings.stream_delay
    for name, data in events:
        if delay:
            time.sleep(delay)
        chunk((f"event: {name}\n" if name else "") + f"data: {data}\n\n")
    if fault is not None and fault.drop:
        ex.wfile.write(b"40\r\npartial")  # a chunk that never completes
        ex.wfile.flush()
        ex.close_connection = True
        ex.connection.shutdown(2)
        return
    ex.wfile.write(b"0\r\n\r\n")
    ex.wfile.flush()


def _iso(when: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))
