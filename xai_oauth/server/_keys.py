"""Who may call the local server: its client keys, where they come from, and how a presented key is checked.

The server holds a person's subscription, so even on loopback a caller needs
a key: any local program (or a web page through DNS rebinding) could
otherwise spend the subscription. The keys are the person's own, for their
own tools, and are not xAI credentials: they never leave this machine.

Where they come from, first found wins:
1. ``--api-key`` on the command line (repeatable);
2. ``XAI_OAUTH_SERVE_KEYS`` (comma-separated);
3. a key made once and kept in ``<home>/serve-key`` (0600, created
   exclusively, so two servers starting at once agree on it).
Only the third kind is "made here"; the banner shows it once, because the
person has no other way to learn it. Comparison is in constant time.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .._exceptions import ConfigError
from ..store._errors import StoreError
from ..store._files import ensure_private_dir

__all__ = [
    "ENV_KEYS",
    "KEY_PREFIX",
    "MIN_KEY_LENGTH",
    "ClientKeys",
    "checked_keys",
    "chosen_keys",
    "home_key",
    "load_client_keys",
    "presented_key",
    "read_key",
]

#: A prefix that says what the key is (and that it is not an xAI key) when a person finds it in a config file.
KEY_PREFIX = "sk-xai-oauth-"
KEY_FILE = "serve-key"
ENV_KEYS = "XAI_OAUTH_SERVE_KEYS"
#: The shortest key that may guard a port.
MIN_KEY_LENGTH = 16


@dataclass(frozen=True)
class ClientKeys:
    """The keys that may call the server. ``source`` says where they came from; ``configured`` is False for a key
    this machine made and kept in the home (the only kind the banner prints)."""

    keys: tuple[str, ...] = field(repr=False)
    source: str
    configured: bool

    def allows(self, presented: str | None) -> bool:
        """True when ``presented`` is one of the keys; every key is compared, in constant time."""
        if not presented:
            return False
        given = presented.encode("utf-8", "surrogateescape")
        found = False
        for key in self.keys:
            found |= hmac.compare_digest(given, key.encode())
        return found

    def __repr__(self) -> str:
        return f"ClientKeys(count={len(self.keys)}, source={self.source!r})"


def load_client_keys(home: str, explicit: Sequence[str] = (), environ: Mapping[str, str] | None = None) -> ClientKeys:
    """The server's client keys: ``explicit``, else the environment's, else the home's (made on first use)."""
    return chosen_keys(explicit, environ) or ClientKeys(
        (home_key(home, KEY_FILE),), os.path.join(home, KEY_FILE), False
    )


def chosen_keys(explicit: Sequence[str] = (), environ: Mapping[str, str] | None = None) -> ClientKeys | None:
    """The keys the person chose (``--api-key``, else ``XAI_OAUTH_SERVE_KEYS``), or None when they chose none.

    A blank key is refused (``config_invalid``), never skipped: ``--api-key ''``
    or ``XAI_OAUTH_SERVE_KEYS=,`` is a key someone meant to give (an unset shell
    variable, say), and skipping it would fall back to the home's key, on
    whatever address the server was asked to bind. An empty
    ``XAI_OAUTH_SERVE_KEYS`` is unset, as everywhere else.
    """
    environ = os.environ if environ is None else environ
    if explicit:
        return ClientKeys(tuple(checked_keys([key.strip() for key in explicit], "--api-key")), "--api-key", True)
    listed = environ.get(ENV_KEYS, "")
    if listed:
        return ClientKeys(tuple(checked_keys([key.strip() for key in listed.split(",")], ENV_KEYS)), ENV_KEYS, True)
    return None


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key a client sent: ``Authorization: Bearer K`` (OpenAI clients) or ``x-api-key: K`` (Anthropic's)."""
    authorization = headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return headers.get("x-api-key", "").strip() or None


def checked_keys(keys: list[str], where: str) -> list[str]:
    """``keys`` when each is long enough to guard a port; ``config_invalid`` naming ``where`` otherwise."""
    if not keys or not all(keys):
        raise ConfigError(
            f"A key from {where} is empty.",
            action=f"Give {where} a long random key (or leave it out: the server makes one and keeps it in its home).",
        )
    if any(len(key) < MIN_KEY_LENGTH for key in keys):
        raise ConfigError(
            f"A key from {where} is shorter than {MIN_KEY_LENGTH} characters.",
            action="Use a long random key (or none: the server makes one and keeps it in its home).",
        )
    return keys


def home_key(home: str, name: str) -> str:
    """The key kept in ``<home>/<name>``, made (exclusively, 0600 from the start) when there is none."""
    path = os.path.join(home, name)
    for _ in range(2):
        try:
            return read_key(path)
        except FileNotFoundError:
            pass
        try:
            ensure_private_dir(home)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue  # another server made it first: read theirs
        except OSError as exc:
            raise StoreError(
                f"Cannot keep the server's client key in {home} ({exc.strerror}).",
                action="Fix the folder's permissions, or pass --api-key / set XAI_OAUTH_SERVE_KEYS.",
            ) from None
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        with os.fdopen(fd, "w") as handle:
            handle.write(key + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        return key
    return read_key(path)


def read_key(path: str) -> str:
    """The key in ``path``, which must be a private regular file (``FileNotFoundError`` when there is none)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        import stat

        st = os.fstat(handle.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_mode & 0o077:
            raise StoreError(
                f"{path} is not a private regular file.",
                action=f"Delete {path}; the server makes a new key on its next start.",
            )
        key = handle.read(1024).decode("utf-8", "replace").strip()
    if len(key) < MIN_KEY_LENGTH:
        raise StoreError(
            f"{path} holds no usable key.", action=f"Delete {path}; the server makes a new key on its next start."
        )
    return key
