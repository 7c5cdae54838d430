"""The emulated api.x.ai and chat proxy over HTTP: model listings, the two text lanes (whole or streamed), and
the proxy's account endpoints and its rules.

The prompt cache is pretend, and only as strict as a test needs: keyed by
``x-grok-conv-id``, a request's cached tokens are those of the longest
leading run of messages it shares with the last request of that id, so the
same id with a changed start misses. How xAI's real cache behaves (what it
keys on, how long it keeps a prefix) is not verified here.

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
from ._tools import text_of

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
    elif path == "/v1/models-v2":  # the shape grok-build's remote model parser reads
        listed = [m for m in ex.emulator.authority.models_for(claims.get("tier")) if "imagine" not in m]
        limits = {"contextWindow": settings.context_window, "maxCompletionTokens": settings.max_output_tokens}
        ex.json(200, {"data": [{"model": m, "name": m, **limits} for m in listed]})
    elif path == "/v1/settings":
        ex.json(200, {"default_model": settings.proxy_default_model})
    elif path == "/v1/billing":
        now = time.time()
        period = {"type": "USAGE_PERIOD_TYPE_WEEKLY", "start": _iso(now - 2 * 86400), "end": _iso(now + 5 * 86400)}
        config: dict[str, Any] = {"creditUsagePercent": settings.credit_usage_percent, "currentPeriod": period}
        for name, cents in (
            ("onDemandCap", settings.on_demand_cap_cents),
            ("onDemandUsed", settings.on_demand_used_cents),
            ("prepaidBalance", settings.prepaid_balance_cents),
        ):
            if cents is not None:
                config[name] = {"val": cents} if cents else {}  # proto3 JSON leaves a zero out
        if settings.unified_billing is not None:
            config["isUnifiedBillingUser"] = settings.unified_billing
        ex.json(200, {"config": config})
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
    if refusal is None and ex.proxy and settings.spending_limit_reached:
        refusal = (403, "personal-team-blocked:spending-limit", "Your team has reached its spending limit.")
    if refusal is not None:
        ex.refuse(*refusal)
        return
    lane = chat_completions if path == "/v1/chat/completions" else responses
    try:
        reply = lane(body, allowed, repeat=settings.reply_repeat, cached=_cached_tokens(ex, body))
    except ApiRefusal as refused:
        ex.json(refused.status, refused.body)
        return
    if body.get("stream"):
        _stream(ex, path, reply)
    elif not ex.misbehave(path, after=True):
        ex.emulator.count(ex.emulator.answered, ex.headers.get(REQUEST_ID_HEADER))
        ex.json(200, reply.whole)


def _cached_tokens(ex: Exchange, body: dict[str, Any]) -> int:
    """The pretend cache's hit for this request (see the module's note), and this request kept for the next."""
    conv = ex.headers.get("x-grok-conv-id")
    messages = body.get("messages") if "messages" in body else body.get("input")
    if not conv or not isinstance(messages, list):
        return 0
    sent = [[m.get("role"), m.get("content")] for m in messages if isinstance(m, dict)]
    before = ex.emulator.prompt_cache.get(conv, [])
    shared = 0
    while shared < min(len(before), len(sent)) and before[shared] == sent[shared]:
        shared += 1
    ex.emulator.prompt_cache[conv] = sent
    return sum(len(text_of(content).split()) for _, content in sent[:shared])


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
