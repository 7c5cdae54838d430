"""Where each setting may come from, and which sign-in slot they select.

Settings come from three places, in this order of precedence:

1. the process environment;
2. a ``.env.xai`` in the working directory, **only** for ``XAI_API_KEY`` and
   ``XAI_DEFAULT_MODEL``: agents work inside repositories they did not write,
   so a file there must never decide where a credential is sent;
3. the ``.env.xai`` in the home (``XAI_OAUTH_HOME``), which the person made,
   for any of our names (it is checked like the rest of the home: owned by
   us, writable by nobody else).

A working-directory file that names anything else is ignored, and the names
it tried are kept in ``ignored`` so ``status()`` can say so.

The sign-in slot: every authority (issuer + client id) and profile gets a
directory of its own under ``<home>/accounts/``, named by an injective escape
of the three, as gh keeps one entry per host. Nothing of one slot is read or
written on behalf of another.

Only ``os`` here: ``status()`` runs this on its fast path.
"""

import os

from ._exceptions import ConfigError
from .store._errors import HomeInsecure, StoreError
from .store._files import read_regular

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_ISSUER",
    "DEFAULT_PROFILE",
    "ENV_FILE",
    "KEY_PREFIX",
    "PROFILE_RULE",
    "TRUSTED_NAMES",
    "ENV_FILE_CAP",
    "WORKDIR_NAMES",
    "Settings",
    "check_profile",
    "is_profile_name",
    "read_env_file",
    "slot_name",
]

DEFAULT_ISSUER = "https://auth.x.ai"
DEFAULT_CLIENT_ID = "b1a00492-073a-47ea-816f-4c329264a828"
DEFAULT_PROFILE = "default"
ENV_FILE = ".env.xai"
#: How every xAI API key begins (console.x.ai).
KEY_PREFIX = "xai-"

#: What a ``.env.xai`` in the working directory may set: nothing that says where a credential goes.
WORKDIR_NAMES = frozenset({"XAI_API_KEY", "XAI_DEFAULT_MODEL"})
#: What the environment and the home's own ``.env.xai`` may set.
TRUSTED_NAMES = frozenset(
    {
        "XAI_API_KEY",
        "XAI_DEFAULT_MODEL",
        "XAI_BASE_URL",
        "XAI_OAUTH_BASE_URL",
        "XAI_OAUTH_ROUTE",
        "XAI_OAUTH_CLIENT_VERSION",
        "XAI_OAUTH_ISSUER",
        "XAI_OAUTH_CLIENT_ID",
        "XAI_OAUTH_SCOPE",
        "XAI_OAUTH_STORE",
        "XAI_OAUTH_PROFILE",
        "XAI_OAUTH_KEYRING_TIMEOUT",
        "XAI_OAUTH_READ_TIMEOUT",
        "XAI_OAUTH_MAX_IMAGE_BYTES",
        "XAI_OAUTH_STORE_URL",
    }
)
#: A ``.env.xai`` has a handful of lines; one bigger than this is not a settings file (or is /dev/zero).
ENV_FILE_CAP = 64 * 1024
_PROFILE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def read_env_file(path: str, *, trusted: bool, problems: "list[str] | None" = None) -> "dict[str, str]":
    """``NAME=value`` lines of a dotenv-style file (``export``, quotes and ``#`` comments allowed).

    Every ``XAI_*`` name is returned; the caller decides which it takes. A
    missing or unreadable file is empty. A ``trusted`` file (the home's) must
    pass the home check first: a planted one is refused, not read. Only a
    regular file of at most ``ENV_FILE_CAP`` bytes is read (a FIFO would hang
    us, a link to ``/dev/zero`` fill memory); why another was skipped is
    appended to ``problems``, for status() to say.
    """
    try:
        lines = read_regular(path, ENV_FILE_CAP, what="settings file", private=trusted).decode().splitlines()
    except FileNotFoundError:
        return {}
    except HomeInsecure:
        raise  # a planted file in the home: refused loudly, as every file there is
    except StoreError as exc:
        if problems is not None:
            problems.append(exc.message)
        return {}
    except (OSError, UnicodeDecodeError):
        if problems is not None:
            problems.append(f"The settings file at {path} is not UTF-8 text, so xai-oauth did not read it.")
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
        if name.startswith("XAI_") and value:
            found[name] = value
    return found


#: What a profile name may be, in the words every face uses when it refuses one.
PROFILE_RULE = "1-64 letters, digits, '.', '_' or '-' (not starting with '.')"


