"""How the xAI API says "your credential is not accepted". Pure.

xAI answers an unusable bearer with 401, or with 403 and an error code in
the ``unauthenticated:`` family (``unauthenticated:bad-credentials``). Any
other 403 is a real refusal (the tier or account may not use that model)
and a refresh would not change it, so only these two count as auth failures.
"""

from .._exceptions import XaiOAuthError

__all__ = ["about_moderation", "api_error", "error_code", "is_auth_failure"]


def error_code(body: object) -> "str | None":
    """The xAI error code of an error body: ``{"code": ...}`` or ``{"error": {"code": ...}}``."""
    if not isinstance(body, dict):
        return None
    code = body.get("code")
    if not isinstance(code, str) and isinstance(body.get("error"), dict):
        code = body["error"].get("code")
    return code if isinstance(code, str) else None


def is_auth_failure(status: int, body: object) -> bool:
    """True when a fresh access token might succeed where this one failed."""
    if status == 401:
        return True
    code = error_code(body) or ""
    # the chat proxy's stale-token answer may come without the family prefix (CLIProxyAPI refreshes on it too)
    return status == 403 and (code.startswith("unauthenticated:") or code.endswith("bad-credentials"))


_ROUTE_ACTION = (
    "api.x.ai bills this subscription's calls against API credit. Unset XAI_OAUTH_ROUTE to use the "
    "subscription's chat proxy (the way xAI's own Grok CLI does), or use an API key (xai/<model>)."
)


def _about_credits(status: int, code: str, said: str) -> bool:
    """402, or a 403 that speaks of credits or a spending limit."""
    return status == 402 or (status == 403 and ("spending-limit" in code or "credit" in (code + said).lower()))


def api_error(
    status: int,
    body: object,
    *,
    credential: str,
    model: str,
    retry_after: "float | None" = None,
    route: "str | None" = None,
    media: bool = False,
) -> "XaiOAuthError":
    """The exception for an API error answer (the README's error → action table).

    ``credential`` is ``subscription`` or ``api_key``; ``model`` is the id the
    caller asked for (with its prefix); ``route`` is where a subscription
    request went (``proxy`` or ``api``), so a refusal can name the way out;
    ``media`` marks an image or video request (its quotas are its own).
    Server text is scrubbed before it is shown.
    """
    from .._exceptions import (
        ApiKeyRejected,
        ClientOutdated,
        ContentRefused,
        ModelNotFound,
        NoCredits,
        RateLimited,
        ReauthRequired,
        RequestRejected,
        ServerError,
        TierDenied,
    )
    from .._numbers import bounded
    from ._retry import MAX_RETRY_AFTER

    retry_after = bounded(retry_after, 0.0, MAX_RETRY_AFTER)
    code = error_code(body)
    said = _server_text(body)
    if status == 426:
        return ClientOutdated(
            f"The subscription's chat proxy wants a newer client (HTTP 426){said}.", http_status=426, server_code=code
        )
    if status in (400, 403, 422) and about_moderation(said):
        return ContentRefused(
            f"xAI's moderation refused this {'image or video' if media else 'request'} (HTTP {status}){said}.",
            http_status=status,
            server_code=code,
        )
    if status == 400 and code == "invalid_api_key" and credential == "api_key":
        return ApiKeyRejected(f"The API refused the API key (HTTP 400){said}.", http_status=400)
    if _about_credits(status, code or "", said):
        return NoCredits(
            f"The API refused {model} for lack of credit (HTTP {status}){said}.",
            action=_ROUTE_ACTION
            if route == "api"
            else (
                "The account's spending limit is reached (personal-team-blocked:spending-limit). Raise the "
                "limit or add credit in the subscription's billing settings at grok.com, wait for the next "
                "period (usage() shows it), or send this request with an API key (xai/<model>)."
                if "spending-limit" in (code or "")
                else None
            )
            or (
                "The subscription's included usage or credit is spent; check it with usage() and the subscription "
                "settings at grok.com, or send this request with an API key (xai/<model>)."
                if route == "proxy"
                else None
            ),
            http_status=status,
            server_code=code,
        )
    if is_auth_failure(status, body):
        if credential == "api_key":
            return ApiKeyRejected(f"The API refused the API key (HTTP {status}).", http_status=status)
        return ReauthRequired(
            f"The API refused the subscription's token (HTTP {status}) even after a refresh.", http_status=status
        )
    if status == 404 or code == "model_not_found":
        return ModelNotFound(f"{model} is not available to this {_who(credential)}{said}.", http_status=status)
    if status == 403:
        if route == "proxy" and (code or "").startswith("permission-denied") and "tier" not in (code or ""):
            action: str | None = (
                "The subscription's chat proxy refused this client. Set XAI_OAUTH_ROUTE=api to send subscription "
                "calls to api.x.ai instead (it may bill API credit), or use an API key (xai/<model>)."
            )
        elif credential == "subscription":
            action = None
        else:
            action = (
                "This API key's team cannot use that model; check its permissions at console.x.ai, "
                "or use the subscription (xai-grok/<model>)."
            )
        return TierDenied(
            f"The API refused {model} for this {_who(credential)} (HTTP 403){said}.",
            action=action,
            http_status=status,
            server_code=code,
        )
    if status == 429:
        if media:
            return RateLimited(
                f"Rate limited making media with {model} (HTTP 429){said}. Image and video quotas are their own, "
                "and tighter than chat's.",
                action="Wait for the quota window to pass (retry_after seconds, when given); chat keeps working "
                "meanwhile. An API key (xai/<model>) has its own, paid, quota.",
                retry_after=retry_after,
                http_status=429,
                server_code=code,
            )
        billed_as_api = route == "api" and (code or "").startswith("subscription:")
        return RateLimited(
            f"Rate limited for {model} (HTTP 429){said}.",
            action=_ROUTE_ACTION
            if billed_as_api
            else "Wait for the rolling window to pass (retry_after seconds, when given), "
            "or send this request with an API key (xai/<model>).",
            retry_after=retry_after,
            http_status=429,
            server_code=code,
        )
    if status >= 500:
        return ServerError(
            f"The xAI API failed with HTTP {status}{said}.",
            action="Retry shortly; an API key uses the same upstream and will not help.",
            http_status=status,
        )
    if status in (400, 422):
        return RequestRejected(
            f"The API refused the request (HTTP {status}){said}.", http_status=status, server_code=code
        )
    return ServerError(f"The xAI API answered HTTP {status}{said}.", http_status=status)


def about_moderation(said: str) -> bool:
    """xAI words a moderation refusal in prose ("Content violates usage guidelines", "...moderation..."), no code."""
    lowered = said.lower()
    return any(word in lowered for word in ("moderation", "content policy", "usage guidelines", "violates"))


def _who(credential: str) -> str:
    return "API key" if credential == "api_key" else "subscription"


def _server_text(body: object) -> str:
    """``": <the server's message>"``, scrubbed of anything token-shaped (and capped); or ""."""
    from .._redact import scrub

    if not isinstance(body, dict):
        return ""
    text = body.get("error")
    if isinstance(text, dict):
        text = text.get("message")
    if not isinstance(text, str) or not text.strip():
        text = body.get("message")
    if not isinstance(text, str) or not text.strip():
        return ""
    return f": {scrub(text.strip()).rstrip('.')}"
