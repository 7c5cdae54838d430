"""``Client``: talk to Grok with the subscription, an API key, or both, chosen per request.

The model id says which credential pays: ``xai-grok/<id>`` the subscription,
``xai/<id>`` the API key (``XAI_API_KEY``), a bare id the subscription when
signed in. ``_lanes`` decides the endpoint and the body; this module adds the
credential, sends, retries what is safe to retry, and turns error answers
into the exceptions of the README's table.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

from ._account import Account
from ._api_errors import api_error, is_auth_failure
from ._config import Config
from ._exceptions import (
    MalformedResponse,
    NetworkError,
    NotSignedIn,
    RequestRejected,
    ServerError,
    TierDenied,
    XaiOAuthError,
)
from ._models import (
    API_KEY_PREFIX,
    DEFAULT_MODEL_ID,
    RESPONSES,
    SUBSCRIPTION_PREFIX,
    ModelChoice,
    lane_for,
    parse_model,
    pick_default,
)
from ._retry import retry_delay
from ._settings import KEY_PREFIX
from .wire._answers import read_answer
from .wire._requests import build_request
from .wire._streams import new_stream

__all__ = ["ChatStream", "Client"]

MODELS_TIMEOUT = 15.0
#: Seconds and sizes for images and video (the official CLI waits up to 300 s for an image: some models
#: think before drawing, and the answer comes whole).
IMAGE_TIMEOUT = 300.0
IMAGE_ANSWER_BYTES = 64 * 1024 * 1024
VIDEO_START_TIMEOUT = 60.0
POLL_TIMEOUT = 30.0
DOWNLOAD_TIMEOUT = 120.0
VIDEO_BYTES = 512 * 1024 * 1024
#: What a video request id may look like before it is put into a URL path.
_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,199}")


class Client:
    """Models and chat over both lanes. Methods return dicts and raise ``XaiOAuthError``.

    ``Client()`` reads the environment (and ``.env.xai``); tests pass an
    ``account`` built with a fake transport and clock.
    """

    def __init__(
        self,
        account: Account | None = None,
        *,
        config: Config | None = None,
        transport: Any = None,
        now: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``now``, ``sleep`` and ``transport`` are for the ``Account`` made here; a given one keeps its own."""
        self.account = account or Account(config, transport=transport, now=now, sleep=sleep)
        self.config = self.account.config

    def __repr__(self) -> str:
        return (
            f"xai_oauth.Client(route={self.config.route!r}, subscription_url={self.config.oauth_base_url!r}, "
            f"base_url={self.config.base_url!r}, api_key={'set' if self.config.api_key else 'unset'})"
        )

    def close(self) -> None:
        self.account.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- models -----------------------------------------------------------

    def models(self) -> dict[str, Any]:
        """Chat models of every credential available, ``xai-grok/<id>`` and ``xai/<id>``; offline, the cache.

        The subscription's listing is cached in the state file (``status()``
        shows it); when the API cannot be reached the cache answers, marked
        ``cached: True``. When one credential fails and the other lists
        models, the failure becomes a note instead of hiding the list.
        """
        wanted = [
            c
            for c, present in (("subscription", self.account.signed_in()), ("api_key", self.config.api_key))
            if present
        ]
        if not wanted:
            raise NotSignedIn("Nobody is signed in and no API key is set.")
        result: dict[str, Any] = {"models": [], "image_models": []}
        failures: list[XaiOAuthError] = []
        for credential in wanted:
            try:
                listed = self._listing(credential)
            except XaiOAuthError as exc:
                failures.append(exc)
                continue
            result["models"] += listed["models"]
            result["image_models"] += listed["image_models"]
            if listed.get("proxy_default"):
                result["proxy_default"] = listed["proxy_default"]
            if "fetched_at" in listed:  # from the cache
                result.update(cached=True, fetched_at=int(listed["fetched_at"]))
                result.setdefault("notes", []).append("The API could not be reached; subscription models are cached.")
        if failures and not result["models"]:
            raise failures[0]
        for failure in failures:
            result.setdefault("notes", []).append(f"Some models are missing: {failure.message} ({failure.code}).")
        preferred = self.config.default_model or result.pop("proxy_default", None)
        result["default_model_id"] = pick_default([m["id"] for m in result["models"]], preferred)
        return result

    def _listing(self, credential: str) -> dict[str, Any]:
        """One credential's models; the subscription's come from the cache when the API is unreachable."""
        try:
            ids = self._model_ids(credential)
        except NetworkError:
            cache = self.account.cached_models() if credential == "subscription" else None
            if cache is None:
                raise
            return cache
        prefix = SUBSCRIPTION_PREFIX if credential == "subscription" else API_KEY_PREFIX
        chat = [
            {"id": prefix + i, "lane": lane_for(i), "credential": credential}
            for i in ids
            if not i.startswith("grok-imagine")
        ]
        images = [{"id": prefix + i, "credential": credential} for i in ids if i.startswith("grok-imagine")]
        listed = {"models": chat, "image_models": images}
        if credential == "subscription":
            proxy_default = self._proxy_default_model()
            preferred = proxy_default and SUBSCRIPTION_PREFIX + proxy_default
            self.account.remember_models(listed, preferred=preferred)
            return {**listed, "proxy_default": preferred}
        return listed

    def _proxy_default_model(self) -> str | None:
        """The chat proxy's ``GET /settings`` ``default_model`` (what xAI's own CLI starts with); None off the proxy."""
        if not self.config.on_proxy:
            return None
        try:
            answer = self._get("subscription", "settings", "settings")
        except XaiOAuthError:
            return None  # a default is a nicety: the listing stands without it
        value = answer.body.get("default_model") if isinstance(answer.body, dict) else None
        return value if isinstance(value, str) and value.strip() else None

    def _get(self, credential: str, path: str, what: str) -> Any:
        """``GET <this credential's base>/<path>`` through ``_send`` (its refresh and retry rules)."""
        return self._send(
            credential,
            what,
            lambda headers: self.account.http.get(
                f"{self._base(credential)}/{path}", headers=headers, timeout=MODELS_TIMEOUT
            ),
        )

    # -- usage ------------------------------------------------------------

    def usage(self) -> dict[str, Any]:
        """The subscription's usage meter: ``credit_usage_percent``, ``period`` and ``tier``, from the chat proxy.

        Reads ``GET /billing?format=credits`` and ``GET /user?include=subscription``
        (the live tier, the authority over the token's claim: a mismatch after an
        upgrade earns one forced refresh, as xAI's own CLI does). The reading is
        cached, so status() shows it offline with its age.
        """
        from ._tiers import USER_TIERS, describe_tier

        if not self.account.signed_in():
            raise NotSignedIn("Nobody is signed in; the usage meter belongs to the subscription.")
        billing = self._get("subscription", "billing?format=credits", "billing")
        config = billing.body.get("config", billing.body) if isinstance(billing.body, dict) else None
        if not isinstance(config, dict):
            raise MalformedResponse(
                "The billing endpoint answered without a usage reading.", http_status=billing.status
            )
        percent = config.get("creditUsagePercent")
        period = config.get("currentPeriod")
        period = period if isinstance(period, dict) else {}
        reading: dict[str, Any] = {
            "credit_usage_percent": float(percent)
            if isinstance(percent, (int, float)) and not isinstance(percent, bool)
            else None,
            "period": {k: period.get(k) for k in ("type", "start", "end") if isinstance(period.get(k), str)},
        }
        user = self._get("subscription", "user?include=subscription", "user")
        live = (
            user.body.get("subscription_tier", user.body.get("subscriptionTier"))
            if isinstance(user.body, dict)
            else None
        )
        level = USER_TIERS.get(live) if isinstance(live, str) else None
        claimed = self.account.status().get("tier")
        if level is not None and level != claimed:
            self.account.refresh(force=True)  # the claim is stale (an upgrade or downgrade): renew it once
            claimed = self.account.status().get("tier")
        tier, tier_name = describe_tier(level if level is not None else claimed)
        reading.update(tier=tier, tier_name=tier_name, tier_matches_token=level is None or level == claimed)
        self.account.remember_usage(reading)
        return reading

    def _model_ids(self, credential: str) -> list[str]:
        answer = self._get(credential, "models", "models")
        data = answer.body.get("data") if isinstance(answer.body, dict) else None
        if not isinstance(data, list):
            raise MalformedResponse("The models endpoint answered without a model list.", http_status=answer.status)
        return [m["id"] for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]

    # -- chat -------------------------------------------------------------

    def chat(
        self,
        model: str | None,
        messages: Any,
        *,
        thinking: Any = None,
        timeout: float | None = None,
        search: Any = None,
        lane: str | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        """One whole answer: ``{"model", "lane", "content", "finish_reason", "usage", "tool_calls", "citations"?}``.

        ``search=["web", "x"]`` lets the model search the web and X on xAI's
        side (any model: the request goes to the Responses lane), and the
        answer lists what it cited. ``lane="responses"`` picks that lane
        without searching. On the chat proxy the answer is read out of a
        stream (it serves most models only that way); the dict is the same.
        """
        choice, body = self._prepare(model, messages, thinking, params, stream=False, search=search, lane=lane)
        if body.get("stream"):
            stream = ChatStream(self._stream_deltas(choice, body, self._timeout(timeout)))
            for _ in stream:
                pass
            assert stream.result is not None
            return stream.result
        answer = self._send(
            choice.credential,
            choice.display_id,
            lambda headers: self.account.http.post_json(
                self._base(choice.credential) + choice.path, body, headers=headers, timeout=self._timeout(timeout)
            ),
            model_id=choice.model_id,
        )
        if not isinstance(answer.body, dict):
            raise MalformedResponse("The chat answer is not a JSON object.", http_status=answer.status)
        return read_answer(choice, answer.body)

    def stream(
        self,
        model: str | None,
        messages: Any,
        *,
        thinking: Any = None,
        timeout: float | None = None,
        search: Any = None,
        lane: str | None = None,
        **params: Any,
    ) -> ChatStream:
        """Text deltas as they arrive; the whole answer is in ``.result`` once the iterator is exhausted."""
        choice, body = self._prepare(model, messages, thinking, params, stream=True, search=search, lane=lane)
        return ChatStream(self._stream_deltas(choice, body, self._timeout(timeout)))

    def _prepare(
        self,
        model: str | None,
        messages: Any,
        thinking: Any,
        params: dict[str, Any],
        *,
        stream: bool,
        search: Any,
        lane: str | None,
    ) -> tuple[ModelChoice, dict[str, Any]]:
        if isinstance(messages, str):
            messages = [{"role": "user", "content": messages}]
        lane = RESPONSES if search else lane
        choice = parse_model(model or self.default_model(), signed_in=self.account.signed_in(), lane=lane)
        proxy = choice.credential == "subscription" and self.config.on_proxy
        return choice, build_request(
            choice, messages, stream=stream, thinking=thinking, params=params, proxy=proxy, search=search
        )

    def default_model(self) -> str:
        """``XAI_DEFAULT_MODEL``, else the last listing's default, else ``xai-grok/grok-4.3``.

        With an API key and no sign-in, the key's own ``xai/grok-4.3``: a key
        alone must work without naming a model.
        """
        if self.config.default_model:
            return self.config.default_model
        if self.config.api_key and not self.account.signed_in():
            return API_KEY_PREFIX + DEFAULT_MODEL_ID.removeprefix(SUBSCRIPTION_PREFIX)
        cache = self.account.cached_models()
        return (cache or {}).get("default_model_id") or DEFAULT_MODEL_ID

    def _timeout(self, seconds: float | None) -> float:
        """Seconds the whole answer may take (``XAI_OAUTH_READ_TIMEOUT``): a deadline, streamed or not."""
        return seconds or self.config.read_timeout

    def _stream_deltas(
        self, choice: ModelChoice, body: dict[str, Any], timeout: float
    ) -> Iterator[str | dict[str, Any]]:
        """Yields text deltas, then the final answer dict."""
        from ._http import EventStream

        url = self._base(choice.credential) + choice.path
        attempt, token, renewed = 0, self._bearer(choice.credential), False
        while True:
            headers = self._headers(choice.credential, token, choice.model_id)
            with self.account.http.open_event_stream(url, body, headers=headers, timeout=timeout) as opened:
                if isinstance(opened, EventStream):
                    reader = new_stream(choice)
                    for event, data in opened:
                        delta = reader.feed(event, data)
                        if delta:
                            yield delta
                        if reader.done:
                            break
                    yield reader.result()
                    return
                answer = opened
            if answer.status == 200:  # a gateway that ignored stream=True and answered whole
                if not isinstance(answer.body, dict):
                    raise MalformedResponse("The chat answer is neither an event stream nor JSON.", http_status=200)
                whole = read_answer(choice, answer.body)
                if whole["content"]:
                    yield whole["content"]
                yield whole
                return
            token, renewed, attempt = self._after_failure(
                choice.credential, choice.display_id, answer, token, renewed, attempt
            )

    # -- images and video -------------------------------------------------

    def image(
        self,
        prompt: str,
        model: str | None = None,
        *,
        n: int = 1,
        aspect_ratio: str | None = None,
        image: str | None = None,
        out_dir: str | None = None,
    ) -> dict[str, Any]:
        """Make ``n`` images (or edit the local file ``image``) and write them to ``out_dir``.

        Returns ``{"files": [absolute paths], "model", "revised_prompt"}``;
        the pictures themselves never enter the dict (agents print dicts).
        """
        from ._media import image_request, media_dir, read_images

        choice = self._media_choice(model, "image")
        path, body = image_request(choice.model_id, prompt, n=n, aspect_ratio=aspect_ratio, source=image)
        answer = self._send(
            choice.credential,
            choice.display_id,
            lambda headers: self.account.http.post_json(
                self._media_base(choice.credential) + path,
                body,
                headers=headers,
                timeout=IMAGE_TIMEOUT,
                max_bytes=IMAGE_ANSWER_BYTES,
            ),
            media=True,
        )
        pictures = read_images(answer.body)
        folder = media_dir(out_dir)
        files = [self._keep(p.data, p.url, folder, "image") for p in pictures]
        revised = next((p.revised_prompt for p in pictures if p.revised_prompt), None)
        return {"files": files, "model": choice.display_id, "revised_prompt": revised}

    def video(
        self,
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
        """Start a video job (animating the local file ``image``, if given) and, with ``wait``, see it through.

        Returns ``{"status": "done", "file", "model", "duration", "request_id"}``, or
        ``{"status": "pending", "request_id", ...}`` when ``wait`` is False or
        ``timeout`` seconds pass first; ``video_status(request_id)`` carries on
        from there, in this process or another. ``on_wait(elapsed)`` is called
        before each wait between checks (a progress display).
        """
        from ._media import media_dir, remember_video, video_request

        choice = self._media_choice(model, "video")
        body = video_request(
            choice.model_id,
            prompt,
            duration=duration,
            aspect_ratio=aspect_ratio,
            resolution=resolution,
            source=image,
        )
        answer = self._send(
            choice.credential,
            choice.display_id,
            lambda headers: self.account.http.post_json(
                self._media_base(choice.credential) + "/videos/generations",
                body,
                headers=headers,
                timeout=VIDEO_START_TIMEOUT,
            ),
            media=True,
        )
        request_id = answer.body.get("request_id") if isinstance(answer.body, dict) else None
        if not isinstance(request_id, str) or not _REQUEST_ID.fullmatch(request_id):
            raise MalformedResponse("The video API answered without a usable request_id.", http_status=answer.status)
        remember_video(self.account.paths, request_id, choice.display_id, media_dir(out_dir), self.account.now())
        return self.video_status(request_id, wait=wait, timeout=timeout, on_wait=on_wait)

    def video_status(
        self,
        request_id: str,
        *,
        wait: bool = False,
        timeout: float = 600,
        out_dir: str | None = None,
        on_wait: Callable[[float], None] | None = None,
    ) -> dict[str, Any]:
        """Check a video job once (or, with ``wait``, until done or ``timeout``); when done, fetch the clip.

        The job's model and credential were remembered by ``video()``; a job
        started elsewhere is read with the subscription when signed in.
        """
        from ._http import parse_retry_after
        from ._media import VIDEO_POLL_SECONDS, forget_video, media_dir, read_video_job, remembered_video

        if not isinstance(request_id, str) or not _REQUEST_ID.fullmatch(request_id):
            raise RequestRejected(
                f"{str(request_id)[:80]!r} is not a video request id.",
                parameter="request_id",
                action="Pass the request_id that video() returned.",
            )
        known = remembered_video(self.account.paths, request_id)
        model = known.get("model") or self._media_choice(None, "video", listing=False).display_id
        choice = parse_model(model, signed_in=self.account.signed_in())
        folder = media_dir(out_dir or known.get("out_dir"))
        started = self.account.now()
        while True:
            answer = self._send(
                choice.credential,
                choice.display_id,
                lambda headers: self.account.http.get(
                    f"{self._media_base(choice.credential)}/videos/{request_id}", headers=headers, timeout=POLL_TIMEOUT
                ),
                media=True,
                accept=(200, 202),
            )
            job = read_video_job(answer.status, answer.body, request_id)
            if job.state == "done":
                break
            pause = parse_retry_after(answer.headers.get("retry-after")) or VIDEO_POLL_SECONDS
            elapsed = self.account.now() - started
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
            self.account.sleep(pause)
        assert job.url is not None
        file = self._keep(None, job.url, folder, "video")
        forget_video(self.account.paths, request_id)
        return {
            "status": "done",
            "file": file,
            "model": choice.display_id,
            "duration": job.duration,
            "request_id": request_id,
        }

    def _media_choice(self, model: str | None, kind: str, *, listing: bool = True) -> ModelChoice:
        """Which credential and model make this ``kind`` (image or video); the tier gate for the subscription.

        No model: the subscription when signed in (else the API key), and
        the first model of that kind the listing names (the cached listing,
        else one ``/models`` read; ``listing=False`` skips that read).
        """
        from ._media import DEFAULT_IMAGE_MODEL, DEFAULT_VIDEO_MODEL, RESTRICTED_TIERS

        signed_in = self.account.signed_in()
        if model:
            choice = parse_model(model, signed_in=signed_in)
        else:
            if not signed_in and not self.config.api_key:
                raise NotSignedIn("Nobody is signed in and no API key is set.")
            credential = "subscription" if signed_in else "api_key"
            model_id = self._first_media_model(credential, kind, listing) or (
                DEFAULT_VIDEO_MODEL if kind == "video" else DEFAULT_IMAGE_MODEL
            )
            prefix = SUBSCRIPTION_PREFIX if credential == "subscription" else API_KEY_PREFIX
            choice = parse_model(prefix + model_id, signed_in=signed_in)
        if choice.credential == "subscription":
            tier = self.account.status().get("tier")
            if tier in RESTRICTED_TIERS:
                from ._tiers import describe_tier

                raise TierDenied(
                    f"Image and video generation are not part of {describe_tier(tier)[1]}; xAI's Imagine serves "
                    "the SuperGrok and X Premium tiers.",
                    action="Upgrade at grok.com/supergrok, or use an API key (xai/grok-imagine-image).",
                )
        return choice

    def _first_media_model(self, credential: str, kind: str, listing: bool) -> str | None:
        cache = self.account.cached_models() if credential == "subscription" else None
        if cache is not None:
            ids = [m["id"].split("/", 1)[-1] for m in cache.get("image_models", []) if isinstance(m, dict)]
        elif listing:
            ids = [i for i in self._model_ids(credential) if i.startswith("grok-imagine")]
        else:
            ids = []
        return next((i for i in ids if ("video" in i) == (kind == "video")), None)

    def _media_base(self, credential: str) -> str:
        """Images and video go to api.x.ai with either credential, as xAI's own CLI sends them."""
        return self.config.base_url if credential == "api_key" else self.config.subscription_api_url

    def _keep(self, data: bytes | None, url: str | None, folder: str, kind: str) -> str:
        """Write ``data`` (or what ``url`` holds, fetched only from xAI's hosts) as a new file; its path."""
        import os
        import tempfile

        from ._media import new_media_path, sniff_extension

        os.makedirs(folder, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{kind}-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as sink:
                if data is not None:
                    sink.write(data)
                else:
                    assert url is not None
                    self._fetch(url, sink.write, kind)
            with open(temporary, "rb") as written:
                head = written.read(16)
            extension = sniff_extension(head) or ("mp4" if kind == "video" else "jpg")
            path, claimed = new_media_path(folder, kind, extension, self.account.now())
            os.close(claimed)
            os.replace(temporary, path)
            return path
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    def _fetch(self, url: str, sink: Callable[[bytes], object], kind: str) -> None:
        """GET a generated file with no credentials, following at most three redirects, each to an xAI host."""
        from urllib.parse import urljoin

        from ._media import require_media_host

        limit = VIDEO_BYTES if kind == "video" else IMAGE_ANSWER_BYTES
        for _ in range(4):
            answer = self.account.http.download(
                require_media_host(url), sink, timeout=DOWNLOAD_TIMEOUT, max_bytes=limit
            )
            if answer.status == 200:
                return
            if answer.status in (301, 302, 303, 307, 308) and answer.headers.get("location"):
                url = urljoin(url, answer.headers["location"])
                continue
            raise ServerError(
                f"Fetching the generated {kind} failed with HTTP {answer.status}.", http_status=answer.status
            )
        raise MalformedResponse(f"Fetching the generated {kind} was redirected too many times.")

    # -- sending ----------------------------------------------------------

    def _base(self, credential: str) -> str:
        """Where this credential's requests go; the subscription's bearer only ever to xAI's own hosts."""
        return self.config.base_url if credential == "api_key" else self.config.subscription_text_url

    def _route(self, credential: str) -> str | None:
        """``proxy`` or ``api`` for the subscription (so refusals can name the way out); None for the API key."""
        return None if credential == "api_key" else self.config.route

    def _headers(self, credential: str, token: str, model_id: str | None = None) -> dict[str, str]:
        """The bearer, plus the chat proxy's own headers when the request goes there."""
        from ._routes import proxy_headers

        headers = _auth_header(token)
        if self._route(credential) == "proxy":
            headers.update(proxy_headers(model_id, self.config.client_version))
        return headers

    def _bearer(self, credential: str) -> str:
        if credential == "api_key":
            if not self.config.api_key:
                raise NotSignedIn(
                    "That model id asks for the API key (xai/...), but no XAI_API_KEY is set.",
                    action="Set XAI_API_KEY (or put it in .env.xai), or use xai-grok/<model>.",
                )
            return self.config.api_key
        return self.account.access_token()

    def _send(
        self,
        credential: str,
        what: str,
        send: Callable[[dict[str, str]], Any],
        *,
        model_id: str | None = None,
        media: bool = False,
        accept: tuple[int, ...] = (200,),
    ) -> Any:
        """``send(headers)`` until it succeeds or fails for good (one refresh on 401, backoff on 5xx).

        ``media``: images and video, sent to api.x.ai with the bearer alone (never the chat proxy's headers).
        """
        attempt, token, renewed = 0, self._bearer(credential), False
        while True:
            headers = _auth_header(token) if media else self._headers(credential, token, model_id)
            answer = send(headers)
            if answer.status in accept:
                return answer
            token, renewed, attempt = self._after_failure(
                credential, what, answer, token, renewed, attempt, media=media
            )

    def _after_failure(
        self, credential: str, what: str, answer: Any, token: str, renewed: bool, attempt: int, *, media: bool = False
    ) -> tuple[str, bool, int]:
        """What to send with next after a failed answer, or raise the table's error."""
        from ._http import parse_retry_after

        if credential == "subscription" and not renewed and is_auth_failure(answer.status, answer.body):
            self.account.refresh(force=True, replacing=token)
            return self.account.access_token(), True, attempt
        retry_after = parse_retry_after(answer.headers.get("retry-after"))
        if answer.status != 429:  # a usage window is the person's call: wait, or use the API key
            wait = retry_delay(answer.status, attempt=attempt, html=answer.is_html, retry_after=retry_after)
            if wait is not None:
                self.account.sleep(wait)
                return token, renewed, attempt + 1
        error = api_error(
            answer.status,
            answer.body,
            credential=credential,
            model=what,
            retry_after=retry_after,
            route=None if media else self._route(credential),
            media=media,
        )
        if error.code == "api_key_invalid" and not (self.config.api_key or "").startswith(KEY_PREFIX):
            error.action += f" xAI keys start with '{KEY_PREFIX}'; this one does not (a key for another service?)."
        raise error


class ChatStream:
    """An iterator of text deltas; after it is exhausted, ``result`` holds the whole answer dict."""

    def __init__(self, source: Iterator[str | dict[str, Any]]) -> None:
        self._source = source
        self.result: dict[str, Any] | None = None

    def __iter__(self) -> Iterator[str]:
        for item in self._source:
            if isinstance(item, dict):
                self.result = item
            else:
                yield item

    def __repr__(self) -> str:
        return f"ChatStream(done={self.result is not None})"


def _auth_header(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