def is_profile_name(profile: object) -> bool:
    """True when ``profile`` is a safe directory name (``PROFILE_RULE``)."""
    if not isinstance(profile, str) or not 0 < len(profile) <= 64 or profile.startswith("."):
        return False
    return set(profile) <= _PROFILE_CHARS


def check_profile(profile: str) -> str:
    """``profile`` when it is a safe directory name (``PROFILE_RULE``); ``config_invalid`` otherwise.

    Checked for ``XAI_OAUTH_PROFILE`` and for ``Config(profile=...)`` alike: the
    profile names a directory under the home that holds the device code.
    """
    if not is_profile_name(profile):
        raise ConfigError(
            f"XAI_OAUTH_PROFILE must be {PROFILE_RULE}.",
            action="Pick a simple profile name such as work or personal.",
        )
    return profile


def _escape(text: str) -> str:
    """Letters, digits, ``.`` and ``-`` as they are; every other byte as ``%XX``: readable and injective."""
    return "".join(
        ch if ch.isascii() and (ch.isalnum() or ch in ".-") else "".join(f"%{b:02X}" for b in ch.encode())
        for ch in text
    )


def slot_name(issuer: str, client_id: str, profile: str) -> str:
    """The slot's path under ``accounts/``: ``<client>@<issuer>/<profile>``, each part escaped."""
    return os.path.join(f"{_escape(client_id)}@{_escape(issuer)}", profile)


class Settings:
    """The settings in force: ``values`` by name, and the working-directory names that were ``ignored``.

    A plain class: ``dataclasses`` is not on the fast path.
    """

    __slots__ = ("home", "values", "ignored", "workdir_file", "problems", "workdir_key")

    def __init__(self, environ: "os._Environ[str] | dict[str, str] | None" = None, cwd: "str | None" = None) -> None:
        from .store._paths import default_home

        env = os.environ if environ is None else environ
        self.home: str = env.get("XAI_OAUTH_HOME") or default_home()
        self.workdir_file = os.path.join(cwd or os.getcwd(), ENV_FILE)
        home_file = os.path.join(self.home, ENV_FILE)
        #: why a settings file was not read (not a regular file, too big, not text), for status()
        self.problems: list[str] = []
        workdir = (
            read_env_file(self.workdir_file, trusted=False, problems=self.problems)
            if self.workdir_file != home_file
            else {}
        )
        self.ignored = sorted(name for name in workdir if name not in WORKDIR_NAMES)
        home_values = read_env_file(home_file, trusted=True, problems=self.problems)
        #: the working directory's file chose the API key (nothing above it set one): a repository decides who pays
        self.workdir_key = bool(workdir.get("XAI_API_KEY")) and not (env.get("XAI_API_KEY") or "").strip()
        self.values: dict[str, str] = {
            **{k: v for k, v in home_values.items() if k in TRUSTED_NAMES},
            **{k: v for k, v in workdir.items() if k in WORKDIR_NAMES},
            **{k: v for k in TRUSTED_NAMES if (v := (env.get(k) or "").strip())},
        }

    def get(self, name: str, default: str = "") -> str:
        return self.values.get(name) or default

    @property
    def issuer(self) -> str:
        return self.get("XAI_OAUTH_ISSUER", DEFAULT_ISSUER).rstrip("/")

    @property
    def client_id(self) -> str:
        return self.get("XAI_OAUTH_CLIENT_ID", DEFAULT_CLIENT_ID)

    @property
    def profile(self) -> str:
        """``XAI_OAUTH_PROFILE`` (default ``default``): several accounts at one issuer, one slot each."""
        return check_profile(self.get("XAI_OAUTH_PROFILE", DEFAULT_PROFILE))

    @property
    def slot(self) -> str:
        return slot_name(self.issuer, self.client_id, self.profile)

    def notes(self) -> "list[str]":
        """What status() should tell about where settings came from (never a value)."""
        notes = []
        if self.ignored:
            notes.append(
                f"Ignored {', '.join(self.ignored)} in {self.workdir_file}: a .env.xai in the working directory may "
                f"only set {' and '.join(sorted(WORKDIR_NAMES))}; put the rest in the environment or in "
                f"{os.path.join(self.home, ENV_FILE)}."
            )
        if self.workdir_key:
            notes.append(
                f"The API key in use (XAI_API_KEY, for xai/<model> calls) comes from {self.workdir_file}, a file in "
                "the working directory: that folder decides whose API key pays. Set XAI_API_KEY in the environment "
                f"or in {os.path.join(self.home, ENV_FILE)} to choose it yourself."
            )
        return notes + self.problems
