"""Images and video: request bodies, answers, where files may come from and where they go. Pure but for files.

xAI's own Grok CLI makes images and video on ``api.x.ai`` with the
subscription's OAuth bearer (or an API key): ``POST /images/generations``
(``/images/edits`` with a reference image) answers at once; ``POST
/videos/generations`` answers a ``request_id`` whose job is then read with
``GET /videos/{id}`` (202 ``pending`` until 200 ``done``, ``failed`` or
``expired``). Its Free and X Basic users are refused before any request:
Imagine has no allowance for those tiers.

Answers never carry media into a dict an agent prints: images arrive as
base64 (or as URLs, downloaded only from xAI's hosts or loopback), and are
written as files whose absolute paths are returned.
"""

from __future__ import annotations

import base64
import binascii
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .._exceptions import ContentRefused, GenerationFailed, MalformedResponse, RequestRejected
from .._numbers import bounded
from .._routes import SUBSCRIPTION_DOMAINS, is_loopback_host, split_url
from ._b64_scan import MARKER

__all__ = [
    "DEFAULT_IMAGE_MODEL",
    "DEFAULT_VIDEO_MODEL",
    "MAX_IMAGES",
    "MAX_VIDEO_SECONDS",
    "RESTRICTED_TIERS",
    "VideoJob",
    "finished_video",
    "image_request",
    "media_dir",
    "new_media_path",
    "read_images",
    "read_video_job",
    "ready_media_dir",
    "remember_video",
    "remember_video_file",
    "remembered_video",
    "require_media_host",
    "sniff_extension",
    "video_request",
]

#: The defaults when the listing names no image or video model (the official CLI's families).
DEFAULT_IMAGE_MODEL = "grok-imagine-image"
DEFAULT_VIDEO_MODEL = "grok-imagine-video"
#: Claim tiers Imagine does not serve (grok-build ``tier::is_restricted_tier_name``: Free, X Basic).
RESTRICTED_TIERS = frozenset({0, 2})
#: Where files go unless ``out_dir`` or ``XAI_OAUTH_MEDIA_DIR`` says otherwise (relative to the working directory).
DEFAULT_MEDIA_DIR = "grok-media"
#: A reference image is sent inline (a data URL), so it must stay small.
MAX_SOURCE_BYTES = 10 * 1024 * 1024
MAX_IMAGES = 10
MAX_VIDEO_SECONDS = 15
#: Seconds between job reads when the server does not say (the official CLI's pace).
VIDEO_POLL_SECONDS = 5.0

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png", "image/png"),
    (b"\xff\xd8\xff", "jpg", "image/jpeg"),
    (b"GIF8", "gif", "image/gif"),
)


def sniff_extension(head: bytes) -> str | None:
    """The file extension the first bytes announce (png, jpg, gif, webp, mp4, webm), or None."""
    for magic, extension, _ in _MAGIC:
        if head.startswith(magic):
            return extension
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp":
        return "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm"
    return None


def _mime(data: bytes) -> str | None:
    extension = sniff_extension(data[:16])
    if extension == "webp":
        return "image/webp"
    return next((mime for _, ext, mime in _MAGIC if ext == extension), None)


