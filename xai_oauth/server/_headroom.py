"""How much of each pooled account's usage is left: the ``headroom`` strategy's reading of ``/billing``.

The strategy places a new conversation on the account that has used the
least of its period (``credit_usage_percent``), so a household's accounts
run out together rather than one after another. Choosing must cost no I/O
on the hot path, so the readings are kept here and renewed in the
background, one account at a time, when they are older than ``TTL``; an
account never read yet counts as unused (it is tried, and then read).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from .._exceptions import XaiOAuthError

if TYPE_CHECKING:
    from ..auth._account import Account

__all__ = ["TTL", "Headroom"]

#: Seconds a usage reading is trusted before it is read again.
TTL = 300.0


class Headroom:
    """The last usage reading of each profile, renewed in the background."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self.now = now
        self._used: dict[str, tuple[float, float]] = {}  # profile -> (read at, percent used)
        self._reading: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def used(self, profile: str, account: Account) -> float:
        """The percent of its usage the account has spent (0 when unknown); starts a fresh reading when due."""
        read_at, percent = self._used.get(profile, (0.0, 0.0))
        if self.now() - read_at > TTL and profile not in self._reading:
            self._renew(profile, account)
        return percent

    def note(self, profile: str, percent: float) -> None:
        self._used[profile] = (self.now(), percent)

    def _renew(self, profile: str, account: Account) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # not serving (a test or a tool): the next choice on the loop reads it
        self._reading.add(profile)
        task = loop.create_task(self._read(profile, account))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _read(self, profile: str, account: Account) -> None:
        from ..api._client import Client

        try:
            reading = await asyncio.to_thread(lambda: Client(account).usage())
            percent = reading.get("credit_usage_percent")
            if isinstance(percent, (int, float)):
                self.note(profile, float(percent))
            else:
                self._used[profile] = (self.now(), self._used.get(profile, (0.0, 0.0))[1])
        except XaiOAuthError:
            self._used[profile] = (self.now(), self._used.get(profile, (0.0, 0.0))[1])  # try again after TTL
        finally:
            self._reading.discard(profile)
