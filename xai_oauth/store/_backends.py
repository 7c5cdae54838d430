"""Where the secret credential lives: the OS keyring, or a 0600 file.

Both stores keep the same JSON (``Credential.to_dict``) and meet one contract
(``load`` / ``save`` / ``delete``), tested by one test class run against each.

The keyring is preferred when a real backend exists. Every keyring call (the
import and backend discovery included, which can talk to D-Bus) runs in a
daemon thread and is given ``timeout`` seconds: a hung secret service must not
hang an agent. ``keyring_usable`` probes it, and the caller falls back to the
file and records why in the state file, so later processes skip the probe.

Opening the keyring costs more than a whole chat request: keyring's import,
its backend discovery, and secretstorage's D-Bus session with its key
exchange add about 150 ms to a call whose bare request takes about 140 ms
(``bench/bench_keyring.py``). So beside a keyring-stored credential,
``AccessTokenCache`` keeps the access token alone in a 0600 file, the way
gcloud and the AWS SSO cache do: calls read that, and the keyring, with the
refresh token, is opened only to sign in, refresh and log out.

Locking is not done here: the callers hold the cross-process lock
(``_session.Session.locked``) around every read-modify-write, for either
store; ``_vault`` chooses between the stores.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from .._redact import remember_secret
from ._credential import Credential, refresh_leeway
from ._errors import KeyringUnavailable, StoreCorrupt, StoreError
from ._files import corrupt, loads_strict, read_json, remove, write_json

__all__ = [
    "SERVICE",
    "AccessTokenCache",
    "CredentialStore",
    "FileStore",
    "KeyringStore",
    "credential_from_json",
    "keyring_usable",
]

SERVICE = "xai-oauth"
#: An account name no credential is stored under, read to see that the keyring answers.
PROBE_ACCOUNT = "xai-oauth-probe"
T = TypeVar("T")


class CredentialStore(Protocol):
    name: str

    def load(self) -> Credential | None: ...
    def save(self, credential: Credential) -> None: ...
    def delete(self) -> None: ...


class FileStore:
    """JSON in ``credentials.json``: 0600 from creation, replaced atomically."""

    name = "file"

    def __init__(self, path: str) -> None:
        self.path = path

    def load(self) -> Credential | None:
        data = read_json(self.path, what="credential file")
        if data is None:
            return None
        try:
            return _remembered(Credential.from_dict(data))
        except ValueError:
            raise corrupt(self.path, "credential file", "was not a credential") from None

    def save(self, credential: Credential) -> None:
        write_json(self.path, credential.to_dict())

    def delete(self) -> None:
        remove(self.path)

    def __repr__(self) -> str:
        return f"FileStore({self.path!r})"


def credential_from_json(raw: bytes | str) -> Credential:
    """A credential's stored JSON (a keyring entry, a set-aside file) read strictly; ``ValueError`` if it is not one."""
    data = loads_strict(raw)
    if not isinstance(data, dict):
        raise ValueError("not an object")
    return _remembered(Credential.from_dict(data))


def _remembered(credential: Credential) -> Credential:
    """``credential``, its tokens now redacted from every message this process makes (see ``_redact``)."""
    for secret in (credential.access_token, credential.refresh_token, credential.id_token):
        remember_secret(secret)
    return credential


