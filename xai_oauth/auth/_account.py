"""``Account``: one person's sign-in, as one object over the rooms that each answer one question.

- ``_session``: what the slot's steps share (settings, clock, HTTP client, lock, endpoints);
- ``_vault``: where the credential lives (keyring or file), loading and saving it;
- ``_signin``: the device authorization grant (RFC 8628): start, poll, cancel;
- ``_refresh``: a usable access token, refreshed once across processes (RFC 6749 §6);
- ``_grants``: a token grant in flight, its journal, and what an interrupted one left;
- ``_identity``: who signed in, and whose tokens these are;
- ``_signout``: revocation (RFC 7009) and forgetting every trace.

The sign-in and sign-out rooms are imported when called: a chat call needs
only the session, the vault and the keeper.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._config import Config
from ..store._state import RECOVER_LOCK_TIMEOUT, write_state
from . import _refresh
from ._session import LOCK_TIMEOUT, Session
from ._slots import adopt_legacy
from ._status import read_status
from ._vault import Vault, read_state_or_empty

if TYPE_CHECKING:
    from .._exceptions import XaiOAuthError
    from ..store._paths import Paths
    from ._discovery import Endpoints

__all__ = ["Account"]


class Account:
    """The typed API behind ``exports``: methods return dicts on success and raise ``XaiOAuthError``.

    ``transport`` is an httpx2 transport (tests: ``httpx2.MockTransport``);
    ``now`` and ``sleep`` default to ``time.time`` and ``time.sleep``.
    """

    def __init__(
        self,
        config: Config | None = None,
        *,
        transport: Any = None,
        now: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._session = Session(config or Config.from_env(), transport=transport, now=now, sleep=sleep)
        self._vault = Vault(self._session)
        self.config = self._session.config
        self.paths = self._session.paths
        adopted = adopt_legacy(self.paths.home)
        self.notes = [*self.config.notes, *([adopted] if adopted else [])]

    def __repr__(self) -> str:
        return f"Account(issuer={self.config.issuer!r}, home={self.paths.home!r})"

    @property
    def sleep(self) -> Callable[[float], None]:
        """How this account waits (between polls, before retries); tests pass a fake clock's."""
        return self._session.sleep

    @sleep.setter
    def sleep(self, sleep: Callable[[float], None]) -> None:
        self._session.sleep = sleep

    @property
    def http(self) -> Any:
        """The HTTP client this account's requests go through (made on first use)."""
        return self._session.http

    def close(self) -> None:
        """Close the HTTP connections this account opened (it stays usable: they reopen on demand)."""
        self._session.close()

    def __enter__(self) -> Account:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def endpoints(self) -> Endpoints:
        """The issuer's endpoints, from the discovery cache or the network."""
        return self._session.endpoints()

    def now(self) -> float:
        """This account's clock (``time.time`` unless a test passed another)."""
        return self._session.now()

    # -- sign-in (RFC 8628) -----------------------------------------------

    def start(self, force: bool = False) -> dict[str, Any]:
        """Begin a device authorization and keep it for a later poll(); see ``_signin.start``."""
        from ._device import start

        return start(self._session, self._vault, force)

    def poll(self, wait: bool = False, timeout: float | None = None) -> dict[str, Any]:
        """Check the pending sign-in, once or until done (``wait``, up to ``timeout`` s); see ``_signin.poll``."""
        from ._device import poll

        return poll(self._session, self._vault, wait, timeout)

    def cancel_login(self) -> bool:
        """Drop the pending sign-in (the person gave up); True when there was one."""
        from ._device import cancel_login

        return cancel_login(self._session)

    # -- the credential -----------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Where the sign-in stands, offline; a journal left by an interrupted grant is settled first."""
        self.recover(timeout=RECOVER_LOCK_TIMEOUT)
        from ..transport._version_gate import version_note

        setting = self.config.client_version if self.config.client_version_set else None
        notes = [*self.notes, version_note(setting, self.paths)]
        return read_status(self.paths, self.now(), notes=notes, api_key=bool(self.config.api_key))

    def recover(self, timeout: float = LOCK_TIMEOUT) -> None:
        """Settle a grant journal if one is there; a busy lock leaves it for later. See ``_refresh.recover``."""
        _refresh.recover(self._session, self._vault, timeout)

    def refresh(self, force: bool = False, *, replacing: str | None = None) -> dict[str, Any]:
        """Renew the access token when due (or with ``force``), single-flight; see ``_refresh.refresh``."""
        return _refresh.refresh(self._session, self._vault, force, replacing=replacing)

    def access_token(self) -> str:
        """A usable access token, refreshed first when due (or unconfirmed). Secret: never print it."""
        return _refresh.access_token(self._session, self._vault)

    def fresh_token(self) -> tuple[str, float]:
        """``access_token`` and when it falls due, for a caller that holds it; see ``_refresh.fresh_token``."""
        return _refresh.fresh_token(self._session, self._vault)

    def on_record(self) -> tuple[object, ...]:
        """A cheap mark of the files the token comes from: while it is unchanged, so is the token on record."""
        return _refresh.on_record(self.paths)

    def signed_in(self) -> bool:
        """True when a credential is on record (it may still need a refresh or a new sign-in)."""
        return isinstance(read_state_or_empty(self.paths).get("credential"), dict)

    def logout(self) -> dict[str, Any]:
        """Revoke, then forget every trace of this slot; see ``_signout.logout``."""
        from ._signout import logout

        return logout(self._session, self._vault)

    # -- caches status() shows offline ----------------------------------------

    def cached_models(self) -> dict[str, Any] | None:
        """The last listing: ``models``, ``image_models``, ``video_models``, ``default_model_id``, ``fetched_at``."""
        cache = read_state_or_empty(self.paths).get("models")
        if not isinstance(cache, dict) or not isinstance(cache.get("models"), list):
            return None
        return {"image_models": [], "video_models": [], "default_model_id": None, "fetched_at": 0, **cache}

    def remember_models(self, listing: dict[str, Any], preferred: str | None = None, origin: str | None = None) -> None:
        """Cache the subscription's listing in the state file, for status() and offline models().

        ``preferred`` is the chat proxy's own default model, taken when listed;
        ``origin`` the API that listed it (so it has accepted this sign-in: ``served_by``).
        """
        from .._models import pick_default

        ids = [m["id"] for m in listing["models"]]
        record = {**listing, "default_model_id": pick_default(ids, preferred)}
        self._remember("models", {**record, "origin": origin} if origin else record)

    def remember_listing_failure(self, error: XaiOAuthError | None) -> None:
        """Keep why the subscription's listing was refused (``None``: it worked, so forget it); status() says it."""
        with self._session.locked():
            state = read_state_or_empty(self.paths)
            if error is None:
                if state.pop("models_failed", None) is not None:
                    write_state(self.paths, state)
                return
            state["models_failed"] = {"code": error.code, "message": error.message, "fetched_at": self.now()}
            write_state(self.paths, state)

    def served_by(self, origin: str) -> bool:
        """Whether the API at ``origin`` has listed models for a sign-in of this issuer, so accepts its tokens.

        A question about the settings (do this issuer and this API belong
        together?), so asked of every profile at the issuer, not only this
        one: an account signed in a moment ago has listed nothing yet, and
        its neighbours' listings answer for it. A listing cached by an older
        version names no origin: it counts, as nothing says otherwise.
        """
        from .._exceptions import XaiOAuthError

        for paths in _issuer_slots(self.paths):
            try:
                cache = read_state_or_empty(paths).get("models")
            except XaiOAuthError:  # a neighbour's file we cannot read says nothing either way
                continue
            if (
                isinstance(cache, dict)
                and isinstance(cache.get("models"), list)
                and cache.get("origin", origin) == origin
            ):
                return True
        return False

    def remember_usage(self, reading: dict[str, Any]) -> None:
        """Cache the last usage reading, so status() can show it offline with its age."""
        self._remember("usage", reading)

    def _remember(self, key: str, record: dict[str, Any]) -> None:
        with self._session.locked():
            state = read_state_or_empty(self.paths)
            state[key] = {**record, "fetched_at": self.now()}
            write_state(self.paths, state)


def _issuer_slots(paths: Paths) -> list[Paths]:
    """``paths``, then every other profile's at its issuer (``accounts/<client>@<issuer>/<profile>``)."""
    from ..store._paths import Paths

    slot = os.path.relpath(paths.dir, paths.accounts)
    issuer, sep, profile = slot.rpartition(os.sep)
    if not sep or slot.startswith(".."):  # a slot of its own, not under accounts/
        return [paths]
    try:
        names = sorted(os.listdir(os.path.join(paths.accounts, issuer)))
    except OSError:
        names = []
    others = [Paths(paths.home, os.path.join(issuer, n)) for n in names if n != profile and not n.startswith(".")]
    return [paths, *others]
