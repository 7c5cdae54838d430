"""How the xAI API says "your credential is not accepted". Pure.

xAI answers an unusable bearer with 401, or with 403 and an error code in
the ``unauthenticated:`` family (``unauthenticated:bad-credentials``). Any
other 403 is a real refusal (the tier or account may not use that model)
and a refresh would not change it, so only these two count as auth failures.
"""

__all__ = ["error_code", "is_auth_failure"]


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
    return status == 403 and (error_code(body) or "").startswith("unauthenticated:")


def api_error(
    status: int, body: object, *, credential: str, model: str, retry_after: "float | None" = None
) -> "Exception":
    """The exception for an API error answer (the README's error → action table).

    ``credential`` is ``subscription`` or ``api_key``; ``model`` is the id the
    caller asked for (with its prefix). Server text is scrubbed before it is shown.
    """
    from ._exceptions import (
        ApiKeyRejected,
        ModelNotFound,
        RateLimited,
        ReauthRequired,
        RequestRejected,
        ServerError,
        TierDenied,
    )

    code = error_code(body)
    said = _server_text(body)
    if is_auth_failure(status, body):
        if credential == "api_key":
            return ApiKeyRejected(f"The API refused the API key (HTTP {status}).", http_status=status)
        return ReauthRequired(
            f"The API refused the subscription's token (HTTP {status}) even after a refresh.", http_status=status
        )
    if status == 404 or code == "model_not_found":
        return ModelNotFound(f"{model} is not available to this {_who(credential)}{said}.", http_status=status)
    if status == 403:
        action = (
            None
            if credential == "subscription"
            else (
                "This API key's team cannot use that model; check its permissions at console.x.ai, "
                "or use the subscription (xai-grok/<model>)."
            )
        )
        return TierDenied(
            f"The API refused {model} for this {_who(credential)} (HTTP 403){said}.",
            action=action,
            http_status=status,
            server_code=code,
        )
    if status == 429:
        return RateLimited(
            f"Rate limited for {model} (HTTP 429){said}.",
            action="Wait for the rolling window to pass (retry_after seconds, when given), "
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


def _who(credential: str) -> str:
    return "API key" if credential == "api_key" else "subscription"


def _server_text(body: object) -> str:
    """``": <the server's message>"``, scrubbed of anything token-shaped (and capped); or ""."""
    from ._redact import scrub

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
