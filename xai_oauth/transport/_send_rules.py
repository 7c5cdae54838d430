"""The transport's pure decisions: where a request goes, what it carries, and what a refusal means.

No I/O and no clock, so ``Transport`` (a thread) and ``AsyncTransport`` (the
local server's event loop) follow one rule book, and tests drive it with
plain ``Answer`` values:

- ``target``: which origin and route a credential's request goes to (the
  subscription's bearer only ever to xAI's own hosts, as ``Config`` checks);
- ``url``: the origin and a path that stays under it (no ``..``, no encoded
  slash: a client's path passed on can never reach another endpoint);
- ``headers``: the bearer, plus the chat proxy's own (``_routes`` owns them),
  plus a request's extra ones (the conversation's ``x-grok-*``);
- ``next_move``: what a refused answer means (refresh once, send once more
  with the Grok CLI version a 426 names, wait and send again under a
  ``RetryPolicy``, or fail with the README table's exception);
- ``settings_disagree``: a token the issuer has just issued, refused too,
  means the issuer and the API are not one service, not that the sign-in
  is over (signing in again would get another token the API refuses);
- ``JustRefreshed``: for a long-lived caller (the local server), the token
  a forced refresh has just made: a request that meets a refusal with it
  fails at once, without another refresh, until a short backoff has passed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from .._exceptions import ConfigError, NotSignedIn, RequestRejected, XaiOAuthError
from .._settings import DEFAULT_ISSUER, KEY_PREFIX
from ._answer import Answer, parse_retry_after
from ._api_errors import api_error, is_auth_failure
from ._retry import API_RETRIES, RetryPolicy, should_retry

if TYPE_CHECKING:
    from .._config import Config

__all__ = [
    "REFRESH_BACKOFF",
    "Fail",
    "Refresh",
    "JustRefreshed",
    "Target",
    "TokenKeeper",
    "Try",
    "Upgrade",
    "Wait",
    "api_key",
    "headers",
    "move_for",
    "next_move",
    "refusal",
    "settings_disagree",
    "signed_out",
    "target",
    "url",
]


class TokenKeeper(Protocol):
    """The subscription's access tokens (``Account`` today): sync, file-locked, single flight across processes.

    A keeper may also answer ``served_by(origin) -> bool`` (whether that API has ever accepted this
    sign-in's tokens): the transports ask it, when present, before blaming a refusal on the settings.
    And ``fresh_token() -> (token, due)`` with ``on_record() -> mark``: then ``AsyncTransport`` holds
    the token in memory until it falls due or its files change.
    """

    def access_token(self) -> str: ...

    def refresh(self, force: bool = False, *, replacing: str | None = None) -> Any: ...


# -- the pure decisions ----------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where one request goes and what its refusals are read against."""

    #: ``subscription`` or ``api_key``: who pays
    credential: str
    #: the base URL the request's path is appended to
    origin: str
    #: ``proxy`` or ``api`` for the subscription's text and account calls (so refusals can name the way out);
    #: None for the API key and for media
    route: str | None
    #: the model id (with its prefix) or the endpoint that error messages name
    what: str
    #: the bare model id the chat proxy routes on (its ``x-grok-model-override`` header)
    model_id: str | None = None
    #: images and video: api.x.ai with the bearer alone, whatever the route; their quotas are their own
    media: bool = False


def target(config: Config, credential: str, what: str, *, model_id: str | None = None, media: bool = False) -> Target:
    """Which origin and route this credential's request goes to: the API key to ``base_url``, the
    subscription's text to the chat proxy (or ``base_url`` on route api), its media to api.x.ai.
    """
    if credential == "api_key":
        return Target(credential, config.base_url, None, what, model_id, media)
    if media:
        return Target(credential, config.subscription_api_url, None, what, model_id, media)
    return Target(credential, config.subscription_text_url, config.route, what, model_id, media)


#: What a path we send may hold: printable ASCII, already percent-encoded (no space, no backslash).
_SENDABLE = re.compile(r"/[!-~]*")
#: A slash or backslash percent-encoded: servers read it as a separator, so it could climb out of /v1 too.
_ENCODED_SEPARATOR = re.compile(r"%(2f|5c)", re.IGNORECASE)
#: ``.`` and ``..`` as a segment, plain or percent-encoded (``%2e``).
_DOT_SEGMENT = re.compile(r"(?:\.|%2e){1,2}", re.IGNORECASE)


def url(aim: Target, path: str) -> str:
    """``aim.origin`` + ``path``, refused (``invalid_request``) unless the path stays under the origin's own path.

    Every request of the package is built here, so a path that carries a
    client's text (the server's passthrough, a video job's id) cannot leave
    the API's ``/v1`` with its credential: HTTP clients resolve dot segments
    (``/v1/../../etc`` becomes ``/etc``), and servers read ``%2F`` as a slash.
    So the path (up to its query) must start with ``/``, be printable ASCII
    with no backslash, hold no percent-encoded slash or backslash, and have
    no ``.`` or ``..`` segment, plain or encoded; then no resolution changes it.
    """
    route, _, query = path.partition("?")
    if (
        not _SENDABLE.fullmatch(route)
        or (query and not _SENDABLE.fullmatch("/" + query))
        or "#" in path
        or _climbs(route)
    ):
        shown = path if len(path) <= 120 else path[:119] + "…"
        raise RequestRejected(
            f"The path {shown!r} would not stay under {aim.origin}: it holds a '.' or '..' segment, an encoded "
            "slash or backslash, or characters a URL path cannot carry.",
            action="Send the endpoint's own path (for example /v1/files/<id>), with no '..' and no %2F.",
            http_status=400,
        )
    return aim.origin + path


def _climbs(route: str) -> bool:
    """Whether ``route`` holds a backslash, an encoded separator, or a dot segment (``url``)."""
    if "." not in route and "%" not in route and "\\" not in route:  # every path of ours: nothing to look at
        return False
    return (
        "\\" in route
        or _ENCODED_SEPARATOR.search(route) is not None
        or any(_DOT_SEGMENT.fullmatch(segment) for segment in route.split("/"))
    )


def headers(aim: Target, token: str, client_version: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The bearer, plus the chat proxy's own headers when the request goes there, plus ``extra``."""
    from .._routes import proxy_headers

    sent = {"Authorization": f"Bearer {token}"}
    if aim.route == "proxy":
        sent.update(proxy_headers(aim.model_id, client_version))
    sent.update(extra or {})
    return sent


def api_key(config: Config) -> str:
    """The API key's bearer, or ``NotSignedIn`` saying how to set one."""
    if not config.api_key:
        raise NotSignedIn(
            "That model id asks for the API key (xai/...), but no XAI_API_KEY is set.",
            action="Set XAI_API_KEY (or put it in .env.xai), or use xai-grok/<model>.",
        )
    return config.api_key


def signed_out(error: NotSignedIn, config: Config, what: str) -> NotSignedIn:
    """``error`` for a subscription model (``what``: ``xai-grok/<id>``), naming the API key's id when one is set.

    After a sign-out with ``XAI_API_KEY`` still set, the same model usually
    answers as ``xai/<id>``; saying "set XAI_API_KEY" there would send the
    person looking for something they already have.
    """
    if not config.api_key or not what.startswith("xai-grok/"):
        return error
    same = "xai/" + what.removeprefix("xai-grok/")
    return NotSignedIn(
        f"Nobody is signed in, so the subscription cannot answer for {what}.",
        action=f"Ask for {same} instead: the API key (XAI_API_KEY) is set. Or call start() to sign in with a "
        "subscription.",
        use_model=same,
    )


@dataclass(frozen=True)
class Refresh:
    """Force one refresh of the subscription's token (replacing the refused one) and send again."""


@dataclass(frozen=True)
class Upgrade:
    """Send once more telling the chat proxy ``version``, the Grok CLI version its 426 asked for."""

    version: str


@dataclass(frozen=True)
class Wait:
    """Wait ``seconds`` and send again with the same token."""

    seconds: float


@dataclass(frozen=True)
class Fail:
    """Stop: raise ``error`` (the README table's exception for this answer)."""

    error: XaiOAuthError


def next_move(
    aim: Target,
    answer: Answer,
    *,
    renewed: bool,
    attempt: int,
    policy: RetryPolicy = API_RETRIES,
    api_key: str | None = None,
    heal_from: str | None = None,
) -> Refresh | Upgrade | Wait | Fail:
    """What to do after ``answer`` refused try number ``attempt`` (0-based); ``renewed``: the refresh is spent.

    An auth failure on the subscription earns one forced refresh; a 426 on
    the chat proxy that names a version newer than ``heal_from`` (the version
    sent, when it may change: None when a person set it, or it already
    changed once) one more send with it; a 5xx, an HTML page or a short 429
    what ``policy`` allows, unless the server said ``x-should-retry: false``;
    anything else is the table's error.
    """
    from ._version_gate import newer_named

    if aim.credential == "subscription" and not renewed and is_auth_failure(answer.status, answer.body):
        return Refresh()
    if answer.status == 426 and aim.route == "proxy" and heal_from is not None:
        wanted = newer_named(answer.body, heal_from)
        if wanted:
            return Upgrade(wanted)
    retry_after = parse_retry_after(answer.headers.get("retry-after"))
    veto = should_retry(answer.headers.get("x-should-retry"))
    wait = policy.delay(answer.status, attempt=attempt, html=answer.is_html, retry_after=retry_after, should_retry=veto)
    if wait is not None:
        return Wait(wait)
    return Fail(refusal(aim, answer, retry_after=retry_after, api_key=api_key))


def refusal(aim: Target, answer: Answer, *, retry_after: float | None, api_key: str | None) -> XaiOAuthError:
    """The exception for a refused answer; a key that does not look like xAI's is told so."""
    error = api_error(
        answer.status,
        answer.body,
        credential=aim.credential,
        model=aim.what,
        retry_after=retry_after,
        route=aim.route,
        media=aim.media,
    )
    if error.code == "api_key_invalid" and not (api_key or "").startswith(KEY_PREFIX):
        error.action += f" xAI keys start with '{KEY_PREFIX}'; this one does not (a key for another service?)."
    return error


@dataclass(frozen=True)
class Try:
    """Where a send stands: the token, the Grok CLI version told (and whether it may still change), the one
    refresh spent or not, and the try number."""

    token: str
    version: str
    may_heal: bool
    renewed: bool = False
    number: int = 0

    @classmethod
    def first(cls, token: str, config: Config) -> Try:
        from ._version_gate import in_use

        version, why = in_use(config)
        return cls(token, version, why != "setting")

    def after(self, move: Refresh | Upgrade | Wait, token: str) -> Try:
        """The next try after ``move`` (``token``: the one now in hand)."""
        if isinstance(move, Upgrade):
            return replace(self, version=move.version, may_heal=False)
        if isinstance(move, Refresh):
            return replace(self, token=token, renewed=True)
        return replace(self, number=self.number + 1)


def move_for(
    config: Config,
    policy: RetryPolicy,
    aim: Target,
    answer: Answer,
    now: Try,
    *,
    served: Callable[[str], bool] | None = None,
) -> Refresh | Upgrade | Wait | Fail:
    """``next_move`` for the try ``now``, under ``config``'s API key and ``policy``.

    After the one refresh (``now.renewed``: the token in hand is one the
    issuer has just issued) an auth refusal from an API that has never
    served this sign-in (``served(origin)``, the keeper's record; unknown
    without one) is ``settings_disagree``'s error.
    """
    move = next_move(
        aim,
        answer,
        renewed=now.renewed,
        attempt=now.number,
        policy=policy,
        api_key=config.api_key,
        heal_from=now.version if now.may_heal else None,
    )
    if (
        isinstance(move, Fail)
        and now.renewed
        and move.error.code == "reauth_required"
        and aim.origin == config.subscription_text_url
        and served is not None
        and not served(aim.origin)
    ):
        return Fail(settings_disagree(config, aim, move.error))
    return move


def settings_disagree(config: Config, aim: Target, refused: XaiOAuthError) -> XaiOAuthError:
    """The error for an API that refuses a token the issuer has just issued, and has never served this sign-in.

    With xAI's own issuer and hosts this stays ``refused`` (``reauth_required``).
    With any of them set elsewhere (one emulator's issuer, another's base
    URLs; a staging host), the likely cause is that the settings name two
    services, and signing in again cannot help: ``config_invalid``, naming
    the settings in force.
    """
    from .._routes import DEFAULT_API_URL, DEFAULT_PROXY_URL

    if config.issuer == DEFAULT_ISSUER and aim.origin in (DEFAULT_PROXY_URL, DEFAULT_API_URL):
        return refused
    sent_to = "XAI_OAUTH_BASE_URL" if aim.route == "proxy" else "XAI_BASE_URL"
    status = refused.http_status
    return ConfigError(
        f"The API at {aim.origin} refused a token that {config.issuer} had just issued"
        f"{f' (HTTP {status})' if status else ''}, and it has never accepted this sign-in: XAI_OAUTH_ISSUER and "
        f"{sent_to} do not point at the same service.",
        action=f"Point them at the same service (XAI_OAUTH_ISSUER is {config.issuer}, XAI_OAUTH_BASE_URL is "
        f"{config.oauth_base_url}, XAI_BASE_URL is {config.base_url}), or unset all three for xAI's own; "
        "an emulator prints its three. Signing in again will not help.",
        http_status=status,
    )


#: Seconds the token a forced refresh made earns no forced refresh of its own.
REFRESH_BACKOFF = 60.0


class JustRefreshed:
    """The token the last forced refresh made, and until when a refusal of it forces no other refresh.

    One forced refresh per access token: a request whose token is refused
    refreshes once (single flight: requests alongside take the new token).
    A refusal of the token just made, by that request or any other, is the
    account's failure (``reauth_required``, or ``settings_disagree``'s), not
    a reason to refresh again; without this memory each request that met the
    refusal would refresh once more, and a 401 storm would be a refresh
    storm. After ``backoff`` seconds a refusal may force one refresh again,
    in case it was the API's passing trouble. Only a digest of the token is
    kept.
    """

    def __init__(self, backoff: float = REFRESH_BACKOFF) -> None:
        self.backoff = backoff
        self._made: tuple[bytes, float] | None = None

    def note(self, token: str, now: float) -> None:
        """``token`` is the one a forced refresh has just made (or found made)."""
        self._made = (_digest(token), now + self.backoff)

    def spent(self, aim: Target, now: Try, clock: float) -> Try:
        """``now`` as ``move_for`` should see it: its refresh spent when ``now.token`` is the one just made."""
        made = self._made
        if made is None or now.renewed or aim.credential != "subscription" or clock >= made[1]:
            return now
        return replace(now, renewed=True) if made[0] == _digest(now.token) else now


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
