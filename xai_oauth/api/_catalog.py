"""What the credentials can use: the model listing, and the subscription's usage meter and live tier.

``models`` lists both credentials' chat and image models (the subscription's
from the cache when xAI cannot be reached); ``usage`` reads the chat proxy's
``/billing`` and ``/user``. Every request goes through ``_transport``.

The subscription's listing carries each model's ``context_window`` and
``max_output_tokens`` where the chat proxy's ``/models-v2`` gives them (as
xAI's own CLI reads them). A listing younger than ``MODELS_TTL`` seconds is
answered from the cache (agents ask for it before every choice);
``refresh=True`` fetches anyway. The listing is rewritten only when it
changed; when it was last checked is kept apart (``models-checked.json``), so
the TTL holds without rewriting the state file on every fetch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._exceptions import MalformedResponse, NetworkError, NotSignedIn, ServerError, XaiOAuthError
from .._models import API_KEY_PREFIX, SUBSCRIPTION_PREFIX, lane_for, pick_default, sendable
from .._numbers import bounded

if TYPE_CHECKING:
    from ..auth._account import Account
    from ..transport._answer import Answer
    from ..transport._send import Transport

__all__ = ["MODELS_TIMEOUT", "MODELS_TTL", "get", "model_ids", "models", "usage"]

MODELS_TIMEOUT = 15.0
#: Seconds a fetched listing answers ``models()`` without asking xAI again (README: Models).
MODELS_TTL = 60.0


def models(account: Account, transport: Transport, *, refresh: bool = False) -> dict[str, Any]:
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
            listed = _listing(account, transport, credential, refresh=refresh)
        except XaiOAuthError as exc:
            failures.append(exc)
            if credential == "subscription" and not isinstance(exc, (NetworkError, ServerError)):
                account.remember_listing_failure(exc)  # a refusal, not a hiccup: status() names no default
            continue
        result["models"] += listed["models"]
        result["image_models"] += listed["image_models"]
        result["video_models"] += listed.get("video_models", [])
        if listed.get("proxy_default"):
            result["proxy_default"] = listed["proxy_default"]
        if listed.get("fresh"):  # from the cache, within its TTL
            result.update(cached=True, fetched_at=int(listed["fetched_at"]))
        elif "fetched_at" in listed:  # from the cache
            result.update(cached=True, fetched_at=int(listed["fetched_at"]))
            result.setdefault("notes", []).append("The API could not be reached; subscription models are cached.")
    if failures and not result["models"]:
        raise failures[0]
    for failure in failures:
        result.setdefault("notes", []).append(f"Some models are missing: {failure.message} ({failure.code}).")
    preferred = config.default_model or result.pop("proxy_default", None)
    result["default_model_id"] = pick_default([m["id"] for m in result["models"]], preferred)
    return result


def _listing(account: Account, transport: Transport, credential: str, *, refresh: bool) -> dict[str, Any]:
    """One credential's models; the subscription's come from the cache when fresh or the API is unreachable."""
    if credential == "subscription" and not refresh and account.status().get("state") == "connected":
        # only for a usable sign-in: a revoked or expired one must say so, not hide behind the cache
        cache = account.cached_models()
        if cache is not None and 0 <= account.now() - _checked_at(account, cache) < MODELS_TTL:
            return {**cache, "fresh": True, "proxy_default": cache.get("default_model_id")}
    try:
        ids = model_ids(transport, credential)
    except NetworkError:
        cache = account.cached_models() if credential == "subscription" else None
        if cache is None:
            raise
        return cache
    prefix = SUBSCRIPTION_PREFIX if credential == "subscription" else API_KEY_PREFIX
    limits = _limits(transport) if credential == "subscription" else {}
    chat = [
        {"id": prefix + i, "lane": lane_for(i), "credential": credential, **limits.get(i, {})}
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
        _remember(account, listed, preferred, transport.config.subscription_text_url)
        return {**listed, "proxy_default": preferred}
    return listed


def _checked_at(account: Account, cache: dict[str, Any]) -> float:
    """When the listing was last fetched: its own stamp, or the later check that found it unchanged."""
    from ..store._files import read_json

    try:
        checked = (read_json(account.paths.models_checked, what="models check", keep_damaged=False) or {}).get("at")
    except XaiOAuthError:
        checked = None
    stamps = [cache.get("fetched_at"), checked]
    return max((float(t) for t in stamps if isinstance(t, (int, float)) and not isinstance(t, bool)), default=0.0)


def _remember(account: Account, listed: dict[str, Any], preferred: str | None, origin: str) -> None:
    """Rewrite the cached listing only when it (or the API that listed it) changed; note the check apart either way."""
    from .._models import pick_default
    from ..store._files import write_json

    cache = account.cached_models()
    default = pick_default([m["id"] for m in listed["models"]], preferred)
    fresh = {**listed, "default_model_id": default, "origin": origin}
    same = cache is not None and fresh == {k: cache.get(k) for k in fresh}
    if not same:
        account.remember_models(listed, preferred=preferred, origin=origin)
    account.remember_listing_failure(None)
    write_json(account.paths.models_checked, {"at": account.now()})


def _limits(transport: Transport) -> dict[str, dict[str, int]]:
    """``{model id: {"context_window", "max_output_tokens"}}`` from the chat proxy's ``/models-v2``; {} elsewhere."""
    if not transport.config.on_proxy:
        return {}
    try:
        answer = get(transport, "subscription", "models-v2", "models")
    except XaiOAuthError:
        return {}  # limits are a nicety: the listing stands without them
    data = answer.body.get("data") if isinstance(answer.body, dict) else None
    limits: dict[str, dict[str, int]] = {}
    for entry in data if isinstance(data, list) else []:
        if not isinstance(entry, dict):
            continue
        meta: dict[str, Any] = entry["_meta"] if isinstance(entry.get("_meta"), dict) else {}
        model = _first(str, entry.get("model"), entry.get("modelId"), entry.get("id"), meta.get("model"))
        window = _first(int, entry.get("contextWindow"), entry.get("context_window"), meta.get("contextWindow"))
        output = _first(int, entry.get("maxCompletionTokens"), entry.get("max_completion_tokens"))
        if model:
            found = {"context_window": window, "max_output_tokens": output}
            limits[model] = {k: v for k, v in found.items() if isinstance(v, int) and 0 < v < 10**9}
    return limits


