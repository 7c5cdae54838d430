"""``Session``: what every step of one sign-in slot shares: its settings, clock, HTTP client, lock and endpoints.

The rooms of the sign-in (``_vault``, ``_grants``, ``_signin``, ``_keeper``,
``_signout``, ``_identity``) each take a session instead of reaching into
``Account``, so each can be read, and called, on its own. Time (``now``,
``sleep``) and the HTTP transport come in from outside: tests pass fakes and
never sleep. Every read-modify-write of the slot's files happens under the one
cross-process lock (``locked``), with the files re-read after it is taken.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from .._config import Config
from .._exceptions import NetworkError
from ..store._errors import StoreError
from ..store._files import check_private, ensure_private_dir

if TYPE_CHECKING:  # discovery is imported where used: a chat call with a fresh token needs none of it
    from ._discovery import Endpoints

__all__ = ["LOCK_TIMEOUT", "Session"]

#: Seconds a process waits for another's hold on the slot's lock before ``StoreBusy``.
LOCK_TIMEOUT = 30.0


class Session:
    """One sign-in slot's context: ``config`` (and its ``paths``), the clock, the HTTP client and the lock.

    ``transport`` is an httpx2 transport (tests: ``httpx2.MockTransport``);
    ``now`` and ``sleep`` default to ``time.time`` and ``time.sleep``.
    A home someone else could write to is refused here, before anything in it is read.
    """

    def __init__(
        self,
        config: Config,
        *,
        transport: Any = None,
        now: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.paths = config.paths
        #: this slot's clock
        self.now = now
        #: how this slot waits (between polls, before retries); tests pass a fake clock's
        self.sleep = sleep
        self._transport = transport
        self._http_client: Any = None
        for directory in (self.paths.home, self.paths.dir):
            check_private(directory)  # a planted home is refused before anything in it is read

    @property
    def http(self) -> Any:
        """The ``_http.Http`` client, made on first use (its ~200 ms import only when a request is made)."""
        if self._http_client is None:
            from ..transport._http import Http

            self._http_client = Http(self._transport)
        return self._http_client

    def close(self) -> None:
        """Close the HTTP connections (the session stays usable: they reopen on demand)."""
        if self._http_client is not None:
            self._http_client.close()

    @contextlib.contextmanager
    def locked(self, timeout: float = LOCK_TIMEOUT) -> Iterator[bool]:
        """Hold the slot's cross-process lock; ``StoreBusy`` after ``timeout`` seconds of waiting.

        Yields whether the holder may remove the lock file (sign-out does; see ``_lockfile``).
        """
        from ..store._lockfile import exclusive

        held = contextlib.ExitStack()
        for attempt in range(3):  # a sign-out may remove the slot's empty folder between the two steps
            ensure_private_dir(self.paths.home)
            ensure_private_dir(self.paths.dir)
            try:
                removable = held.enter_context(exclusive(self.paths.lock, timeout))
                break
            except FileNotFoundError:
                if attempt == 2:
                    raise StoreError(f"Cannot make the folder {self.paths.dir}: it keeps vanishing.") from None
        with held:
            yield removable

    def endpoints(self) -> Endpoints:
        """The issuer's endpoints, from the discovery cache or the network."""
        from ._discovery import load_endpoints

        def fetch(url: str) -> dict[str, Any]:
            try:
                return self.http.get(url).json_object("discovery document")  # type: ignore[no-any-return]
            except NetworkError as exc:
                raise NetworkError(
                    f"{exc.message} (the issuer in force: XAI_OAUTH_ISSUER={self.config.issuer})",
                    maybe_sent=exc.maybe_sent,
                    action="Check the connection, or XAI_OAUTH_ISSUER (unset, it is https://auth.x.ai).",
                ) from None

        return load_endpoints(self.config.issuer, self.paths.discovery, fetch, self.now)

    def client_form(self, **fields: str) -> dict[str, str]:
        """A form for the authorization server, with this client's ``client_id`` (a public client: no secret)."""
        return {"client_id": self.config.client_id, **fields}
