"""What the server answers for each of the package's errors: the HTTP status, and the words a client shows.

The server is a face: it turns ``XaiOAuthError`` into an answer in the
caller's wire format (OpenAI's ``{"error": {...}}`` or Anthropic's
``{"type": "error", ...}``; the shapes live in ``wire``). The status is the
one a client library of that format acts on: 401 sends a person to sign in,
429 backs off by ``Retry-After``, 400 is the request's own fault. The
message carries our error code's action in this server's words (``run
`xai-oauth login```), never a Python call a person cannot make here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .._exceptions import XaiOAuthError

__all__ = ["STATUS_FOR_CODE", "Problem", "for_terminal", "problem_for"]

#: Our error codes as HTTP statuses. A code not listed is the upstream's failure: 502.
STATUS_FOR_CODE = {
    "not_signed_in": 401,
    "reauth_required": 401,
    "api_key_invalid": 401,
    "no_credits": 402,
    "tier_denied": 403,
    "model_not_found": 404,
    "invalid_request": 400,
    "unsupported_parameter": 400,
    "content_refused": 400,
    "rate_limited": 429,
    "network": 504,
    "config_invalid": 500,
    "store_error": 500,
    "store_corrupt": 500,
    "home_insecure": 500,
    "store_busy": 503,
    "keyring_unavailable": 503,
    "refresh_unconfirmed": 503,
}


@dataclass(frozen=True)
class Problem:
    """An error as the server answers it."""

    status: int
    code: str
    message: str
    retry_after: float | None = None

    @property
    def headers(self) -> dict[str, str]:
        if self.retry_after is None or not math.isfinite(self.retry_after):
            return {}
        return {"retry-after": str(max(1, math.ceil(self.retry_after)))}


def problem_for(error: XaiOAuthError) -> Problem:
    """The status, code and message (with the action, in the command's words) for one of our errors."""
    status = STATUS_FOR_CODE.get(error.code, 502)
    action = for_terminal(error.action) if error.action else ""
    message = f"{error.message} {action}".strip() + f" [xai-oauth: {error.code}]"
    retry_after = error.details.get("retry_after")
    return Problem(status, error.code, message, retry_after if isinstance(retry_after, (int, float)) else None)


#: The exports' calls as the commands a person types (the server's errors reach people through their tools).
_COMMANDS = {
    "start()": "xai-oauth login",
    "poll()": "xai-oauth login",
    "logout()": "xai-oauth logout",
    "refresh()": "xai-oauth refresh",
    "models()": "xai-oauth models",
    "usage()": "xai-oauth usage",
    "status()": "xai-oauth status",
    "chat()": "xai-oauth chat",
}


def for_terminal(action: str) -> str:
    """An export's sentence, with its function names as the commands a person types."""
    for call, command in _COMMANDS.items():
        action = action.replace(call, f"`{command}`")
    return action.replace("Call `", "Run `").replace("call `", "run `")
