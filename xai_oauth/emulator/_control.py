"""The emulator's test-control endpoints (``/_emulator/*``), and who may use them.

They approve sign-ins, inject faults and change settings, so a web page in the person's browser must not reach
them, directly or by DNS rebinding. A request must carry the emulator's control token (random per emulator,
``Emulator.control_token``, shown in the banner) in ``X-Emulator-Token``, name this emulator in ``Host`` (a
loopback name or address with its port), and send its body as ``application/json`` (a form or ``text/plain``
post is what a page can send without asking). Malformed JSON is a 400 JSON error, never a traceback.

    POST /_emulator/approve | deny | expire   {"user_code": ...}  (approve also takes "email" and "tier": as whom)
    POST /_emulator/revoke_account           {"account": email or sub}
    POST /_emulator/inject   {"path", "status", "body", "content_type", "times", "delay", "drop", "after", "cut_stream",
                              "account", "retry_after"}
    POST /_emulator/settings {any field of Settings}
    GET  /_emulator/stats
"""

from __future__ import annotations

import hmac
import json
from dataclasses import fields
from typing import Any

from ._authority import Settings
from ._exchange import Exchange
from ._faults import Fault

__all__ = ["TOKEN_HEADER", "control"]

TOKEN_HEADER = "X-Emulator-Token"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def control(ex: Exchange, path: str) -> None:
    """Serve ``/_emulator/<command>`` once the request has shown it comes from the test, not from a page."""
    raw = ex.body() if ex.command == "POST" else b""
    refusal = _refusal(ex)
    if refusal is not None:
        ex.json(*refusal)
        return
    command = path.removeprefix("/_emulator/")
    if ex.command == "GET":
        if command == "stats":
            ex.json(200, ex.emulator.stats())
        else:
            ex.json(404, {"error": "unknown control command"})
        return
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        data = None
    if not isinstance(data, dict):
        ex.json(400, {"error": "invalid_request", "error_description": "the body must be a JSON object"})
        return
    _command(ex, command, data)


def _refusal(ex: Exchange) -> tuple[int, dict[str, str]] | None:
    """Why this request may not use the controls (status and error body), or None."""
    port = ex.connection.getsockname()[1]  # this server's own port
    host = (ex.headers.get("Host") or "").strip().lower()
    if host not in {f"{name}:{port}" for name in LOOPBACK_NAMES}:
        return 403, {"error": "forbidden_host", "error_description": f"Host must be a loopback name with port {port}"}
    token = ex.headers.get(TOKEN_HEADER) or ""
    if not hmac.compare_digest(token.encode(), ex.emulator.control_token.encode()):
        return 403, {"error": "control_token_required", "error_description": f"send {TOKEN_HEADER}"}
    if ex.command == "POST" and ex.headers.get_content_type() != "application/json":
        return 415, {"error": "unsupported_media_type", "error_description": "send the body as application/json"}
    return None


def _command(ex: Exchange, command: str, data: dict[str, Any]) -> None:
    emulator = ex.emulator
    if command == "approve" and isinstance(data.get("email"), str):
        ok = emulator.approve(str(data.get("user_code", "")), email=data["email"], tier=data.get("tier", 1))
        ex.json(200 if ok else 404, {"ok": ok})
    elif command in ("approve", "deny", "expire"):
        ok = getattr(emulator, command)(str(data.get("user_code", "")))
        ex.json(200 if ok else 404, {"ok": ok})
    elif command == "revoke_account":
        ex.json(200, {"ended": emulator.revoke_account(str(data.get("account", "")))})
    elif command == "inject":
        try:
            fault = Fault.from_json(data)
        except ValueError as error:
            ex.json(400, {"error": "invalid_request", "error_description": f"not a fault: {error}"})
            return
        emulator.inject(fault)
        ex.json(200, {"ok": True})
    elif command == "settings":
        known = {f.name for f in fields(Settings)}
        for name, value in data.items():
            if name in known:
                setattr(emulator.authority.settings, name, value)
        ex.json(200, {"ok": True})
    else:
        ex.json(404, {"error": "unknown control command"})
