"""What the emulator knows and counts, apart from its sockets: the authority, the studio, the faults a test
injected, and the counters tests read (requests, answers, hang-ups).

The routes read it through the exchange (``Exchange.emulator``), tests
control it through ``Emulator``, which adds the two HTTP servers on top.
Below both, so a route can name it without knowing the servers.
"""

from __future__ import annotations

import secrets
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from ._authority import Authority, Settings
from ._faults import Fault
from ._identity import Identity
from ._media import Studio

__all__ = ["EmulatorState"]


class EmulatorState:
    """The emulator's state and the test controls over it (``Emulator`` serves it over HTTP)."""

    #: the auth and API origin, and the chat proxy's (set by ``Emulator`` once its servers are bound)
    url: str
    proxy_url: str

    def __init__(self, settings: Settings) -> None:
        self.authority = Authority(settings)
        self.faults: list[Fault] = []
        self._faults_lock = threading.Lock()
        #: generated images and clips, and video jobs
        self.studio = Studio()
        #: what a test sends in ``X-Emulator-Token`` to reach ``/_emulator/*`` (a web page cannot know it)
        self.control_token = secrets.token_urlsafe(32)
        #: every API request body (no credentials: those travel in headers), with its path and credential kind
        self.api_requests: list[dict[str, Any]] = []
        #: per client request id (``REQUEST_ID_HEADER``): text requests received, and answers begun (status 200)
        self.attempts: Counter[str] = Counter()
        self.answered: Counter[str] = Counter()
        #: the pretend prompt cache: per ``x-grok-conv-id``, the messages its last request sent (see ``_api_routes``)
        self.prompt_cache: dict[str, list[Any]] = {}
        #: the headers (but the bearer) of each request a ``Fault`` answered: a retry's ids can be compared
        self.faulted_headers: list[dict[str, str]] = []
        #: called after each token answer has been written to the socket (tests time kills by it)
        self.on_token_answer: Callable[[], None] | None = None
        #: API requests being answered now, and those whose client hung up before a held answer (``Fault.delay``)
        #: or a stream of keep-alives (``Fault.keep_alive``) was done: a test counts what its client left open
        self.open_requests = 0
        self.hung_up = 0
        #: when set to an Event, each token answer (the grant already acted on) waits until it is set: the gap in
        #: which a test interrupts a process, as long as the test needs, however slow the machine
        self.token_answer_gate: threading.Event | None = None

    # -- control ----------------------------------------------------------

    @property
    def settings(self) -> Settings:
        return self.authority.settings

    def approve(self, user_code: str, *, email: str | None = None, tier: int | str | None = 1) -> bool:
        """Approve a sign-in; with ``email``, as that person (their own ``sub``) with ``tier``."""
        return self.authority.decide(user_code, "approved", Identity(email, tier) if email else None)

    def revoke_account(self, who: str) -> int:
        """End every grant of the person with this email or ``sub`` (as revoking the app at the provider)."""
        return self.authority.revoke_account(who)

    def deny(self, user_code: str) -> bool:
        return self.authority.decide(user_code, "denied")

    def expire(self, user_code: str) -> bool:
        return self.authority.expire(user_code)

    def inject(self, fault: Fault) -> None:
        with self._faults_lock:
            self.faults.append(fault)

    def stats(self) -> dict[str, int]:
        with self.authority.lock:
            return {**self.authority.stats, "live_grants": self.authority.live_grants()}

    def take_fault(self, path: str, after: bool, account: Callable[[], tuple[str, ...]] = tuple) -> Fault | None:
        """The fault this request meets now, if any; ``account`` tells whose bearer it carries (asked lazily)."""
        whose: tuple[str, ...] | None = None
        with self._faults_lock:
            for fault in self.faults:
                if fault.path != path or fault.after != after or fault.times <= 0:
                    continue
                if fault.account is not None:
                    whose = account() if whose is None else whose
                    if fault.account not in whose:
                        continue
                fault.times -= 1
                return fault
        return None

    def note_hang_up(self) -> None:
        with self._faults_lock:
            self.hung_up += 1

    def note_open(self, change: int) -> None:
        with self._faults_lock:
            self.open_requests += change

    def count(self, ledger: Counter[str], request_id: str | None) -> None:
        """Count one attempt (or answer) for a client request id, when the request carried one."""
        if request_id:
            with self._faults_lock:
                ledger[request_id] += 1
