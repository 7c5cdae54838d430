"""Which Grok CLI version the chat proxy is told, and how a 426 that names a newer one heals it.

The proxy gates on ``x-grok-client-version`` and answers an old one with 426
("Please update to version 0.1.202 or later"); xAI moves the gate as its CLI
ships. We already say which CLI version we match, so when the answer names
the version it wants we send the request once more with it and remember it
in the home (one small JSON beside the accounts, 0600: every profile meets
the same proxy). An explicit ``XAI_OAUTH_CLIENT_VERSION`` wins over both,
and then a 426 stays ``client_outdated``; an answer that names no version
changes nothing. status() says which version is in use and why.

Standard library only, and no ``re`` or ``typing`` (status() reads this in a few milliseconds).
"""

from __future__ import annotations

from .._version import GROK_CLI_VERSION
from ..store._files import read_json, write_json

TYPE_CHECKING = False  # typing's own constant, without importing typing on status()'s path

if TYPE_CHECKING:
    from .._config import Config
    from ..store._paths import Paths

__all__ = [
    "GROK_CLI_VERSION",
    "in_use",
    "named_version",
    "newer_named",
    "remember",
    "version_note",
    "version_tuple",
]


def version_tuple(text: object) -> tuple[int, ...]:
    """``1.2.3`` (or ``v1.2.3``, ``1.2.3-beta``) as ``(1, 2, 3)``; ``()`` when it is not a version."""
    if not isinstance(text, str):
        return ()
    parts = text.strip().removeprefix("v").split("-")[0].split(".")
    if not 2 <= len(parts) <= 4 or not all(p.isascii() and p.isdigit() and len(p) <= 6 for p in parts):
        return ()
    return tuple(int(p) for p in parts)


def named_version(body: object) -> str | None:
    """The minimum version a 426 answer names ("... update to version 1.0.13 or later"), or None."""
    texts: list[object] = [body]
    if isinstance(body, dict):
        error = body.get("error")
        texts = [body.get(k) for k in ("min_version", "minimum_version", "minVersion", "message", "code")]
        texts += [error.get("message") if isinstance(error, dict) else error]
    for text in texts:
        if not isinstance(text, str):
            continue
        words = text.replace(",", " ").replace(";", " ").split()
        for word in words:
            if version_tuple(word.rstrip(".")):
                return word.rstrip(".").removeprefix("v")
    return None


def newer_named(body: object, sent: str) -> str | None:
    """The version a 426 ``body`` names when it is newer than ``sent`` (the version told), else None."""
    wanted = named_version(body)
    return wanted if wanted and version_tuple(wanted) > version_tuple(sent) else None


def _remembered(paths: Paths) -> str | None:
    try:
        data = read_json(paths.client_version, what="remembered client version", keep_damaged=False)
    except Exception:  # noqa: BLE001 - a cache: unreadable means not remembered
        return None
    version = (data or {}).get("version")
    return version if version_tuple(version) else None  # type: ignore[return-value]


def in_use(config: Config) -> tuple[str, str]:
    """The version to send and why: ``setting``, ``learned`` (a 426 named it) or ``built-in``."""
    return choose(config.client_version if config.client_version_set else None, config.paths)


def choose(setting: str | None, paths: Paths) -> tuple[str, str]:
    """``in_use`` from the raw setting (None when unset) and the home's remembered version."""
    if setting:
        return setting, "setting"
    learned = _remembered(paths)
    if learned and version_tuple(learned) > version_tuple(GROK_CLI_VERSION):
        return learned, "learned"
    return GROK_CLI_VERSION, "built-in"


def remember(paths: Paths, version: str, now: float) -> None:
    """Keep the version a 426 asked for, for every later call from this home.

    A home that cannot be written costs only the next 426, so a failed write is no error (``chat()``, the
    server and ``Auth`` all follow the 426 either way).
    """
    from ..store._errors import StoreError

    try:
        write_json(paths.client_version, {"version": version, "learned_at": now})
    except (StoreError, OSError):
        pass


def version_note(setting: str | None, paths: Paths) -> str:
    """What status() says about the version gate (``setting``: ``XAI_OAUTH_CLIENT_VERSION``, None when unset)."""
    version, why = choose(setting, paths)
    if why == "setting":
        return f"The chat proxy is told Grok CLI {version} (XAI_OAUTH_CLIENT_VERSION); a 426 will not change it."
    if why == "learned":
        return (
            f"The chat proxy is told Grok CLI {version}, the version it last asked for (built in: "
            f"{GROK_CLI_VERSION}); a 426 naming a newer one is followed once and remembered."
        )
    return (
        f"The chat proxy is told Grok CLI {version} (built in); a 426 naming a newer one is followed once and "
        "remembered. XAI_OAUTH_CLIENT_VERSION overrides this."
    )
