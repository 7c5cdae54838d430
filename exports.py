"""Plain functions that return JSON-ready dicts: the agent's (and the quick script's) way in.

Each export is a few lines over ``xai_oauth.Client`` (and its ``Account``) and returns either
``{"ok": True, ...}`` or ``{"ok": False, "error": <code>, "message": ...,
"action": ...}``. This is the only place where exceptions become dicts; no
export raises for network trouble, bad server answers or bad local files.

Used the agent's way, with the skill folder on ``sys.path``::

    python3 - <<'EOF'
    import json, sys; sys.path.insert(0, "<skill dir>")
    from exports import start
    print(json.dumps(start()))
    EOF

Imports are lazy: ``status()`` touches only the standard library's os, time
and json, so it answers in a fresh process in a few milliseconds.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing's own flag costs a 15 ms import; mypy honours this name too
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from xai_oauth.api._client import Client

__all__ = ["chat", "image", "logout", "models", "poll", "refresh", "start", "status", "usage", "video", "video_status"]


def _missing_dependency_action() -> str:
    """SKILL.md's install line, with this skill's folder in it (a literal ``SKILL_DIR`` helped nobody)."""
    import os
    import shlex

    here = os.path.dirname(os.path.abspath(__file__))
    venv = shlex.quote(os.path.join(here, ".venv"))
    python = shlex.quote(os.path.join(here, ".venv", "bin", "python"))
    return (
        "Install the skill into a virtual environment in its folder (this works on a system Python that refuses "
        f"pip, PEP 668): python3 -m venv {venv} && {python} -m pip install -q -e {shlex.quote(here + '[emulator]')}  "
        "(the python3 blocks find .venv on their own)."
    )


def _use_skill_venv() -> None:
    """Let the agent's plain ``python3`` use the packages installed in ``<skill folder>/.venv``.

    On a system Python that refuses ``pip install`` (PEP 668), the skill's
    dependencies go into a venv next to this file, so every heredoc keeps
    saying ``python3``. Its site-packages goes right *after* the skill folder
    on ``sys.path`` (the folder itself first, so the checkout beside this file
    wins over any copy installed in the venv), and before the system's
    site-packages: an older httpx2 or certifi there must not shadow the
    versions the skill installed. One ``stat`` when there is no venv.
    """
    import os
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    venv = os.path.join(here, ".venv")
    for site in (os.path.join(venv, "lib", version, "site-packages"), os.path.join(venv, "Lib", "site-packages")):
        if os.path.isdir(site) and site not in sys.path:
            folder = [i for i, entry in enumerate(sys.path) if entry and os.path.abspath(entry) == here]
            sys.path.insert(folder[0] + 1 if folder else 0, site)


_use_skill_venv()


def start(force: bool = False) -> dict[str, Any]:
    """Begin signing in: returns the link (with the code in it) for the person to open and approve.

    Keys on success: status ("pending"), verification_url_with_code,
    verification_url, user_code, expires_in, expires_at, interval. A sign-in
    already waiting is returned again (same code, ``resumed: true``) unless
    ``force=True``; a sign-in that works answers ``already_signed_in`` unless
    ``force=True`` (which replaces it once the new one is approved).
    """
    return _call(lambda client: client.account.start(force=force))


def poll(wait: bool = False, timeout: float | None = None) -> dict[str, Any]:
    """Check once whether the person approved; ``wait=True`` keeps checking (for scripts, not agents).

    status "connected" (with tier, tier_name, expires_at, default_model_id)
    or "pending" (with retry_after); errors: access_denied, expired,
    no_pending_login, ...
    """
    return _call(lambda client: _with_models(client, client.account.poll(wait=wait, timeout=timeout)))


def _with_models(client: Client, result: dict[str, Any]) -> dict[str, Any]:
    """A fresh connection lists its models once (best effort), so status() shows them and the person can switch.

    No default is claimed that the subscription did not list: when its
    listing fails or is empty, ``default_model_id`` is None and a note says
    why (an API key's models may still be listed beside it).
    """
    from xai_oauth._exceptions import XaiOAuthError

    if result.get("status") != "connected":
        return result
    notes = list(result.get("notes") or [])
    try:
        listing = client.models()
    except Exception as exc:  # noqa: BLE001 - a listing is a nicety: the sign-in stands without it
        said = f"{exc.message} ({exc.code})" if isinstance(exc, XaiOAuthError) else type(exc).__name__
        notes = [n for n in notes if not n.startswith("No default model")]
        said = f"No default model: the subscription's models could not be listed: {said}"
        return {**result, "default_model_id": None, "notes": [*notes, said]}
    ids = [m["id"] for m in listing["models"]]
    notes += listing.get("notes", [])
    default = listing.get("default_model_id") or result.get("default_model_id")
    if not any(m.get("credential") == "subscription" for m in listing["models"]):
        default = default if default and default == client.config.default_model else None
        if not any(n.startswith("No default model") for n in notes):
            notes.append("No default model: the subscription listed no chat models (see models()).")
    example = default or (ids[0] if ids else "xai-grok/<id>")
    return {
        **result,
        "default_model_id": default,
        "models": ids,
        "switch_hint": f"Switch models with chat(model=...), e.g. chat(model={example!r}); the ids are in models.",
        **({"notes": notes} if notes else {}),
    }


def status() -> dict[str, Any]:
    """Where the sign-in stands, offline: connected, state, tier, expires_in, storage, models."""
    try:
        from xai_oauth.auth._status import current_status

        return current_status()
    except Exception as exc:  # noqa: BLE001 - the contract: never raise
        return _failure(exc)


def refresh(force: bool = False) -> dict[str, Any]:
    """Renew the access token when it is due (or always, with ``force``); safe across processes."""
    return _call(lambda client: client.account.refresh(force=force))


def models(refresh: bool = False) -> dict[str, Any]:
    """The models this sign-in (``xai-grok/<id>``) and the API key (``xai/<id>``) can use, and the default.

    Each model has its ``lane`` (chat_completions or responses) and
    ``credential``; when the API cannot be reached the subscription's cached
    list answers, with ``cached: True``; so does a listing under a minute old
    (``refresh=True`` asks xAI anyway). Subscription models carry
    ``context_window`` and ``max_output_tokens`` where xAI gives them.
    """
    return _call(lambda client: client.models(refresh=refresh))


def usage() -> dict[str, Any]:
    """The subscription's usage meter, from xAI's chat proxy: credit_usage_percent, period, tier.

    The reading is cached: status() shows the last one offline, with its age.
    """
    return _call(lambda client: client.usage())


def chat(
    model: str | None = None,
    messages: list[dict[str, Any]] | str | None = None,
    stream: bool = False,
    thinking: dict[str, str] | None = None,
    conversation: str | None = None,
    **params: Any,
) -> dict[str, Any]:
    """Ask a Grok model; the lane (chat completions or responses) follows from the model.

    ``model``: ``xai-grok/<id>`` (subscription), ``xai/<id>`` (API key) or a
    bare id; None means the default. ``messages``: chat messages, or a string
    for one user message. ``thinking={"effort": "low"|"medium"|"high"}``.
    Other parameters (temperature, max_tokens, tools, ...) pass through where
    the lane takes them. ``search=["web", "x"]`` lets any model search the web
    and X on xAI's side, and the answer lists its ``citations`` (``[{url, title}]``)
    and what the web search asked (``searched``, a list of queries);
    ``lane="responses"`` sends any model to the Responses API. With
    ``stream=True`` the text is printed to stdout as it arrives (then a
    newline), and the same final dict is returned:
    ``{"ok": True, "model", "lane", "content", "finish_reason", "usage", "tool_calls"}``.
    Turns of one conversation share a cache id derived from its start (so
    ``usage.cached_tokens`` can grow from turn two on, even across processes);
    ``conversation="name"`` names the conversation instead.
    """
    if not stream:
        return _call(
            lambda client: client.chat(model, messages, thinking=thinking, conversation=conversation, **params)
        )
    printed: list[str] = []

    def run(client: Client) -> dict[str, Any]:
        deltas = client.stream(model, messages, thinking=thinking, conversation=conversation, **params)
        try:
            for delta in deltas:
                printed.append(delta)
                print(delta, end="", flush=True)
        finally:
            if printed:
                print(flush=True)
        return deltas.result or {}

    result = _call(run)
    if not result["ok"] and printed:
        result["partial_content"] = "".join(printed)
    return result


def image(
    prompt: str,
    model: str | None = None,
    n: int = 1,
    aspect_ratio: str | None = None,
    image: str | None = None,
    out_dir: str | None = None,
) -> dict[str, Any]:
    """Make images (or edit the local picture ``image``) and save them: ``{ok, files, model, revised_prompt}``.

    ``files`` are absolute paths in ``out_dir`` (default: ``XAI_OAUTH_MEDIA_DIR``,
    else ``./grok-media``); the pictures never enter the dict. ``model``:
    ``xai-grok/<id>`` (subscription) or ``xai/<id>`` (API key); None takes the
    first image model the listing names.
    """
    return _call(
        lambda client: client.image(prompt, model, n=n, aspect_ratio=aspect_ratio, image=image, out_dir=out_dir)
    )


def video(
    prompt: str,
    model: str | None = None,
    duration: int | None = None,
    aspect_ratio: str | None = None,
    resolution: str | None = None,
    image: str | None = None,
    out_dir: str | None = None,
    wait: bool = True,
    timeout: float = 600,
) -> dict[str, Any]:
    """Make a video clip (from the local picture ``image``, if given): ``{ok, status: "done", file, model, duration}``.

    An agent should pass ``wait=False``: it answers at once with
    ``{status: "pending", request_id}``, and ``video_status(request_id)``
    checks again later. Also "pending" when ``timeout`` seconds pass first.
    """
    return _call(
        lambda client: client.video(
            prompt,
            model,
            duration=duration,
            aspect_ratio=aspect_ratio,
            resolution=resolution,
            image=image,
            out_dir=out_dir,
            wait=wait,
            timeout=timeout,
        )
    )


def video_status(request_id: str, wait: bool = False, timeout: float = 600) -> dict[str, Any]:
    """Check a video job once: ``status`` "pending" (with ``retry_after``) or "done" with its ``file``."""
    return _call(lambda client: client.video_status(request_id, wait=wait, timeout=timeout))


def logout() -> dict[str, Any]:
    """Revoke the sign-in at xAI (best effort) and forget every local trace of it. Idempotent."""
    return _call(lambda client: client.account.logout())


def _call(action: Callable[[Client], dict[str, Any]]) -> dict[str, Any]:
    try:
        from xai_oauth.api._client import Client

        with Client() as client:
            return _json_safe({"ok": True, **action(client)})
    except Exception as exc:  # noqa: BLE001 - the contract: never raise
        return _failure(exc)


def _json_safe(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` with every NaN or infinite float (a ``Retry-After: inf``, say) as None.

    ``json.dumps`` would print ``Infinity``, which is not JSON, and the agent's parser would refuse the whole answer.
    """
    return {name: _finite(value) for name, value in result.items()}


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if value - value == 0 else None  # inf - inf and nan - nan are nan
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _failure(exc: Exception) -> dict[str, Any]:
    """The error dict for ``exc``. Unknown exceptions are named by type only: their text could hold anything.

    With ``XAI_OAUTH_DEBUG=1`` the dict also carries the traceback, token-shaped text redacted.
    """
    import os

    result = _json_safe(_describe(exc))
    if os.environ.get("XAI_OAUTH_DEBUG") == "1":
        import traceback

        from xai_oauth._redact import redact

        result["traceback"] = redact("".join(traceback.format_exception(exc)))
    return result


def _describe(exc: Exception) -> dict[str, Any]:
    from xai_oauth._exceptions import XaiOAuthError

    if isinstance(exc, XaiOAuthError):
        return {"ok": False, "error": exc.code, "message": exc.message, "action": exc.action, **exc.details}
    if isinstance(exc, ModuleNotFoundError) and exc.name and exc.name.split(".")[0] in _DEPENDENCIES:
        return {
            "ok": False,
            "error": "missing_dependency",
            "message": f"The Python package {exc.name.split('.')[0]!r} is not installed.",
            "action": _missing_dependency_action(),
        }
    return {
        "ok": False,
        "error": "internal",
        "message": f"Unexpected {type(exc).__name__} inside xai-oauth.",
        "action": "Try again; if it repeats, report it with the steps that led here (never include tokens).",
    }


_DEPENDENCIES = frozenset({"httpx2", "httpcore2", "jwt", "keyring", "filelock", "cryptography"})
