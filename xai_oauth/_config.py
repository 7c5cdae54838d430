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
| XAI_OAUTH_READ_TIMEOUT | 3600 (seconds a chat answer may take)    |
| XAI_API_KEY           | none: an API key to use beside the subscription |
| XAI_DEFAULT_MODEL     | xai-grok/grok-4.3 when available          |

``XAI_API_KEY``, ``XAI_BASE_URL`` and ``XAI_DEFAULT_MODEL`` may also come from
a ``.env.xai`` file in the working directory or in ``XAI_OAUTH_HOME`` (the
environment wins, then the working directory's file).
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ._exceptions import ConfigError
from ._paths import Paths

__all__ = ["DEFAULT_CLIENT_ID", "DEFAULT_ISSUER", "DEFAULT_SCOPE", "Config", "is_loopback_host", "read_env_file"]

DEFAULT_ISSUER = "https://auth.x.ai"
DEFAULT_CLIENT_ID = "b1a00492-073a-47ea-816f-4c329264a828"
DEFAULT_SCOPE = "openid profile email offline_access grok-cli:access api:access"
DEFAULT_BASE_URL = "https://api.x.ai/v1"
STORES = ("auto", "keyring", "file")
ENV_FILE = ".env.xai"
ENV_FILE_NAMES = ("XAI_API_KEY", "XAI_BASE_URL", "XAI_DEFAULT_MODEL")


def read_env_file(path: str) -> dict[str, str]:
    """``NAME=value`` lines of a dotenv-style file (``export``, quotes and ``#`` comments allowed).

    Only the names in ``ENV_FILE_NAMES`` are taken; a missing or unreadable
    file is simply empty. The values are never echoed anywhere.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return {}
    found: dict[str, str] = {}
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.removeprefix("export ").partition("=")
        name, value = name.strip(), value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        if name in ENV_FILE_NAMES and value:
            found[name] = value
    return found


def _require_https(name: str, url: str) -> None:
    """Tokens travel to ``url``: https, or plain http only on a loopback address."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(f"{name} must be an https URL, got {url!r}.")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigError(f"{name} may use plain http only on a loopback address (127.0.0.1, ::1, localhost).")


def _seconds(env: os._Environ[str] | dict[str, str], name: str, default: float) -> float:
    try:
        value = float(env.get(name) or default)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds.") from None
    if not value > 0:
        raise ConfigError(f"{name} must be a positive number of seconds.")
    return value


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
    #: the BYOK key; secret, so left out of repr
    api_key: str | None = field(default=None, repr=False)
    default_model: str | None = None
    read_timeout: float = 3600.0

    def __post_init__(self) -> None:
        _require_https("XAI_OAUTH_ISSUER", self.issuer)
        _require_https("XAI_BASE_URL", self.base_url)
        if self.store not in STORES:
            raise ConfigError(f"XAI_OAUTH_STORE must be one of {', '.join(STORES)}, got {self.store!r}.")
        if not self.client_id.strip():
            raise ConfigError("XAI_OAUTH_CLIENT_ID is empty.")

    @classmethod
    def from_env(cls, environ: os._Environ[str] | dict[str, str] | None = None, cwd: str | None = None) -> Config:
        env = os.environ if environ is None else environ
        paths = Paths(env.get("XAI_OAUTH_HOME") or None)
        files = {
            **read_env_file(os.path.join(paths.home, ENV_FILE)),
            **read_env_file(os.path.join(cwd or os.getcwd(), ENV_FILE)),
        }
        byok = {name: env.get(name) or files.get(name) for name in ENV_FILE_NAMES}
        keyring_timeout = _seconds(env, "XAI_OAUTH_KEYRING_TIMEOUT", 3.0)
        return cls(
            issuer=(env.get("XAI_OAUTH_ISSUER") or DEFAULT_ISSUER).rstrip("/"),
            client_id=env.get("XAI_OAUTH_CLIENT_ID") or DEFAULT_CLIENT_ID,
            scope=env.get("XAI_OAUTH_SCOPE") or DEFAULT_SCOPE,
            base_url=(byok["XAI_BASE_URL"] or DEFAULT_BASE_URL).rstrip("/"),
            store=(env.get("XAI_OAUTH_STORE") or "auto").strip().lower(),
            keyring_timeout=keyring_timeout,
            paths=paths,
            api_key=(byok["XAI_API_KEY"] or "").strip() or None,
            default_model=(byok["XAI_DEFAULT_MODEL"] or "").strip() or None,
            read_timeout=_seconds(env, "XAI_OAUTH_READ_TIMEOUT", 3600.0),
        )

    @property
    def keyring_account(self) -> str:
        """The keyring username: one entry per (client, issuer), so an emulator never clobbers a real login."""
        return f"{self.client_id}@{self.issuer}"
