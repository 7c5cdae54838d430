"""The one exception tree of xai_oauth.

Every error the package raises on purpose is an ``XaiOAuthError``. Each class
carries a stable ``code`` (what a program switches on) and an ``action`` (a
sentence a person or an agent can follow). ``exports.py`` is the only place
that turns these into ``{"ok": False, ...}`` dicts.

    XaiOAuthError
    ├── ConfigError                 config_invalid
    ├── DiscoveryError              discovery_invalid
    ├── NetworkError                network            (.maybe_sent)
    │   └── RefreshUnconfirmed      refresh_unconfirmed
    ├── ServerError                 upstream_error
    │   ├── MalformedResponse       bad_response
    │   ├── IncompleteStream        stream_incomplete
    │   └── RateLimited             rate_limited       (.retry_after)
    ├── OAuthError                  oauth_error        (.oauth_error)
    ├── DeviceFlowError
    │   ├── AlreadySignedIn         already_signed_in
    │   ├── NoPendingLogin          no_pending_login
    │   ├── AccessDenied            access_denied
    │   └── LoginExpired            expired
    ├── NotSignedIn                 not_signed_in
    ├── ReauthRequired              reauth_required
    ├── ApiKeyRejected              api_key_invalid
    ├── TierDenied                  tier_denied
    ├── NoCredits                   no_credits
    ├── ClientOutdated              client_outdated
    ├── ModelNotFound               model_not_found
    ├── RequestRejected             invalid_request
    ├── UnsupportedParameter        unsupported_parameter
    ├── ContentRefused              content_refused
    ├── GenerationFailed            generation_failed
    └── StoreError                  store_error        (the branch lives in store/_errors.py)
        ├── StoreCorrupt            store_corrupt
        ├── StoreBusy               store_busy
        ├── HomeInsecure            home_insecure
        ├── KeyringUnavailable      keyring_unavailable
        ├── StoreUnavailable        store_unavailable  (.where: the database, never its password)
        └── StoreKeyInvalid         store_key_invalid

Any of them may carry ``http_status`` (the status of the answer behind it).
Messages are written by this package, never copied from a server without
passing through ``_redact.scrub``, so no token can ride along in one. This
module imports nothing: it is on the offline ``status()`` path.
"""

__all__ = [
    "AccessDenied",
    "AlreadySignedIn",
    "ApiKeyRejected",
    "ClientOutdated",
    "ConfigError",
    "ContentRefused",
    "DeviceFlowError",
    "DiscoveryError",
    "GenerationFailed",
    "IncompleteStream",
    "LoginExpired",
    "MalformedResponse",
    "ModelNotFound",
    "NetworkError",
    "NoCredits",
    "NoPendingLogin",
    "NotSignedIn",
    "OAuthError",
    "RateLimited",
    "ReauthRequired",
    "RefreshUnconfirmed",
    "RequestRejected",
    "ServerError",
    "TierDenied",
    "UnsupportedParameter",
    "XaiOAuthError",
]


class XaiOAuthError(Exception):
    """Base class: anything xai_oauth raises on purpose.

    ``details`` holds extra JSON-safe, non-secret fields (``http_status``, ``retry_after``, ...) for the error dicts.
    """

    code = "error"
    action = "Try again; if it keeps failing, run logout() and then start()."

    def __init__(self, message: str, *, action: "str | None" = None, **details: object) -> None:
        super().__init__(message)
        self.message = message
        if action is not None:
            self.action = action
        self.details = {k: v for k, v in details.items() if v is not None}

    @property
    def http_status(self) -> "int | None":
        """The HTTP status of the answer behind this error, when there was one."""
        status = self.details.get("http_status")
        return status if isinstance(status, int) else None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class ConfigError(XaiOAuthError):
    """An environment variable or argument has a value we cannot use."""

    code = "config_invalid"
    action = "Fix the named setting (see the configuration table in README.md)."


class DiscoveryError(XaiOAuthError):
    """The OIDC discovery document is missing, malformed, or points off the issuer's domain.

    Endpoints are pinned to the issuer's registrable domain (and to https) so a
    tampered or misconfigured discovery document cannot send tokens elsewhere.
    """

    code = "discovery_invalid"
    action = "Check XAI_OAUTH_ISSUER; the issuer must serve a valid https discovery document."