def _first(kind: type, *values: Any) -> Any:
    """The first of ``values`` that is a ``kind`` (never a bool for int), or None."""
    return next((v for v in values if isinstance(v, kind) and not isinstance(v, bool)), None)


def _proxy_default_model(transport: Transport) -> str | None:
    """The chat proxy's ``GET /settings`` ``default_model`` (what xAI's own CLI starts with); None off the proxy."""
    if not transport.config.on_proxy:
        return None
    try:
        answer = get(transport, "subscription", "settings", "settings")
    except XaiOAuthError:
        return None  # a default is a nicety: the listing stands without it
    value = answer.body.get("default_model") if isinstance(answer.body, dict) else None
    return value if isinstance(value, str) and value.strip() and sendable(value) else None


def get(transport: Transport, credential: str, path: str, what: str) -> Answer:
    """``GET <this credential's origin>/<path>`` through the transport (its refresh and retry rules)."""
    return transport.request(credential, what, "/" + path, timeout=MODELS_TIMEOUT)


def model_ids(transport: Transport, credential: str) -> list[str]:
    """The bare model ids one credential's ``/models`` lists; an id no request could carry (``sendable``) is
    skipped, so a garbled listing never offers, caches or defaults to it."""
    answer = get(transport, credential, "models", "models")
    data = answer.body.get("data") if isinstance(answer.body, dict) else None
    if not isinstance(data, list):
        raise MalformedResponse("The models endpoint answered without a model list.", http_status=answer.status)
    return [m["id"] for m in data if isinstance(m, dict) and sendable(m.get("id"))]


#: The credits config's money fields (USD cents, as ``{"val": n}``; proto3 leaves out a zero: ``{}``) and ours.
BILLING_CENTS = {
    "onDemandCap": "on_demand_cap_cents",
    "onDemandUsed": "on_demand_used_cents",
    "prepaidBalance": "prepaid_balance_cents",
}


def _billing_detail(config: dict[str, Any]) -> dict[str, Any]:
    """On-demand cap and use, prepaid balance (cents) and unified billing, where the answer gives them."""
    detail: dict[str, Any] = {}
    for theirs, ours in BILLING_CENTS.items():
        cent = config.get(theirs)
        if isinstance(cent, dict):
            val = cent.get("val", 0)
            if isinstance(val, (int, float)) and not isinstance(val, bool):
                detail[ours] = bounded(val, -1e12, 1e12)
    unified = config.get("isUnifiedBillingUser")
    if isinstance(unified, bool):
        detail["unified_billing"] = unified
    return detail


def usage(account: Account, transport: Transport) -> dict[str, Any]:
    """The subscription's usage meter: ``credit_usage_percent``, ``period`` and ``tier``, from the chat proxy;
    and, where the answer gives them, ``on_demand_cap_cents``, ``on_demand_used_cents``,
    ``prepaid_balance_cents`` and ``unified_billing`` (grok-build's billing extension reads the same fields).

    Reads ``GET /billing?format=credits`` and ``GET /user?include=subscription``
    (the live tier, the authority over the token's claim: a mismatch after an
    upgrade earns one forced refresh, as xAI's own CLI does). The reading is
    cached, so status() shows it offline with its age.
    """
    from .._tiers import USER_TIERS, describe_tier

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
        **_billing_detail(config),
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
