"""``Vault``: where this slot's credential lives (keyring or file), and its loading and saving.

``XAI_OAUTH_STORE`` picks the store: ``keyring`` (never a secret in a file),
``file`` (a 0600 file), or ``auto`` (the keyring when it works, the file
otherwise, and the reason remembered in the state file so a broken keyring is
not probed on every call). With the keyring under ``auto``, the access token
is also kept in a small cache file so a chat call need not open the keyring
(``_store.AccessTokenCache``). Saving also writes the credential's non-secret
record to ``state.json``, which status() reads offline. The caller holds the
lock (``Session.locked``) around every write.
"""

from __future__ import annotations

from typing import Any

from ..store._backends import (
    AccessTokenCache,
    CredentialStore,
    FileStore,
    KeyringStore,
    credential_from_json,
    keyring_usable,
)
from ..store._credential import Credential
from ..store._errors import KeyringUnavailable, StoreCorrupt, StoreError
from ..store._files import remove
from ..store._state import read_state, write_state
from ._session import Session

__all__ = ["Vault", "keyring_required", "read_state_or_empty", "readable_credential"]


class Vault:
    """The slot's stores (``file``, ``keyring``, the access-token cache ``access``) and the rules between them."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.config = session.config
        self.paths = session.paths
        self.file = FileStore(self.paths.credentials)
        self.keyring = KeyringStore(self.config.keyring_account, self.config.keyring_timeout)
        self.access = AccessTokenCache(self.paths.access_token)

    def store_named(self, name: object) -> CredentialStore:
        return self.keyring if name == "keyring" else self.file

    def load(self, state: dict[str, Any]) -> tuple[Credential | None, CredentialStore]:
        """The stored credential and the store it lives in (call under the lock for writes)."""
        meta = state.get("credential")
        if isinstance(meta, dict) and meta.get("storage") in ("keyring", "file"):
            store = self.store_named(meta["storage"])
            return store.load(), store
        # No record of where it is (first run, or the state file was lost): look.
        credential = self.file.load()
        if credential is not None or self.config.store == "file" or state.get("keyring_unusable"):
            return credential, self.file
        try:
            return self.keyring.load(), self.keyring
        except KeyringUnavailable:
            return None, self.file

    def preferred_store(self, state: dict[str, Any]) -> CredentialStore:
        """Where a new credential goes: probes the keyring, and records in ``state`` why the file took over."""
        if self.config.store == "file":
            return self.file
        if self.config.store == "auto" and state.get("keyring_unusable"):
            return self.file  # remembered: do not probe a broken keyring on every call
        reason = keyring_usable(self.config.keyring_timeout)
        if reason is None:
            return self.keyring
        if self.config.store == "keyring":
            raise keyring_required(reason)
        state["keyring_unusable"] = reason
        return self.file

    def require_keyring(self) -> None:
        """With ``XAI_OAUTH_STORE=keyring``, ``KeyringUnavailable`` now, before a one-time code or token is spent."""
        if self.config.store == "keyring":
            reason = keyring_usable(self.config.keyring_timeout)
            if reason is not None:
                raise keyring_required(reason)

    def ready_store(self, state: dict[str, Any], current: CredentialStore | None = None) -> CredentialStore:
        """Everything the answer will need, before a grant is sent: the store, and pyjwt already imported.

        ``current`` is where the credential lives now (a refresh); None for a
        new sign-in. Unless that is the file, the keyring is probed now, once
        (its import and backend discovery included), by ``preferred_store``:
        with ``XAI_OAUTH_STORE=keyring`` an unusable one stops us here, with
        ``auto`` the file takes over, so the answer never waits on either.
        """
        from ..store._claims import preload

        preload()
        return current if current is self.file else self.preferred_store(state)

    def save(
        self, credential: Credential, state: dict[str, Any], store: CredentialStore, *, account: str | None = None
    ) -> CredentialStore:
        """Persist ``credential``; if the keyring fails, fall back to the file so it is never lost (``auto`` only).

        ``account`` names who signed in (at sign-in); a refresh keeps the one on record.
        The new record has no ``unconfirmed`` mark: this answer settles any earlier doubt.
        """
        now = self.session.now
        state.pop("recovered", None)
        if store is self.keyring:
            try:
                self.keyring.save(credential)
            except KeyringUnavailable as exc:
                if self.config.store == "keyring":
                    raise keyring_required(exc.message) from None  # never plaintext without consent
                state["keyring_unusable"] = exc.message
                store = self.file
        if store is self.file:
            self.file.save(credential)
        else:
            remove(self.paths.credentials)  # a stale file copy would shadow the keyring later
        self.cache_access_token(credential, store)
        tier, tier_name = credential.tier
        old = state.get("credential") if isinstance(state.get("credential"), dict) else {}
        state["credential"] = {
            "storage": store.name,
            "storage_reason": None
            if store is self.keyring
            else (state.get("keyring_unusable") or f"XAI_OAUTH_STORE={self.config.store}"),
            "issuer": self.config.issuer,
            "client_id": self.config.client_id,
            "profile": self.config.profile,
            "account": account or (old or {}).get("account"),
            "tier": tier,
            "tier_name": tier_name,
            "expires_at": credential.expires_at,
            "lifetime": credential.lifetime,
            "refreshable": credential.refresh_token is not None,
            "reauth_required": False,
            "refreshed_at": now(),
            "signed_in_at": (old or {}).get("signed_in_at") or now(),
        }
        write_state(self.paths, state)
        return store

    def cache_access_token(self, credential: Credential, store: CredentialStore) -> None:
        """Keep the access token in its cache file when the keyring holds the credential and the user allows a file.

        ``XAI_OAUTH_STORE=keyring`` means no secret in any file: then every
        call opens the keyring, and any cache is removed.
        """
        if store is self.keyring and self.config.store == "auto":
            self.access.save(credential)
        else:
            self.access.clear()


def readable_credential(path: str) -> Credential | None:
    """The credential in a set-aside file, when one can still be read from it."""
    from ..store._files import JSON_CAP, read_regular

    try:
        return credential_from_json(read_regular(path, JSON_CAP, what="set-aside credential", follow=False))
    except (OSError, ValueError, StoreError):
        return None


def keyring_required(reason: str) -> KeyringUnavailable:
    """The error for ``XAI_OAUTH_STORE=keyring`` with a keyring that cannot be used: nothing goes to a file."""
    return KeyringUnavailable(
        f"XAI_OAUTH_STORE=keyring, but the system keyring cannot be used ({reason}); nothing was written in plaintext.",
        action="Unlock or install a system keyring (e.g. GNOME Keyring, KWallet, macOS Keychain), or set "
        "XAI_OAUTH_STORE=auto to allow a 0600 file.",
    )


def read_state_or_empty(paths: Any) -> dict[str, Any]:
    """The state; a damaged file is set aside (by read_json) and we carry on without it."""
    try:
        return dict(read_state(paths))
    except StoreCorrupt:
        return {}
