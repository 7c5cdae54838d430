"""The emulated Imagine over HTTP: image and video requests, video jobs, and the generated files.

What a request makes lives in ``Studio`` (``_media``); this module checks the bearer (the subscription's token
and the API key alike), records the request and writes the answer.
"""

from __future__ import annotations

from ._api import ApiRefusal
from ._exchange import Exchange

__all__ = ["generate", "media_file", "video_status"]


def generate(ex: Exchange, path: str) -> None:
    """``/v1/images/generations``, ``/v1/images/edits`` and ``/v1/videos/generations``."""
    emulator = ex.emulator
    raw = ex.body()
    claims = ex.claims()
    if claims is None:
        return
    allowed = ex.models_of(claims)
    body = ex.recorded_body(path, raw)
    if body is None:
        return
    settings = emulator.authority.settings
    try:
        if path.startswith("/v1/images/"):
            answer = emulator.studio.image(path, body, allowed, claims.get("tier"), settings, emulator.url)
        else:
            answer = emulator.studio.start_video(body, allowed, claims.get("tier"), settings, _owner(ex))
    except ApiRefusal as refused:
        ex.json(refused.status, refused.body)
        return
    if not ex.misbehave(path, after=True):
        ex.json(200, answer)


def video_status(ex: Exchange, path: str) -> None:
    """``GET /v1/videos/{id}``: 202 while pending (with ``Retry-After`` when set), then the outcome."""
    if ex.claims() is None:
        return
    settings = ex.emulator.authority.settings
    status, answer = ex.emulator.studio.read_video(
        path.removeprefix("/v1/videos/"), settings, ex.emulator.url, _owner(ex)
    )
    retry = settings.video_retry_after
    ex.json(status, answer, {"Retry-After": f"{retry:g}"} if status == 202 and retry is not None else None)


def _owner(ex: Exchange) -> str:
    """Whose a video job is: the account's ``sub``, or the API key's (one key, one owner)."""
    return ex.subject if ex.credential == "subscription" else "api_key"


def media_file(ex: Exchange, path: str) -> None:
    """``GET /_media/<name>``: a generated picture or clip."""
    kept = ex.emulator.studio.file(path.removeprefix("/_media/"))
    if kept is None:
        ex.json(404, {"error": "not_found"})
    else:
        ex.send(200, kept[0], kept[1])