def _positive(name: str, value: Any, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise RequestRejected(
            f"{name}={value!r} must be a whole number from 1 to {high}.",
            parameter=name,
            action=f"Pass {name} as a whole number from 1 to {high}, or leave it out.",
        )
    return value


def _prompt(prompt: Any) -> str:
    if not isinstance(prompt, str) or not prompt.strip():
        raise RequestRejected(
            "There is nothing to make: the prompt is empty.",
            parameter="prompt",
            action="Describe the picture or clip in the prompt.",
        )
    return prompt


def source_data_url(path: str) -> str:
    """A local image as the ``data:`` URL the API takes; ``invalid_request`` when it is not one we can send."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_SOURCE_BYTES + 1)
    except OSError as exc:
        raise RequestRejected(
            f"Cannot read the image to start from ({exc.strerror}): {path}",
            parameter="image",
            action="Pass the path of a PNG, JPEG or WebP file you can read.",
        ) from None
    mime = _mime(data)
    if mime is None or len(data) > MAX_SOURCE_BYTES:
        raise RequestRejected(
            f"{path} is not a PNG, JPEG, GIF or WebP image under {MAX_SOURCE_BYTES // 1048576} MiB.",
            parameter="image",
            action="Pass a smaller PNG, JPEG or WebP file.",
        )
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def image_request(
    model_id: str, prompt: Any, *, n: Any = 1, aspect_ratio: str | None = None, source: str | None = None
) -> tuple[str, dict[str, Any]]:
    """``(path, body)`` for a new image (``/images/generations``) or an edit of ``source`` (``/images/edits``).

    Always asks for ``b64_json``, so nothing has to be fetched from anywhere else.
    """
    body: dict[str, Any] = {
        "model": model_id,
        "prompt": _prompt(prompt),
        "n": _positive("n", n, MAX_IMAGES),
        "response_format": "b64_json",
    }
    if aspect_ratio:
        body["aspect_ratio"] = aspect_ratio
    if source is None:
        return "/images/generations", body
    body["image"] = {"url": source_data_url(source)}
    return "/images/edits", body


def video_request(
    model_id: str,
    prompt: Any,
    *,
    duration: Any = None,
    aspect_ratio: str | None = None,
    resolution: str | None = None,
    source: str | None = None,
) -> dict[str, Any]:
    """The body for ``POST /videos/generations``; ``source`` (a local image) animates that picture."""
    body: dict[str, Any] = {"model": model_id, "prompt": _prompt(prompt)}
    if duration is not None:
        body["duration"] = _positive("duration", duration, MAX_VIDEO_SECONDS)
    if aspect_ratio:
        body["aspect_ratio"] = aspect_ratio
    if resolution:
        body["resolution"] = resolution
    if source is not None:
        body["image"] = {"url": source_data_url(source)}
    return body


@dataclass(frozen=True)
class Picture:
    """One generated image: its bytes, the file they were streamed to (``_b64_scan``), or where to fetch them."""

    data: bytes | None
    url: str | None
    revised_prompt: str | None
    file: str | None = None


def read_images(body: Any, streamed: Sequence[str] = ()) -> list[Picture]:
    """The images of an ``/images/*`` answer; ``bad_response`` when it has none or they do not decode.

    ``streamed``: the files ``B64Scanner`` decoded the answer's pictures into; its markers (``"#<n>"``, which
    no base64 string can be) stand for them in ``body``.
    """
    items = body.get("data") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise MalformedResponse("The image answer holds no images.")
    pictures = []
    for item in items:
        if not isinstance(item, dict):
            raise MalformedResponse("An image in the answer is not an object.")
        revised = item.get("revised_prompt")
        revised = revised if isinstance(revised, str) and revised.strip() else None
        encoded, url = item.get("b64_json"), item.get("url")
        taken = _streamed_file(encoded, streamed)
        if taken is not None:
            pictures.append(Picture(None, None, revised, taken))
        elif isinstance(encoded, str) and encoded:
            try:
                data = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                raise MalformedResponse("An image in the answer is not valid base64.") from None
            pictures.append(Picture(data, None, revised))
        elif isinstance(url, str) and url:
            pictures.append(Picture(None, url, revised))
        else:
            raise MalformedResponse("An image in the answer has neither data nor a URL.")
    return pictures


def _streamed_file(encoded: object, streamed: Sequence[str]) -> str | None:
    if not isinstance(encoded, str) or not encoded.startswith(MARKER):
        return None
    if not encoded[1:].isascii() or not encoded[1:].isdigit():
        return None
    number = int(encoded[1:])
    return streamed[number] if number < len(streamed) else None


@dataclass(frozen=True)
class VideoJob:
    """A video job's state as ``GET /videos/{id}`` tells it."""

    state: str  # pending, done
    url: str | None = None
    duration: float | None = None
    model: str | None = None


def read_video_job(status: int, body: Any, request_id: str) -> VideoJob:
    """``pending`` or ``done`` (with the clip's URL); ``GenerationFailed`` for a failed or expired job."""
    from .._redact import scrub
    from ..transport._api_errors import about_moderation

    if not isinstance(body, dict):
        raise MalformedResponse(f"The video job {request_id} answered with something that is not a JSON object.")
    state = body.get("status")
    video: dict[str, Any] = body["video"] if isinstance(body.get("video"), dict) else {}
    url = video.get("url")
    if state == "pending" or (status == 202 and state in (None, "")):
        return VideoJob("pending")
    if state in ("done", None) and isinstance(url, str) and url:
        if video.get("respect_moderation") is False:
            raise ContentRefused(f"The video job {request_id} finished, but xAI's moderation withheld the clip.")
        duration = video.get("duration")
        model = body.get("model")
        return VideoJob(
            "done",
            url,
            bounded(duration, 0.0, 24 * 3600.0) if isinstance(duration, (int, float)) else None,
            model if isinstance(model, str) else None,
        )
    if state in ("failed", "expired"):
        error = body.get("error")
        why = error.get("message") if isinstance(error, dict) else error
        why = why if isinstance(why, str) and why.strip() else body.get("reason")
        said = f": {scrub(why.strip())[:300]}" if isinstance(why, str) and why.strip() else ""
        what = "expired before it finished" if state == "expired" else "failed on xAI's side"
        if isinstance(why, str) and about_moderation(why):
            raise ContentRefused(f"xAI's moderation stopped the video job {request_id}{said}.")
        raise GenerationFailed(f"The video job {request_id} {what}{said}.")
    raise MalformedResponse(f"The video job {request_id} answered with an unknown status {str(state)[:40]!r}.")


def require_media_host(url: str) -> str:
    """``url`` when files may be fetched from it: https on an xAI host, or loopback (the emulator)."""
    parts = split_url(url)
    if parts is None:  # https://[x, https://[evil.com].x.ai/a.png: urlsplit's ValueError, not an xAI host
        raise MalformedResponse("The answer points at a file whose address cannot be read; it was not downloaded.")
    host = (parts.hostname or "").lower().rstrip(".")
    if is_loopback_host(host) and parts.scheme in ("http", "https"):
        return url
    if parts.scheme == "https" and any(host == d or host.endswith("." + d) for d in SUBSCRIPTION_DOMAINS):
        return url
    raise MalformedResponse(
        f"The answer points at a file on {parts.scheme}://{host or '?'}, which is not an xAI host; it was not "
        "downloaded."
    )


def media_dir(out_dir: str | None) -> str:
    """The absolute folder for new files: ``out_dir``, else ``XAI_OAUTH_MEDIA_DIR``, else ``./grok-media``."""
    chosen = out_dir or os.environ.get("XAI_OAUTH_MEDIA_DIR", "").strip() or DEFAULT_MEDIA_DIR
    return os.path.abspath(os.path.expanduser(chosen))


def ready_media_dir(out_dir: str | None) -> str:
    """``media_dir``, created if need be and checked writable *before* anything is sent (no quota spent).

    A file, ``/proc/...`` or ``/dev/null/x`` is ``invalid_request`` naming ``out_dir``, not ``internal`` after the
    picture was paid for (issue 21 item 13).
    """
    folder = media_dir(out_dir)
    try:
        os.makedirs(folder, exist_ok=True)
        usable = os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK)
    except (OSError, ValueError):
        usable = False
    if not usable:
        raise RequestRejected(
            f"{folder!r} is not a folder this user can write files into.",
            parameter="out_dir",
            action="Pass out_dir= (or set XAI_OAUTH_MEDIA_DIR to) a folder you can write to.",
        )
    return folder


def new_media_path(folder: str, kind: str, extension: str, now: float | None = None) -> tuple[str, int]:
    """A name no file has yet in the existing ``folder`` (``image-20261123-101502-1.png``), claimed by creating it."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    for number in range(1, 10_000):
        path = os.path.join(folder, f"{kind}-{stamp}-{number}.{extension}")
        try:
            return path, os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
    raise FileExistsError(f"No free file name in {folder}")


#: A video job is remembered this long (xAI keeps finished clips for a limited time).
VIDEO_MEMORY_SECONDS = 24 * 3600


def _jobs(paths: Any) -> dict[str, object]:
    from ..store._errors import StoreCorrupt
    from ..store._files import read_json

    try:
        return read_json(paths.videos, what="video job list") or {}
    except StoreCorrupt:
        return {}  # set aside by read_json; the jobs in it are lost, not the sign-in


def remember_video(paths: Any, request_id: str, model: str, out_dir: str, now: float) -> None:
    """Keep what ``video_status`` needs to go on from another process: model (and so credential) and folder."""
    from ..store._files import write_json

    jobs: dict[str, object] = {
        k: v
        for k, v in _jobs(paths).items()
        if isinstance(v, dict) and isinstance(v.get("at"), (int, float)) and now - v["at"] < VIDEO_MEMORY_SECONDS
    }
    jobs[request_id] = {"model": model, "out_dir": out_dir, "at": now}
    write_json(paths.videos, jobs)


def remembered_video(paths: Any, request_id: str) -> dict[str, str]:
    """The job's ``model`` and ``out_dir`` as ``remember_video`` kept them; empty when unknown here."""
    job = _jobs(paths).get(request_id)
    if not isinstance(job, dict):
        return {}
    return {k: job[k] for k in ("model", "out_dir") if isinstance(job.get(k), str)}


def remember_video_file(paths: Any, request_id: str, file: str, duration: float | None) -> None:
    """A finished job keeps its file, so asking again gives the same file instead of downloading another copy."""
    from ..store._files import write_json

    jobs = _jobs(paths)
    job = jobs.get(request_id)
    if isinstance(job, dict):
        jobs[request_id] = {**job, "file": file, "duration": duration}
        write_json(paths.videos, jobs)


def finished_video(paths: Any, request_id: str) -> tuple[str, float | None] | None:
    """The file (and duration) of a job already fetched, while that file is still there; else None."""
    job = _jobs(paths).get(request_id)
    if not isinstance(job, dict) or not isinstance(job.get("file"), str) or not os.path.isfile(job["file"]):
        return None
    duration = job.get("duration")
    return job["file"], duration if isinstance(duration, (int, float)) and not isinstance(duration, bool) else None
