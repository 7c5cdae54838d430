"""Images and video: which model and credential make them, the jobs, and the files they become.

``_media`` holds the pure parts (request bodies, answer readers, the job
record, file names); this module sends through ``_transport`` (to api.x.ai
with the bearer alone, whichever the route) and downloads the results,
only ever from xAI's hosts and with no credentials.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO

from .._config import DEFAULT_MAX_IMAGE_BYTES
from .._exceptions import MalformedResponse, NotSignedIn, RequestRejected, ServerError, TierDenied
from .._models import API_KEY_PREFIX, SUBSCRIPTION_PREFIX, ModelChoice, parse_model
from ._b64_scan import B64Scanner
from ._catalog import model_ids

if TYPE_CHECKING:
    from ..auth._account import Account
    from ..transport._send import Transport

__all__ = [
    "DOWNLOAD_TIMEOUT",
    "IMAGE_ANSWER_BYTES",
    "IMAGE_REST_BYTES",
    "IMAGE_TIMEOUT",
    "POLL_TIMEOUT",
    "VIDEO_BYTES",
    "VIDEO_START_TIMEOUT",
    "image",
    "video",
    "video_status",
]

#: Seconds and sizes for images and video (the official CLI waits up to 300 s for an image: some models
#: think before drawing, and the answer comes whole).
IMAGE_TIMEOUT = 300.0
#: The default cap on one picture (``XAI_OAUTH_MAX_IMAGE_BYTES`` sets it), and on what an image answer holds
#: besides its pictures (revised prompts, URLs).
IMAGE_ANSWER_BYTES = DEFAULT_MAX_IMAGE_BYTES
IMAGE_REST_BYTES = 4 * 1024 * 1024
_CAP_HINT = "Set XAI_OAUTH_MAX_IMAGE_BYTES higher to accept bigger pictures (the default is 64 MiB)."
VIDEO_START_TIMEOUT = 60.0
POLL_TIMEOUT = 30.0
DOWNLOAD_TIMEOUT = 120.0
VIDEO_BYTES = 512 * 1024 * 1024
#: What a video request id may look like before it is put into a URL path.
_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,199}")


def image(
    account: Account,
    transport: Transport,
    prompt: str,
    model: str | None = None,
    *,
    n: int = 1,
    aspect_ratio: str | None = None,
    image: str | None = None,
    out_dir: str | None = None,
) -> dict[str, Any]:
    """Make ``n`` images (or edit the local file ``image``); ``Client.image`` says what comes back.

    The answer streams to disk: each ``b64_json`` picture is decoded a piece at a time into a temporary file
    in the target folder (``_b64_scan``), so memory holds a chunk, not the picture (issue 22 item 5).
    """
    from .._exceptions import XaiOAuthError
    from ._media_rules import image_request, read_images, ready_media_dir

    choice = _media_choice(account, transport, model, "image")
    path, body = image_request(choice.model_id, prompt, n=n, aspect_ratio=aspect_ratio, source=image)
    folder = ready_media_dir(out_dir)
    cap = account.config.max_image_bytes
    with _Parts(folder, "image") as parts:
        scanner = B64Scanner(parts.open, max_picture=cap, max_rest=IMAGE_REST_BYTES, cap_hint=_CAP_HINT)
        answer = transport.request(
            choice.credential,
            choice.display_id,
            path,
            body,
            timeout=IMAGE_TIMEOUT,
            media=True,
            max_bytes=_answer_bytes(cap, n),
            body_sink=scanner.feed,
        )
        parts.close()
        pictures = read_images(_rest_body(scanner) if answer.body is None else answer.body, parts.paths)
        files: list[str] = []
        try:
            for picture in pictures:
                files.append(_keep(account, picture.data, picture.url, folder, "image", picture.file))
                parts.kept(picture.file)
        except XaiOAuthError as error:
            error.details["files"] = files  # the pictures already saved are not lost with the one that failed
            raise
    revised = next((p.revised_prompt for p in pictures if p.revised_prompt), None)
    return {"files": files, "model": choice.display_id, "revised_prompt": revised}


def _answer_bytes(cap: int, n: int) -> int:
    """The most an image answer may hold: ``n`` pictures of ``cap`` bytes in base64 (with room for escaped
    slashes), and the rest."""
    return n * ((cap + 2) // 3 * 4) * 17 // 16 + IMAGE_REST_BYTES


def _rest_body(scanner: B64Scanner) -> Any:
    """The answer without its pictures, parsed strictly; None when it is not JSON (read_images says so)."""
    from ..store._files import loads_strict

    try:
        return loads_strict(scanner.finish())
    except (ValueError, UnicodeDecodeError):
        return None


class _Parts:
    """The temporary files an answer's pictures stream into, in the target folder; any not kept are removed."""

    def __init__(self, folder: str, kind: str) -> None:
        self._folder, self._kind = folder, kind
        self.paths: list[str] = []
        self._open: list[BinaryIO] = []

    def open(self, number: int) -> BinaryIO:
        import os
        import tempfile

        os.makedirs(self._folder, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=self._folder, prefix=f".{self._kind}-", suffix=".part")
        self.paths.append(temporary)
        self._open.append(os.fdopen(fd, "wb"))
        return self._open[-1]

    def kept(self, temporary: str | None) -> None:
        """``temporary`` was renamed to its file: not to be removed (its name may be another's by then)."""
        if temporary in self.paths:
            self.paths.remove(temporary)

    def close(self) -> None:
        for handle in self._open:
            handle.close()

    def __enter__(self) -> _Parts:
        return self

    def __exit__(self, *exc_info: object) -> None:
        import os

        self.close()
        for temporary in self.paths:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def video(
    account: Account,
    transport: Transport,
    prompt: str,
    model: str | None = None,
    *,
    duration: int | None = None,
    aspect_ratio: str | None = None,
    resolution: str | None = None,
    image: str | None = None,
    out_dir: str | None = None,
    wait: bool = True,
    timeout: float = 600,
    on_wait: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Start a video job and, with ``wait``, see it through; ``Client.video`` says what comes back."""
    from ._media_rules import ready_media_dir, remember_video, video_request

    choice = _media_choice(account, transport, model, "video")
    body = video_request(
        choice.model_id, prompt, duration=duration, aspect_ratio=aspect_ratio, resolution=resolution, source=image
    )
    folder = ready_media_dir(out_dir)
    answer = transport.request(
        choice.credential, choice.display_id, "/videos/generations", body, timeout=VIDEO_START_TIMEOUT, media=True
    )
    request_id = answer.body.get("request_id") if isinstance(answer.body, dict) else None
    if not isinstance(request_id, str) or not _REQUEST_ID.fullmatch(request_id):
        raise MalformedResponse("The video API answered without a usable request_id.", http_status=answer.status)
    remember_video(account.paths, request_id, choice.display_id, folder, account.now())
    return video_status(account, transport, request_id, wait=wait, timeout=timeout, on_wait=on_wait)


def video_status(
    account: Account,
    transport: Transport,
    request_id: str,
    *,
    wait: bool = False,
    timeout: float = 600,
    out_dir: str | None = None,
    on_wait: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Check a video job once (or, with ``wait``, until done or ``timeout``); when done, fetch the clip."""
    from ..transport._answer import parse_retry_after
    from ._media_rules import (
        VIDEO_POLL_SECONDS,
        finished_video,
        media_dir,
        read_video_job,
        remember_video_file,
        remembered_video,
    )

    if not isinstance(request_id, str) or not _REQUEST_ID.fullmatch(request_id):
        raise RequestRejected(
            f"{str(request_id)[:80]!r} is not a video request id.",
            parameter="request_id",
            action="Pass the request_id that video() returned.",
        )
    known = remembered_video(account.paths, request_id)
    fetched = finished_video(account.paths, request_id)
    if fetched is not None and known.get("model"):
        file, seconds = fetched
        return {"status": "done", "file": file, "model": known["model"], "duration": seconds, "request_id": request_id}
    model = known.get("model") or _media_choice(account, transport, None, "video", listing=False).display_id
    choice = parse_model(model, signed_in=account.signed_in())
    folder = media_dir(out_dir or known.get("out_dir"))
    started = account.now()
    while True:
        answer = transport.request(
            choice.credential,
            choice.display_id,
            f"/videos/{request_id}",
            timeout=POLL_TIMEOUT,
            media=True,
            accept=(200, 202, 404),
        )
        if answer.status == 404:
            raise RequestRejected(
                f"No video job {request_id!r} is known to xAI's video API (expired, or never started).",
                http_status=404,
                parameter="request_id",
                action="Pass the request_id that video() returned, or start a new video with video().",
            )
        job = read_video_job(answer.status, answer.body, request_id)
        if job.state == "done":
            break
        pause = parse_retry_after(answer.headers.get("retry-after")) or VIDEO_POLL_SECONDS
        elapsed = account.now() - started
        if not wait or elapsed + pause > timeout:
            return {
                "status": "pending",
                "request_id": request_id,
                "model": choice.display_id,
                "retry_after": pause,
                "waited": round(elapsed, 1),
            }
        if on_wait is not None:
            on_wait(elapsed)
        account.sleep(pause)
    assert job.url is not None
    file = _keep(account, None, job.url, folder, "video")
    remember_video_file(account.paths, request_id, file, job.duration)
    return {
        "status": "done",
        "file": file,
        "model": choice.display_id,
        "duration": job.duration,
        "request_id": request_id,
    }


def _media_choice(
    account: Account, transport: Transport, model: str | None, kind: str, *, listing: bool = True
) -> ModelChoice:
    """Which credential and model make this ``kind`` (image or video); the tier gate for the subscription.

    No model: the subscription when signed in (else the API key), and
    the first model of that kind the listing names (the cached listing,
    else one ``/models`` read; ``listing=False`` skips that read).
    """
    from ._media_rules import DEFAULT_IMAGE_MODEL, DEFAULT_VIDEO_MODEL, RESTRICTED_TIERS

    signed_in = account.signed_in()
    if model:
        choice = parse_model(model, signed_in=signed_in)
    else:
        if not signed_in and not account.config.api_key:
            raise NotSignedIn("Nobody is signed in and no API key is set.")
        credential = "subscription" if signed_in else "api_key"
        model_id = _first_media_model(account, transport, credential, kind, listing) or (
            DEFAULT_VIDEO_MODEL if kind == "video" else DEFAULT_IMAGE_MODEL
        )
        prefix = SUBSCRIPTION_PREFIX if credential == "subscription" else API_KEY_PREFIX
        choice = parse_model(prefix + model_id, signed_in=signed_in)
    if choice.credential == "subscription":
        tier = account.status().get("tier")
        if tier in RESTRICTED_TIERS:
            from .._tiers import describe_tier

            raise TierDenied(
                f"Image and video generation are not part of {describe_tier(tier)[1]}; xAI's Imagine serves "
                "the SuperGrok and X Premium tiers.",
                action="Upgrade at grok.com/supergrok, or use an API key (xai/grok-imagine-image).",
            )
    return choice


def _first_media_model(account: Account, transport: Transport, credential: str, kind: str, listing: bool) -> str | None:
    cache = account.cached_models() if credential == "subscription" else None
    if cache is not None:
        listed = [*cache.get("image_models", []), *cache.get("video_models", [])]
        ids = [m["id"].split("/", 1)[-1] for m in listed if isinstance(m, dict)]
    elif listing:
        ids = [i for i in model_ids(transport, credential) if i.startswith("grok-imagine")]
    else:
        ids = []
    return next((i for i in ids if ("video" in i) == (kind == "video")), None)


def _keep(
    account: Account, data: bytes | None, url: str | None, folder: str, kind: str, written: str | None = None
) -> str:
    """Write ``data`` (or what ``url`` holds, fetched only from xAI's hosts) as a new file; its path.

    ``written``: a temporary file in ``folder`` that already holds the bytes (a streamed picture); it is named.
    """
    import os
    import tempfile

    from ._media_rules import new_media_path, sniff_extension

    if written is None:
        os.makedirs(folder, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{kind}-", suffix=".part")
    else:
        temporary = written
    try:
        if written is None:
            with os.fdopen(fd, "wb") as sink:
                if data is not None:
                    sink.write(data)
                else:
                    assert url is not None
                    _fetch(account, url, sink.write, kind)
        with open(temporary, "rb") as done:
            head = done.read(16)
        extension = sniff_extension(head) or ("mp4" if kind == "video" else "jpg")
        path, claimed = new_media_path(folder, kind, extension, account.now())
        os.close(claimed)
        os.replace(temporary, path)
        return path
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _fetch(account: Account, url: str, sink: Callable[[bytes], object], kind: str) -> None:
    """GET a generated file with no credentials, following at most three redirects, each to an xAI host."""
    from urllib.parse import urljoin

    from ._media_rules import require_media_host

    limit = VIDEO_BYTES if kind == "video" else account.config.max_image_bytes
    for _ in range(4):
        answer = account.http.download(require_media_host(url), sink, timeout=DOWNLOAD_TIMEOUT, max_bytes=limit)
        if answer.status == 200:
            return
        if answer.status in (301, 302, 303, 307, 308) and answer.headers.get("location"):
            url = urljoin(url, answer.headers["location"])
            continue
        raise ServerError(f"Fetching the generated {kind} failed with HTTP {answer.status}.", http_status=answer.status)
    raise MalformedResponse(f"Fetching the generated {kind} was redirected too many times.")
