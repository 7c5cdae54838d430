"""Settings, validated (all optional; see ``_settings`` for where each may come from).

| variable                  | default                                            |
|---------------------------|----------------------------------------------------|
| XAI_OAUTH_ISSUER          | https://auth.x.ai                                  |
| XAI_OAUTH_CLIENT_ID       | the public Grok CLI client                         |
| XAI_OAUTH_SCOPE           | openid profile email offline_access ...            |
| XAI_OAUTH_PROFILE         | default (several accounts at one issuer)           |
| XAI_OAUTH_HOME            | the per-user data dir (see ``_paths``)             |
| XAI_OAUTH_STORE           | auto (keyring if usable, else file); keyring; file |
| XAI_OAUTH_BASE_URL        | https://cli-chat-proxy.grok.com/v1 (subscription)  |
| XAI_OAUTH_ROUTE           | proxy, or api (subscription text via XAI_BASE_URL) |
| XAI_OAUTH_CLIENT_VERSION  | the Grok CLI version the proxy is told             |
| XAI_BASE_URL              | https://api.x.ai/v1 (API key; subscription media)  |
| XAI_OAUTH_KEYRING_TIMEOUT | 3 (seconds for any one keyring call)               |
| XAI_OAUTH_READ_TIMEOUT    | 3600 (seconds a chat answer may take)              |
| XAI_OAUTH_MAX_IMAGE_BYTES | 67108864 (64 MiB: the most one picture may hold)   |
| XAI_API_KEY               | none: an API key to use beside the subscription    |
| XAI_DEFAULT_MODEL         | xai-grok/grok-4.3 when available                   |
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ._exceptions import ConfigError
from ._numbers import bounded
from ._redact import remember_secret
from ._routes import DEFAULT_API_URL, DEFAULT_PROXY_URL, GROK_CLI_VERSION, ROUTES, is_subscription_url, require_https
from ._settings import DEFAULT_CLIENT_ID, DEFAULT_ISSUER, DEFAULT_PROFILE, Settings, check_profile, slot_name
from .store._paths import Paths

__all__ = ["DEFAULT_CLIENT_ID", "DEFAULT_ISSUER", "DEFAULT_SCOPE", "Config"]

DEFAULT_SCOPE = "openid profile email offline_access grok-cli:access api:access"
STORES = ("auto", "keyring", "file")


#: The longest any one timeout setting may be: a week is already longer than any call should take.
MAX_SECONDS = 7 * 24 * 3600.0
#: The most one generated picture may hold, decoded: a setting, not a side effect of memory (pictures stream
#: to disk, so a bigger cap costs disk, not RAM). The ceiling keeps a typo from meaning "no cap".
DEFAULT_MAX_IMAGE_BYTES = 64 * 1024 * 1024
MAX_IMAGE_BYTES_CEILING = 4 * 1024 * 1024 * 1024


def _seconds(settings: Settings, name: str, default: float) -> float:
    value = bounded(settings.get(name) or default, 0.0, MAX_SECONDS)
    if not value:
        raise ConfigError(f"{name} must be a positive number of seconds, at most {MAX_SECONDS:.0f} (a week).")
    return value


def _image_bytes(settings: Settings) -> int:
    value = bounded(settings.get("XAI_OAUTH_MAX_IMAGE_BYTES") or DEFAULT_MAX_IMAGE_BYTES, 1, MAX_IMAGE_BYTES_CEILING)
    if value is None:
        raise ConfigError(_IMAGE_BYTES_RULE)
    return int(value)


_IMAGE_BYTES_RULE = f"XAI_OAUTH_MAX_IMAGE_BYTES must be a positive number of bytes, at most {MAX_IMAGE_BYTES_CEILING}."


@dataclass(frozen=True)
class Config:
    """Everything configurable, validated. ``Config.from_env()`` is the usual way in."""

    issuer: str = DEFAULT_ISSUER
    client_id: str = DEFAULT_CLIENT_ID
    scope: str = DEFAULT_SCOPE
    #: where API-key requests (and the subscription's media) go
    base_url: str = DEFAULT_API_URL
    #: where the subscription's text inference and account endpoints go on the proxy route
    oauth_base_url: str = DEFAULT_PROXY_URL
    #: ``proxy`` (the official CLI's way) or ``api`` (subscription text through ``base_url``)
    route: str = "proxy"
    client_version: str = GROK_CLI_VERSION
    #: True when a person chose ``client_version`` (then a 426 never changes it); None: set when it differs
    client_version_set: bool | None = None
    profile: str = DEFAULT_PROFILE
    store: str = "auto"
    keyring_timeout: float = 3.0
    #: the slot's files; by default ``<home>/accounts/<client>@<issuer>/<profile>``
    paths: Paths = None  # type: ignore[assignment]
    #: the BYOK key; secret, so left out of repr
    api_key: str | None = field(default=None, repr=False)
    default_model: str | None = None
    read_timeout: float = 3600.0
    #: the most one generated picture may hold, decoded (``image()``'s answer and a picture fetched by URL)
    max_image_bytes: int = DEFAULT_MAX_IMAGE_BYTES
    #: what status() should say about the settings (e.g. names a working-directory .env.xai may not set)
    notes: tuple[str, ...] = ()
    #: the shared state store (``postgresql://…`` or ``sqlite:///…``); None: the home's SQLite file. It may hold a
    #: password, so it is left out of repr and its password is scrubbed from every text (``store._database``)
    store_url: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        require_https("XAI_OAUTH_ISSUER", self.issuer)
        require_https("XAI_BASE_URL", self.base_url)
        require_https("XAI_OAUTH_BASE_URL", self.oauth_base_url)
        if not is_subscription_url(self.oauth_base_url, issuer=self.issuer):
            raise ConfigError(
                "XAI_OAUTH_BASE_URL must be on x.ai or grok.com (or loopback, when XAI_OAUTH_ISSUER is loopback too): "
                "the subscription's token goes there."
            )
        if self.route not in ROUTES:
            raise ConfigError(f"XAI_OAUTH_ROUTE must be one of {', '.join(ROUTES)}, got {self.route!r}.")
        if self.store not in STORES:
            raise ConfigError(f"XAI_OAUTH_STORE must be one of {', '.join(STORES)}, got {self.store!r}.")
        if not self.client_id.strip():
            raise ConfigError("XAI_OAUTH_CLIENT_ID is empty.")
        check_profile(self.profile)
        for name, seconds in (
            ("XAI_OAUTH_KEYRING_TIMEOUT", self.keyring_timeout),
            ("XAI_OAUTH_READ_TIMEOUT", self.read_timeout),
        ):
            if not bounded(seconds, 0.0, MAX_SECONDS):
                raise ConfigError(f"{name} must be a positive number of seconds, at most {MAX_SECONDS:.0f} (a week).")
        if isinstance(self.max_image_bytes, bool) or not bounded(self.max_image_bytes, 1, MAX_IMAGE_BYTES_CEILING):
            raise ConfigError(_IMAGE_BYTES_RULE)
        if self.api_key:
            remember_secret(self.api_key)
        if self.store_url:
            from .store._database import check_store_url  # only with a URL: status() without one imports none of it

            object.__setattr__(self, "store_url", check_store_url(self.store_url))
        if self.client_version_set is None:
            object.__setattr__(self, "client_version_set", self.client_version != GROK_CLI_VERSION)
        if self.paths is None:
            object.__setattr__(self, "paths", Paths(None, slot_name(self.issuer, self.client_id, self.profile)))

    @classmethod
    def from_env(cls, environ: os._Environ[str] | dict[str, str] | None = None, cwd: str | None = None) -> Config:
        settings = Settings(environ, cwd)
        return cls(
            issuer=settings.issuer,
            client_id=settings.client_id,
            scope=settings.get("XAI_OAUTH_SCOPE", DEFAULT_SCOPE),
            base_url=settings.get("XAI_BASE_URL", DEFAULT_API_URL).rstrip("/"),
            oauth_base_url=settings.get("XAI_OAUTH_BASE_URL", DEFAULT_PROXY_URL).rstrip("/"),
            route=settings.get("XAI_OAUTH_ROUTE", "proxy").strip().lower(),
            client_version=settings.get("XAI_OAUTH_CLIENT_VERSION").strip() or GROK_CLI_VERSION,
            client_version_set=bool(settings.get("XAI_OAUTH_CLIENT_VERSION").strip()),
            profile=settings.profile,
            store=settings.get("XAI_OAUTH_STORE", "auto").strip().lower(),
            keyring_timeout=_seconds(settings, "XAI_OAUTH_KEYRING_TIMEOUT", 3.0),
            paths=Paths(settings.home, settings.slot),
            api_key=settings.get("XAI_API_KEY").strip() or None,
            default_model=settings.get("XAI_DEFAULT_MODEL").strip() or None,
            read_timeout=_seconds(settings, "XAI_OAUTH_READ_TIMEOUT", 3600.0),
            max_image_bytes=_image_bytes(settings),
            notes=tuple(settings.notes()),
            store_url=settings.get("XAI_OAUTH_STORE_URL").strip() or None,
        )

    @property
    def keyring_account(self) -> str:
        """The keyring username: one entry per (client, issuer, profile), so one sign-in never clobbers another."""
        account = f"{self.client_id}@{self.issuer}"
        return account if self.profile == DEFAULT_PROFILE else f"{account}#{self.profile}"

    @property
    def subscription_text_url(self) -> str:
        """Where the subscription's chat, responses and model listing go: the proxy, or ``base_url`` on route api."""
        return self.oauth_base_url if self.route == "proxy" else self.subscription_api_url

    @property
    def on_proxy(self) -> bool:
        return self.route == "proxy"

    def reaches_xai(self, credential: str) -> bool:
        """Whether ``credential``'s requests go to xAI itself: the subscription's always do (its bearer goes
        nowhere else); the API key's when ``base_url`` is xAI's, not a third-party gateway. Only there do
        xAI's own request extensions go, as xAI's Grok CLI sends them only to its trusted routes."""
        return credential == "subscription" or is_subscription_url(self.base_url, issuer=self.issuer)

    @property
    def subscription_api_url(self) -> str:
        """``base_url`` for the subscription's own calls there (media; text on route api), if its bearer may go."""
        if not is_subscription_url(self.base_url, issuer=self.issuer):
            raise ConfigError(
                f"XAI_BASE_URL points at {self.base_url}, which is not an xAI host; the subscription's token goes "
                "only to x.ai and grok.com hosts (or loopback, when the issuer is loopback too), never to a gateway "
                "set for an API key.",
                action="Use an API key model (xai/<id>) with that gateway, or unset XAI_BASE_URL (and "
                "XAI_OAUTH_ROUTE) for the subscription.",
            )
        return self.base_url
