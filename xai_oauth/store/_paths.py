"""Where every file lives.

``XAI_OAUTH_HOME`` overrides everything (tests point it at a temp dir).
Otherwise the per-user data directory, as platformdirs computes
``user_data_dir("xai-oauth", appauthor=False)``. We compute it here with the
standard library because ``status()`` must answer in a fresh process in a few
milliseconds and importing platformdirs (with pathlib and re) costs more than
the whole rest of that path; ``tests/test_paths.py`` checks both agree.
"""

import os
import sys

__all__ = ["APP_NAME", "Paths", "default_home"]

APP_NAME = "xai-oauth"


def default_home() -> str:
    """The per-user data directory for xai-oauth on this platform."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.expanduser("~\\AppData\\Local")
        return os.path.join(base, APP_NAME)
    if sys.platform == "darwin":
        return os.path.expanduser("~/Library/Application Support/" + APP_NAME)
    base = os.environ.get("XDG_DATA_HOME", "").strip() or os.path.expanduser("~/.local/share")
    return os.path.join(base, APP_NAME)


class Paths:
    """The files of one sign-in slot (plain class: no dataclasses on the fast path).

    ``home`` is the xai-oauth home; ``dir`` is the slot's own directory,
    ``<home>/accounts/<slot>`` (see ``_settings.slot_name``), or the home itself
    when no slot is given (the layout before slots, read only to adopt it).
    """

    __slots__ = ("home", "dir")

    def __init__(self, home: "str | None" = None, slot: "str | None" = None) -> None:
        self.home = home or os.environ.get("XAI_OAUTH_HOME") or default_home()
        self.dir = os.path.join(self.home, "accounts", slot) if slot else self.home

    @property
    def accounts(self) -> str:
        """Where every slot lives: one directory per authority, one below it per profile."""
        return os.path.join(self.home, "accounts")

    @property
    def credentials(self) -> str:
        """The file store's secret file (0600): tokens, when the keyring is not used."""
        return os.path.join(self.dir, "credentials.json")

    @property
    def access_token(self) -> str:
        """The access token alone (0600), beside a keyring-stored credential: calls read it, not the keyring."""
        return os.path.join(self.dir, "access-token.json")

    @property
    def state(self) -> str:
        """Non-secret metadata (tier, expiry, storage, cached models) read offline by status()."""
        return os.path.join(self.dir, "state.json")

    @property
    def pending(self) -> str:
        """The sign-in in progress between start() and poll(); holds the device code (0600)."""
        return os.path.join(self.dir, "pending.json")

    @property
    def journal(self) -> str:
        """A token grant in flight and, once it arrives, its raw answer (0600; see ``_journal``). Usually absent."""
        return os.path.join(self.dir, "journal.json")

    @property
    def videos(self) -> str:
        """Video jobs started but not yet fetched: request id, model and credential kind (not secret)."""
        return os.path.join(self.dir, "videos.json")

    @property
    def discovery(self) -> str:
        """Cached OIDC discovery document (not secret)."""
        return os.path.join(self.dir, "discovery.json")

    @property
    def conversation_key(self) -> str:
        """The secret (0600, made once) that turns a conversation's start into its id (see ``_conversation``)."""
        return os.path.join(self.dir, "conversation.key")

    @property
    def models_checked(self) -> str:
        """When the model listing was last fetched (not secret): the listing itself is rewritten only on change."""
        return os.path.join(self.dir, "models-checked.json")

    @property
    def client_version(self) -> str:
        """The Grok CLI version the chat proxy last asked for (one per home, not per profile; not secret)."""
        return os.path.join(self.home, "client-version.json")

    @property
    def lock(self) -> str:
        """The cross-process lock taken around every read-modify-write of the above."""
        return os.path.join(self.dir, ".lock")

    def __repr__(self) -> str:
        return f"Paths(dir={self.dir!r})"