def _bounded(fn: Callable[[], T], timeout: float, what: str) -> T:
    """Run ``fn`` in a daemon thread; ``KeyringUnavailable`` if it raises or outlives ``timeout``.

    A thread that hangs is left behind (daemon threads do not keep the
    process alive); we cannot cancel a blocked D-Bus call, only stop waiting.
    """
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - reported below, never re-raised raw
            outcome["error"] = exc

    thread = threading.Thread(target=run, name=f"xai-oauth-keyring-{what}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise KeyringUnavailable(f"The system keyring did not answer within {timeout:g} s ({what}).")
    if "error" in outcome:
        # The backend's own text can include anything; name only its type.
        raise KeyringUnavailable(f"The system keyring failed ({what}: {type(outcome['error']).__name__}).")
    return outcome["value"]  # type: ignore[no-any-return]


def keyring_usable(timeout: float) -> str | None:
    """None when a real keyring backend is there and answers; else the reason it is not.

    The probe reads an entry that never exists: a keyring that is there but
    locked (GNOME Keyring after a screen lock, with nobody to answer its
    prompt) fails that read at once. Finding out here, before a device code
    or refresh token is spent, is what lets the answer still be saved.
    """

    def probe() -> str | None:
        import keyring

        backend = keyring.get_keyring()
        if getattr(backend, "priority", 0) <= 0:
            return f"no usable keyring backend ({type(backend).__name__})"
        backend.get_password(SERVICE, PROBE_ACCOUNT)
        return None

    try:
        return _bounded(probe, timeout, "probe")
    except KeyringUnavailable as exc:
        return exc.message


class KeyringStore:
    """One keyring entry (service ``xai-oauth``, account ``<client_id>@<issuer>``) holding the JSON."""

    name = "keyring"

    def __init__(self, account: str, timeout: float = 3.0) -> None:
        self.account = account
        self.timeout = timeout

    def load(self) -> Credential | None:
        def get() -> str | None:
            import keyring

            return keyring.get_password(SERVICE, self.account)

        raw = _bounded(get, self.timeout, "read")
        if raw is None:
            return None
        try:
            return credential_from_json(raw)
        except ValueError:
            raise StoreCorrupt("The keyring entry for xai-oauth is not a credential; it was left in place.") from None

    def save(self, credential: Credential) -> None:
        import json

        payload = json.dumps(credential.to_dict(), separators=(",", ":"))

        def put() -> None:
            import keyring

            keyring.set_password(SERVICE, self.account, payload)

        _bounded(put, self.timeout, "write")

    def delete(self) -> None:
        def drop() -> None:
            import keyring
            from keyring.errors import PasswordDeleteError

            try:
                keyring.delete_password(SERVICE, self.account)
            except PasswordDeleteError:
                pass  # nothing stored: deleting is idempotent

        _bounded(drop, self.timeout, "delete")

    def __repr__(self) -> str:
        return f"KeyringStore(service={SERVICE!r}, account={self.account!r})"


class AccessTokenCache:
    """The short-lived access token of a keyring-stored credential, in a 0600 file, so calls skip the keyring.

    Only the access token and its expiry are here: the refresh token (the
    secret that outlives a day) stays in the keyring. The file is written
    under the account lock with every save of the credential, before the
    state file (and, without the lock, by a call that found none), and it
    counts only while its ``expires_at`` is the one the state file records:
    a cache left behind by a crash, or written late by a process that read
    an older credential, is simply not used. It is never essential, so
    failing to read or write it is never an error: the call opens the
    keyring instead.
    """

    def __init__(self, path: str) -> None:
        self.path = path

    def token(self, meta: dict[str, Any], now: float) -> str | None:
        """The cached access token for the credential ``meta`` (the state file's record) describes, if still fresh."""
        if meta.get("storage") != "keyring" or meta.get("reauth_required") or meta.get("unconfirmed"):
            return None
        try:
            cached = read_json(self.path, what="access token cache", keep_damaged=False)
        except StoreError:
            return None  # a damaged cache (now gone) is no loss: the keyring has the token
        if cached is None:
            return None
        token, expires_at, lifetime = cached.get("access_token"), cached.get("expires_at"), cached.get("lifetime")
        if not isinstance(token, str) or not token or expires_at != meta.get("expires_at"):
            return None  # another credential's (a crash between the two writes, or a late writer): not ours
        if not isinstance(expires_at, (int, float)) or not isinstance(lifetime, (int, float)):
            return None
        if expires_at - now <= refresh_leeway(lifetime):
            return None  # due: the caller takes the keyring path, which refreshes
        remember_secret(token)
        return token

    def save(self, credential: Credential) -> None:
        """Cache ``credential``'s access token; on failure, remove any older copy rather than raise."""
        try:
            write_json(
                self.path,
                {
                    "access_token": credential.access_token,
                    "expires_at": credential.expires_at,
                    "lifetime": credential.lifetime,
                },
            )
        except (StoreError, OSError):
            self.clear()

    def clear(self) -> None:
        try:
            remove(self.path)
        except (StoreError, OSError):
            pass

    def __repr__(self) -> str:
        return f"AccessTokenCache({self.path!r})"
