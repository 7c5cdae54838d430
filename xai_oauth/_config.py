"""Settings, read once from the environment (all optional).

| variable              | default                                   |
|-----------------------|-------------------------------------------|
| XAI_OAUTH_ISSUER      | https://auth.x.ai                         |
| XAI_OAUTH_CLIENT_ID   | the public Grok CLI client                |
| XAI_OAUTH_SCOPE       | openid profile email offline_access ...   |
| XAI_OAUTH_HOME        | the per-user data dir (see ``_paths``)    |
| XAI_OAUTH_STORE       | auto (keyring if usable, else file)       |
| XAI_BASE_URL          | https://api.x.ai/v1                       |
| XAI_OAUTH_KEYRING_TIMEOUT | 3 (seconds for any one keyring call)  |
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ._exceptions import ConfigError
from ._paths import Paths

__all__ = ["DEFAULT_CLIENT_ID", "DEFAULT_ISSUER", "DEFAULT_SCOPE", "Config", "is_loopback_host"]

DEFAULT_ISSUER = "https://auth.x.ai"
DEFAULT_CLIENT_ID = "b1a00492-073a-47ea-816f-4c329264a828"
DEFAULT_SCOPE = "openid profile email offline_access grok-cli:access api:access"
DEFAULT_BASE_URL = "https://api.x.ai/v1"
STORES = ("auto", "keyring", "file")


def is_loopback_host(host: str | None) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1: the only hosts where plain http is allowed."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Config:
    """Everything configurable, validated. ``Config.from_env()`` is the usual way in."""

    issuer: str = DEFAULT_ISSUER
    client_id: str = DEFAULT_CLIENT_ID
    scope: str = DEFAULT_SCOPE
    base_url: str = DEFAULT_BASE_URL
    store: str = "auto"
    keyring_timeout: float = 3.0
    paths: Paths = field(default_factory=Paths)

    def __post_init__(self) -> None:
        parts = urlsplit(self.issuer)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ConfigError(f"XAI_OAUTH_ISSUER must be an https URL, got {self.issuer!r}.")
        if parts.scheme == "http" and not is_loopback_host(parts.hostname):
            raise ConfigError(
                "XAI_OAUTH_ISSUER may use plain http only on a loopback address (127.0.0.1, ::1, localhost)."
            )
        if self.store not in STORES:
            raise ConfigError(f"XAI_OAUTH_STORE must be one of {', '.join(STORES)}, got {self.store!r}.")
        if not self.client_id.strip():
            raise ConfigError("XAI_OAUTH_CLIENT_ID is empty.")

    @classmethod
    def from_env(cls, environ: "os._Environ[str] | dict[str, str] | None" = None) -> Config:
        env = os.environ if environ is None else environ
        try:
            keyring_timeout = float(env.get("XAI_OAUTH_KEYRING_TIMEOUT", "3"))
        except ValueError:
            raise ConfigError("XAI_OAUTH_KEYRING_TIMEOUT must be a number of seconds.") from None
        return cls(
            issuer=(env.get("XAI_OAUTH_ISSUER") or DEFAULT_ISSUER).rstrip("/"),
            client_id=env.get("XAI_OAUTH_CLIENT_ID") or DEFAULT_CLIENT_ID,
            scope=env.get("XAI_OAUTH_SCOPE") or DEFAULT_SCOPE,
            base_url=(env.get("XAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/"),
            store=(env.get("XAI_OAUTH_STORE") or "auto").strip().lower(),
            keyring_timeout=keyring_timeout,
            paths=Paths(env.get("XAI_OAUTH_HOME") or None),
        )

    @property
    def keyring_account(self) -> str:
        """The keyring username: one entry per (client, issuer), so an emulator never clobbers a real login."""
        return f"{self.client_id}@{self.issuer}"
