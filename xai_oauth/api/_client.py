"""``Client``: talk to Grok with the subscription, an API key, or both, chosen per request.

The model id says which credential pays: ``xai-grok/<id>`` the subscription,
``xai/<id>`` the API key (``XAI_API_KEY``), a bare id the subscription when
signed in. ``Client`` is a thin composition: ``_text`` (chat, stream),
``_media`` (images, video), ``_catalog`` (models, usage), all sending
through ``_transport`` (origin, headers, retries, the one forced refresh).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._config import Config
from ..auth._account import Account
from . import _catalog, _media, _text
from ._text import ChatStream

if TYPE_CHECKING:
    from ..transport._send import Transport

__all__ = ["ChatStream", "Client"]


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

    @property
    def _transport(self) -> Transport:
        """The transport's rules over this account's token keeper, HTTP client and sleep (cheap: made per call)."""
        from ..transport._send import Transport

        return Transport(self.config, self.account, lambda: self.account.http, sleep=self.account.sleep)

    @property
    def _caller_transport(self) -> Transport:
        """As ``_transport``, waiting out a short 429 (``CALLER_RETRIES``: at most 10 s, at most twice)."""
        from ..transport._retry import CALLER_RETRIES
        from ..transport._send import Transport

        return Transport(
            self.config, self.account, lambda: self.account.http, sleep=self.account.sleep, policy=CALLER_RETRIES
        )

    def models(self, *, refresh: bool = False) -> dict[str, Any]:
        """Chat models of every credential available, ``xai-grok/<id>`` and ``xai/<id>``; offline, the cache.

        The subscription's listing is cached in the state file (``status()``
        shows it); when the API cannot be reached the cache answers, marked
        ``cached: True``. When one credential fails and the other lists
        models, the failure becomes a note instead of hiding the list. A listing
        younger than a minute answers from the cache (``cached: True``);
        ``refresh=True`` asks xAI anyway.
        """
        return _catalog.models(self.account, self._caller_transport, refresh=refresh)

    def usage(self) -> dict[str, Any]:
        """The subscription's usage meter: ``credit_usage_percent``, ``period`` and ``tier``, from the chat proxy.

        Reads ``GET /billing?format=credits`` and ``GET /user?include=subscription``
        (the live tier, the authority over the token's claim: a mismatch after an
        upgrade earns one forced refresh, as xAI's own CLI does). The reading is
        cached, so status() shows it offline with its age.
        """
        return _catalog.usage(self.account, self._caller_transport)

    def chat(
        self,
        model: str | None,
        messages: Any,
        *,
        thinking: Any = None,
        timeout: float | None = None,
        search: Any = None,
        lane: str | None = None,
        conversation: str | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        """One whole answer: ``{"model", "lane", "content", "finish_reason", "usage", "tool_calls", "citations"?}``.

        ``search=["web", "x"]`` lets the model search the web and X on xAI's
        side (any model: the request goes to the Responses lane), and the
        answer lists what it cited. ``lane="responses"`` picks that lane
        without searching. On the chat proxy the answer is read out of a
        stream (it serves most models only that way); the dict is the same.

        Turns of one conversation share an ``x-grok-conv-id`` (so xAI's prompt
        cache can serve them; ``usage.cached_tokens`` says when it did): by
        default derived, privately, from the conversation's start; ``conversation=``
        names it instead. A 429 whose Retry-After is at most 10 s is waited out,
        at most twice; a stream is never sent again once it began.
        """
        return _text.chat(
            self.account,
            self._caller_transport,
            model,
            messages,
            thinking=thinking,
            timeout=timeout,
            search=search,
            lane=lane,
            conversation=conversation,
            **params,
        )

    def stream(
        self,
        model: str | None,
        messages: Any,
        *,
        thinking: Any = None,
        timeout: float | None = None,
        search: Any = None,
        lane: str | None = None,
        conversation: str | None = None,
        **params: Any,
    ) -> ChatStream:
        """Text deltas as they arrive; the whole answer is in ``.result`` once the iterator is exhausted."""
        return _text.stream(
            self.account,
            self._caller_transport,
            model,
            messages,
            thinking=thinking,
            timeout=timeout,
            search=search,
            lane=lane,
            conversation=conversation,
            **params,
        )

    def default_model(self) -> str:
        """``XAI_DEFAULT_MODEL``, else the last listing's default, else ``xai-grok/grok-4.3``.

        With an API key and no sign-in, the key's own ``xai/grok-4.3``: a key
        alone must work without naming a model.
        """
        return _text.default_model(self.account)

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
        return _media.image(
            self.account, self._transport, prompt, model, n=n, aspect_ratio=aspect_ratio, image=image, out_dir=out_dir
        )

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
        return _media.video(
            self.account,
            self._transport,
            prompt,
            model,
            duration=duration,
            aspect_ratio=aspect_ratio,
            resolution=resolution,
            image=image,
            out_dir=out_dir,
            wait=wait,
            timeout=timeout,
            on_wait=on_wait,
        )

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
        return _media.video_status(
            self.account, self._transport, request_id, wait=wait, timeout=timeout, out_dir=out_dir, on_wait=on_wait
        )