class NetworkError(XaiOAuthError):
    """The request failed in transport: refused, timed out, or cut off.

    ``maybe_sent`` is True when the request may have reached the server (a
    read timeout, a dropped connection): a one-time credential such as a
    refresh token must not then be sent again blindly.
    """

    code = "network"
    action = "Check the network connection and the configured URLs, then try again."

    def __init__(self, message: str, *, maybe_sent: bool = False, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.maybe_sent = maybe_sent


class RefreshUnconfirmed(NetworkError):
    """A refresh grant was sent and its outcome is unknown (no answer, a gateway's 502/504, a stopped process).

    xAI may have rotated the refresh token, and a rotated-away token sent
    again can end the whole sign-in, so it is never sent twice in one call.
    The next call tries the old token once more: xAI's own Grok CLI counts on
    a short grace (about 60 s) in which it is still honoured.
    """

    code = "refresh_unconfirmed"
    action = (
        "Wait a few seconds and call refresh() once; if that answers reauth_required, sign in again "
        "(logout(), then start())."
    )

    def __init__(self, message: str, **kw: object) -> None:
        super().__init__(message, maybe_sent=True, **kw)


class ServerError(XaiOAuthError):
    """The server answered with a 5xx status or a page we did not ask for."""

    code = "upstream_error"
    action = "The xAI service is having trouble; try again in a minute."


class MalformedResponse(ServerError):
    """The server's answer is not the JSON the protocol requires (HTML, truncated, wrong types)."""

    code = "bad_response"
    action = "The server sent an answer we cannot read; try again shortly, and check XAI_OAUTH_ISSUER."


class IncompleteStream(ServerError):
    """A streamed answer stopped before its terminal event: what arrived may be cut short."""

    code = "stream_incomplete"
    action = "The answer was cut off in transit; send the request again."


class RateLimited(ServerError):
    """HTTP 429: too many requests. ``retry_after`` is in seconds when the server said."""

    code = "rate_limited"
    action = "Wait for the rate limit window to pass, then try again."

    def __init__(self, message: str, *, retry_after: "float | None" = None, **kw: object) -> None:
        super().__init__(message, retry_after=retry_after, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class OAuthError(XaiOAuthError):
    """The authorization server refused a request with an RFC 6749 error we do not map further.

    ``oauth_error`` is the server's error code (``invalid_client``,
    ``invalid_scope``, ``unsupported_grant_type``, ...).
    """

    code = "oauth_error"
    action = "Check XAI_OAUTH_CLIENT_ID and XAI_OAUTH_SCOPE, then call start() again."

    def __init__(self, message: str, *, oauth_error: str = "unknown", **kw: object) -> None:
        super().__init__(message, oauth_error=oauth_error, **kw)  # type: ignore[arg-type]
        self.oauth_error = oauth_error

    @staticmethod
    def from_body(what: str, status: int, body: "dict[str, object]") -> "XaiOAuthError":
        """The error for an RFC 6749 §5.2 error answer; ``MalformedResponse`` when it has no ``error``.

        The server's text is scrubbed of anything token-shaped before it joins the message.
        """
        from ._redact import scrub

        error = body.get("error")
        if not isinstance(error, str) or not error:
            return MalformedResponse(
                f"The {what} answered HTTP {status} without an OAuth error code.", http_status=status
            )
        description = body.get("error_description")
        text = f": {scrub(description)}" if isinstance(description, str) and description else "."
        return OAuthError(
            f"The {what} refused the request ({scrub(error)}){text}", oauth_error=scrub(error), http_status=status
        )


class DeviceFlowError(XaiOAuthError):
    """A sign-in (RFC 8628 device authorization) cannot go on."""

    code = "device_flow_error"
    action = "Call start() again."


class NoPendingLogin(DeviceFlowError):
    """poll() was called but no sign-in was started (or it already finished)."""

    code = "no_pending_login"
    action = "Call start() first, then poll() after the person has approved."


class AccessDenied(DeviceFlowError):
    """The person, or xAI's account gate, refused the sign-in (RFC 8628 ``access_denied``).

    xAI refuses some accounts even with an active subscription; this is never retried automatically.
    """

    code = "access_denied"
    action = (
        "xAI's account gate decides this per account, so signing in again will not change it. Check the "
        "subscription at grok.com (Settings, Subscription) or x.com (Premium), that the link was approved while "
        "signed in to the account that pays, and whether the approval page said why. If the account is refused "
        "with an active subscription, an API key from console.x.ai (XAI_API_KEY) is the way in."
    )


class AlreadySignedIn(DeviceFlowError):
    """start() while a working sign-in is kept: a quiet second sign-in would replace it. ``force=True`` does."""

    code = "already_signed_in"
    action = "Call start(force=True) to sign in again (the current sign-in is replaced), or logout() first."


class LoginExpired(DeviceFlowError):
    """The device code expired before the person approved (RFC 8628 ``expired_token``)."""

    code = "expired"
    action = "call start() again"


class NotSignedIn(XaiOAuthError):
    """No stored credential: nobody has signed in (or logout() ran)."""

    code = "not_signed_in"
    action = "Call start() to sign in with a subscription, or set XAI_API_KEY."


class ReauthRequired(XaiOAuthError):
    """The refresh token no longer works (revoked, rotated away, subscription ended).

    The stored credential is kept, marked, so status() can say why.
    """

    code = "reauth_required"
    action = "Call logout() and then start() to sign in again."


class ApiKeyRejected(XaiOAuthError):
    """The API refused the API key (``XAI_API_KEY``): wrong, revoked, or for another endpoint."""

    code = "api_key_invalid"
    action = "Check XAI_API_KEY (or .env.xai) against console.x.ai, or use the subscription (xai-grok/ models)."


class TierDenied(XaiOAuthError):
    """HTTP 403 that is not about the token: this tier or account may not use that model (or the API)."""

    code = "tier_denied"
    action = (
        "This subscription tier cannot use that model or the API; pick a model from models(), "
        "or send the request with an API key (xai/<model>, XAI_API_KEY)."
    )


class NoCredits(XaiOAuthError):
    """HTTP 402, or a 403 about credits or a spending limit: the request was billed to credit that is not there.

    On api.x.ai a subscription's OAuth calls are often billed against API
    credit; the chat proxy (the default route) bills the subscription instead.
    """

    code = "no_credits"
    action = (
        "Add credit or raise the spending limit at console.x.ai (Billing), or use the subscription (xai-grok/<id>)."
    )


class ClientOutdated(XaiOAuthError):
    """HTTP 426 from the chat proxy: it gates on the Grok CLI version a client says it matches."""

    code = "client_outdated"
    action = (
        "Set XAI_OAUTH_CLIENT_VERSION to the current Grok CLI version (see x.ai/build/changelog), or update xai-oauth."
    )


class ModelNotFound(XaiOAuthError):
    """HTTP 404 or ``model_not_found``: no such model for this credential."""

    code = "model_not_found"
    action = "List the models this sign-in can use with models(), and pick one of those ids."


class RequestRejected(XaiOAuthError):
    """HTTP 400/422 from the API: the request itself is not acceptable (the message says why)."""

    code = "invalid_request"
    action = "Fix the request (messages, parameters) as the message says, then send it again."


class UnsupportedParameter(XaiOAuthError):
    """A chat parameter the chosen lane cannot take; refused here rather than silently dropped."""

    code = "unsupported_parameter"
    action = "Remove the named parameter, or pick a model on the other lane (see models())."


class ContentRefused(XaiOAuthError):
    """xAI's moderation refused the prompt, the picture to start from, or the result (images and video).

    Its own code because asking again the same way will be refused again,
    and no other credential changes that.
    """

    code = "content_refused"
    action = "Reword the prompt (or pick another picture to start from); the same request will be refused again."


class GenerationFailed(XaiOAuthError):
    """A video job ended ``failed`` or ``expired`` on xAI's side; the message says why when xAI did."""

    code = "generation_failed"
    action = "Start the video again; if it fails the same way, change the prompt or the options."
