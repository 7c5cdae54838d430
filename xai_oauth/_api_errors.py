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
