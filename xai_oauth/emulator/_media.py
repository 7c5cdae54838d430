"""The emulator's Imagine: /v1/images/generations, /v1/images/edits, /v1/videos/generations and /v1/videos/{id}.

Shaped after what xAI's own Grok CLI sends and reads (grok-build's
``image_gen``, ``image_edit`` and ``video_gen``): images answer whole, as
``{"data": [{"b64_json" | "url", "revised_prompt"}]}``; a video is a job,
``{"request_id"}`` at once, then ``GET /v1/videos/{id}`` says 202
``{"status": "pending"}`` until 200 ``{"status": "done", "model", "video":
{"url", "duration", "respect_moderation"}}`` (or ``failed`` / ``expired``).
Free and X Basic tokens get 429: Imagine has no allowance for those tiers.
Files are served from ``/_media/<name>`` on the emulator itself. The moderation
wording is the emulator's own (xAI's is prose with no stable code).
"""

from __future__ import annotations

import base64
import struct
import threading
import uuid
import zlib
from dataclasses import dataclass, field
from typing import Any

from ._api import INVALID_ARGUMENT, ApiRefusal

__all__ = ["Studio"]

IMAGE_ASPECT_RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "2:1", "1:2", "auto")
VIDEO_ASPECT_RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3")
VIDEO_RESOLUTIONS = ("480p", "720p")
RESTRICTED_TIERS = (0, 2)
MODERATION = "Generated content was rejected by content moderation."


def png(seed: str) -> bytes:
    """A real 4x4 PNG whose colour follows ``seed``, so different prompts make different files."""
    colour = zlib.crc32(seed.encode()).to_bytes(4, "big")[:3]
    rows = b"".join(b"\x00" + colour * 4 for _ in range(4))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def mp4(seed: str) -> bytes:
    """The first boxes of an MP4 (``ftyp``, then a ``free`` box carrying ``seed``): enough to be recognised."""
    note = seed.encode()[:200]
    return (
        struct.pack(">I", 24)
        + b"ftypisom"
        + b"\x00\x00\x02\x00"
        + b"isomiso2"
        + struct.pack(">I", 8 + len(note))
        + (b"free" + note)
    )


@dataclass
class Job:
    model: str
    prompt: str
    duration: int
    #: who started it (the subscription's ``sub``, or ``api_key``): only they can read it, as an account's own
    owner: str = ""
    reads: int = 0


@dataclass
class Studio:
    """Media state shared by the emulator's request threads: generated files and video jobs."""

    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def keep(self, data: bytes, content_type: str, extension: str) -> str:
        name = f"{uuid.uuid4().hex}.{extension}"
        with self.lock:
            self.files[name] = (data, content_type)
        return name

    def image(
        self, path: str, body: dict[str, Any], allowed: list[str], tier: object, settings: Any, base: str
    ) -> dict[str, Any]:
        model = _media_model(body, allowed, tier, "image")
        prompt = _prompt(body, settings)
        n = body.get("n", 1)
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 10:
            raise ApiRefusal(400, INVALID_ARGUMENT, "n must be between 1 and 10")
        ratio = body.get("aspect_ratio")
        if ratio is not None and ratio not in IMAGE_ASPECT_RATIOS:
            raise ApiRefusal(400, INVALID_ARGUMENT, f"unsupported aspect_ratio {ratio!r}")
        if path.endswith("/edits"):
            source = body.get("image")
            url = source.get("url") if isinstance(source, dict) else None
            if not isinstance(url, str) or not url.startswith("data:image/") or ";base64," not in url:
                raise ApiRefusal(400, INVALID_ARGUMENT, "image.url must be a data:image/...;base64 URL")
            prompt = f"{prompt} (edited from a {len(base64.b64decode(url.split(',', 1)[1]))}-byte picture)"
        revised = f"A detailed picture of {prompt}"
        data = []
        for number in range(n):
            picture = png(f"{model}:{prompt}:{number}")
            picture += bytes(max(0, settings.image_bytes - len(picture)))
            if body.get("response_format") == "b64_json" and not settings.image_as_url:
                data.append({"b64_json": base64.b64encode(picture).decode(), "revised_prompt": revised})
            else:
                data.append(
                    {"url": f"{base}/_media/{self.keep(picture, 'image/png', 'png')}", "revised_prompt": revised}
                )
        return {"data": data}

    def start_video(
        self, body: dict[str, Any], allowed: list[str], tier: object, settings: Any, owner: str = ""
    ) -> dict[str, Any]:
        model = _media_model(body, allowed, tier, "video")
        prompt = _prompt(body, settings)
        duration = body.get("duration", 6)
        if isinstance(duration, bool) or not isinstance(duration, int) or not 1 <= duration <= 15:
            raise ApiRefusal(400, INVALID_ARGUMENT, "duration must be between 1 and 15 seconds")
        if body.get("aspect_ratio") not in (None, *VIDEO_ASPECT_RATIOS):
            raise ApiRefusal(400, INVALID_ARGUMENT, f"unsupported aspect_ratio {body['aspect_ratio']!r}")
        if body.get("resolution") not in (None, *VIDEO_RESOLUTIONS):
            raise ApiRefusal(400, INVALID_ARGUMENT, f"unsupported resolution {body['resolution']!r}")
        request_id = str(uuid.uuid4())
        with self.lock:
            self.jobs[request_id] = Job(model, prompt, duration, owner)
        return {"request_id": request_id}

    def read_video(self, request_id: str, settings: Any, base: str, reader: str = "") -> tuple[int, dict[str, Any]]:
        """The job's state; another account's job is as unknown as one that never was."""
        with self.lock:
            job = self.jobs.get(request_id)
            if job is None or job.owner != reader:
                return 404, {"code": "not-found", "error": f"no video request {request_id}"}
            job.reads += 1
            if job.reads <= settings.video_pending_reads:
                return 202, {"status": "pending"}
        outcome = settings.video_outcome
        if outcome == "failed":
            return 200, {"status": "failed", "error": {"message": "The video could not be rendered."}}
        if outcome == "expired":
            return 200, {"status": "expired"}
        clip = self.keep(mp4(f"{job.model}:{job.prompt}"), "video/mp4", "mp4")
        video = {"url": f"{base}/_media/{clip}", "duration": job.duration, "respect_moderation": outcome != "moderated"}
        return 200, {"status": "done", "model": job.model, "video": video, "usage": {"cost_in_usd_ticks": 500000000}}

    def file(self, name: str) -> tuple[bytes, str] | None:
        with self.lock:
            return self.files.get(name)


def _media_model(body: dict[str, Any], allowed: list[str], tier: object, kind: str) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model.startswith("grok-imagine"):
        raise ApiRefusal(404, "model_not_found", f"The model {model} does not exist or is not an Imagine model.")
    if ("video" in model) != (kind == "video"):
        raise ApiRefusal(400, INVALID_ARGUMENT, f"{model} does not make {kind}s")
    if tier in RESTRICTED_TIERS:
        raise ApiRefusal(429, "resource-exhausted", "Imagine usage limit reached for this subscription tier.")
    if model not in allowed:
        raise ApiRefusal(403, "permission-denied:tier", f"Your subscription does not include {model}.")
    return model


def _prompt(body: dict[str, Any], settings: Any) -> str:
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise ApiRefusal(400, INVALID_ARGUMENT, "prompt is required")
    if settings.refuse_media:
        raise ApiRefusal(400, INVALID_ARGUMENT, MODERATION)
    return prompt.strip()
