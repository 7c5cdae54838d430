"""What the credentials can use: the model listing, and the subscription's usage meter and live tier.

``models`` lists both credentials' chat and image models (the subscription's
from the cache when xAI cannot be reached); ``usage`` reads the chat proxy's
``/billing`` and ``/user``. Every request goes through ``_transport``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._exceptions import MalformedResponse, NetworkError, NotSignedIn, XaiOAuthError
from ._models import API_KEY_PREFIX, SUBSCRIPTION_PREFIX, lane_for, pick_default
from ._numbers import bounded

if TYPE_CHECKING:
    from ._account import Account
    from ._answer import Answer
    from ._transport import Transport

__all__ = ["MODELS_TIMEOUT", "get", "model_ids", "models", "usage"]

MODELS_TIMEOUT = 15.0


def models(account: Account, transport: Transport) -> dict[str, Any]:
    """Chat models of every credential available, ``xai-grok/<id>`` and ``xai/<id>``; offline, the cache.

    The subscription's listing is cached in the state file (``status()``
    shows it); when the API cannot be reached the cache answers, marked
    ``cached: True``. When one credential fails and the other lists
    models, the failure becomes a note instead of hiding the list.
    """
    config = account.config
    wanted = [c for c, present in (("subscription", account.signed_in()), ("api_key", config.api_key)) if present]
    if not wanted:
        raise NotSignedIn("Nobody is signed in and no API key is set.")
    result: dict[str, Any] = {"models": [], "image_models": [], "video_models": []}
    failures: list[XaiOAuthError] = []
    for credential in wanted:
        try:
            listed = _listing(account, transport, credential)
        except XaiOAuthError as exc:
            failures.append(exc)
            continue
        result["models"] += listed["models"]
        result["image_models"] += listed["image_models"]
        result["video_models"] += listed.get("video_models", [])
        if listed.get("proxy_default"):
            result["proxy_default"] = listed["proxy_default"]
        if "fetched_at" in listed:  # from the cache
            result.update(cached=True, fetched_at=int(listed["fetched_at"]))
            result.setdefault("notes", []).append("The API could not be reached; subscription models are cached.")
    if failures and not result["models"]:
        raise failures[0]
    for failure in failures:
        result.setdefault("notes", []).append(f"Some models are missing: {failure.message} ({failure.code}).")
    preferred = config.default_model or result.pop("proxy_default", None)
    result["default_model_id"] = pick_default([m["id"] for m in result["models"]], preferred)
    return result


def _listing(account: Account, transport: Transport, credential: str) -> dict[str, Any]:
    """One credential's models; the subscription's come from the cache when the API is unreachable."""
    try:
        ids = model_ids(transport, credential)
    except NetworkError:
        cache = account.cached_models() if credential == "subscription" else None
        if cache is None:
            raise
        return cache
    prefix = SUBSCRIPTION_PREFIX if credential == "subscription" else API_KEY_PREFIX
    chat = [
        {"id": prefix + i, "lane": lane_for(i), "credential": credential}
        for i in ids
        if not i.startswith("grok-imagine")
    ]
    media = [i for i in ids if i.startswith("grok-imagine")]
    listed = {
        "models": chat,
        "image_models": [{"id": prefix + i, "credential": credential} for i in media if "video" not in i],
        "video_models": [{"id": prefix + i, "credential": credential} for i in media if "video" in i],
    }
    if credential == "subscription":
        proxy_default = _proxy_default_model(transport)
        preferred = proxy_default and SUBSCRIPTION_PREFIX + proxy_default
        account.remember_models(listed, preferred=preferred)
        return {**listed, "proxy_default": preferred}
    return listed


def _proxy_default_model(transport: Transport) -> str | None:
    """The chat proxy's ``GET /settings`` ``default_model`` (what xAI's own CLI starts with); None off the proxy."""
    if not transport.config.on_proxy:
        return None
    try:
        answer = get(transport, "subscription", "settings", "settings")
    except XaiOAuthError:
        return None  # a default is a nicety: the listing stands without it
    value = answer.body.get("default_model") if isinstance(answer.body, dict) else None
    return value if isinstance(value, str) and value.strip() else None


def get(transport: Transport, credential: str, path: str, what: str) -> Answer:
    """``GET <this credential's origin>/<path>`` through the transport (its refresh and retry rules)."""
    return transport.request(credential, what, "/" + path, timeout=MODELS_TIMEOUT)


def model_ids(transport: Transport, credential: str) -> list[str]:
    """The bare model ids one credential's ``/models`` lists."""
    answer = get(transport, credential, "models", "models")
    data = answer.body.get("data") if isinstance(answer.body, dict) else None
    if not isinstance(data, list):
        raise MalformedResponse("The models endpoint answered without a model list.", http_status=answer.status)
    return [m["id"] for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]


def usage(account: Account, transport: Transport) -> dict[str, Any]:
    """The subscription's usage meter: ``credit_usage_percent``, ``period`` and ``tier``, from the chat proxy.

    Reads ``GET /billing?format=credits`` and ``GET /user?include=subscription``
    (the live tier, the authority over the token's claim: a mismatch after an
    upgrade earns one forced refresh, as xAI's own CLI does). The reading is
    cached, so status() shows it offline with its age.
    """
    from ._tiers import USER_TIERS, describe_tier

    if not account.signed_in():
        raise NotSignedIn("Nobody is signed in; the usage meter belongs to the subscription.")
    billing = get(transport, "subscription", "billing?format=credits", "billing")
    config = billing.body.get("config", billing.body) if isinstance(billing.body, dict) else None
    if not isinstance(config, dict):
        raise MalformedResponse("The billing endpoint answered without a usage reading.", http_status=billing.status)
    percent = config.get("creditUsagePercent")
    period = config.get("currentPeriod")
    period = period if isinstance(period, dict) else {}
    reading: dict[str, Any] = {
        "credit_usage_percent": bounded(percent, 0.0, 1e6) if isinstance(percent, (int, float)) else None,
        "period": {k: period.get(k) for k in ("type", "start", "end") if isinstance(period.get(k), str)},
    }
    user = get(transport, "subscription", "user?include=subscription", "user")
    live = (
        user.body.get("subscription_tier", user.body.get("subscriptionTier")) if isinstance(user.body, dict) else None
    )
    level = USER_TIERS.get(live) if isinstance(live, str) else None
    claimed = account.status().get("tier")
    if level is not None and level != claimed:
        account.refresh(force=True)  # the claim is stale (an upgrade or downgrade): renew it once
        claimed = account.status().get("tier")
    tier, tier_name = describe_tier(level if level is not None else claimed)
    reading.update(tier=tier, tier_name=tier_name, tier_matches_token=level is None or level == claimed)
    account.remember_usage(reading)
    return reading
