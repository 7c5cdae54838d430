"""``Client``: talk to Grok with the subscription, an API key, or both, chosen per request.

The model id says which credential pays: ``xai-grok/<id>`` the subscription,
``xai/<id>`` the API key (``XAI_API_KEY``), a bare id the subscription when
signed in. ``_lanes`` decides the endpoint and the body; this module adds the
credential, sends, retries what is safe to retry, and turns error answers
into the exceptions of the README's table.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from ._account import Account
from ._api_errors import api_error, is_auth_failure
from ._config import Config
from ._exceptions import MalformedResponse, NetworkError, NotSignedIn, XaiOAuthError
from ._lanes import (
    API_KEY_PREFIX,
    SUBSCRIPTION_PREFIX,
    ModelChoice,
    build_request,
    lane_for,
    new_stream,
    parse_model,
    pick_default,
    read_answer,
)
from ._retry import retry_delay
from ._settings import KEY_PREFIX
from ._status import DEFAULT_MODEL_ID

__all__ = ["ChatStream", "Client"]

MODELS_TIMEOUT = 15.0


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
        self, model: str | None, messages: Any, *, thinking: Any = None, timeout: float | None = None, **params: Any
    ) -> dict[str, Any]:
        """One whole answer: ``{"model", "lane", "content", "finish_reason", "usage", "tool_calls"?}``.

        On the chat proxy the answer is read out of a stream (it serves most
        models only that way); the dict is the same either way.
        """
        choice, body = self._prepare(model, messages, thinking, params, stream=False)
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
        self, model: str | None, messages: Any, *, thinking: Any = None, timeout: float | None = None, **params: Any
    ) -> ChatStream:
        """Text deltas as they arrive; the whole answer is in ``.result`` once the iterator is exhausted."""
        choice, body = self._prepare(model, messages, thinking, params, stream=True)
        return ChatStream(self._stream_deltas(choice, body, self._timeout(timeout)))

    def _prepare(
        self, model: str | None, messages: Any, thinking: Any, params: dict[str, Any], *, stream: bool
    ) -> tuple[ModelChoice, dict[str, Any]]:
        if isinstance(messages, str):
            messages = [{"role": "user", "content": messages}]
        choice = parse_model(model or self.default_model(), signed_in=self.account.signed_in())
        proxy = choice.credential == "subscription" and self.config.on_proxy
        return choice, build_request(choice, messages, stream=stream, thinking=thinking, params=params, proxy=proxy)

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
        self, credential: str, what: str, send: Callable[[dict[str, str]], Any], *, model_id: str | None = None
    ) -> Any:
        """``send(headers)`` until it succeeds or fails for good (one refresh on 401, backoff on 5xx)."""
        attempt, token, renewed = 0, self._bearer(credential), False
        while True:
            answer = send(self._headers(credential, token, model_id))
            if answer.status == 200:
                return answer
            token, renewed, attempt = self._after_failure(credential, what, answer, token, renewed, attempt)

    def _after_failure(
        self, credential: str, what: str, answer: Any, token: str, renewed: bool, attempt: int
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
            route=self._route(credential),
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
